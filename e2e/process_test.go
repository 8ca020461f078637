package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/cdn"

	"github.com/cdnd/cdnd/internal/certs/certstest"
	"github.com/cdnd/cdnd/internal/fleettest"
)

var (
	buildOnce sync.Once
	binary    string
	buildErr  error
)

// cdndBinary builds cmd/cdnd once per test run.
func cdndBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "cdnd-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binary, buildErr = fleettest.BuildBinary(dir)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binary
}

// process is a `cdnd serve` running as its own process.
type process struct {
	cmd    *exec.Cmd
	stdout strings.Builder
	addrs  map[string]string

	mu         sync.Mutex
	stderr     []string      // the log, a line each
	stderrDone chan struct{} // closed when the log ends (the process exited)
}

// logLines returns what the process has logged so far.
func (p *process) logLines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.stderr)
}

var servingLine = regexp.MustCompile(`msg="cdnd serving" role=\S+ api=(\S+) https=(\S+) http=(\S+) admin=(\S+)`)

// startProcess runs cdnd serve on ephemeral loopback ports and waits for
// it to say where it listens.
func startProcess(t *testing.T, dataDir string, env ...string) *process {
	t.Helper()
	return startProcessArgs(t, dataDir, nil, env...)
}

// startProcessArgs is startProcess with more flags.
func startProcessArgs(t *testing.T, dataDir string, args []string, env ...string) *process {
	t.Helper()
	p := &process{stderrDone: make(chan struct{})}
	p.cmd = exec.Command(cdndBinary(t), append([]string{"serve", "--data-dir", dataDir,
		"--api-addr", "127.0.0.1:0", "--https-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0",
		"--allow-origin-cidrs", "127.0.0.0/8"}, args...)...) // the tests' origins listen on loopback
	p.cmd.Env = append(os.Environ(), env...)
	stdout, _ := p.cmd.StdoutPipe()
	stderr, _ := p.cmd.StderrPipe()
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.cmd.Process.Kill(); _ = p.cmd.Wait() })
	outDone := make(chan struct{})
	go func() {
		b, _ := io.ReadAll(stdout)
		p.stdout.Write(b)
		close(outDone)
	}()
	found := make(chan map[string]string, 1)
	go func() {
		defer close(p.stderrDone)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.stderr = append(p.stderr, sc.Text())
			p.mu.Unlock()
			if m := servingLine.FindStringSubmatch(sc.Text()); m != nil {
				found <- map[string]string{"api": m[1], "https": m[2], "http": m[3], "admin": m[4]}
			}
		}
	}()
	select {
	case p.addrs = <-found:
	case <-time.After(60 * time.Second):
		t.Fatal("cdnd did not start within 60s")
	}
	_ = outDone
	return p
}

func (p *process) client(t *testing.T, id, secret string) *cdn.Client {
	c := sdkClient(t, id, secret)
	c.Domain = p.addrs["api"]
	return c
}

var credLine = regexp.MustCompile(`(?m)^(AccountId|AccessKeyId|AccessKeySecret)=(\S+)$`)

