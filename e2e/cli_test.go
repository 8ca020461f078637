package e2e

import (
	"os/exec"
	"runtime"
	"strings"
	"testing"
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
