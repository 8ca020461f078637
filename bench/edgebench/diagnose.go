package main

import (
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"time"

	"github.com/cdnd/cdnd/internal/edge"
	"github.com/cdnd/cdnd/internal/keyring"
	"github.com/cdnd/cdnd/internal/server"
	"github.com/cdnd/cdnd/internal/store"
)

// inProcess is a seeded installation opened in this process: the store,
// then an edge on it — the packages `cdnd serve` runs, without the API.
// cdnd serve exposes no pprof and its heap mixes etcd's index with the
// edge's, so this is how the figures of the real process are explained.
type inProcess struct {
	n          int
	opened     time.Duration // store.Open: embedded etcd start, index restore, WAL replay
	edgeReady  time.Duration // edge.Run until Ready: LoadServed and the index build
	heapBase   float64       // heap in use before anything was opened
	heapAll    float64       // store and edge
	heapStore  float64       // store alone, once the edge is stopped
	edge       *edge.Edge
	stopEdge   func() error
	closeStore func() error
	cleanup    func()
}

// openInProcess copies s's data directory to a temporary one and opens it.
// heapProfile, if set, receives a heap profile of the idle store and edge.
func openInProcess(ctx context.Context, s *seeded, cacheSize int, heapProfile string) (*inProcess, error) {
	tmp, err := os.MkdirTemp("", "edgebench-inproc-")
	if err != nil {
		return nil, err
	}
	ip := &inProcess{n: s.N, cleanup: func() { os.RemoveAll(tmp) }}
	dataDir := filepath.Join(tmp, "data")
	if err := s.copyDataDir(dataDir); err != nil {
		ip.cleanup()
		return nil, err
	}
	key, err := base64.StdEncoding.DecodeString(s.MasterKey)
	if err != nil {
		ip.cleanup()
		return nil, err
	}
	kr, err := keyring.New(key)
	if err != nil {
		ip.cleanup()
		return nil, err
	}
	ip.heapBase = heapAfterGC()
	t0 := time.Now()
	st, err := store.Open(ctx, store.Config{DataDir: dataDir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		ip.cleanup()
		return nil, err
	}
	ip.opened = time.Since(t0)
	ip.closeStore = st.Close
	t1 := time.Now()
	ip.edge = edge.New(edge.Config{Store: st, Keyring: kr, EdgeID: "inprocess", Logger: slog.New(slog.DiscardHandler), CacheSize: cacheSize})
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- ip.edge.Run(runCtx) }()
	for !ip.edge.Ready() {
		time.Sleep(time.Millisecond)
	}
	ip.edgeReady = time.Since(t1)
	ip.stopEdge = func() error {
		cancel()
		return <-done
	}
	ip.heapAll = heapAfterGC()
	if err := writeHeapProfile(heapProfile); err != nil {
		ip.close()
		return nil, err
	}
	return ip, nil
}

// measureStoreAlone stops the edge and reads the heap the store keeps.
func (ip *inProcess) measureStoreAlone() error {
	if err := ip.stopEdge(); err != nil {
		return err
	}
	ip.edge = nil
	ip.heapStore = heapAfterGC()
	return nil
}

func (ip *inProcess) close() {
	if ip.edge != nil {
		_ = ip.stopEdge()
	}
	_ = ip.closeStore()
	ip.cleanup()
}

// edgeHeap and storeHeap are the two shares of cdnd serve's idle heap.
func (ip *inProcess) edgeHeap() float64  { return ip.heapAll - ip.heapStore }
func (ip *inProcess) storeHeap() float64 { return ip.heapStore - ip.heapBase }

func heapAfterGC() float64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapInuse)
}

