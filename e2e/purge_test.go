package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/cdn"
)

// refresh calls RefreshObjectCaches through the SDK, Force sent as a
// plain parameter (the SDK's struct lacks it).
func refresh(c *cdn.Client, objectType string, paths ...string) (string, error) {
	req := cdn.CreateRefreshObjectCachesRequest()
	req.ObjectPath, req.ObjectType = strings.Join(paths, "\n"), objectType
	req.QueryParams["Force"] = "true"
	var id string
	err := unthrottled(func() error {
		resp, err := c.RefreshObjectCaches(req)
		if err == nil {
			id = resp.RefreshTaskId
		}
		return err
	})
	return id, err
}

// taskByID answers DescribeRefreshTaskById.
func taskByID(c *cdn.Client, id string) ([]cdn.CDNTask, error) {
	req := cdn.CreateDescribeRefreshTaskByIdRequest()
	req.TaskId = id
	var tasks []cdn.CDNTask
	err := unthrottled(func() error {
		resp, err := c.DescribeRefreshTaskById(req)
		if err == nil {
			tasks = resp.Tasks
		}
		return err
	})
	return tasks, err
}

// waitTaskComplete polls a task until every path of it is Complete.
func waitTaskComplete(t *testing.T, c *cdn.Client, id string, within time.Duration) []cdn.CDNTask {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		tasks, err := taskByID(c, id)
		if err != nil {
			t.Fatalf("DescribeRefreshTaskById %s: %v", id, err)
		}
		done := len(tasks) > 0
		for _, task := range tasks {
			done = done && task.Status == "Complete" && task.Process == "100%"
		}
		if done {
			return tasks
		}
		if time.Now().After(deadline) {
			t.Fatalf("task %s not Complete after %v: %+v", id, within, tasks)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Each ObjectType purges what it names and nothing else: once the task is
// Complete the edge fetches the purged objects from the origin again and
// still answers the others from its cache.
func TestRefreshObjectCachesPurgesByType(t *testing.T) {
	for _, tc := range []struct {
		objectType        string
		path              string // after http://{domain}
		purged, untouched []string
		wantType          string
	}{
		{"File", "/static/a.txt", []string{"/static/a.txt"}, []string{"/static/b.txt", "/static/a.txt?v=1"}, "file"},
		{"", "/static/a.txt?v=1", []string{"/static/a.txt?v=1"}, []string{"/static/a.txt"}, "file"},
		{"Directory", "/static/d/", []string{"/static/d/x.txt", "/static/d/e/y.txt"}, []string{"/static/dx.txt", "/static/a.txt"}, "directory"},
		{"Regex", `/static/img/[0-9]+\.jpg`, []string{"/static/img/1.jpg", "/static/img/22.jpg"}, []string{"/static/img/a.jpg", "/static/img/1.png"}, "regex"},
		{"IgnoreParams", "/static/p.js", []string{"/static/p.js", "/static/p.js?v=1", "/static/p.js?v=2"}, []string{"/static/q.js?v=1"}, "ignoreParams"},
	} {
		t.Run(tc.objectType, func(t *testing.T) {
			o := newCountingOrigin(t, cacheTestOrigin)
			a := newAccount(t)
			edgeAddr := srv.HTTPAddr.String()
			name := addCachedDomain(t, a.cdn, edgeAddr, o)
			hits := map[string]int{}
			get := func(path string) string {
				resp, _ := plainRequest(t, edgeAddr, name, http.MethodGet, path, nil)
				return resp.Header.Get("X-Cache")
			}
			for _, p := range append(append([]string{}, tc.purged...), tc.untouched...) {
				get(p)
				hits[strings.Split(p, "?")[0]]++
			}
			id, err := refresh(a.cdn, tc.objectType, "http://"+name+tc.path)
			if err != nil {
				t.Fatalf("RefreshObjectCaches: %v", err)
			}
			tasks := waitTaskComplete(t, a.cdn, id, 10*time.Second)
			if tasks[0].ObjectType != tc.wantType || tasks[0].ObjectPath != "http://"+name+tc.path || tasks[0].TaskId != id || tasks[0].CreationTime == "" {
				t.Errorf("task %+v", tasks[0])
			}
			for _, p := range tc.purged {
				if x := get(p); x != "MISS TCP_MISS" {
					t.Errorf("%s after the purge: %q, want a miss", p, x)
				}
			}
			for _, p := range tc.untouched {
				if x := get(p); x != "HIT TCP_MEM_HIT" {
					t.Errorf("%s after the purge: %q, want a hit", p, x)
				}
			}
			for _, p := range tc.purged {
				hits[strings.Split(p, "?")[0]]++
			}
			for path, want := range hits {
				if got := o.count(path); got != want {
					t.Errorf("origin hits for %s: %d, want %d", path, got, want)
				}
			}
		})
	}
}

// PushObjectCache makes the edge fetch the object through its own cache:
// a request that may only be answered from the cache then gets it.
func TestPushObjectCachePrefetches(t *testing.T) {
	o := newCountingOrigin(t, cacheTestOrigin)
	a := newAccount(t)
	edgeAddr := srv.HTTPAddr.String()
	name := addCachedDomain(t, a.cdn, edgeAddr, o)
	onlyCached := map[string]string{"Cache-Control": "only-if-cached"}
	if resp, _ := plainRequest(t, edgeAddr, name, http.MethodGet, "/static/pre.txt", onlyCached); resp.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("before the prefetch: %d, want 504", resp.StatusCode)
	}
	req := cdn.CreatePushObjectCacheRequest()
	req.ObjectPath, req.Area, req.WithHeader = "http://"+name+"/static/pre.txt", "domestic", `{"Accept-Language":"en"}`
	resp, err := a.cdn.PushObjectCache(req)
	if err != nil {
		t.Fatalf("PushObjectCache: %v", err)
	}
	tasks := waitTaskComplete(t, a.cdn, resp.PushTaskId, 10*time.Second)
	if tasks[0].ObjectType != "preload" {
		t.Errorf("ObjectType %q, want preload", tasks[0].ObjectType)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		resp, body := plainRequest(t, edgeAddr, name, http.MethodGet, "/static/pre.txt", onlyCached)
		if resp.StatusCode == http.StatusOK && body == "content of /static/pre.txt" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the edge never held the prefetched object: %d", resp.StatusCode)
		}
	}
	if got := o.count("/static/pre.txt"); got != 1 {
		t.Errorf("origin hits %d, want 1 (the prefetch)", got)
	}
}

