package cdn

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cdnd/cdnd/internal/openapi"
	"github.com/cdnd/cdnd/internal/store"
)

// Errors of the task queries
// (https://www.alibabacloud.com/help/en/cdn/developer-reference/api-cdn-2018-05-10-describerefreshtasks).
var (
	errTaskIDMalformed    = openapi.NewError(400, "InvalidTaskId.Malformed", "Specified TaskId is malformed.")
	errTaskStatusInvalid  = openapi.NewError(400, "InvalidStatus.Malformed", "Specified Status is malformed.")
	errStartTimeMalformed = openapi.NewError(400, "InvalidStartTime.Malformed", "Specified StartTime is malformed.")
	errEndTimeMalformed   = openapi.NewError(400, "InvalidEndTime.Malformed", "Specified EndTime is malformed.")
	errTimeMismatch       = openapi.NewError(400, "InvalidTime.Mismatch", "Specified EndTime is earlier than StartTime.")
)

// Task statuses: a task is Refreshing until every live edge has applied
// the revision that wrote it.
const (
	taskComplete   = "Complete"
	taskRefreshing = "Refreshing"
)

// maxTaskIDs is how many ids DescribeRefreshTaskById takes.
const maxTaskIDs = 10

// cdnTask is one path of a task, as DescribeRefreshTaskById and
// DescribeRefreshTasks answer (the SDK's CDNTask).
type cdnTask struct {
	TaskId       string
	ObjectPath   string
	ObjectType   string
	Status       string
	Process      string
	CreationTime string
	Description  string
}

// edgeProgress tells, for a task written at a revision, how many of the
// live edges have applied it.
type edgeProgress []store.Edge

func (s *Service) edgeProgress(ctx context.Context) (edgeProgress, error) {
	return s.st.Edges(ctx)
}

// status is a task's Status and Process: the share of live edges that have
// applied rev (all of none when no edge is registered).
func (p edgeProgress) status(rev int64) (string, string) {
	done := 0
	for _, e := range p {
		if e.Applied >= rev {
			done++
		}
	}
	if done == len(p) {
		return taskComplete, "100%"
	}
	return taskRefreshing, strconv.Itoa(done*100/len(p)) + "%"
}

// tasks lists a task's paths.
func (p edgeProgress) tasks(v store.Versioned[store.Purge]) []cdnTask {
	status, process := p.status(v.Revision)
	out := make([]cdnTask, len(v.Value.Paths))
	for i, path := range v.Value.Paths {
		out[i] = cdnTask{TaskId: v.Value.TaskID, ObjectPath: path, ObjectType: v.Value.Type, Status: status, Process: process,
			CreationTime: v.Value.Created.UTC().Format("2006-01-02T15:04:05Z")}
	}
	return out
}

