package durable

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFileOSRoundTrip(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "state.json")
	if err := WriteFile(OS, name, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(OS, name, []byte("two"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(OS, name, 0)
	if err != nil || string(got) != "two" {
		t.Fatalf("ReadFile = %q, %v; want two", got, err)
	}
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode = %v, want 0600", fi.Mode().Perm())
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("temporary files left behind: %v", ents)
	}
}

func TestReadFileLimit(t *testing.T) {
	fsys := NewCrashFS()
	if err := WriteFile(fsys, "f", make([]byte, 101), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(fsys, "f", 100); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	if b, err := ReadFile(fsys, "f", 101); err != nil || len(b) != 101 {
		t.Fatalf("at limit: %d, %v", len(b), err)
	}
}

// TestWriteFileCrashEveryBoundary: after power loss at any boundary the file
// holds the old content or the new one, and once WriteFile returned nil, the
// new one.
func TestWriteFileCrashEveryBoundary(t *testing.T) {
	oldC, newC := bytes.Repeat([]byte("old!"), 100), bytes.Repeat([]byte("NEW."), 150)
	var acked bool
	n := CrashTest(t,
		func(fsys *CrashFS) {
			acked = false
			if err := fsys.MkdirAll("d", 0o700); err != nil {
				t.Fatal(err)
			}
			if err := WriteFile(fsys, "d/f", oldC, 0o600); err != nil {
				t.Fatal(err)
			}
		},
		func(fsys *CrashFS) error {
			err := WriteFile(fsys, "d/f", newC, 0o600)
			acked = err == nil
			return err
		},
		func(fsys *CrashFS, point int, mode CrashMode, runErr error) {
			got, err := ReadFile(fsys, "d/f", 0)
			if err != nil {
				t.Fatalf("crash at %d (%v): file lost: %v", point, mode, err)
			}
			switch {
			case bytes.Equal(got, newC):
			case bytes.Equal(got, oldC):
				if acked {
					t.Fatalf("crash at %d (%v): acknowledged write lost", point, mode)
				}
			default:
				t.Fatalf("crash at %d (%v): mixed content %q", point, mode, got[:min(len(got), 16)])
			}
			if point > 0 && !IsCrash(runErr) && runErr != nil {
				t.Fatalf("crash at %d: unexpected error %v", point, runErr)
			}
		})
	// create, write, sync, rename, dir sync
	if n != 5 {
		t.Fatalf("WriteFile has %d boundaries, want 5", n)
	}
}

// TestWriteFileNeedsDirSync shows why the directory fsync matters: without it
// a crash after rename can bring the old file back although the caller was
// told the write was done.
func TestWriteFileNeedsDirSync(t *testing.T) {
	fsys := NewCrashFS()
	if err := WriteFile(fsys, "f", []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	// the renameio-style sequence: no directory sync
	f, _ := fsys.OpenFile(".f.tmp", os.O_CREATE|os.O_WRONLY, 0o600)
	f.Write([]byte("new"))
	f.Sync()
	f.Close()
	fsys.Rename(".f.tmp", "f")
	got, _ := ReadFile(fsys.Reboot(DropUnsynced), "f", 0)
	if string(got) != "old" {
		t.Fatalf("without a directory sync the rename should not survive the model; got %q", got)
	}
	if err := WriteFile(fsys, "f", []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	got, _ = ReadFile(fsys.Reboot(DropUnsynced), "f", 0)
	if string(got) != "new" {
		t.Fatalf("after WriteFile, reboot gives %q", got)
	}
}

func TestLogAppendScanReopen(t *testing.T) {
	for _, fsys := range []FS{OS, NewCrashFS()} {
		dir := "."
		if fsys == OS {
			dir = t.TempDir()
		}
		name := filepath.Join(dir, "log")
		l, err := OpenLog(fsys, name, LogOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var want [][]byte
		for i := range 50 {
			r := bytes.Repeat([]byte{byte(i)}, i)
			want = append(want, r)
			if err := l.Append(r); err != nil {
				t.Fatal(err)
			}
		}
		if err := l.Append([]byte("a"), []byte("b")); err != nil {
			t.Fatal(err)
		}
		want = append(want, []byte("a"), []byte("b"))
		l.Close()
		l, err = OpenLog(fsys, name, LogOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if l.Cut() != 0 || l.Len() != len(want) {
			t.Fatalf("reopen: cut %d len %d", l.Cut(), l.Len())
		}
		var got [][]byte
		l.Scan(func(off int64, rec []byte) error { got = append(got, append([]byte(nil), rec...)); return nil })
		if len(got) != len(want) {
			t.Fatalf("got %d records, want %d", len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("record %d differs", i)
			}
		}
		l.Close()
	}
}

func TestLogRejectsOversizedRecordAndKeepsState(t *testing.T) {
	fsys := NewCrashFS()
	l, err := OpenLog(fsys, "log", LogOptions{MaxRecord: 10})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Append([]byte("ok")); err != nil {
		t.Fatal(err)
	}
	size := l.Size()
	if err := l.Append([]byte("fine"), make([]byte, 11)); !errors.Is(err, ErrRecordTooLarge) {
		t.Fatalf("err = %v", err)
	}
	if l.Size() != size || l.Len() != 1 {
		t.Fatalf("refused append changed the log: size %d len %d", l.Size(), l.Len())
	}
}

func TestLogFullDiskLeavesNoPartialRecord(t *testing.T) {
	fsys := NewCrashFS()
	l, err := OpenLog(fsys, "log", LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l.Append([]byte("first"))
	full := errors.New("no space left on device")
	fsys.FailWrites = func(string) error { return full }
	if err := l.Append([]byte("second")); !errors.Is(err, full) {
		t.Fatalf("err = %v, want disk full", err)
	}
	fsys.FailWrites = nil
	if err := l.Append([]byte("third")); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l, _ = OpenLog(fsys.Reboot(DropUnsynced), "log", LogOptions{})
	var got []string
	l.Scan(func(_ int64, r []byte) error { got = append(got, string(r)); return nil })
	if fmt.Sprint(got) != "[first third]" {
		t.Fatalf("got %v", got)
	}
}

// TestLogCrashEveryBoundary: no acknowledged record is lost, no partial
// record is ever replayed, and the log stays appendable after recovery.
func TestLogCrashEveryBoundary(t *testing.T) {
	const batches = 6
	var acked int
	recs := func(b int) [][]byte {
		return [][]byte{[]byte(fmt.Sprintf("batch %d rec A %s", b, bytes.Repeat([]byte("x"), b*7))), []byte(fmt.Sprintf("batch %d rec B", b))}
	}
	CrashTest(t,
		func(fsys *CrashFS) { acked = 0 },
		func(fsys *CrashFS) error {
			l, err := OpenLog(fsys, "out.log", LogOptions{})
			if err != nil {
				return err
			}
			defer l.Close()
			for b := range batches {
				if err := l.Append(recs(b)...); err != nil {
					return err
				}
				acked = b + 1
			}
			return nil
		},
		func(fsys *CrashFS, point int, mode CrashMode, runErr error) {
			l, err := OpenLog(fsys, "out.log", LogOptions{})
			if err != nil {
				t.Fatalf("crash at %d (%v): reopen: %v", point, mode, err)
			}
			defer l.Close()
			var got [][]byte
			if err := l.Scan(func(_ int64, r []byte) error { got = append(got, append([]byte(nil), r...)); return nil }); err != nil {
				t.Fatal(err)
			}
			var want [][]byte
			for b := range batches {
				want = append(want, recs(b)...)
			}
			if len(got) < 2*acked {
				t.Fatalf("crash at %d (%v): %d records survive, %d were acknowledged", point, mode, len(got), 2*acked)
			}
			for i, r := range got {
				if i >= len(want) || !bytes.Equal(r, want[i]) {
					t.Fatalf("crash at %d (%v): record %d is %q", point, mode, i, r)
				}
			}
			if err := l.Append([]byte("after")); err != nil {
				t.Fatalf("crash at %d (%v): append after recovery: %v", point, mode, err)
			}
		})
}

func TestLogRewriteCrashEveryBoundary(t *testing.T) {
	old := [][]byte{[]byte("a"), []byte("b"), []byte("c")}
	compacted := [][]byte{[]byte("c")}
	CrashTest(t,
		func(fsys *CrashFS) {
			l, err := OpenLog(fsys, "log", LogOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if err := l.Append(old...); err != nil {
				t.Fatal(err)
			}
			l.Close()
		},
		func(fsys *CrashFS) error {
			l, err := OpenLog(fsys, "log", LogOptions{})
			if err != nil {
				return err
			}
			defer l.Close()
			return l.Rewrite(compacted)
		},
		func(fsys *CrashFS, point int, mode CrashMode, _ error) {
			l, err := OpenLog(fsys, "log", LogOptions{})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			var got []string
			l.Scan(func(_ int64, r []byte) error { got = append(got, string(r)); return nil })
			if s := fmt.Sprint(got); s != "[a b c]" && s != "[c]" {
				t.Fatalf("crash at %d (%v): log holds %s", point, mode, s)
			}
		})
}

func TestLogTornTailIsCut(t *testing.T) {
	fsys := NewCrashFS()
	l, _ := OpenLog(fsys, "log", LogOptions{})
	l.Append([]byte("whole"))
	l.Close()
	f, _ := fsys.OpenFile("log", os.O_WRONLY|os.O_APPEND, 0)
	f.Write(AppendFrame(nil, []byte("torn record"))[:9])
	f.Close()
	l, err := OpenLog(fsys, "log", LogOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if l.Cut() != 9 || l.Len() != 1 {
		t.Fatalf("cut %d len %d", l.Cut(), l.Len())
	}
	fi, _ := fsys.Stat("log")
	if fi.Size() != l.Size() {
		t.Fatalf("file not truncated: %d vs %d", fi.Size(), l.Size())
	}
}

func TestCrashFSSemantics(t *testing.T) {
	fsys := NewCrashFS()
	if _, err := fsys.OpenFile("missing/dir/f", os.O_CREATE|os.O_WRONLY, 0o600); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("create in missing dir: %v", err)
	}
	fsys.CrashAt(1)
	if _, err := fsys.OpenFile("f", os.O_CREATE|os.O_WRONLY, 0o600); !IsCrash(err) {
		t.Fatalf("crash point not honoured: %v", err)
	}
	if !fsys.Crashed() {
		t.Fatal("not crashed")
	}
	if _, err := fsys.Stat("f"); !IsCrash(err) {
		t.Fatalf("ops after crash must fail: %v", err)
	}
	if files := fsys.Reboot(DropUnsynced).Files(); len(files) != 0 {
		t.Fatalf("files after reboot: %v", files)
	}
}

// FuzzLogReplay feeds arbitrary bytes as a log file: opening must never
// panic, must cut to whole records, and must stay appendable.
func FuzzLogReplay(f *testing.F) {
	f.Add([]byte{})
	f.Add(AppendFrame(nil, []byte("hello")))
	f.Add(AppendFrame(AppendFrame(nil, []byte("a")), []byte("bb"))[:13])
	f.Add([]byte{0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := NewCrashFS()
		if err := WriteFile(fsys, "log", data, 0o600); err != nil {
			t.Fatal(err)
		}
		l, err := OpenLog(fsys, "log", LogOptions{MaxRecord: 1 << 16})
		if err != nil {
			t.Fatal(err)
		}
		var total int64
		l.Scan(func(_ int64, r []byte) error { total += int64(len(r)) + frameHeader; return nil })
		if total != l.Size() || l.Size()+l.Cut() != int64(len(data)) {
			t.Fatalf("size %d cut %d records %d data %d", l.Size(), l.Cut(), total, len(data))
		}
		if err := l.Append([]byte("x")); err != nil {
			t.Fatal(err)
		}
		n := l.Len()
		l.Close()
		l2, err := OpenLog(fsys, "log", LogOptions{MaxRecord: 1 << 16})
		if err != nil || l2.Len() != n || l2.Cut() != 0 {
			t.Fatalf("reopen after append: len %d want %d cut %d err %v", l2.Len(), n, l2.Cut(), err)
		}
	})
}

func BenchmarkLogAppend(b *testing.B) {
	l, err := OpenLog(OS, filepath.Join(b.TempDir(), "log"), LogOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	rec := make([]byte, 256)
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	for b.Loop() {
		if err := l.Append(rec); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteFile(b *testing.B) {
	name := filepath.Join(b.TempDir(), "f")
	data := make([]byte, 4096)
	b.ReportAllocs()
	for b.Loop() {
		if err := WriteFile(OS, name, data, 0o600); err != nil {
			b.Fatal(err)
		}
	}
}
