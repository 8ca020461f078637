package cdn

import (
	"errors"
	"testing"

	"github.com/cdnd/cdnd/internal/store"
)

func TestParseSources(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want []store.Source
	}{
		{"documented form", `[{"content":"1.1.1.1","type":"ipaddr","priority":"20","port":80,"weight":"15"}]`,
			[]store.Source{{Type: "ipaddr", Content: "1.1.1.1", Port: 80, Priority: "20", Weight: "15"}}},
		{"terraform: numbers, capitalised Weight", `[{"content":"o.example.com","type":"domain","priority":30,"port":443,"Weight":5}]`,
			[]store.Source{{Type: "domain", Content: "o.example.com", Port: 443, Priority: "30", Weight: "5"}}},
		{"modify style keys, defaults", `[{"Content":"o.example.com","Type":"domain"}]`,
			[]store.Source{{Type: "domain", Content: "o.example.com", Port: 80, Priority: "20", Weight: "10"}}},
		{"type guessed", `[{"content":"10.0.0.1"},{"content":"o.example.com"}]`,
			[]store.Source{{Type: "ipaddr", Content: "10.0.0.1", Port: 80, Priority: "20", Weight: "10"}, {Type: "domain", Content: "o.example.com", Port: 80, Priority: "20", Weight: "10"}}},
		{"port as string", `[{"content":"::1","type":"ipaddr","port":"8080"}]`,
			[]store.Source{{Type: "ipaddr", Content: "::1", Port: 8080, Priority: "20", Weight: "10"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseSources(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %+v", got)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("source %d: got %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestParseSourcesRefuses(t *testing.T) {
	for _, in := range []string{
		``, `{}`, `[]`, `null`, `"1.1.1.1"`, `[1]`, `[{"content":""}]`,
		`[{"content":"1.1.1.1","type":"ipaddr","port":0}]`,
		`[{"content":"1.1.1.1","type":"ipaddr","port":65536}]`,
		`[{"content":"1.1.1.1","type":"ipaddr","port":80.5}]`,
		`[{"content":"1.1.1.1","type":"ipaddr","priority":"10"}]`,
		`[{"content":"1.1.1.1","type":"ipaddr","weight":"100"}]`,
		`[{"content":"1.1.1.1","type":"ipaddr","weight":true}]`,
		`[{"content":"not an ip","type":"ipaddr"}]`,
		`[{"content":"bad host!","type":"domain"}]`,
		`[{"content":{"x":1},"type":"domain"}]`,
	} {
		if got, err := parseSources(in); err == nil {
			t.Errorf("%s: accepted as %+v", in, got)
		}
	}
	if _, err := parseSources(`[{"content":"1.1.1.1","type":"ftp"}]`); !errors.As(err, new(errSourceType)) {
		t.Errorf("unknown type: %v", err)
	}
}

func FuzzParseSources(f *testing.F) {
	f.Add(`[{"content":"1.1.1.1","type":"ipaddr","priority":"20","port":80,"weight":"15"}]`)
	f.Add(`[{"Content":"o.example.com","Type":"domain","Port":"443"}]`)
	f.Add(`[{"content":"x","port":1e400}]`)
	f.Fuzz(func(t *testing.T, in string) {
		got, err := parseSources(in)
		if err != nil {
			return
		}
		if len(got) == 0 || len(got) > maxSources {
			t.Fatalf("accepted %d sources", len(got))
		}
		for _, s := range got {
			if !sourceTypes[s.Type] || s.Port < 1 || s.Port > 65535 || (s.Priority != "20" && s.Priority != "30") || !validOrigin(s) {
				t.Fatalf("accepted invalid source %+v", s)
			}
		}
	})
}

func TestNormalizeDomain(t *testing.T) {
	for in, want := range map[string]string{
		"Example.COM":             "example.com",
		".example.com":            ".example.com",
		"a-b.c0.example":          "a-b.c0.example",
		"xn--fsqu00a.xn--0zwm56d": "xn--fsqu00a.xn--0zwm56d",
	} {
		if got, ok := normalizeDomain(in); !ok || got != want {
			t.Errorf("%q: got %q %v, want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"", ".", "com", ".com", "a..b", "-a.com", "a-.com", "a_b.com", "*.example.com", "a.com.", "例子.com", "a b.com", "\u212aelvin.example.com", "192.0.2.1", ".10.0.0.1", "10.1", "::1", "[::1]", "2001:db8::1",
		"x." + string(make([]byte, 64)) + ".com"} {
		if got, ok := normalizeDomain(in); ok {
			t.Errorf("%q accepted as %q", in, got)
		}
	}
}

func FuzzNormalizeDomain(f *testing.F) {
	for _, s := range []string{"example.com", ".example.com", "A.B", "-", "a..b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, ok := normalizeDomain(in)
		if !ok {
			return
		}
		again, ok2 := normalizeDomain(got)
		if !ok2 || again != got {
			t.Fatalf("not idempotent: %q -> %q -> %q", in, got, again)
		}
		if len(got) > 254 {
			t.Fatalf("accepted %d characters", len(got))
		}
	})
}
