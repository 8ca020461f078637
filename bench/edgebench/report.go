package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// stat is a median with the range of the repetitions.
type stat struct{ median, min, max float64 }

func summarize(v []float64) stat {
	if len(v) == 0 {
		return stat{}
	}
	s := slices.Clone(v)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return stat{med, s[0], s[len(s)-1]}
}

// format prints "median (min–max)" with the given precision.
func (s stat) format(prec int) string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', prec, 64) }
	if s.min == s.max {
		return f(s.median)
	}
	return fmt.Sprintf("%s (%s–%s)", f(s.median), f(s.min), f(s.max))
}

// hsRow is the handshake runs of one server at one size.
type hsRow struct {
	server string
	n      int
	cache  string
	runs   []loadResult
}

func (r *hsRow) each(f func(loadResult) float64) stat {
	v := make([]float64, len(r.runs))
	for i, x := range r.runs {
		v[i] = f(x)
	}
	return summarize(v)
}

func (r *hsRow) rate() stat   { return r.each(func(x loadResult) float64 { return x.Rate }) }
func (r *hsRow) perCPU() stat { return r.each(loadResult.perServerCPUSecond) }

// memRow is start-up and idle memory at one size.
type memRow struct {
	n        int
	startups []time.Duration
	mem      idleMemory
	split    *inProcess // heap shares of etcd and the edge; nil below 1,000 domains
}

// startup is the restarts' start-up (every start but the first): the
// first start of a copied data directory has no edge snapshot yet, every
// later one reads the snapshot the previous stop wrote, as an operator's
// restarts do. With a single start it is that start.
func (m *memRow) startup() stat {
	ds := m.startups
	if len(ds) > 1 {
		ds = ds[1:]
	}
	v := make([]float64, len(ds))
	for i, d := range ds {
		v[i] = d.Seconds()
	}
	return summarize(v)
}

type nginxStartRow struct {
	n       int
	startup time.Duration
	rss     int64 // master + worker, right after start
}

// costResult is the cost of changes with the largest size loaded.
type costResult struct {
	changes       int
	cpu           time.Duration
	wall          time.Duration
	idlePerSecond float64 // cdnd's CPU seconds per second when idle
	streamRate    float64
	pacedRate     float64
	trailing      time.Duration // after the stream, until cdnd was idle again (included)
	without, with []loadResult
}

// perChange is CPU per change with the idle use over the same time taken out.
func (c *costResult) perChange() time.Duration {
	net := c.cpu.Seconds() - c.idlePerSecond*c.wall.Seconds()
	return time.Duration(net / float64(c.changes) * float64(time.Second))
}

type report struct {
	cfg        config
	pin        pinning
	started    time.Time
	hs         []*hsRow
	mem        []*memRow
	nginxStart []nginxStartRow
	prop       *propagationResult
	cost       *costResult
	notes      []string
	// quietWaited is the time spent waiting for other processes to
	// settle; notQuiet lists the measurements that started anyway.
	quietWaited time.Duration
	notQuiet    []string
	// repeated counts handshake runs redone because other processes took
	// CPU during them; contaminated, those kept anyway after maxAttempts.
	repeated, contaminated int
	cdndVersion            string
}

func newReport(cfg config, pin pinning) *report {
	return &report{cfg: cfg, pin: pin, started: time.Now()}
}

func (r *report) find(server string, n int, defaultCache bool) *hsRow {
	for _, h := range r.hs {
		if h.server == server && h.n == n && strings.Contains(h.cache, "default") == defaultCache {
			return h
		}
	}
	return nil
}

func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "# cdnd edge benchmark\n\n")
	r.printMachine(w)
	r.printHandshakes(w)
	r.printVsNginx(w)
	r.printPropagation(w)
	r.printMemory(w)
	r.printCost(w)
	r.printTargets(w)
	r.printNotes(w)
}

