package edge

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/cdnd/cdnd/internal/store"
)

// TestBodyIdle: a visitor who stops sending its body in the middle gets
// 408 once the idle time has passed, instead of holding its connection
// and the origin's.
func TestBodyIdle(t *testing.T) {
	st := testStoreFor(t)
	origin := newOrigin(t, "origin")
	commit(t, st.Txn().Put(store.DomainKey("slowbody.example.com"), domain("slowbody.example.com", "", origin.source("20"))))
	en := startEdge(t, st, withEdge(func(e *Edge) { e.bodyIdle = 200 * time.Millisecond }))
	c, err := net.Dial("tcp", en.httpAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A safety net only, far beyond the idle time.
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := io.WriteString(c, "POST / HTTP/1.1\r\nHost: slowbody.example.com\r\nContent-Length: 100\r\n\r\nhalf"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to a stalled body: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout {
		t.Fatalf("stalled body: %s, want 408", resp.Status)
	}
}
