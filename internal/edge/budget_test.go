package edge

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cdnd/cdnd/internal/store"
)

// blackHole returns a loopback address whose connections are never
// answered: a socket listening with the smallest accept queue, filled and
// never accepted from, so that the kernel drops further SYNs and a dial
// waits for its timeout, as with an origin behind a firewall that drops.
func blackHole(t *testing.T) store.Source {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	port := sa.(*syscall.SockaddrInet4).Port
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	// Fill the queue: dials succeed until it is full; the first that
	// times out shows it is.
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			break
		}
		t.Cleanup(func() { c.Close() })
		if i > 64 {
			t.Fatal("the accept queue never filled")
		}
	}
	return store.Source{Type: "ipaddr", Content: "127.0.0.1", Port: port, Priority: "20"}
}

// TestOriginBudget: failover shares one connect budget. With the first
// origin black-holed and the budget shorter than one dial timeout, the
// answer is 504 and the next origin, though up, is never tried (it used
// to be, after the whole dial timeout, and twenty such origins cost their
// timeouts in sequence).
func TestOriginBudget(t *testing.T) {
	st := testStoreFor(t)
	var reached atomic.Int64
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		reached.Add(1)
		_, _ = io.WriteString(w, "up")
	}))
	t.Cleanup(up.Close)
	host, port, _ := net.SplitHostPort(up.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	hole := blackHole(t)
	commit(t, st.Txn().Put(store.DomainKey("budget.example.com"), domain("budget.example.com", "",
		hole, store.Source{Type: "ipaddr", Content: host, Port: p, Priority: "30"})))
	// A refused origin costs nothing of the budget worth speaking of:
	// failover past it still works.
	refused := freeSource(t)
	commit(t, st.Txn().Put(store.DomainKey("refused.example.com"), domain("refused.example.com", "",
		refused, store.Source{Type: "ipaddr", Content: host, Port: p, Priority: "30"})))
	en := startEdge(t, st, withEdge(func(e *Edge) { e.failover.budget = 300 * time.Millisecond }))

	resp, body := en.do("GET", "budget.example.com", "/", "", nil)
	if resp.StatusCode != http.StatusGatewayTimeout || body != "cdnd: origin timed out\n" {
		t.Fatalf("black-holed origin: %d %q, want 504", resp.StatusCode, body)
	}
	if n := reached.Load(); n != 0 {
		t.Fatalf("the origin after the budget ran out was tried (%d requests)", n)
	}
	resp, body = en.do("POST", "refused.example.com", "/", "payload", nil)
	if resp.StatusCode != 200 || body != "up" {
		t.Fatalf("refused origin: %d %q, want the next one", resp.StatusCode, body)
	}
}

// freeSource is a loopback origin that refuses connections.
func freeSource(t *testing.T) store.Source {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return store.Source{Type: "ipaddr", Content: "127.0.0.1", Port: port, Priority: "20"}
}

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
