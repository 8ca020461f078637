package cdn

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cdnd/cdnd/internal/store"
)

func TestParseFunctions(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     error
		args     string // the first function's normalized args, "n=v,..."
	}{
		{"https_force defaults", `[{"functionName":"https_force","functionArgs":[{"argName":"enable","argValue":"on"}]}]`, nil, "enable=on,https_rewrite=301"},
		{"empty is the default", `[{"functionName":"https_force","functionArgs":[{"argName":"enable","argValue":"on"},{"argName":"https_rewrite","argValue":""}]}]`, nil, "enable=on,https_rewrite=301"},
		{"308", `[{"functionName":"https_force","functionArgs":[{"argName":"enable","argValue":"on"},{"argName":"https_rewrite","argValue":"308"}]}]`, nil, "enable=on,https_rewrite=308"},
		{"tls", `[{"functionName":"https_tls_version","functionArgs":[{"argName":"tls12","argValue":"off"}]}]`, nil, "tls10=on,tls11=on,tls12=off,tls13=on"},
		{"hsts number value", `[{"functionName":"HSTS","functionArgs":[{"argName":"enabled","argValue":"on"},{"argName":"https_hsts_max_age","argValue":600}]}]`, nil, "enabled=on,https_hsts_max_age=600,https_hsts_include_subdomains=off"},
		{"header delete needs no value", `[{"functionName":"set_resp_header","functionArgs":[{"argName":"key","argValue":"X-A"},{"argName":"header_operation_type","argValue":"delete"}]}]`, nil, "key=X-A,value=,header_operation_type=delete,duplicate=off"},
		{"parentId -1", `[{"functionName":"https_option","functionArgs":[{"argName":"http2","argValue":"off"}],"parentId":-1}]`, nil, "http2=off"},
		{"configId as string", `[{"functionName":"https_option","functionArgs":[{"argName":"http2","argValue":"off"}],"configId":"12345678"}]`, nil, "http2=off"},

		{"file type ttl defaults", `[{"functionName":"filetype_based_ttl_set","functionArgs":[{"argName":"ttl","argValue":"600"},{"argName":"file_type","argValue":"jpg,PNG"}]}]`, nil, "ttl=600,file_type=jpg,PNG,weight=1,swift_origin_cache_high=off,swift_no_cache_low=off,swift_follow_cachetime=off,force_revalidate=off"},
		{"path ttl", `[{"functionName":"path_based_ttl_set","functionArgs":[{"argName":"ttl","argValue":"0"},{"argName":"path","argValue":"/img/"},{"argName":"weight","argValue":"99"},{"argName":"force_revalidate","argValue":"on"}]}]`, nil, "ttl=0,path=/img/,weight=99,swift_origin_cache_high=off,swift_no_cache_low=off,swift_follow_cachetime=off,force_revalidate=on"},
		{"code string", `[{"functionName":"path_force_ttl_code","functionArgs":[{"argName":"path","argValue":"/"},{"argName":"code_string","argValue":"403=10,4xx=2"}]}]`, nil, "path=/,code_string=403=10,4xx=2"},
		{"remove args by space", `[{"functionName":"ali_remove_args","functionArgs":[{"argName":"ali_remove_args","argValue":"t sign"}]}]`, nil, "ali_remove_args=t sign"},
		{"hashkey none", `[{"functionName":"set_hashkey_args","functionArgs":[{"argName":"disable","argValue":"on"}]}]`, nil, "hashkey_args=,disable=on"},
		{"ttl too long", `[{"functionName":"filetype_based_ttl_set","functionArgs":[{"argName":"ttl","argValue":"100000000"},{"argName":"file_type","argValue":"jpg"}]}]`, errArgValueMalformed, ""},
		{"weight zero", `[{"functionName":"filetype_based_ttl_set","functionArgs":[{"argName":"ttl","argValue":"1"},{"argName":"file_type","argValue":"jpg"},{"argName":"weight","argValue":"0"}]}]`, errArgValueMalformed, ""},
		{"file type with a dot", `[{"functionName":"filetype_based_ttl_set","functionArgs":[{"argName":"ttl","argValue":"1"},{"argName":"file_type","argValue":".jpg"}]}]`, errArgValueMalformed, ""},
		{"empty file type in the list", `[{"functionName":"filetype_based_ttl_set","functionArgs":[{"argName":"ttl","argValue":"1"},{"argName":"file_type","argValue":"jpg,,png"}]}]`, errArgValueMalformed, ""},
		{"too many file types", `[{"functionName":"filetype_force_ttl_code","functionArgs":[{"argName":"file_type","argValue":"a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a,a"},{"argName":"code_string","argValue":"404=1"}]}]`, errArgValueMalformed, ""},
		{"relative path", `[{"functionName":"path_based_ttl_set","functionArgs":[{"argName":"ttl","argValue":"1"},{"argName":"path","argValue":"img/"}]}]`, errArgValueMalformed, ""},
		{"path with a query", `[{"functionName":"path_based_ttl_set","functionArgs":[{"argName":"ttl","argValue":"1"},{"argName":"path","argValue":"/a?b"}]}]`, errArgValueMalformed, ""},
		{"path climbing", `[{"functionName":"path_based_ttl_set","functionArgs":[{"argName":"ttl","argValue":"1"},{"argName":"path","argValue":"/a/../b"}]}]`, errArgValueMalformed, ""},
		{"code out of range", `[{"functionName":"default_ttl_code","functionArgs":[{"argName":"default_ttl_code","argValue":"600=1"}]}]`, errArgValueMalformed, ""},
		{"code without ttl", `[{"functionName":"default_ttl_code","functionArgs":[{"argName":"default_ttl_code","argValue":"404"}]}]`, errArgValueMalformed, ""},
		{"class 6xx", `[{"functionName":"default_ttl_code","functionArgs":[{"argName":"default_ttl_code","argValue":"6xx=1"}]}]`, errArgValueMalformed, ""},
		{"arg name with =", `[{"functionName":"ali_remove_args","functionArgs":[{"argName":"ali_remove_args","argValue":"a=b"}]}]`, errArgValueMalformed, ""},
		{"swift flags", `[{"functionName":"filetype_based_ttl_set","functionArgs":[{"argName":"ttl","argValue":"1"},{"argName":"file_type","argValue":"jpg"},{"argName":"swift_no_cache_low","argValue":"on"},{"argName":"swift_follow_cachetime","argValue":"on"}]}]`, nil, "ttl=1,file_type=jpg,weight=1,swift_origin_cache_high=off,swift_no_cache_low=on,swift_follow_cachetime=on,force_revalidate=off"},
		{"bad swift flag", `[{"functionName":"filetype_based_ttl_set","functionArgs":[{"argName":"ttl","argValue":"1"},{"argName":"file_type","argValue":"jpg"},{"argName":"swift_no_cache_low","argValue":"1"}]}]`, errArgValueMalformed, ""},
		{"unsupported ttl arg", `[{"functionName":"filetype_based_ttl_set","functionArgs":[{"argName":"ttl","argValue":"1"},{"argName":"file_type","argValue":"jpg"},{"argName":"swift_cache_all","argValue":"on"}]}]`, errArgNameNotSupported, ""},
		{"serving_stale_content defaults", `[{"functionName":"serving_stale_content","functionArgs":[]}]`, nil, "origin_error_status_code=5xx,extend_expiration_time=3600,origin_first=off"},
		{"serving_stale_content", `[{"functionName":"serving_stale_content","functionArgs":[{"argName":"origin_error_status_code","argValue":"502,4xx"},{"argName":"extend_expiration_time","argValue":"60"},{"argName":"origin_first","argValue":"on"}]}]`, nil, "origin_error_status_code=502,4xx,extend_expiration_time=60,origin_first=on"},
		{"stale window zero", `[{"functionName":"serving_stale_content","functionArgs":[{"argName":"extend_expiration_time","argValue":"0"}]}]`, errArgValueMalformed, ""},
		{"stale code 200x", `[{"functionName":"serving_stale_content","functionArgs":[{"argName":"origin_error_status_code","argValue":"5xx,200x"}]}]`, errArgValueMalformed, ""},

		{"not JSON", `[{`, errFunctionsMalformed, ""},
		{"empty list", `[]`, errFunctionsMalformed, ""},
		{"an object", `{"functionName":"HSTS"}`, errFunctionsMalformed, ""},
		{"configId object", `[{"functionName":"https_option","functionArgs":[{"argName":"http2","argValue":"off"}],"configId":{}}]`, errFunctionsMalformed, ""},
		{"configId not a number", `[{"functionName":"https_option","functionArgs":[{"argName":"http2","argValue":"off"}],"configId":"x1"}]`, errConfigNotFound, ""},
		{"unknown function", `[{"functionName":"gzip","functionArgs":[]}]`, errFunctionNotSupported, ""},
		{"unknown arg", `[{"functionName":"https_option","functionArgs":[{"argName":"http3","argValue":"on"}]}]`, errArgNameNotSupported, ""},
		{"missing arg", `[{"functionName":"https_option","functionArgs":[]}]`, errFunctionArgsMalformed, ""},
		{"duplicate arg", `[{"functionName":"https_option","functionArgs":[{"argName":"http2","argValue":"on"},{"argName":"http2","argValue":"off"}]}]`, errFunctionArgsMalformed, ""},
		{"empty arg name", `[{"functionName":"https_option","functionArgs":[{"argName":"","argValue":"on"}]}]`, errFunctionArgsMalformed, ""},
		{"arg value object", `[{"functionName":"https_option","functionArgs":[{"argName":"http2","argValue":{}}]}]`, errFunctionArgsMalformed, ""},
		{"bad on/off", `[{"functionName":"https_option","functionArgs":[{"argName":"http2","argValue":"yes"}]}]`, errArgValueMalformed, ""},
		{"empty required", `[{"functionName":"https_option","functionArgs":[{"argName":"http2","argValue":""}]}]`, errArgValueMalformed, ""},
		{"bad code", `[{"functionName":"https_force","functionArgs":[{"argName":"enable","argValue":"on"},{"argName":"https_rewrite","argValue":"303"}]}]`, errArgValueMalformed, ""},
		{"max age out of range", `[{"functionName":"HSTS","functionArgs":[{"argName":"enabled","argValue":"on"},{"argName":"https_hsts_max_age","argValue":"63072001"}]}]`, errArgValueMalformed, ""},
		{"max age not canonical", `[{"functionName":"HSTS","functionArgs":[{"argName":"enabled","argValue":"on"},{"argName":"https_hsts_max_age","argValue":"+60"}]}]`, errArgValueMalformed, ""},
		{"all tls off", `[{"functionName":"https_tls_version","functionArgs":[{"argName":"tls10","argValue":"off"},{"argName":"tls11","argValue":"off"},{"argName":"tls12","argValue":"off"},{"argName":"tls13","argValue":"off"}]}]`, errArgValueMalformed, ""},
		{"framing header", `[{"functionName":"set_resp_header","functionArgs":[{"argName":"key","argValue":"content-length"},{"argName":"value","argValue":"1"}]}]`, errHeaderKeyNotSupported, ""},
		{"header name syntax", `[{"functionName":"set_req_header","functionArgs":[{"argName":"key","argValue":"X A"},{"argName":"value","argValue":"1"}]}]`, errHeaderKeyNotSupported, ""},
		{"header value CRLF", `[{"functionName":"set_resp_header","functionArgs":[{"argName":"key","argValue":"X-A"},{"argName":"value","argValue":"a\r\nSet-Cookie: x"}]}]`, errArgValueMalformed, ""},
		{"header add without value", `[{"functionName":"set_resp_header","functionArgs":[{"argName":"key","argValue":"X-A"}]}]`, errArgValueMalformed, ""},
		{"parentId", `[{"functionName":"https_option","functionArgs":[{"argName":"http2","argValue":"off"}],"parentId":"222728944812032"}]`, errInvalidParentID, ""},
		{"too many", "[" + strings.Repeat(`{"functionName":"https_option","functionArgs":[{"argName":"http2","argValue":"off"}]},`, 50) + `{"functionName":"https_option","functionArgs":[{"argName":"http2","argValue":"off"}]}]`, errConfigExceedLimit, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sets, err := parseFunctions(tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if err == nil && argString(sets[0].args) != tc.args {
				t.Fatalf("args %s, want %s", argString(sets[0].args), tc.args)
			}
		})
	}
}

