package openapi

import (
	"encoding/base64"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/cdn"
)

// fakePEM returns a PEM block of about n bytes whose body is deterministic
// pseudo-random base64, so that "+", "/", "=" and newlines all occur the way
// they do in real certificates. Content validity is irrelevant to signing.
func fakePEM(typ string, n int, seed uint64) string {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	header := "-----BEGIN " + typ + "-----\n"
	footer := "-----END " + typ + "-----\n"
	raw := make([]byte, (n-len(header)-len(footer))*3/4*64/65)
	for i := range raw {
		raw[i] = byte(rng.Uint32())
	}
	enc := base64.StdEncoding.EncodeToString(raw)
	var b strings.Builder
	b.WriteString(header)
	for len(enc) > 64 {
		b.WriteString(enc[:64])
		b.WriteByte('\n')
		enc = enc[64:]
	}
	b.WriteString(enc)
	b.WriteByte('\n')
	b.WriteString(footer)
	return b.String()
}

var (
	testCertPEM = fakePEM("CERTIFICATE", 3000, 1)
	testKeyPEM  = fakePEM("RSA PRIVATE KEY", 1700, 2)
)

// setDomainServerCertificateParams is what the classic SDK sends for
// SetDomainServerCertificate, signature included.
func setDomainServerCertificateParams() url.Values {
	return url.Values{
		"AccessKeyId":             {"LTAI5tExampleKeyId0001"},
		"Action":                  {"SetDomainServerCertificate"},
		"CertName":                {"example.com-2026"},
		"CertType":                {"upload"},
		"DomainName":              {"www.example.com"},
		"ForceSet":                {"1"},
		"Format":                  {"JSON"},
		"PrivateKey":              {testKeyPEM},
		"RegionId":                {"cn-hangzhou"},
		"ServerCertificate":       {testCertPEM},
		"ServerCertificateStatus": {"on"},
		"Signature":               {"8qFQK4c770QdR4RRbdD2zym3B8Y="},
		"SignatureMethod":         {"HMAC-SHA1"},
		"SignatureNonce":          {"5b3a4f0e6c2d41a1b2c3d4e5f6a7b8c9"},
		"SignatureType":           {""},
		"SignatureVersion":        {"1.0"},
		"Timestamp":               {"2026-11-26T17:28:09Z"},
		"Version":                 {"2018-05-10"},
	}
}

func TestPercentEncode(t *testing.T) {
	for in, want := range map[string]string{
		"":                     "",
		"AZaz09-_.~":           "AZaz09-_.~",
		" ":                    "%20",
		"*":                    "%2A",
		"+":                    "%2B",
		"/=&%":                 "%2F%3D%26%25",
		"'()!":                 "%27%28%29%21",
		"a\nb":                 "a%0Ab",
		"例":                    "%E4%BE%8B",
		"\xff\x00":             "%FF%00",
		"2016-02-23T12:46:24Z": "2016-02-23T12%3A46%3A24Z",
		"my cert*~":            "my%20cert%2A~",
		"AccessKeyId=testid&A": "AccessKeyId%3Dtestid%26A",
	} {
		if got := PercentEncode(in); got != want {
			t.Errorf("PercentEncode(%q) = %q, want %q", in, got, want)
		}
	}
}

// percentEncodeReference is the Java/Go recipe of https://www.alibabacloud.com/help/en/sdk/product-overview/rpc-mechanism, step 3.
func percentEncodeReference(s string) string {
	s = url.QueryEscape(s)
	s = strings.ReplaceAll(s, "+", "%20")
	s = strings.ReplaceAll(s, "*", "%2A")
	return strings.ReplaceAll(s, "%7E", "~")
}

func FuzzPercentEncode(f *testing.F) {
	for _, s := range []string{"", "a b*~+", "例子.com", "%7E", "\x00\xff", "-----BEGIN X-----\nAB+/==\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, want := PercentEncode(s), percentEncodeReference(s)
		if got != want {
			t.Fatalf("PercentEncode(%q) = %q, reference %q", s, got, want)
		}
		if n := percentEncodedLen(s, false); n != len(got) {
			t.Fatalf("percentEncodedLen = %d, encoded length %d", n, len(got))
		}
		var b strings.Builder
		writePercentEncoded(&b, s, true)
		if b.String() != PercentEncode(got) {
			t.Fatalf("double encoding %q != PercentEncode twice %q", b.String(), PercentEncode(got))
		}
	})
}

