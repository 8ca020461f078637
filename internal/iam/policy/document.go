package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/cdnd/cdnd/internal/ascii"
)

// maxDocumentBytes is RAM's limit on the length of a custom policy document.
// It is enforced on the document's bytes before anything is parsed, so an
// oversize document costs nothing to refuse. RAM counts characters; for the
// ASCII documents policies are in practice, bytes and characters agree, and
// counting bytes can only be stricter.
const maxDocumentBytes = 6144

// Effect is what a statement does when it matches: "Allow" or "Deny", the
// two spellings Parse normalises any letter case to. What Evaluate returns is
// a Decision, which adds the ImplicitDeny no single statement can express.
type Effect string

const (
	effectAllow Effect = "Allow"
	effectDeny  Effect = "Deny"
)

// Policy is a parsed policy document. It is immutable, so it may be shared
// between goroutines and evaluated concurrently.
type Policy struct {
	statements []statement
}

// Statements reports how many statements a policy has (for limits and
// tests).
func (p *Policy) Statements() int {
	if p == nil {
		return 0
	}
	return len(p.statements)
}

type statement struct {
	effect Effect
	// actions are lower-cased once here (RAM action names are
	// case-insensitive) so that matching folds only the request side.
	actions []pattern
	// resources keep their case: RAM resource names are case-sensitive.
	resources  []pattern
	conditions []condition
}

// Parse reads a RAM policy document (policy language version "1").
//
// It is strict on purpose: unknown keys, NotAction and NotResource, unknown
// condition operators and malformed condition values are errors, because
// accepting them would mean enforcing a policy other than the one written.
// Errors name the statement, counted from 0, and the field at fault (for
// example `policy: Statement[1].Effect: must be "Allow" or "Deny"`), so that
// an API error can point the author at the mistake; they quote at most a
// short prefix of the offending key or value, never the document, which
// may be large and is the caller's to log or not.
func Parse(document string) (*Policy, error) {
	if len(document) > maxDocumentBytes {
		return nil, errorf("document is %d bytes, more than the limit of %d", len(document), maxDocumentBytes)
	}
	return parse([]byte(document))
}

// errorf makes a Parse error. Every message starts with "policy: " followed
// by where in the document the problem is.
func errorf(format string, args ...any) error {
	return fmt.Errorf("policy: "+format, args...)
}

func parse(doc []byte) (*Policy, error) {
	// One full syntax check first, so that the member-by-member walk below
	// only ever sees well-formed JSON, and trailing garbage is refused.
	var whole json.RawMessage
	if err := json.Unmarshal(doc, &whole); err != nil {
		return nil, errorf("document is not valid JSON: %s", jsonProblem(err))
	}
	top, err := members(whole, "document")
	if err != nil {
		return nil, err
	}
	var version, stmts json.RawMessage
	for _, m := range top {
		switch m.key {
		case "Version":
			version = m.value
		case "Statement":
			stmts = m.value
		default:
			return nil, errorf("document: unknown key %s", quote(m.key))
		}
	}
	if version == nil {
		return nil, errorf(`Version: missing; it must be "1"`)
	}
	if v, err := str(version); err != nil || v != "1" {
		return nil, errorf(`Version: must be the string "1"`)
	}
	if stmts == nil {
		return nil, errorf("Statement: missing")
	}

	// Alibaba accepts a single statement object in place of the array.
	var raws []json.RawMessage
	switch first(stmts) {
	case '{':
		raws = []json.RawMessage{stmts}
	case '[':
		if err := json.Unmarshal(stmts, &raws); err != nil {
			return nil, errorf("Statement: %s", jsonProblem(err))
		}
		if len(raws) == 0 {
			return nil, errorf("Statement: must not be empty")
		}
	default:
		return nil, errorf("Statement: must be an array of statements or a statement object")
	}
	p := &Policy{statements: make([]statement, 0, len(raws))}
	for i, raw := range raws {
		s, err := parseStatement(raw, fmt.Sprintf("Statement[%d]", i))
		if err != nil {
			return nil, err
		}
		p.statements = append(p.statements, s)
	}
	return p, nil
}