// Every refusal of the refresh and prefetch actions, with its documented
// code; a refused call writes no task.
func TestRefreshRefusals(t *testing.T) {
	o := newCountingOrigin(t, cacheTestOrigin)
	a := newAccount(t)
	name := addCachedDomain(t, a.cdn, srv.HTTPAddr.String(), o)
	other := newAccount(t)
	foreign := addCachedDomain(t, other.cdn, srv.HTTPAddr.String(), o)
	many := make([]string, 1001)
	for i := range many {
		many[i] = fmt.Sprintf("http://%s/static/%d", name, i)
	}
	for _, tc := range []struct {
		objectType string
		paths      []string
		code       string
		status     int
	}{
		{"File", []string{"not a url"}, "InvalidObjectPath.Malformed", 400},
		{"File", []string{"ftp://" + name + "/a"}, "InvalidObjectPath.Malformed", 400},
		{"File", []string{" ", " "}, "InvalidObjectPath.Malformed", 400},
		{"Regex", []string{"http://" + name + "/("}, "InvalidObjectPath.Malformed", 400},
		{"Block", []string{"http://" + name + "/a"}, "InvalidObjectType.Malformed", 400},
		{"File", many, "SingleRequest.OverLimit", 400},
		{"File", []string{"http://*.example.com/a"}, "InvalidExtensiveDomain.ValueNotSupported", 400},
		{"File", []string{"http://" + foreign + "/static/a.txt"}, "InvalidDomain.NotFound", 404},
		{"File", []string{"http://" + name + "/a", "http://" + foreign + "/a"}, "InvalidDomain.NotFound", 404},
		{"File", []string{"http://never-added.example/a"}, "InvalidDomain.NotFound", 404},
	} {
		_, err := refresh(a.cdn, tc.objectType, tc.paths...)
		wantAPIError(t, err, tc.code, tc.status)
	}
	if n := listTasks(t, a.cdn, cdn.CreateDescribeRefreshTasksRequest()).TotalCount; n != 0 {
		t.Errorf("%d tasks after refused calls, want 0", n)
	}

	push := func(area, header string, paths ...string) error {
		req := cdn.CreatePushObjectCacheRequest()
		req.ObjectPath, req.Area, req.WithHeader = strings.Join(paths, "\n"), area, header
		return unthrottled(func() error { _, err := a.cdn.PushObjectCache(req); return err })
	}
	wantAPIError(t, push("moon", "", "http://"+name+"/a"), "InvalidArea.ValueNotSupported", 400)
	wantAPIError(t, push("", "{not json", "http://"+name+"/a"), "InvalidWithHeader.Malformed", 400)
	wantAPIError(t, push("", "", "http://"+foreign+"/a"), "InvalidDomain.NotFound", 404)

	byID := func(id string) error { _, err := taskByID(a.cdn, id); return err }
	wantAPIError(t, byID("abc"), "InvalidTaskId.Malformed", 400)
	wantAPIError(t, byID("1,2,3,4,5,6,7,8,9,10,11"), "InvalidTaskId.Malformed", 400)

	for _, tc := range []struct {
		set  func(r *cdn.DescribeRefreshTasksRequest)
		code string
	}{
		{func(r *cdn.DescribeRefreshTasksRequest) { r.Status = "Done" }, "InvalidStatus.Malformed"},
		{func(r *cdn.DescribeRefreshTasksRequest) { r.ObjectType = "block" }, "InvalidObjectType.Malformed"},
		{func(r *cdn.DescribeRefreshTasksRequest) { r.TaskId = "x" }, "InvalidTaskId.Malformed"},
		{func(r *cdn.DescribeRefreshTasksRequest) { r.StartTime = "yesterday" }, "InvalidStartTime.Malformed"},
		{func(r *cdn.DescribeRefreshTasksRequest) { r.EndTime = "2026-13-01T00:00:00Z" }, "InvalidEndTime.Malformed"},
		{func(r *cdn.DescribeRefreshTasksRequest) {
			r.StartTime, r.EndTime = "2026-12-02T00:00:00Z", "2026-12-01T00:00:00Z"
		}, "InvalidTime.Mismatch"},
		{func(r *cdn.DescribeRefreshTasksRequest) { r.PageSize = "101" }, "InvalidPageSize.ValueNotSupported"},
		{func(r *cdn.DescribeRefreshTasksRequest) { r.DomainName = foreign }, "InvalidDomain.NotFound"},
	} {
		req := cdn.CreateDescribeRefreshTasksRequest()
		tc.set(req)
		err := unthrottled(func() error { _, err := a.cdn.DescribeRefreshTasks(req); return err })
		status := 400
		if tc.code == "InvalidDomain.NotFound" {
			status = 404
		}
		wantAPIError(t, err, tc.code, status)
	}
}

