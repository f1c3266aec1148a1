package resilience

import (
	"encoding/binary"
	"errors"
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

type reader struct {
	b   []byte
	err bool
}

func (r *reader) byte() byte {
	if len(r.b) < 1 {
		r.err = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

// bytes reads a length-prefixed field of at most max bytes.
func (r *reader) bytes(max int) []byte {
	n := r.uvarint()
	if r.err || n > uint64(max) || n > uint64(len(r.b)) {
		r.err = true
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// decodeEntry parses one segment record. It is bounded by the input's length
// and the hard limits above, and never keeps a reference to b.
func decodeEntry(b []byte) (entry, error) {
	if len(b) > maxPayloadHard+2*maxKeyLen+64 {
		return entry{}, errBadRecord
	}
	r := &reader{b: b}
	e := entry{kind: r.byte()}
	switch e.kind {
	case kindHeader:
		e.next = r.uvarint()
	case kindPut:
		m := &e.msg
		m.Seq = r.uvarint()
		m.Priority = Priority(r.byte())
		created := r.varint()
		ttl := r.uvarint()
		key := r.bytes(maxKeyLen)
		topic := r.bytes(maxTopicLen)
		payload := r.bytes(maxPayloadHard)
		if r.err || m.Priority > PriorityCritical || ttl > math.MaxInt64 {
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
		e.reason = r.byte()
		n := r.uvarint()
		// Each sequence number takes at least one byte: a count larger
		// than the rest of the record is a lie, refused before allocating.
		if r.err || n == 0 || n > maxDoneBatch || n > uint64(len(r.b)) || e.reason < reasonDelivered || e.reason > reasonExpired {
			return entry{}, errBadRecord
		}
		e.seqs = make([]uint64, n)
		for i := range e.seqs {
			e.seqs[i] = r.uvarint()
		}
	default:
		return entry{}, errBadRecord
	}
	if r.err || len(r.b) != 0 || e.next > maxSeq || e.msg.Seq > maxSeq {
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