// The published ECS DescribeRegions vector (https://www.alibabacloud.com/help/en/sdk/product-overview/rpc-mechanism).
func TestSignV1ECSVector(t *testing.T) {
	params := url.Values{
		"AccessKeyId":      {"testid"},
		"Action":           {"DescribeRegions"},
		"Format":           {"XML"},
		"SignatureMethod":  {"HMAC-SHA1"},
		"SignatureNonce":   {"3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"},
		"SignatureVersion": {"1.0"},
		"Timestamp":        {"2016-02-23T12:46:24Z"},
		"Version":          {"2014-05-26"},
	}
	const wantSTS = "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26"
	const wantSig = "OLeaidS1JvxuMvnyHOwuJ+uX5qY="

	sts := StringToSignV1("GET", params)
	if sts != wantSTS {
		t.Fatalf("StringToSign:\n got %s\nwant %s", sts, wantSTS)
	}
	if sig := SignV1("testsecret", sts); sig != wantSig {
		t.Fatalf("Signature = %s, want %s", sig, wantSig)
	}
	// The signature travels in the request; it must not change the string.
	params.Set("Signature", wantSig)
	if got := StringToSignV1("get", params); got != wantSTS {
		t.Fatalf("with Signature param and lower-case method:\n got %s\nwant %s", got, wantSTS)
	}
	if !VerifyV1("testsecret", sts, wantSig) {
		t.Fatal("VerifyV1 rejected the published signature")
	}
	for _, bad := range []string{
		"",
		"OLeaidS1JvxuMvnyHOwuJ+uX5qZ=", // non-canonical padding bits
		"PLeaidS1JvxuMvnyHOwuJ+uX5qY=",
		"OLeaidS1JvxuMvnyHOwuJ uX5qY=", // '+' that arrived as a space
		"OLeaidS1JvxuMvnyHOwuJ+uX5qY",  // no padding
		"not base64 at all!",
		"OLeaidS1JvxuMvnyHOwuJ+uX5qYOLeaidS1JvxuMvnyHOwuJ+uX5qY=",
	} {
		if VerifyV1("testsecret", sts, bad) {
			t.Errorf("VerifyV1 accepted %q", bad)
		}
	}
	if VerifyV1("testsecreT", sts, wantSig) {
		t.Error("VerifyV1 accepted a wrong secret")
	}
}

// The CDN SetCdnDomainSSLCertificate vector (signed as https://www.alibabacloud.com/help/en/sdk/product-overview/rpc-mechanism describes), for POST and GET.
func TestSignV1CDNVector(t *testing.T) {
	params := url.Values{
		"Action":           {"SetCdnDomainSSLCertificate"},
		"Version":          {"2018-05-10"},
		"Format":           {"JSON"},
		"AccessKeyId":      {"testid"},
		"SignatureMethod":  {"HMAC-SHA1"},
		"SignatureVersion": {"1.0"},
		"SignatureNonce":   {"3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"},
		"SignatureType":    {""},
		"Timestamp":        {"2024-01-02T03:04:05Z"},
		"RegionId":         {"cn-hangzhou"},
		"DomainName":       {"example.com"},
		"SSLProtocol":      {"on"},
		"CertType":         {"upload"},
		"CertName":         {"my cert*~"},
	}
	cq := CanonicalQueryV1(params)
	if !strings.Contains(cq, "&CertName=my%20cert%2A~&") {
		t.Errorf("canonical CertName not found in %s", cq)
	}
	if !strings.Contains(cq, "&SignatureType=&") {
		t.Errorf("empty SignatureType not kept in %s", cq)
	}
	for method, want := range map[string]string{
		"POST": "8qFQK4c770QdR4RRbdD2zym3B8Y=",
		"GET":  "y6kiaT2KeNNowe1p9jfkjpPlPSQ=",
	} {
		sts := StringToSignV1(method, params)
		if !strings.HasPrefix(sts, method+"&%2F&") || sts[len(method)+5:] != PercentEncode(cq) {
			t.Errorf("%s: StringToSign %s is not METHOD&%%2F&enc(canonical)", method, sts)
		}
		if got := SignV1("testsecret", sts); got != want {
			t.Errorf("%s: Signature = %s, want %s", method, got, want)
		}
	}
}

