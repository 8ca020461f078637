package openapi

import (
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// newParamsRequest builds a server-side request the way net/http would hand it
// to a handler. contentType "" sends no Content-Type header.
func newParamsRequest(method, rawQuery, contentType, body string) *http.Request {
	r := httptest.NewRequest(method, "http://cdn.aliyuncs.com/", strings.NewReader(body))
	r.URL.RawQuery = rawQuery
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

func TestDecodeParams(t *testing.T) {
	tests := []struct {
		name        string
		method      string
		query       string
		contentType string
		body        string
		want        url.Values
	}{
		{"query only", "POST", "Action=A&Version=1", formMediaType, "", url.Values{"Action": {"A"}, "Version": {"1"}}},
		{"body only", "POST", "", formMediaType, "Action=A&SSLPub=a%0Ab", url.Values{"Action": {"A"}, "SSLPub": {"a\nb"}}},
		{"body on GET", "GET", "A=1", formMediaType, "B=2", url.Values{"A": {"1"}, "B": {"2"}}},
		{"body on PUT", "PUT", "", formMediaType, "B=2", url.Values{"B": {"2"}}},
		{"name in both, query first", "POST", "A=q&A=q2", formMediaType, "A=b", url.Values{"A": {"q", "q2", "b"}}},
		{"plus is space in query", "POST", "A=a+b%2Bc", "", "", url.Values{"A": {"a b+c"}}},
		{"plus is space in body", "POST", "", formMediaType, "A=a+b%2Bc", url.Values{"A": {"a b+c"}}},
		{"semicolon is literal", "POST", "A=a;b&c;d=e", formMediaType, "x=1;2", url.Values{"A": {"a;b"}, "c;d": {"e"}, "x": {"1;2"}}},
		{"empty and bare names", "POST", "SignatureType=&Flag&&=v", "", "", url.Values{"SignatureType": {""}, "Flag": {""}, "": {"v"}}},
		{"utf8", "POST", "D=%E4%BE%8B%E5%AD%90.com&E=例", "", "", url.Values{"D": {"例子.com"}, "E": {"例"}}},
		{"lower-case hex", "POST", "A=%2a%7e", "", "", url.Values{"A": {"*~"}}},
		{"charset parameter", "POST", "", "application/x-www-form-urlencoded; charset=UTF-8", "A=1", url.Values{"A": {"1"}}},
		{"media type case", "POST", "", "Application/X-WWW-Form-URLEncoded;charset=utf-8", "A=1", url.Values{"A": {"1"}}},
		{"malformed media parameters", "POST", "", "application/x-www-form-urlencoded; charset", "A=1", url.Values{"A": {"1"}}},
		{"json body ignored", "POST", "A=1", "application/json", `{"B":"2"}`, url.Values{"A": {"1"}}},
		{"json body that looks like a form", "POST", "A=1", "application/json", "B=2", url.Values{"A": {"1"}}},
		{"no content type", "POST", "A=1", "", "B=2", url.Values{"A": {"1"}}},
		{"multipart ignored", "POST", "", "multipart/form-data; boundary=x", "B=2", url.Values{}},
		{"form-like prefix is not form", "POST", "", "application/x-www-form-urlencodedx", "B=2", url.Values{}},
		{"body exactly MaxFormBody", "POST", "", formMediaType, "A=" + strings.Repeat("x", MaxFormBody-2), url.Values{"A": {strings.Repeat("x", MaxFormBody-2)}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeParams(newParamsRequest(tt.method, tt.query, tt.contentType, tt.body))
			if err != nil {
				t.Fatalf("DecodeParams: %v", err)
			}
			if !maps.EqualFunc(got, tt.want, slices.Equal) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestDecodeParamsErrors(t *testing.T) {
	big := strings.Repeat("x", MaxFormBody+1)
	tests := []struct {
		name   string
		query  string
		body   string
		length int64 // overrides Content-Length when non-zero; -1 is unknown
		want   error
	}{
		{"lone percent in query", "A=%", "", 0, errParamsMalformed},
		{"short escape in query", "A=%4", "", 0, errParamsMalformed},
		{"non-hex escape in query", "A=%zz", "", 0, errParamsMalformed},
		{"bad escape in a name", "%G1=1", "", 0, errParamsMalformed},
		{"bad escape in body", "A=1", "B=%E4%BE%8", 0, errParamsMalformed},
		{"oversize body, declared", "", big, 0, errFormBodyTooLarge},
		{"oversize body, chunked", "", big, -1, errFormBodyTooLarge},
		{"declared length alone too large", "", "A=1", MaxFormBody + 1, errFormBodyTooLarge},
		{"too many query parameters", strings.Repeat("a&", maxParamsPerSource), "", 0, errParamsTooMany},
		{"too many body parameters", "", strings.Repeat("&", maxParamsPerSource), 0, errParamsTooMany},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newParamsRequest("POST", tt.query, formMediaType, tt.body)
			if tt.length != 0 {
				r.ContentLength = tt.length
			}
			got, err := DecodeParams(r)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if got != nil {
				t.Errorf("values returned with an error: %q", got)
			}
		})
	}
	// Error texts never carry input: values may be private keys.
	_, err := DecodeParams(newParamsRequest("POST", "PrivateKey=SECRET%zz", formMediaType, ""))
	if err == nil || strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), "PrivateKey") {
		t.Errorf("error %q leaks the input", err)
	}
}

// A server-installed http.MaxBytesReader counts as an oversize body, and an
// I/O failure is reported as such.
func TestDecodeParamsBodyReadErrors(t *testing.T) {
	r := newParamsRequest("POST", "", formMediaType, "A=1234567890")
	r.ContentLength = -1
	r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, 4)
	if _, err := DecodeParams(r); !errors.Is(err, errFormBodyTooLarge) {
		t.Errorf("MaxBytesReader: err = %v", err)
	}
	r = newParamsRequest("POST", "", formMediaType, "")
	r.Body = io.NopCloser(io.MultiReader(strings.NewReader("A=1"), errReader{}))
	if _, err := DecodeParams(r); !errors.Is(err, errFormBodyRead) {
		t.Errorf("failing body: err = %v", err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

// The gateway hashes the body for V3 after DecodeParams has read it.
func TestDecodeParamsLeavesBodyReadable(t *testing.T) {
	const body = "A=1&B=%20"
	r := newParamsRequest("POST", "", formMediaType, body)
	if _, err := DecodeParams(r); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r.Body)
	if err != nil || string(got) != body {
		t.Fatalf("body after DecodeParams = %q, %v", got, err)
	}
	if err := r.Body.Close(); err != nil {
		t.Fatal(err)
	}

	// A body DecodeParams does not decode is not touched at all.
	r = newParamsRequest("POST", "", "application/json", `{"A":1}`)
	orig := r.Body
	if _, err := DecodeParams(r); err != nil || r.Body != orig {
		t.Fatalf("non-form body replaced (err %v)", err)
	}
}

func TestDecodeParamsNilBody(t *testing.T) {
	r := &http.Request{Method: "GET", URL: &url.URL{RawQuery: "A=1"}, Header: http.Header{"Content-Type": {formMediaType}}}
	got, err := DecodeParams(r)
	if err != nil || got.Get("A") != "1" {
		t.Fatalf("got %q, %v", got, err)
	}
}

// Values with nothing to unescape share the input's memory; decoding a
// certificate-sized query allocates about what the escaped values need.
func TestDecodeQueryAllocations(t *testing.T) {
	q := "A=plain&B=" + strings.Repeat("y", 4096)
	if n := testing.AllocsPerRun(100, func() { DecodeQuery(q) }); n > 4 {
		t.Errorf("DecodeQuery of unescaped values: %v allocations", n)
	}
}

func FuzzDecodeParams(f *testing.F) {
	for _, s := range [][2]string{
		{"", ""},
		{"Action=A&Version=1", "SSLPub=a%0Ab+c"},
		{"a=1&a=2", "a=3"},
		{"a;b=c", "x=%zz"},
		{"=&&=", "%"},
		{"k", "k"},
		{"%E4%BE%8B=%e4%be%8b", "+=+"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, query, body string) {
		r := &http.Request{
			Method:        "POST",
			URL:           &url.URL{RawQuery: query},
			Header:        http.Header{"Content-Type": {formMediaType}},
			Body:          io.NopCloser(strings.NewReader(body)),
			ContentLength: int64(len(body)),
		}
		got, err := DecodeParams(r)
		if err == nil && got == nil {
			t.Fatal("nil values without an error")
		}
		if strings.Contains(query+body, ";") {
			return
		}
		wantQ, errQ := url.ParseQuery(query)
		wantB, errB := url.ParseQuery(body)
		if (errQ != nil || errB != nil) != (err != nil) {
			t.Fatalf("DecodeParams err %v; url.ParseQuery errs %v, %v", err, errQ, errB)
		}
		if err != nil {
			return
		}
		for k, vs := range wantB {
			wantQ[k] = append(wantQ[k], vs...)
		}
		if !maps.EqualFunc(got, wantQ, slices.Equal) {
			t.Fatalf("DecodeParams = %q, url.ParseQuery = %q", got, wantQ)
		}
	})
}

func BenchmarkDecodeParams(b *testing.B) {
	rawQuery := setDomainServerCertificateParams().Encode()
	r := httptest.NewRequest(http.MethodPost, "http://cdn.aliyuncs.com/?"+rawQuery, http.NoBody)
	r.Header.Set("Content-Type", formMediaType)
	b.ReportAllocs()
	b.SetBytes(int64(len(rawQuery)))
	for b.Loop() {
		if _, err := DecodeParams(r); err != nil {
			b.Fatal(err)
		}
	}
}
