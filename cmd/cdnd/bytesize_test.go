package main

import "testing"

func TestByteSizeFlag(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"1024", 1024, true}, {"512M", 512 << 20, true}, {"10G", 10 << 30, true},
		{"4KiB", 4 << 10, true}, {"2mb", 2 << 20, true}, {"1T", 1 << 40, true},
		{"", 0, false}, {"-1", 0, false}, {"1.5G", 0, false}, {"G", 0, false}, {"99999999999T", 0, false}, {"10X", 0, false},
	} {
		var b byteSize
		err := b.Set(tt.in)
		if (err == nil) != tt.ok || (tt.ok && int64(b) != tt.want) {
			t.Errorf("Set(%q) = %d, %v; want %d ok=%v", tt.in, b, err, tt.want, tt.ok)
		}
	}
}

func FuzzByteSizeFlag(f *testing.F) {
	f.Add("512M")
	f.Fuzz(func(t *testing.T, s string) {
		var b byteSize
		if b.Set(s) == nil && b < 0 {
			t.Errorf("Set(%q) = %d", s, b)
		}
	})
}
