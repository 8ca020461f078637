package openapi

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// Signature V3 (ACS3-HMAC-SHA256, https://www.alibabacloud.com/help/en/sdk/product-overview/v3-request-structure-and-signature): the default of the tea-based SDKs
// (alibabacloud-go/cdn-20180510). Action, Version, date and nonce travel in
// x-acs-* headers and the client signs a canonical request made of the method,
// path, query, chosen headers and a hash of the body.

// AlgorithmV3 is the only V3 algorithm cdnd verifies. The SDKs also know
// ACS3-HMAC-SM3 and ACS3-RSA-SHA256; they are rejected at parse time.
const AlgorithmV3 = "ACS3-HMAC-SHA256"

// EmptyPayloadHashV3 is x-acs-content-sha256 for a request without a body.
const EmptyPayloadHashV3 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// Parse errors for the Authorization header. Plain errors, mapped by the
// gateway; an unsupported algorithm is distinguished because Alibaba answers it
// with its own code.
var (
	errAuthV3Malformed = errors.New("openapi: malformed ACS3 Authorization header")
	errAuthV3Algorithm = errors.New("openapi: unsupported ACS3 signature algorithm")
)

// AuthorizationV3 is the parsed Authorization header.
type AuthorizationV3 struct {
	Algorithm   string
	AccessKeyID string
	// SignedHeaders are lower-cased, in the order the client listed them.
	SignedHeaders []string
	// Signature is the hex signature exactly as sent.
	Signature string
}

// String renders the header the way the SDKs write it.
func (a AuthorizationV3) String() string {
	return a.Algorithm + " Credential=" + a.AccessKeyID +
		",SignedHeaders=" + strings.Join(a.SignedHeaders, ";") +
		",Signature=" + a.Signature
}

// ParseAuthorizationV3 parses "ACS3-HMAC-SHA256 Credential=ID,SignedHeaders=a;b,Signature=hex"
// (tolerate spaces after commas; any order of the three parts; each exactly
// once; reject anything else with an error).
//
// The checks are strict because everything after this trusts the result: the
// signature must be 64 hex digits (HMAC-SHA256), header names must be HTTP
// tokens and appear once, and the key id may not contain spaces or controls.
func ParseAuthorizationV3(h string) (AuthorizationV3, error) {
	var a AuthorizationV3
	alg, rest, ok := strings.Cut(h, " ")
	if !ok {
		return a, errAuthV3Malformed
	}
	if alg != AlgorithmV3 {
		if strings.HasPrefix(alg, "ACS3-") {
			return a, errAuthV3Algorithm
		}
		return a, errAuthV3Malformed
	}
	a.Algorithm = alg

	var seenCred, seenHeaders, seenSig bool
	for part := range strings.SplitSeq(rest, ",") {
		part = strings.Trim(part, " \t")
		key, value, ok := strings.Cut(part, "=")
		if !ok || value == "" {
			return AuthorizationV3{}, errAuthV3Malformed
		}
		switch key {
		case "Credential":
			if seenCred || !isCredentialV3(value) {
				return AuthorizationV3{}, errAuthV3Malformed
			}
			seenCred, a.AccessKeyID = true, value
		case "SignedHeaders":
			if seenHeaders {
				return AuthorizationV3{}, errAuthV3Malformed
			}
			hs, ok := parseSignedHeadersV3(value)
			if !ok {
				return AuthorizationV3{}, errAuthV3Malformed
			}
			seenHeaders, a.SignedHeaders = true, hs
		case "Signature":
			if seenSig || len(value) != 2*sha256.Size || !isHex(value) {
				return AuthorizationV3{}, errAuthV3Malformed
			}
			seenSig, a.Signature = true, value
		default:
			return AuthorizationV3{}, errAuthV3Malformed
		}
	}
	if !seenCred || !seenHeaders || !seenSig {
		return AuthorizationV3{}, errAuthV3Malformed
	}
	return a, nil
}

func isCredentialV3(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7F || c == ',' {
			return false
		}
	}
	return true
}

// maxSignedHeadersV3 bounds SignedHeaders. The SDKs sign the host, the
// x-acs-* headers and content-type: under ten. A request may carry at most
// as many headers as it signs, and the server's header limit keeps those
// few, so a list this long is never a real client's.
const maxSignedHeadersV3 = 64

