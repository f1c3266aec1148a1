package conformance

import (
	"bytes"
	"context"
	"io"
	"testing"
)

func BenchmarkDecodeProfile(b *testing.B) {
	data := exampleProfileBytes(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeProfile(bytes.NewReader(data), testNow); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNewStatementAttach(b *testing.B) {
	p := exampleProfile(b)
	results := RunChecks(context.Background(), liveChecker{memoryKiB: 19456})
	b.ReportAllocs()
	for b.Loop() {
		NewStatement(p).Attach(results)
	}
}

func BenchmarkStatementReports(b *testing.B) {
	s := NewStatement(exampleProfile(b))
	for _, f := range []struct {
		name  string
		write func(io.Writer) error
	}{{"json", s.WriteJSON}, {"markdown", s.WriteMarkdown}, {"html", s.WriteHTML}} {
		b.Run(f.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := f.write(io.Discard); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
