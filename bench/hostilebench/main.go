// Command hostilebench measures what the worst unauthenticated requests
// cost a cdnd process: server CPU-seconds, peak resident memory, bytes kept
// in the audit trail and bytes answered, per request. It runs each shape
// against a fresh `cdnd serve` of every binary it is given, so that an old
// build and the current one are compared side by side in one run:
//
//	go build -o /tmp/cdnd-before ./cmd/cdnd   # at an older commit
//	go run ./bench/hostilebench -bin before=/tmp/cdnd-before -bin after=
//
// An empty path builds ./cmd/cdnd of this checkout.
package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/cdnd/cdnd/bench/internal/procstat"
)

const (
	rootID     = "LTAIhostileBench00000000"
	rootSecret = "hostile-bench-secret"
	adminToken = "hostile-bench-token"
)

// binaries is the repeated -bin name=path flag.
type binaries [][2]string

func (b *binaries) String() string { return fmt.Sprint(*b) }
func (b *binaries) Set(v string) error {
	name, path, ok := strings.Cut(v, "=")
	if !ok || name == "" {
		return errors.New("want name=path")
	}
	*b = append(*b, [2]string{name, path})
	return nil
}

// shape is one kind of hostile request, sent requests times with inFlight
// at once.
type shape struct {
	name     string
	requests int
	inFlight int
	send     func(api string) (answered int, err error)
}

var shapes = []shape{
	{"unknown 1 MB AccessKeyId (V1 form)", 200, 8, unknownHugeKey},
	{"V3 Authorization, 120k SignedHeaders", 3, 1, manySignedHeaders},
	{"IncompleteSignature of a 1 MB request", 64, 64, incompleteHuge},
}

func main() {
	var bins binaries
	flag.Var(&bins, "bin", "name=path of a cdnd binary to measure (repeatable; empty path: build this checkout)")
	flag.Parse()
	if len(bins) == 0 {
		bins = binaries{{"this checkout", ""}}
	}
	if err := run(bins); err != nil {
		fmt.Fprintln(os.Stderr, "hostilebench:", err)
		os.Exit(1)
	}
}

type result struct {
	shape, binary        string
	cpuPerRequest        time.Duration
	peakRSS              int64
	auditPerRequest      float64
	answeredPerRequest   float64
	alive                bool
	requests, errorCount int
}

func run(bins binaries) error {
	dir, err := os.MkdirTemp("", "hostilebench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	for i, b := range bins {
		if b[1] == "" {
			bins[i][1] = filepath.Join(dir, "cdnd")
			build := exec.Command("go", "build", "-o", bins[i][1], "./cmd/cdnd")
			if out, err := build.CombinedOutput(); err != nil {
				return fmt.Errorf("go build: %v\n%s", err, out)
			}
		}
	}
	var results []result
	for _, s := range shapes {
		for _, b := range bins {
			fmt.Fprintf(os.Stderr, "%s: %s...\n", b[0], s.name)
			r, err := measure(s, b[0], b[1], filepath.Join(dir, fmt.Sprintf("data-%d", len(results))))
			if err != nil {
				return fmt.Errorf("%s, %s: %w", b[0], s.name, err)
			}
			results = append(results, r)
		}
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "shape\tbinary\trequests\tserver CPU per request\tpeak RSS\taudit bytes per request\tanswer bytes per request\talive")
	for _, r := range results {
		fmt.Fprintf(w, "%s\t%s\t%d\t%v\t%.0f MB\t%.0f\t%.0f\t%v\n", r.shape, r.binary, r.requests, r.cpuPerRequest.Round(10*time.Microsecond),
			float64(r.peakRSS)/(1<<20), r.auditPerRequest, r.answeredPerRequest, r.alive)
	}
	return w.Flush()
}

// measure starts a fresh cdnd, sends the shape, and reads the process's
// CPU, peak memory and audit trail.
func measure(s shape, name, bin, dataDir string) (result, error) {
	p, err := start(bin, dataDir)
	if err != nil {
		return result{}, err
	}
	defer p.stop()
	cpu0, err := procstat.CPUTime(p.pid)
	if err != nil {
		return result{}, err
	}
	audit0, err := p.auditBytes()
	if err != nil {
		return result{}, err
	}
	var answered, errs int
	var mu sync.Mutex
	var wg sync.WaitGroup
	next := make(chan struct{})
	for range s.inFlight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				n, err := s.send(p.api)
				mu.Lock()
				answered += n
				if err != nil {
					errs++
				}
				mu.Unlock()
			}
		}()
	}
	for range s.requests {
		next <- struct{}{}
	}
	close(next)
	wg.Wait()
	r := result{shape: s.name, binary: name, requests: s.requests, errorCount: errs, alive: p.alive()}
	if !r.alive {
		return r, nil
	}
	cpu1, err := procstat.CPUTime(p.pid)
	if err != nil {
		return result{}, err
	}
	if r.peakRSS, err = procstat.Memory(p.pid, "VmHWM"); err != nil {
		return result{}, err
	}
	audit1, err := p.auditBytes()
	if err != nil {
		return result{}, err
	}
	r.cpuPerRequest = (cpu1 - cpu0) / time.Duration(s.requests)
	r.auditPerRequest = float64(audit1-audit0) / float64(s.requests)
	r.answeredPerRequest = float64(answered) / float64(s.requests)
	return r, nil
}

