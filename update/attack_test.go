package update

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// attempt runs what a device does: Check, then Download into a fresh slot.
// It returns the first error and the slot.
func attempt(c *Client) (*recSlot, error) {
	slot := &recSlot{}
	ctx := context.Background()
	rel, err := c.Check(ctx)
	if err != nil {
		return slot, err
	}
	if rel == nil {
		return slot, errNothing
	}
	_, err = c.Download(ctx, rel, slot)
	return slot, err
}

var errNothing = errors.New("no release offered")

func mustRefuse(t *testing.T, c *Client, want error) {
	t.Helper()
	slot, err := attempt(c)
	if !errors.Is(err, want) {
		t.Fatalf("got %v, want %v", err, want)
	}
	t.Logf("refused: %v", err)
	slot.untouched(t)
}

func TestAttackArbitraryInstallation(t *testing.T) {
	fx := newFixture(t, false)
	img := randomImage(t, 3*MinChunkSize)
	fx.addRelease("fw.bin", img, nil)
	// The mirror serves other bytes of the same length under the name.
	if err := os.WriteFile(fx.repo.TargetPath("fw.bin"), randomImage(t, len(img)), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRefuse(t, fx.client(nil), ErrTarget)
}

func TestAttackEndlessData(t *testing.T) {
	endless := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		chunk := bytes.Repeat([]byte{' '}, 32<<10)
		for {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}
	t.Run("metadata", func(t *testing.T) {
		fx := newFixture(t, false)
		fx.addRelease("fw.bin", randomImage(t, MinChunkSize), nil)
		fx.serve(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "timestamp.json") {
				endless(w, r)
				return
			}
			http.FileServer(http.Dir(fx.repo.Dir)).ServeHTTP(w, r)
		})
		mustRefuse(t, fx.client(nil), ErrTooLarge)
	})
	t.Run("target", func(t *testing.T) {
		fx := newFixture(t, false)
		fx.addRelease("fw.bin", randomImage(t, 2*MinChunkSize), nil)
		fx.serve(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/targets/") {
				w.Header().Set("Content-Type", "application/octet-stream")
				b := make([]byte, 32<<10)
				for {
					rand.Read(b)
					if _, err := w.Write(b); err != nil {
						return
					}
				}
			}
			http.FileServer(http.Dir(fx.repo.Dir)).ServeHTTP(w, r)
		})
		mustRefuse(t, fx.client(nil), ErrTarget)
	})
	t.Run("image followed by endless data", func(t *testing.T) {
		// Only the signed length is read: the image installs, the extra
		// bytes are never consumed.
		fx := newFixture(t, false)
		img := randomImage(t, 2*MinChunkSize+7)
		fx.addRelease("fw.bin", img, nil)
		fx.serve(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/targets/") {
				w.Write(img)
				endless(w, r)
				return
			}
			http.FileServer(http.Dir(fx.repo.Dir)).ServeHTTP(w, r)
		})
		slot, err := attempt(fx.client(nil))
		if err != nil || !bytes.Equal(slot.data, img) {
			t.Fatalf("err=%v, slot matches=%v", err, bytes.Equal(slot.data, img))
		}
	})
}

func TestAttackExtraneousDependencies(t *testing.T) {
	fx := newFixture(t, false)
	fx.addRelease("fw.bin", randomImage(t, MinChunkSize), nil)
	// The attacker lists an extra target in targets.json without the
	// targets key: the threshold signature no longer verifies.
	orig := fx.repo.ReadMeta("targets.json")
	evil := bytes.Replace(orig, []byte(`"targets":{`), []byte(`"targets":{"extra.bin":{"length":1,"hashes":{"sha256":"00"}},`), 1)
	if bytes.Equal(evil, orig) {
		t.Fatal("fixture: could not inject target")
	}
	fx.repo.WriteMeta("targets.json", evil)
	mustRefuse(t, fx.client(nil), ErrMetadata)

	// A target that signed metadata does not list is never fetched.
	fx.repo.WriteMeta("targets.json", orig)
	c := fx.client(nil)
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	slot := &recSlot{}
	_, err := c.Download(context.Background(), &Release{Path: "extra.bin", Length: 1}, slot)
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("unlisted target: %v", err)
	}
	slot.untouched(t)
	if fx.sawRequest("/targets/extra.bin") {
		t.Fatal("unlisted target was requested")
	}
}

