package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/cdn"
	"github.com/cdnd/cdnd/internal/certs/certstest"
	"github.com/cdnd/cdnd/internal/store"
)

// benchCallsPerAccount stays under SetDomainServerCertificate's burst of 10
// per account, so the benchmark measures the stack, not the throttle.
const benchCallsPerAccount = 8

type benchTarget struct {
	a    *account
	name string
}

// benchTargets prepares accounts, each with one online domain, enough for n
// calls.
func benchTargets(b *testing.B, n int) chan benchTarget {
	targets := make(chan benchTarget, n/benchCallsPerAccount+1)
	for i := 0; i <= n/benchCallsPerAccount; i++ {
		a := newAccountB(b)
		name := uniqueDomain("bench.example")
		req := cdn.CreateAddCdnDomainRequest()
		req.DomainName, req.CdnType, req.Sources = name, "web", testSources
		if _, err := a.cdn.AddCdnDomain(req); err != nil {
			b.Fatal(err)
		}
		targets <- benchTarget{a, name}
	}
	return targets
}

func newAccountB(b *testing.B) *account {
	var body struct{ AccountId, AccessKeyId, AccessKeySecret string }
	if st := adminCallB(b, "/admin/v1/accounts", &body); st != 201 {
		b.Fatalf("create account: %d", st)
	}
	c, err := cdn.NewClientWithAccessKey("cn-hangzhou", body.AccessKeyId, body.AccessKeySecret)
	if err != nil {
		b.Fatal(err)
	}
	c.Domain = srv.APIAddr.String()
	return &account{ID: body.AccountId, AccessKeyID: body.AccessKeyId, Secret: body.AccessKeySecret, cdn: c}
}

// benchClients are the numbers of concurrent callers both benchmarks below
// run with, so that their figures compare side by side.
var benchClients = []int{1, 8, 64}

// runCallers makes b.N calls from workers goroutines (call gets the worker
// and its call number) and reports the calls' p50 and p99 latency.
func runCallers(b *testing.B, workers int, call func(worker, n int) error) {
	var next atomic.Int64
	var mu sync.Mutex
	latencies := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; next.Add(1) <= int64(b.N); n++ {
				start := time.Now()
				if err := call(w, n); err != nil {
					b.Error(err)
					return
				}
				d := time.Since(start)
				mu.Lock()
				latencies = append(latencies, d)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	slices.Sort(latencies)
	if len(latencies) > 0 {
		b.ReportMetric(float64(latencies[len(latencies)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(latencies[len(latencies)*99/100].Microseconds())/1000, "p99-ms")
	}
}

// BenchmarkSetDomainServerCertificate measures the whole stack: the real
// SDK signs, the gateway verifies the signature, the service parses and
// matches the certificate and key, seals the key and commits certificate,
// binding, nonce claim and audit record in one etcd transaction. Every call
// is a real change (two certificates alternate under one name with
// ForceSet=1), and a domain takes its next change only once the edge has
// applied the previous one, as the API requires.
func BenchmarkSetDomainServerCertificate(b *testing.B) {
	chains, keys := make([]string, 2), make([]string, 2)
	for i := range chains {
		c, k := certstest.Valid(b, "bench.example")
		chains[i], keys[i] = string(c), string(k)
	}
	runAccountCalls(b, func(tgt benchTarget, n int) error {
		req := cdn.CreateSetDomainServerCertificateRequest()
		req.DomainName, req.ServerCertificateStatus, req.CertName, req.ForceSet = tgt.name, "on", "bench", "1"
		req.ServerCertificate, req.PrivateKey = chains[n%2], keys[n%2]
		_, err := tgt.a.cdn.SetDomainServerCertificate(req)
		return err
	})
}

// BenchmarkSignedReadFloor is what any call costs before it does anything:
// the SDK signs a request, the gateway verifies it (one read of the
// AccessKey), and DescribeVerifyContent answers from memory. Set against
// BenchmarkRawEtcdPut it shows how much of a write call's cost is the
// OpenAPI protocol itself rather than the write.
func BenchmarkSignedReadFloor(b *testing.B) {
	runAccountCalls(b, func(tgt benchTarget, _ int) error {
		req := cdn.CreateDescribeVerifyContentRequest()
		req.DomainName = tgt.name
		_, err := tgt.a.cdn.DescribeVerifyContent(req)
		return err
	})
}

// runAccountCalls runs call with each of benchClients callers, each moving
// to a fresh account and domain every benchCallsPerAccount calls.
func runAccountCalls(b *testing.B, call func(tgt benchTarget, n int) error) {
	for _, workers := range benchClients {
		b.Run(fmt.Sprintf("clients=%d", workers), func(b *testing.B) {
			targets := benchTargets(b, b.N+workers*benchCallsPerAccount)
			current := make([]benchTarget, workers)
			runCallers(b, workers, func(w, n int) error {
				if n%benchCallsPerAccount == 0 {
					current[w] = <-targets
				}
				return call(current[w], n)
			})
		})
	}
}

// BenchmarkRawEtcdPut is the floor under the benchmark above: one etcd
// transaction writing a value of the size of a stored certificate record.
func BenchmarkRawEtcdPut(b *testing.B) {
	st := srv.Store().WithPrefix("/bench-raw")
	value := json.RawMessage(`"` + strings.Repeat("x", certRecordSize(b)) + `"`)
	ctx := context.Background()
	for _, workers := range benchClients {
		b.Run(fmt.Sprintf("clients=%d", workers), func(b *testing.B) {
			runCallers(b, workers, func(w, n int) error {
				_, err := st.Txn().Put(store.Key(fmt.Sprintf("k/%d/%d", w, n%100)), value).Commit(ctx)
				return err
			})
		})
	}
}

// certRecordSize is the size of a stored certificate record with an ECDSA
// chain of two, as the benchmark above writes.
func certRecordSize(b *testing.B) int {
	targets := benchTargets(b, 1)
	tgt := <-targets
	chain, key := certstest.Valid(b, "bench.example")
	req := cdn.CreateSetDomainServerCertificateRequest()
	req.DomainName, req.ServerCertificateStatus, req.CertName = tgt.name, "on", "size"
	req.ServerCertificate, req.PrivateKey = string(chain), string(key)
	if err := unthrottled(func() error { _, err := tgt.a.cdn.SetDomainServerCertificate(req); return err }); err != nil {
		b.Fatal(err)
	}
	var raw json.RawMessage
	if _, err := srv.Store().Get(context.Background(), store.CertKey(tgt.a.ID, "size"), &raw); err != nil {
		b.Fatal(err)
	}
	return len(raw)
}
