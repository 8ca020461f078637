package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The clients_*_test.go files drive cdnd with real third-party clients that
// run outside this Go module: npm packages (pinned in clients/package.json,
// installed by `npm ci --prefix e2e/clients`), Debian's aliyungo sources and
// an acme.sh-style shell step. .ci/run installs them.

// clientsDir holds the client scripts, relative to this package.
const clientsDir = "clients"

const clientsSetup = "run the client setup steps of .ci/run (npm ci --prefix e2e/clients; apt-get install golang-github-denverdino-aliyungo-dev)"

// requireClient skips the test when a client is not installed, so a plain
// `go test ./...` works without the setup; under CI=true a missing client
// is a failure, so CI can never pass by skipping.
func requireClient(t *testing.T, name string, missing error) {
	t.Helper()
	if missing == nil {
		return
	}
	msg := fmt.Sprintf("%s is not installed (%v): %s", name, missing, clientsSetup)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// nodeClientsMissing says why the npm clients cannot run: no node, or a
// package of clients/package.json absent or at another version than pinned.
func nodeClientsMissing() error {
	if _, err := exec.LookPath("node"); err != nil {
		return err
	}
	var manifest struct{ Dependencies map[string]string }
	if err := readJSONFile(filepath.Join(clientsDir, "package.json"), &manifest); err != nil {
		return err
	}
	for name, want := range manifest.Dependencies {
		var installed struct{ Version string }
		if err := readJSONFile(filepath.Join(clientsDir, "node_modules", name, "package.json"), &installed); err != nil {
			return err
		}
		if installed.Version != want {
			return fmt.Errorf("%s is %s, package.json pins %s", name, installed.Version, want)
		}
	}
	return nil
}

// toolsMissing says which of the named programs is not on PATH.
func toolsMissing(names ...string) error {
	var errs []error
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func readJSONFile(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// writeTemp writes data to a fresh file in dir and returns its path.
func writeTemp(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// runClient runs a client program with extra environment variables, checks
// that it exits 0 and decodes the one JSON object it prints into out.
func runClient(t *testing.T, env map[string]string, out any, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	t.Logf("%s %v: %v", name, args, time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("%s %v: %v\nstderr: %s\nstdout: %s", name, args, err, stderr.Bytes(), stdout.Bytes())
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		t.Fatalf("%s %v: output is not JSON: %v\n%s", name, args, err, stdout.Bytes())
	}
}

// clientError is an error as a client script recorded it: pop-core and
// cdn20180510 errors (name, message, code, statusCode, data), aliyungo's
// *common.Error (type, text, statusCode, code, message, requestId).
type clientError struct {
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	Text       string         `json:"text"`
	Message    string         `json:"message"`
	Code       string         `json:"code"`
	StatusCode int            `json:"statusCode"`
	RequestID  string         `json:"requestId"`
	Data       map[string]any `json:"data"`
}

// clientCall is one call's outcome: its body, or the error.
type clientCall struct {
	OK    bool            `json:"ok"`
	Body  json.RawMessage `json:"body"`
	Error *clientError    `json:"error"`
}

// ok checks the call succeeded and decodes its body into v.
func (c clientCall) ok(t *testing.T, what string, v any) {
	t.Helper()
	if !c.OK {
		t.Fatalf("%s failed: %+v", what, c.Error)
	}
	if v != nil {
		if err := json.Unmarshal(c.Body, v); err != nil {
			t.Fatalf("%s: %v: %s", what, err, c.Body)
		}
	}
}

// failed checks the call failed with code and returns the error.
func (c clientCall) failed(t *testing.T, what, code string) *clientError {
	t.Helper()
	if c.OK || c.Error == nil {
		t.Fatalf("%s succeeded (%s), want %s", what, c.Body, code)
	}
	if c.Error.Code != code {
		t.Fatalf("%s: got %+v, want code %s", what, *c.Error, code)
	}
	return c.Error
}

// certInfoBody is DescribeDomainCertificateInfo's answer as pop-core and
// aliyungo return it (the wire names).
type certInfoBody struct {
	RequestID string `json:"RequestId"`
	CertInfos struct {
		CertInfo []struct {
			DomainName, CertName, CertType, ServerCertificateStatus, ServerCertificate string
		}
	}
}

// want checks a DescribeDomainCertificateInfo answer names the
// certificate and has HTTPS on.
func (b certInfoBody) want(t *testing.T, what, domain, certName string) {
	t.Helper()
	if b.RequestID == "" || len(b.CertInfos.CertInfo) != 1 {
		t.Fatalf("%s: %+v", what, b)
	}
	ci := b.CertInfos.CertInfo[0]
	if ci.DomainName != domain || ci.CertName != certName || ci.ServerCertificateStatus != "on" || ci.CertType != "upload" {
		t.Fatalf("%s: %+v", what, ci)
	}
}

// confirmServed checks with the Go SDK and a TLS handshake that domain has
// the certificate: named certName (or, if certName ends in "*", a name with
// that prefix) and served by the edge.
func (a *account) confirmServed(t *testing.T, domain, certName string, chain []byte) {
	t.Helper()
	info := a.certInfo(t, domain)
	prefix, wildcard := strings.CutSuffix(certName, "*")
	if info.ServerCertificateStatus != "on" || (!wildcard && info.CertName != certName) || (wildcard && !strings.HasPrefix(info.CertName, prefix)) {
		t.Fatalf("Go SDK reads %s: %+v, want CertName %s", domain, info, certName)
	}
	waitServed(t, domain, pemFingerprint(t, chain))
}
