package e2e

import (
	"bufio"
	"context"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// patience bounds how long a test waits for the binary to do what it
// should do at once; it is not a speed measurement.
const patience = 30 * time.Second

// runBinary runs cdnd with args until it exits or patience runs out, and
// returns its output and exit error.
func runBinary(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	cmd := exec.CommandContext(ctx, cdndBinary(t), args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("cdnd %s did not exit within %v: %s", strings.Join(args, " "), patience, out)
	}
	return string(out), err
}

// TestProcessDataDirInUse: a second serve on a data directory in use exits
// non-zero with the reason (it used to wait forever on embedded etcd's
// lock, deaf to SIGTERM), and the first one goes on serving.
func TestProcessDataDirInUse(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	first := startProcess(t, dir)
	out, err := runBinary(t, nil, "serve", "--data-dir", dir,
		"--api-addr", "127.0.0.1:0", "--https-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0")
	if err == nil || !strings.Contains(out, "data directory "+dir+" is in use by another cdnd") {
		t.Fatalf("second serve: %v %s", err, out)
	}
	healthz(t, first.addrs["admin"])
}

// TestProcessFailedBindCreatesNothing: a start that cannot bind one of its
// ports creates no secret, no account and no store, and prints no secret.
func TestProcessFailedBindCreatesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	dir := filepath.Join(t.TempDir(), "data")
	out, err := runBinary(t, nil, "serve", "--data-dir", dir,
		"--api-addr", "127.0.0.1:0", "--https-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--admin-addr", taken.Addr().String())
	if err == nil || !strings.Contains(out, "listen admin on "+taken.Addr().String()) {
		t.Fatalf("serve with its admin port taken: %v %s", err, out)
	}
	if strings.Contains(out, "AccessKeySecret") {
		t.Fatalf("a failed start printed a secret: %s", out)
	}
	for _, f := range []string{"root-credentials", "master.key", "admin.token", "etcd"} {
		if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
			t.Errorf("a failed start left %s: %v", f, err)
		}
	}
	// And the directory is free again: the same start succeeds once the
	// port is.
	taken.Close()
	startProcess(t, dir)
}

// healthz checks that an operator API answers.
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
		t.Fatal(err)
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

// TestProcessSignalDuringStart: SIGTERM while start-up waits on an etcd
// cluster that does not answer ends the process.
func TestProcessSignalDuringStart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	// A port that takes connections into its queue and never answers.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	admin := freePort(t)
	cmd := exec.Command(cdndBinary(t), "api", "--data-dir", t.TempDir(), "--etcd-endpoints", "http://"+silent.Addr().String(),
		"--api-addr", "127.0.0.1:0", "--admin-addr", admin)
	cmd.Env = append(os.Environ(), "CDND_MASTER_KEY="+base64.StdEncoding.EncodeToString(make([]byte, 32)))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	// Bound listeners come first; the start then waits on the store.
	for deadline := time.Now().Add(patience); ; time.Sleep(10 * time.Millisecond) {
		if c, err := net.Dial("tcp", admin); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never listened: %s", out.String())
		}
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case <-exited:
	case <-time.After(patience):
		t.Fatalf("SIGTERM during start-up did not stop cdnd: %s", out.String())
	}
	if !strings.Contains(out.String(), "cdnd: interrupted during start-up") {
		t.Fatalf("cdnd did not stop by itself: %v %s", cmd.ProcessState, out.String())
	}
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
