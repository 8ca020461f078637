package e2e

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/cdn"

	"github.com/cdnd/cdnd/internal/fleettest"
)

// versionedOrigin serves every path cacheable for an hour, its body naming
// the origin's current version, and counts its requests by path.
func versionedOrigin(t *testing.T) (*countingOrigin, *atomic.Int64) {
	var version atomic.Int64
	version.Store(1)
	o := newCountingOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		_, _ = io.WriteString(w, "v"+strconv.FormatInt(version.Load(), 10)+" "+r.URL.Path)
	})
	return o, &version
}

// fleetGet is a plain HTTP GET of path from one edge for host.
func fleetGet(t *testing.T, edge *fleettest.Proc, host, path string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	return plainRequest(t, edge.Addr("http"), host, http.MethodGet, path, hdr)
}

// addFleetCachedDomain adds a domain whose origin is o and waits until
// every edge serves it.
func (f *fleet) addCachedDomain(a *fleetAccount, name string, o *countingOrigin) {
	f.t.Helper()
	req := cdn.CreateAddCdnDomainRequest()
	req.DomainName, req.CdnType, req.Sources = name, "web", sourcesAt("ipaddr", "127.0.0.1", o.port())
	if err := fleetRetry(func() error { _, err := a.clients[0].AddCdnDomain(req); return err }); err != nil {
		f.t.Fatalf("AddCdnDomain %s: %v", name, err)
	}
	f.waitStatus(a, name, "online", 15*time.Second)
}

// TestFleetPurgeCompleteOnlyWhenNoEdgeServesIt: a purge through the SDK on
// a fleet of two edges is Refreshing, at 50%, while one edge (frozen, its
// lease alive) has not applied it, and Complete once both have; from then
// on neither edge serves the purged object, for every ObjectType.
func TestFleetPurgeCompleteOnlyWhenNoEdgeServesIt(t *testing.T) {
	skipFleet(t)
	t.Parallel()
	f := newFleet(t, 1, 2)
	acc := f.newAccount()
	c := acc.clients[0]
	o, version := versionedOrigin(t)
	name := "purge.fleet.example"
	f.addCachedDomain(acc, name, o)
	e1, e2 := f.edges[0], f.edges[1]

	for _, tc := range []struct {
		objectType string
		path       string
		object     string // a path the purge covers
	}{
		{"File", "/a.txt", "/a.txt"},
		{"Directory", "/dir/", "/dir/sub/b.txt"},
		{"Regex", `/img/[0-9]+\.jpg`, "/img/7.jpg"},
		{"IgnoreParams", "/c.js", "/c.js?v=3"},
	} {
		want := func(edge *fleettest.Proc, body string) {
			t.Helper()
			if _, got := fleetGet(t, edge, name, tc.object, nil); got != body {
				t.Fatalf("%s: %s serves %q, want %q", tc.objectType, edge.Name, got, body)
			}
		}
		old := "v" + strconv.FormatInt(version.Load(), 10) + " " + strings.Split(tc.object, "?")[0]
		for _, e := range f.edges {
			want(e, old)
			want(e, old) // now from its cache
		}
		version.Add(1)
		fresh := "v" + strconv.FormatInt(version.Load(), 10) + " " + strings.Split(tc.object, "?")[0]
		want(e1, old) // the origin changed; the cache has not

		e2.Freeze()
		frozen := time.Now()
		id, err := refresh(c, tc.objectType, "http://"+name+tc.path)
		if err != nil {
			e2.Thaw()
			t.Fatalf("%s: RefreshObjectCaches: %v", tc.objectType, err)
		}
		var tasks []cdn.CDNTask
		for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			if tasks, err = taskByID(c, id); err == nil && len(tasks) == 1 && tasks[0].Process == "50%" {
				break
			}
			if time.Now().After(deadline) {
				e2.Thaw()
				t.Fatalf("%s with e2 frozen: %+v %v, want Refreshing at 50%%", tc.objectType, tasks, err)
			}
		}
		if tasks[0].Status != "Refreshing" {
			t.Errorf("%s with e2 frozen: %s, want Refreshing", tc.objectType, tasks[0].Status)
		}
		want(e1, fresh) // e1 has applied it
		if held := time.Since(frozen); held > 7*time.Second {
			t.Fatalf("the checks took %v: e2's lease may have expired, the test proves nothing", held)
		}
		e2.Thaw()
		waitTaskComplete(t, c, id, 10*time.Second)
		for _, e := range f.edges {
			want(e, fresh)
		}
	}
	if got := o.count("/a.txt"); got != 4 {
		t.Errorf("origin hits for /a.txt: %d, want 4 (each edge before and after)", got)
	}
}

// TestFleetPrefetchFillsEveryEdge: PushObjectCache makes each edge fetch
// the object once through its own cache.
func TestFleetPrefetchFillsEveryEdge(t *testing.T) {
	skipFleet(t)
	t.Parallel()
	f := newFleet(t, 1, 2)
	acc := f.newAccount()
	o, _ := versionedOrigin(t)
	name := "prefetch.fleet.example"
	f.addCachedDomain(acc, name, o)
	onlyCached := map[string]string{"Cache-Control": "only-if-cached"}
	req := cdn.CreatePushObjectCacheRequest()
	req.ObjectPath = "http://" + name + "/p1.txt\nhttp://" + name + "/p2.txt"
	resp, err := acc.clients[0].PushObjectCache(req)
	if err != nil {
		t.Fatalf("PushObjectCache: %v", err)
	}
	waitTaskComplete(t, acc.clients[0], resp.PushTaskId, 10*time.Second)
	for _, e := range f.edges {
		for _, p := range []string{"/p1.txt", "/p2.txt"} {
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				r, body := fleetGet(t, e, name, p, onlyCached)
				if r.StatusCode == http.StatusOK && body == "v1 "+p {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s never held %s: %d", e.Name, p, r.StatusCode)
				}
			}
		}
	}
	for _, p := range []string{"/p1.txt", "/p2.txt"} {
		if got := o.count(p); got != 2 {
			t.Errorf("origin hits for %s: %d, want 2 (one per edge)", p, got)
		}
	}
}