func TestCanonicalQueryV1(t *testing.T) {
	tests := []struct {
		name   string
		params url.Values
		want   string
	}{
		{"empty", url.Values{}, ""},
		{"nil", nil, ""},
		{"only signature", url.Values{"Signature": {"x"}}, ""},
		{"empty value kept", url.Values{"B": {""}, "A": {"1"}}, "A=1&B="},
		{"repeated values sorted", url.Values{"A": {"b", "a", ""}}, "A=&A=a&A=b"},
		{"name with no values", url.Values{"A": {}, "B": {"1"}}, "B=1"},
		// Raw byte order ('-' 0x2D < '/' 0x2F), not encoded order ("%2F" < "-").
		{"raw-name order", url.Values{"a/": {"1"}, "a-": {"2"}}, "a-=2&a%2F=1"},
		{"case-sensitive order", url.Values{"a": {"1"}, "B": {"2"}}, "B=2&a=1"},
		{"signature is case-sensitive", url.Values{"signature": {"1"}}, "signature=1"},
		{"names and values encoded", url.Values{"a b": {"例 *"}}, "a%20b=%E4%BE%8B%20%2A"},
	}
	for _, tt := range tests {
		if got := CanonicalQueryV1(tt.params); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
	// The caller's slices are not reordered.
	p := url.Values{"A": {"b", "a"}}
	CanonicalQueryV1(p)
	if !slices.Equal(p["A"], []string{"b", "a"}) {
		t.Errorf("CanonicalQueryV1 mutated its input: %q", p["A"])
	}
}

// Cross-check against the classic SDK: it signs, we recompute from what arrived.

// capturedRequest is what the test server saw.
type capturedRequest struct {
	method   string
	rawQuery string
	body     string
	header   http.Header
	params   url.Values
	err      error
}

// newCaptureServer answers every request like the gateway would on success and
// records what it received, decoding parameters with DecodeParams.
func newCaptureServer(t *testing.T) (*httptest.Server, func() capturedRequest) {
	t.Helper()
	var (
		mu   sync.Mutex
		last capturedRequest
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		params, err := DecodeParams(r)
		body, _ := io.ReadAll(r.Body) // DecodeParams leaves the body re-readable
		mu.Lock()
		last = capturedRequest{r.Method, r.URL.RawQuery, string(body), r.Header.Clone(), params, err}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, `{"RequestId":"X"}`)
	}))
	t.Cleanup(srv.Close)
	return srv, func() capturedRequest {
		mu.Lock()
		defer mu.Unlock()
		return last
	}
}

// checkSDKSignature recomputes the signature of a captured request and
// compares it with the one the SDK sent and with the SDK's own string-to-sign.
func checkSDKSignature(t *testing.T, got capturedRequest, secret, sdkSTS string) {
	t.Helper()
	if got.err != nil {
		t.Fatalf("DecodeParams: %v", got.err)
	}
	sig := got.params["Signature"]
	if len(sig) != 1 {
		t.Fatalf("Signature values = %q", sig)
	}
	sts := StringToSignV1(got.method, got.params)
	if sts != sdkSTS {
		t.Errorf("string to sign differs from the SDK's:\n ours %s\n sdk  %s", sts, sdkSTS)
	}
	if want := SignV1(secret, sts); want != sig[0] {
		t.Errorf("signature: ours %s, SDK sent %s", want, sig[0])
	}
	if !VerifyV1(secret, sts, sig[0]) {
		t.Error("VerifyV1 rejected the SDK's signature")
	}
}

// oddValues exercises every encoding rule at once.
var oddValues = map[string]string{
	"spaces":   "a b  c ",
	"reserved": "* ~ + / = & ' ( ) ! ; : @ , ? # [ ] $ %",
	"percent":  "%41%zz%",
	"utf8":     "例子.com",
	"newlines": "line1\nline2\r\n",
}