func (r *report) printMachine(w io.Writer) {
	fmt.Fprintf(w, "- machine: %d cores (nproc), %s, Linux %s\n", runtime.NumCPU(), cpuModel(), osRelease())
	fmt.Fprintf(w, "- Go: %s; cdnd built from %s with the same toolchain\n", runtime.Version(), r.cdndVersion)
	if haveNginx() {
		fmt.Fprintf(w, "- nginx: %s\n", nginxVersion())
	}
	fmt.Fprintf(w, "- command: `%s`\n", strings.Join(append([]string{"go run ./bench/edgebench"}, os.Args[1:]...), " "))
	fmt.Fprintf(w, "- pinning: %s\n", r.pin.describe())
	client := "a minimal TLS 1.3 client (bench/edgebench/rawtls.go: one reused X25519 key share, server signature not verified, leaf name and server Finished checked, client Finished sent, waits for the server to close)"
	if r.cfg.client == "go" {
		client = "crypto/tls (chain not verified)"
	}
	fmt.Fprintf(w, "- handshakes: full TLS 1.3 (TLS_AES_128_GCM_SHA256, X25519, ECDSA P-256 leaf + CA), a new connection and session per handshake (no resumption), SNI uniformly random among N, %d in flight, %v warm-up then %v measured, %d runs: median (min–max); client: %s\n",
		r.cfg.concurrency, r.cfg.warmup, r.cfg.duration, r.cfg.reps, client)
	fmt.Fprintf(w, "- run took %v\n\n", time.Since(r.started).Round(time.Second))
}

func (r *report) printHandshakes(w io.Writer) {
	fmt.Fprintf(w, "## Handshakes\n\n")
	fmt.Fprintf(w, "| server | domains | cert cache | handshakes/s | vs N=1 | server core busy | handshakes per server CPU-s | vs N=1 | load-gen core busy | other processes, cores | p99 ms |\n")
	fmt.Fprintf(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, h := range r.hs {
		base := r.find(h.server, r.cfg.sizes[0], false)
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			h.server, h.n, h.cache, h.rate().format(0), pct(paired(h, base, rate)),
			h.each(func(x loadResult) float64 { return 100 * x.serverUtil() }).format(0)+"%",
			h.perCPU().format(0), pct(paired(h, base, loadResult.perServerCPUSecond)),
			h.each(func(x loadResult) float64 { return 100 * x.clientUtil() }).format(0)+"%",
			h.each(func(x loadResult) float64 { return x.otherUtil() }).format(2),
			h.each(func(x loadResult) float64 { return x.P99 }).format(1))
	}
	fmt.Fprintln(w)
}

// paired is h over base, run by run: the runs of all configurations are
// interleaved, so run i of each saw the same state of the machine, and the
// ratio of a pair is steadier than the ratio of medians when the machine's
// speed drifts. Median and range of the ratios, as fractions.
func paired(h, base *hsRow, f func(loadResult) float64) (stat, bool) {
	if h == nil || base == nil || len(h.runs) == 0 || len(h.runs) != len(base.runs) {
		return stat{}, false
	}
	v := make([]float64, len(h.runs))
	for i := range h.runs {
		if f(base.runs[i]) == 0 {
			return stat{}, false
		}
		v[i] = f(h.runs[i]) / f(base.runs[i])
	}
	return summarize(v), true
}

// pct formats a paired ratio as "74% (72–76%)".
func pct(s stat, ok bool) string {
	if !ok {
		return "-"
	}
	p := stat{100 * s.median, 100 * s.min, 100 * s.max}
	return p.format(0) + "%"
}

func rate(x loadResult) float64 { return x.Rate }

func (r *report) printVsNginx(w io.Writer) {
	var rows []string
	for _, n := range r.cfg.sizes {
		c, x := r.find("cdnd", n, false), r.find("nginx", n, false)
		if c == nil || x == nil {
			continue
		}
		rows = append(rows, fmt.Sprintf("| %d | %.0f | %.0f | %s | %.0f | %.0f | %s |", n,
			c.rate().median, x.rate().median, pct(paired(c, x, rate)),
			c.perCPU().median, x.perCPU().median, pct(paired(c, x, loadResult.perServerCPUSecond))))
	}
	if len(rows) == 0 {
		return
	}
	fmt.Fprintf(w, "## cdnd vs nginx, same certificates, same run\n\n")
	fmt.Fprintf(w, "Medians; the ratios are run by run (interleaved runs), median (min–max).\n\n")
	fmt.Fprintf(w, "| domains | cdnd handshakes/s | nginx handshakes/s | cdnd/nginx | cdnd per server CPU-s | nginx per server CPU-s | cdnd/nginx |\n|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, row := range rows {
		fmt.Fprintln(w, row)
	}
	fmt.Fprintln(w)
}