// parseSignedHeadersV3 reads the list in one pass, and the duplicate check
// is a set, so the work is linear in the header (a quadratic check cost
// 13 s of CPU for one 537 KB header of 120k names).
func parseSignedHeadersV3(s string) ([]string, bool) {
	if strings.Count(s, ";") >= maxSignedHeadersV3 {
		return nil, false
	}
	hs := make([]string, 0, strings.Count(s, ";")+1)
	seen := make(map[string]bool, cap(hs))
	for name := range strings.SplitSeq(s, ";") {
		if !isHeaderToken(name) {
			return nil, false
		}
		name = strings.ToLower(name)
		if seen[name] {
			return nil, false
		}
		seen[name] = true
		hs = append(hs, name)
	}
	return hs, true
}

// isHeaderToken reports whether s is a non-empty RFC 9110 token.
func isHeaderToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if pctUnreserved[c] {
			continue
		}
		if !strings.ContainsRune("!#$%&'*+^`|", rune(c)) {
			return false
		}
	}
	return true
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if _, ok := unhexDigit(s[i]); !ok {
			return false
		}
	}
	return true
}

// CanonicalRequestV3 builds the canonical request (the V3 page above) for r: the method,
// "/" or the path, the canonical query of query, the signed headers' values
// (host from r.Host) trimmed and, for repeated headers, sorted and joined with
// ",", the signed-header list, and the hex payload hash given.
//
// query is the decoded URL query alone (DecodeQuery(r.URL.RawQuery)), never the
// form body: V3 covers the body through payloadHash. It is encoded like the v1
// canonical query, names included (the documented rule; the SDK leaves names
// raw, which is identical for every real parameter name), and nothing is
// dropped. Headers are used in the order signedHeaders lists them: the SDKs
// sort them, and following the client's order rejects nothing a compliant
// client signs while the signature still covers the list itself. A signed
// header that is absent contributes an empty value.
func CanonicalRequestV3(r *http.Request, query url.Values, signedHeaders []string, payloadHash string) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	b.WriteString(path)
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(query, "", "", false))
	b.WriteByte('\n')
	for _, name := range signedHeaders {
		name = strings.ToLower(name)
		b.WriteString(name)
		b.WriteByte(':')
		b.WriteString(canonicalHeaderValueV3(r, name))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	for i, name := range signedHeaders {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(strings.ToLower(name))
	}
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String()
}

// canonicalHeaderValueV3 reads host from r.Host because net/http moves the Host
// header there (falling back to the URL for client-side requests).
func canonicalHeaderValueV3(r *http.Request, name string) string {
	if name == "host" {
		host := r.Host
		if host == "" && r.URL != nil {
			host = r.URL.Host
		}
		return strings.TrimSpace(host)
	}
	vs := r.Header.Values(name)
	switch len(vs) {
	case 0:
		return ""
	case 1:
		return strings.TrimSpace(vs[0])
	}
	trimmed := make([]string, len(vs))
	for i, v := range vs {
		trimmed[i] = strings.TrimSpace(v)
	}
	slices.Sort(trimmed)
	return strings.Join(trimmed, ",")
}

// StringToSignV3 = "ACS3-HMAC-SHA256\n" + hex(sha256(canonicalRequest)).
func StringToSignV3(canonicalRequest string) string {
	sum := sha256.Sum256([]byte(canonicalRequest))
	return AlgorithmV3 + "\n" + hex.EncodeToString(sum[:])
}

// SignV3 = hex(HMAC-SHA256(secret, stringToSign)). Unlike v1 the key has no
// "&" suffix and the encoding is hex, not base64.
func SignV3(secret, stringToSign string) string {
	return hex.EncodeToString(macV3(secret, stringToSign))
}

// VerifyV3 compares in constant time on decoded bytes (either hex case is
// accepted); a signature that is not valid hex is simply unequal.
func VerifyV3(secret, stringToSign, signature string) bool {
	got, err := hex.DecodeString(signature)
	if err != nil {
		return false
	}
	return hmac.Equal(macV3(secret, stringToSign), got)
}

// PayloadHashV3 is the x-acs-content-sha256 value for body: lower-case hex
// SHA-256 of the exact bytes. The gateway compares it with the header before
// trusting the header inside the canonical request.
func PayloadHashV3(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

func macV3(secret, stringToSign string) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(stringToSign))
	return m.Sum(nil)
}
