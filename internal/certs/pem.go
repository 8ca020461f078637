package certs

import (
	"bytes"
	"encoding/pem"
	"fmt"
	"unicode"
)

// This file is the one place that turns pasted text into PEM blocks.
//
// encoding/pem alone is too lenient in one way and too strict in another for
// text that users paste: pem.Decode silently skips any text before a block
// (so "garbage between blocks" and a truncated block followed by a good one
// both go unnoticed), yet it does not find a block behind a byte-order mark
// or indentation. scanPEM therefore does the framing itself, line by line,
// and hands each framed block to pem.Decode for the headers and base64.

const (
	beginPrefix = "-----BEGIN "
	endPrefix   = "-----END "
	dashes      = "-----"
)

// knownTypes are the PEM block types that error messages may name. Any other
// type is user-controlled text and is described only as "unrecognised", so
// that no input ever reaches an error message.
var knownTypes = map[string]bool{
	"CERTIFICATE":             true,
	"TRUSTED CERTIFICATE":     true,
	"CERTIFICATE REQUEST":     true,
	"NEW CERTIFICATE REQUEST": true,
	"X509 CRL":                true,
	"PUBLIC KEY":              true,
	"RSA PUBLIC KEY":          true,
	"PRIVATE KEY":             true,
	"RSA PRIVATE KEY":         true,
	"EC PRIVATE KEY":          true,
	"DSA PRIVATE KEY":         true,
	"OPENSSH PRIVATE KEY":     true,
	"ENCRYPTED PRIVATE KEY":   true,
	"EC PARAMETERS":           true,
	"DH PARAMETERS":           true,
}

// describeType returns a printable name for a block type, safe for errors.
func describeType(typ string) string {
	if knownTypes[typ] {
		return typ
	}
	return "unrecognised"
}

// isPad reports whether r may surround PEM lines: white space and the
// byte-order mark, which editors on Windows put at the start of each file
// (and so, after "cat a.pem b.pem", in the middle of the text too).
func isPad(r rune) bool {
	return unicode.IsSpace(r) || r == '\uFEFF'
}

// splitLines splits data on any of "\n", "\r\n" and "\r", trimming padding
// from both ends of every line.
func splitLines(data []byte) [][]byte {
	var lines [][]byte
	for len(data) > 0 {
		i := bytes.IndexAny(data, "\r\n")
		if i < 0 {
			lines = append(lines, bytes.TrimFunc(data, isPad))
			break
		}
		lines = append(lines, bytes.TrimFunc(data[:i], isPad))
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		data = data[i+1:]
	}
	return lines
}

// marker returns the type named by a "-----BEGIN TYPE-----" or
// "-----END TYPE-----" line, where prefix selects which.
func marker(line []byte, prefix string) (string, bool) {
	if !bytes.HasPrefix(line, []byte(prefix)) || !bytes.HasSuffix(line, []byte(dashes)) ||
		len(line) < len(prefix)+len(dashes) {
		return "", false
	}
	return string(line[len(prefix) : len(line)-len(dashes)]), true
}

// scanPEM returns the PEM blocks in data, in order. Blank lines, padding
// around lines and a byte-order mark are allowed anywhere outside the base64;
// anything else outside a block, a block without its END line, a mismatched
// END line or a block whose content pem.Decode rejects is an error. The
// error names line numbers and known block types only.
func scanPEM(data []byte) ([]*pem.Block, error) {
	lines := splitLines(data)
	var blocks []*pem.Block
	var framed bytes.Buffer
	for i := 0; i < len(lines); i++ {
		if len(lines[i]) == 0 {
			continue
		}
		typ, ok := marker(lines[i], beginPrefix)
		if !ok {
			return nil, fmt.Errorf("line %d: text outside a PEM block", i+1)
		}
		start := i
		framed.Reset()
		for ; ; i++ {
			if i == len(lines) {
				return nil, fmt.Errorf("line %d: %s block has no END line", start+1, describeType(typ))
			}
			line := lines[i]
			framed.Write(line)
			framed.WriteByte('\n')
			if i == start || !bytes.HasPrefix(line, []byte(dashes)) {
				continue
			}
			if endType, ok := marker(line, endPrefix); !ok || endType != typ {
				return nil, fmt.Errorf("line %d: unexpected PEM marker inside a %s block", i+1, describeType(typ))
			}
			break
		}
		// framed holds exactly one BEGIN...END frame, so pem.Decode either
		// returns that block or nil.
		block, _ := pem.Decode(framed.Bytes())
		if block == nil {
			return nil, fmt.Errorf("lines %d-%d: %s block is not valid PEM", start+1, i+1, describeType(typ))
		}
		blocks = append(blocks, block)
	}
	return blocks, nil
}