func (r *report) printPropagation(w io.Writer) {
	p := r.prop
	if p == nil {
		return
	}
	fmt.Fprintf(w, "## Propagation (%d domains loaded)\n\n", r.cfg.sizes[len(r.cfg.sizes)-1])
	fmt.Fprintf(w, "SetDomainServerCertificate (real SDK, signed, new key and certificate under a new name) returned → first fresh handshake presenting the new leaf completed. Back-to-back polling; one polling handshake takes %.2f ms (p50), which bounds the resolution.\n\n", p.HandshakeP50)
	fmt.Fprintf(w, "| changes | failed | served p50 ms | p99 ms | max ms | new leaf on the first handshake after the return | API call p50 ms | p99 ms |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(w, "| %d | %d | %.2f | %.2f | %.2f | %d of %d | %.1f | %.1f |\n\n", p.Changes, p.Failed,
		quantile(p.Served, 0.5), quantile(p.Served, 0.99), quantile(p.Served, 1),
		p.AtFirstTry, len(p.Served), quantile(p.Calls, 0.5), quantile(p.Calls, 0.99))
	if p.FirstErr != "" {
		fmt.Fprintf(w, "First failure: %s\n\n", p.FirstErr)
	}
}

func (r *report) printMemory(w io.Writer) {
	if len(r.mem) == 0 {
		return
	}
	var base *memRow
	for _, m := range r.mem {
		if m.n == 0 {
			base = m
		}
	}
	fmt.Fprintf(w, "## Start-up and idle memory\n\n")
	fmt.Fprintf(w, "cdnd: start-up is process start → first `/readyz` 200 (polled every 2 ms), %d starts on a fresh copy of the data: the first has no edge snapshot yet; the restarts (median, min–max) read the one the previous stop wrote. Memory is read idle (no handshake yet), after a GC that ran once the process was ready (`go_memstats_heap_inuse_bytes` from /metrics; VmRSS from /proc); per domain = (value at N − value with no domain) / N, shown from 1,000 domains. cdnd serve is one process: its heap includes embedded etcd's index of the domain's five records (domain, owner index, certificate, its id and fingerprint indexes); the split between the edge's index and etcd's comes from opening the same data in the benchmark's own process (store, then edge; heap after GC with and without the edge).\n\n", r.cfg.reps)
	fmt.Fprintf(w, "| server | domains | first start s | restart s | heap in use MB | heap per domain | of which edge index | of which etcd | RSS MB | RSS per domain | GC seen |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, m := range r.mem {
		perHeap, perRSS, edgeHeap, storeHeap := "-", "-", "-", "-"
		if base != nil && m.n >= 1000 {
			perHeap = bytesPer(m.mem.heapInuse-base.mem.heapInuse, m.n)
			perRSS = bytesPer(float64(m.mem.rss-base.mem.rss), m.n)
		}
		if m.split != nil {
			edgeHeap, storeHeap = bytesPer(m.split.edgeHeap(), m.n), bytesPer(m.split.storeHeap(), m.n)
		}
		fmt.Fprintf(w, "| cdnd | %d | %.3f | %s | %.1f | %s | %s | %s | %.1f | %s | %s |\n", m.n, m.startups[0].Seconds(), m.startup().format(3),
			m.mem.heapInuse/(1<<20), perHeap, edgeHeap, storeHeap, float64(m.mem.rss)/(1<<20), perRSS, gcSeen(m.mem))
	}
	for _, x := range r.nginxStart {
		fmt.Fprintf(w, "| nginx | %d | %.3f | - | - | - | - | - | %.1f | - | - |\n", x.n, x.startup.Seconds(), float64(x.rss)/(1<<20))
	}
	fmt.Fprintf(w, "\nnginx: start-up is process start → first completed handshake for the last domain (nginx has no readiness probe); RSS is master + worker right after.\n\n")
}

