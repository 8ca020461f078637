package e2e

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func serveArgs(dataDir, adminAddr string) []string {
	return []string{"serve", "--data-dir", dataDir, "--api-addr", "127.0.0.1:0", "--https-addr", "127.0.0.1:0",
		"--http-addr", "127.0.0.1:0", "--admin-addr", adminAddr}
}

// A second cdnd on a data directory in use exits at once with a clear
// message (it hung, deaf to SIGTERM, on embedded etcd's lock), and the first
// goes on serving.
func TestSecondProcessOnADataDirectoryExits(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	first := startProcess(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, cdndBinary(t), serveArgs(dir, "127.0.0.1:0")...).CombinedOutput()
	var exit *exec.ExitError
	if ctx.Err() != nil || !errors.As(err, &exit) || exit.ExitCode() == 0 {
		t.Fatalf("second cdnd on %s: %v (context: %v)\n%s", dir, err, ctx.Err(), out)
	}
	if want := "data directory " + dir + " is in use by another cdnd"; !strings.Contains(string(out), want) {
		t.Fatalf("second cdnd said %q, want %q", out, want)
	}
	healthz(t, first.addrs["admin"]) // the first goes on serving
}

// A start that cannot bind its ports creates nothing: no secret generated
// or printed, no store, no account.
func TestStartThatCannotBindCreatesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	dir := filepath.Join(t.TempDir(), "data")
	out, err := exec.Command(cdndBinary(t), serveArgs(dir, taken.Addr().String())...).CombinedOutput()
	if err == nil {
		t.Fatalf("cdnd started on a taken admin port:\n%s", out)
	}
	if strings.Contains(string(out), "AccessKeySecret") || strings.Contains(string(out), "Root account created") {
		t.Fatalf("a failed start printed credentials:\n%s", out)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "lock" {
			t.Errorf("a failed start left %s in the data directory", e.Name())
		}
	}
}

// SIGTERM stops cdnd while it is still starting: here an API node whose
// etcd never answers.
func TestSIGTERMDuringStartUp(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	silent, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never speaks etcd
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	cmd := exec.Command(cdndBinary(t), "api", "--data-dir", t.TempDir(), "--etcd-endpoints", "http://"+silent.Addr().String(),
		"--api-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0")
	cmd.Env = append(os.Environ(), "CDND_MASTER_KEY="+masterKey, "CDND_ADMIN_TOKEN=t")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	time.Sleep(500 * time.Millisecond) // well inside the start-up's wait for etcd
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("cdnd api ignored SIGTERM during start-up")
	}
}
