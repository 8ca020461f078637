// Command cachebench measures the edge's HTTP cache against nginx's
// proxy_cache: cache-hit requests per server CPU-second over HTTPS
// keep-alive, for 1 KB and 100 KB objects, the same objects from the same
// origin, in one run.
//
// cdnd (`cdnd serve`, a domain added and given a certificate through the
// Alibaba Cloud Go SDK) and nginx (one worker, proxy_cache in a temporary
// directory) run pinned to core 0; the origin and the load generator run in
// this process on core 1. Every object is fetched once before the clock
// starts, so what is measured is hits; the origin's request count during
// the runs shows it. Runs alternate between the servers and repeat; the
// table gives the median and the range.
//
//	go run ./bench/cachebench               # needs nginx and taskset
//	go run ./bench/cachebench -duration 3s -runs 1
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/cdn"

	"github.com/cdnd/cdnd/bench/internal/procstat"
)

const (
	domain     = "cache.bench.example"
	rootID     = "LTAIcacheBench000000000"
	rootSecret = "cache-bench-secret"
	adminToken = "cache-bench-token"
)

// objects are what the load fetches, by path: one size per row of the
// table.
var objects = []struct {
	path string
	size int
}{{"/obj/1k", 1 << 10}, {"/obj/100k", 100 << 10}}

type config struct {
	bin      string
	duration time.Duration
	runs     int
	conns    int
	profile  string
}

func main() {
	var c config
	flag.StringVar(&c.bin, "bin", "", "cdnd binary (default: build ./cmd/cdnd)")
	flag.DurationVar(&c.duration, "duration", 5*time.Second, "length of each measured run")
	flag.IntVar(&c.runs, "runs", 3, "runs per server and object size")
	flag.IntVar(&c.conns, "conns", 32, "keep-alive connections of the load generator")
	flag.StringVar(&c.profile, "cpuprofile", "", "write cdnd's CPU profile of its first 1 KB run to this file")
	flag.Parse()
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "cachebench:", err)
		os.Exit(1)
	}
}

// server is one of the two systems under test.
type server struct {
	name  string
	https string
	pids  func() []int
	stop  func()
	// admin is the operator API, for a CPU profile; "" for nginx.
	admin string
}

func run(c config) error {
	taskset, err := exec.LookPath("taskset")
	if err != nil {
		return errors.New("taskset (util-linux) is needed to keep the servers and the load apart")
	}
	if out, err := exec.Command(taskset, "-a", "-p", "-c", "1", strconv.Itoa(os.Getpid())).CombinedOutput(); err != nil {
		return fmt.Errorf("pinning the load generator: %v: %s", err, out)
	}
	dir, err := os.MkdirTemp("", "cachebench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if c.bin == "" {
		c.bin = filepath.Join(dir, "cdnd")
		if out, err := exec.Command("go", "build", "-o", c.bin, "./cmd/cdnd").CombinedOutput(); err != nil {
			return fmt.Errorf("go build: %v: %s", err, out)
		}
	}
	o, err := startOrigin()
	if err != nil {
		return err
	}
	defer o.srv.Close()
	certPEM, keyPEM, roots, err := certificate()
	if err != nil {
		return err
	}
	servers := []*server{}
	cd, err := startCdnd(taskset, c.bin, filepath.Join(dir, "cdnd-data"), o.addr, certPEM, keyPEM)
	if err != nil {
		return err
	}
	defer cd.stop()
	servers = append(servers, cd)
	if _, err := exec.LookPath("nginx"); err == nil {
		ng, err := startNginx(taskset, filepath.Join(dir, "nginx"), o.addr, certPEM, keyPEM)
		if err != nil {
			return err
		}
		defer ng.stop()
		servers = append(servers, ng)
	} else {
		fmt.Fprintln(os.Stderr, "cachebench: nginx not found (apt-get install nginx-light): cdnd alone")
	}

	results := map[string][]float64{} // server/path → hits per server CPU-second
	rates := map[string][]float64{}
	originBefore := o.requests.Load()
	for _, s := range servers {
		for _, obj := range objects {
			if err := warm(s.https, roots, obj.path, obj.size); err != nil {
				return fmt.Errorf("%s %s: %w", s.name, obj.path, err)
			}
		}
	}
	warmed := o.requests.Load()
	for r := 0; r < c.runs; r++ {
		for _, obj := range objects {
			for _, s := range servers {
				perCPU, rate, err := measure(s, roots, obj.path, obj.size, c)
				if err != nil {
					return fmt.Errorf("%s %s: %w", s.name, obj.path, err)
				}
				k := s.name + " " + obj.path
				results[k], rates[k] = append(results[k], perCPU), append(rates[k], rate)
			}
		}
	}
	fmt.Printf("cache hits over HTTPS keep-alive (HTTP/1.1, %d connections), server pinned to core 0, load on core 1; %d runs of %v, median (min–max)\n\n", c.conns, c.runs, c.duration)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "| object\t| server\t| hits/s\t| hits per server CPU-second\t| vs nginx\t|")
	fmt.Fprintln(tw, "|---\t|---\t|---\t|---\t|---\t|")
	for _, obj := range objects {
		base := median(results["nginx "+obj.path])
		for _, s := range servers {
			k := s.name + " " + obj.path
			vs := "—"
			if base > 0 {
				vs = fmt.Sprintf("%.2fx", median(results[k])/base)
			}
			fmt.Fprintf(tw, "| %s\t| %s\t| %s\t| %s\t| %s\t|\n", size(obj.size), s.name, spread(rates[k]), spread(results[k]), vs)
		}
	}
	tw.Flush()
	fmt.Printf("\norigin requests: %d to warm the caches, %d during the runs\n", warmed-originBefore, o.requests.Load()-warmed)
	return nil
}

