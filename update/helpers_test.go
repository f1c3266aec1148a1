package update

import (
	"bytes"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/update/internal/tuftest"
)

const testHW = "acme-plug-v2"

var testNow = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)

// fixture is a real repository on disk served over loopback.
type fixture struct {
	t     *testing.T
	repo  *tuftest.Repo
	srv   *httptest.Server
	fs    *durable.CrashFS
	image []byte
	// intercept, when set, serves instead of the file server.
	intercept atomic.Pointer[http.HandlerFunc]
	mu        sync.Mutex
	requests  []string
}

func newFixture(t *testing.T, consistent bool) *fixture {
	t.Helper()
	repo, err := tuftest.New(t.TempDir(), testNow.AddDate(1, 0, 0), consistent)
	if err != nil {
		t.Fatal(err)
	}
	fx := &fixture{t: t, repo: repo, fs: durable.NewCrashFS()}
	files := http.FileServer(http.Dir(repo.Dir))
	fx.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fx.mu.Lock()
		fx.requests = append(fx.requests, r.URL.Path)
		fx.mu.Unlock()
		if h := fx.intercept.Load(); h != nil {
			(*h)(w, r)
			return
		}
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(fx.srv.Close)
	return fx
}

func (fx *fixture) serve(h http.HandlerFunc) { fx.intercept.Store(&h) }

func (fx *fixture) sawRequest(path string) bool {
	fx.mu.Lock()
	defer fx.mu.Unlock()
	for _, p := range fx.requests {
		if p == path {
			return true
		}
	}
	return false
}

func randomImage(t testing.TB, n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// addRelease adds an image with a descriptor and publishes.
func (fx *fixture) addRelease(path string, image []byte, mutate func(*Descriptor)) *Descriptor {
	fx.t.Helper()
	chunks, _, err := HashChunks(bytes.NewReader(image), MinChunkSize)
	if err != nil {
		fx.t.Fatal(err)
	}
	d := &Descriptor{HardwareID: testHW, ReleaseCounter: 2, Version: "2.0.0", ChunkSize: MinChunkSize, Chunks: chunks,
		Security: true, Risks: []string{"takeover via web UI"}, Reboot: true, Downtime: 30 * time.Second,
		SupportUntil: time.Date(2032, 1, 1, 0, 0, 0, 0, time.UTC)}
	if mutate != nil {
		mutate(d)
	}
	custom, err := EncodeDescriptor(d)
	if err != nil {
		fx.t.Fatal(err)
	}
	if _, err := fx.repo.AddTarget(path, image, custom); err != nil {
		fx.t.Fatal(err)
	}
	if err := fx.repo.Publish(); err != nil {
		fx.t.Fatal(err)
	}
	fx.image = image
	return d
}

func (fx *fixture) config() Config {
	return Config{
		TrustedRoot:   fx.repo.RootBytes(),
		RepositoryURL: fx.srv.URL,
		HardwareID:    testHW,
		FS:            fx.fs,
		Dir:           "state",
		HTTPClient:    fx.srv.Client(),
		Now:           func() time.Time { return testNow },
		Retries:       -1,
		MinRate:       -1,
	}
}

func (fx *fixture) client(mod func(*Config)) *Client {
	fx.t.Helper()
	cfg := fx.config()
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		fx.t.Fatal(err)
	}
	return c
}

// recSlot is a slot in memory that records every write.
type recSlot struct {
	mu     sync.Mutex
	data   []byte
	writes int
	syncs  int
}

func (s *recSlot) WriteAt(p []byte, off int64) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	if need := int(off) + len(p); need > len(s.data) {
		s.data = append(s.data, make([]byte, need-len(s.data))...)
	}
	copy(s.data[off:], p)
	return len(p), nil
}

func (s *recSlot) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.syncs++
	return nil
}

func (s *recSlot) untouched(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.writes != 0 || len(s.data) != 0 {
		t.Fatalf("slot was written: %d writes, %d bytes", s.writes, len(s.data))
	}
}
