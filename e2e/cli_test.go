package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/cdnd/cdnd/internal/certs/certstest"
)

// The CLI refuses what it does not know at every level, with a suggestion,
// and exits non-zero: a script that misspelled a command must not go on as
// if it had run.
func TestCLIUnknownCommandsFailWithASuggestion(t *testing.T) {
	bin := cdndBinary(t)
	for _, tc := range []struct {
		args    []string
		mention string // in the error
	}{
		{[]string{"sevre"}, "serve"},
		{[]string{"admin", "acount"}, "account"},
		{[]string{"admin", "edgs"}, "edges"},
		{[]string{"admin", "account", "creat"}, "create"},
		{[]string{"admin", "domain", "set-mod"}, "set-mode"},
		{[]string{"admin", "certs", "fre"}, "Did you mean this?\n\tfree"}, // a command that runs by itself and has subcommands
		{[]string{"admin", "nothing-like-it"}, `unknown command "nothing-like-it" for "cdnd admin"`},
	} {
		out, err := exec.Command(bin, tc.args...).CombinedOutput()
		if err == nil {
			t.Errorf("cdnd %s: exit 0, want an error", strings.Join(tc.args, " "))
			continue
		}
		if !strings.Contains(string(out), tc.mention) {
			t.Errorf("cdnd %s: %q does not mention %q", strings.Join(tc.args, " "), out, tc.mention)
		}
	}
	for _, args := range [][]string{{"admin"}, {"admin", "domain"}} {
		if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil || !strings.Contains(string(out), "Available Commands") {
			t.Errorf("cdnd %s: %v, %q; want its help", strings.Join(args, " "), err, out)
		}
	}
}

// cdnd version and cdnd --version describe the build from its build
// information.
func TestCLIVersion(t *testing.T) {
	bin := cdndBinary(t)
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out, err := exec.Command(bin, args...).Output()
		if err != nil || !strings.HasPrefix(string(out), "cdnd ") || !strings.Contains(string(out), runtime.Version()) {
			t.Errorf("cdnd %s: %v, %q", args[0], err, out)
		}
	}
}

// The operator's listings print tables for people and the API's JSON with
// -o json, page with --limit/--after, and say which token source failed.
func TestCLIListings(t *testing.T) {
	bin := cdndBinary(t)
	a := newAccount(t)
	name := uniqueDomain("cli.example")
	a.addDomain(t, name)
	chain, key := certstest.Valid(t, name)
	if err := a.setCert(name, "cli-cert", string(chain), string(key)); err != nil {
		t.Fatal(err)
	}
	admin := func(args ...string) (string, string, error) {
		cmd := exec.Command(bin, append([]string{"admin", "--admin-addr", srv.AdminAddr.String(), "--token", adminToken}, args...)...)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}
	for _, tc := range []struct {
		args       []string
		header     string
		want, none []string
	}{
		{[]string{"domains", "--account", a.ID}, "DOMAINNAME", []string{name, "online", "cli-cert"}, nil},
		{[]string{"domains", "--account", a.ID, "--status", "offline"}, "DOMAINNAME", nil, []string{name}},
		{[]string{"certs", "--account", a.ID, "--expiring", "400d"}, "ACCOUNTID", []string{"cli-cert", name, "upload"}, nil},
		{[]string{"certs", "free", "--account", a.ID}, "DOMAINNAME", nil, []string{name}},
		{[]string{"certs", "--account", a.ID, "--expiring", "1d"}, "ACCOUNTID", nil, []string{"cli-cert"}},
		{[]string{"accounts", "--limit", "1000"}, "ACCOUNTID", []string{a.ID}, nil},
		{[]string{"audit", "--account", a.ID}, "TIME", []string{"AddCdnDomain", "SetDomainServerCertificate", "OK", a.ID}, nil},
	} {
		out, errOut, err := admin(tc.args...)
		if err != nil || !strings.HasPrefix(out, tc.header) {
			t.Errorf("cdnd admin %s: %v %s\n%s", strings.Join(tc.args, " "), err, errOut, out)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("cdnd admin %s lacks %q:\n%s", strings.Join(tc.args, " "), w, out)
			}
		}
		for _, n := range tc.none {
			if strings.Contains(out, n) {
				t.Errorf("cdnd admin %s shows %q:\n%s", strings.Join(tc.args, " "), n, out)
			}
		}
	}
	out, _, err := admin("-o", "json", "domains", "--account", a.ID)
	var answer struct {
		Domains []struct{ DomainName, AccountId, CertName string }
		Next    string
	}
	if err != nil || json.Unmarshal([]byte(out), &answer) != nil || len(answer.Domains) != 1 || answer.Domains[0].CertName != "cli-cert" {
		t.Fatalf("-o json: %v %q", err, out)
	}
	// Paging: one account per page, the next page after the cursor.
	first, more, err := admin("accounts", "--limit", "1")
	if err != nil || !strings.Contains(more, "more: add --after ") {
		t.Fatalf("first page: %v %q %q", err, first, more)
	}
	cursor := strings.TrimSpace(strings.TrimPrefix(more, "more: add --after "))
	second, _, err := admin("accounts", "--limit", "1", "--after", cursor)
	if err != nil || second == first || strings.Count(second, "\n") != 2 {
		t.Fatalf("second page after %s: %v %q", cursor, err, second)
	}
	// Token discovery names what it tried.
	cmd := exec.Command(bin, "admin", "accounts", "--admin-addr", srv.AdminAddr.String(), "--token", "wrong")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "refused the token from --token") {
		t.Errorf("wrong token: %v %q", err, out)
	}
	cmd = exec.Command(bin, "admin", "accounts", "--admin-addr", srv.AdminAddr.String(), "--data-dir", t.TempDir())
	cmd.Env = append(os.Environ(), "CDND_ADMIN_TOKEN=")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "tried --token (not given), $CDND_ADMIN_TOKEN (not set)") {
		t.Errorf("no token: %v %q", err, out)
	}
}

// TestCLIRefusesBadFlagValues: a value out of range stops the start before
// anything is created, naming the flag.
func TestCLIRefusesBadFlagValues(t *testing.T) {
	bin := cdndBinary(t)
	for _, tc := range []struct {
		args    []string
		mention string
	}{
		{[]string{"serve", "--acme-orders", "0"}, "--acme-orders must be between 1 and 1024"},
		{[]string{"api", "--acme-orders", "5000"}, "--acme-orders must be between 1 and 1024"},
		{[]string{"serve", "--log-format", "xml"}, "--log-format must be text or json"},
		{[]string{"serve", "--allow-origin-cidrs", "10.0.0.0/33"}, "--allow-origin-cidrs"},
	} {
		dir := filepath.Join(t.TempDir(), "data")
		out, err := exec.Command(bin, append(tc.args, "--data-dir", dir)...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.mention) {
			t.Errorf("cdnd %s: %v, %q; want an error naming %q", strings.Join(tc.args, " "), err, out, tc.mention)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("cdnd %s created its data directory: %v", strings.Join(tc.args, " "), err)
		}
	}
}
