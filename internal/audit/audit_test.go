package audit_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cdnd/cdnd/internal/audit"
	"github.com/cdnd/cdnd/internal/iam"
	"github.com/cdnd/cdnd/internal/keyring"
	"github.com/cdnd/cdnd/internal/openapi"
	"github.com/cdnd/cdnd/internal/store"
	"github.com/cdnd/cdnd/internal/store/storetest"
)

var testStore *store.Store

func TestMain(m *testing.M) { os.Exit(storetest.Run(m, &testStore, nil)) }

// syncBuffer is a log sink safe for the gateway's concurrent calls.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

var errRefused = openapi.NewError(400, "Test.Refused", "refused")

type fixture struct {
	st    *store.Store
	trail *audit.Trail
	gw    *openapi.Gateway
	creds iam.Credentials
	logs  *syncBuffer
}

// newFixture is a gateway with one write action over a real store, its
// trail and its log.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	st := testStore.WithPrefix(storetest.Prefix(t))
	kr, err := keyring.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	dir := iam.New(st, kr)
	creds, err := dir.CreateAccount(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	trail := audit.New(st, time.Hour, log)
	gw := openapi.New(openapi.Config{Credentials: dir, Nonces: st, Auditor: trail, Logger: log})
	gw.Register(openapi.Action{Name: "Touch", Version: "2018-05-10", Rate: 1000,
		Resources: func(r *openapi.Request) []string {
			return []string{"acs:cdn:*:" + r.Principal.AccountID + ":domain/" + r.Get("DomainName")}
		},
		Handle: func(context.Context, *openapi.Request) (any, error) { return struct{}{}, nil }},
		openapi.Action{Name: "Change", Version: "2018-05-10", Rate: 1000,
			Handle: func(ctx context.Context, r *openapi.Request) (any, error) {
				if r.Get("Fail") != "" {
					return nil, errRefused
				}
				_, err := st.Txn().Put(store.Key("changes/"+r.Get("Name")), r.Get("Name")).Commit(ctx)
				return struct{}{}, err
			}})
	return &fixture{st: st, trail: trail, gw: gw, creds: creds, logs: logs}
}

