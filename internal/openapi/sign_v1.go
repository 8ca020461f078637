package openapi

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"net/url"
	"slices"
	"strings"
)

// Signature v1 (SignatureMethod=HMAC-SHA1, SignatureVersion=1.0; https://www.alibabacloud.com/help/en/sdk/product-overview/rpc-mechanism): the
// scheme of the classic Go SDK, pop-core and tea-rpc. The server recomputes the
// client's string-to-sign from the decoded parameters, so every rule here
// (sorting, empty values, RFC 3986 escapes, the second encoding, the method) has
// to match the clients byte for byte.

// signatureParam is the one parameter a v1 signature does not cover: itself.
const signatureParam = "Signature"

// CanonicalQueryV1 sorts params by name (byte-wise; for equal names keep values
// sorted byte-wise too), drops "Signature", percent-encodes names and values,
// keeps empty values as "name=", joins with "&".
//
// Names are sorted raw, before encoding, as the SDKs do (url.Values.Encode);
// sorting the encoded names would order e.g. "a-" and "a/" differently. The
// classic SDK never sends a name twice, so the order of repeated values is our
// own choice; sorting makes it independent of where each copy travelled.
func CanonicalQueryV1(params url.Values) string {
	return canonicalQuery(params, signatureParam, "", false)
}

// StringToSignV1 = METHOD + "&%2F&" + PercentEncode(CanonicalQueryV1(params));
// method upper-cased.
//
// The canonical query is encoded a second time in the same pass that builds it,
// which matters when the values are certificate chains and private keys.
func StringToSignV1(method string, params url.Values) string {
	return canonicalQuery(params, signatureParam, strings.ToUpper(method)+"&%2F&", true)
}

// SignV1 = base64(HMAC-SHA1(secret+"&", stringToSign)).
//
// The "&" is where v1 would have put a token secret; Alibaba never uses one but
// keeps the separator.
func SignV1(secret, stringToSign string) string {
	return base64.StdEncoding.EncodeToString(macV1(secret, stringToSign))
}

// VerifyV1 compares in constant time (hmac.Equal on decoded bytes; a signature
// that is not valid base64 is simply unequal), so that response timing does
// not reveal how much of a forged signature was right.
func VerifyV1(secret, stringToSign, signature string) bool {
	got, err := base64.StdEncoding.Strict().DecodeString(signature)
	if err != nil {
		return false
	}
	return hmac.Equal(macV1(secret, stringToSign), got)
}

func macV1(secret, stringToSign string) []byte {
	m := hmac.New(sha1.New, []byte(secret+"&"))
	m.Write([]byte(stringToSign))
	return m.Sum(nil)
}

// canonicalQuery renders prefix followed by the sorted name=value pairs of
// params, leaving out the parameter named skip (if any). With double set, the
// pairs are encoded twice over, separators included ("=" -> "%3D", "&" ->
// "%26"), which is the v1 string-to-sign; otherwise it is the canonical query
// of v1 and V3. The result is sized exactly before it is written.
func canonicalQuery(params url.Values, skip, prefix string, double bool) string {
	names := make([]string, 0, len(params))
	for name := range params {
		if skip != "" && name == skip {
			continue
		}
		names = append(names, name)
	}
	slices.Sort(names)

	eq, amp := "=", "&"
	if double {
		eq, amp = "%3D", "%26"
	}
	values := make([][]string, len(names))
	size := len(prefix)
	pairs := 0
	for i, name := range names {
		vs := params[name]
		if len(vs) > 1 && !slices.IsSorted(vs) {
			vs = slices.Sorted(slices.Values(vs))
		}
		values[i] = vs
		nameLen := percentEncodedLen(name, double)
		for _, v := range vs {
			size += nameLen + len(eq) + percentEncodedLen(v, double)
			pairs++
		}
	}
	if pairs > 1 {
		size += (pairs - 1) * len(amp)
	}

	var b strings.Builder
	b.Grow(size)
	b.WriteString(prefix)
	first := true
	for i, name := range names {
		for _, v := range values[i] {
			if !first {
				b.WriteString(amp)
			}
			first = false
			writePercentEncoded(&b, name, double)
			b.WriteString(eq)
			writePercentEncoded(&b, v, double)
		}
	}
	return b.String()
}