func gcSeen(m idleMemory) string {
	if m.gcSeen {
		return fmt.Sprintf("yes (%.0fs)", m.waited.Seconds())
	}
	return fmt.Sprintf("no (waited %.0fs: heap includes garbage)", m.waited.Seconds())
}

func bytesPer(total float64, n int) string {
	v := total / float64(n)
	if v >= 1024 || v <= -1024 {
		return fmt.Sprintf("%.2f KB", v/1024)
	}
	return fmt.Sprintf("%.0f B", v)
}

func (r *report) printCost(w io.Writer) {
	c := r.cost
	if c == nil {
		return
	}
	fmt.Fprintf(w, "## Cost of a change (%d domains loaded)\n\n", r.cfg.sizes[len(r.cfg.sizes)-1])
	fmt.Fprintf(w, "CPU: utime+stime of the cdnd process (/proc/PID/stat, 10 ms ticks) over a stream of %d SetDomainServerCertificate calls at %.0f/s and until cdnd was idle again (%.1f s after the last call returned), minus its idle use (%.1f ms/s) over the same time, divided by the count. cdnd serve is one process: this includes the API (signature check, nonce, certificate parsing and sealing), the etcd transaction, the edge applying the watch event, and whatever the changes leave behind (the edge appends each change to its fail-static snapshot's journal, fsynced, and rewrites the snapshot's base when the journal outgrows it).\n\n",
		c.changes, c.streamRate, (c.trailing - 2*time.Second).Seconds(), 1000*c.idlePerSecond)
	fmt.Fprintf(w, "Latency: open-loop handshakes at %.0f/s (%.0f%% of the saturated rate, latency counted from the scheduled start), %d runs each without and with a stream of %.0f changes/s.\n\n",
		c.pacedRate, 100*r.cfg.pacedFrac, len(c.with), c.streamRate)
	p99 := func(rs []loadResult, q func(loadResult) float64) stat {
		v := make([]float64, len(rs))
		for i, x := range rs {
			v[i] = q(x)
		}
		return summarize(v)
	}
	fmt.Fprintf(w, "| CPU per change ms | handshake p50 ms, no changes | with changes | p99 ms, no changes | with changes | p99.9 ms, no changes | with changes |\n|---:|---:|---:|---:|---:|---:|---:|\n")
	fmt.Fprintf(w, "| %.2f | %s | %s | %s | %s | %s | %s |\n\n", float64(c.perChange())/float64(time.Millisecond),
		p99(c.without, func(x loadResult) float64 { return x.P50 }).format(2), p99(c.with, func(x loadResult) float64 { return x.P50 }).format(2),
		p99(c.without, func(x loadResult) float64 { return x.P99 }).format(2), p99(c.with, func(x loadResult) float64 { return x.P99 }).format(2),
		p99(c.without, func(x loadResult) float64 { return x.P999 }).format(2), p99(c.with, func(x loadResult) float64 { return x.P999 }).format(2))
}

