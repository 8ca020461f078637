package openapi

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// v3VectorRequest is the request of Alibaba's published V3 example (https://www.alibabacloud.com/help/en/sdk/product-overview/v3-request-structure-and-signature),
// as net/http would hand it to a handler.
func v3VectorRequest() *http.Request {
	r := httptest.NewRequest(http.MethodPost,
		"http://ecs.cn-shanghai.aliyuncs.com/?ImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai", http.NoBody)
	r.Header.Set("x-acs-action", "RunInstances")
	r.Header.Set("x-acs-version", "2014-05-26")
	r.Header.Set("x-acs-date", "2023-10-26T10:22:32Z")
	r.Header.Set("x-acs-signature-nonce", "3156853299f313e23d1673dc12e1703d")
	r.Header.Set("x-acs-content-sha256", EmptyPayloadHashV3)
	r.Header.Set("Accept", "application/json")
	return r
}

const v3VectorAuthorization = "ACS3-HMAC-SHA256 Credential=YourAccessKeyId," +
	"SignedHeaders=host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version," +
	"Signature=06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"

func TestSignV3PublishedVector(t *testing.T) {
	r := v3VectorRequest()
	auth, err := ParseAuthorizationV3(v3VectorAuthorization)
	if err != nil {
		t.Fatal(err)
	}
	query, err := DecodeQuery(r.URL.RawQuery)
	if err != nil {
		t.Fatal(err)
	}
	cr := CanonicalRequestV3(r, query, auth.SignedHeaders, PayloadHashV3(nil))
	const wantCR = "POST\n/\n" +
		"ImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai\n" +
		"host:ecs.cn-shanghai.aliyuncs.com\n" +
		"x-acs-action:RunInstances\n" +
		"x-acs-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n" +
		"x-acs-date:2023-10-26T10:22:32Z\n" +
		"x-acs-signature-nonce:3156853299f313e23d1673dc12e1703d\n" +
		"x-acs-version:2014-05-26\n" +
		"\n" +
		"host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version\n" +
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	if cr != wantCR {
		t.Fatalf("canonical request:\n%s\nwant:\n%s", cr, wantCR)
	}
	sts := StringToSignV3(cr)
	if want := "ACS3-HMAC-SHA256\n7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259"; sts != want {
		t.Fatalf("StringToSign = %q, want %q", sts, want)
	}
	const wantSig = "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
	if sig := SignV3("YourAccessKeySecret", sts); sig != wantSig {
		t.Fatalf("Signature = %s, want %s", sig, wantSig)
	}
	if !VerifyV3("YourAccessKeySecret", sts, auth.Signature) {
		t.Fatal("VerifyV3 rejected the published signature")
	}
	if !VerifyV3("YourAccessKeySecret", sts, strings.ToUpper(wantSig)) {
		t.Error("VerifyV3 rejected upper-case hex")
	}
	for _, bad := range []string{"", wantSig[:62], wantSig + "00", "z" + wantSig[1:], "16563a9e" + wantSig[8:]} {
		if VerifyV3("YourAccessKeySecret", sts, bad) {
			t.Errorf("VerifyV3 accepted %q", bad)
		}
	}
	if VerifyV3("YourAccessKeySecret&", sts, wantSig) {
		t.Error(`VerifyV3 accepted the v1-style key (secret + "&")`)
	}
	if auth.AccessKeyID != "YourAccessKeyId" || auth.Algorithm != AlgorithmV3 {
		t.Errorf("parsed %+v", auth)
	}
}

func TestCanonicalRequestV3Headers(t *testing.T) {
	r := httptest.NewRequest("GET", "http://h.example/some/path?b=2&a=x+y&a=%2A", http.NoBody)
	r.Host = " cdn.example:8080 "
	r.Header.Add("X-Acs-Multi", " b ")
	r.Header.Add("x-acs-multi", "a")
	r.Header.Add("x-acs-multi", "c,d")
	r.Header.Set("Content-Type", "  application/x-www-form-urlencoded\t")
	query, _ := DecodeQuery(r.URL.RawQuery)
	cr := CanonicalRequestV3(r, query, []string{"Host", "content-type", "x-acs-multi", "x-acs-absent"}, "H")
	want := "GET\n/some/path\na=%2A&a=x%20y&b=2\n" +
		"host:cdn.example:8080\n" +
		"content-type:application/x-www-form-urlencoded\n" +
		"x-acs-multi:a,b,c,d\n" +
		"x-acs-absent:\n" +
		"\n" +
		"host;content-type;x-acs-multi;x-acs-absent\nH"
	if cr != want {
		t.Fatalf("canonical request:\n%q\nwant:\n%q", cr, want)
	}

	// Client-side requests carry the host only in the URL; no path means "/".
	r = &http.Request{Method: "POST", URL: &url.URL{Scheme: "http", Host: "only.url.host"}, Header: http.Header{}}
	if cr := CanonicalRequestV3(r, nil, []string{"host"}, "H"); cr != "POST\n/\n\nhost:only.url.host\n\nhost\nH" {
		t.Fatalf("got %q", cr)
	}
}