// Another tenant cannot see a task by its id.
func TestRefreshTaskOfAnotherAccountIsUnknown(t *testing.T) {
	o := newCountingOrigin(t, cacheTestOrigin)
	a, b := newAccount(t), newAccount(t)
	name := addCachedDomain(t, a.cdn, srv.HTTPAddr.String(), o)
	id, err := refresh(a.cdn, "File", "http://"+name+"/static/a.txt")
	if err != nil {
		t.Fatal(err)
	}
	tasks, err := taskByID(b.cdn, id)
	if err != nil || len(tasks) != 0 {
		t.Errorf("another account's DescribeRefreshTaskById: %v %+v, want no task", err, tasks)
	}
	if n := listTasks(t, b.cdn, cdn.CreateDescribeRefreshTasksRequest()).TotalCount; n != 0 {
		t.Errorf("another account lists %d tasks, want 0", n)
	}
}

func listTasks(t *testing.T, c *cdn.Client, req *cdn.DescribeRefreshTasksRequest) *cdn.DescribeRefreshTasksResponse {
	t.Helper()
	var out *cdn.DescribeRefreshTasksResponse
	err := unthrottled(func() error {
		resp, err := c.DescribeRefreshTasks(req)
		out = resp
		return err
	})
	if err != nil {
		t.Fatalf("DescribeRefreshTasks: %v", err)
	}
	return out
}

func quota(t *testing.T, c *cdn.Client) *cdn.DescribeRefreshQuotaResponse {
	t.Helper()
	var out *cdn.DescribeRefreshQuotaResponse
	err := unthrottled(func() error {
		resp, err := c.DescribeRefreshQuota(cdn.CreateDescribeRefreshQuotaRequest())
		out = resp
		return err
	})
	if err != nil {
		t.Fatalf("DescribeRefreshQuota: %v", err)
	}
	return out
}

