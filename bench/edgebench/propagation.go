package main

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/cdn"
)

// changer makes certificate changes the way a customer's automation does:
// SetDomainServerCertificate through the real Alibaba Cloud Go SDK, signed
// with the owning account's AccessKey, a fresh key and certificate each time
// under a new certificate name (a rotation).
type changer struct {
	api     string
	s       *seeded
	clients []*cdn.Client // per account
	next    atomic.Int64  // changes made, also picks the next domain
}

func newChanger(api string, s *seeded) (*changer, error) {
	c := &changer{api: api, s: s}
	for _, a := range s.Accounts {
		cl, err := cdn.NewClientWithAccessKey("cn-hangzhou", a.AccessKeyID, a.Secret)
		if err != nil {
			return nil, err
		}
		cl.Domain = api
		c.clients = append(c.clients, cl)
	}
	if len(c.clients) == 0 {
		return nil, errors.New("no accounts to change certificates of")
	}
	return c, nil
}

// change is one prepared certificate change.
type change struct {
	seq    int64
	domain int // index
	cert   *issued
}

// prepare picks the next domain, round-robin over the accounts (so that no
// account approaches its throttle of 10 calls/s) and never the same domain
// twice in a run, and issues its new certificate. Issuing is not timed.
func (c *changer) prepare() (change, error) {
	seq := c.next.Add(1) - 1
	a := &c.s.Accounts[int(seq)%len(c.s.Accounts)]
	round := int(seq) / len(c.s.Accounts)
	i := a.First + (round*7919)%(a.Last-a.First)
	cert, err := c.s.ca.issue(domainName(i))
	return change{seq: seq, domain: i, cert: cert}, err
}

// apply sends the change and returns when the API has answered. A
// Throttling.User answer is retried after 50 ms, as the SDKs' callers do;
// the retries count in the call's time.
func (c *changer) apply(ch change) error {
	cl := c.clients[ch.domain/domainsPerAccount]
	req := cdn.CreateSetDomainServerCertificateRequest()
	req.DomainName = domainName(ch.domain)
	req.ServerCertificateStatus = "on"
	req.CertType = "upload"
	req.CertName = fmt.Sprintf("rot%d", ch.seq)
	req.ServerCertificate = string(ch.cert.chainPEM)
	req.PrivateKey = string(ch.cert.keyPEM)
	for {
		_, err := cl.SetDomainServerCertificate(req)
		var se *sdkerrors.ServerError
		if errors.As(err, &se) && se.ErrorCode() == "Throttling.User" {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		return err
	}
}

// leafFingerprint does a fresh full handshake for sni and returns the hex
// SHA-256 of the leaf the server presented.
func leafFingerprint(addr, sni string) (string, error) {
	raw, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	conn := tls.Client(raw, &tls.Config{ServerName: sni, InsecureSkipVerify: true, MinVersion: tls.VersionTLS13, CurvePreferences: []tls.CurveID{tls.X25519}})
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if err := conn.Handshake(); err != nil {
		return "", err
	}
	sum := sha256.Sum256(conn.ConnectionState().PeerCertificates[0].Raw)
	return hex.EncodeToString(sum[:]), nil
}

// propagationResult summarises sequential changes: for each, the API
// call's time and the time from the call's return to the end of the first
// handshake that presented the new certificate.
type propagationResult struct {
	Changes       int
	Failed        int
	FirstErr      string
	Served        []float64 // ms, sorted
	Calls         []float64 // ms, sorted
	AtFirstTry    int       // changes already served by the first handshake after the return
	HandshakeP50  float64   // ms, one polling handshake: the resolution
	handshakeTime []float64
}

// measurePropagation makes count changes one after another. After each
// call returns it polls the edge with back-to-back fresh handshakes for the
// domain until the new leaf appears (at most 5 s). The time reported ends
// when that handshake completes, so it includes up to one handshake of
// polling: an upper bound, with the handshake's own time reported beside it.
func measurePropagation(c *changer, https string, count int) (propagationResult, error) {
	var r propagationResult
	for k := 0; k < count; k++ {
		ch, err := c.prepare()
		if err != nil {
			return r, err
		}
		t0 := time.Now()
		if err := c.apply(ch); err != nil {
			r.Failed++
			if r.FirstErr == "" {
				r.FirstErr = err.Error()
			}
			continue
		}
		returned := time.Now()
		r.Calls = append(r.Calls, ms(returned.Sub(t0)))
		sni := domainName(ch.domain)
		for try := 0; ; try++ {
			h0 := time.Now()
			fp, err := leafFingerprint(https, sni)
			h1 := time.Now()
			r.handshakeTime = append(r.handshakeTime, ms(h1.Sub(h0)))
			if err == nil && fp == ch.cert.fp {
				r.Served = append(r.Served, ms(h1.Sub(returned)))
				if try == 0 {
					r.AtFirstTry++
				}
				break
			}
			if h1.Sub(returned) > 5*time.Second {
				r.Failed++
				if r.FirstErr == "" {
					r.FirstErr = fmt.Sprintf("%s: new certificate not served within 5s (last error: %v)", sni, err)
				}
				break
			}
		}
		r.Changes++
	}
	slices.Sort(r.Served)
	slices.Sort(r.Calls)
	slices.Sort(r.handshakeTime)
	r.HandshakeP50 = quantile(r.handshakeTime, 0.5)
	return r, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// streamResult is a paced stream of changes.
type streamResult struct {
	Done, Failed int
	FirstErr     string
	Wall         time.Duration
}

// streamChanges makes count changes at rate per second, several calls in
// flight (an automation renewing many domains), and returns when all have
// been answered. Certificates are issued ahead, outside the paced part.
func streamChanges(c *changer, count int, rate float64) (streamResult, error) {
	chs := make([]change, count)
	for i := range chs {
		var err error
		if chs[i], err = c.prepare(); err != nil {
			return streamResult{}, err
		}
	}
	var r streamResult
	var mu sync.Mutex
	var wg sync.WaitGroup
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	for i, ch := range chs {
		time.Sleep(time.Until(start.Add(time.Duration(i) * interval)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := c.apply(ch)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				r.Failed++
				if r.FirstErr == "" {
					r.FirstErr = err.Error()
				}
				return
			}
			r.Done++
		}()
	}
	wg.Wait()
	r.Wall = time.Since(start)
	return r, nil
}
