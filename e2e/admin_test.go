package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestOperatorAPI(t *testing.T) {
	base := "http://" + srv.AdminAddr.String()
	newAccount(t).addDomain(t, uniqueDomain("metrics.example")) // an API call to count
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/metrics": 200} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("%s: %d", path, resp.StatusCode)
		}
		if path == "/metrics" && !strings.Contains(string(b), "cdnd_api_requests_total") {
			t.Fatal("metrics lack cdnd_api_requests_total")
		}
	}
	// Without the token, nothing.
	for _, tc := range []struct{ method, path, auth string }{
		{"POST", "/admin/v1/accounts", ""},
		{"POST", "/admin/v1/accounts", "Bearer wrong"},
		{"PUT", "/admin/v1/domains/x.example/mode", "Bearer " + adminToken + "x"},
		{"GET", "/admin/v1/free-certs", ""},
		{"GET", "/debug/pprof/", ""},
		{"GET", "/debug/pprof/heap", "Bearer wrong"},
		{"GET", "/debug/pprof/profile?seconds=1", ""},
		{"GET", "/debug/pprof/trace?seconds=1", ""},
	} {
		req, _ := http.NewRequest(tc.method, base+tc.path, strings.NewReader(`{"Mode":"safe"}`))
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s %s with %q: %d", tc.method, tc.path, tc.auth, resp.StatusCode)
		}
	}
	// With it, the Go runtime's profiles of the node.
	for path, want := range map[string]string{
		"/debug/pprof/":                  "goroutine",
		"/debug/pprof/heap?debug=1":      "heap profile",
		"/debug/pprof/goroutine?debug=1": "goroutine profile",
		"/debug/pprof/profile?seconds=1": "", // binary: checked by status alone
	} {
		req, _ := http.NewRequest("GET", base+path, nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(b) == 0 || !strings.Contains(string(b), want) {
			t.Fatalf("%s: %d, %.200q", path, resp.StatusCode, b)
		}
	}
	// Traces with argument words could carry key material: refused.
	req, _ := http.NewRequest("GET", base+"/debug/pprof/goroutine?debug=2", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("goroutine?debug=2: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	a := newAccount(t)
	if a.ID == "" || !strings.HasPrefix(a.AccessKeyID, "LTAI") || len(a.Secret) < 30 {
		t.Fatalf("account: %+v", a)
	}
	name := uniqueDomain("mode.example")
	a.addDomain(t, name)
	var out struct{ DomainName, Mode string }
	if st := adminCall(t, "PUT", "/admin/v1/domains/"+name+"/mode", map[string]string{"Mode": "protected"}, &out); st != 200 || out.Mode != "protected" {
		t.Fatalf("set mode: %d %+v", st, out)
	}
	for _, tc := range []struct {
		path string
		body any
		want int
	}{
		{"/admin/v1/domains/" + name + "/mode", map[string]string{"Mode": "paranoid"}, 400},
		{"/admin/v1/domains/nobody." + name + "/mode", map[string]string{"Mode": "safe"}, 404},
		{"/admin/v1/domains/" + name + "/mode", map[string]int{"Mode": 1}, 400},
		{"/admin/v1/accounts/0000000000000000/quota", map[string]int{"DomainQuota": 5}, 404},
		{"/admin/v1/accounts/" + a.ID + "/quota", map[string]int{"DomainQuota": -1}, 400},
	} {
		if st := adminCall(t, "PUT", tc.path, tc.body, nil); st != tc.want {
			t.Fatalf("PUT %s %v: %d, want %d", tc.path, tc.body, st, tc.want)
		}
	}
}
