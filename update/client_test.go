package update

import (
	"bytes"
	"context"
	"testing"
)

func TestDownloadHappyPath(t *testing.T) {
	for _, consistent := range []bool{false, true} {
		fx := newFixture(t, consistent)
		img := randomImage(t, 5*MinChunkSize+123)
		fx.addRelease("fw/plug-2.0.0.bin", img, nil)
		c := fx.client(nil)
		ctx := context.Background()
		rel, err := c.Check(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if rel == nil || rel.Path != "fw/plug-2.0.0.bin" {
			t.Fatalf("Check = %+v", rel)
		}
		slot := &recSlot{}
		v, err := c.Download(ctx, rel, slot)
		if err != nil {
			t.Fatal(err)
		}
		if !v.Valid() || !bytes.Equal(slot.data, img) {
			t.Fatal("slot does not hold the image")
		}
		// Refresh again and again on one client.
		for range 3 {
			if err := c.Refresh(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := fx.fs.Stat("state/download.log"); err == nil {
			t.Fatal("journal left behind after success")
		}
	}
}
