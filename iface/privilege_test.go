package iface

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

const statusFixture = `Name:	app
Umask:	0022
State:	R (running)
Uid:	1000	1000	1000	1000
Gid:	1000	1000	1000	1000
Groups:	1000
CapInh:	0000000000000000
CapPrm:	0000000000000400
CapEff:	0000000000000400
CapBnd:	000001ffffffffff
CapAmb:	0000000000000000
NoNewPrivs:	1
Seccomp:	0
`

func TestParseStatus(t *testing.T) {
	p, err := parseStatus(strings.NewReader(statusFixture))
	if err != nil {
		t.Fatal(err)
	}
	if p.UID != 1000 || p.EUID != 1000 || p.GID != 1000 || p.Root() || !p.NoNewPrivs || p.CapEff != 1<<capNetBindService {
		t.Errorf("%+v", p)
	}
	if got := capNamesOf(p.CapEff); len(got) != 1 || got[0] != "cap_net_bind_service" {
		t.Errorf("capNamesOf %v", got)
	}
	if got := capNamesOf(1<<21 | 1<<60); got[0] != "cap_sys_admin" || got[1] != "cap_60" {
		t.Errorf("capNamesOf %v", got)
	}
	for _, bad := range []string{
		"",
		strings.Replace(statusFixture, "Uid:\t1000\t1000\t1000\t1000", "Uid:\t1000", 1),
		strings.Replace(statusFixture, "CapEff:\t0000000000000400", "CapEff:\tzz", 1),
		strings.Replace(statusFixture, "NoNewPrivs:\t1", "NoNewPrivs:\t7", 1),
		strings.Replace(statusFixture, "CapPrm:\t0000000000000400\n", "", 1),
	} {
		if _, err := parseStatus(strings.NewReader(bad)); !errors.Is(err, errProcStatus) {
			t.Errorf("accepted %q: %v", bad, err)
		}
	}
}

func FuzzParseStatus(f *testing.F) {
	f.Add([]byte(statusFixture))
	f.Add([]byte("Uid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nCapEff:\tffffffffffffffff\nCapPrm:\t0000000000000000\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := parseStatus(strings.NewReader(string(data)))
		if err != nil {
			if !errors.Is(err, errProcStatus) {
				t.Fatalf("error %v does not wrap errProcStatus", err)
			}
			return
		}
		if p.UID < 0 || p.EUID < 0 || p.GID < 0 {
			t.Fatalf("negative id %+v", p)
		}
	})
}

func TestCurrentPrivileges(t *testing.T) {
	p, err := CurrentPrivileges()
	if runtime.GOOS != "linux" {
		if !errors.Is(err, errors.ErrUnsupported) {
			t.Fatalf("non-Linux: %v", err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if p.EUID != os.Geteuid() || p.UID != os.Getuid() || p.GID != os.Getgid() {
		t.Errorf("%+v vs uid %d euid %d", p, os.Getuid(), os.Geteuid())
	}
}

// TestDropPrivileges runs DropPrivileges in a child process (it cannot be
// undone) and checks what the kernel then reports for it.
func TestDropPrivileges(t *testing.T) {
	if os.Getenv("IFACE_DROP_CHILD") == "1" {
		err := DropPrivileges(65534, 65534)
		p, perr := CurrentPrivileges()
		out := map[string]any{"priv": p, "perr": errString(perr), "err": errString(err), "unsupported": errors.Is(err, errors.ErrUnsupported)}
		json.NewEncoder(os.Stdout).Encode(out)
		os.Exit(0)
	}
	if runtime.GOOS != "linux" {
		if err := DropPrivileges(65534, 65534); !errors.Is(err, errors.ErrUnsupported) {
			t.Fatalf("non-Linux: %v", err)
		}
		return
	}
	if err := DropPrivileges(0, 0); err == nil {
		t.Fatal("drop to root accepted")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestDropPrivileges$")
	cmd.Env = append(os.Environ(), "IFACE_DROP_CHILD=1")
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	var res struct {
		Priv        Privileges
		Perr, Err   string
		Unsupported bool
	}
	line := b
	if i := strings.Index(string(b), "{"); i >= 0 {
		line = b[i:]
	}
	if err := json.Unmarshal(line, &res); err != nil {
		t.Fatalf("child output %q: %v", b, err)
	}
	if os.Geteuid() != 0 {
		// Without privileges to drop, setresgid/setresuid fail and nothing
		// changes.
		if res.Err == "" || res.Priv.EUID != os.Geteuid() {
			t.Fatalf("unprivileged drop: %+v", res)
		}
		return
	}
	p := res.Priv
	if p.UID != 65534 || p.EUID != 65534 || p.GID != 65534 || p.CapEff != 0 || p.CapPrm != 0 {
		t.Fatalf("after drop: %+v (err %s)", p, res.Err)
	}
	// no_new_privs needs a non-cgo build (it is cgo under -race).
	if res.Err != "" && !res.Unsupported {
		t.Fatalf("drop error: %s", res.Err)
	}
	if res.Err == "" && !p.NoNewPrivs {
		t.Fatal("no_new_privs not set")
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