// measure runs the load against s for c.duration and returns hits per
// server CPU-second and hits per second.
func measure(s *server, roots *x509.CertPool, path string, size int, c config) (float64, float64, error) {
	clients := make([]*http.Client, c.conns)
	for i := range clients {
		clients[i] = client(s.https, roots)
	}
	cpu0, err := procstat.CPUTimes(s.pids())
	if err != nil {
		return 0, 0, err
	}
	start := time.Now()
	deadline := start.Add(c.duration)
	if s.admin != "" && c.profile != "" && path == objects[0].path {
		go profile(s.admin, c.profile, c.duration)
		c.profile = "" // the first run only
	}
	var hits, failures atomic.Int64
	var wg sync.WaitGroup
	for _, cl := range clients {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if err := get(cl, path, size); err != nil {
					failures.Add(1)
					continue
				}
				hits.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu1, err := procstat.CPUTimes(s.pids())
	if err != nil {
		return 0, 0, err
	}
	for _, cl := range clients {
		cl.CloseIdleConnections()
	}
	if f := failures.Load(); f > 0 {
		return 0, 0, fmt.Errorf("%d requests failed", f)
	}
	return float64(hits.Load()) / (cpu1 - cpu0).Seconds(), float64(hits.Load()) / elapsed.Seconds(), nil
}

// client is one keep-alive HTTP/1.1 connection to addr for domain.
func client(addr string, roots *x509.CertPool) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: roots, ServerName: domain},
		TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{}, // HTTP/1.1, as nginx serves it here
		MaxIdleConnsPerHost: 1,
		MaxConnsPerHost:     1,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
	}}
}

func get(cl *http.Client, path string, size int) error {
	resp, err := cl.Get("https://" + domain + path)
	if err != nil {
		return err
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err == nil && (resp.StatusCode != http.StatusOK || n != int64(size)) {
		err = fmt.Errorf("status %d, %d bytes", resp.StatusCode, n)
	}
	return err
}

// warm fetches path until the server answers it from its cache.
func warm(addr string, roots *x509.CertPool, path string, size int) error {
	cl := client(addr, roots)
	defer cl.CloseIdleConnections()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := cl.Get("https://" + domain + path)
		if err != nil {
			continue
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		xc := resp.Header.Get("X-Cache") + resp.Header.Get("X-Cache-Status")
		if resp.StatusCode == http.StatusOK && n == int64(size) && strings.HasPrefix(xc, "HIT") {
			return nil
		}
	}
	return errors.New("never answered from the cache")
}

// origin serves the objects, cacheable for an hour, and counts requests.
type origin struct {
	srv      *http.Server
	addr     string
	requests atomic.Int64
}

func startOrigin() (*origin, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	o := &origin{addr: ln.Addr().String()}
	bodies := map[string][]byte{}
	for _, obj := range objects {
		bodies[obj.path] = []byte(strings.Repeat("x", obj.size))
	}
	o.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o.requests.Add(1)
		b, ok := bodies[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write(b)
	})}
	go func() { _ = o.srv.Serve(ln) }()
	return o, nil
}

// certificate is a CA and a leaf for domain (ECDSA P-256), PEM, and a pool
// trusting the CA.
func certificate() (certPEM, keyPEM []byte, roots *x509.CertPool, err error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "cachebench CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	leaf := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: domain}, DNSNames: []string{domain},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	certPEM = append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})...)
	roots = x509.NewCertPool()
	roots.AddCert(ca)
	return certPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), roots, nil
}

