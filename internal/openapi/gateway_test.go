package openapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cdnd/cdnd/internal/iam"
	"github.com/cdnd/cdnd/internal/keyring"
	"github.com/cdnd/cdnd/internal/openapi"
	"github.com/cdnd/cdnd/internal/store"
	"github.com/cdnd/cdnd/internal/store/storetest"
)

// The gateway is tested over a real store (nonces) and a real iam directory
// (AccessKeys), with a test action that echoes what it was given.
var st *store.Store

func TestMain(m *testing.M) { os.Exit(storetest.Run(m, &st, nil)) }

const secretParam = "PrivateKey"

type testGateway struct {
	gw     *openapi.Gateway
	creds  iam.Credentials
	secret string
}

func newTestGateway(t testing.TB) *testGateway {
	s := st.WithPrefix(fmt.Sprintf("/gw-%s-%d", t.Name(), time.Now().UnixNano()))
	kr, err := keyring.New(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	dir := iam.New(s, kr)
	creds, err := dir.CreateAccount(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	gw := openapi.New(openapi.Config{Credentials: dir, Nonces: s})
	gw.Register(
		openapi.Action{Name: "Echo", Version: "2018-05-10", Rate: 1000, Required: []string{"Value"}, Secrets: []string{secretParam},
			Handle: func(_ context.Context, r *openapi.Request) (any, error) {
				return map[string]any{"Value": r.Get("Value"), "List": map[string][]string{"Item": {"a", "b"}}}, nil
			}},
		openapi.Action{Name: "Fail", Version: "2018-05-10", Handle: func(context.Context, *openapi.Request) (any, error) {
			return nil, fmt.Errorf("wrapped internal detail %s", "do-not-show")
		}},
		openapi.Action{Name: "Panic", Version: "2018-05-10", Handle: func(context.Context, *openapi.Request) (any, error) {
			panic("boom")
		}},
		openapi.Action{Name: "NilAPIError", Version: "2018-05-10", Handle: func(context.Context, *openapi.Request) (any, error) {
			var missing *openapi.Error // what a lookup in a table without the entry gives
			return nil, fmt.Errorf("wrapped: %w", missing)
		}},
		openapi.Action{Name: "GetOnly", Version: "2018-05-10", GETOnly: true, Handle: func(context.Context, *openapi.Request) (any, error) {
			return nil, nil
		}},
	)
	return &testGateway{gw: gw, creds: creds, secret: creds.AccessKeySecret}
}

func (g *testGateway) params(action string) url.Values {
	return url.Values{
		"Action": {action}, "Version": {"2018-05-10"}, "Format": {"JSON"}, "AccessKeyId": {g.creds.AccessKeyID},
		"SignatureMethod": {"HMAC-SHA1"}, "SignatureVersion": {"1.0"}, "SignatureType": {""},
		"SignatureNonce": {fmt.Sprint(time.Now().UnixNano())}, "Timestamp": {time.Now().UTC().Format("2006-01-02T15:04:05Z")},
	}
}

func (g *testGateway) call(t testing.TB, method string, p url.Values, secret string) *httptest.ResponseRecorder {
	p.Set("Signature", openapi.SignV1(secret, openapi.StringToSignV1(method, p)))
	r := httptest.NewRequest(method, "/?"+p.Encode(), nil)
	w := httptest.NewRecorder()
	g.gw.ServeHTTP(w, r)
	return w
}

func decode(t testing.TB, w *httptest.ResponseRecorder) map[string]any {
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("body %q: %v", w.Body, err)
	}
	return m
}

func TestSuccessShape(t *testing.T) {
	g := newTestGateway(t)
	p := g.params("Echo")
	p.Set("Value", "héllo & <xml>")
	w := g.call(t, "POST", p, g.secret)
	m := decode(t, w)
	if w.Code != 200 || m["Value"] != "héllo & <xml>" || m["RequestId"] != w.Header().Get("x-acs-request-id") || m["Code"] != nil {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if !strings.HasPrefix(w.Body.String(), `{"RequestId":"`) {
		t.Fatalf("RequestId is not first: %s", w.Body)
	}
	p = g.params("Echo")
	p.Set("Value", "héllo & <xml>")
	p.Set("Format", "xml")
	w = g.call(t, "POST", p, g.secret)
	body := w.Body.String()
	if w.Code != 200 || w.Header().Get("Content-Type") != "text/xml;charset=utf-8" ||
		!strings.Contains(body, "<EchoResponse><RequestId>") || !strings.Contains(body, "<Value>héllo &amp; &lt;xml&gt;</Value>") ||
		!strings.Contains(body, "<List><Item>a</Item><Item>b</Item></List>") {
		t.Fatalf("%d %s", w.Code, body)
	}
}

func TestFailuresNeverShowInternals(t *testing.T) {
	g := newTestGateway(t)
	for action, code := range map[string]string{"Fail": "InternalError", "Panic": "InternalError", "NilAPIError": "InternalError"} {
		w := g.call(t, "POST", g.params(action), g.secret)
		m := decode(t, w)
		if w.Code != 500 || m["Code"] != code || strings.Contains(w.Body.String(), "do-not-show") || strings.Contains(w.Body.String(), "boom") {
			t.Fatalf("%s: %d %s", action, w.Code, w.Body)
		}
	}
	w := g.call(t, "POST", g.params("GetOnly"), g.secret)
	if m := decode(t, w); w.Code != 404 || m["Code"] != "InvalidAction.NotFound" {
		t.Fatalf("GET-only by POST: %d %s", w.Code, w.Body)
	}
	if w := g.call(t, "GET", g.params("GetOnly"), g.secret); w.Code != 200 {
		t.Fatalf("GET-only by GET: %d %s", w.Code, w.Body)
	}
}

func TestSignatureMismatchWithholdsSecrets(t *testing.T) {
	g := newTestGateway(t)
	p := g.params("Echo")
	p.Set("Value", "v")
	p.Set(secretParam, "-----BEGIN PRIVATE KEY-----\nSECRETBODY\n-----END PRIVATE KEY-----")
	w := g.call(t, "POST", p, "wrong")
	if m := decode(t, w); m["Code"] != "SignatureDoesNotMatch" || strings.Contains(w.Body.String(), "SECRETBODY") {
		t.Fatalf("%s", w.Body)
	}
}

// No error answer repeats a secret or more than a few KB of the request,
// on any path that shows the server's string-to-sign: an IncompleteSignature
// echoed a private key (and five times the request) before.
func TestErrorAnswersEchoLittleAndNoSecret(t *testing.T) {
	g := newTestGateway(t)
	big := strings.Repeat("A", 200<<10)
	for _, tc := range []struct {
		name   string
		set    map[string]string
		secret string
		code   string
	}{
		{"incomplete signature with a private key", map[string]string{"SignatureVersion": "2.0", secretParam: "SECRETBODY"}, "wrong", "IncompleteSignature"},
		{"incomplete signature with an STS token", map[string]string{"SignatureVersion": "2.0", "SecurityToken": "SECRETBODY"}, "wrong", "IncompleteSignature"},
		{"incomplete signature with an SSL key of another action", map[string]string{"SignatureVersion": "2.0", "SSLPri": "SECRETBODY"}, "wrong", "IncompleteSignature"},
		{"an STS token that does not parse", map[string]string{"SecurityToken": "SECRETBODY"}, "wrong", "InvalidSecurityToken.Malformed"},
		{"incomplete signature of a huge request", map[string]string{"SignatureVersion": "2.0", "Value": big}, "wrong", "IncompleteSignature"},
		{"mismatch of a huge request", map[string]string{"Value": big}, "wrong", "SignatureDoesNotMatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := g.params("Echo")
			p.Set("Value", "v")
			for k, v := range tc.set {
				p.Set(k, v)
			}
			w := g.call(t, "POST", p, tc.secret)
			m := decode(t, w)
			if m["Code"] != tc.code || strings.Contains(w.Body.String(), "SECRETBODY") || w.Body.Len() > 4<<10 {
				t.Fatalf("%s: %d bytes: %.300s", m["Code"], w.Body.Len(), w.Body)
			}
		})
	}
	// A small request without secrets still gets its string-to-sign back.
	p := g.params("Echo")
	p.Set("Value", "visible")
	w := g.call(t, "POST", p, "wrong")
	if !strings.Contains(w.Body.String(), "visible") {
		t.Fatalf("string-to-sign withheld from a plain mismatch: %s", w.Body)
	}
}

// FuzzGateway throws arbitrary requests at the gateway: it never panics,
// always answers JSON (or the XML it was asked for) with string fields, and
// never echoes a secret parameter.
func FuzzGateway(f *testing.F) {
	f.Add("GET", "Action=Echo&Version=2018-05-10", "", "")
	f.Add("POST", "", "Action=Echo&Value=x&PrivateKey=SECRETBODY", "application/x-www-form-urlencoded")
	f.Add("POST", "Action=%zz", "", "")
	f.Add("PUT", "Format=XML&Timestamp=2026-01-01T00:00:00.5Z", "{}", "application/json")
	g := newTestGateway(f)
	f.Fuzz(func(t *testing.T, method, query, body, ctype string) {
		if method == "" || strings.ContainsAny(method, " \t\r\n()<>@,;:\\\"/[]?={}") || !isToken(method) {
			return
		}
		r, err := http.NewRequest(method, "/?"+query, strings.NewReader(body))
		if err != nil {
			return
		}
		r.Header.Set("Content-Type", ctype)
		w := httptest.NewRecorder()
		g.gw.ServeHTTP(w, r)
		out, _ := io.ReadAll(w.Body)
		if bytes.Contains(out, []byte("SECRETBODY")) && !strings.Contains(query, "Value=SECRETBODY") && !strings.Contains(body, "Value=SECRETBODY") {
			t.Fatalf("secret echoed: %s", out)
		}
		if w.Code >= 400 {
			var m map[string]any
			if err := json.Unmarshal(out, &m); err != nil {
				t.Fatalf("error body is not JSON: %q", out)
			}
			for _, k := range []string{"RequestId", "HostId", "Code", "Message", "Recommend"} {
				if _, ok := m[k].(string); !ok {
					t.Fatalf("%s is %T: %s", k, m[k], out)
				}
			}
		}
	})
}

func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// An oversized common parameter is refused with the code a wrong value of it
// gets, before it is looked up or claimed as a nonce, and never echoed.
func TestOversizedCommonParametersAreRefusedFirst(t *testing.T) {
	g := newTestGateway(t)
	for _, tc := range []struct {
		param string
		size  int
		code  string
	}{
		{"Action", 129, "InvalidAction.NotFound"},
		{"Version", 33, "InvalidVersion"},
		{"AccessKeyId", 129, "InvalidAccessKeyId.NotFound"},
		{"SignatureNonce", 129, "InvalidParameter"},
		{"SecurityToken", 16<<10 + 1, "InvalidSecurityToken.Malformed"},
	} {
		t.Run(tc.param, func(t *testing.T) {
			p := g.params("Echo")
			p.Set("Value", "v")
			p.Set(tc.param, strings.Repeat("Z", tc.size))
			w := g.call(t, "POST", p, g.secret)
			m := decode(t, w)
			if m["Code"] != tc.code || !strings.Contains(m["Message"].(string), "more than") || strings.Contains(w.Body.String(), "ZZZZ") {
				t.Fatalf("%d %s", w.Code, w.Body)
			}
		})
	}
	// At the limit a nonce is an ordinary one.
	p := g.params("Echo")
	p.Set("Value", "v")
	p.Set("SignatureNonce", strings.Repeat("n", 128))
	if w := g.call(t, "POST", p, g.secret); w.Code != 200 {
		t.Fatalf("a 128-byte nonce: %d %s", w.Code, w.Body)
	}
}
