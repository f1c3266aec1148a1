package update_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"

	"github.com/iotbaseline/baseline/update"
)

// ExampleFileAB_VerifyRunning is the start of a device's firmware: the
// running slot is read and compared with the image recorded for it; on a
// mismatch the device cuts its network down to the alert and update
// endpoints and alerts its owner, and its self-check reports FAIL.
func ExampleFileAB_VerifyRunning() {
	dir, _ := os.MkdirTemp("", "boot")
	defer os.RemoveAll(dir)
	image := []byte("firmware 1.3.0\n")
	os.WriteFile(filepath.Join(dir, "slot-a"), image, 0o600)
	sum := sha256.Sum256(image)
	factory := update.Image{Version: "1.3.0", Counter: 7, Length: int64(len(image)), SHA256: sum[:]}

	integrity := update.BootIntegrity{
		Restrict: func(ctx context.Context) error {
			fmt.Println("firewall: only alerts.example.com and updates.example.com")
			return nil // e.g. load an nftables rule set that drops the rest
		},
		Alert: func(ctx context.Context, err error) {
			fmt.Println("LED red; owner told: firmware changed")
		},
	}
	start := func() {
		ab, _ := update.NewFileAB(update.FileABConfig{Dir: dir, Factory: factory})
		defer ab.Close()
		err := ab.VerifyRunning(context.Background(), integrity)
		for _, c := range ab.Checks() {
			if c.ID == "update.boot-integrity" {
				fmt.Println(c.ID, c.Run(context.Background()).Verdict, "err:", err != nil)
			}
		}
	}

	start()
	// Someone rewrites a byte of the slot while the device is off.
	image[9] = '6'
	os.WriteFile(filepath.Join(dir, "slot-a"), image, 0o600)
	start()
	// Output:
	// update.boot-integrity PASS err: false
	// firewall: only alerts.example.com and updates.example.com
	// LED red; owner told: firmware changed
	// update.boot-integrity FAIL err: true
}
