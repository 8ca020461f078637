package e2e

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/cdn"

	"github.com/cdnd/cdnd/internal/server"
)

// A stop has one deadline for the whole node: the edge's drain is part of
// it, not a second 10 s after the caller's, and what is still open when it
// ends is closed and reported.
func TestShutdownKeepsOneDeadline(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release // an origin that never answers in time
	}))
	t.Cleanup(func() { close(release); origin.Close() })
	_, port, _ := net.SplitHostPort(origin.Listener.Addr().String())

	node := startNode(t, func(*server.Config) {})
	client := sdkClient(t, rootAccessKeyID, rootAccessKeySecret)
	client.Domain = node.APIAddr.String()
	req := cdn.CreateAddCdnDomainRequest()
	req.DomainName, req.CdnType, req.Sources = "slow-origin.example.com", "web", sourcesAt("ipaddr", "127.0.0.1", port)
	if _, err := client.AddCdnDomain(req); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			r, _ := http.NewRequest(http.MethodGet, "http://"+node.HTTPAddr.String()+"/", nil)
			r.Host = req.DomainName
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				return // the node closed the connection: it stopped
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound { // the edge had the domain
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	select {
	case <-arrived:
	case <-time.After(30 * time.Second):
		t.Fatal("the request never reached the origin")
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	err := node.Shutdown(ctx)
	// The bound is generous for a loaded machine; before, the edge drained
	// for 10 s more after the caller's deadline.
	if took := time.Since(start); took > 6*time.Second {
		t.Fatalf("Shutdown with a 1 s deadline took %v", took)
	}
	if err == nil || !strings.Contains(err.Error(), "cut short") {
		t.Fatalf("Shutdown cut a request short and said %v", err)
	}
}
