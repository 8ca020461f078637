package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/cdn"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/cdnd/cdnd/internal/fleettest"
)

// perAccountGap keeps one account's calls under its 10 a second over the
// fleet (the API nodes share each account's budget).
const perAccountGap = 110 * time.Millisecond

// tenant is an account with one domain, a client per API node, and two
// certificates that take turns under one name (ForceSet replaces it).
type tenant struct {
	id      string
	domain  string
	clients []*cdn.Client
	rot     [2]fleettest.Cert
	last    time.Time // of its last call, for pacing (one caller at a time)
	calls   int
}

type bench struct {
	ctx     context.Context
	f       *fleet
	cfg     config
	iss     *issuer
	tenants []*tenant
}

func newBench(ctx context.Context, f *fleet, cfg config) (*bench, error) {
	iss, err := newIssuer()
	if err != nil {
		return nil, err
	}
	b := &bench{ctx: ctx, f: f, cfg: cfg, iss: iss}
	progress("creating %d accounts, each with a domain and a certificate", cfg.accounts)
	for i := range cfg.accounts {
		var body struct{ AccountId, AccessKeyId, AccessKeySecret string }
		if err := benchAdmin.Call(f.apis[0], http.MethodPost, "/admin/v1/accounts", &body); err != nil {
			return nil, err
		}
		t := &tenant{id: body.AccountId, domain: fmt.Sprintf("b%03d.fleetbench.example", i)}
		for _, api := range f.apis {
			c, err := cdn.NewClientWithAccessKey("cn-hangzhou", body.AccessKeyId, body.AccessKeySecret)
			if err != nil {
				return nil, err
			}
			c.Domain = api.Addr("api")
			c.SetConnectTimeout(3 * time.Second)
			c.SetReadTimeout(15 * time.Second)
			t.clients = append(t.clients, c)
		}
		for j := range t.rot {
			if t.rot[j], err = iss.issue(t.domain, "rot"); err != nil {
				return nil, err
			}
		}
		b.tenants = append(b.tenants, t)
	}
	err = parallel(8, b.tenants, func(t *tenant) error {
		add := cdn.CreateAddCdnDomainRequest()
		add.DomainName, add.CdnType = t.domain, "web"
		add.Sources = `[{"content":"127.0.0.1","type":"ipaddr","priority":"20","port":80,"weight":"10"}]`
		if err := retry(func() error { _, err := t.clients[0].AddCdnDomain(add); return err }); err != nil {
			return fmt.Errorf("AddCdnDomain %s: %w", t.domain, err)
		}
		if err := retry(func() error { return fleettest.SetCert(t.clients[1], t.domain, t.rot[0], true) }); err != nil {
			return fmt.Errorf("SetDomainServerCertificate %s: %w", t.domain, err)
		}
		for _, e := range f.edges {
			if err := waitServed(e, t.domain, t.rot[0].FP, 30*time.Second); err != nil {
				return err
			}
		}
		return nil
	})
	return b, err
}

// propagation times changes from sending the call to both edges serving
// the new certificate.
func (b *bench) propagation() ([]row, error) {
	n := b.cfg.changes
	domains := min(16, len(b.tenants))
	progress("propagation: %d changes over %d domains, API nodes alternating", n, domains)
	certs := make([]fleettest.Cert, n)
	for i := range certs {
		var err error
		if certs[i], err = b.iss.issue(b.tenants[i%domains].domain, fmt.Sprintf("p%d", i)); err != nil {
			return nil, err
		}
	}
	var times edgeTimings
	var calls []time.Duration
	retried := 0
	for i := range n {
		if b.ctx.Err() != nil {
			return nil, b.ctx.Err()
		}
		t := b.tenants[i%domains]
		client := t.clients[(i/domains)%2] // each account alternates API nodes
		var sent time.Time
		var acked time.Duration
		for attempt := 0; ; attempt++ {
			if attempt > 20 {
				return nil, fmt.Errorf("change %d on %s keeps failing", i, t.domain)
			}
			sent = time.Now()
			err := fleettest.SetCert(client, t.domain, certs[i], false)
			acked = time.Since(sent)
			if err == nil {
				break
			}
			retried++
			time.Sleep(100 * time.Millisecond)
		}
		seen, err := b.untilEveryEdge(sent, fmt.Sprintf("change %d on %s", i, t.domain), func(e *fleettest.Proc) bool {
			fp, err := served(e.Addr("https"), t.domain)
			return err == nil && fp == certs[i].FP
		})
		if err != nil {
			return nil, err
		}
		calls = append(calls, acked)
		times.add(seen)
	}
	rows := []row{
		{fmt.Sprintf("propagation, SetDomainServerCertificate sent → served on **both** edges (%d changes)", n),
			spread(times.both) + fmt.Sprintf(" (%s the 250 ms p99 target)", meets(times.both, 250*time.Millisecond))},
		{"… of which the API call (sent → acknowledged)", spread(calls)},
		{"… edge e1 alone, sent → served", spread(times.each[0])},
		{"… edge e2 alone, sent → served", spread(times.each[1])},
	}
	if retried > 0 {
		rows = append(rows, row{"propagation calls refused and resent (throttled, busy)", fmt.Sprint(retried)})
	}
	return rows, nil
}

