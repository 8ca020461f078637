// Command edgebench measures cdnd's edge against the issue "The edge: HTTPS
// for every accelerated domain, fed live by the store, flat at 100k
// domains": certificate propagation after SetDomainServerCertificate, full
// TLS 1.3 handshake rates at 1, 10k and 100k domains (and nginx's on the
// same certificates), idle memory per domain, start-up time, and the cost
// of one change. It drives the real `cdnd serve` binary as a separate
// process on loopback, pinned to core 0, from a load generator pinned to
// core 1, and prints markdown tables.
//
//	go run ./bench/edgebench            # full run (about 20 minutes)
//	go run ./bench/edgebench -quick     # smaller and shorter (a few minutes)
//	go run ./bench/edgebench diagnose   # in-process start-up and heap breakdown, pprof profiles
//
// Seeded data directories are cached (-cache-dir) between runs; each run
// works on copies.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// config is the command line.
type config struct {
	sizes       []int // domain counts for handshakes, memory and start-up
	duration    time.Duration
	warmup      time.Duration
	reps        int
	concurrency int
	changes     int // sequential changes for propagation
	stream      int // changes in the CPU-cost stream
	streamRate  float64
	pacedFrac   float64 // handshake rate for the p99 comparison, as a share of the saturated rate
	nginxMax    int     // largest N nginx is run at
	gcWait      time.Duration
	quietWait   time.Duration
	client      string
	cacheDir    string
	keep        bool
}

func main() {
	if len(os.Args) > 1 {
		modes := map[string]func([]string) error{"loadgen": loadgenMain, "diagnose": diagnoseMain}
		if mode, ok := modes[os.Args[1]]; ok {
			if err := mode(os.Args[2:]); err != nil {
				fmt.Fprintf(os.Stderr, "%s: %v\n", os.Args[1], err)
				os.Exit(1)
			}
			return
		}
	}
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "edgebench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	fs := flag.NewFlagSet("edgebench", flag.ContinueOnError)
	var c config
	var sizes string
	quick := fs.Bool("quick", false, "smaller and shorter: sizes 1,1000,10000, 3s runs, 50 changes, no wait for a GC (a few minutes)")
	fs.StringVar(&sizes, "sizes", "1,10000,100000", "domain counts, comma-separated; the largest also gets propagation, change cost and a default-cache run")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "measured window of each handshake run")
	fs.DurationVar(&c.warmup, "warmup", 2*time.Second, "unmeasured load before each handshake run")
	fs.IntVar(&c.reps, "reps", 3, "repetitions of each handshake run and start-up (median and min-max reported)")
	fs.IntVar(&c.concurrency, "concurrency", 64, "handshakes in flight from the load generator")
	fs.IntVar(&c.changes, "changes", 200, "sequential certificate changes timed for propagation")
	fs.IntVar(&c.stream, "stream", 300, "changes in the stream whose CPU cost is measured")
	fs.Float64Var(&c.streamRate, "stream-rate", 20, "changes per second in change streams")
	fs.Float64Var(&c.pacedFrac, "paced", 0.5, "handshake rate of the latency-under-changes runs, as a share of the saturated rate")
	fs.IntVar(&c.nginxMax, "nginx-max", 10000, "largest domain count to run nginx at (100000 needs minutes and GBs)")
	fs.DurationVar(&c.gcWait, "gc-wait", 150*time.Second, "how long to wait for a GC in idle cdnd before reading its heap (an idle Go process collects every 2 minutes); 0 reads at once")
	fs.DurationVar(&c.quietWait, "quiet-wait", 20*time.Second, "before each measurement, wait up to this long for other processes to use under 0.1 cores (0: do not wait)")
	fs.StringVar(&c.client, "client", "raw", "load generator's TLS client: raw (minimal TLS 1.3 client, cheap enough for one core to load the server's) or go (crypto/tls)")
	fs.StringVar(&c.cacheDir, "cache-dir", defaultCacheDir(), "where seeded data directories are kept between runs")
	fs.BoolVar(&c.keep, "keep", false, "keep the run's temporary directory (data copies, logs, nginx configuration)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if *quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		def := func(name string, apply func()) {
			if !set[name] {
				apply()
			}
		}
		def("sizes", func() { sizes = "1,1000,10000" })
		def("duration", func() { c.duration = 3 * time.Second })
		def("warmup", func() { c.warmup = time.Second })
		def("changes", func() { c.changes = 50 })
		def("stream", func() { c.stream = 60 })
		def("gc-wait", func() { c.gcWait = 0 })
		def("quiet-wait", func() { c.quietWait = 10 * time.Second })
	}
	for _, f := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return c, fmt.Errorf("-sizes: %q is not a positive count", f)
		}
		c.sizes = append(c.sizes, n)
	}
	slices.Sort(c.sizes)
	c.sizes = slices.Compact(c.sizes)
	if c.reps < 1 || c.concurrency < 1 || c.changes < 1 || c.stream < 1 || c.streamRate <= 0 {
		return c, fmt.Errorf("-reps, -concurrency, -changes, -stream and -stream-rate must be positive")
	}
	return c, nil
}

func defaultCacheDir() string {
	if d, err := os.UserCacheDir(); err == nil {
		return d + "/cdnd-edgebench"
	}
	return os.TempDir() + "/cdnd-edgebench-cache"
}

// logf reports progress on stderr; results go to stdout.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}
