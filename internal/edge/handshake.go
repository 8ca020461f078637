package edge

import (
	"crypto/tls"
)

// TLSConfig is the configuration of the HTTPS listener: TLS 1.2 and 1.3,
// ALPN h2 and http/1.1, the certificate chosen per SNI name. Each call
// returns a fresh copy, which the caller may adjust.
func (e *Edge) TLSConfig() *tls.Config { return e.tls.Clone() }

func (e *Edge) newTLSConfig(def *tls.Certificate) *tls.Config {
	cfg := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"h2", "http/1.1"},
		GetCertificate: e.getCertificate,
	}
	// How "no match" reaches the client, as crypto/tls implements it
	// (Go 1.26, crypto/tls/common.go, (*Config).getCertificate, and the
	// callers in handshake_server.go / handshake_server_tls13.go):
	//
	//   - GetCertificate is consulted when Certificates is empty or the
	//     client sent SNI. If it returns (nil, nil), getCertificate falls
	//     through: with Certificates empty it returns errNoCertificates,
	//     and the server handshake answers exactly that error with
	//     alertUnrecognizedName (112, "unrecognized name"); any other error
	//     would be alertInternalError.
	//   - With one entry in Certificates, (nil, nil) falls through to
	//     Certificates[0]; without SNI GetCertificate is not even called
	//     and Certificates[0] is served.
	//
	// So the default certificate goes in Certificates, and getCertificate
	// returns (nil, nil), never an error, when it has nothing to serve.
	var refuse *tls.Config
	if def != nil {
		cfg.Certificates = []tls.Certificate{*def}
		// A name that is one of our domains but has nothing to serve
		// (HTTPS off, stopped, certificate gone) is refused, not given the
		// default certificate: a visitor must not reach a domain's
		// plain-HTTP-only site over TLS. For those handshakes only, a
		// config without the default makes (nil, nil) answer
		// unrecognized_name, as above.
		refuse = cfg.Clone()
		refuse.Certificates = nil
	}
	// A domain's https_tls_version and https_option choose among configs
	// built once here, so a handshake costs a lookup, not a copy.
	variants := newTLSVariants(cfg)
	cfg.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
		if offersACMETLS(hello) {
			return e.challenges.tlsALPN01Config(hello), nil
		}
		name, ok := normalizeName(hello.ServerName)
		if !ok {
			return nil, nil // the listener's own config
		}
		d, serves := e.idx.handshakeView(name)
		switch {
		case d == nil:
			return nil, nil
		case !serves:
			return refuse, nil // nil without a default: the listener's
		}
		return variants.forDomain(d.settings, hello.SupportedVersions), nil
	}
	return cfg
}

// tlsVariants are the listener's config with one TLS version only (index
// 1-4: TLS 1.0-1.3; 0: the listener's versions), each with and without h2
// in ALPN. The variants have no GetConfigForClient: crypto/tls consults
// only the listener's.
type tlsVariants [5][2]*tls.Config

func newTLSVariants(base *tls.Config) *tlsVariants {
	var v tlsVariants
	for i := range v {
		for h2Off := range 2 {
			c := base.Clone()
			if i > 0 {
				c.MinVersion = tlsVersionArgs[i-1].version
				c.MaxVersion = c.MinVersion
			}
			if h2Off == 1 {
				c.NextProtos = []string{"http/1.1"}
			}
			v[i][h2Off] = c
		}
	}
	return &v
}

// forDomain is the config for a handshake of a domain with settings s; nil
// (the listener's own) when s changes nothing of the handshake.
func (v *tlsVariants) forDomain(s *settings, offered []uint16) *tls.Config {
	if s == nil || (s.versions == nil && !s.h2Off) {
		return nil
	}
	i := 0
	if s.versions != nil {
		i = int(s.tlsVersion(offered)-tls.VersionTLS10) + 1
	}
	h2Off := 0
	if s.h2Off {
		h2Off = 1
	}
	return v[i][h2Off]
}

// getCertificate picks the certificate for a handshake: SNI lower-cased
// with one trailing dot stripped; the exact domain, else the wildcard one
// label up; only a domain that is online, has HTTPS on and whose
// certificate record exists and opens. Otherwise (nil, nil): see
// newTLSConfig for what the client then gets.
func (e *Edge) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if cert := e.certificate(hello.ServerName); cert != nil {
		e.metrics.handshakeOK.Inc()
		return cert, nil
	}
	e.metrics.handshakeNo.Inc()
	return nil, nil
}

// certificate returns the parsed certificate serving sni, or nil.
func (e *Edge) certificate(sni string) *tls.Certificate {
	name, ok := normalizeName(sni)
	if !ok {
		return nil
	}
	ce := e.idx.certFor(name)
	if ce == nil {
		return nil
	}
	cert, err := e.cache.get(ce)
	if err != nil {
		// Logged by the cache, once per certificate content.
		return nil
	}
	return cert
}
