package server

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/cdnd/cdnd/internal/originpolicy"
)

// A tenant's web server can redirect within its own host, never elsewhere:
// the redirect to another host is answered as it is, not followed.
func TestOriginClientRedirects(t *testing.T) {
	var elsewhereHit bool
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { elsewhereHit = true }))
	defer elsewhere.Close()
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/same":
			http.Redirect(w, r, "/final", http.StatusFound)
		case "/final":
			_, _ = io.WriteString(w, "final")
		case "/away":
			w.Header().Set("Location", elsewhere.URL+"/x")
			w.WriteHeader(http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		}
	}))
	defer web.Close()
	c := newOriginClient(originpolicy.New([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}), &net.Resolver{PreferGo: true})
	for _, tc := range []struct {
		path   string
		status int
		body   string
		fails  bool
	}{
		{path: "/same", status: http.StatusOK, body: "final"},
		{path: "/away", status: http.StatusFound},
		{path: "/loop", fails: true},
	} {
		resp, err := c.Get(web.URL + tc.path)
		if tc.fails {
			if err == nil || !strings.Contains(err.Error(), errTooManyRedirects.Error()) {
				t.Errorf("%s: %v, want %v", tc.path, err, errTooManyRedirects)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || string(body) != tc.body {
			t.Errorf("%s: %d %q, want %d %q", tc.path, resp.StatusCode, body, tc.status, tc.body)
		}
	}
	if elsewhereHit {
		t.Error("the client followed a redirect to another host")
	}
}