func TestParseAuthorizationV3(t *testing.T) {
	want := AuthorizationV3{
		Algorithm:     AlgorithmV3,
		AccessKeyID:   "LTAI5t",
		SignedHeaders: []string{"host", "x-acs-action"},
		Signature:     strings.Repeat("ab", 32),
	}
	sig := want.Signature
	for _, h := range []string{
		"ACS3-HMAC-SHA256 Credential=LTAI5t,SignedHeaders=host;x-acs-action,Signature=" + sig,
		"ACS3-HMAC-SHA256 Credential=LTAI5t, SignedHeaders=host;x-acs-action, Signature=" + sig,
		"ACS3-HMAC-SHA256 Signature=" + sig + ",Credential=LTAI5t,SignedHeaders=host;x-acs-action",
		"ACS3-HMAC-SHA256  SignedHeaders=Host;X-Acs-Action ,\tCredential=LTAI5t,Signature=" + sig,
	} {
		got, err := ParseAuthorizationV3(h)
		if err != nil {
			t.Errorf("%q: %v", h, err)
			continue
		}
		if got.Algorithm != want.Algorithm || got.AccessKeyID != want.AccessKeyID ||
			got.Signature != want.Signature || !slices.Equal(got.SignedHeaders, want.SignedHeaders) {
			t.Errorf("%q: got %+v", h, got)
		}
	}
	if got := want.String(); got != "ACS3-HMAC-SHA256 Credential=LTAI5t,SignedHeaders=host;x-acs-action,Signature="+sig {
		t.Errorf("String() = %q", got)
	}
}

func TestParseAuthorizationV3Errors(t *testing.T) {
	sig := strings.Repeat("0f", 32)
	cred, hdrs, sg := "Credential=AK", "SignedHeaders=host", "Signature="+sig
	tests := []struct {
		name string
		h    string
		want error
	}{
		{"empty", "", errAuthV3Malformed},
		{"algorithm only", "ACS3-HMAC-SHA256", errAuthV3Malformed},
		{"algorithm and space", "ACS3-HMAC-SHA256 ", errAuthV3Malformed},
		{"v1-style header", "acs AK:signature", errAuthV3Malformed},
		{"unknown algorithm", "HMAC-SHA256 " + cred + "," + hdrs + "," + sg, errAuthV3Malformed},
		{"other ACS3 algorithm", "ACS3-HMAC-SM3 " + cred + "," + hdrs + "," + sg, errAuthV3Algorithm},
		{"rsa algorithm", "ACS3-RSA-SHA256 " + cred + "," + hdrs + "," + sg, errAuthV3Algorithm},
		{"algorithm case", "acs3-hmac-sha256 " + cred + "," + hdrs + "," + sg, errAuthV3Malformed},
		{"missing credential", "ACS3-HMAC-SHA256 " + hdrs + "," + sg, errAuthV3Malformed},
		{"missing signed headers", "ACS3-HMAC-SHA256 " + cred + "," + sg, errAuthV3Malformed},
		{"missing signature", "ACS3-HMAC-SHA256 " + cred + "," + hdrs, errAuthV3Malformed},
		{"duplicate credential", "ACS3-HMAC-SHA256 " + cred + "," + cred + "," + hdrs + "," + sg, errAuthV3Malformed},
		{"duplicate signed headers", "ACS3-HMAC-SHA256 " + cred + "," + hdrs + "," + hdrs + "," + sg, errAuthV3Malformed},
		{"duplicate signature", "ACS3-HMAC-SHA256 " + cred + "," + hdrs + "," + sg + "," + sg, errAuthV3Malformed},
		{"unknown part", "ACS3-HMAC-SHA256 " + cred + "," + hdrs + "," + sg + ",Scope=x", errAuthV3Malformed},
		{"trailing comma", "ACS3-HMAC-SHA256 " + cred + "," + hdrs + "," + sg + ",", errAuthV3Malformed},
		{"part without '='", "ACS3-HMAC-SHA256 " + cred + "," + hdrs + ",Signature", errAuthV3Malformed},
		{"empty credential", "ACS3-HMAC-SHA256 Credential=," + hdrs + "," + sg, errAuthV3Malformed},
		{"space in credential", "ACS3-HMAC-SHA256 Credential=A K," + hdrs + "," + sg, errAuthV3Malformed},
		{"lower-case key", "ACS3-HMAC-SHA256 credential=AK," + hdrs + "," + sg, errAuthV3Malformed},
		{"short signature", "ACS3-HMAC-SHA256 " + cred + "," + hdrs + ",Signature=" + sig[2:], errAuthV3Malformed},
		{"base64 signature", "ACS3-HMAC-SHA256 " + cred + "," + hdrs + ",Signature=OLeaidS1JvxuMvnyHOwuJ+uX5qY=", errAuthV3Malformed},
		{"non-hex signature", "ACS3-HMAC-SHA256 " + cred + "," + hdrs + ",Signature=" + "zz" + sig[2:], errAuthV3Malformed},
		{"empty header name", "ACS3-HMAC-SHA256 " + cred + ",SignedHeaders=host;;x-acs-date," + sg, errAuthV3Malformed},
		{"repeated header name", "ACS3-HMAC-SHA256 " + cred + ",SignedHeaders=host;Host," + sg, errAuthV3Malformed},
		{"space in header name", "ACS3-HMAC-SHA256 " + cred + ",SignedHeaders=host;x acs," + sg, errAuthV3Malformed},
		{"more signed headers than a client sends", "ACS3-HMAC-SHA256 " + cred + ",SignedHeaders=" + manyHeaderNames(maxSignedHeadersV3+1) + "," + sg, errAuthV3Malformed},
		{"120k signed headers", "ACS3-HMAC-SHA256 " + cred + ",SignedHeaders=" + manyHeaderNames(120_000) + "," + sg, errAuthV3Malformed},
	}
	for _, tt := range tests {
		got, err := ParseAuthorizationV3(tt.h)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
		if err != nil && (got.AccessKeyID != "" || got.SignedHeaders != nil || got.Signature != "") {
			t.Errorf("%s: partial result %+v returned with an error", tt.name, got)
		}
	}
}

