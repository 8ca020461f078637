package objectpath

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		typ               Type
		in                string
		host, path, query string
		err               error
	}{
		{File, "http://Example.COM/image/1.png", "example.com", "/image/1.png", "", nil},
		{File, "https://example.com/a%20b.png?x=1&y", "example.com", "/a%20b.png", "x=1&y", nil},
		{File, "example.com/a.png", "example.com", "/a.png", "", nil},
		{File, "http://example.com", "example.com", "/", "", nil},
		{File, "http://example.com/a#frag", "example.com", "/a", "", nil},
		{File, "0//", "0", "//", "", nil},
		{File, "http://example.com//evil.example/x", "example.com", "//evil.example/x", "", nil},
		{Preload, "http://example.com/a?v=2", "example.com", "/a", "v=2", nil},
		{Directory, "http://example.com/dir/", "example.com", "/dir/", "", nil},
		{Directory, "http://example.com/dir", "example.com", "/dir/", "", nil},
		{IgnoreParams, "http://example.com/a.js?v=1", "example.com", "/a.js", "", nil},
		{Regex, `http://example.com/[0-9][a-z].*\.jpg`, "example.com", `/[0-9][a-z].*\.jpg`, "", nil},

		{File, "", "", "", "", ErrMalformed},
		{File, "   ", "", "", "", ErrMalformed},
		{File, "ftp://example.com/a", "", "", "", ErrMalformed},
		{File, "http://", "", "", "", ErrMalformed},
		{File, "http:///a", "", "", "", ErrMalformed},
		{File, "http://exa mple.com/a", "", "", "", ErrMalformed},
		{File, "http://example.com:8080/a", "", "", "", ErrMalformed},
		{File, "http://user@example.com/a", "", "", "", ErrMalformed},
		{File, "http://example..com/a", "", "", "", ErrMalformed},
		{File, "http://example.com/é", "", "", "", ErrMalformed},
		{File, "http://example.com/a\x00", "", "", "", ErrMalformed},
		{File, "http://example.com/" + strings.Repeat("a", MaxLen), "", "", "", ErrMalformed},
		{File, "http://*.example.com/a", "", "", "", ErrWildcard},
		{Directory, "http://example.com/dir/?x=1", "", "", "", ErrMalformed},
		{Regex, "http://example.com/(", "", "", "", ErrMalformed},
		{Regex, "http://example.com/" + strings.Repeat("(a|b)", 500), "", "", "", ErrMalformed},
		{Regex, "http://example.com/a{1000}{1000}", "", "", "", ErrMalformed},
		{Type("Block"), "http://example.com/a", "", "", "", ErrMalformed},
	} {
		o, err := Parse(tc.typ, tc.in)
		if !errors.Is(err, tc.err) {
			t.Errorf("Parse(%s, %.60q) error %v, want %v", tc.typ, tc.in, err, tc.err)
			continue
		}
		if err == nil && (o.Host != tc.host || o.Path != tc.path || o.Query != tc.query) {
			t.Errorf("Parse(%s, %q) = %q %q %q, want %q %q %q", tc.typ, tc.in, o.Host, o.Path, o.Query, tc.host, tc.path, tc.query)
		}
	}
}

func TestRegexMatchesWholePath(t *testing.T) {
	o, err := Parse(Regex, `http://example.com/img/[0-9]+\.jpg`)
	if err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]bool{"/img/12.jpg": true, "/img/12.jpgx": false, "/x/img/1.jpg": false, "/img/a.jpg": false} {
		if got := o.Regex.MatchString(path); got != want {
			t.Errorf("%s: %v, want %v", path, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"http://example.com/a.png?x=1", "example.com/dir/", `https://example.com/[0-9]+.*\.jpg`, "http://*.example.com/", "http://example.com/%zz", "http://[::1]/a", "http://example.com/(a|b)*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, typ := range []Type{File, Directory, Regex, IgnoreParams, Preload} {
			o, err := Parse(typ, s)
			if err != nil {
				continue
			}
			if !validHost(o.Host) || !strings.HasPrefix(o.Path, "/") {
				t.Fatalf("Parse(%s, %q) = %+v", typ, s, o)
			}
			if (typ == Regex) != (o.Regex != nil) {
				t.Fatalf("Parse(%s, %q): regex %v", typ, s, o.Regex)
			}
			if typ == Directory && !strings.HasSuffix(o.Path, "/") {
				t.Fatalf("directory %q without a trailing slash", o.Path)
			}
		}
	})
}
