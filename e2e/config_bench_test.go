package e2e

import (
	"crypto/tls"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/cdn"

	"github.com/cdnd/cdnd/internal/certs/certstest"
)

// configBenchAccounts spreads the changes so that no account nears
// BatchSetCdnDomainConfig's 3 calls a second: the benchmark measures the
// stack, not the throttle.
const configBenchAccounts = 100

// BenchmarkDomainConfigPropagation is a setting change as a customer makes
// it: BatchSetCdnDomainConfig through the real SDK (https_option's http2
// toggled on one HTTPS domain), then fresh handshakes against the edge until
// one negotiates the new ALPN. It reports the call's p50/p99 and, like
// bench/edgebench for certificates, the time from the call's return to the
// end of the first handshake that shows the change (an upper bound: it
// includes up to one polling handshake).
func BenchmarkDomainConfigPropagation(b *testing.B) {
	type target struct {
		a    *account
		name string
		h2   bool
	}
	targets := make([]*target, configBenchAccounts)
	for i := range targets {
		a := newAccountB(b)
		name := uniqueDomain("configbench.example")
		req := cdn.CreateAddCdnDomainRequest()
		req.DomainName, req.CdnType, req.Sources = name, "web", testSources
		if _, err := a.cdn.AddCdnDomain(req); err != nil {
			b.Fatal(err)
		}
		chain, key := certstest.Valid(b, name)
		if err := a.setCert(name, "bench", string(chain), string(key)); err != nil {
			b.Fatal(err)
		}
		targets[i] = &target{a: a, name: name, h2: true}
	}
	var calls, served []time.Duration
	i := 0
	for b.Loop() {
		tg := targets[i%len(targets)]
		i++
		tg.h2 = !tg.h2
		v, want := "off", "http/1.1"
		if tg.h2 {
			v, want = "on", "h2"
		}
		req := cdn.CreateBatchSetCdnDomainConfigRequest()
		req.DomainNames = tg.name
		req.Functions = `[{"functionName":"https_option","functionArgs":[{"argName":"http2","argValue":"` + v + `"}]}]`
		t0 := time.Now()
		if _, err := tg.a.cdn.BatchSetCdnDomainConfig(req); err != nil {
			b.Fatal(err)
		}
		returned := time.Now()
		calls = append(calls, returned.Sub(t0))
		for {
			if alpn(tg.name) == want {
				break
			}
			if time.Since(returned) > 5*time.Second {
				b.Fatalf("%s: ALPN not %s within 5s", tg.name, want)
			}
		}
		served = append(served, time.Since(returned))
	}
	report := func(ds []time.Duration, unit string) {
		slices.Sort(ds)
		b.ReportMetric(float64(ds[len(ds)/2].Microseconds())/1000, unit+"-p50-ms")
		b.ReportMetric(float64(ds[len(ds)*99/100].Microseconds())/1000, unit+"-p99-ms")
	}
	report(calls, "call")
	report(served, "served")
}

// alpn is the protocol a fresh handshake for sni negotiates when offering
// h2 and http/1.1; "" when the handshake fails.
func alpn(sni string) string {
	raw, err := net.DialTimeout("tcp", srv.HTTPSAddr.String(), 5*time.Second)
	if err != nil {
		return ""
	}
	conn := tls.Client(raw, &tls.Config{ServerName: sni, InsecureSkipVerify: true, NextProtos: []string{"h2", "http/1.1"}})
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if conn.Handshake() != nil {
		return ""
	}
	return conn.ConnectionState().NegotiatedProtocol
}