// diagnoseMain explains the start-up, memory and handshake figures with an
// in-process installation, optionally writing pprof profiles.
//
//	go run ./bench/edgebench diagnose -n 100000 -cpuprofile start.pprof -heapprofile heap.pprof
//	go run ./bench/edgebench diagnose -n 100000 -loadprofile load.pprof
func diagnoseMain(args []string) error {
	fs := flag.NewFlagSet("diagnose", flag.ContinueOnError)
	n := fs.Int("n", 100000, "seeded domain count (seeded first if not cached)")
	cacheDir := fs.String("cache-dir", defaultCacheDir(), "seed cache, as for the benchmark")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the start-up (store open and edge load) here")
	heapProfile := fs.String("heapprofile", "", "write a heap profile of the idle store and edge here (and, with -loadprofile, one with every certificate parsed to FILE.loaded)")
	loadProfile := fs.String("loadprofile", "", "then serve HTTPS in process, warm every certificate and write a CPU profile of a saturated handshake run here")
	cacheSize := fs.Int("cache-size", 0, "edge certificate cache size (default: every certificate)")
	duration := fs.Duration("duration", 10*time.Second, "length of the profiled handshake run")
	serve := fs.Bool("serve", false, "instead: start the whole of cdnd serve (internal/server) in this process and report (and -heapprofile) its idle heap; -cpuprofile then profiles its start, or with -restart its restart")
	edgeAlone := fs.Bool("edge-alone", false, "with -loadprofile: stop the watch and close the store (etcd) before the handshake run, so the heap holds what a cdnd edge of a fleet holds")
	restart := fs.Bool("restart", false, "with -serve: start, stop, and measure a second start, which reads the edge snapshot the first one wrote")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cacheSize == 0 {
		*cacheSize = cacheFor(*n)
	}
	ctx := context.Background()
	s, err := loadOrSeed(ctx, *cacheDir, *n, logf)
	if err != nil {
		return err
	}
	if *serve {
		return diagnoseServe(ctx, s, *cacheSize, *restart, *cpuProfile, *heapProfile)
	}
	stopProfile, err := startCPUProfile(*cpuProfile)
	if err != nil {
		return err
	}
	ip, err := openInProcess(ctx, s, *cacheSize, *heapProfile)
	stopProfile()
	if err != nil {
		return err
	}
	defer ip.close()
	fmt.Printf("diagnose: %d domains (store + edge in this process, as in cdnd serve, without the API)\n", *n)
	fmt.Printf("  store.Open (embedded etcd: index restore, WAL replay)  %7.3f s\n", ip.opened.Seconds())
	fmt.Printf("  edge.Run until Ready (LoadServed, index build)        %7.3f s\n", ip.edgeReady.Seconds())
	if *loadProfile != "" {
		e := ip.edge
		if *edgeAlone {
			// The index keeps serving what it has: fail-static.
			if err := ip.measureStoreAlone(); err != nil {
				return err
			}
			closeStore := ip.closeStore
			ip.closeStore = func() error { return nil }
			if err := closeStore(); err != nil {
				return fmt.Errorf("closing the store: %w", err)
			}
		}
		if err := profileLoad(ctx, e, *n, *loadProfile, *duration); err != nil {
			return err
		}
		if *heapProfile != "" {
			runtime.GC()
			return writeHeapProfile(*heapProfile + ".loaded")
		}
		return nil
	}
	if err := ip.measureStoreAlone(); err != nil {
		return err
	}
	fmt.Printf("  idle heap in use: store+edge %.1f MB (%s/domain) = store (etcd) %.1f MB (%s/domain) + edge index %.1f MB (%s/domain)\n",
		(ip.heapAll-ip.heapBase)/(1<<20), bytesPer(ip.heapAll-ip.heapBase, *n),
		ip.storeHeap()/(1<<20), bytesPer(ip.storeHeap(), *n), ip.edgeHeap()/(1<<20), bytesPer(ip.edgeHeap(), *n))
	return nil
}

