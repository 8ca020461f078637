package server

import (
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/cdnd/cdnd/internal/originpolicy"
)

// Bounds on a fetch from a web server a tenant names (VerifyDomainOwner's
// fileCheck): the tenant chose the server, and so how slowly it answers.
const (
	originDialTimeout   = 3 * time.Second
	originHeaderTimeout = 3 * time.Second
	originFetchTimeout  = 5 * time.Second
	originMaxHeader     = 16 << 10
	originMaxRedirects  = 3
)

// newOriginClient is the HTTP client for fetches from addresses tenants
// name. It dials through the origin address policy (as the edge does: the
// name resolved with resolver, --dns-resolver, and every address checked
// before it is connected to), ignores proxy settings, keeps no
// connection, and follows a redirect only on the same host: a tenant's
// server must not be able to send cdnd elsewhere.
func newOriginClient(origins *originpolicy.Policy, resolver *net.Resolver) *http.Client {
	dial := origins.DialContext(resolver, &net.Dialer{Timeout: originDialTimeout})
	return &http.Client{
		Timeout: originFetchTimeout,
		Transport: &http.Transport{
			DialContext:            dial,
			TLSHandshakeTimeout:    originDialTimeout,
			ResponseHeaderTimeout:  originHeaderTimeout,
			MaxResponseHeaderBytes: originMaxHeader,
			DisableKeepAlives:      true,
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= originMaxRedirects {
				return errTooManyRedirects
			}
			if req.URL.Host != via[0].URL.Host {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
}

var errTooManyRedirects = errors.New("too many redirects")
