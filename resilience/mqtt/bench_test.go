package mqtt_test

import (
	"context"
	"fmt"
	"io/fs"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/iotbaseline/baseline/durable"
	"github.com/iotbaseline/baseline/resilience"
	"github.com/iotbaseline/baseline/resilience/mqtt"
)

// countingFS counts the fsyncs (file and directory) the outbox makes.
type countingFS struct {
	durable.FS
	syncs atomic.Int64
}

type countingFile struct {
	durable.File
	fs *countingFS
}

func (c *countingFS) OpenFile(name string, flag int, perm fs.FileMode) (durable.File, error) {
	f, err := c.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &countingFile{f, c}, nil
}

func (c *countingFS) SyncDir(name string) error {
	c.syncs.Add(1)
	return c.FS.SyncDir(name)
}

func (f *countingFile) Sync() error {
	f.fs.syncs.Add(1)
	return f.File.Sync()
}

// BenchmarkDrainToMosquitto measures end-to-end delivery on loopback: 16
// producers enqueue 200-byte messages (one Enqueue each) into an outbox
// on the real file system while a Link drains it to a real Mosquitto over
// mutual TLS, each message acknowledged in the outbox after its PUBACK. It
// reports delivered messages per second and the outbox's fsyncs per
// message (enqueue group commits and acknowledgements together).
func BenchmarkDrainToMosquitto(b *testing.B) {
	p := newPKI(b)
	br := startBroker(b, p, brokerOptions{})
	cfs := &countingFS{FS: durable.OS}
	ob, err := resilience.OpenOutbox(context.Background(), resilience.OutboxConfig{FS: cfs, Dir: b.TempDir(), MaxRecords: 1 << 20, MaxBytes: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer ob.Close()
	link, err := mqtt.New(mqtt.Config{Broker: br.addr, TLS: p.clientTLS(b, "dev1"), Outbox: ob})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	online := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		link.Connect(ctx, func() { close(online) })
	}()
	defer func() { cancel(); <-done }()
	select {
	case <-online:
	case <-time.After(waitFor):
		b.Fatal("link did not connect")
	}

	const producers = 16
	payload := make([]byte, 200)
	syncs0, delivered0 := cfs.syncs.Load(), ob.Stats().Delivered
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	var n atomic.Int64
	for range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := n.Add(1)
				if i > int64(b.N) {
					return
				}
				if err := ob.Enqueue(context.Background(), resilience.Message{Key: fmt.Sprintf("m%d", i), Topic: "telemetry", Payload: payload}); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(5 * time.Minute)
	for ob.Stats().Delivered-delivered0 < uint64(b.N) {
		if time.Now().After(deadline) {
			b.Fatalf("delivered %d of %d", ob.Stats().Delivered-delivered0, b.N)
		}
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(cfs.syncs.Load()-syncs0)/float64(b.N), "fsyncs/msg")
}