func (r *report) printTargets(w io.Writer) {
	big := r.cfg.sizes[len(r.cfg.sizes)-1]
	fmt.Fprintf(w, "## Targets\n\n| target | measured | met |\n|---|---|---|\n")
	row := func(target, measured string, ok bool) {
		fmt.Fprintf(w, "| %s | %s | %s |\n", target, measured, map[bool]string{true: "yes", false: "**no**"}[ok])
	}
	one, bigRow := r.find("cdnd", r.cfg.sizes[0], false), r.find("cdnd", big, false)
	if rr, ok := paired(bigRow, one, rate); ok {
		cr, _ := paired(bigRow, one, loadResult.perServerCPUSecond)
		row(fmt.Sprintf("handshakes/s at %d domains ≥ 95%% of N=%d", big, r.cfg.sizes[0]),
			fmt.Sprintf("%s (per server CPU-second: %s)", pct(rr, true), pct(cr, true)), rr.median >= 0.95)
	}
	for _, n := range slices.Backward(r.cfg.sizes) {
		if x := r.find("nginx", n, false); x != nil && bigRow != nil {
			rr, ok := paired(bigRow, x, rate)
			cr, _ := paired(bigRow, x, loadResult.perServerCPUSecond)
			row(fmt.Sprintf("handshakes/s at %d domains ≥ nginx (nginx at %d)", big, n),
				fmt.Sprintf("%.0f vs %.0f/s: %s; per server CPU-second %s",
					bigRow.rate().median, x.rate().median, pct(rr, ok), pct(cr, ok)),
				ok && rr.median >= 1)
			break
		}
	}
	if p := r.prop; p != nil && len(p.Served) > 0 {
		p99 := quantile(p.Served, 0.99)
		row("change served within p99 ≤ 20 ms", fmt.Sprintf("p99 %.2f ms (p50 %.2f ms), %d failed", p99, quantile(p.Served, 0.5), p.Failed), p99 <= 20 && p.Failed == 0)
	}
	var base *memRow
	for _, m := range r.mem {
		if m.n == 0 {
			base = m
		}
	}
	for _, m := range r.mem {
		if base != nil && m.n == big {
			per := (m.mem.heapInuse - base.mem.heapInuse) / float64(m.n)
			measured := bytesPer(per*float64(m.n), m.n) + " for cdnd serve"
			if m.split != nil {
				measured += fmt.Sprintf(" (edge index %s + etcd %s)", bytesPer(m.split.edgeHeap(), m.n), bytesPer(m.split.storeHeap(), m.n))
			}
			row(fmt.Sprintf("≤ 3 KB edge heap per idle domain (at %d)", m.n), measured, per <= 3*1024)
		}
		switch {
		case m.n == 10000:
			row("start-up ≤ 0.5 s at 10k", fmt.Sprintf("restart %s s; first start %.3f s", m.startup().format(3), m.startups[0].Seconds()), m.startup().median <= 0.5)
		case m.n == 100000:
			row("start-up ≤ 3 s at 100k", fmt.Sprintf("restart %s s; first start %.3f s", m.startup().format(3), m.startups[0].Seconds()), m.startup().median <= 3)
		}
	}
	fmt.Fprintln(w)
}

func (r *report) printNotes(w io.Writer) {
	fmt.Fprintf(w, "Notes:\n\n")
	notes := append([]string{
		"Each handshake figure is the median of the runs with min–max beside it; differences inside that range are noise. The runs are interleaved (every configuration once per round, all servers up, idle but the one measured), and ratios are taken run by run within a round, because this machine's speed drifts by tens of percent over minutes.",
		"\"server core busy\" is the server's CPU time over the window: below ~95% something else was the limit (the load generator's core, other processes, or the server waiting), and \"handshakes per server CPU-s\" (handshakes / server CPU time) is the fairer capacity comparison.",
		"Seeded installations are written straight into etcd in batches, then padded with small writes until etcd has snapshotted and compacted its in-memory log, as an installation grown through the API would be.",
		fmt.Sprintf("Before each measurement the benchmark waited (up to %v) for other processes to use under 0.1 cores; it waited %v in all. \"other processes\" is the CPU everything else used during a window (from /proc/stat).", r.cfg.quietWait, r.quietWaited.Round(time.Second)),
	}, r.notes...)
	notes = append(notes, fmt.Sprintf("A handshake run during which other processes used more than %.2f cores was repeated (up to %d attempts): %d repeated, %d kept anyway.", maxOtherLoad, maxAttempts, r.repeated, r.contaminated))
	if len(r.notQuiet) > 0 {
		list := r.notQuiet
		more := ""
		if len(list) > 8 {
			list, more = list[:8], fmt.Sprintf(" and %d more", len(r.notQuiet)-8)
		}
		notes = append(notes, fmt.Sprintf("Started although the machine was not quiet (%d times): %s%s.", len(r.notQuiet), strings.Join(list, "; "), more))
	}
	for _, n := range notes {
		fmt.Fprintf(w, "- %s\n", n)
	}
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func osRelease() string {
	b, err := os.ReadFile("/proc/sys/kernel/osrelease")
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(b))
}

func nginxVersion() string {
	out, _ := exec.Command(nginxBin, "-v").CombinedOutput()
	v := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), "nginx version:"))
	if ssl, err := exec.Command("openssl", "version").Output(); err == nil {
		v += ", " + strings.TrimSpace(string(ssl))
	}
	return v
}