// manyHeaderNames is "h0;h1;...": n distinct header names.
func manyHeaderNames(n int) string {
	names := make([]string, n)
	for i := range names {
		names[i] = "h" + strconv.Itoa(i)
	}
	return strings.Join(names, ";")
}

// The parse is linear in the header: the worst header a client can send
// within the server's header limit costs about as much as reading it.
func BenchmarkParseAuthorizationV3Hostile(b *testing.B) {
	h := "ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=" + manyHeaderNames(120_000) + ",Signature=" + strings.Repeat("0f", 32)
	b.SetBytes(int64(len(h)))
	for b.Loop() {
		_, _ = ParseAuthorizationV3(h)
	}
}

func TestParseAuthorizationV3AcceptsTheMaximum(t *testing.T) {
	h := "ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=" + manyHeaderNames(maxSignedHeadersV3) + ",Signature=" + strings.Repeat("0f", 32)
	if a, err := ParseAuthorizationV3(h); err != nil || len(a.SignedHeaders) != maxSignedHeadersV3 {
		t.Fatalf("%d signed headers: %v", maxSignedHeadersV3, err)
	}
}

func FuzzParseAuthorizationV3(f *testing.F) {
	f.Add(v3VectorAuthorization)
	f.Add("ACS3-HMAC-SHA256 Credential=a, SignedHeaders=Host, Signature=" + strings.Repeat("A", 64))
	f.Add("ACS3-HMAC-SM3 Credential=a,SignedHeaders=host,Signature=00")
	f.Add("ACS3-HMAC-SHA256 Credential==,SignedHeaders=!;#,Signature=,")
	f.Fuzz(func(t *testing.T, h string) {
		a, err := ParseAuthorizationV3(h)
		if err != nil {
			return
		}
		b, err := ParseAuthorizationV3(a.String())
		if err != nil {
			t.Fatalf("re-rendered %q (from %q) does not parse: %v", a.String(), h, err)
		}
		if a.Algorithm != b.Algorithm || a.AccessKeyID != b.AccessKeyID ||
			a.Signature != b.Signature || !slices.Equal(a.SignedHeaders, b.SignedHeaders) {
			t.Fatalf("round trip changed %+v into %+v", a, b)
		}
	})
}
