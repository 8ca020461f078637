package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cdnd/cdnd/internal/openapi"
)

// signedCall is a hand-made V1 request, for what the SDK cannot send.
type signedCall struct {
	method   string
	params   url.Values
	inBody   bool   // everything in a form body, as pop-core POSTs
	secret   string // signing secret
	noSign   bool
	tamper   func(p url.Values) // after signing
	dropSign []string           // parameters removed before signing
}

func commonParams(id, action string) url.Values {
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	return url.Values{
		"Action":           {action},
		"Version":          {"2018-05-10"},
		"Format":           {"JSON"},
		"AccessKeyId":      {id},
		"SignatureMethod":  {"HMAC-SHA1"},
		"SignatureVersion": {"1.0"},
		"SignatureNonce":   {hex.EncodeToString(nonce)},
		"Timestamp":        {time.Now().UTC().Format("2006-01-02T15:04:05Z")},
	}
}

type apiAnswer struct {
	status int
	header http.Header
	body   []byte
	fields map[string]any
}

func (c signedCall) do(t *testing.T) apiAnswer {
	t.Helper()
	if c.method == "" {
		c.method = http.MethodGet
	}
	p := url.Values{}
	for k, v := range c.params {
		p[k] = append([]string(nil), v...)
	}
	for _, k := range c.dropSign {
		p.Del(k)
	}
	if !c.noSign {
		p.Set("Signature", openapi.SignV1(c.secret, openapi.StringToSignV1(c.method, p)))
	}
	if c.tamper != nil {
		c.tamper(p)
	}
	target := "http://" + srv.APIAddr.String() + "/"
	var body io.Reader
	if c.inBody {
		body = strings.NewReader(p.Encode())
	} else {
		target += "?" + p.Encode()
	}
	req, err := http.NewRequest(c.method, target, body)
	if err != nil {
		t.Fatal(err)
	}
	if c.inBody {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a := apiAnswer{status: resp.StatusCode, header: resp.Header}
	a.body, _ = io.ReadAll(resp.Body)
	_ = json.Unmarshal(a.body, &a.fields)
	return a
}

// wantError checks an error answer's status, code and the field types the
// classic SDK type-asserts.
func (a apiAnswer) wantError(t *testing.T, status int, code string) {
	t.Helper()
	if a.status != status || a.fields["Code"] != code {
		t.Fatalf("got %d %s, want %d %s", a.status, a.body, status, code)
	}
	for _, k := range []string{"RequestId", "HostId", "Code", "Message", "Recommend"} {
		if _, ok := a.fields[k].(string); !ok {
			t.Fatalf("%s is %T, want a string: %s", k, a.fields[k], a.body)
		}
	}
	if ct := a.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error Content-Type %q", ct)
	}
}