// throughput runs SetDomainServerCertificate (ForceSet, alternating
// content: every call a real write) from many callers over many accounts,
// then raw etcd puts of a certificate record's size from as many callers.
func (b *bench) throughput() ([]row, error) {
	w, d := b.cfg.concurrency, b.cfg.duration
	progress("throughput: %d callers over %d accounts for %v, then raw etcd puts", w, len(b.tenants), d)
	res := b.drive(w, func(int64) bool { return true }, d)
	apiRate := float64(res.ok) / res.elapsed.Seconds()
	ceiling := float64(len(b.tenants)) / perAccountGap.Seconds()

	size, err := b.certRecordSize()
	if err != nil {
		return nil, err
	}
	putRate, putLat, err := b.rawPuts(w, size, d)
	if err != nil {
		return nil, err
	}
	note := ""
	if apiRate > 0.9*ceiling {
		note = fmt.Sprintf(" — at the accounts' ceiling (%.0f/s): raise -accounts", ceiling)
	}
	return []row{
		{fmt.Sprintf("API throughput: SetDomainServerCertificate, ForceSet, %d callers, %d accounts, 2 API nodes", w, len(b.tenants)),
			fmt.Sprintf("**%.0f calls/s** (%d ok, %d refused, %d failed in %v%s)%s", apiRate, res.ok, res.refused, res.failed, res.elapsed.Round(time.Millisecond), res.notOK(), note)},
		{"… call latency under that load", fmt.Sprintf("p50 %s, p99 %s", ms(pct(res.latency, 50)), ms(pct(res.latency, 99)))},
		{fmt.Sprintf("raw etcd puts, %d-byte values (a certificate record), %d callers, same cluster", size, w),
			fmt.Sprintf("**%.0f puts/s**; p50 %s, p99 %s", putRate, ms(pct(putLat, 50)), ms(pct(putLat, 99)))},
		{"API calls per raw put", fmt.Sprintf("%.2f", apiRate/putRate)},
	}, nil
}

// driveResult is what a batch of API calls did.
type driveResult struct {
	ok, refused, failed int64
	elapsed             time.Duration
	latency             []time.Duration
	codes               map[string]int // error codes of the refused and failed calls
}

// notOK lists the refused and failed calls by code, if any.
func (r driveResult) notOK() string {
	if len(r.codes) == 0 {
		return ""
	}
	var parts []string
	for c, n := range r.codes {
		parts = append(parts, fmt.Sprintf("%s %d", c, n))
	}
	slices.Sort(parts)
	return " [" + strings.Join(parts, ", ") + "]"
}

