package resilience

import (
	"encoding/binary"
	"errors"
	"github.com/iotbaseline/baseline/internal/wire"
	"math"
	"time"
)

// Entries of an outbox segment, each one record of a durable.Log:
//
//	header: 'H' next-seq(uvarint)
//	put:    'P' seq(uvarint) priority(1) created-unix-nanos(varint) ttl-nanos(uvarint)
//	        key-len(uvarint) key topic-len(uvarint) topic payload-len(uvarint) payload
//	done:   'D' reason(1) count(uvarint) seq(uvarint)×count
//
// A segment starts with a header carrying the next sequence number at its
// creation, so that numbers are never reused even after every record that
// carried them was compacted away.
const (
	kindHeader = 'H'
	kindPut    = 'P'
	kindDone   = 'D'

	reasonDelivered = 1
	reasonDropped   = 2
	reasonExpired   = 3

	// Hard limits of the decoder, whatever the configuration.
	maxKeyLen      = 128
	maxTopicLen    = 255
	maxPayloadHard = 1 << 20
	maxDoneBatch   = 4096
	// maxSeq bounds sequence numbers: more messages than one device can
	// ever send, and far from overflow when the next number is computed.
	maxSeq = 1 << 62
)

var errBadRecord = errors.New("resilience: malformed outbox record")

type entry struct {
	kind   byte
	next   uint64   // header
	msg    Message  // put
	reason byte     // done
	seqs   []uint64 // done
}

func appendHeader(dst []byte, next uint64) []byte {
	dst = append(dst, kindHeader)
	return binary.AppendUvarint(dst, next)
}

func appendPut(dst []byte, m *Message) []byte {
	dst = append(dst, kindPut)
	dst = binary.AppendUvarint(dst, m.Seq)
	dst = append(dst, byte(m.Priority))
	dst = binary.AppendVarint(dst, m.Created.UnixNano())
	dst = binary.AppendUvarint(dst, uint64(m.TTL))
	dst = binary.AppendUvarint(dst, uint64(len(m.Key)))
	dst = append(dst, m.Key...)
	dst = binary.AppendUvarint(dst, uint64(len(m.Topic)))
	dst = append(dst, m.Topic...)
	dst = binary.AppendUvarint(dst, uint64(len(m.Payload)))
	return append(dst, m.Payload...)
}

func appendDone(dst []byte, reason byte, seqs []uint64) []byte {
	dst = append(dst, kindDone, reason)
	dst = binary.AppendUvarint(dst, uint64(len(seqs)))
	for _, s := range seqs {
		dst = binary.AppendUvarint(dst, s)
	}
	return dst
}

// doneEntries splits seqs into done entries of at most maxDoneBatch.
func doneEntries(reason byte, seqs []uint64) [][]byte {
	var out [][]byte
	for len(seqs) > 0 {
		n := min(len(seqs), maxDoneBatch)
		out = append(out, appendDone(nil, reason, seqs[:n]))
		seqs = seqs[n:]
	}
	return out
}

// decodeEntry parses one segment record. It is bounded by the input's length
// and the hard limits above, and never keeps a reference to b.
func decodeEntry(b []byte) (entry, error) {
	if len(b) > maxPayloadHard+2*maxKeyLen+64 {
		return entry{}, errBadRecord
	}
	r := wire.NewReader(b)
	e := entry{kind: r.Byte()}
	switch e.kind {
	case kindHeader:
		e.next = r.Uvarint()
	case kindPut:
		m := &e.msg
		m.Seq = r.Uvarint()
		m.Priority = Priority(r.Byte())
		created := r.Varint()
		ttl := r.Uvarint()
		key := r.Bytes(maxKeyLen)
		topic := r.Bytes(maxTopicLen)
		payload := r.Bytes(maxPayloadHard)
		if r.Failed() || m.Priority > PriorityCritical || ttl > math.MaxInt64 {
			return entry{}, errBadRecord
		}
		m.Created = time.Unix(0, created)
		m.TTL = time.Duration(ttl)
		m.Key, m.Topic = string(key), string(topic)
		m.Payload = append([]byte(nil), payload...)
		if validKey(m.Key) != nil || validTopic(m.Topic) != nil {
			return entry{}, errBadRecord
		}
	case kindDone:
		e.reason = r.Byte()
		n := r.Uvarint()
		// Each sequence number takes at least one byte: a count larger
		// than the rest of the record is a lie, refused before allocating.
		if r.Failed() || n == 0 || n > maxDoneBatch || n > uint64(r.Len()) || e.reason < reasonDelivered || e.reason > reasonExpired {
			return entry{}, errBadRecord
		}
		e.seqs = make([]uint64, n)
		for i := range e.seqs {
			e.seqs[i] = r.Uvarint()
		}
	default:
		return entry{}, errBadRecord
	}
	if r.Failed() || r.Len() != 0 || e.next > maxSeq || e.msg.Seq > maxSeq {
		return entry{}, errBadRecord
	}
	for _, q := range e.seqs {
		if q > maxSeq {
			return entry{}, errBadRecord
		}
	}
	return e, nil
}

// validKey accepts 1 to 128 bytes of printable ASCII.
func validKey(k string) error {
	if len(k) == 0 || len(k) > maxKeyLen || !printable(k) {
		return errors.New("resilience: idempotency key must be 1 to 128 printable ASCII bytes")
	}
	return nil
}

// validTopic accepts 1 to 255 bytes of printable ASCII.
func validTopic(t string) error {
	if len(t) == 0 || len(t) > maxTopicLen || !printable(t) {
		return errors.New("resilience: topic must be 1 to 255 printable ASCII bytes")
	}
	return nil
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
