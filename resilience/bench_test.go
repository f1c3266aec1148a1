package resilience

import (
	"context"
	"fmt"
	"io/fs"
	"sync/atomic"
	"testing"

	"github.com/iotbaseline/baseline/durable"
)

// countingFS counts the fsyncs (file and directory) that reach the real file
// system.
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

// BenchmarkOutboxEnqueue measures durable enqueue throughput on the real
// file system (a temporary directory) with group commit: a batch of n
// messages costs one write and one fsync. It reports messages per second and
// fsyncs per message, which include segment rolls and compaction.
func BenchmarkOutboxEnqueue(b *testing.B) {
	for _, ack := range []bool{false, true} {
		for _, batch := range []int{1, 16, 256} {
			benchEnqueue(b, batch, ack)
		}
	}
}

func benchEnqueue(b *testing.B, batch int, ack bool) {
	name := fmt.Sprintf("enqueue/batch=%d", batch)
	if ack {
		name = fmt.Sprintf("enqueue+ack/batch=%d", batch)
	}
	{
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			cfs := &countingFS{FS: durable.OS}
			ob, err := OpenOutbox(ctx, OutboxConfig{FS: cfs, Dir: b.TempDir(), MaxRecords: 1 << 20, MaxBytes: 1 << 30})
			if err != nil {
				b.Fatal(err)
			}
			defer ob.Close()
			payload := make([]byte, 200)
			msgs := make([]Message, batch)
			keys := make([]string, batch)
			start := cfs.syncs.Load()
			b.SetBytes(int64(batch * len(payload)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for j := range msgs {
					keys[j] = fmt.Sprintf("k%d-%d", i, j)
					msgs[j] = Message{Key: keys[j], Topic: "telemetry", Payload: payload}
				}
				if err := ob.Enqueue(ctx, msgs...); err != nil {
					b.Fatal(err)
				}
				// Deliver as fast as produced, so that the outbox stays
				// small and segments roll and get removed as in service.
				if ack {
					if err := ob.Ack(ctx, keys...); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.StopTimer()
			n := float64(b.N * batch)
			b.ReportMetric(n/b.Elapsed().Seconds(), "msgs/s")
			b.ReportMetric(float64(cfs.syncs.Load()-start)/n, "fsyncs/msg")
		})
	}
}

// BenchmarkLogAppend is the floor the outbox builds on: durable's
// Log.Append of the same number of 200-byte records per group commit, with
// no outbox bookkeeping. Compare its msgs/s with BenchmarkOutboxEnqueue's.
func BenchmarkLogAppend(b *testing.B) {
	for _, batch := range []int{1, 16, 256} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			l, err := durable.OpenLog(durable.OS, b.TempDir()+"/log", durable.LogOptions{})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			recs := make([][]byte, batch)
			for i := range recs {
				recs[i] = make([]byte, 200)
			}
			b.SetBytes(int64(batch * 200))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := l.Append(recs...); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkOutboxEnqueueConcurrent has 16 producers enqueueing one message
// per call at once: concurrent calls share group commits, so fsyncs per
// message fall below one without the producers batching themselves.
func BenchmarkOutboxEnqueueConcurrent(b *testing.B) {
	ctx := context.Background()
	cfs := &countingFS{FS: durable.OS}
	ob, err := OpenOutbox(ctx, OutboxConfig{FS: cfs, Dir: b.TempDir(), MaxRecords: 1 << 20, MaxBytes: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	defer ob.Close()
	payload := make([]byte, 200)
	start := cfs.syncs.Load()
	var id atomic.Int64
	b.SetParallelism(8)
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			k := fmt.Sprintf("k%d", id.Add(1))
			if err := ob.Enqueue(ctx, Message{Key: k, Topic: "telemetry", Payload: payload}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(cfs.syncs.Load()-start)/float64(b.N), "fsyncs/msg")
	b.ReportMetric(float64(b.N)/float64(ob.Stats().Commits), "msgs/commit")
}
