package e2e

import (
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
