package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/cdn"

	"github.com/cdnd/cdnd/internal/store"
)

// An origin at one of the fleet's etcd client ports would let a tenant read
// every key through the edge and rewrite another tenant's record. It is
// refused at the API, although the fleet allows 127.0.0.0/8, and refused at
// dial time by an edge whose served record points there anyway (written by
// an older version, or through a name that rebinds).
func TestOriginAtTheFleetsEtcdRefused(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 1, 1)
	a := f.newAccount()
	u, err := url.Parse(f.cluster.Endpoints[0])
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(u.Host)

	req := cdn.CreateAddCdnDomainRequest()
	req.DomainName, req.CdnType, req.Sources = "etcd-origin.example.com", "web", sourcesAt("ipaddr", host, port)
	_, err = a.clients[0].AddCdnDomain(req)
	wantAPIError(t, err, "InvalidSources.Malformed", 400)
	if !strings.Contains(err.Error(), u.Host) {
		t.Fatalf("the error does not name %s: %v", u.Host, err)
	}

	name := "rewritten-origin.example.com"
	f.addDomain(a, name)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	key := "/cdnd/v1/" + string(store.DomainKey(name))
	resp, err := f.etcd.Get(ctx, key)
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("served record of %s: %v", name, err)
	}
	var d store.Domain
	if err := json.Unmarshal(resp.Kvs[0].Value, &d); err != nil {
		t.Fatal(err)
	}
	p, _ := net.LookupPort("tcp", port)
	d.Sources = []store.Source{{Type: "ipaddr", Content: host, Port: p, Priority: "20", Weight: "10"}}
	b, _ := json.Marshal(d)
	if _, err := f.etcd.Put(ctx, key, string(b)); err != nil {
		t.Fatal(err)
	}

	// Until the edge applies the rewrite, it proxies to the old origin (port
	// 80 on loopback: nothing listens, 502 too), so the test waits for the
	// answer that only the policy gives.
	var status int
	var body string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		r, _ := http.NewRequest(http.MethodGet, "http://"+f.edges[0].Addr("http")+"/v3/kv/range", nil)
		r.Host = name
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		status, body = resp.StatusCode, string(raw)
		if strings.Contains(body, "not allowed") {
			break
		}
	}
	if status != http.StatusBadGateway || !strings.Contains(body, "not allowed") {
		t.Fatalf("request through an origin at etcd: %d %q, want 502 origin address not allowed", status, body)
	}
}
