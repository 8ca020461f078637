package edge

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cdnd/cdnd/internal/store"
)

func testChallenges(t testing.TB) *challenges {
	c := newChallenges()
	v, err := json.Marshal(store.Challenge{Token: "tok-123", KeyAuth: "tok-123.thumb"})
	if err != nil {
		t.Fatal(err)
	}
	c.apply(true, []store.RawKV{{Key: store.ChallengeKey("www.example.com"), Value: v}})
	return c
}

func TestHTTP01AnswersOnlyThePublishedTokenForItsHost(t *testing.T) {
	c := testChallenges(t)
	for _, tc := range []struct {
		name, host, path string
		want             int
	}{
		{"published", "www.example.com", "/.well-known/acme-challenge/tok-123", 200},
		{"upper-case host, trailing dot", "WWW.Example.COM.", "/.well-known/acme-challenge/tok-123", 200},
		{"other token", "www.example.com", "/.well-known/acme-challenge/tok-124", 404},
		{"token prefix", "www.example.com", "/.well-known/acme-challenge/tok-12", 404},
		{"token with suffix", "www.example.com", "/.well-known/acme-challenge/tok-123/x", 404},
		{"empty token", "www.example.com", "/.well-known/acme-challenge/", 404},
		{"other host", "api.example.com", "/.well-known/acme-challenge/tok-123", 404},
		{"no host", "", "/.well-known/acme-challenge/tok-123", 404},
		{"wildcard form", ".example.com", "/.well-known/acme-challenge/tok-123", 404},
		{"non-ASCII host", "www.exämple.com", "/.well-known/acme-challenge/tok-123", 404},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			c.serveHTTP01(w, tc.host, tc.path)
			if w.Code != tc.want {
				t.Fatalf("%d, want %d", w.Code, tc.want)
			}
			if tc.want == 200 && w.Body.String() != "tok-123.thumb" {
				t.Fatalf("body %q, want the key authorization", w.Body)
			}
		})
	}
	// A withdrawn challenge is answered no more.
	c.apply(false, []store.RawKV{{Key: store.ChallengeKey("www.example.com")}})
	w := httptest.NewRecorder()
	c.serveHTTP01(w, "www.example.com", "/.well-known/acme-challenge/tok-123")
	if w.Code != http.StatusNotFound {
		t.Fatalf("withdrawn challenge: %d", w.Code)
	}
}

func TestTLSALPN01ConfigOnlyForPublishedNames(t *testing.T) {
	c := testChallenges(t)
	for sni, want := range map[string]bool{"www.example.com": true, "api.example.com": false, "": false, "..": false} {
		cfg := c.tlsALPN01Config(&tls.ClientHelloInfo{ServerName: sni, SupportedProtos: []string{acmeTLSProto}})
		cert, err := cfg.GetCertificate(nil)
		if err != nil || (cert != nil) != want {
			t.Errorf("%q: certificate %v (err %v), want one: %v", sni, cert != nil, err, want)
		}
		if len(cfg.NextProtos) != 1 || cfg.NextProtos[0] != acmeTLSProto {
			t.Errorf("%q: ALPN %v, want only acme-tls/1", sni, cfg.NextProtos)
		}
	}
}

// FuzzHTTP01 feeds the challenge path arbitrary hosts and paths: nothing
// but the published token for its host is ever answered.
func FuzzHTTP01(f *testing.F) {
	for _, s := range [][2]string{
		{"www.example.com", "/.well-known/acme-challenge/tok-123"},
		{"www.example.com.", "/.well-known/acme-challenge/tok-123"},
		{"WWW.EXAMPLE.COM", "/.well-known/acme-challenge/../tok-123"},
		{"\x00", "/.well-known/acme-challenge/\xff"},
	} {
		f.Add(s[0], s[1])
	}
	c := testChallenges(f)
	f.Fuzz(func(t *testing.T, host, path string) {
		w := httptest.NewRecorder()
		c.serveHTTP01(w, host, path)
		name, ok := normalizeName(host)
		answered := ok && name == "www.example.com" && path == "/.well-known/acme-challenge/tok-123"
		if (w.Code == 200) != answered {
			t.Fatalf("host %q path %q: %d", host, path, w.Code)
		}
	})
}

// The CA may ask as soon as the ordering node's write commits, before this
// edge's watch has delivered it: the edge waits for the watch instead of
// answering 404 (1,000 orders at once lost 3 validations that way).
func TestHTTP01WaitsForAChallengePublishedAsTheCAAsks(t *testing.T) {
	st := testStoreFor(t)
	env := startEdge(t, st)
	answered := make(chan *http.Response, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, "http://"+env.httpAddr+"/.well-known/acme-challenge/tok-late", nil)
		req.Host = "late.example.com"
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Error(err)
			resp = nil
		}
		answered <- resp
	}()
	time.Sleep(100 * time.Millisecond) // the request is waiting at the edge
	if err := st.PutChallenge(context.Background(), "late.example.com", store.Challenge{Token: "tok-late", KeyAuth: "tok-late.thumb"}); err != nil {
		t.Fatal(err)
	}
	resp := <-answered
	if resp == nil {
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "tok-late.thumb" {
		t.Fatalf("%d %q, want the key authorization published while the request waited", resp.StatusCode, body)
	}
	// A token never published is still 404, after the bounded wait.
	start := time.Now()
	req, _ := http.NewRequest(http.MethodGet, "http://"+env.httpAddr+"/.well-known/acme-challenge/never", nil)
	req.Host = "late.example.com"
	resp2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusNotFound || time.Since(start) > challengeWait+2*time.Second {
		t.Fatalf("unknown token: %d after %v", resp2.StatusCode, time.Since(start))
	}
}

func TestACMETLSOnlyWhenItIsTheOnlyProtocol(t *testing.T) {
	for protos, want := range map[string]bool{"acme-tls/1": true, "h2,acme-tls/1": false, "acme-tls/1,http/1.1": false, "h2": false, "": false} {
		var list []string
		if protos != "" {
			list = strings.Split(protos, ",")
		}
		if got := offersACMETLS(&tls.ClientHelloInfo{SupportedProtos: list}); got != want {
			t.Errorf("%q: %v, want %v", protos, got, want)
		}
	}
}

// Anyone may ask for any token of any host, so the requests that wait for
// an answer are bounded in number: past the bound, one is answered at once
// (404) rather than held, even if the answer arrives a moment later.
func TestChallengeWaitsAreBounded(t *testing.T) {
	st := testStoreFor(t)
	env := startEdge(t, st)
	c := env.edge.challenges
	name := fmt.Sprintf("full-%d.example.com", time.Now().UnixNano()) // new on every -count run
	for range maxChallengeWaiters {
		c.waiting <- struct{}{} // every slot taken, as by that many waiting requests
	}
	go func() {
		time.Sleep(time.Second) // long after await has looked, even on a slow machine
		_ = st.PutChallenge(context.Background(), name, store.Challenge{Token: "tok", KeyAuth: "tok.thumb"})
	}()
	if ch := c.await(name, func(*challengeEntry) bool { return true }); ch != nil {
		t.Fatal("a request waited with every waiting slot taken")
	}
	for range maxChallengeWaiters {
		<-c.waiting
	}
	// With a slot free, the answer published meanwhile is found.
	deadline := time.Now().Add(5 * time.Second)
	for c.await(name, func(*challengeEntry) bool { return true }) == nil {
		if time.Now().After(deadline) {
			t.Fatal("the published answer never came")
		}
	}
}