var testNow = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func argString(args []store.FunctionArg) string {
	var parts []string
	for _, a := range args {
		parts = append(parts, a.Name+"="+a.Value)
	}
	return strings.Join(parts, ",")
}

// Setting a function again replaces its config (the ConfigId stays); a
// header is one config per name; https_force and http_force exclude each
// other; a ConfigId must name a config of the same function.
func TestApplyFunctions(t *testing.T) {
	var c store.DomainConfigs
	set := func(in string) (int64, error) {
		t.Helper()
		sets, err := parseFunctions(in)
		if err != nil {
			t.Fatal(err)
		}
		return sets[0].apply(&c, testNow)
	}
	id1, err := set(`[{"functionName":"https_force","functionArgs":[{"argName":"enable","argValue":"on"}]}]`)
	if err != nil {
		t.Fatal(err)
	}
	if id2, err := set(`[{"functionName":"https_force","functionArgs":[{"argName":"enable","argValue":"off"}]}]`); err != nil || id2 != id1 || len(c.Configs) != 1 || c.Configs[0].Arg("enable") != "off" {
		t.Fatalf("replace: %d (first %d), %v, %+v", id2, id1, err, c.Configs)
	}
	if _, err := set(`[{"functionName":"http_force","functionArgs":[{"argName":"enable","argValue":"on"}]}]`); err != nil || len(c.Configs) != 1 || c.Configs[0].Function != "http_force" {
		t.Fatalf("http_force: %v, %+v", err, c.Configs)
	}
	// Changing https_force by its ConfigId removes http_force as well.
	hf, err := set(`[{"functionName":"https_force","functionArgs":[{"argName":"enable","argValue":"on"}]}]`)
	if err != nil {
		t.Fatal(err)
	}
	c.Configs = append(c.Configs, store.FunctionConfig{ConfigID: 7, Function: "http_force"})
	if _, err := set(`[{"functionName":"https_force","configId":` + itoa(hf) + `,"functionArgs":[{"argName":"enable","argValue":"on"}]}]`); err != nil || len(c.Configs) != 1 || c.Configs[0].ConfigID != hf {
		t.Fatalf("by ConfigId: %v, %+v", err, c.Configs)
	}
	h, err := set(`[{"functionName":"set_resp_header","functionArgs":[{"argName":"key","argValue":"X-A"},{"argName":"value","argValue":"1"}]}]`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := set(`[{"functionName":"set_resp_header","functionArgs":[{"argName":"key","argValue":"x-a"},{"argName":"value","argValue":"2"}]}]`); !errors.Is(err, errConfigDuplicate) {
		t.Fatalf("same header again: %v", err)
	}
	if _, err := set(`[{"functionName":"set_resp_header","functionArgs":[{"argName":"key","argValue":"X-B"},{"argName":"value","argValue":"2"}]}]`); err != nil || len(c.Configs) != 3 {
		t.Fatalf("second header: %v", err)
	}
	if id, err := set(`[{"functionName":"set_resp_header","functionArgs":[{"argName":"key","argValue":"X-A"},{"argName":"value","argValue":"3"}],"configId":` + itoa(h) + `}]`); err != nil || id != h {
		t.Fatalf("update by id: %d, %v", id, err)
	}
	if _, err := set(`[{"functionName":"set_resp_header","functionArgs":[{"argName":"key","argValue":"X-B"},{"argName":"value","argValue":"3"}],"configId":` + itoa(h) + `}]`); !errors.Is(err, errConfigDuplicate) {
		t.Fatalf("renaming onto another header: %v", err)
	}
	if _, err := set(`[{"functionName":"https_option","functionArgs":[{"argName":"http2","argValue":"on"}],"configId":` + itoa(h) + `}]`); !errors.Is(err, errConfigNotFound) {
		t.Fatalf("id of another function: %v", err)
	}
}

func FuzzParseFunctions(f *testing.F) {
	for _, s := range []string{
		`[{"functionName":"https_force","functionArgs":[{"argName":"enable","argValue":"on"}]}]`,
		`[{"functionName":"set_resp_header","functionArgs":[{"argName":"key","argValue":"X-A"},{"argName":"value","argValue":"1"}],"configId":5}]`,
		`[{"functionName":"https_tls_version","functionArgs":[{"argName":"tls13","argValue":"on"}],"parentId":"-1"}]`,
		`[{"functionName":"HSTS","functionArgs":[{"argName":"enabled","argValue":"on"},{"argName":"https_hsts_max_age","argValue":1e3}]}]`,
		`[]`, `null`, `[{}]`, `"x"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		sets, err := parseFunctions(in)
		if err != nil {
			return
		}
		var c store.DomainConfigs
		for _, s := range sets {
			// What parses is complete and valid: every argument of the
			// row, each passing its own check, and it applies or is
			// refused with a defined error.
			fn := functions[s.name]
			if len(s.args) != len(fn.args) {
				t.Fatalf("%s: %d args, row has %d", s.name, len(s.args), len(fn.args))
			}
			for i, a := range s.args {
				if spec := fn.args[i]; a.Name != spec.name || (a.Value != "" && !spec.valid(a.Value)) {
					t.Fatalf("%s: arg %q=%q passed", s.name, a.Name, a.Value)
				}
			}
			if _, err := s.apply(&c, testNow); err != nil && !errors.Is(err, errConfigDuplicate) && !errors.Is(err, errConfigNotFound) {
				t.Fatalf("apply: %v", err)
			}
		}
	})
}

// A domain's configs are bounded in bytes too, so that a batch of 50
// domains stays within one etcd request.
func TestConfigBytesBounded(t *testing.T) {
	c := store.DomainConfigs{}
	big := strings.Repeat("v", maxHeaderBytes)
	for i := 0; configBytes(&c) <= maxDomainConfigBytes; i++ {
		c.Configs = append(c.Configs, store.FunctionConfig{Function: "set_resp_header", Args: []store.FunctionArg{{Name: "key", Value: "X-" + itoa(int64(i))}, {Name: "value", Value: big}}})
	}
	if n := len(c.Configs); n > 16 || n >= maxDomainConfigs {
		t.Fatalf("%d configs of 1 KiB headers before the byte bound", n)
	}
}
