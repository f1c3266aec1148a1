package erase_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/iotbaseline/baseline/erase"
)

// A device registers its stores, resumes any interrupted reset at start,
// and resets on the user's request.
func Example() {
	ctx := context.Background()
	root, err := os.MkdirTemp("", "erase-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(root)
	wifiDir := filepath.Join(root, "data", "wifi")
	os.MkdirAll(wifiDir, 0o700)
	os.WriteFile(filepath.Join(wifiDir, "home.conf"), []byte("ssid=Home psk=hunter2"), 0o600)

	wifi := &erase.DirStore{StoreName: "wifi", Dir: wifiDir}
	reg := erase.NewRegistry().Add(wifi, erase.WiFi)
	reset, err := erase.Open(ctx, erase.Config{
		Journal:  filepath.Join(root, "persist", "erase.journal"),
		Registry: reg,
		Now:      func() time.Time { return time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		log.Fatal(err)
	}
	defer reset.Close()
	if _, err := reset.Resume(ctx); err != nil { // at every start
		log.Fatal(err)
	}

	rc, err := reset.Reset(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("wifi verified empty:", wifi.Verify(ctx) == nil)
	fmt.Println(rc.Stores[0].Method, rc.Stores[0].Items, rc.Stores[0].Verification)

	// The receipt, signed by the device's key (in a device,
	// *secrets.Identity), is checked with the public key.
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signed, err := erase.Sign(rc, key)
	if err != nil {
		log.Fatal(err)
	}
	got, err := erase.VerifyReceipt(signed, &key.PublicKey)
	fmt.Println("receipt verified:", err == nil && got.ID == rc.ID, "complete:", got.Complete())
	// Output:
	// wifi verified empty: true
	// delete 1 empty
	// receipt verified: true complete: true
}

func ExampleRegistry_Instructions() {
	reg := erase.NewRegistry().
		Add(&erase.DirStore{StoreName: "wifi", Dir: "/data/wifi"}, erase.WiFi).
		Add(&erase.DirStore{StoreName: "logs", Dir: "/data/logs", Overwrite: true}, erase.Logs).
		AddService(erase.Service{Name: "cloud", Holds: "your usage history"}).
		HowTo("To reset, hold the button for 10 seconds until the light flashes red.")
	fmt.Print(reg.Instructions())
	// Output:
	// Factory reset: what it does
	//
	// A factory reset returns the device to the state it left the factory in. It deletes:
	//   - Wi-Fi networks and their passwords (deleted)
	//   - event and security logs (overwritten, then deleted)
	//
	// It keeps:
	//   - the firmware: the device needs it to start; it holds no personal data
	//   - the firmware's trust root (update signing keys): so the device still installs only genuine updates after the reset; it holds no personal data
	//
	// Online services: the device sends each one a deletion request as part of the reset,
	// and the confirmation shows when each service has confirmed:
	//   - cloud: your usage history
	// If the device is offline, the requests are kept and sent when it reconnects.
	//
	// To reset, hold the button for 10 seconds until the light flashes red.
	// If power is lost during the reset,
	// the device finishes it when it starts again, before doing anything else. Afterwards it must
	// be set up again like a new device.
}
