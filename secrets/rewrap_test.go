package secrets_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/secrets"
)

func TestRewrap(t *testing.T) {
	fsys := durable.NewCrashFS()
	s := openSealed(t, fsys, "/data/kek.seed")
	if err := s.Put(t.Context(), "a", []byte("moved")); err != nil {
		t.Fatal(err)
	}
	hw := &fakeHW{}
	if err := s.Rewrap(t.Context(), hw); err != nil {
		t.Fatal(err)
	}
	if s.KEKInfo().Backend != "fake" {
		t.Fatalf("KEK after Rewrap: %+v", s.KEKInfo())
	}
	if got, err := s.Get(t.Context(), "a"); err != nil || string(got) != "moved" {
		t.Fatalf("Get = %q, %v", got, err)
	}
	s2, err := secrets.Open(t.Context(), secrets.Config{FS: fsys, Dir: "/data/secrets", KEK: hw})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s2.Get(t.Context(), "a"); err != nil || string(got) != "moved" {
		t.Fatalf("Get after reopening with the new KEK = %q, %v", got, err)
	}
	kek, _ := secrets.NewSoftKEK(t.Context(), secrets.SoftConfig{FS: fsys, Path: "/data/kek.seed"})
	if _, err := secrets.Open(t.Context(), secrets.Config{FS: fsys, Dir: "/data/secrets", KEK: kek}); !errors.Is(err, secrets.ErrWrongKEK) {
		t.Fatalf("old KEK after Rewrap: %v; want ErrWrongKEK", err)
	}
}

// TestRewrapCrash: after power loss at any boundary the keyset opens with
// exactly one of the two KEKs and every secret is intact.
func TestRewrapCrash(t *testing.T) {
	hw := &fakeHW{}
	var acked bool
	durable.CrashTest(t, func(fsys *durable.CrashFS) {
		s := openSealed(t, fsys, "/seed")
		s.Put(t.Context(), "a", []byte("v"))
	}, func(fsys *durable.CrashFS) error {
		acked = false
		kek, err := secrets.NewSoftKEK(t.Context(), secrets.SoftConfig{FS: fsys, Path: "/seed"})
		if err != nil {
			return err
		}
		s, err := secrets.Open(t.Context(), secrets.Config{FS: fsys, Dir: "/data/secrets", KEK: kek})
		if err != nil {
			return err
		}
		if err := s.Rewrap(t.Context(), hw); err != nil {
			return err
		}
		acked = true
		return nil
	}, func(fsys *durable.CrashFS, point int, mode durable.CrashMode, _ error) {
		kek, err := secrets.NewSoftKEK(t.Context(), secrets.SoftConfig{FS: fsys, Path: "/seed"})
		if err != nil {
			t.Fatal(err)
		}
		sOld, errOld := secrets.Open(t.Context(), secrets.Config{FS: fsys, Dir: "/data/secrets", KEK: kek})
		sNew, errNew := secrets.Open(t.Context(), secrets.Config{FS: fsys, Dir: "/data/secrets", KEK: hw})
		if (errOld == nil) == (errNew == nil) {
			t.Fatalf("crash at %d (%s): old KEK %v, new KEK %v; want exactly one to open", point, mode, errOld, errNew)
		}
		if acked && errNew != nil {
			t.Fatalf("crash at %d (%s): acknowledged Rewrap lost: %v", point, mode, errNew)
		}
		s := sOld
		if errNew == nil {
			s = sNew
		}
		if got, err := s.Get(t.Context(), "a"); err != nil || !bytes.Equal(got, []byte("v")) {
			t.Fatalf("crash at %d (%s): Get = %q, %v", point, mode, got, err)
		}
	})
}

// TestRewrapFailure: a KEK that cannot wrap leaves the store on the old
// KEK, working, and the keyset file untouched.
func TestRewrapFailure(t *testing.T) {
	fsys := durable.NewCrashFS()
	s := openSealed(t, fsys, "/data/kek.seed")
	s.Put(t.Context(), "a", []byte("v"))
	before := fsys.Contents()["/data/secrets/.keyset"]
	if err := s.Rewrap(t.Context(), failingKEK{}); err == nil {
		t.Fatal("Rewrap to a failing KEK succeeded")
	}
	if !bytes.Equal(fsys.Contents()["/data/secrets/.keyset"], before) {
		t.Fatal("failed Rewrap changed the keyset")
	}
	if s.KEKInfo().Backend != "soft" {
		t.Fatalf("KEK after failed Rewrap: %+v", s.KEKInfo())
	}
	if err := s.Put(t.Context(), "b", []byte("w")); err != nil {
		t.Fatal(err)
	}
	openSealed(t, fsys, "/data/kek.seed")
}

type failingKEK struct{}

func (failingKEK) Wrap(context.Context, []byte) ([]byte, error) {
	return nil, errors.New("token removed")
}
func (failingKEK) Unwrap(context.Context, []byte) ([]byte, error) {
	return nil, errors.New("token removed")
}
