package update_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/update"
	"github.com/iotbaseline/baseline/update/internal/tuftest"
)

// Example shows a device checking for a release, announcing it and
// downloading it into its inactive slot, against a repository served on
// loopback.
func Example() {
	dir, _ := os.MkdirTemp("", "repo")
	defer os.RemoveAll(dir)
	now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	repo, _ := tuftest.New(dir, now.AddDate(1, 0, 0), true)

	// The manufacturer's release: image plus descriptor.
	image := make([]byte, 10000)
	rand.Read(image)
	chunks, _, _ := update.HashChunks(bytes.NewReader(image), update.MinChunkSize)
	custom, _ := update.EncodeDescriptor(&update.Descriptor{
		HardwareID: "acme-plug-v2", ReleaseCounter: 8, Version: "1.4.0",
		Security: true, Risks: []string{"an attacker on the LAN could take over the device"},
		Reboot: true, Downtime: 45 * time.Second,
		SupportUntil: time.Date(2031, 12, 31, 0, 0, 0, 0, time.UTC),
		ChunkSize:    update.MinChunkSize, Chunks: chunks,
	})
	repo.AddTarget("plug/1.4.0.bin", image, custom)
	repo.Publish()
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer srv.Close()

	// The device.
	c, err := update.New(update.Config{
		TrustedRoot:      repo.RootBytes(),
		RepositoryURL:    srv.URL,
		HardwareID:       "acme-plug-v2",
		InstalledCounter: func() uint64 { return 7 },
		FS:               durable.NewCrashFS(),
		Dir:              "update",
		Now:              func() time.Time { return now },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	rel, err := c.Check(ctx)
	if err != nil || rel == nil {
		fmt.Println("no release:", err)
		return
	}
	for _, ev := range rel.Events() {
		switch ev := ev.(type) {
		case update.SecurityUpdate:
			fmt.Printf("security update %s mitigates: %s\n", ev.Version, ev.Risks[0])
		case update.Disruption:
			fmt.Printf("install reboots: %v, downtime %v\n", ev.Reboot, ev.Downtime)
		}
	}
	slot, _ := update.OpenFileSlot(durable.NewCrashFS(), "slot-b")
	v, err := c.Download(ctx, rel, slot)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("verified:", v.Valid(), v.Release().Path, v.Release().Length, "bytes")
	// Output:
	// security update 1.4.0 mitigates: an attacker on the LAN could take over the device
	// install reboots: true, downtime 45s
	// verified: true plug/1.4.0.bin 10000 bytes
}
