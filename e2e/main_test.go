// Package e2e drives a real cdnd (store, gateway, services, edge and operator
// API in one process) with real clients: the Alibaba Cloud Go SDK,
// hand-signed HTTP requests and TLS handshakes against the edge.
package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/cdnd/cdnd/internal/openapi"
	"github.com/cdnd/cdnd/internal/server"
)

// The root credentials and secrets the shared server starts with. The
// master key and the root secret are canaries: they must never show up in
// the data directory, a response, a log line or a metric.
const (
	rootAccessKeyID     = "LTAIe2eRootKey000000000"
	rootAccessKeySecret = "e2eRootSecretCanary9f3b7c1d5e2a"
	adminToken          = "e2e-admin-token"
)

var masterKey = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x5a}, 32))

var (
	srv     *server.Server
	dataDir string
	logs    = &syncBuffer{}
)

// syncBuffer collects the server's log lines for the secrets test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	dataDir, err = os.MkdirTemp("", "cdnd-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dataDir)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv, err = server.Start(ctx, server.Config{
		DataDir:   dataDir,
		APIAddr:   "127.0.0.1:0",
		HTTPSAddr: "127.0.0.1:0",
		HTTPAddr:  "127.0.0.1:0",
		AdminAddr: "127.0.0.1:0",
		// The tests' origins listen on loopback, as an operator's private
		// origins would be allowed.
		AllowOriginCIDRs: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		Env: server.Env{
			RootAccessKeyID:     rootAccessKeyID,
			RootAccessKeySecret: rootAccessKeySecret,
			AdminToken:          adminToken,
			MasterKey:           masterKey,
		},
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Stdout: logs,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "start cdnd:", err)
		return 1
	}
	defer srv.Shutdown(context.Background())
	for deadline := time.Now().Add(30 * time.Second); !srv.Ready(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			fmt.Fprintln(os.Stderr, "cdnd did not become ready")
			return 1
		}
	}
	code := m.Run()
	if code == 0 && flag.Lookup("test.run").Value.String() == "" {
		code = checkEveryCodeReached()
	}
	return code
}

// unreachableHere are defined codes no test of this package can provoke,
// with the reason.
var unreachableHere = map[string]string{
	"InternalError":      "raised only by a bug",
	"ServiceUnavailable": "needs etcd without quorum: the fleet tests reach it in other processes",
}

// checkEveryCodeReached proves each defined error code is reachable: after
// the whole suite, the gateway's metrics must have counted every code in
// openapi.Catalog at least once.
func checkEveryCodeReached() int {
	resp, err := http.Get("http://" + srv.AdminAddr.String() + "/metrics")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	seen := map[string]bool{}
	for _, m := range regexp.MustCompile(`cdnd_api_requests_total\{action="[^"]*",code="([^"]+)"\}`).FindAllStringSubmatch(string(body), -1) {
		seen[m[1]] = true
	}
	missing := 0
	for _, e := range openapi.Catalog() {
		if !seen[e.Code] && unreachableHere[e.Code] == "" {
			fmt.Fprintf(os.Stderr, "error code %s (%d) is defined but no test reached it\n", e.Code, e.Status)
			missing++
		}
	}
	if missing > 0 {
		return 1
	}
	return 0
}
