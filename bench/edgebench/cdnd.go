package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cdnd/cdnd/bench/internal/procstat"
)

// buildCdnd builds cmd/cdnd of the module the benchmark runs in: the real
// binary, not an in-process server, so that what is measured is what an
// operator runs (its flags, its one process with the API and etcd in it).
// It also says which commit that is, and whether the tree had changes.
func buildCdnd(ctx context.Context, outDir string) (bin, version string, err error) {
	gomod, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", "", fmt.Errorf("go env GOMOD: %w", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	bin = filepath.Join(outDir, "cdnd")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/cdnd")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("go build ./cmd/cdnd: %v\n%s", err, out)
	}
	version = "an unknown commit"
	if head, err := exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "--short", "HEAD").Output(); err == nil {
		version = "commit " + strings.TrimSpace(string(head))
		dirty, err := exec.CommandContext(ctx, "git", "-C", root, "status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench", ":!README.md").Output()
		if err == nil && len(dirty) > 0 {
			version += " plus uncommitted changes"
		}
	}
	return bin, version, nil
}

// cdndOptions is how one cdnd process is started.
type cdndOptions struct {
	bin       string
	dataDir   string
	cacheSize int
	seed      *seeded
	logPath   string
}

// cdndProc is a running `cdnd serve`.
type cdndProc struct {
	opts    cdndOptions
	cmd     *exec.Cmd
	pid     int
	api     string // host:port
	https   string
	admin   string
	startup time.Duration // process start to the first /readyz 200
	ready   time.Time
	exited  chan struct{}
	log     *os.File
}

// startCdnd starts cdnd serve pinned to core 0 and waits for /readyz.
func startCdnd(pin pinning, o cdndOptions) (*cdndProc, error) {
	ports, err := procstat.FreePorts(4)
	if err != nil {
		return nil, err
	}
	addr := func(p int) string { return "127.0.0.1:" + strconv.Itoa(p) }
	p := &cdndProc{opts: o, api: addr(ports[0]), https: addr(ports[1]), admin: addr(ports[3]), exited: make(chan struct{})}
	cmd := pin.command(0, o.bin, "serve", "--allow-origin-cidrs", "127.0.0.0/8",
		"--data-dir", o.dataDir,
		"--api-addr", p.api,
		"--https-addr", p.https,
		"--http-addr", addr(ports[2]),
		"--admin-addr", p.admin,
		"--cert-cache-size", strconv.Itoa(o.cacheSize),
		"--log-level", "warn")
	cmd.Env = append(os.Environ(),
		"CDND_MASTER_KEY="+o.seed.MasterKey,
		"CDND_ROOT_ACCESS_KEY_ID="+rootAccessKeyID,
		"CDND_ROOT_ACCESS_KEY_SECRET="+rootAccessKeySecret,
		"CDND_ADMIN_TOKEN="+adminToken)
	if p.log, err = os.OpenFile(o.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = p.log, p.log
	start := time.Now()
	if err := cmd.Start(); err != nil {
		p.log.Close()
		return nil, err
	}
	p.cmd, p.pid = cmd, cmd.Process.Pid
	go func() { _ = cmd.Wait(); close(p.exited) }()
	if err := p.waitReady(start, 5*time.Minute); err != nil {
		p.stop()
		return nil, fmt.Errorf("cdnd on %s: %w (log: %s)", o.dataDir, err, o.logPath)
	}
	return p, nil
}

// waitReady polls /readyz every 2 ms: the resolution of the start-up time.
func (p *cdndProc) waitReady(start time.Time, within time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := start.Add(within)
	for time.Now().Before(deadline) {
		select {
		case <-p.exited:
			return errors.New("exited before it was ready")
		default:
		}
		resp, err := client.Get("http://" + p.admin + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				p.ready = time.Now()
				p.startup = p.ready.Sub(start)
				return nil
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	return fmt.Errorf("not ready within %v", within)
}

// stop sends SIGTERM (cdnd drains and closes etcd cleanly, which keeps the
// data directory reusable) and kills after 30 s.
func (p *cdndProc) stop() {
	if p.cmd == nil {
		return
	}
	terminate(p.cmd, p.exited)
	p.log.Close()
	p.cmd = nil
}

// terminate asks a process to exit (SIGTERM), so that it can shut down
// cleanly, and kills it if it has not within 30 s.
func terminate(cmd *exec.Cmd, exited <-chan struct{}) {
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// metrics scrapes /metrics into name{labels} → value; only untyped samples
// are needed (gauges and counters).
func (p *cdndProc) metrics() (map[string]float64, error) {
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Get("http://" + p.admin + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			out[line[:i]] = v
		}
	}
	return out, sc.Err()
}

// idleMemory is what an idle cdnd holds once a garbage collection has run
// after it became ready (before that the heap still holds the garbage of
// the initial load).
type idleMemory struct {
	heapInuse float64 // go_memstats_heap_inuse_bytes
	rss       int64   // VmRSS
	gcSeen    bool    // false: no GC within the wait, the heap includes garbage
	waited    time.Duration
}

// waitIdleMemory waits (up to within) for a GC that started after the
// process was ready — two completed cycles after the first scrape, since
// one that ends then may have started during the load and kept its
// garbage — then reads the heap and the RSS. cdnd cannot be told to
// collect; an idle Go process is collected at least every two minutes.
func (p *cdndProc) waitIdleMemory(within time.Duration) (idleMemory, error) {
	start := time.Now()
	var m idleMemory
	first := -1.0
	for {
		ms, err := p.metrics()
		if err != nil {
			return m, err
		}
		count := ms["go_gc_duration_seconds_count"]
		if first < 0 {
			first = count
		}
		m.gcSeen = count >= first+2
		if m.gcSeen || time.Since(start) >= within {
			m.heapInuse = ms["go_memstats_heap_inuse_bytes"]
			m.waited = time.Since(start)
			m.rss, err = procstat.Memory(p.pid, "VmRSS")
			return m, err
		}
		time.Sleep(time.Second)
	}
}

// waitCPUIdle waits, up to within, until cdnd has used under 5% of a core
// for two seconds in a row: work a change leaves behind (the edge's
// snapshot journal, and now and then a new snapshot base) belongs to the
// change, and must not spill into the next measurement.
func (p *cdndProc) waitCPUIdle(within time.Duration) (time.Duration, error) {
	start := time.Now()
	quiet := 0
	for quiet < 4 && time.Since(start) < within {
		c0, err := procstat.CPUTime(p.pid)
		if err != nil {
			return 0, err
		}
		time.Sleep(500 * time.Millisecond)
		c1, err := procstat.CPUTime(p.pid)
		if err != nil {
			return 0, err
		}
		if (c1 - c0).Seconds() < 0.025 {
			quiet++
		} else {
			quiet = 0
		}
	}
	return time.Since(start), nil
}
