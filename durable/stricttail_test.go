package durable

import (
	"bytes"
	"errors"
	"testing"
)

// StrictTail: a torn last record is cut as always; a bad record with whole
// records after it is refused and left as it is.
func TestLogStrictTail(t *testing.T) {
	fsys := NewCrashFS()
	l, err := OpenLog(fsys, "/log", LogOptions{StrictTail: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"first record", "second record", "third record"} {
		if err := l.Append([]byte(r)); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	whole := fsys.Contents()["/log"]

	// Torn append: the last record half written.
	if err := WriteFile(fsys, "/log", whole[:len(whole)-5], 0o600); err != nil {
		t.Fatal(err)
	}
	l, err = OpenLog(fsys, "/log", LogOptions{StrictTail: true})
	if err != nil {
		t.Fatalf("a torn last record refused: %v", err)
	}
	if l.Len() != 2 || l.Cut() == 0 {
		t.Fatalf("torn tail: %d records, cut %d", l.Len(), l.Cut())
	}
	l.Close()

	// A byte of the first record changed: two whole records follow it.
	damaged := bytes.Clone(whole)
	damaged[frameHeader+1] ^= 1
	if err := WriteFile(fsys, "/log", damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenLog(fsys, "/log", LogOptions{StrictTail: true}); !errors.Is(err, ErrLogDamaged) {
		t.Fatalf("damaged log: %v, want ErrLogDamaged", err)
	}
	if !bytes.Equal(fsys.Contents()["/log"], damaged) {
		t.Fatal("the damaged log was changed")
	}
	// Without StrictTail the same file is cut back to nothing, as before.
	l, err = OpenLog(fsys, "/log", LogOptions{})
	if err != nil || l.Len() != 0 {
		t.Fatalf("lenient open: %v, %d records", err, l.Len())
	}
	l.Close()
}
