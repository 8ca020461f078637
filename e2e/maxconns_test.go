package e2e

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// patience bounds how long a test waits for the binary to do what it
// should do at once; it is not a speed measurement.
const patience = 30 * time.Second

func healthz(t *testing.T, adminAddr string) {
	t.Helper()
	resp, err := http.Get("http://" + adminAddr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %s", resp.Status)
	}
}

// TestProcessMaxConns: a listener at --max-conns resets further
// connections while the process lives on and its other listeners answer;
// once connections close it serves again.
func TestProcessMaxConns(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	const limit = 20
	p := startProcessArgs(t, t.TempDir(), []string{"--max-conns", strconv.Itoa(limit)})
	waitReady(t, p.addrs["admin"])
	edge := p.addrs["http"]
	// Keep-alive connections that each served a request: idle, they are
	// kept for the idle timeout (two minutes), longer than this test.
	var held []net.Conn
	for range limit {
		c := dialServed(t, edge)
		held = append(held, c)
	}
	if _, err := request(t, edge); err == nil {
		t.Fatal("a connection over --max-conns was served")
	}
	healthz(t, p.addrs["admin"])
	if resp, err := http.Get("http://" + p.addrs["api"] + "/"); err != nil {
		t.Fatalf("the API listener with the edge full: %v", err)
	} else {
		resp.Body.Close()
	}
	metrics := scrape(t, p.addrs["admin"])
	for _, want := range []string{
		`cdnd_listener_open_connections{listener="http"} 20`,
		`cdnd_listener_max_connections{listener="http"} 20`,
		`cdnd_listener_refused_connections_total{listener="http"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if err := p.cmd.Process.Signal(syscall.Signal(0)); err != nil {
		t.Fatalf("the process died: %v", err)
	}

	for _, c := range held {
		c.Close()
	}
	for deadline := time.Now().Add(patience); ; time.Sleep(20 * time.Millisecond) {
		if !strings.Contains(scrape(t, p.addrs["admin"]), `cdnd_listener_open_connections{listener="http"} 20`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("closed connections were not given back")
		}
	}
	c := dialServed(t, edge)
	c.Close()
}

// request sends one HTTP/1.1 request on a new connection and returns the
// connection once the answer's status line arrived.
func request(t *testing.T, addr string) (net.Conn, error) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		// On loopback the reset of a refused connection can beat the
		// dial's own completion: a refusal too.
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(patience))
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: nobody.example\r\n\r\n"); err != nil {
		c.Close()
		return nil, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	_ = c.SetDeadline(time.Time{})
	return c, nil
}

func dialServed(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := request(t, addr)
	if err != nil {
		t.Fatalf("a connection under --max-conns: %v", err)
	}
	return c
}

func scrape(t *testing.T, adminAddr string) string {
	t.Helper()
	resp, err := http.Get("http://" + adminAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func waitReady(t *testing.T, adminAddr string) {
	t.Helper()
	for deadline := time.Now().Add(patience); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get("http://" + adminAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("not ready")
		}
	}
}