func TestAttackFastForward(t *testing.T) {
	fx := newFixture(t, false)
	fx.addRelease("fw.bin", randomImage(t, MinChunkSize), nil)
	c := fx.client(nil)
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	// With the compromised timestamp key the attacker fast-forwards the
	// timestamp version; the device accepts it (the key is valid).
	fx.repo.Timestamp.Signed.Version = 1000
	if err := fx.repo.PublishTimestamp(); err != nil {
		t.Fatal(err)
	}
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The repository goes back to its real version line: refused as a
	// rollback while the compromised key is trusted.
	fx.repo.Timestamp.Signed.Version = 5
	if err := fx.repo.PublishTimestamp(); err != nil {
		t.Fatal(err)
	}
	mustRefuse(t, fx.client(nil), ErrMetadata)
	// Recovery: the root rotates the timestamp key; the device drops the
	// fast-forwarded timestamp and accepts the new line.
	if err := fx.repo.ReplaceKeys("timestamp"); err != nil {
		t.Fatal(err)
	}
	if err := fx.repo.RotateRoot(false); err != nil {
		t.Fatal(err)
	}
	if err := fx.repo.PublishTimestamp(); err != nil {
		t.Fatal(err)
	}
	slot, err := attempt(fx.client(nil))
	if err != nil || !bytes.Equal(slot.data, fx.image) {
		t.Fatalf("after key rotation: %v", err)
	}
}

func TestAttackIndefiniteFreeze(t *testing.T) {
	fx := newFixture(t, false)
	expiry := testNow.AddDate(1, 0, 0)
	// The root stays valid; timestamp, snapshot and targets expire.
	fx.repo.Root.Signed.Expires = expiry.AddDate(5, 0, 0)
	if err := fx.repo.WriteRoot(); err != nil {
		t.Fatal(err)
	}
	fx.addRelease("fw.bin", randomImage(t, MinChunkSize), nil)
	after := func(c *Config) { c.Now = func() time.Time { return expiry.Add(time.Hour) } }
	// The mirror keeps serving metadata that has expired. The error names
	// the role and the release engineer's fix.
	mustRefuse(t, fx.client(after), ErrExpired)
	_, err := attempt(fx.client(after))
	var me *MetadataError
	if !errors.As(err, &me) || me.Role != "timestamp" || !strings.Contains(err.Error(), "baseline release resign -role timestamp") {
		t.Fatalf("expired timestamp: %v; want a MetadataError naming release resign -role timestamp", err)
	}

	// Setting the device clock back does not help: the build time is a
	// floor, and so is the time of the last successful refresh.
	back := func(c *Config) {
		c.Now = func() time.Time { return testNow.AddDate(-5, 0, 0) }
		c.BuildTime = expiry.Add(time.Hour)
	}
	mustRefuse(t, fx.client(back), ErrExpired)

	fx2 := newFixture(t, false)
	fx2.repo.Root.Signed.Expires = expiry.AddDate(5, 0, 0)
	if err := fx2.repo.WriteRoot(); err != nil {
		t.Fatal(err)
	}
	fx2.addRelease("fw.bin", randomImage(t, MinChunkSize), nil)
	late := fx2.client(after)
	// A refresh at a later time raises the persisted floor …
	fx2.repo.SetExpires(expiry.AddDate(1, 0, 0))
	if err := fx2.repo.Publish(); err != nil {
		t.Fatal(err)
	}
	if err := late.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	// … so replaying old metadata that expired before that time is refused
	// even when the clock is reset to a time it was valid.
	fx2.repo.SetExpires(expiry)
	if err := fx2.repo.Publish(); err != nil {
		t.Fatal(err)
	}
	reset := fx2.client(func(c *Config) { c.Now = func() time.Time { return testNow } })
	if got := reset.TrustedTime(); !got.After(expiry) {
		t.Fatalf("trusted time %v not raised above %v", got, expiry)
	}
	mustRefuse(t, reset, ErrExpired)
}

