package rauc_test

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/iotbaseline/baseline/update/rauc"
)

// The testdata files are what Debian's rauc 1.8 printed here
// (`rauc status --output-format=json`, with and without --detailed).
func TestParseStatusRecorded(t *testing.T) {
	b, err := os.ReadFile("testdata/status-1.8-detailed.json")
	must(t, err)
	st, err := rauc.ParseStatus(b)
	if err != nil {
		t.Fatal(err)
	}
	if st.Booted != "A" || st.Primary != "rootfs.1" || !st.PendingReboot() || len(st.Slots) != 2 {
		t.Fatalf("%+v", st)
	}
	if s := st.Slot("rootfs.1"); s == nil || s.BootStatus != "bad" || s.Bootname != "B" || s.State != "inactive" {
		t.Fatalf("rootfs.1: %+v", s)
	}
}

func TestParseStatusRefuses(t *testing.T) {
	good, err := os.ReadFile("testdata/status-1.8.json")
	must(t, err)
	if _, err := rauc.ParseStatus(good); err != nil {
		t.Fatal(err)
	}
	edit := func(old, new string) string {
		if !bytes.Contains(good, []byte(old)) {
			t.Fatalf("fixture lacks %q", old)
		}
		return strings.Replace(string(good), old, new, 1)
	}
	many := `{"booted":"A","slots":[` + strings.Repeat(`{"x":{"state":"inactive"}},`, rauc.MaxSlots) + `{"y":{"state":"inactive"}}]}`
	for _, s := range []string{
		"",
		"[]",
		"null",
		string(good) + "{}",
		edit(`"booted":"A",`, ""),
		edit(`"booted":"A"`, `"booted":1`),
		edit(`"slots":[`, `"slotz":[`),
		edit(`"state":"booted"`, `"state":"running"`),
		edit(`"state":"inactive"`, `"state":"booted"`),
		edit(`"boot_status":"good"}}`, `"boot_status":"maybe"}}`),
		edit(`"boot_primary":"rootfs.0"`, `"boot_primary":"rootfs.9"`),
		edit(`"rootfs.1":`, `"rootfs.0":`),
		edit(`{"rootfs.1":{`, `{"rootfs.1":{},"rootfs.7":{`),
		edit(`{"rootfs.1":{`, `{"rootfs.1":{},"rootfs.1":{`),
		edit(`"class":"rootfs","device":"/tmp/rx/slotB.img"`, `"class":"`+strings.Repeat("r", 5000)+`","device":"/tmp/rx/slotB.img"`),
		many,
		`{"booted":"A","slots":[{"x":{"state":"booted"}}]}` + strings.Repeat(" ", rauc.MaxStatusBytes),
	} {
		if _, err := rauc.ParseStatus([]byte(s)); !errors.Is(err, rauc.ErrStatus) {
			t.Errorf("accepted (or wrong error %v): %.120q", err, s)
		}
	}
}