// describeRefreshTaskByID answers up to ten of the caller's tasks; another
// account's ids are as unknown as ids that never were.
func (s *Service) describeRefreshTaskByID(ctx context.Context, r *openapi.Request) (any, error) {
	var ids []string
	for _, id := range strings.Split(r.Get("TaskId"), ",") {
		id = strings.TrimSpace(id)
		if _, err := strconv.ParseUint(id, 10, 63); err != nil || len(id) > 20 {
			return nil, errTaskIDMalformed
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	if len(ids) > maxTaskIDs {
		return nil, errTaskIDMalformed
	}
	found, err := s.st.GetPurges(ctx, account(r), ids)
	if err != nil {
		return nil, err
	}
	prog, err := s.edgeProgress(ctx)
	if err != nil {
		return nil, err
	}
	out := []cdnTask{}
	for _, v := range found {
		out = append(out, prog.tasks(v)...)
	}
	return struct {
		Tasks      []cdnTask
		TotalCount int
	}{out, len(out)}, nil
}

// taskFilter is DescribeRefreshTasks' filters.
type taskFilter struct {
	taskID, objectPath, objectType, domain, status string
	start, end                                     time.Time
}

func (f *taskFilter) match(v store.Versioned[store.Purge], t cdnTask) bool {
	p := v.Value
	switch {
	case f.taskID != "" && p.TaskID != f.taskID,
		f.domain != "" && p.Domain != f.domain,
		f.objectType != "" && !strings.EqualFold(f.objectType, p.Type),
		f.objectPath != "" && !strings.Contains(t.ObjectPath, f.objectPath),
		f.status != "" && t.Status != f.status,
		!f.start.IsZero() && p.Created.Before(f.start),
		!f.end.IsZero() && p.Created.After(f.end):
		return false
	}
	return true
}

// parseTaskFilter reads the filters; the times are ISO 8601 in UTC
// (yyyy-MM-ddTHH:mm:ssZ) as Alibaba's pages give them.
func parseTaskFilter(r *openapi.Request) (*taskFilter, error) {
	f := &taskFilter{taskID: r.Get("TaskId"), objectPath: r.Get("ObjectPath"), objectType: r.Get("ObjectType"),
		domain: strings.ToLower(strings.TrimSpace(r.Get("DomainName"))), status: r.Get("Status")}
	if f.taskID != "" {
		if _, err := strconv.ParseUint(f.taskID, 10, 63); err != nil {
			return nil, errTaskIDMalformed
		}
	}
	switch f.objectType {
	case "", "file", "directory", "regex", "ignoreParams", "preload", "File", "Directory", "Regex", "IgnoreParams", "Preload":
	default:
		return nil, errObjectTypeMalformed
	}
	switch f.status {
	case "", taskComplete, taskRefreshing, "Failed", "Pending":
	default:
		return nil, errTaskStatusInvalid
	}
	var err error
	if v := r.Get("StartTime"); v != "" {
		if f.start, err = time.Parse("2006-01-02T15:04:05Z", v); err != nil {
			return nil, errStartTimeMalformed
		}
	}
	if v := r.Get("EndTime"); v != "" {
		if f.end, err = time.Parse("2006-01-02T15:04:05Z", v); err != nil {
			return nil, errEndTimeMalformed
		}
	}
	if !f.start.IsZero() && !f.end.IsZero() && f.end.Before(f.start) {
		return nil, errTimeMismatch
	}
	return f, nil
}

// describeRefreshTasks pages through the caller's tasks of the last three
// days, newest first, one entry per path, 20 a page by default (at most
// 100).
func (s *Service) describeRefreshTasks(ctx context.Context, r *openapi.Request) (any, error) {
	f, err := parseTaskFilter(r)
	if err != nil {
		return nil, err
	}
	if f.domain != "" {
		if _, _, err := s.loadDomain(ctx, account(r), f.domain); err != nil {
			return nil, err
		}
	}
	page, err := pageParam(r, "PageNumber", 1, 100000, errPageNumber)
	if err != nil {
		return nil, err
	}
	size, err := pageParam(r, "PageSize", 20, 100, errPageSize)
	if err != nil {
		return nil, err
	}
	all, err := s.st.ListPurges(ctx, account(r))
	if err != nil {
		return nil, err
	}
	prog, err := s.edgeProgress(ctx)
	if err != nil {
		return nil, err
	}
	var matched []cdnTask
	for i := len(all) - 1; i >= 0; i-- {
		for _, t := range prog.tasks(all[i]) {
			if f.match(all[i], t) {
				matched = append(matched, t)
			}
		}
	}
	from := min((page-1)*size, len(matched))
	out := matched[from:min(from+size, len(matched))]
	if out == nil {
		out = []cdnTask{}
	}
	return struct {
		PageNumber, PageSize, TotalCount int
		Tasks                            struct{ CDNTask []cdnTask }
	}{page, size, len(matched), struct{ CDNTask []cdnTask }{out}}, nil
}

// describeRefreshQuota answers the caller's daily quotas and what is left
// of them today (UTC), as strings like Alibaba's.
func (s *Service) describeRefreshQuota(ctx context.Context, r *openapi.Request) (any, error) {
	u, _, err := s.st.GetRefreshUsage(ctx, account(r), s.now())
	if err != nil {
		return nil, err
	}
	q := func(k refreshKind) (string, string) {
		return strconv.Itoa(k.perDay), strconv.Itoa(max(k.perDay-*k.used(&u), 0))
	}
	out := struct {
		UrlQuota, UrlRemain, DirQuota, DirRemain, RegexQuota, RegexRemain  string
		IgnoreParamsQuota, IgnoreParamsRemain, PreloadQuota, PreloadRemain string
		BlockQuota, BlockRemain, PreloadEdgeQuota, PreloadEdgeRemain       string
	}{BlockQuota: "0", BlockRemain: "0", PreloadEdgeQuota: "0", PreloadEdgeRemain: "0"}
	out.UrlQuota, out.UrlRemain = q(refreshKinds["File"])
	out.DirQuota, out.DirRemain = q(refreshKinds["Directory"])
	out.RegexQuota, out.RegexRemain = q(refreshKinds["Regex"])
	out.IgnoreParamsQuota, out.IgnoreParamsRemain = q(refreshKinds["IgnoreParams"])
	out.PreloadQuota, out.PreloadRemain = q(preloadKind)
	return out, nil
}
