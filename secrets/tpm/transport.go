package tpm

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/google/go-tpm/tpm2/transport"
)

// maxResponse bounds a TPM response; real responses are a few KiB.
const maxResponse = 64 << 10

// DialTCP connects to a TPM that speaks raw TPM 2.0 commands over TCP, as
// swtpm does with `--server type=tcp` (its data port, not the control
// port). It is for tests and development boards; devices use
// [OpenDevice]. The returned transport is safe for concurrent use. A [KEK]
// on it reports itself as a simulator, not hardware, so the self-check never
// passes a device that talks to a software TPM.
func DialTCP(ctx context.Context, addr string) (transport.TPMCloser, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("tpm: connecting to %s: %w", addr, err)
	}
	return &streamTPM{rw: c, conn: c, addr: addr}, nil
}

// commandTimeout bounds one command's round trip on a network transport, so
// a dead simulator fails a call instead of hanging it. Key generation on a
// slow TPM takes seconds, not minutes.
const commandTimeout = 2 * time.Minute

// streamTPM frames commands on a byte stream: the command goes out as is;
// the response is read by its header's size field.
type streamTPM struct {
	mu   sync.Mutex
	rw   io.ReadWriteCloser
	conn net.Conn // rw as a net.Conn, for deadlines; nil otherwise
	addr string   // where DialTCP connected: a simulator, not hardware
}

func (t *streamTPM) Send(cmd []byte) ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.conn != nil {
		t.conn.SetDeadline(time.Now().Add(commandTimeout))
	}
	if _, err := t.rw.Write(cmd); err != nil {
		return nil, fmt.Errorf("tpm: sending command: %w", err)
	}
	var hdr [10]byte
	if _, err := io.ReadFull(t.rw, hdr[:]); err != nil {
		return nil, fmt.Errorf("tpm: reading response: %w", err)
	}
	n := binary.BigEndian.Uint32(hdr[2:6])
	if n < 10 || n > maxResponse {
		return nil, fmt.Errorf("tpm: response size %d out of range", n)
	}
	rsp := make([]byte, n)
	copy(rsp, hdr[:])
	if _, err := io.ReadFull(t.rw, rsp[10:]); err != nil {
		return nil, fmt.Errorf("tpm: reading response: %w", err)
	}
	return rsp, nil
}

func (t *streamTPM) Close() error {
	if t.rw == nil {
		return errors.New("tpm: already closed")
	}
	return t.rw.Close()
}
