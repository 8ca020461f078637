package fleettest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Proc is one process of the cdnd binary: a `cdnd etcd` member, an API node
// or an edge. It can be started again after a kill with the same command
// line, so that it comes back on its own data directory, as after a crash.
//
// Its output, over all its starts, goes to one log file, with a line for
// each start and each signal sent to it, so that what it logged can be read
// against the faults injected into it.
type Proc struct {
	Name string

	bin       string
	args, env []string
	log       *procLog

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	ready  chan map[string]string
	addrs  map[string]string // role, api, https, http, admin of the last start
}

// ErrExited is what WaitReady returns (wrapped) when the process exits
// before it says it is ready: a test can tell a refusal to start from a
// slow start.
var ErrExited = errors.New("exited before it was ready")

// newProc prepares bin ARGS, run with env added to this process's
// environment. It opens the log at logPath for appending, so that a log
// kept from an earlier run is not lost; Close closes it.
func newProc(name, bin, logPath string, env []string, args ...string) (*Proc, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	return &Proc{Name: name, bin: bin, args: args, env: env, log: &procLog{f: f}}, nil
}

// Launch starts the process and returns without waiting for it to be
// ready: the members of a new etcd cluster must all be running before any
// of them is ready. WaitReady waits.
func (p *Proc) Launch() error {
	ready := make(chan map[string]string, 1)
	p.log.setReady(ready)
	p.mark("start " + strings.Join(p.args, " "))
	cmd := exec.Command(p.bin, p.args...)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: %w", p.Name, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	p.mu.Lock()
	p.cmd, p.exited, p.ready = cmd, exited, ready
	p.mu.Unlock()
	return nil
}

// WaitReady waits until the process last launched says it is ready: an API
// node's or an edge's "cdnd serving" line, whose addresses Addr returns
// from then on, or an etcd member's "etcd member ready".
func (p *Proc) WaitReady(within time.Duration) error {
	p.mu.Lock()
	ready, exited := p.ready, p.exited
	p.mu.Unlock()
	select {
	case addrs := <-ready:
		if len(addrs) > 0 {
			p.mu.Lock()
			p.addrs = addrs
			p.mu.Unlock()
		}
		return nil
	case <-exited:
		return fmt.Errorf("%s %w (log: %s)", p.Name, ErrExited, p.LogPath())
	case <-time.After(within):
		return fmt.Errorf("%s not ready within %v (log: %s)", p.Name, within, p.LogPath())
	}
}

// Start launches the process and waits until it is ready.
func (p *Proc) Start(within time.Duration) error {
	if err := p.Launch(); err != nil {
		return err
	}
	return p.WaitReady(within)
}

// Addr is one of the addresses the last start announced: "api", "https",
// "http" or "admin" ("" for a listener the node's role does not have).
// Nodes listen on ephemeral ports, so a restart moves them.
func (p *Proc) Addr(which string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addrs[which]
}

// Kill sends SIGKILL, a crash the process cannot clean up after, and
// waits until it is gone.
func (p *Proc) Kill() {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	p.mark("SIGKILL")
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
}

// Freeze stops the process (SIGSTOP) and Thaw resumes it (SIGCONT): a hung
// node, whose sockets stay open and whose etcd leases live on until they
// expire, unlike a killed one's.
func (p *Proc) Freeze() {
	p.mark("SIGSTOP")
	p.signal(syscall.SIGSTOP)
}

// Thaw resumes a frozen process.
func (p *Proc) Thaw() {
	p.mark("SIGCONT")
	p.signal(syscall.SIGCONT)
}

func (p *Proc) signal(sig syscall.Signal) {
	p.mu.Lock()
	cmd := p.cmd
	p.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Signal(sig)
	}
}

// LogPath is the process's log file.
func (p *Proc) LogPath() string { return p.log.f.Name() }

// LogText is everything the process has written, over all its starts.
func (p *Proc) LogText() string {
	b, _ := os.ReadFile(p.LogPath())
	return string(b)
}

// Close kills the process, if it runs, and closes its log; the log file
// stays to be read.
func (p *Proc) Close() {
	p.Kill()
	p.log.f.Close()
}

// mark writes a line of the harness's own into the log, timed like the
// process's lines.
func (p *Proc) mark(what string) {
	fmt.Fprintf(p.log, "=== %s %s\n", time.Now().Format(time.StampMilli), what)
}

// procLog appends a process's output to its log file and reads it line by
// line for the line that says the process is ready.
type procLog struct {
	mu      sync.Mutex
	f       *os.File
	partial []byte
	ready   chan<- map[string]string
}

func (l *procLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = l.f.Write(p)
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			return len(p), nil
		}
		line := string(l.partial[:i])
		l.partial = l.partial[i+1:]
		if addrs := readyLine(line); addrs != nil {
			select {
			case l.ready <- addrs:
			default: // announced already
			}
		}
	}
}

// setReady points the log at the channel of a new start.
func (l *procLog) setReady(ready chan<- map[string]string) {
	l.mu.Lock()
	l.ready = ready
	l.mu.Unlock()
}

var servingLine = regexp.MustCompile(`msg="cdnd serving" role=(\S+) api=(\S*) https=(\S*) http=(\S*) admin=(\S*)`)

// readyLine returns what a line that says a process is ready announces: an
// API node's or an edge's addresses, or none (an empty map) for an etcd
// member, whose client URL is known beforehand. Any other line is nil.
func readyLine(line string) map[string]string {
	if m := servingLine.FindStringSubmatch(line); m != nil {
		// The text log quotes an empty value: a listener the role lacks.
		unquote := func(s string) string { return strings.Trim(s, `"`) }
		return map[string]string{"role": m[1], "api": unquote(m[2]), "https": unquote(m[3]), "http": unquote(m[4]), "admin": unquote(m[5])}
	}
	if strings.Contains(line, `msg="etcd member ready"`) {
		return map[string]string{}
	}
	return nil
}
