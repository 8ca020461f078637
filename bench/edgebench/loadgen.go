package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cdnd/cdnd/bench/internal/procstat"
)

// loadSpec is one run of the load generator.
type loadSpec struct {
	Addr        string        // the server's HTTPS address
	N           int           // SNI names drawn uniformly from domainName(0..N-1)
	Warmup      time.Duration // load before the measured window, not counted
	Duration    time.Duration // the measured window
	Concurrency int           // handshakes in flight
	Rate        float64       // 0: closed loop (saturate); else handshakes/s, open loop
	All         bool          // instead: one handshake per name, in order, then stop
	Client      string        // "raw" (rawClient) or "go" (crypto/tls)
	ServerPIDs  []int         // processes whose CPU time is sampled over the window
}

// loadResult is what a load generator run reports (as JSON on stdout).
type loadResult struct {
	Handshakes int     `json:"handshakes"`
	Errors     int     `json:"errors"`
	FirstError string  `json:"firstError,omitempty"`
	Seconds    float64 `json:"seconds"`
	Rate       float64 `json:"rate"`   // handshakes/s over the window
	P50        float64 `json:"p50"`    // ms
	P99        float64 `json:"p99"`    // ms
	P999       float64 `json:"p999"`   // ms
	ServerCPU  float64 `json:"srvCPU"` // server CPU seconds over the window
	ClientCPU  float64 `json:"cliCPU"` // this process's CPU seconds over the window
	OtherCPU   float64 `json:"othCPU"` // CPU seconds of every other process over the window
}

// serverUtil is the share of one core the server used during the window.
func (r loadResult) serverUtil() float64 { return r.ServerCPU / r.Seconds }

// otherUtil is the CPU (in cores) everything else on the machine used.
func (r loadResult) otherUtil() float64 { return r.OtherCPU / r.Seconds }

// clientUtil is the share of one core the load generator used.
func (r loadResult) clientUtil() float64 { return r.ClientCPU / r.Seconds }

// perServerCPUSecond is handshakes per second of server CPU: the server's
// capacity whether or not the load generator saturated it.
func (r loadResult) perServerCPUSecond() float64 {
	if r.ServerCPU == 0 {
		return 0
	}
	return float64(r.Handshakes) / r.ServerCPU
}

// runLoad runs the load generator as a separate process pinned to core 1:
// this binary re-executed in loadgen mode. A separate process keeps its
// garbage collector and scheduler out of the parent's timing of API calls,
// and its CPU use is its own.
func runLoad(ctx context.Context, pin pinning, s loadSpec) (loadResult, error) {
	self, err := os.Executable()
	if err != nil {
		return loadResult{}, err
	}
	pids := make([]string, len(s.ServerPIDs))
	for i, p := range s.ServerPIDs {
		pids[i] = strconv.Itoa(p)
	}
	cmd := pin.command(1, self, "loadgen",
		"-addr", s.Addr, "-n", strconv.Itoa(s.N),
		"-warmup", s.Warmup.String(), "-duration", s.Duration.String(),
		"-concurrency", strconv.Itoa(s.Concurrency),
		"-rate", strconv.FormatFloat(s.Rate, 'f', -1, 64),
		"-all="+strconv.FormatBool(s.All), "-client", s.Client, "-pids", strings.Join(pids, ","))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return loadResult{}, fmt.Errorf("loadgen: %v: %s", err, stderr.String())
	}
	var r loadResult
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		return r, fmt.Errorf("loadgen output: %v: %q", err, stdout.String())
	}
	if ctx.Err() != nil {
		return r, ctx.Err()
	}
	return r, nil
}

// loadgenMain is the load generator process: flags in, JSON out.
func loadgenMain(args []string) error {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	var s loadSpec
	var pids string
	fs.StringVar(&s.Addr, "addr", "", "server address")
	fs.IntVar(&s.N, "n", 1, "domains")
	fs.DurationVar(&s.Warmup, "warmup", 0, "unmeasured load first")
	fs.DurationVar(&s.Duration, "duration", 10*time.Second, "measured window")
	fs.IntVar(&s.Concurrency, "concurrency", 64, "handshakes in flight")
	fs.Float64Var(&s.Rate, "rate", 0, "handshakes/s (0: as fast as possible)")
	fs.BoolVar(&s.All, "all", false, "one handshake per name, then stop")
	fs.StringVar(&pids, "pids", "", "server PIDs, comma-separated")
	fs.StringVar(&s.Client, "client", "raw", "raw (minimal TLS 1.3 client) or go (crypto/tls)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, f := range strings.FieldsFunc(pids, func(r rune) bool { return r == ',' }) {
		p, err := strconv.Atoi(f)
		if err != nil {
			return err
		}
		s.ServerPIDs = append(s.ServerPIDs, p)
	}
	hs, err := handshaker(s.Client)
	if err != nil {
		return err
	}
	var r loadResult
	if s.All {
		r, err = handshakeAll(s, hs)
	} else {
		r, err = generate(s, hs)
	}
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}

// handshaker returns the client the load generator uses.
func handshaker(client string) (func(addr, sni string) error, error) {
	switch client {
	case "go":
		return handshake, nil
	case "raw", "":
		c, err := newRawClient()
		if err != nil {
			return nil, err
		}
		return c.handshake, nil
	}
	return nil, fmt.Errorf("-client %q: want raw or go", client)
}

