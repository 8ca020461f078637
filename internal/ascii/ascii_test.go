package ascii

import "testing"

func TestLower(t *testing.T) {
	for in, want := range map[string]string{"": "", "abc": "abc", "WwW.Example.COM": "www.example.com", "\u212Aelvin": "\u212Aelvin", "cdn:Set*": "cdn:set*"} {
		if got := Lower(in); got != want {
			t.Errorf("Lower(%q) = %q, want %q", in, got, want)
		}
	}
	s := "already.lower"
	if n := testing.AllocsPerRun(10, func() { _ = Lower(s) }); n != 0 {
		t.Errorf("%v allocations for a lower-case name", n)
	}
}
