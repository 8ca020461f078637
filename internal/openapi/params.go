package openapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// MaxFormBody bounds a form body (certificate chains travel here with pop-core).
const MaxFormBody = 1 << 20

// maxParamsPerSource caps how many name=value pieces one query string or one
// form body may hold. It is net/url's default (10000, counted as "&"s + 1) so
// that we refuse exactly what url.ParseQuery refuses; without it, a 1 MB body
// of "a&a&a…" would cost far more memory as map entries than it did as bytes.
const maxParamsPerSource = 10000

// The errors DecodeParams and DecodeQuery return. They are plain errors, not
// *Error: the gateway decides which Alibaba code they become. Their text never
// contains a parameter name or value, since values may be private keys.
var (
	errParamsMalformed  = errors.New("openapi: malformed percent-encoding in parameters")
	errParamsTooMany    = errors.New("openapi: too many parameters")
	errFormBodyTooLarge = errors.New("openapi: form body too large")
	errFormBodyRead     = errors.New("openapi: reading form body failed")
)

const formMediaType = "application/x-www-form-urlencoded"

// DecodeParams builds the request's parameter map from the URL query plus, when
// Content-Type is application/x-www-form-urlencoded (parameters such as charset
// are ignored; the media type is compared case-insensitively), the body,
// whatever the method: the classic SDK sends everything in the query of a POST,
// pop-core and tea-rpc send parameters (even Action and Signature) in the body,
// and a v1 signature covers the union.
//
// "+" decodes as a space in both places and ";" is an ordinary character (see
// DecodeQuery). A name present in both places keeps all its values, query
// first. A malformed percent escape, more than 10000 parameters in one place or
// a body larger than MaxFormBody is an error.
//
// When the body is read, r.Body is replaced by a reader over the same bytes
// (closing it still closes the original), so the gateway can hash the payload
// for a V3 signature. Bodies of other content types are left unread.
func DecodeParams(r *http.Request) (url.Values, error) {
	params, err := DecodeQuery(r.URL.RawQuery)
	if err != nil {
		return nil, err
	}
	if !isFormContentType(r.Header.Get("Content-Type")) {
		return params, nil
	}
	body, err := readFormBody(r)
	if err != nil {
		return nil, err
	}
	if err := decodeFormInto(params, body); err != nil {
		return nil, err
	}
	return params, nil
}

// DecodeQuery decodes a query string or form body the way Alibaba's gateway
// does. It differs from url.ParseQuery in one respect: a ";" is a literal
// character, not an error, because Alibaba's RFC 3986 canonicalisation treats
// it as data and a client may send it unescaped. Pieces are separated by "&";
// empty pieces are skipped; a piece without "=" is a name with an empty value;
// "+" is a space; "%XY" must be two hex digits.
//
// Values that need no unescaping share memory with s rather than being copied.
func DecodeQuery(s string) (url.Values, error) {
	m := make(url.Values)
	if err := decodeFormInto(m, s); err != nil {
		return nil, err
	}
	return m, nil
}

func decodeFormInto(m url.Values, s string) error {
	if s == "" {
		return nil
	}
	if strings.Count(s, "&")+1 > maxParamsPerSource {
		return errParamsTooMany
	}
	for s != "" {
		var piece string
		piece, s, _ = strings.Cut(s, "&")
		if piece == "" {
			continue
		}
		name, value, _ := strings.Cut(piece, "=")
		name, ok := formUnescape(name)
		if !ok {
			return errParamsMalformed
		}
		value, ok = formUnescape(value)
		if !ok {
			return errParamsMalformed
		}
		m[name] = append(m[name], value)
	}
	return nil
}

// formUnescape decodes "+" and "%XY". It returns s itself when there is nothing
// to decode, and otherwise allocates at most len(s) bytes.
func formUnescape(s string) (string, bool) {
	i := strings.IndexAny(s, "%+")
	if i < 0 {
		return s, true
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:i])
	for ; i < len(s); i++ {
		switch c := s[i]; c {
		case '+':
			b.WriteByte(' ')
		case '%':
			if i+2 >= len(s) {
				return "", false
			}
			hi, ok1 := unhexDigit(s[i+1])
			lo, ok2 := unhexDigit(s[i+2])
			if !ok1 || !ok2 {
				return "", false
			}
			b.WriteByte(hi<<4 | lo)
			i += 2
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), true
}

func unhexDigit(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// isFormContentType compares only the media type: clients send
// "application/x-www-form-urlencoded", sometimes with "; charset=UTF-8", and
// header values are case-insensitive. mime.ParseMediaType is not used because
// it rejects a malformed parameter list that the media type itself survives.
func isFormContentType(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(mt), formMediaType)
}

// readFormBody reads at most MaxFormBody+1 bytes, sizing the buffer from
// Content-Length when the client declared one, so a lying or huge body costs no
// more than the limit. The result is a string so that decoded values can share
// its memory.
func readFormBody(r *http.Request) (string, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return "", nil
	}
	if r.ContentLength > MaxFormBody {
		return "", errFormBodyTooLarge
	}
	var b strings.Builder
	if r.ContentLength > 0 {
		b.Grow(int(r.ContentLength))
	}
	if _, err := io.Copy(&b, io.LimitReader(r.Body, MaxFormBody+1)); err != nil {
		// An http.MaxBytesReader installed by the server is the same
		// condition as our own limit.
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return "", errFormBodyTooLarge
		}
		return "", fmt.Errorf("%w: %w", errFormBodyRead, err)
	}
	if b.Len() > MaxFormBody {
		return "", errFormBodyTooLarge
	}
	body := b.String()
	r.Body = struct {
		io.Reader
		io.Closer
	}{strings.NewReader(body), r.Body}
	return body, nil
}
