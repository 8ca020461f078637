// Command fleetbench measures a cdnd fleet on one machine against the issue
// "A fleet on a real etcd cluster": three `cdnd etcd` members, two
// `cdnd api` nodes and two `cdnd edge` nodes, every one a process of the
// real binary on loopback, driven with the Alibaba Cloud Go SDK. It prints
// a markdown table of:
//
//   - propagation: from sending SetDomainServerCertificate (alternately to
//     each API node) to both edges serving the new certificate in a TLS
//     handshake, p50/p99 over many changes;
//   - API throughput: SetDomainServerCertificate calls per second with many
//     accounts in parallel, beside raw etcd puts of a certificate record's
//     size at the same concurrency on the same cluster;
//   - edge catch-up: edge e1 is cut off from etcd (a TCP proxy drops its
//     connections and refuses new ones) for the outage while the changes
//     queue up; measured from the moment the link is restored to e1 having
//     applied them all, and to e1 serving the last one;
//   - purge: from sending RefreshObjectCaches (alternately to each API
//     node) to neither edge serving the purged object, p50/p99 over many
//     purges.
//
// Usage, from the module root:
//
//	go run ./bench/fleetbench          # 300 changes, 10 s of throughput, a 60 s outage with 10k changes
//	go run ./bench/fleetbench -quick   # about a minute
//	go run ./bench/fleetbench -steps purge -accounts 1 -concurrency 1
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/cdnd/cdnd/internal/fleettest"
)

type config struct {
	changes     int           // propagation samples
	duration    time.Duration // throughput window
	concurrency int
	accounts    int
	outage      time.Duration
	queued      int
	purges      int
	steps       map[string]bool
	bin         string
	dir         string
	keep        bool
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "fleetbench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (config, error) {
	fs := flag.NewFlagSet("fleetbench", flag.ContinueOnError)
	var c config
	quick := fs.Bool("quick", false, "short run: 200 changes, 3 s of throughput, a 10 s outage with 2000 changes queued")
	fs.IntVar(&c.changes, "changes", 300, "changes timed for propagation (at least 200 for a meaningful p99)")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "throughput window, for the API and for raw etcd puts each")
	fs.IntVar(&c.concurrency, "concurrency", 16, "parallel callers, for the API and for raw etcd puts")
	fs.IntVar(&c.accounts, "accounts", 64, "accounts the callers spread over (each may make 10 calls a second)")
	fs.DurationVar(&c.outage, "outage", 60*time.Second, "how long edge e1 is cut off from etcd")
	fs.IntVar(&c.queued, "queued", 10000, "changes made while e1 is cut off")
	fs.IntVar(&c.purges, "purges", 300, "purges timed (at least 200 for a meaningful p99)")
	steps := fs.String("steps", strings.Join(stepNames, ","), "the measurements to run, comma-separated")
	fs.StringVar(&c.bin, "bin", "", "cdnd binary (default: build ./cmd/cdnd)")
	fs.StringVar(&c.dir, "dir", "", "working directory for data and logs (default: a temporary one)")
	fs.BoolVar(&c.keep, "keep", false, "keep the working directory")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if *quick {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		for name, v := range map[string]string{"changes": "200", "duration": "3s", "outage": "10s", "queued": "2000", "purges": "200"} {
			if !set[name] {
				_ = fs.Set(name, v)
			}
		}
	}
	if c.concurrency < 1 || c.accounts < c.concurrency || c.changes < 1 || c.queued < 1 || c.purges < 1 {
		return c, fmt.Errorf("need concurrency ≥ 1, accounts ≥ concurrency, changes ≥ 1, queued ≥ 1, purges ≥ 1")
	}
	var err error
	c.steps, err = parseSteps(*steps)
	return c, err
}

func run(ctx context.Context, cfg config) error {
	dir := cfg.dir
	if dir == "" {
		d, err := os.MkdirTemp("", "fleetbench-")
		if err != nil {
			return err
		}
		dir = d
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if !cfg.keep {
		defer os.RemoveAll(dir)
	}
	bin := cfg.bin
	if bin == "" {
		progress("building cdnd")
		var err error
		if bin, err = fleettest.BuildBinary(dir); err != nil {
			return err
		}
	}
	progress("starting 3 etcd members, 2 API nodes, 2 edges in %s", dir)
	f, err := startFleet(dir, bin, 2)
	defer func() {
		if f != nil {
			f.stop()
		}
	}()
	if err != nil {
		return fmt.Errorf("%w (logs in %s; -keep keeps them)", err, dir)
	}
	b, err := newBench(ctx, f, cfg)
	if err != nil {
		return err
	}
	var rows []row
	steps := map[string]func() ([]row, error){"propagation": b.propagation, "throughput": b.throughput, "catchup": b.catchUp, "purge": b.purge}
	for _, name := range stepNames {
		if !cfg.steps[name] {
			continue
		}
		step := steps[name]
		if ctx.Err() != nil {
			return ctx.Err()
		}
		r, err := step()
		if err != nil {
			return fmt.Errorf("%w (logs in %s; -keep keeps them)", err, dir)
		}
		rows = append(rows, r...)
	}
	printTable(cfg, rows)
	return nil
}

type row struct{ what, value string }

func printTable(cfg config, rows []row) {
	host, _ := os.Hostname()
	fmt.Printf("\nfleetbench on %s: %d CPUs, %s/%s, %s; 3 `cdnd etcd` members, 2 `cdnd api`, 2 `cdnd edge`, all on loopback\n\n",
		host, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version())
	fmt.Println("| measure | result |")
	fmt.Println("|---|---|")
	for _, r := range rows {
		fmt.Printf("| %s | %s |\n", r.what, r.value)
	}
	var steps []string
	for _, name := range stepNames {
		if cfg.steps[name] {
			steps = append(steps, name)
		}
	}
	fmt.Printf("\n`go run ./bench/fleetbench -changes %d -duration %v -concurrency %d -accounts %d -outage %v -queued %d -purges %d -steps %s`\n",
		cfg.changes, cfg.duration, cfg.concurrency, cfg.accounts, cfg.outage, cfg.queued, cfg.purges, strings.Join(steps, ","))
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func ms(d time.Duration) string {
	return strings.TrimSuffix(fmt.Sprintf("%.1f", float64(d.Microseconds())/1000), ".0") + " ms"
}
