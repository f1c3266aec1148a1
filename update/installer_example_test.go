package update_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/iotbaseline/baseline/update"
	"github.com/iotbaseline/baseline/update/internal/tuftest"
)

// ExampleFileAB installs a release into the inactive slot file, boots it on
// trial as a launcher would after the restart, and commits it once the new
// firmware's health check passed.
func ExampleFileAB() {
	dir, _ := os.MkdirTemp("", "ab")
	defer os.RemoveAll(dir)
	now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)

	// The manufacturer publishes release 1.4.0 (release counter 8).
	repoDir := filepath.Join(dir, "repo")
	repo, _ := tuftest.New(repoDir, now.AddDate(1, 0, 0), true)
	image := bytes.Repeat([]byte("firmware 1.4.0\n"), 1000)
	chunks, _, _ := update.HashChunks(bytes.NewReader(image), update.MinChunkSize)
	custom, _ := update.EncodeDescriptor(&update.Descriptor{HardwareID: "acme-plug-v2", ReleaseCounter: 8,
		Version: "1.4.0", Reboot: true, ChunkSize: update.MinChunkSize, Chunks: chunks})
	repo.AddTarget("plug/1.4.0.bin", image, custom)
	repo.Publish()
	srv := httptest.NewServer(http.FileServer(http.Dir(repoDir)))
	defer srv.Close()

	// The device left the factory with 1.3.0 (counter 7) in slot a.
	dev := filepath.Join(dir, "device")
	os.MkdirAll(dev, 0o700)
	os.WriteFile(filepath.Join(dev, "slot-a"), []byte("firmware 1.3.0\n"), 0o600)
	abConfig := update.FileABConfig{Dir: dev, Factory: update.Image{Version: "1.3.0", Counter: 7}}
	ab, err := update.NewFileAB(abConfig)
	if err != nil {
		fmt.Println(err)
		return
	}
	c, err := update.New(update.Config{
		TrustedRoot:   repo.RootBytes(),
		RepositoryURL: srv.URL,
		HardwareID:    "acme-plug-v2",
		Installer:     ab, // also supplies the installed release counter
		Dir:           filepath.Join(dev, "update"),
		Now:           func() time.Time { return now },
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
	if err := c.Apply(ctx, rel); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ab.Status().Phase)
	ab.Close()

	// After the restart, the launcher asks which slot to start.
	ab, _ = update.NewFileAB(abConfig)
	defer ab.Close()
	d, _ := ab.Boot(ctx)
	fmt.Println("start", filepath.Base(d.Path), "on trial:", d.Trial, "attempt", d.Attempt, "of", d.MaxAttempts)

	// The new firmware's health check passed: commit.
	if err := ab.Commit(ctx); err != nil {
		fmt.Println(err)
		return
	}
	st := ab.Status()
	fmt.Println(st.Phase, "in slot", st.Slot+":", st.Installed.Version, "counter", st.Installed.Counter)
	// Output:
	// installed-pending-reboot
	// start slot-b on trial: true attempt 1 of 3
	// idle in slot b: 1.4.0 counter 8
}