func TestV1AgainstClassicSDK(t *testing.T) {
	const secret = "s3cr3t/+=&~ key"
	srv, last := newCaptureServer(t)
	client, err := cdn.NewClientWithAccessKey("cn-hangzhou", "LTAI-test id", secret)
	if err != nil {
		t.Fatal(err)
	}
	client.Domain = strings.TrimPrefix(srv.URL, "http://")

	t.Run("SetDomainServerCertificate", func(t *testing.T) {
		req := cdn.CreateSetDomainServerCertificateRequest()
		req.DomainName = "例子.com"
		req.CertName = "my cert*~+/=&'()!"
		req.CertType = "upload"
		req.ServerCertificateStatus = "on"
		req.ServerCertificate = testCertPEM
		req.PrivateKey = testKeyPEM
		req.ForceSet = "1"
		req.OwnerId = requests.NewInteger(1234567890)
		if _, err := client.SetDomainServerCertificate(req); err != nil {
			t.Fatal(err)
		}
		got := last()
		if got.method != http.MethodPost || got.body != "" {
			t.Errorf("method %s body %q: expected a bodiless POST", got.method, got.body)
		}
		for name, want := range map[string]string{
			"DomainName": "例子.com", "CertName": "my cert*~+/=&'()!",
			"ServerCertificate": testCertPEM, "PrivateKey": testKeyPEM,
			"SignatureType": "", "OwnerId": "1234567890",
		} {
			if vs := got.params[name]; len(vs) != 1 || vs[0] != want {
				t.Errorf("%s decoded as %q", name, vs)
			}
		}
		checkSDKSignature(t, got, secret, req.GetStringToSign())
	})

	t.Run("SetCdnDomainSSLCertificate", func(t *testing.T) {
		req := cdn.CreateSetCdnDomainSSLCertificateRequest()
		req.DomainName = ".example.com"
		req.CertName = oddValues["reserved"]
		req.CertType = "upload"
		req.SSLProtocol = "on"
		req.SSLPub = testCertPEM + oddValues["newlines"]
		req.SSLPri = testKeyPEM
		if _, err := client.SetCdnDomainSSLCertificate(req); err != nil {
			t.Fatal(err)
		}
		checkSDKSignature(t, last(), secret, req.GetStringToSign())
	})

	t.Run("DescribeCertificateInfoByID (GET)", func(t *testing.T) {
		req := cdn.CreateDescribeCertificateInfoByIDRequest()
		req.CertId = "12345"
		if _, err := client.DescribeCertificateInfoByID(req); err != nil {
			t.Fatal(err)
		}
		got := last()
		if got.method != http.MethodGet {
			t.Errorf("method = %s, want GET", got.method)
		}
		checkSDKSignature(t, got, secret, req.GetStringToSign())
	})
}

func TestV1AgainstClassicSDKCommonRequest(t *testing.T) {
	const secret = "testsecret"
	srv, last := newCaptureServer(t)
	client, err := sdk.NewClientWithOptions("cn-hangzhou", sdk.NewConfig(), credentials.NewAccessKeyCredential("testid", secret))
	if err != nil {
		t.Fatal(err)
	}
	for _, method := range []string{http.MethodPost, http.MethodGet} {
		t.Run(method, func(t *testing.T) {
			req := requests.NewCommonRequest()
			req.Method = method
			req.Domain = strings.TrimPrefix(srv.URL, "http://")
			req.Product = "Cdn"
			req.Version = "2018-05-10"
			req.ApiName = "SetCdnDomainSSLCertificate"
			req.QueryParams["DomainName"] = oddValues["utf8"]
			req.QueryParams["CertName"] = oddValues["reserved"]
			req.QueryParams["QEmpty"] = ""
			req.QueryParams["QSpaces"] = oddValues["spaces"]
			req.FormParams["SSLPub"] = testCertPEM
			req.FormParams["SSLPri"] = testKeyPEM
			req.FormParams["CertType"] = "upload"
			req.FormParams["FEmpty"] = ""
			req.FormParams["FPercent"] = oddValues["percent"]
			req.FormParams["F~*"] = oddValues["utf8"] + oddValues["newlines"]
			if _, err := client.ProcessCommonRequest(req); err != nil {
				t.Fatal(err)
			}
			got := last()
			if got.method != method {
				t.Errorf("method = %s, want %s", got.method, method)
			}
			if got.body == "" {
				t.Error("form parameters did not travel in the body")
			}
			for name, want := range map[string]string{
				"SSLPub": testCertPEM, "FEmpty": "", "QEmpty": "",
				"DomainName": oddValues["utf8"], "FPercent": oddValues["percent"],
			} {
				if vs := got.params[name]; len(vs) != 1 || vs[0] != want {
					t.Errorf("%s decoded as %q", name, vs)
				}
			}
			checkSDKSignature(t, got, secret, req.GetStringToSign())
		})
	}
}