// TestExpiredRootNamesResign: when the root itself has expired, the
// device's error names the role and `baseline release resign -role root`.
func TestExpiredRootNamesResign(t *testing.T) {
	fx := newFixture(t, false)
	expiry := testNow.AddDate(1, 0, 0)
	fx.repo.Root.Signed.Expires = expiry
	if err := fx.repo.WriteRoot(); err != nil {
		t.Fatal(err)
	}
	fx.repo.SetExpires(expiry.AddDate(1, 0, 0))
	fx.addRelease("fw.bin", randomImage(t, MinChunkSize), nil)
	after := func(c *Config) { c.Now = func() time.Time { return expiry.Add(time.Hour) } }
	mustRefuse(t, fx.client(after), ErrExpired)
	_, err := attempt(fx.client(after))
	var me *MetadataError
	if !errors.As(err, &me) || me.Role != "root" || !strings.Contains(err.Error(), "baseline release resign -role root") {
		t.Fatalf("expired root: %v; want a MetadataError naming release resign -role root", err)
	}
}

func TestAttackMaliciousMirror(t *testing.T) {
	fx := newFixture(t, false)
	fx.addRelease("fw.bin", randomImage(t, MinChunkSize), nil)
	// The mirror serves a repository of its own, consistently signed by
	// keys the device does not trust.
	evil := newFixture(t, false)
	evil.addRelease("fw.bin", randomImage(t, MinChunkSize), nil)
	c := fx.client(func(c *Config) { c.RepositoryURL = evil.srv.URL; c.HTTPClient = evil.srv.Client() })
	mustRefuse(t, c, ErrMetadata)

	// A mirror that redirects the device elsewhere is refused too.
	other := httptest.NewServer(http.FileServer(http.Dir(fx.repo.Dir)))
	defer other.Close()
	fx.serve(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusFound)
	})
	mustRefuse(t, fx.client(nil), ErrRedirect)
}

func TestAttackMixAndMatch(t *testing.T) {
	fx := newFixture(t, false)
	fx.addRelease("fw-a.bin", randomImage(t, MinChunkSize), nil)
	oldTargets := fx.repo.ReadMeta("targets.json")
	fx.addRelease("fw-b.bin", randomImage(t, MinChunkSize), func(d *Descriptor) { d.ReleaseCounter = 3 })
	// Current timestamp and snapshot, but targets from another version.
	fx.repo.WriteMeta("targets.json", oldTargets)
	mustRefuse(t, fx.client(nil), ErrMetadata)
}

func TestAttackRollback(t *testing.T) {
	fx := newFixture(t, false)
	fx.addRelease("fw.bin", randomImage(t, MinChunkSize), nil)
	oldTS, oldSnap := fx.repo.ReadMeta("timestamp.json"), fx.repo.ReadMeta("snapshot.json")
	fx.addRelease("fw.bin", randomImage(t, MinChunkSize), func(d *Descriptor) { d.ReleaseCounter = 3 })
	c := fx.client(nil)
	if err := c.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The mirror replays an older, validly signed repository state.
	fx.repo.WriteMeta("timestamp.json", oldTS)
	fx.repo.WriteMeta("snapshot.json", oldSnap)
	mustRefuse(t, fx.client(nil), ErrMetadata)
}

func TestAttackKeyCompromiseBelowThreshold(t *testing.T) {
	fx := newFixture(t, false)
	// Targets need 2 of 2 signatures.
	if _, err := fx.repo.AddKey("targets"); err != nil {
		t.Fatal(err)
	}
	fx.repo.Root.Signed.Roles["targets"].Threshold = 2
	if err := fx.repo.RotateRoot(false); err != nil {
		t.Fatal(err)
	}
	fx.addRelease("fw.bin", randomImage(t, MinChunkSize), nil)
	root := fx.repo.RootBytes()
	// The attacker holds one targets key (and the online snapshot and
	// timestamp keys) and publishes an image of their own.
	fx.repo.Keys["targets"] = fx.repo.Keys["targets"][:1]
	fx.addRelease("fw.bin", randomImage(t, MinChunkSize), func(d *Descriptor) { d.ReleaseCounter = 9 })
	mustRefuse(t, fx.client(func(c *Config) { c.TrustedRoot = root }), ErrMetadata)
}

