package e2e

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/cdn"

	"github.com/cdnd/cdnd/internal/acme/acmetest"
	"github.com/cdnd/cdnd/internal/certs/certstest"
	"github.com/cdnd/cdnd/internal/server"
)

// acmeBenchDomains is how many domains BenchmarkFreeCertificatesBulk
// switches to free at once (ACME_BENCH_DOMAINS is not read: the figure in
// the README is for 1,000).
const acmeBenchDomains = 1000

// benchAccount creates an account on the node through its operator API.
func benchAccount(b *testing.B, n *acmeNode) *cdn.Client {
	var body struct{ AccountId, AccessKeyId, AccessKeySecret string }
	req, _ := http.NewRequest(http.MethodPost, "http://"+n.srv.AdminAddr.String()+"/admin/v1/accounts", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		b.Fatal(err)
	}
	c, err := cdn.NewClientWithAccessKey("cn-hangzhou", body.AccessKeyId, body.AccessKeySecret)
	if err != nil {
		b.Fatal(err)
	}
	c.Domain = n.srv.APIAddr.String()
	return c
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkFreeCertificatesBulk switches 1,000 domains, each serving an
// uploaded certificate, to free at once (BatchSetCdnDomainServerCertificate,
// 50 a call, all calls together) against Pebble in this process, and
// reports the time until all are success, orders per second, CPU per
// issued certificate (the whole process: cdnd, its etcd and Pebble), and
// the handshakes that failed meanwhile (each domain keeps serving its
// uploaded certificate until the free one is issued). It runs once,
// whatever b.N.
func BenchmarkFreeCertificatesBulk(b *testing.B) {
	warnings := &syncBuffer{}
	n := startACMENode(b, acmetest.Options{}, nil, func(c *server.Config, _ *acmetest.Pebble) {
		c.Logger = slog.New(slog.NewTextHandler(warnings, &slog.HandlerOptions{Level: slog.LevelWarn}))
	})
	const perAccount = 50 // the default domain quota
	chain, key := certstest.Valid(b, "bench.acme.test")
	var groups [][]string
	var clients []*cdn.Client
	var all []string
	for range acmeBenchDomains / perAccount {
		c := benchAccount(b, n)
		var group []string
		for range perAccount {
			d := uniqueDomain("acme.test")
			group = append(group, d)
			all = append(all, d)
		}
		groups, clients = append(groups, group), append(clients, c)
	}
	n.pebble.Point(b, all...)
	// The set-up runs one call at a time: it is not what is measured.
	for i, group := range groups {
		for _, d := range group {
			req := cdn.CreateAddCdnDomainRequest()
			req.DomainName, req.CdnType, req.Sources = d, "web", testSources
			if err := unthrottled(func() error { _, err := clients[i].AddCdnDomain(req); return err }); err != nil {
				b.Fatal(err)
			}
		}
		up := cdn.CreateBatchSetCdnDomainServerCertificateRequest()
		up.DomainName, up.SSLProtocol, up.CertType, up.SSLPub, up.SSLPri = strings.Join(group, ","), "on", "upload", string(chain), string(key)
		if err := retryBusy(func() error { _, err := clients[i].BatchSetCdnDomainServerCertificate(up); return err }); err != nil {
			b.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	var handshakes, failed atomic.Int64
	stop := make(chan struct{})
	var probes sync.WaitGroup
	for g := range 2 {
		probes.Add(1)
		go func() {
			defer probes.Done()
			for i := g; ; i += 7 {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := servedLeaf(n.srv.HTTPSAddr.String(), all[i%len(all)]); err != nil {
					failed.Add(1)
				}
				handshakes.Add(1)
			}
		}()
	}
	b.ResetTimer()
	cpu0, start := cpuTime(), time.Now()
	for i, group := range groups {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := cdn.CreateBatchSetCdnDomainServerCertificateRequest()
			req.DomainName, req.SSLProtocol, req.CertType = strings.Join(group, ","), "on", "free"
			if err := retryBusy(func() error { _, err := clients[i].BatchSetCdnDomainServerCertificate(req); return err }); err != nil {
				b.Error(err)
			}
		}()
	}
	wg.Wait()
	called := time.Since(start)
	for deadline := time.Now().Add(10 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		recs := freeCerts(b, n.srv)
		done := 0
		for _, r := range recs {
			if r.Status == "success" {
				done++
			}
		}
		if done == len(all) {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d success after 10 min", done, len(all))
		}
	}
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	close(stop)
	probes.Wait()
	b.StopTimer()
	b.ReportMetric(called.Seconds(), "s-calls")
	b.ReportMetric(elapsed.Seconds(), "s-all-success")
	b.ReportMetric(float64(n.pebble.TotalOrders())/elapsed.Seconds(), "orders/s")
	b.ReportMetric(float64(cpu.Milliseconds())/float64(len(all)), "cpu-ms/cert")
	b.ReportMetric(float64(handshakes.Load()), "handshakes")
	b.ReportMetric(float64(failed.Load()), "failed-handshakes")
	b.ReportMetric(float64(n.pebble.TotalOrders()), "orders")
	// Orders beyond one a domain are retries after a failure: say which.
	req, _ := http.NewRequest(http.MethodGet, "http://"+n.srv.AdminAddr.String()+"/metrics", nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, line := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(line, "cdnd_acme_orders_total") {
				b.Log(line)
			}
		}
	}
	lines := strings.Split(warnings.String(), "\n")
	b.Logf("%d warnings; the first: %s", len(lines)-1, strings.Join(lines[:min(5, len(lines))], "\n"))
}

// retryBusy retries a call refused for the moment (throttled, or a domain
// still configuring).
func retryBusy(call func() error) error {
	for {
		err := call()
		if err == nil || (!strings.Contains(err.Error(), "Throttling") && !strings.Contains(err.Error(), "ServiceBusy")) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// BenchmarkFreeCertificateCallToServed measures, for one domain at a time,
// the time from the SetCdnDomainSSLCertificate call to a handshake that
// gets the issued certificate, and reports its p50 and p99.
func BenchmarkFreeCertificateCallToServed(b *testing.B) {
	n := startACMENode(b, acmetest.Options{}, nil, nil)
	c := benchAccount(b, n)
	var lat []time.Duration
	for i := 0; i < b.N; i++ {
		if i%50 == 49 {
			c = benchAccount(b, n) // the domain quota
		}
		b.StopTimer()
		d := uniqueDomain("acme.test")
		n.pebble.Point(b, d)
		req := cdn.CreateAddCdnDomainRequest()
		req.DomainName, req.CdnType, req.Sources = d, "web", testSources
		if err := unthrottled(func() error { _, err := c.AddCdnDomain(req); return err }); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		if err := retryBusy(func() error { return setFree(c, d) }); err != nil {
			b.Fatal(err)
		}
		for {
			if leaf, err := servedLeaf(n.srv.HTTPSAddr.String(), d); err == nil && strings.Contains(leaf.Issuer.CommonName, "Pebble") {
				break
			}
			if time.Since(start) > 30*time.Second {
				b.Fatalf("%s not served within 30 s", d)
			}
			time.Sleep(2 * time.Millisecond)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Milliseconds()), "p99-ms")
	b.Logf("call to served over %d domains: p50 %v p99 %v max %v", len(lat), lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1])
}
