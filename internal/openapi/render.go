package openapi

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// newRequestID returns an upper-case UUID (version 4), the shape of
// Alibaba's RequestIds.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return strings.ToUpper(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]))
}

// successBody renders result as a JSON object with RequestId first.
func successBody(requestID string, result any) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(`{"RequestId":`)
	id, _ := marshal(requestID)
	buf.Write(id)
	if result != nil {
		b, err := marshal(result)
		if err != nil {
			return nil, err
		}
		b = bytes.TrimSpace(b)
		if len(b) < 2 || b[0] != '{' {
			return nil, fmt.Errorf("openapi: result is not a JSON object")
		}
		if inner := bytes.TrimSpace(b[1 : len(b)-1]); len(inner) > 0 {
			buf.WriteByte(',')
			buf.Write(inner)
		}
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// marshal is json.Marshal without HTML escaping: Alibaba's gateway sends
// "&" and "<" as they are, and tools that grep raw bodies (acme.sh) expect
// them so.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// errorBody is the compact JSON error every client parses. Every field is a
// string: the classic Go SDK type-asserts them and panics on anything else.
type errorBody struct {
	RequestID          string              `json:"RequestId"`
	HostID             string              `json:"HostId"`
	Code               string              `json:"Code"`
	Message            string              `json:"Message"`
	Recommend          string              `json:"Recommend"`
	AccessDeniedDetail *AccessDeniedDetail `json:"AccessDeniedDetail,omitempty"`
}

func writeError(w http.ResponseWriter, host, requestID string, e *Error) {
	body, _ := marshal(errorBody{
		RequestID:          requestID,
		HostID:             host,
		Code:               e.Code,
		Message:            e.Message,
		Recommend:          "https://api.aliyun.com/troubleshoot?q=" + e.Code + "&product=Cdn&requestId=" + requestID,
		AccessDeniedDetail: e.AccessDeniedDetail,
	})
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=utf-8")
	h.Set("x-acs-request-id", requestID)
	if e.RetryAfter > 0 {
		secs := int((e.RetryAfter + 999_999_999) / 1_000_000_000)
		h.Set("x-acs-retry-after", strconv.Itoa(secs))
	}
	w.WriteHeader(e.Status)
	_, _ = w.Write(body)
}

// jsonToXML renders a JSON object as Alibaba's XML: the root element is
// {Action}Response, objects become nested elements and an array under key K
// becomes repeated <K> elements, so {"CertInfos":{"CertInfo":[a,b]}} reads
// <CertInfos><CertInfo>a</CertInfo><CertInfo>b</CertInfo></CertInfos>.
func jsonToXML(root string, body []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(`<?xml version="1.0" encoding="UTF-8"?>`)
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := xmlValue(&buf, dec, root); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// xmlValue writes the next JSON value as element(s) named name.
func xmlValue(buf *bytes.Buffer, dec *json.Decoder, name string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			buf.WriteString("<" + name + ">")
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return err
				}
				if err := xmlValue(buf, dec, k.(string)); err != nil {
					return err
				}
			}
			if _, err := dec.Token(); err != nil { // '}'
				return err
			}
			buf.WriteString("</" + name + ">")
		case '[':
			for dec.More() {
				if err := xmlValue(buf, dec, name); err != nil {
					return err
				}
			}
			if _, err := dec.Token(); err != nil { // ']'
				return err
			}
		}
	default:
		buf.WriteString("<" + name + ">")
		if tok != nil {
			if err := xml.EscapeText(buf, []byte(scalarText(tok))); err != nil {
				return err
			}
		}
		buf.WriteString("</" + name + ">")
	}
	return nil
}

func scalarText(tok json.Token) string {
	switch v := tok.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	}
	return ""
}