// The daily quotas: what a call uses shows in DescribeRefreshQuota, and a
// call past what is left is refused whole (QuotaExceeded.Refresh,
// PreloadQueueFull) and uses nothing.
func TestRefreshQuotas(t *testing.T) {
	o := newCountingOrigin(t, cacheTestOrigin)
	a := newAccount(t)
	name := addCachedDomain(t, a.cdn, srv.HTTPAddr.String(), o)
	q := quota(t, a.cdn)
	if q.UrlQuota != "10000" || q.UrlRemain != "10000" || q.DirQuota != "100" || q.RegexQuota != "20" || q.IgnoreParamsQuota != "100" || q.PreloadQuota != "1000" {
		t.Errorf("quota %+v", q)
	}
	if _, err := refresh(a.cdn, "File", "http://"+name+"/a", "http://"+name+"/b"); err != nil {
		t.Fatal(err)
	}
	regexes := make([]string, 20)
	for i := range regexes {
		regexes[i] = fmt.Sprintf("http://%s/r%d/.*", name, i)
	}
	if _, err := refresh(a.cdn, "Regex", regexes[:19]...); err != nil {
		t.Fatal(err)
	}
	_, err := refresh(a.cdn, "Regex", regexes[19], "http://"+name+"/x/.*")
	wantAPIError(t, err, "QuotaExceeded.Refresh", 400)
	if _, err := refresh(a.cdn, "Regex", regexes[19]); err != nil {
		t.Fatalf("the last regex of the day: %v", err)
	}
	q = quota(t, a.cdn)
	if q.UrlRemain != "9998" || q.RegexRemain != "0" || q.DirRemain != "100" {
		t.Errorf("after 2 URLs and 20 regexes: %+v", q)
	}
	for i := 0; i < 10; i++ {
		paths := make([]string, 100)
		for j := range paths {
			paths[j] = fmt.Sprintf("http://%s/p/%d/%d", name, i, j)
		}
		req := cdn.CreatePushObjectCacheRequest()
		req.ObjectPath = strings.Join(paths, "\n")
		if err := unthrottled(func() error { _, err := a.cdn.PushObjectCache(req); return err }); err != nil {
			t.Fatalf("prefetch %d: %v", i, err)
		}
	}
	req := cdn.CreatePushObjectCacheRequest()
	req.ObjectPath = "http://" + name + "/one-more"
	wantAPIError(t, unthrottled(func() error { _, err := a.cdn.PushObjectCache(req); return err }), "PreloadQueueFull", 403)
	if q = quota(t, a.cdn); q.PreloadRemain != "0" {
		t.Errorf("PreloadRemain %s, want 0", q.PreloadRemain)
	}
}

// DescribeRefreshTasks lists the caller's tasks newest first, one entry per
// path, filtered and paged.
func TestDescribeRefreshTasksFiltersAndPages(t *testing.T) {
	o := newCountingOrigin(t, cacheTestOrigin)
	a := newAccount(t)
	name := addCachedDomain(t, a.cdn, srv.HTTPAddr.String(), o)
	first, err := refresh(a.cdn, "File", "http://"+name+"/f1", "http://"+name+"/f2")
	if err != nil {
		t.Fatal(err)
	}
	dir, err := refresh(a.cdn, "Directory", "http://"+name+"/d/")
	if err != nil {
		t.Fatal(err)
	}
	waitTaskComplete(t, a.cdn, dir, 10*time.Second)
	all := listTasks(t, a.cdn, cdn.CreateDescribeRefreshTasksRequest())
	if all.TotalCount != 3 || len(all.Tasks.CDNTask) != 3 || all.Tasks.CDNTask[0].TaskId != dir || all.PageSize != 20 || all.PageNumber != 1 {
		t.Fatalf("all tasks: %+v", all)
	}
	req := cdn.CreateDescribeRefreshTasksRequest()
	req.ObjectType, req.DomainName = "file", name
	if got := listTasks(t, a.cdn, req); got.TotalCount != 2 || got.Tasks.CDNTask[0].TaskId != first {
		t.Errorf("file tasks: %+v", got)
	}
	req = cdn.CreateDescribeRefreshTasksRequest()
	req.TaskId, req.ObjectPath = first, "/f2"
	if got := listTasks(t, a.cdn, req); got.TotalCount != 1 || got.Tasks.CDNTask[0].ObjectPath != "http://"+name+"/f2" {
		t.Errorf("by id and path: %+v", got)
	}
	req = cdn.CreateDescribeRefreshTasksRequest()
	req.PageSize, req.PageNumber = "2", "2"
	if got := listTasks(t, a.cdn, req); got.TotalCount != 3 || len(got.Tasks.CDNTask) != 1 {
		t.Errorf("page 2 of 2: %+v", got)
	}
	req = cdn.CreateDescribeRefreshTasksRequest()
	req.Status = "Complete"
	req.StartTime = time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15:04:05Z")
	req.EndTime = time.Now().UTC().Add(time.Hour).Format("2006-01-02T15:04:05Z")
	if got := listTasks(t, a.cdn, req); got.TotalCount != 3 {
		t.Errorf("complete within the hour: %+v", got)
	}
	req.EndTime = time.Now().UTC().Add(-30 * time.Minute).Format("2006-01-02T15:04:05Z")
	if got := listTasks(t, a.cdn, req); got.TotalCount != 0 {
		t.Errorf("before they were made: %+v", got)
	}
}