// handshake is one full TLS 1.3 handshake with a fresh client: no session
// cache (so no resumption), X25519 only (what both servers pick first; no
// post-quantum hybrid, whose extra cost would differ between Go and
// OpenSSL 3.0, which lacks it). The chain is not verified, to keep the
// client cheap enough for one core to load the server's core; the served
// leaf is checked by name, so a wrong certificate counts as an error.
func handshake(addr, sni string) error {
	d := net.Dialer{Timeout: 5 * time.Second}
	raw, err := d.Dial("tcp", addr)
	if err != nil {
		return err
	}
	conn := tls.Client(raw, &tls.Config{
		ServerName:         sni,
		InsecureSkipVerify: true,
		MinVersion:         tls.VersionTLS13,
		CurvePreferences:   []tls.CurveID{tls.X25519},
	})
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if err := conn.Handshake(); err != nil {
		return err
	}
	if cn := conn.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != sni {
		return fmt.Errorf("SNI %s was served the certificate of %s", sni, cn)
	}
	return nil
}

// errCounter keeps the error count and the first error.
type errCounter struct {
	mu    sync.Mutex
	n     int
	first string
}

func (e *errCounter) add(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.n++
	if e.first == "" {
		e.first = err.Error()
	}
}

// handshakeAll does one handshake per name, so that a server with a lazy
// certificate cache is measured warm, as it is after running a while.
func handshakeAll(s loadSpec, handshake func(addr, sni string) error) (loadResult, error) {
	start := time.Now()
	var next atomic.Int64
	var errs errCounter
	var wg sync.WaitGroup
	for w := 0; w < s.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < s.N; i = int(next.Add(1)) - 1 {
				if err := handshake(s.Addr, domainName(i)); err != nil {
					errs.add(err)
				}
			}
		}()
	}
	wg.Wait()
	sec := time.Since(start).Seconds()
	return loadResult{Handshakes: s.N - errs.n, Errors: errs.n, FirstError: errs.first, Seconds: sec, Rate: float64(s.N) / sec}, nil
}

// generate runs handshakes with random SNI for warmup+duration and reports
// the window. Closed loop (Rate 0): Concurrency workers back to back, the
// most the server (or this core) can do. Open loop (Rate > 0): handshakes
// are scheduled at the rate and each one's latency counts from when it was
// scheduled, so a stalled server is not hidden by the client waiting.
func generate(s loadSpec, handshake func(addr, sni string) error) (loadResult, error) {
	const (
		warming = iota
		measuring
		done
	)
	var phase atomic.Int32
	var winStart atomic.Int64 // UnixNano
	var errs errCounter
	lat := make([][]float64, s.Concurrency)
	var tokens chan time.Time
	if s.Rate > 0 {
		tokens = make(chan time.Time, 4*s.Concurrency)
	}
	var wg sync.WaitGroup
	for w := 0; w < s.Concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			for phase.Load() != done {
				start := time.Now()
				if tokens != nil {
					t, ok := <-tokens
					if !ok {
						return
					}
					start = t
				}
				err := handshake(s.Addr, domainName(rng.IntN(s.N)))
				end := time.Now()
				if phase.Load() != measuring || start.UnixNano() < winStart.Load() {
					continue
				}
				if err != nil {
					errs.add(err)
					continue
				}
				lat[w] = append(lat[w], float64(end.Sub(start))/float64(time.Millisecond))
			}
		}()
	}
	stopTicker := make(chan struct{})
	if tokens != nil {
		go pace(s.Rate, tokens, stopTicker)
	}
	time.Sleep(s.Warmup)
	srv0, err := procstat.CPUTimes(s.ServerPIDs)
	if err != nil {
		return loadResult{}, err
	}
	cli0, err := procstat.CPUTime(os.Getpid())
	if err != nil {
		return loadResult{}, err
	}
	all0, err := machineCPU()
	if err != nil {
		return loadResult{}, err
	}
	t0 := time.Now()
	winStart.Store(t0.UnixNano())
	phase.Store(measuring)
	time.Sleep(s.Duration)
	phase.Store(done)
	window := time.Since(t0)
	srv1, err1 := procstat.CPUTimes(s.ServerPIDs)
	cli1, err2 := procstat.CPUTime(os.Getpid())
	all1, err3 := machineCPU()
	close(stopTicker)
	wg.Wait()
	if err := errors.Join(err1, err2, err3); err != nil {
		return loadResult{}, err
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	r := loadResult{
		Handshakes: len(all),
		Errors:     errs.n,
		FirstError: errs.first,
		Seconds:    window.Seconds(),
		Rate:       float64(len(all)) / window.Seconds(),
		P50:        quantile(all, 0.50),
		P99:        quantile(all, 0.99),
		P999:       quantile(all, 0.999),
		ServerCPU:  (srv1 - srv0).Seconds(),
		ClientCPU:  (cli1 - cli0).Seconds(),
	}
	r.OtherCPU = max(0, (all1-all0).Seconds()-r.ServerCPU-r.ClientCPU)
	return r, nil
}

// pace hands out scheduled start times at rate until stop, then closes
// tokens. When the workers fall behind, the buffer fills and later tokens
// carry their scheduled (earlier) times, so waiting shows in the latency.
func pace(rate float64, tokens chan<- time.Time, stop <-chan struct{}) {
	defer close(tokens)
	interval := time.Duration(float64(time.Second) / rate)
	next := time.Now()
	for {
		select {
		case <-stop:
			return
		case tokens <- next:
		}
		next = next.Add(interval)
		if d := time.Until(next); d > 0 {
			select {
			case <-stop:
				return
			case <-time.After(d):
			}
		}
	}
}

// quantile of sorted values (nearest rank); 0 for none.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