// cdnd is a running `cdnd serve`.
type cdnd struct {
	cmd        *exec.Cmd
	pid        int
	api, admin string
	exited     chan struct{}
}

func start(bin, dataDir string) (*cdnd, error) {
	ports, err := procstat.FreePorts(4)
	if err != nil {
		return nil, err
	}
	addr := func(i int) string { return "127.0.0.1:" + strconv.Itoa(ports[i]) }
	cmd := exec.Command(bin, "serve", "--data-dir", dataDir, "--api-addr", addr(0), "--https-addr", addr(1),
		"--http-addr", addr(2), "--admin-addr", addr(3), "--log-level", "warn")
	cmd.Env = append(os.Environ(), "CDND_MASTER_KEY="+base64.StdEncoding.EncodeToString(make([]byte, 32)),
		"CDND_ROOT_ACCESS_KEY_ID="+rootID, "CDND_ROOT_ACCESS_KEY_SECRET="+rootSecret, "CDND_ADMIN_TOKEN="+adminToken)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &cdnd{cmd: cmd, pid: cmd.Process.Pid, api: addr(0), admin: addr(3), exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if !p.alive() {
			return nil, errors.New("cdnd exited during start-up")
		}
		if resp, err := http.Get("http://" + p.admin + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
	}
	p.stop()
	return nil, errors.New("cdnd not ready within a minute")
}

func (p *cdnd) alive() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

func (p *cdnd) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// auditBytes is the size of the audit trail as the operator API answers
// it: what the records hold, whatever their encoding in etcd.
func (p *cdnd) auditBytes() (int64, error) {
	req, _ := http.NewRequest(http.MethodGet, "http://"+p.admin+"/admin/v1/audit?Limit=10000", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("audit: %s", resp.Status)
	}
	return io.Copy(io.Discard, resp.Body)
}

// commonV1 are the parameters of a V1 call signed with nothing valid.
func commonV1() url.Values {
	return url.Values{
		"Action": {"DescribeCdnHttpsDomainList"}, "Version": {"2018-05-10"}, "Format": {"JSON"},
		"AccessKeyId": {rootID}, "SignatureMethod": {"HMAC-SHA1"}, "SignatureVersion": {"1.0"},
		"SignatureNonce": {strconv.FormatInt(time.Now().UnixNano(), 36)}, "Signature": {"x"},
		"Timestamp": {time.Now().UTC().Format("2006-01-02T15:04:05Z")},
	}
}

func postForm(api string, form url.Values) (int, error) {
	resp, err := http.Post("http://"+api+"/", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	return int(n), err
}

// unknownHugeKey: each refusal used to be kept verbatim for the audit
// trail's retention.
func unknownHugeKey(api string) (int, error) {
	p := commonV1()
	p.Set("AccessKeyId", strings.Repeat("K", 1<<20-8<<10))
	return postForm(api, p)
}

// incompleteHuge: the answer used to echo a double-encoded string-to-sign,
// five times the request.
func incompleteHuge(api string) (int, error) {
	p := commonV1()
	p.Set("SignatureVersion", "2.0")
	p.Set("DomainName", strings.Repeat("a%", 230<<10))
	return postForm(api, p)
}

// manySignedHeaders: the duplicate check of SignedHeaders used to be
// quadratic in their number.
func manySignedHeaders(api string) (int, error) {
	names := make([]string, 120_000)
	for i := range names {
		names[i] = "h" + strconv.Itoa(i)
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+api+"/", nil)
	req.Header.Set("Authorization", "ACS3-HMAC-SHA256 Credential="+rootID+",SignedHeaders="+strings.Join(names, ";")+",Signature=00")
	req.Header.Set("x-acs-action", "DescribeCdnHttpsDomainList")
	req.Header.Set("x-acs-version", "2018-05-10")
	req.Header.Set("x-acs-signature-nonce", strconv.FormatInt(time.Now().UnixNano(), 36))
	req.Header.Set("x-acs-date", time.Now().UTC().Format("2006-01-02T15:04:05Z"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	return int(n), err
}
