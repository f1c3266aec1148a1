package secretstest

import "testing"

func TestLeaks(t *testing.T) {
	v := []byte("0123456789abcdefXYZ")
	for _, c := range []struct {
		content string
		want    bool
	}{
		{"....0123456789abcdefXYZ....", true},
		{"....89abcdef....", true},  // a middle window
		{"....cdefXYZ!....", false}, // 7 bytes only
		{"bcdefXYZ", true},          // the last window
		{"", false},
	} {
		if got := leaks([]byte(c.content), v); got != c.want {
			t.Errorf("leaks(%q) = %t, want %t", c.content, got, c.want)
		}
	}
	if !leaks([]byte("xxpin1xx"), []byte("pin1")) || leaks([]byte("anything"), nil) {
		t.Error("short values")
	}
}