// TestProcessRestartAndKill runs the real binary twice side by side,
// checks first-start secrets, kills one with SIGKILL right after an
// acknowledged write and restarts it: the write is there and served.
func TestProcessRestartAndKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dirA, dirB := t.TempDir(), t.TempDir()
	a := startProcess(t, dirA)
	b := startProcess(t, dirB, "CDND_ROOT_ACCESS_KEY_ID=LTAIsideBySide000000000", "CDND_ROOT_ACCESS_KEY_SECRET=side-by-side-secret")

	// First start without credentials: printed once, kept in a 0600 file.
	var creds map[string]string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if data, err := os.ReadFile(filepath.Join(dirA, "root-credentials")); err == nil {
			creds = map[string]string{}
			for _, m := range credLine.FindAllStringSubmatch(string(data), -1) {
				creds[m[1]] = m[2]
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no root-credentials file")
		}
	}
	for _, f := range []string{"root-credentials", "admin.token", "master.key"} {
		st, err := os.Stat(filepath.Join(dirA, f))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %v, mode %v", f, err, st.Mode())
		}
	}
	if _, err := os.Stat(filepath.Join(dirB, "root-credentials")); !os.IsNotExist(err) {
		t.Fatalf("root-credentials written although the environment gave the key: %v", err)
	}

	// The operator CLI, reading the generated token from the data directory.
	out, err := exec.Command(cdndBinary(t), "admin", "account", "create", "--admin-addr", a.addrs["admin"], "--data-dir", dirA).CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"AccessKeySecret"`) {
		t.Fatalf("cdnd admin account create: %v %s", err, out)
	}
	out, err = exec.Command(cdndBinary(t), "admin", "domain", "set-mode", "nobody.example", "safe", "--admin-addr", a.addrs["admin"], "--data-dir", dirA).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "404") {
		t.Fatalf("set-mode of an unknown domain: %v %s", err, out)
	}

	ca := a.client(t, creds["AccessKeyId"], creds["AccessKeySecret"])
	name := uniqueDomain("process.example")
	add := cdn.CreateAddCdnDomainRequest()
	add.DomainName, add.CdnType, add.Sources = name, "web", testSources
	if _, err := ca.AddCdnDomain(add); err != nil {
		t.Fatal(err)
	}
	// The other instance is independent: it does not know the domain.
	cb := b.client(t, "LTAIsideBySide000000000", "side-by-side-secret")
	detail := cdn.CreateDescribeCdnDomainDetailRequest()
	detail.DomainName = name
	_, err = cb.DescribeCdnDomainDetail(detail)
	wantAPIError(t, err, "InvalidDomain.NotFound", 404)

	chain, key := certstest.Valid(t, name)
	set := cdn.CreateSetDomainServerCertificateRequest()
	set.DomainName, set.ServerCertificateStatus, set.CertName = name, "on", "kill9"
	set.ServerCertificate, set.PrivateKey = string(chain), string(key)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		_, err = ca.SetDomainServerCertificate(set)
		if err == nil || time.Now().After(deadline) {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	// Acknowledged: now kill -9.
	_ = a.cmd.Process.Signal(syscall.SIGKILL)
	_ = a.cmd.Wait()
	out, err = exec.Command(cdndBinary(t), "admin", "domain", "set-mode", name, "protected", "--admin-addr", a.addrs["admin"], "--data-dir", dirA).CombinedOutput()
	if err == nil {
		t.Fatalf("the CLI reached a killed server: %s", out)
	}

	a2 := startProcess(t, dirA)
	if strings.Contains(a2.stdout.String(), "AccessKeySecret") {
		t.Fatal("credentials printed again on a later start")
	}
	ca2 := a2.client(t, creds["AccessKeyId"], creds["AccessKeySecret"])
	info := cdn.CreateDescribeDomainCertificateInfoRequest()
	info.DomainName = name
	resp, err := ca2.DescribeDomainCertificateInfo(info)
	if err != nil {
		t.Fatal(err)
	}
	if ci := resp.CertInfos.CertInfo[0]; ci.CertName != "kill9" || ci.ServerCertificateStatus != "on" {
		t.Fatalf("after kill -9: %+v", ci)
	}
	out, err = exec.Command(cdndBinary(t), "admin", "domain", "set-mode", name, "protected", "--admin-addr", a2.addrs["admin"], "--data-dir", dirA).CombinedOutput()
	if err != nil || !strings.Contains(string(out), `"protected"`) {
		t.Fatalf("cdnd admin domain set-mode: %v %s", err, out)
	}
	again := cdn.CreateSetDomainServerCertificateRequest() // a request remembers the endpoint it was sent to
	again.DomainName, again.ServerCertificateStatus, again.CertName = name, "on", "after-restart"
	again.ServerCertificate, again.PrivateKey = string(chain), string(key)
	_, err = ca2.SetDomainServerCertificate(again)
	wantAPIError(t, err, "DomainInProtectedMode", 403)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		got, err := handshakeAt(a2.addrs["https"], name)
		if err == nil && got == pemFingerprint(t, chain) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("restarted edge does not serve the certificate: %v", err)
		}
	}

	// SIGTERM: a clean, prompt exit.
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- b.cmd.Wait() }()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("no exit within 20s of SIGTERM")
	}
}

// TestFreshStartLogsNoWarnings: a first start on a new data directory, a
// few seconds of serving and a clean stop log nothing at WARN or ERROR but
// the one documented notice that the master key was generated into the
// data directory (none at all when CDND_MASTER_KEY gives it).
func TestFreshStartLogsNoWarnings(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	for _, tc := range []struct {
		name string
		env  []string
		want []string // the WARN and ERROR messages expected
	}{
		{"generated master key", nil, []string{"generated a master key in the data directory"}},
		{"master key given", []string{"CDND_MASTER_KEY=" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startProcess(t, t.TempDir(), tc.env...)
			time.Sleep(2 * time.Second) // past the edge's first report and the store's first election
			if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			<-p.stderrDone // every line of the stop read before Wait closes the pipe
			if err := p.cmd.Wait(); err != nil {
				t.Fatalf("stop: %v", err)
			}
			var got []string
			for _, line := range p.logLines() {
				if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
					got = append(got, line)
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("WARN/ERROR lines:\n%s\nwant %d: %q", strings.Join(got, "\n"), len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(got[i], w) {
					t.Errorf("line %q, want %q", got[i], w)
				}
			}
		})
	}
}