// FuzzCanonicalQueryV1 feeds arbitrary query strings through the parser and
// the canonicaliser.
func FuzzCanonicalQueryV1(f *testing.F) {
	for _, s := range []string{
		"", "a=1&b=2", "b=&a", "Signature=x&A=1", "a=1&a=0&a=", "a;b=c;d",
		"CertName=my+cert%2A~&DomainName=%E4%BE%8B.com", "=x&x=&&", "%zz",
		"a-=1&a%2F=2", "k=%0A%0D%00%FF",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		params, err := DecodeQuery(raw)
		if err != nil {
			return
		}
		cq := CanonicalQueryV1(params)
		for i := 0; i < len(cq); i++ {
			switch c := cq[i]; {
			case c == '%':
				if i+2 >= len(cq) || !isUpperHex(cq[i+1]) || !isUpperHex(cq[i+2]) {
					t.Fatalf("escape at %d is not %%XY upper-case in %q", i, cq)
				}
			case !pctUnreserved[c] && c != '=' && c != '&':
				t.Fatalf("byte %q in canonical query %q", c, cq)
			}
		}
		if sts := StringToSignV1("POST", params); sts != "POST&%2F&"+PercentEncode(cq) {
			t.Fatalf("StringToSignV1 %q disagrees with the canonical query %q", sts, cq)
		}

		// Decode it back: the same multiset of pairs, minus Signature.
		type pair struct{ name, value string }
		var want, got []pair
		for name, vs := range params {
			if name == signatureParam {
				continue
			}
			for _, v := range vs {
				want = append(want, pair{name, v})
			}
		}
		if cq != "" {
			for piece := range strings.SplitSeq(cq, "&") {
				n, v, ok := strings.Cut(piece, "=")
				if !ok {
					t.Fatalf("piece %q without '=' in %q", piece, cq)
				}
				name, err1 := url.PathUnescape(n)
				value, err2 := url.PathUnescape(v)
				if err1 != nil || err2 != nil {
					t.Fatalf("canonical query %q does not decode: %v %v", cq, err1, err2)
				}
				got = append(got, pair{name, value})
			}
		}
		for i := 1; i < len(got); i++ {
			if a, b := got[i-1], got[i]; a.name > b.name || a.name == b.name && a.value > b.value {
				t.Fatalf("canonical query %q is not sorted at pair %d", cq, i)
			}
		}
		cmp := func(a, b pair) int {
			if c := strings.Compare(a.name, b.name); c != 0 {
				return c
			}
			return strings.Compare(a.value, b.value)
		}
		slices.SortFunc(want, cmp)
		if !slices.Equal(want, got) {
			t.Fatalf("round trip of %q:\n got  %q\n want %q", raw, got, want)
		}
	})
}

func isUpperHex(c byte) bool { return '0' <= c && c <= '9' || 'A' <= c && c <= 'F' }

func BenchmarkStringToSignV1(b *testing.B) {
	params := setDomainServerCertificateParams()
	b.ReportAllocs()
	b.SetBytes(int64(len(testCertPEM) + len(testKeyPEM)))
	for b.Loop() {
		StringToSignV1(http.MethodPost, params)
	}
}

// BenchmarkVerifyV1 is the whole v1 check the gateway runs per request.
func BenchmarkVerifyV1(b *testing.B) {
	params := setDomainServerCertificateParams()
	b.ReportAllocs()
	for b.Loop() {
		VerifyV1("secret", StringToSignV1(http.MethodPost, params), params.Get("Signature"))
	}
}
