package rauc

import (
	"context"
	"io"

	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/update"
)

// SetVerify replaces s's slot comparison, for tests that show the
// self-check notices a broken one.
func SetVerify(s *System, f func(ctx context.Context, r io.Reader, length int64, want []byte) error) {
	s.verify = f
}

// NewWithRunner is New over fsys, with run standing in for the rauc
// binary (args as rauc would get them, without --conf). Power-loss tests
// use it: rauc cannot read their in-memory file system.
func NewWithRunner(cfg Config, fsys durable.FS, run func(ctx context.Context, args ...string) ([]byte, error)) (*System, error) {
	s, err := newSystem(cfg, fsys)
	if err != nil {
		return nil, err
	}
	s.runner = func(ctx context.Context, _ int, _ bool, args ...string) ([]byte, error) { return run(ctx, args...) }
	return s, nil
}

// Reject records r as rejected, as Rollback does for the release on
// trial, for tests of the gates.
func Reject(s *System, r *update.Release, reason string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.state().clone()
	n.reject(recOf(r), reason, false)
	return s.save(n)
}

// SetAdmit replaces the release gate of Begin and Install, for tests that
// show the self-check notices a broken one.
func SetAdmit(s *System, f func(*update.Release) error) { s.admitHook = f }