// call sends Touch signed with secret as the AccessKey id, from source.
func (f *fixture) call(t *testing.T, id, secret, source string, extra url.Values) int {
	t.Helper()
	p := url.Values{
		"Action": {"Touch"}, "Version": {"2018-05-10"}, "AccessKeyId": {id}, "DomainName": {"a.example.com"},
		"SignatureMethod": {"HMAC-SHA1"}, "SignatureVersion": {"1.0"}, "SignatureNonce": {fmt.Sprint(time.Now().UnixNano())},
		"Timestamp": {time.Now().UTC().Format("2006-01-02T15:04:05Z")}, "Format": {"JSON"},
	}
	for k, v := range extra {
		p[k] = v
	}
	p.Set("Signature", openapi.SignV1(secret, openapi.StringToSignV1(http.MethodPost, p)))
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(p.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.RemoteAddr = source + ":40000"
	w := httptest.NewRecorder()
	f.gw.ServeHTTP(w, r)
	return w.Code
}

// stored is every record under the trail's prefix, and their total size.
func (f *fixture) stored(t *testing.T) ([]openapi.AuditEvent, int) {
	t.Helper()
	var out []openapi.AuditEvent
	size := 0
	err := store.AuditRange(context.Background(), f.st, time.Time{}, time.Now().Add(time.Minute), func(e openapi.AuditEvent) bool {
		out = append(out, e)
		size += len(e.AccessKeyID) + len(e.RequestID) + len(e.SourceIP) + len(strings.Join(e.Resources, ""))
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return out, size
}

func TestRefusedUnauthenticatedCallsAreTalliedNotKeptEach(t *testing.T) {
	f := newFixture(t)
	hugeID := strings.Repeat("K", 1<<20-4096) // an unknown AccessKeyId of about 1 MB
	const calls = 50
	for range calls {
		if code := f.call(t, hugeID, "x", "192.0.2.7", nil); code != http.StatusNotFound {
			t.Fatalf("unknown key answered %d", code)
		}
	}
	// Before the window is written, a query sees the tally already.
	got, err := f.trail.Query(context.Background(), audit.Filter{})
	if err != nil || len(got) != 1 || got[0].Count != calls || got[0].Code != "InvalidAccessKeyId.NotFound" {
		t.Fatalf("pending tally: %+v %v", got, err)
	}
	f.trail.Flush(context.Background())
	records, size := f.stored(t)
	if len(records) != 1 || records[0].Count != calls || records[0].SourceIP != "192.0.2.7" || records[0].Last.Before(records[0].Time) {
		t.Fatalf("stored %+v", records)
	}
	if size > 1024 {
		t.Fatalf("the trail kept %d bytes of a 1 MB AccessKeyId", size)
	}
	if logs := f.logs.String(); len(logs) > 4096 || strings.Count(logs, `msg="api call"`) != 1 || !strings.Contains(logs, "count=50") {
		t.Fatalf("logs for %d refused calls: %d bytes:\n%.2000s", calls, len(logs), logs)
	}
}

func TestTallyIsBoundedWhateverTheNumberOfSources(t *testing.T) {
	f := newFixture(t)
	for i := range 500 {
		f.call(t, "unknown-key", "x", fmt.Sprintf("198.51.%d.%d", i/250, i%250), nil)
		f.call(t, f.creds.AccessKeyID, "wrong-secret", fmt.Sprintf("203.0.%d.%d", i/250, i%250), nil)
	}
	f.trail.Flush(context.Background())
	records, _ := f.stored(t)
	total, other := 0, 0
	for _, e := range records {
		total += e.Count
		if e.SourceIP == audit.OtherSources {
			other += e.Count
		}
	}
	// 32 triples of their own, plus one shared record per code.
	if len(records) > 34 || total != 1000 || other < 1000-32 {
		t.Fatalf("%d records counting %d calls (%d from other sources)", len(records), total, other)
	}
	if logs := f.logs.String(); strings.Count(logs, "\n") > 40 {
		t.Fatalf("%d log lines for 1000 refused calls", strings.Count(logs, "\n"))
	}
}

func TestAuthenticatedWritesKeepOneRecordEach(t *testing.T) {
	f := newFixture(t)
	long := strings.Repeat("d", 2000) + ".example.com"
	for range 3 {
		if code := f.call(t, f.creds.AccessKeyID, f.creds.AccessKeySecret, "192.0.2.9", url.Values{"DomainName": {long}}); code != http.StatusOK {
			t.Fatalf("Touch answered %d", code)
		}
	}
	records, _ := f.stored(t)
	if len(records) != 3 {
		t.Fatalf("%d records for 3 writes", len(records))
	}
	for _, e := range records {
		if e.Count != 0 || e.AccountID != f.creds.AccountID || len(e.Resources) != 1 || len(e.Resources[0]) > 300 || !strings.Contains(e.Resources[0], "bytes)") {
			t.Fatalf("record %+v", e)
		}
	}
}

// A write call is one etcd transaction: its change, the claim of its nonce
// and its audit record commit together (one revision), so no change lands
// without its record; a replay lands nothing; a failed call still claims
// its nonce and leaves its record, in one commit too.
func TestWriteCallIsOneTransaction(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rev := func() int64 {
		r, err := f.st.Revision(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	send := func(nonce string, extra url.Values) int {
		p := url.Values{"Action": {"Change"}, "SignatureNonce": {nonce}}
		for k, v := range extra {
			p[k] = v
		}
		return f.call(t, f.creds.AccessKeyID, f.creds.AccessKeySecret, "192.0.2.10", p)
	}
	before := rev()
	if code := send("once", url.Values{"Name": {"a"}}); code != http.StatusOK {
		t.Fatalf("Change: %d", code)
	}
	if after := rev(); after != before+1 {
		t.Fatalf("one write call took %d revisions", after-before)
	}
	records, _ := f.stored(t)
	if len(records) != 1 || records[0].Action != "Change" || records[0].Code != "OK" {
		t.Fatalf("records %+v", records)
	}

	before = rev()
	if code := send("once", url.Values{"Name": {"b"}}); code != http.StatusBadRequest {
		t.Fatalf("replay: %d", code)
	}
	if _, err := f.st.Get(ctx, store.Key("changes/b"), new(string)); err == nil || rev() != before {
		t.Fatalf("a replay changed the store (%v)", err)
	}

	before = rev()
	if code := send("failing", url.Values{"Fail": {"1"}}); code != http.StatusBadRequest {
		t.Fatalf("failing call: %d", code)
	}
	if rev() != before+1 {
		t.Fatalf("a failed call took %d revisions", rev()-before)
	}
	if code := send("failing", url.Values{"Name": {"c"}}); code != http.StatusBadRequest {
		t.Fatalf("a failed call's nonce was not claimed: %d", code)
	}
	records, _ = f.stored(t)
	if len(records) != 2 || records[1].Code != "Test.Refused" {
		t.Fatalf("records %+v", records)
	}
}