// drive runs callers, each over its share of the tenants (one caller per
// tenant, so a tenant's calls are paced), until more says stop or d ends.
// Each call flips its tenant's certificate under ForceSet.
func (b *bench) drive(callers int, more func(n int64) bool, d time.Duration) driveResult {
	res := driveResult{codes: map[string]int{}}
	var n atomic.Int64
	var ok, refused, failed atomic.Int64
	var mu sync.Mutex
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for w := range callers {
		var mine []*tenant
		for i := w; i < len(b.tenants); i += callers {
			mine = append(mine, b.tenants[i])
		}
		wg.Go(func() {
			var lat []time.Duration
			defer func() { mu.Lock(); res.latency = append(res.latency, lat...); mu.Unlock() }()
			for k := 0; ; k++ {
				if b.ctx.Err() != nil || time.Now().After(deadline) {
					return
				}
				t := mine[k%len(mine)]
				if wait := perAccountGap - time.Since(t.last); wait > 0 {
					time.Sleep(wait)
				}
				if !more(n.Add(1)) {
					return
				}
				t.last = time.Now()
				t.calls++
				err := fleettest.SetCert(t.clients[t.calls%2], t.domain, t.rot[t.calls%2], true)
				lat = append(lat, time.Since(t.last))
				if err != nil {
					code := fleettest.APICode(err)
					if code == "" {
						code = "no answer"
					}
					mu.Lock()
					res.codes[code]++
					mu.Unlock()
				}
				switch {
				case err == nil:
					ok.Add(1)
				case fleettest.APIStatus(err) >= 400 && fleettest.APIStatus(err) < 500:
					refused.Add(1)
					t.calls-- // not applied: the same certificate is still due
				default:
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.ok, res.refused, res.failed = ok.Load(), refused.Load(), failed.Load()
	return res
}

// certRecordSize is the size of a certificate record as the API stores it.
func (b *bench) certRecordSize() (int, error) {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	resp, err := b.f.etcd.Get(ctx, "/cdnd/v1/served/certs/"+b.tenants[0].id+"/rot")
	if err != nil {
		return 0, err
	}
	if len(resp.Kvs) != 1 {
		return 0, errors.New("no certificate record at /cdnd/v1/served/certs/ACCOUNT/rot: has the key layout changed?")
	}
	return len(resp.Kvs[0].Value), nil
}

// modRevision is the revision that last wrote key.
func (b *bench) modRevision(key string) (int64, error) {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	resp, err := b.f.etcd.Get(ctx, key)
	if err != nil {
		return 0, err
	}
	if len(resp.Kvs) != 1 {
		return 0, fmt.Errorf("no record at %s: has the key layout changed?", key)
	}
	return resp.Kvs[0].ModRevision, nil
}

// rawPuts is clientv3 Put of size-byte values from callers goroutines over
// two clients (as two API nodes would), for d.
func (b *bench) rawPuts(callers, size int, d time.Duration) (float64, []time.Duration, error) {
	var clis []*clientv3.Client
	for range 2 {
		c, err := clientv3.New(clientv3.Config{Endpoints: b.f.cluster.Endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
		if err != nil {
			return 0, nil, err
		}
		defer c.Close()
		clis = append(clis, c)
	}
	value := string(make([]byte, size))
	var n atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	var firstErr error
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for w := range callers {
		wg.Go(func() {
			var mine []time.Duration
			defer func() { mu.Lock(); lat = append(lat, mine...); mu.Unlock() }()
			for i := 0; time.Now().Before(deadline) && b.ctx.Err() == nil; i++ {
				t0 := time.Now()
				ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
				_, err := clis[w%2].Put(ctx, fmt.Sprintf("/fleetbench-raw/%d/%d", w, i%64), value)
				cancel()
				if err != nil {
					mu.Lock()
					firstErr = cmpErr(firstErr, err)
					mu.Unlock()
					return
				}
				mine = append(mine, time.Since(t0))
				n.Add(1)
			}
		})
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds(), lat, firstErr
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// catchUp cuts e1 off from etcd, queues changes, restores the link and
// times e1's catch-up.
func (b *bench) catchUp() ([]row, error) {
	e1, e2 := b.f.edges[0], b.f.edges[1]
	progress("catch-up: cutting e1 off from etcd for %v while %d changes are made", b.cfg.outage, b.cfg.queued)
	before, err := edgeApplied(e1)
	if err != nil {
		return nil, err
	}
	cut := time.Now()
	b.f.cut.setDown(true)
	// Until e1's lease runs out the API waits on it for domains it has not
	// applied; ForceSet on a bound name does not, but be exact anyway.
	if err := benchAdmin.WaitEdges(b.f.apis[0], 1, 30*time.Second); err != nil {
		return nil, err
	}
	leaseGone := time.Since(cut)
	res := b.drive(b.cfg.concurrency, func(n int64) bool { return n <= int64(b.cfg.queued) }, 30*time.Minute)
	if res.ok < int64(b.cfg.queued)*9/10 {
		return nil, fmt.Errorf("only %d of %d queued changes succeeded (%d refused, %d failed)", res.ok, b.cfg.queued, res.refused, res.failed)
	}
	// A last change, whose certificate is new: served by e1 means caught up.
	t := b.tenants[0]
	marker, err := b.iss.issue(t.domain, "marker")
	if err != nil {
		return nil, err
	}
	if err := retry(func() error { return fleettest.SetCert(t.clients[0], t.domain, marker, false) }); err != nil {
		return nil, err
	}
	target, err := b.modRevision("/cdnd/v1/served/certs/" + t.id + "/marker")
	if err != nil {
		return nil, err
	}
	if err := waitServed(e2, t.domain, marker.FP, 30*time.Second); err != nil {
		return nil, err
	}
	if fp, _ := served(e1.Addr("https"), t.domain); fp == marker.FP {
		return nil, errors.New("e1 serves the last change although it is cut off")
	}
	stale, err := edgeApplied(e1)
	if err != nil {
		return nil, err
	}
	if stale != before {
		return nil, fmt.Errorf("e1 applied revision %d → %d while cut off", before, stale)
	}
	if wait := time.Until(cut.Add(b.cfg.outage)); wait > 0 {
		progress("changes done in %v; waiting %v more", res.elapsed.Round(time.Second), wait.Round(time.Second))
		select {
		case <-time.After(wait):
		case <-b.ctx.Done():
			return nil, b.ctx.Err()
		}
	}
	outage := time.Since(cut)
	progress("restoring e1's link after %v, %d revisions behind", outage.Round(time.Second), target-stale)
	restored := time.Now()
	b.f.cut.setDown(false)
	var appliedAt, servedAt time.Duration
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Go(func() {
		for deadline := restored.Add(5 * time.Minute); ; time.Sleep(2 * time.Millisecond) {
			if rev, err := edgeApplied(e1); err == nil && rev >= target {
				appliedAt = time.Since(restored)
				return
			}
			if time.Now().After(deadline) {
				errs[0] = errors.New("e1 did not apply the queued changes within 5 minutes")
				return
			}
		}
	})
	wg.Go(func() {
		for deadline := restored.Add(5 * time.Minute); ; time.Sleep(2 * time.Millisecond) {
			if fp, err := served(e1.Addr("https"), t.domain); err == nil && fp == marker.FP {
				servedAt = time.Since(restored)
				return
			}
			if time.Now().After(deadline) {
				errs[1] = errors.New("e1 does not serve the last change within 5 minutes")
				return
			}
		}
	})
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return []row{
		{fmt.Sprintf("edge catch-up: e1 cut off from etcd for %v while %d changes (%d revisions) were made; link restored → all applied",
			outage.Round(time.Second), res.ok+1, target-stale), "**" + ms(appliedAt) + "**"},
		{"… link restored → e1 serves the last change", ms(servedAt)},
		{"… the queued changes were made at", fmt.Sprintf("%.0f calls/s (%d ok, %d refused, %d failed%s; e1's lease gone after %v)",
			float64(res.ok)/res.elapsed.Seconds(), res.ok, res.refused, res.failed, res.notOK(), leaseGone.Round(100*time.Millisecond))},
	}, nil
}

// retry retries a setup call the fleet refuses for a moment, for up to
// 30 s.
func retry(call func() error) error { return fleettest.Retry(30*time.Second, call) }

func waitServed(e *fleettest.Proc, sni, fp string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		got, err := served(e.Addr("https"), sni)
		if err == nil && got == fp {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("edge %s does not serve %s the expected certificate (%v)", e.Name, sni, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func parallel[T any](n int, items []T, f func(T) error) error {
	sem := make(chan struct{}, n)
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for _, it := range items {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := f(it); err != nil {
				mu.Lock()
				first = cmpErr(first, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return first
}

// untilEveryEdge polls every edge, every 0.5 ms, until shows says it
// shows what was sent at sent, and returns how long after sent each did;
// after 10 s it gives up.
func (b *bench) untilEveryEdge(sent time.Time, what string, shows func(e *fleettest.Proc) bool) ([]time.Duration, error) {
	var wg sync.WaitGroup
	seen := make([]time.Duration, len(b.f.edges))
	errs := make([]error, len(b.f.edges))
	for j, e := range b.f.edges {
		wg.Go(func() {
			deadline := sent.Add(10 * time.Second)
			for !shows(e) {
				if time.Now().After(deadline) {
					errs[j] = fmt.Errorf("edge %s does not show %s after 10s", e.Name, what)
					return
				}
				time.Sleep(500 * time.Microsecond)
			}
			seen[j] = time.Since(sent)
		})
	}
	wg.Wait()
	return seen, errors.Join(errs...)
}

// edgeTimings collects, per change, when both edges showed it (the later
// of the two) and when each did.
type edgeTimings struct {
	both []time.Duration
	each [2][]time.Duration
}

func (t *edgeTimings) add(seen []time.Duration) {
	t.both = append(t.both, max(seen[0], seen[1]))
	for j := range t.each {
		t.each[j] = append(t.each[j], seen[j])
	}
}

// spread is p50, p99 and max of ds, for a row.
func spread(ds []time.Duration) string {
	return fmt.Sprintf("p50 %s, p99 %s, max %s", ms(pct(ds, 50)), ms(pct(ds, 99)), ms(pct(ds, 100)))
}

// meets says whether the p99 of ds is within target.
func meets(ds []time.Duration, target time.Duration) string {
	if pct(ds, 99) > target {
		return "misses"
	}
	return "meets"
}

// pct is the p-th percentile (nearest rank) of ds.
func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}