func TestAttackWrongSoftware(t *testing.T) {
	fx := newFixture(t, false)
	a, b := randomImage(t, 2*MinChunkSize), randomImage(t, 2*MinChunkSize)
	fx.addRelease("other-product.bin", b, func(d *Descriptor) { d.HardwareID = "acme-cam" })
	fx.addRelease("fw.bin", a, nil)
	// A validly signed image for something else, served as ours.
	if err := os.WriteFile(fx.repo.TargetPath("fw.bin"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	mustRefuse(t, fx.client(nil), ErrTarget)
}

func TestAttackWrongHardwareID(t *testing.T) {
	fx := newFixture(t, false)
	fx.addRelease("fw.bin", randomImage(t, MinChunkSize), func(d *Descriptor) { d.HardwareID = "acme-plug-v1" })
	var logged bytes.Buffer
	c := fx.client(func(c *Config) { c.Logger = slog.New(slog.NewTextHandler(&logged, nil)) })
	mustRefuse(t, c, errNothing) // not offered
	// ... and the device says why, naming both IDs.
	if out := logged.String(); !strings.Contains(out, "none for this device's hardware ID") ||
		!strings.Contains(out, "acme-plug-v1") || !strings.Contains(out, testHW) {
		t.Errorf("no hardware-ID mismatch in the log:\n%s", out)
	}
	slot := &recSlot{}
	_, err := c.Download(context.Background(), &Release{Path: "fw.bin", Length: int64(len(fx.image))}, slot)
	if !errors.Is(err, ErrHardware) {
		t.Fatalf("Download: %v, want ErrHardware", err)
	}
	slot.untouched(t)
}

func TestAttackReleaseCounterDecrease(t *testing.T) {
	fx := newFixture(t, false)
	// A higher version string but a lower release counter than installed.
	fx.addRelease("fw.bin", randomImage(t, MinChunkSize), func(d *Descriptor) { d.ReleaseCounter = 4; d.Version = "9.9.9" })
	c := fx.client(func(c *Config) { c.InstalledCounter = func() uint64 { return 5 } })
	mustRefuse(t, c, errNothing)
	slot := &recSlot{}
	_, err := c.Download(context.Background(), &Release{Path: "fw.bin", Length: int64(len(fx.image))}, slot)
	if !errors.Is(err, ErrRollback) {
		t.Fatalf("Download: %v, want ErrRollback", err)
	}
	slot.untouched(t)
}

func TestAttackSlowRetrieval(t *testing.T) {
	slow := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		for {
			if _, err := w.Write([]byte{0}); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	rate := func(c *Config) { c.MinRate = 64 << 10; c.MinRateWindow = 100 * time.Millisecond }
	t.Run("target", func(t *testing.T) {
		fx := newFixture(t, false)
		fx.addRelease("fw.bin", randomImage(t, MinChunkSize), nil)
		fx.serve(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/targets/") {
				slow(w, r)
				return
			}
			http.FileServer(http.Dir(fx.repo.Dir)).ServeHTTP(w, r)
		})
		mustRefuse(t, fx.client(rate), ErrSlowRetrieval)
	})
	t.Run("metadata", func(t *testing.T) {
		fx := newFixture(t, false)
		fx.addRelease("fw.bin", randomImage(t, MinChunkSize), nil)
		fx.serve(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "timestamp.json") {
				slow(w, r)
				return
			}
			http.FileServer(http.Dir(fx.repo.Dir)).ServeHTTP(w, r)
		})
		mustRefuse(t, fx.client(rate), ErrSlowRetrieval)
	})
}