// startCdnd runs `cdnd serve` on core 0 and gives it the domain through the
// API, as a user would.
func startCdnd(taskset, bin, dataDir, originAddr string, certPEM, keyPEM []byte) (*server, error) {
	ports, err := procstat.FreePorts(4)
	if err != nil {
		return nil, err
	}
	addr := func(i int) string { return "127.0.0.1:" + strconv.Itoa(ports[i]) }
	cmd := exec.Command(taskset, "-c", "0", bin, "serve", "--data-dir", dataDir, "--api-addr", addr(0), "--https-addr", addr(1),
		"--http-addr", addr(2), "--admin-addr", addr(3), "--log-level", "warn", "--allow-origin-cidrs", "127.0.0.0/8")
	cmd.Env = append(os.Environ(), "CDND_MASTER_KEY="+base64.StdEncoding.EncodeToString(make([]byte, 32)),
		"CDND_ROOT_ACCESS_KEY_ID="+rootID, "CDND_ROOT_ACCESS_KEY_SECRET="+rootSecret, "CDND_ADMIN_TOKEN="+adminToken)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{name: "cdnd", https: addr(1), admin: addr(3), pids: func() []int { return []int{cmd.Process.Pid} }, stop: func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_, _ = cmd.Process.Wait()
	}}
	if err := waitReady("http://" + addr(3) + "/readyz"); err != nil {
		s.stop()
		return nil, fmt.Errorf("cdnd: %w", err)
	}
	c, err := cdn.NewClientWithAccessKey("cn-hangzhou", rootID, rootSecret)
	if err != nil {
		s.stop()
		return nil, err
	}
	c.Domain = addr(0)
	host, port, _ := net.SplitHostPort(originAddr)
	add := cdn.CreateAddCdnDomainRequest()
	add.DomainName, add.CdnType = domain, "web"
	add.Sources = fmt.Sprintf(`[{"content":%q,"type":"ipaddr","port":%s,"priority":"20","weight":"10"}]`, host, port)
	set := cdn.CreateSetDomainServerCertificateRequest()
	set.DomainName, set.ServerCertificateStatus, set.CertName = domain, "on", "bench"
	set.ServerCertificate, set.PrivateKey = string(certPEM), string(keyPEM)
	if _, err := c.AddCdnDomain(add); err != nil {
		s.stop()
		return nil, fmt.Errorf("AddCdnDomain: %w", err)
	}
	// The domain takes its certificate once the edge has applied it.
	var setErr error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if _, setErr = c.SetDomainServerCertificate(set); setErr == nil {
			return s, nil
		}
	}
	s.stop()
	return nil, fmt.Errorf("SetDomainServerCertificate: %w", setErr)
}

// startNginx runs nginx with one worker on core 0, caching the origin in
// prefix: the configuration an operator would write for the same job.
func startNginx(taskset, prefix, originAddr string, certPEM, keyPEM []byte) (*server, error) {
	if err := os.MkdirAll(filepath.Join(prefix, "logs"), 0o700); err != nil {
		return nil, err
	}
	for name, b := range map[string][]byte{"cert.pem": certPEM, "key.pem": keyPEM} {
		if err := os.WriteFile(filepath.Join(prefix, name), b, 0o600); err != nil {
			return nil, err
		}
	}
	ports, err := procstat.FreePorts(1)
	if err != nil {
		return nil, err
	}
	// A master started as root would run its worker as nobody, which could
	// not write the cache under prefix: keep it this user's.
	user := ""
	if os.Geteuid() == 0 {
		user = "user root;"
	}
	conf := fmt.Sprintf(`worker_processes 1;
%[5]s
daemon off;
pid %[1]s/nginx.pid;
error_log %[1]s/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  proxy_cache_path %[1]s/cache levels=1:2 keys_zone=bench:16m max_size=1g inactive=1h use_temp_path=off;
  server {
    listen 127.0.0.1:%[2]d ssl;
    server_name %[3]s;
    ssl_certificate %[1]s/cert.pem;
    ssl_certificate_key %[1]s/key.pem;
    keepalive_requests 1000000;
    location / {
      proxy_pass http://%[4]s;
      proxy_cache bench;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      add_header X-Cache-Status $upstream_cache_status;
    }
  }
}
`, prefix, ports[0], domain, originAddr, user)
	confPath := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(taskset, "-c", "0", "nginx", "-p", prefix, "-c", confPath)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	https := "127.0.0.1:" + strconv.Itoa(ports[0])
	s := &server{name: "nginx", https: https, pids: func() []int { return append([]int{cmd.Process.Pid}, procstat.Children(cmd.Process.Pid)...) }, stop: func() {
		_ = cmd.Process.Signal(syscall.SIGQUIT)
		_, _ = cmd.Process.Wait()
	}}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if conn, err := net.Dial("tcp", https); err == nil {
			conn.Close()
			return s, nil
		}
	}
	s.stop()
	return nil, errors.New("nginx did not listen")
}

// profile writes the node's CPU profile over d to path.
func profile(admin, path string, d time.Duration) {
	url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", admin, max(1, int(d.Seconds())-1))
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, "cachebench: profile:", err)
		return
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil {
		err = os.WriteFile(path, b, 0o600)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cachebench: profile:", err)
	}
}

func waitReady(url string) error {
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
	return errors.New("not ready within a minute")
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	return s[len(s)/2]
}

func spread(xs []float64) string {
	if len(xs) == 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f (%.0f–%.0f)", median(xs), slices.Min(xs), slices.Max(xs))
}

func size(n int) string { return strconv.Itoa(n>>10) + " KB" }
