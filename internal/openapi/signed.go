package openapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// signedRequest is what either signature scheme tells about a request.
type signedRequest struct {
	action, version  string
	accessKeyID      string
	nonce, timestamp string
	securityToken    string
	// verify checks the signature with the AccessKey's secret; show says
	// whether the server's string-to-sign may be echoed in the error.
	verify func(secret string, show bool) error
}

// v1Required are the common parameters of signature V1, in the order their
// absence is reported.
var v1Required = []string{"Action", "Version", "AccessKeyId", "Signature", "SignatureMethod", "SignatureVersion", "SignatureNonce", "Timestamp"}

func parseV1(r *http.Request, params url.Values) (signedRequest, error) {
	for _, p := range v1Required {
		if params.Get(p) == "" {
			return signedRequest{}, Missing(p)
		}
	}
	if params.Get("SignatureMethod") != "HMAC-SHA1" {
		return signedRequest{}, ErrSignatureMethod
	}
	sts := StringToSignV1(r.Method, params)
	if params.Get("SignatureVersion") != "1.0" || params.Get("SignatureType") != "" {
		return signedRequest{}, ErrIncompleteSignature.WithMessage("%s server string to sign is:%s", ErrIncompleteSignature.Message, echo(sts, !carriesSecret(params)))
	}
	signature := params.Get("Signature")
	return signedRequest{
		action:        params.Get("Action"),
		version:       params.Get("Version"),
		accessKeyID:   params.Get("AccessKeyId"),
		nonce:         params.Get("SignatureNonce"),
		timestamp:     params.Get("Timestamp"),
		securityToken: params.Get("SecurityToken"),
		verify: func(secret string, show bool) error {
			if VerifyV1(secret, sts, signature) {
				return nil
			}
			return ErrSignatureDoesNotMatch.WithMessage("%s server string to sign is:%s", ErrSignatureDoesNotMatch.Message, echo(sts, show))
		},
	}, nil
}

func parseV3(r *http.Request, params url.Values, body []byte, header string) (signedRequest, error) {
	auth, err := ParseAuthorizationV3(header)
	if errors.Is(err, errAuthV3Algorithm) {
		return signedRequest{}, ErrSignatureMethod
	}
	if err != nil {
		return signedRequest{}, ErrIncompleteSignature
	}
	h := r.Header
	s := signedRequest{
		action:        h.Get("x-acs-action"),
		version:       h.Get("x-acs-version"),
		accessKeyID:   auth.AccessKeyID,
		nonce:         h.Get("x-acs-signature-nonce"),
		timestamp:     h.Get("x-acs-date"),
		securityToken: h.Get("x-acs-security-token"),
	}
	for _, req := range []struct{ name, value string }{
		{"Action", s.action}, {"Version", s.version}, {"SignatureNonce", s.nonce}, {"Timestamp", s.timestamp},
	} {
		if req.value == "" {
			return signedRequest{}, Missing(req.name)
		}
	}
	payload := h.Get("x-acs-content-sha256")
	if payload == "" || payload != PayloadHashV3(body) {
		return signedRequest{}, ErrIncompleteSignature.WithMessage("The x-acs-content-sha256 header does not match the request body.")
	}
	// Everything that steers the request must be signed: host and every
	// x-acs-* header (and content-type, which decides how the body is read).
	signed := auth.SignedHeaders
	for name := range h {
		lower := strings.ToLower(name)
		if (strings.HasPrefix(lower, "x-acs-") || lower == "content-type") && !slices.Contains(signed, lower) {
			return signedRequest{}, ErrIncompleteSignature.WithMessage("Header %s must be signed.", echo(lower, true))
		}
	}
	if !slices.Contains(signed, "host") {
		return signedRequest{}, ErrIncompleteSignature.WithMessage("Header host must be signed.")
	}
	query, err := DecodeQuery(r.URL.RawQuery)
	if err != nil {
		return signedRequest{}, ErrInvalidParameter
	}
	s.verify = func(secret string, show bool) error {
		cr := CanonicalRequestV3(r, query, signed, payload)
		sts := StringToSignV3(cr)
		if VerifyV3(secret, sts, auth.Signature) {
			return nil
		}
		return ErrSignatureDoesNotMatch.WithMessage("Specified signature does not match our calculation. server StringToSign is [%s] server CanonicalRequest is [%s]", sts, echo(cr, show))
	}
	return s, nil
}

// mayEcho reports whether the server's string-to-sign may be shown: not
// when it would echo a private key back into the client's logs.
func mayEcho(a *Action, params url.Values) bool {
	for _, p := range a.Secrets {
		if params.Get(p) != "" {
			return false
		}
	}
	return !carriesSecret(params)
}

// secretParams carry a secret in some action, or are credentials
// themselves: an error answer never repeats a request that holds one,
// whether or not its action is known yet.
var secretParams = []string{"PrivateKey", "SSLPri", "AccessKeySecret", "SecurityToken"}

func carriesSecret(params url.Values) bool {
	for _, p := range secretParams {
		if params.Get(p) != "" {
			return true
		}
	}
	return false
}

// maxEcho bounds what an error answer repeats of the request. The SDKs show
// the server's string-to-sign so that a user can compare it with theirs;
// one of a few KB is still readable, and a longer one (a certificate in the
// query, or a hostile request) would make every refusal cost the server
// several times the request in memory and bandwidth.
const maxEcho = 2 << 10

// echo is s for an error message, or why it is withheld: it holds a secret
// (show false) or is longer than maxEcho.
func echo(s string, show bool) string {
	switch {
	case !show:
		return "[withheld: the request carries a private key or credential]"
	case len(s) > maxEcho:
		return fmt.Sprintf("[withheld: %d bytes, more than an error answer repeats]", len(s))
	}
	return s
}
