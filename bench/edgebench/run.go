package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/cdnd/cdnd/bench/internal/procstat"
)

// bench is one run: the built binary, the seeded installations and the
// processes it has started (stopped on the way out, whatever happens).
type bench struct {
	cfg   config
	pin   pinning
	tmp   string
	bin   string
	seeds map[int]*seeded
	rep   *report
	live  []interface{ stop() }
}

func run(ctx context.Context, cfg config) error {
	pin := detectPinning()
	if err := pin.pinSelf(1); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "edgebench-")
	if err != nil {
		return err
	}
	if cfg.keep {
		logf("keeping %s", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	b := &bench{cfg: cfg, pin: pin, tmp: tmp, seeds: map[int]*seeded{}, rep: newReport(cfg, pin)}
	defer func() {
		for _, p := range b.live {
			p.stop()
		}
	}()
	logf("building cdnd")
	if b.bin, b.rep.cdndVersion, err = buildCdnd(ctx, tmp); err != nil {
		return err
	}
	for _, n := range append([]int{0}, cfg.sizes...) {
		if b.seeds[n], err = loadOrSeed(ctx, cfg.cacheDir, n, logf); err != nil {
			return err
		}
	}
	for _, step := range []func(context.Context) error{
		b.startupAndMemory,
		b.heapSplit,
		b.handshakes,
	} {
		if err := step(ctx); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	b.rep.print(os.Stdout)
	return nil
}

// quiet waits for the machine to be quiet before a measurement (see
// waitQuiet) and keeps account of the waits for the report.
func (b *bench) quiet(what string, pids ...int) error {
	if b.cfg.quietWait <= 0 {
		return nil
	}
	waited, load, err := waitQuiet(pids, b.cfg.quietWait)
	if err != nil {
		return err
	}
	b.rep.quietWaited += waited
	if load >= 0.1 {
		b.rep.notQuiet = append(b.rep.notQuiet, fmt.Sprintf("%s (%.2f cores)", what, load))
		logf("%s: other processes still use %.2f cores after %v; measuring anyway", what, load, waited.Round(time.Second))
	}
	return nil
}

func (b *bench) big() int { return b.cfg.sizes[len(b.cfg.sizes)-1] }

func (b *bench) dataDir(n int) string { return filepath.Join(b.tmp, "data-"+strconv.Itoa(n)) }

// cacheFor is the --cert-cache-size that holds every certificate of n
// domains (never below cdnd's default).
func cacheFor(n int) int { return max(n, 10000) }

func (b *bench) startCdnd(n, cacheSize int) (*cdndProc, error) {
	return b.startCdndIn(n, cacheSize, b.dataDir(n))
}

func (b *bench) startCdndIn(n, cacheSize int, dataDir string) (*cdndProc, error) {
	p, err := startCdnd(b.pin, cdndOptions{
		bin: b.bin, dataDir: dataDir, cacheSize: cacheSize, seed: b.seeds[n],
		logPath: filepath.Join(b.tmp, fmt.Sprintf("cdnd-%d.log", n)),
	})
	if err == nil {
		b.live = append(b.live, p)
	}
	return p, err
}

// startupAndMemory starts each installation reps times (start-up is process
// start to /readyz 200), keeps the last start of each running idle, waits
// for a GC in all of them at once and reads heap and RSS.
func (b *bench) startupAndMemory(ctx context.Context) error {
	procs := map[int]*cdndProc{}
	defer func() {
		for _, p := range procs {
			p.stop()
		}
	}()
	for _, n := range append([]int{0}, b.cfg.sizes...) {
		if err := b.seeds[n].copyDataDir(b.dataDir(n)); err != nil {
			return err
		}
		row := &memRow{n: n}
		for r := 0; r < b.cfg.reps; r++ {
			if err := b.quiet(fmt.Sprintf("start-up at %d", n)); err != nil {
				return err
			}
			p, err := b.startCdnd(n, cacheFor(n))
			if err != nil {
				return err
			}
			row.startups = append(row.startups, p.startup)
			logf("cdnd with %d domains: ready in %v", n, p.startup.Round(time.Millisecond))
			if r < b.cfg.reps-1 {
				p.stop()
			} else {
				procs[n] = p
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
		b.rep.mem = append(b.rep.mem, row)
	}
	logf("waiting (up to %v) for a GC in the idle processes", b.cfg.gcWait)
	var wg sync.WaitGroup
	errs := make([]error, len(b.rep.mem))
	for i, row := range b.rep.mem {
		wg.Add(1)
		go func() {
			defer wg.Done()
			row.mem, errs[i] = procs[row.n].waitIdleMemory(b.cfg.gcWait)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// heapSplit divides the idle heap of each installation of 1,000 domains or
// more between etcd's index and the edge's, by opening it in this process
// (see inProcess): cdnd serve's /metrics cannot tell them apart, and an
// edge of a fleet (cdnd edge, external etcd) holds only the second.
func (b *bench) heapSplit(ctx context.Context) error {
	for _, row := range b.rep.mem {
		if row.n < 1000 {
			continue
		}
		logf("heap split at %d domains (in process)", row.n)
		ip, err := openInProcess(ctx, b.seeds[row.n], cacheFor(row.n), "")
		if err != nil {
			return err
		}
		err = ip.measureStoreAlone()
		ip.close()
		if err != nil {
			return err
		}
		row.split = ip
	}
	return nil
}

// hsTarget is one server configuration the handshake runs go to.
type hsTarget struct {
	row  *hsRow
	addr string
	pids []int
}

// handshakes measures the saturated handshake rate of every configuration:
// cdnd at each size with every certificate parsed (cache ≥ N, warmed by one
// handshake per name), cdnd at the largest size with its default cache of
// 10,000 (warmed with 10,000 names: with uniformly random SNI most
// handshakes then unseal and parse a certificate), and nginx up to
// -nginx-max. All run side by side, idle but for the one measured, and the
// repetitions are interleaved — each repetition measures every
// configuration once, in turn — so that a machine whose speed drifts (a
// shared host) shifts every configuration alike instead of one phase.
// The largest cdnd then takes the change measurements.
func (b *bench) handshakes(ctx context.Context) error {
	var targets []*hsTarget
	var stops []func()
	defer func() {
		for _, stop := range stops {
			stop()
		}
	}()
	add := func(row *hsRow, addr string, pids []int) {
		targets = append(targets, &hsTarget{row: row, addr: addr, pids: pids})
		b.rep.hs = append(b.rep.hs, row)
	}
	var bigProc *cdndProc
	var bigRow *hsRow
	for _, n := range b.cfg.sizes {
		p, err := b.startCdnd(n, cacheFor(n))
		if err != nil {
			return err
		}
		if n == b.big() {
			defer p.stop() // kept for the change measurements
		} else {
			stops = append(stops, p.stop)
		}
		if err := b.warm(ctx, p, n, n); err != nil {
			return err
		}
		row := &hsRow{server: "cdnd", n: n, cache: strconv.Itoa(cacheFor(n))}
		add(row, p.https, []int{p.pid})
		if n == b.big() {
			bigProc, bigRow = p, row
		}
	}
	if n, def := b.big(), 10000; n > def {
		dir := b.dataDir(n) + "-default-cache"
		if err := b.seeds[n].copyDataDir(dir); err != nil {
			return err
		}
		p, err := b.startCdndIn(n, def, dir)
		if err != nil {
			return err
		}
		stops = append(stops, p.stop)
		if err := b.warm(ctx, p, n, def); err != nil {
			return err
		}
		add(&hsRow{server: "cdnd", n: n, cache: strconv.Itoa(def) + " (default)"}, p.https, []int{p.pid})
	}
	if err := b.startNginxes(add, &stops); err != nil {
		return err
	}
	for r := 0; r < b.cfg.reps; r++ {
		for _, t := range targets {
			what := fmt.Sprintf("%s handshakes at %d (cache %s)", t.row.server, t.row.n, t.row.cache)
			res, err := b.cleanRun(ctx, what, loadSpec{Client: b.cfg.client,
				Addr: t.addr, N: t.row.n, Warmup: b.cfg.warmup, Duration: b.cfg.duration,
				Concurrency: b.cfg.concurrency, ServerPIDs: t.pids,
			})
			if err != nil {
				return err
			}
			if res.Errors > 0 {
				return fmt.Errorf("%s: %d handshakes failed, first: %s", what, res.Errors, res.FirstError)
			}
			logf("%s: %.0f handshakes/s (server core %.0f%%, client core %.0f%%, others %.2f cores), p99 %.1f ms",
				what, res.Rate, 100*res.serverUtil(), 100*res.clientUtil(), res.otherUtil(), res.P99)
			t.row.runs = append(t.row.runs, res)
		}
	}
	// Only the largest cdnd stays for the change measurements.
	for _, stop := range stops {
		stop()
	}
	stops = nil
	return b.changes(ctx, bigProc, bigRow)
}

// startNginxes starts nginx with the same certificates at each size up to
// -nginx-max, and records its start-up and RSS.
func (b *bench) startNginxes(add func(*hsRow, string, []int), stops *[]func()) error {
	if !haveNginx() {
		b.rep.notes = append(b.rep.notes, "nginx rows skipped: "+nginxBin+" is missing (install it with `apt-get install -y nginx-light`; the benchmark installs nothing itself).")
		return nil
	}
	for _, n := range b.cfg.sizes {
		if n > b.cfg.nginxMax {
			b.rep.notes = append(b.rep.notes, fmt.Sprintf("nginx not run at %d domains (-nginx-max %d).", n, b.cfg.nginxMax))
			continue
		}
		if err := b.quiet(fmt.Sprintf("nginx start-up at %d", n)); err != nil {
			return err
		}
		prefix := filepath.Join(b.tmp, "nginx-"+strconv.Itoa(n))
		logf("nginx %d domains: starting", n)
		p, err := startNginx(b.pin, prefix, b.seeds[n], n)
		if err != nil {
			return err
		}
		*stops = append(*stops, p.stop)
		logf("nginx %d domains: serving after %v", n, p.startup.Round(time.Millisecond))
		var rss int64
		pids := p.pids()
		for _, pid := range pids {
			v, _ := procstat.Memory(pid, "VmRSS")
			rss += v
		}
		b.rep.nginxStart = append(b.rep.nginxStart, nginxStartRow{n: n, startup: p.startup, rss: rss})
		add(&hsRow{server: "nginx", n: n, cache: "-"}, p.addr, pids)
	}
	return nil
}

// warm does one handshake for each of the first n names, so that the
// handshake runs see cdnd's steady state (certificates parsed) rather than
// the first minute after a start.
func (b *bench) warm(ctx context.Context, p *cdndProc, n, names int) error {
	logf("cdnd %d domains: warming %d certificates", n, names)
	r, err := runLoad(ctx, b.pin, loadSpec{Addr: p.https, N: names, All: true, Concurrency: b.cfg.concurrency, Client: b.cfg.client})
	if err != nil {
		return err
	}
	if r.Errors > 0 {
		return fmt.Errorf("warming: %d handshakes failed, first: %s", r.Errors, r.FirstError)
	}
	logf("cdnd %d domains: warmed in %.1fs", n, r.Seconds)
	return nil
}

// maxOtherLoad is how much CPU other processes may use during a handshake
// run before it is repeated; maxAttempts bounds the repetitions.
const (
	maxOtherLoad = 0.15 // cores
	maxAttempts  = 3
)

// cleanRun runs the load generator after waiting for a quiet machine and
// repeats the run (up to maxAttempts) when other processes took more than
// maxOtherLoad during it: on a shared machine a build or a test suite
// starting mid-run would otherwise be measured as the server's slowness.
func (b *bench) cleanRun(ctx context.Context, what string, spec loadSpec) (loadResult, error) {
	for attempt := 1; ; attempt++ {
		if err := b.quiet(what, spec.ServerPIDs...); err != nil {
			return loadResult{}, err
		}
		res, err := runLoad(ctx, b.pin, spec)
		if err != nil || res.otherUtil() <= maxOtherLoad || attempt == maxAttempts {
			if err == nil && res.otherUtil() > maxOtherLoad {
				b.rep.contaminated++
			}
			return res, err
		}
		b.rep.repeated++
		logf("%s: other processes used %.2f cores during the run; repeating it", what, res.otherUtil())
	}
}

// changes measures, with the largest installation loaded: propagation of
// sequential changes; the CPU time of a stream of changes; and handshake
// latency at a fixed rate with and without a stream of changes.
func (b *bench) changes(ctx context.Context, p *cdndProc, saturated *hsRow) error {
	c, err := newChanger(p.api, b.seeds[b.big()])
	if err != nil {
		return err
	}
	if err := b.quiet("propagation", p.pid); err != nil {
		return err
	}
	logf("propagation: %d sequential changes", b.cfg.changes)
	prop, err := measurePropagation(c, p.https, b.cfg.changes)
	if err != nil {
		return err
	}
	b.rep.prop = &prop
	if ctx.Err() != nil {
		return ctx.Err()
	}

	cost := &costResult{streamRate: b.cfg.streamRate}
	b.rep.cost = cost
	const idleWindow = 5 * time.Second
	if _, err := p.waitCPUIdle(2 * time.Minute); err != nil {
		return err
	}
	if err := b.quiet("change cost", p.pid); err != nil {
		return err
	}
	i0, err := procstat.CPUTime(p.pid)
	if err != nil {
		return err
	}
	time.Sleep(idleWindow)
	i1, err := procstat.CPUTime(p.pid)
	if err != nil {
		return err
	}
	cost.idlePerSecond = (i1 - i0).Seconds() / idleWindow.Seconds()
	logf("change cost: a stream of %d changes at %.0f/s", b.cfg.stream, b.cfg.streamRate)
	c0, err := procstat.CPUTime(p.pid)
	if err != nil {
		return err
	}
	t0 := time.Now()
	s, err := streamChanges(c, b.cfg.stream, b.cfg.streamRate)
	if err != nil {
		return err
	}
	// The work a stream leaves behind is part of its cost.
	if cost.trailing, err = p.waitCPUIdle(2 * time.Minute); err != nil {
		return err
	}
	c1, err := procstat.CPUTime(p.pid)
	if err != nil {
		return err
	}
	if s.Failed > 0 {
		return fmt.Errorf("change stream: %d of %d failed, first: %s", s.Failed, b.cfg.stream, s.FirstErr)
	}
	cost.changes, cost.cpu, cost.wall = s.Done, c1-c0, time.Since(t0)

	cost.pacedRate = math.Round(b.cfg.pacedFrac * saturated.rate().median)
	for r := 0; r < b.cfg.reps; r++ {
		if _, err := p.waitCPUIdle(2 * time.Minute); err != nil {
			return err
		}
		spec := loadSpec{Client: b.cfg.client,
			Addr: p.https, N: b.big(), Warmup: b.cfg.warmup, Duration: b.cfg.duration,
			Concurrency: b.cfg.concurrency, Rate: cost.pacedRate, ServerPIDs: []int{p.pid},
		}
		without, err := b.cleanRun(ctx, "latency without changes", spec)
		if err != nil {
			return err
		}
		count := int(math.Ceil(b.cfg.streamRate * (b.cfg.warmup + b.cfg.duration + time.Second).Seconds()))
		streamDone := make(chan streamResult, 1)
		go func() {
			s, err := streamChanges(c, count, b.cfg.streamRate)
			if err != nil {
				s.Failed, s.FirstErr = count, err.Error()
			}
			streamDone <- s
		}()
		with, err := runLoad(ctx, b.pin, spec)
		s := <-streamDone
		if err != nil {
			return err
		}
		if s.Failed > 0 {
			return fmt.Errorf("change stream under load: %d of %d failed, first: %s", s.Failed, count, s.FirstErr)
		}
		if without.Errors+with.Errors > 0 {
			return fmt.Errorf("paced handshakes failed: %s%s", without.FirstError, with.FirstError)
		}
		logf("handshake p99 at %.0f/s: %.1f ms without changes, %.1f ms with %.0f changes/s",
			cost.pacedRate, without.P99, with.P99, b.cfg.streamRate)
		cost.without = append(cost.without, without)
		cost.with = append(cost.with, with)
	}
	return nil
}