func TestGatewayHandSigned(t *testing.T) {
	a := newAccount(t)
	name := uniqueDomain("gateway.example")
	a.addDomain(t, name)
	detail := func() url.Values {
		p := commonParams(a.AccessKeyID, "DescribeCdnDomainDetail")
		p.Set("DomainName", name)
		return p
	}

	t.Run("GET query", func(t *testing.T) {
		ans := signedCall{params: detail(), secret: a.Secret}.do(t)
		if ans.status != 200 || ans.fields["RequestId"] == nil || ans.fields["Code"] != nil || ans.fields["Message"] != nil {
			t.Fatalf("%d %s", ans.status, ans.body)
		}
		if ans.header.Get("x-acs-request-id") != ans.fields["RequestId"] {
			t.Fatalf("x-acs-request-id %q vs body %v", ans.header.Get("x-acs-request-id"), ans.fields["RequestId"])
		}
	})
	t.Run("POST form body, everything in it", func(t *testing.T) {
		ans := signedCall{method: http.MethodPost, inBody: true, params: detail(), secret: a.Secret}.do(t)
		if ans.status != 200 {
			t.Fatalf("%d %s", ans.status, ans.body)
		}
	})
	t.Run("Format any case", func(t *testing.T) {
		p := detail()
		p.Set("Format", "json")
		if ans := (signedCall{params: p, secret: a.Secret}).do(t); ans.status != 200 {
			t.Fatalf("%d %s", ans.status, ans.body)
		}
	})
	t.Run("XML", func(t *testing.T) {
		p := detail()
		p.Set("Format", "XML")
		ans := signedCall{params: p, secret: a.Secret}.do(t)
		var doc struct {
			XMLName   xml.Name
			RequestId string
			Model     struct {
				DomainName string
				Sources    []struct{ Content string } `xml:"SourceModels>SourceModel"`
			} `xml:"GetDomainDetailModel"`
		}
		if err := xml.Unmarshal(ans.body, &doc); err != nil || ans.status != 200 {
			t.Fatalf("%d %s: %v", ans.status, ans.body, err)
		}
		if doc.XMLName.Local != "DescribeCdnDomainDetailResponse" || doc.RequestId == "" || doc.Model.DomainName != name ||
			len(doc.Model.Sources) != 1 || doc.Model.Sources[0].Content != "127.0.0.1" {
			t.Fatalf("XML: %s", ans.body)
		}
	})
	t.Run("XML asked, error in JSON", func(t *testing.T) {
		p := detail()
		p.Set("Format", "XML")
		p.Set("DomainName", "missing."+name)
		signedCall{params: p, secret: a.Secret}.do(t).wantError(t, 404, "InvalidDomain.NotFound")
	})
	t.Run("reused nonce", func(t *testing.T) {
		p := detail()
		if ans := (signedCall{params: p, secret: a.Secret}).do(t); ans.status != 200 {
			t.Fatalf("%d %s", ans.status, ans.body)
		}
		signedCall{params: p, secret: a.Secret}.do(t).wantError(t, 400, "SignatureNonceUsed")
	})

	for _, tc := range []struct {
		name   string
		call   signedCall
		status int
		code   string
	}{
		{"stale timestamp", signedCall{params: with(detail(), "Timestamp", time.Now().UTC().Add(-16*time.Minute).Format("2006-01-02T15:04:05Z"))}, 400, "InvalidTimeStamp.Expired"},
		{"future timestamp", signedCall{params: with(detail(), "Timestamp", time.Now().UTC().Add(16*time.Minute).Format("2006-01-02T15:04:05Z"))}, 400, "InvalidTimeStamp.Expired"},
		{"fractional timestamp", signedCall{params: with(detail(), "Timestamp", time.Now().UTC().Format("2006-01-02T15:04:05.000Z"))}, 400, "InvalidTimeStamp.Format"},
		{"unknown action", signedCall{params: with(detail(), "Action", "DescribeEverything")}, 404, "InvalidAction.NotFound"},
		{"unknown version", signedCall{params: with(detail(), "Version", "2099-01-01")}, 400, "InvalidVersion"},
		{"action not in version", signedCall{params: with(commonParams(a.AccessKeyID, "DescribeUserDomains"), "Version", "2014-11-11")}, 404, "InvalidAction.NotFound"},
		{"missing nonce", signedCall{dropSign: []string{"SignatureNonce"}, params: detail()}, 400, "MissingSignatureNonce"},
		{"missing timestamp", signedCall{dropSign: []string{"Timestamp"}, params: detail()}, 400, "MissingTimestamp"},
		{"missing signature", signedCall{noSign: true, params: detail()}, 400, "MissingSignature"},
		{"missing action param", signedCall{params: with(detail(), "DomainName", "")}, 400, "MissingDomainName"},
		{"bad signature method", signedCall{params: with(detail(), "SignatureMethod", "HMAC-SHA256")}, 400, "InvalidSignatureMethod"},
		{"signature version 2.0", signedCall{params: with(detail(), "SignatureVersion", "2.0")}, 400, "IncompleteSignature"},
		{"bad format", signedCall{params: with(detail(), "Format", "YAML")}, 400, "InvalidParameter.Format"},
		{"wrong secret", signedCall{params: detail(), secret: "wrong"}, 400, "SignatureDoesNotMatch"},
		{"tampered parameter", signedCall{params: detail(), tamper: func(p url.Values) { p.Set("DomainName", "x."+name) }}, 400, "SignatureDoesNotMatch"},
		{"unknown key", signedCall{params: with(detail(), "AccessKeyId", "LTAInobodyhasthiskey00")}, 404, "InvalidAccessKeyId.NotFound"},
		{"security token", signedCall{params: with(detail(), "SecurityToken", "CAIS-token")}, 400, "InvalidSecurityToken.Malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.call.secret == "" {
				tc.call.secret = a.Secret
			}
			tc.call.do(t).wantError(t, tc.status, tc.code)
		})
	}

	t.Run("malformed escape", func(t *testing.T) {
		resp, err := http.Get("http://" + srv.APIAddr.String() + "/?Action=%zz&" + detail().Encode())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		ans := apiAnswer{status: resp.StatusCode, header: resp.Header, body: b}
		_ = json.Unmarshal(b, &ans.fields)
		ans.wantError(t, 400, "InvalidParameter")
	})
	t.Run("signature mismatch shows the server's string to sign", func(t *testing.T) {
		p := detail()
		ans := signedCall{params: p, secret: "wrong"}.do(t)
		msg, _ := ans.fields["Message"].(string)
		if !strings.Contains(msg, "server string to sign is:GET&%2F&AccessKeyId%3D"+a.AccessKeyID) {
			t.Fatalf("message %q", msg)
		}
	})
}

func with(p url.Values, k, v string) url.Values {
	if v == "" {
		p.Del(k)
	} else {
		p.Set(k, v)
	}
	return p
}

// TestThrottling: SetDomainServerCertificate allows 10 calls a second per
// account, summed over its keys; the 11th in the same instant is refused
// with a retry hint.
func TestThrottling(t *testing.T) {
	a := newAccount(t)
	var throttled apiAnswer
	for i := 0; i < 30; i++ {
		p := commonParams(a.AccessKeyID, "SetDomainServerCertificate")
		p.Set("DomainName", "nothing.example")
		p.Set("ServerCertificateStatus", "off")
		ans := signedCall{params: p, secret: a.Secret}.do(t)
		if ans.fields["Code"] == "Throttling.User" {
			throttled = ans
			break
		}
	}
	if throttled.status == 0 {
		t.Fatal("30 calls in a burst were never throttled")
	}
	throttled.wantError(t, 400, "Throttling.User")
	if throttled.header.Get("x-acs-retry-after") == "" {
		t.Fatal("no x-acs-retry-after header")
	}
	// Another account is not affected.
	b := newAccount(t)
	p := commonParams(b.AccessKeyID, "SetDomainServerCertificate")
	p.Set("DomainName", "nothing.example")
	p.Set("ServerCertificateStatus", "off")
	signedCall{params: p, secret: b.Secret}.do(t).wantError(t, 404, "InvalidDomain.NotFound")
}