// profileLoad serves HTTPS from e in this process (pinned to core 0 with
// GOMAXPROCS 1, as cdnd serve under taskset -c 0), warms every
// certificate, then profiles the CPU during a saturated random-SNI run of
// the load generator on core 1, and reports the garbage collector's share.
func profileLoad(ctx context.Context, e *edge.Edge, n int, path string, d time.Duration) error {
	pin := detectPinning()
	if err := pin.pinSelf(0); err != nil {
		return err
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { _ = e.Serve(sctx, ln, nil) }()
	addr := ln.Addr().String()
	if _, err := runLoad(ctx, pin, loadSpec{Addr: addr, N: n, All: true, Concurrency: 64, Client: "raw"}); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	gc0 := gcCPU()
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	r, err := runLoad(ctx, pin, loadSpec{Addr: addr, N: n, Duration: d, Concurrency: 64, Client: "raw", ServerPIDs: []int{os.Getpid()}})
	pprof.StopCPUProfile()
	if err != nil {
		return err
	}
	gc := gcCPU() - gc0
	fmt.Printf("  in-process handshakes at %d domains: %.0f/s, %.0f per CPU-second; GC used %.2f CPU-s of %.2f (%.0f%%)\n",
		n, r.Rate, r.perServerCPUSecond(), gc, r.ServerCPU, 100*gc/r.ServerCPU)
	fmt.Printf("  heap in use with every certificate parsed: %.1f MB\n", heapAfterGC()/(1<<20))
	return nil
}

// gcCPU is the CPU time the garbage collector has used (runtime/metrics).
func gcCPU() float64 {
	s := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(s)
	return s[0].Value.Float64()
}

// writeHeapProfile writes the heap profile (as of the last GC) to path, if set.
func writeHeapProfile(path string) error {
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// diagnoseServe starts everything cdnd serve runs (internal/server) in this
// process on a copy of s and reports its start-up (optionally profiled) and
// its idle heap after GC, to compare with the store and edge alone. With
// restart, the first start only writes the edge snapshot that the measured
// second one reads.
func diagnoseServe(ctx context.Context, s *seeded, cacheSize int, restart bool, cpuProfile, heapProfile string) error {
	tmp, err := os.MkdirTemp("", "edgebench-serve-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	dataDir := filepath.Join(tmp, "data")
	if err := s.copyDataDir(dataDir); err != nil {
		return err
	}
	start := func() (*server.Server, time.Duration, error) {
		t0 := time.Now()
		srv, err := server.Start(ctx, server.Config{
			Role: server.RoleServe, DataDir: dataDir, Store: store.Config{DataDir: dataDir},
			APIAddr: "127.0.0.1:0", HTTPSAddr: "127.0.0.1:0", HTTPAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0",
			CertCacheSize: cacheSize, Logger: slog.New(slog.DiscardHandler), Stdout: io.Discard,
			Env: server.Env{RootAccessKeyID: rootAccessKeyID, RootAccessKeySecret: rootAccessKeySecret, AdminToken: adminToken, MasterKey: s.MasterKey},
		})
		if err != nil {
			return nil, 0, err
		}
		for !srv.Ready() {
			time.Sleep(time.Millisecond)
		}
		return srv, time.Since(t0), nil
	}
	what := "start"
	if restart {
		srv, first, err := start()
		if err != nil {
			return err
		}
		srv.Shutdown(context.Background())
		fmt.Printf("diagnose -serve: first start (no snapshot) ready in %.3f s\n", first.Seconds())
		what = "restart"
	}
	base := heapAfterGC()
	stopProfile, err := startCPUProfile(cpuProfile)
	if err != nil {
		return err
	}
	srv, ready, err := start()
	stopProfile()
	if err != nil {
		return err
	}
	defer srv.Shutdown(context.Background())
	heap := heapAfterGC() - base
	fmt.Printf("diagnose -serve: %d domains: %s ready in %.3f s; idle heap in use %.1f MB (%s/domain)\n", s.N, what, ready.Seconds(), heap/(1<<20), bytesPer(heap, s.N))
	return writeHeapProfile(heapProfile)
}

// startCPUProfile profiles the CPU into path until the returned function is
// called; with no path it does nothing.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