// A RAM user allowed cdn:RefreshObjectCaches on one domain purges it and
// nothing else: a call that names another domain of the account, alone or
// with the allowed one, is refused whole and writes no task; the audit
// trail holds each call with the domains it named.
func TestRefreshUnderRAMPolicy(t *testing.T) {
	o := newCountingOrigin(t, cacheTestOrigin)
	a := newAccount(t)
	mine := addCachedDomain(t, a.cdn, srv.HTTPAddr.String(), o)
	other := addCachedDomain(t, a.cdn, srv.HTTPAddr.String(), o)
	arn := func(d string) string { return "acs:cdn:*:" + a.ID + ":domain/" + d }
	doc := fmt.Sprintf(`{"Version":"1","Statement":[{"Effect":"Allow","Action":["cdn:RefreshObjectCaches","cdn:DescribeRefresh*"],"Resource":%q}]}`, arn(mine))
	bot := newRobot(t, ramClient(t, a.AccessKeyID, a.Secret), "purger", []string{doc})

	id, err := refresh(bot.cdn, "File", "http://"+mine+"/static/a.txt")
	if err != nil {
		t.Fatalf("allowed domain: %v", err)
	}
	_, err = refresh(bot.cdn, "File", "http://"+other+"/static/a.txt")
	wantAPIError(t, err, "NoPermission", 403)
	_, err = refresh(bot.cdn, "Directory", "http://"+mine+"/static/", "http://"+other+"/static/")
	wantAPIError(t, err, "NoPermission", 403)
	if n := listTasks(t, a.cdn, cdn.CreateDescribeRefreshTasksRequest()).TotalCount; n != 1 {
		t.Errorf("%d tasks, want the one allowed", n)
	}
	if tasks, err := taskByID(a.cdn, id); err != nil || len(tasks) != 1 {
		t.Errorf("the allowed task: %+v %v", tasks, err)
	}

	var trail struct {
		Events []struct {
			PrincipalName, Action, Code string
			Resources                   []string
		}
	}
	q := url.Values{"AccountId": {a.ID}, "Action": {"RefreshObjectCaches"}}
	if st := adminCall(t, http.MethodGet, "/admin/v1/audit?"+q.Encode(), nil, &trail); st != 200 {
		t.Fatalf("audit: %d", st)
	}
	seen := map[string]bool{}
	for _, e := range trail.Events {
		seen[e.PrincipalName+" "+e.Code+" "+strings.Join(e.Resources, ",")] = true
	}
	for _, want := range []string{
		"purger OK " + arn(mine),
		"purger NoPermission " + arn(other),
		"purger NoPermission " + arn(mine) + "," + arn(other),
	} {
		if !seen[want] {
			t.Errorf("audit lacks %q; has %v", want, seen)
		}
	}
}

// DescribeRefreshTasks allows an account 5 calls a second, as Alibaba's
// page gives: a burst past that is answered Throttling.User.
func TestDescribeRefreshTasksThrottled(t *testing.T) {
	a := newAccount(t)
	throttled := 0
	for range 20 {
		_, err := a.cdn.DescribeRefreshTasks(cdn.CreateDescribeRefreshTasksRequest())
		if err != nil {
			wantAPIError(t, err, "Throttling.User", 400)
			throttled++
		}
	}
	if throttled == 0 {
		t.Error("20 calls at once were all answered")
	}
}
