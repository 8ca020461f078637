package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/cdnd/cdnd/bench/internal/procstat"
)

// nginxBin is where Debian's nginx-light (or nginx) package puts nginx.
const nginxBin = "/usr/sbin/nginx"

func haveNginx() bool {
	_, err := os.Stat(nginxBin)
	return err == nil
}

// nginxProc is a running nginx serving the seeded domains.
type nginxProc struct {
	cmd     *exec.Cmd
	addr    string
	startup time.Duration // process start to the first successful handshake
	exited  chan struct{}
	log     *os.File
}

// pids are the master and its worker, whose CPU time together is the
// server's (worker_processes 1: the worker does the handshakes).
func (p *nginxProc) pids() []int {
	pid := p.cmd.Process.Pid
	return append([]int{pid}, procstat.Children(pid)...)
}

// writeNginxConf writes a configuration with one server block per domain,
// each with the domain's own certificate and key files: what an operator
// serving N HTTPS domains with nginx writes. TLS 1.3 only, one worker.
func writeNginxConf(prefix string, s *seeded, n, port int) (string, error) {
	if err := os.MkdirAll(filepath.Join(prefix, "logs"), 0o700); err != nil {
		return "", err
	}
	path := filepath.Join(prefix, "nginx.conf")
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintf(w, `daemon off;
master_process on;
worker_processes 1;
user root;
pid %s;
error_log stderr crit;
events { worker_connections 8192; }
http {
    access_log off;
    server_names_hash_max_size 1048576;
    server_names_hash_bucket_size 128;
    ssl_protocols TLSv1.3;
    ssl_session_cache off;
`, filepath.Join(prefix, "nginx.pid"))
	for i := 0; i < n; i++ {
		fmt.Fprintf(w, "    server { listen 127.0.0.1:%d ssl; server_name %s; ssl_certificate %s; ssl_certificate_key %s; return 204; }\n",
			port, domainName(i), s.chainFile(i), s.keyFile(i))
	}
	fmt.Fprintln(w, "}")
	if err := w.Flush(); err != nil {
		f.Close()
		return "", err
	}
	return path, f.Close()
}

// startNginx runs nginx in the foreground (daemon off) with its own prefix
// and configuration, pinned to core 0, and waits until it completes a
// handshake for the last domain (nginx has no readiness probe).
func startNginx(pin pinning, prefix string, s *seeded, n int) (*nginxProc, error) {
	ports, err := procstat.FreePorts(1)
	if err != nil {
		return nil, err
	}
	conf, err := writeNginxConf(prefix, s, n, ports[0])
	if err != nil {
		return nil, err
	}
	p := &nginxProc{addr: "127.0.0.1:" + strconv.Itoa(ports[0]), exited: make(chan struct{})}
	if p.log, err = os.Create(filepath.Join(prefix, "nginx.log")); err != nil {
		return nil, err
	}
	p.cmd = pin.command(0, nginxBin, "-p", prefix, "-c", conf)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	start := time.Now()
	if err := p.cmd.Start(); err != nil {
		p.log.Close()
		return nil, err
	}
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	deadline := start.Add(10 * time.Minute)
	for {
		if handshake(p.addr, domainName(n-1)) == nil {
			p.startup = time.Since(start)
			return p, nil
		}
		select {
		case <-p.exited:
			p.log.Close()
			return nil, fmt.Errorf("nginx exited while starting (log: %s)", p.log.Name())
		default:
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, errors.New("nginx did not serve within 10 minutes")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// stop asks nginx for a fast shutdown (SIGTERM) and kills it after 30 s.
func (p *nginxProc) stop() {
	if p.cmd == nil {
		return
	}
	terminate(p.cmd, p.exited)
	p.log.Close()
	p.cmd = nil
}