func parseStatement(raw json.RawMessage, where string) (statement, error) {
	if first(raw) != '{' {
		return statement{}, errorf("%s: must be an object", where)
	}
	fields, err := members(raw, where)
	if err != nil {
		return statement{}, err
	}
	var s statement
	var effect, action, resource json.RawMessage
	for _, f := range fields {
		switch f.key {
		case "Effect":
			effect = f.value
		case "Action":
			action = f.value
		case "Resource":
			resource = f.value
		case "Condition":
			if s.conditions, err = parseConditions(f.value, where+".Condition"); err != nil {
				return statement{}, err
			}
		case "NotAction", "NotResource":
			// Refused, not ignored: dropping NotAction would turn
			// "everything except X" into "nothing" for an Allow, and
			// into an unconditional rule for a Deny.
			return statement{}, errorf("%s.%s: unsupported; list what to match under %s", where, f.key, strings.TrimPrefix(f.key, "Not"))
		default:
			return statement{}, errorf("%s: unknown key %s", where, quote(f.key))
		}
	}

	if effect == nil {
		return statement{}, errorf("%s.Effect: missing", where)
	}
	e, err := str(effect)
	switch {
	case err == nil && strings.EqualFold(e, string(effectAllow)):
		s.effect = effectAllow
	case err == nil && strings.EqualFold(e, string(effectDeny)):
		s.effect = effectDeny
	default:
		return statement{}, errorf(`%s.Effect: must be "Allow" or "Deny"`, where)
	}

	actions, err := patterns(action, where+".Action")
	if err != nil {
		return statement{}, err
	}
	for _, a := range actions {
		s.actions = append(s.actions, compile(ascii.Lower(a)))
	}
	resources, err := patterns(resource, where+".Resource")
	if err != nil {
		return statement{}, err
	}
	for _, r := range resources {
		s.resources = append(s.resources, compile(r))
	}
	return s, nil
}

// patterns reads Action or Resource: a string or a non-empty array of
// non-empty strings. An empty pattern could only ever match an empty name,
// so it is refused as a mistake.
func patterns(raw json.RawMessage, where string) ([]string, error) {
	if raw == nil {
		return nil, errorf("%s: missing", where)
	}
	var list []string
	switch first(raw) {
	case '"':
		s, _ := str(raw)
		list = []string{s}
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, errorf("%s: %s", where, jsonProblem(err))
		}
		if len(items) == 0 {
			return nil, errorf("%s: must not be empty", where)
		}
		for i, item := range items {
			s, err := str(item)
			if err != nil {
				return nil, errorf("%s[%d]: must be a string", where, i)
			}
			list = append(list, s)
		}
	default:
		return nil, errorf("%s: must be a string or an array of strings", where)
	}
	for i, s := range list {
		if s == "" {
			if len(list) == 1 {
				return nil, errorf("%s: must not be empty", where)
			}
			return nil, errorf("%s[%d]: must not be empty", where, i)
		}
	}
	return list, nil
}

// member is one key and its raw value, in document order.
type member struct {
	key   string
	value json.RawMessage
}

// members splits a JSON object into its members. encoding/json's struct
// decoding is not used because it matches keys case-insensitively ("effect"
// would fill Effect) and lets a repeated key silently override the first;
// RAM keys are case-sensitive, and a repeated key is ambiguous, so both are
// errors here. The input has already passed a full syntax check.
func members(raw json.RawMessage, where string) ([]member, error) {
	if first(raw) != '{' {
		return nil, errorf("%s: must be an object", where)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil { // '{'
		return nil, errorf("%s: %s", where, jsonProblem(err))
	}
	var out []member
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, errorf("%s: %s", where, jsonProblem(err))
		}
		key, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, errorf("%s: %s", where, jsonProblem(err))
		}
		for _, m := range out {
			if m.key == key {
				return nil, errorf("%s: duplicate key %s", where, quote(key))
			}
		}
		out = append(out, member{key, v})
	}
	return out, nil
}

// str decodes a JSON string value.
func str(raw json.RawMessage) (string, error) {
	if first(raw) != '"' {
		return "", errors.New("not a string")
	}
	var s string
	err := json.Unmarshal(raw, &s)
	return s, err
}

// first is the first byte of a raw value (json.RawMessage values from the
// decoder carry no leading space), or 0 if there is none.
func first(raw json.RawMessage) byte {
	if len(raw) == 0 {
		return 0
	}
	return raw[0]
}

// jsonProblem describes a JSON error without echoing input: encoding/json's
// syntax errors name the offending character and offset only, and type errors
// name Go types, so their text is safe to pass on; offsets are added because
// they are the useful part.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%v (at byte %d)", se, se.Offset)
	}
	return err.Error()
}

// quote quotes a key or value from the document for an error message,
// cutting it short so that an error never carries a large part of the
// document.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		return fmt.Sprintf("%q...", s[:max])
	}
	return fmt.Sprintf("%q", s)
}
