package durable_test

import (
	"fmt"

	"github.com/iotbaseline/baseline/durable"
)

// A record log survives power loss up to its last acknowledged append; what
// an interrupted append left behind is cut when the log is opened again.
func Example_powerLoss() {
	fsys := durable.NewCrashFS()
	log, _ := durable.OpenLog(fsys, "events.log", durable.LogOptions{})
	log.Append([]byte("first"), []byte("second")) // acknowledged: durable

	fsys.CrashAt(1) // power fails during the next write
	err := log.Append([]byte("third"))
	fmt.Println("append during power loss:", durable.IsCrash(err))

	after := fsys.Reboot(durable.KeepUnsynced) // keep even the torn write
	log, _ = durable.OpenLog(after, "events.log", durable.LogOptions{})
	log.Scan(func(_ int64, rec []byte) error {
		fmt.Println("replayed:", string(rec))
		return nil
	})
	fmt.Println("torn bytes cut:", log.Cut() > 0)
	// Output:
	// append during power loss: true
	// replayed: first
	// replayed: second
	// torn bytes cut: true
}

// WriteFile replaces a file so that after power loss it holds the old or the
// new content, never a mix.
func ExampleWriteFile() {
	fsys := durable.NewCrashFS()
	durable.WriteFile(fsys, "settings.json", []byte(`{"v":1}`), 0o600)
	fsys.CrashAt(3) // power fails after the temporary file's write
	durable.WriteFile(fsys, "settings.json", []byte(`{"v":2}`), 0o600)
	b, _ := durable.ReadFile(fsys.Reboot(durable.DropUnsynced), "settings.json", 1<<10)
	fmt.Println(string(b))
	// Output: {"v":1}
}
