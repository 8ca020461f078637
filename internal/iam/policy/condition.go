package policy

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// A condition is one operator applied to one key, for example
// IpAddress {"acs:SourceIp": ["10.0.0.0/8", "192.168.1.1"]}. A statement's
// conditions are ANDed: every one must hold. The values within one condition
// are ORed: the context value needs to satisfy one of them.
//
// The negated operators (StringNotEquals, StringNotEqualsIgnoreCase,
// StringNotLike, NumericNotEquals, DateNotEquals, NotIpAddress) negate the
// whole ORed set, not each value: NotIpAddress ["10.0.0.0/8", "192.168.0.0/16"]
// holds when the source is in neither network. ORing the negations instead
// would make any two distinct values match everything, which is never what an
// author means; negating the set is also how AWS, whose policy language RAM's
// closely follows, reads them.
//
// A key that is absent from the request context makes the condition false,
// for the negated operators too. The choice is deliberate: an Allow that
// depends on a fact the server did not supply must not be granted. The price
// is that a Deny guarded by a negated operator (Deny unless NotIpAddress ...)
// does not fire when the key is missing, so the server must always supply the
// keys it advertises (acs:SourceIp, acs:SecureTransport, acs:CurrentTime).
// A context value that cannot be read as the operator's type (an address
// that is not an IP, a time that is not RFC 3339) is treated the same way as
// a missing one.
type condition struct {
	op operator
	// key is lower-cased at parse time; Request.Context keys are lower-case
	// by contract, so lookups need no folding.
	key string

	// Exactly one of the value sets is filled, according to op.family; all
	// were parsed by Parse so that evaluation only compares.
	strs     []string       // StringEquals and StringEqualsIgnoreCase, and their negations
	like     []pattern      // StringLike, StringNotLike
	nums     []float64      // numeric
	times    []time.Time    // date
	prefixes []netip.Prefix // IpAddress, NotIpAddress; single addresses are /32 or /128
	// Bool accepts "true" and/or "false"; both may be listed (ORed).
	boolTrue, boolFalse bool
}

type family uint8

const (
	famString family = iota
	famStringFold
	famStringLike
	famNumeric
	famDate
	famBool
	famIP
)

type comparison uint8

const (
	cmpEq comparison = iota
	cmpLT
	cmpLE
	cmpGT
	cmpGE
)

type operator struct {
	family family
	cmp    comparison
	negate bool
}

// operators are the condition operators RAM's policy language defines for
// the keys cdnd supplies. Names are case-sensitive, like every other key in
// the document. An operator not listed here is a parse error: ignoring it
// would drop a restriction the author wrote.
var operators = map[string]operator{
	"StringEquals":              {famString, cmpEq, false},
	"StringNotEquals":           {famString, cmpEq, true},
	"StringEqualsIgnoreCase":    {famStringFold, cmpEq, false},
	"StringNotEqualsIgnoreCase": {famStringFold, cmpEq, true},
	"StringLike":                {famStringLike, cmpEq, false},
	"StringNotLike":             {famStringLike, cmpEq, true},
	"NumericEquals":             {famNumeric, cmpEq, false},
	"NumericNotEquals":          {famNumeric, cmpEq, true},
	"NumericLessThan":           {famNumeric, cmpLT, false},
	"NumericLessThanEquals":     {famNumeric, cmpLE, false},
	"NumericGreaterThan":        {famNumeric, cmpGT, false},
	"NumericGreaterThanEquals":  {famNumeric, cmpGE, false},
	"DateEquals":                {famDate, cmpEq, false},
	"DateNotEquals":             {famDate, cmpEq, true},
	"DateLessThan":              {famDate, cmpLT, false},
	"DateLessThanEquals":        {famDate, cmpLE, false},
	"DateGreaterThan":           {famDate, cmpGT, false},
	"DateGreaterThanEquals":     {famDate, cmpGE, false},
	"Bool":                      {famBool, cmpEq, false},
	"IpAddress":                 {famIP, cmpEq, false},
	"NotIpAddress":              {famIP, cmpEq, true},
}

// parseConditions reads a statement's Condition block: an object of operator
// to an object of key to a value or a list of values. An empty Condition
// object means no conditions; an operator with no keys is an error, since it
// is almost certainly a mistake.
func parseConditions(raw json.RawMessage, where string) ([]condition, error) {
	ops, err := members(raw, where)
	if err != nil {
		return nil, err
	}
	var conds []condition
	for _, o := range ops {
		at := where + "." + o.key
		op, ok := operators[o.key]
		if !ok {
			return nil, errorf("%s: unknown condition operator %s", where, quote(o.key))
		}
		keys, err := members(o.value, at)
		if err != nil {
			return nil, err
		}
		if len(keys) == 0 {
			return nil, errorf("%s: no condition keys", at)
		}
		for _, k := range keys {
			c, err := parseCondition(op, k, at+"["+quote(k.key)+"]")
			if err != nil {
				return nil, err
			}
			conds = append(conds, c)
		}
	}
	return conds, nil
}

func parseCondition(op operator, k member, at string) (condition, error) {
	if k.key == "" {
		return condition{}, errorf("%s: empty condition key", at)
	}
	values, err := conditionValues(k.value, at)
	if err != nil {
		return condition{}, err
	}
	c := condition{op: op, key: strings.ToLower(k.key)}
	switch op.family {
	case famString, famStringFold:
		c.strs = values
	case famStringLike:
		for _, v := range values {
			c.like = append(c.like, compile(v))
		}
	case famNumeric:
		for _, v := range values {
			n, ok := parseNumber(v)
			if !ok {
				return condition{}, errorf("%s: %s is not a decimal number", at, quote(v))
			}
			c.nums = append(c.nums, n)
		}
	case famDate:
		for _, v := range values {
			t, ok := parseTime(v)
			if !ok {
				return condition{}, errorf("%s: %s is not an RFC 3339 time such as 2026-01-01T00:00:00Z or 2019-08-12T17:00:00+08:00", at, quote(v))
			}
			c.times = append(c.times, t)
		}
	case famBool:
		for _, v := range values {
			switch {
			case strings.EqualFold(v, "true"):
				c.boolTrue = true
			case strings.EqualFold(v, "false"):
				c.boolFalse = true
			default:
				return condition{}, errorf("%s: %s is not true or false", at, quote(v))
			}
		}
	case famIP:
		for _, v := range values {
			p, ok := parseNetwork(v)
			if !ok {
				return condition{}, errorf("%s: %s is not an IP address or CIDR", at, quote(v))
			}
			c.prefixes = append(c.prefixes, p)
		}
	}
	return c, nil
}

// conditionValues reads a value or a non-empty list of values. JSON numbers
// and booleans are accepted and kept as their JSON text ("10", "true"),
// because authors write {"Bool": {"acs:SecureTransport": true}} as often as
// "true", and every operator then starts from strings.
func conditionValues(raw json.RawMessage, at string) ([]string, error) {
	if len(raw) > 0 && raw[0] == '[' {
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, errorf("%s: %v", at, err)
		}
		if len(items) == 0 {
			return nil, errorf("%s: empty list of values", at)
		}
		values := make([]string, 0, len(items))
		for i, item := range items {
			v, err := scalar(item, fmt.Sprintf("%s[%d]", at, i))
			if err != nil {
				return nil, err
			}
			values = append(values, v)
		}
		return values, nil
	}
	v, err := scalar(raw, at)
	if err != nil {
		return nil, err
	}
	return []string{v}, nil
}

func scalar(raw json.RawMessage, at string) (string, error) {
	if len(raw) == 0 {
		return "", errorf("%s: missing value", at)
	}
	switch c := raw[0]; {
	case c == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", errorf("%s: %v", at, err)
		}
		return s, nil
	case c == 't' || c == 'f' || c == '-' || ('0' <= c && c <= '9'):
		// true, false or a number: keep the JSON text. null starts with
		// 'n' and is rejected below.
		return string(raw), nil
	}
	return "", errorf("%s: a condition value must be a string, number or boolean", at)
}

// matches reports whether the condition holds for the request context. It
// must not allocate for well-formed context values.
func (c *condition) matches(f *facts) bool {
	var hit bool
	switch c.op.family {
	case famIP:
		a, ok := f.address(c.key)
		if !ok {
			return false // absent or not an address (see condition)
		}
		for _, p := range c.prefixes {
			if p.Contains(a) {
				hit = true
				break
			}
		}
	case famDate:
		t, ok := f.instant(c.key)
		if !ok {
			return false // absent or not a time (see condition)
		}
		for _, u := range c.times {
			if compare(c.op.cmp, t.Compare(u)) {
				hit = true
				break
			}
		}
	default:
		v, ok := f.ctx[c.key]
		if !ok {
			return false // absent key: no match, even for negated operators (see condition)
		}
		switch c.op.family {
		case famString:
			for _, s := range c.strs {
				if v == s {
					hit = true
					break
				}
			}
		case famStringFold:
			for _, s := range c.strs {
				if strings.EqualFold(v, s) {
					hit = true
					break
				}
			}
		case famStringLike:
			for i := range c.like {
				if c.like[i].match(v) {
					hit = true
					break
				}
			}
		case famNumeric:
			x, ok := parseNumber(v)
			if !ok {
				return false
			}
			for _, n := range c.nums {
				if compare(c.op.cmp, cmpFloat(x, n)) {
					hit = true
					break
				}
			}
		case famBool:
			switch {
			case strings.EqualFold(v, "true"):
				hit = c.boolTrue
			case strings.EqualFold(v, "false"):
				hit = c.boolFalse
			default:
				return false
			}
		}
	}
	return hit != c.op.negate
}

// facts is the request context as one Evaluate call reads it. It remembers
// the value last read as an address and the one last read as a time, so that
// a key tested by many statements (acs:SourceIp in every statement of a
// network-restricted policy) is looked up and parsed once per call rather
// than once per statement. It lives on Evaluate's stack and is never shared.
type facts struct {
	ctx map[string]string

	addrKey string // "" until an address was read; condition keys are never empty
	addrOK  bool
	addr    netip.Addr

	timeKey string // "" until a time was read
	timeOK  bool
	when    time.Time
}

// address reads key as an IP address. A dual-stack listener reports IPv4
// callers as ::ffff:a.b.c.d; the policy's 10.0.0.0/8 must still cover them,
// so the address is unmapped. A zone names an interface, not a network, so it
// does not take part.
func (f *facts) address(key string) (netip.Addr, bool) {
	if f.addrKey == "" || f.addrKey != key {
		v, ok := f.ctx[key]
		var a netip.Addr
		if ok && addrShaped(v) {
			var err error
			a, err = netip.ParseAddr(v)
			ok = err == nil
		} else {
			ok = false
		}
		f.addrKey, f.addrOK, f.addr = key, ok, a.WithZone("").Unmap()
	}
	return f.addr, f.addrOK
}

// instant reads key as an RFC 3339 time.
func (f *facts) instant(key string) (time.Time, bool) {
	if f.timeKey == "" || f.timeKey != key {
		v, ok := f.ctx[key]
		var t time.Time
		if ok {
			t, ok = parseTime(v)
		}
		f.timeKey, f.timeOK, f.when = key, ok, t
	}
	return f.when, f.timeOK
}

// compare turns a three-way comparison of the context value against a policy
// value into the operator's answer.
func compare(op comparison, order int) bool {
	switch op {
	case cmpLT:
		return order < 0
	case cmpLE:
		return order <= 0
	case cmpGT:
		return order > 0
	case cmpGE:
		return order >= 0
	}
	return order == 0
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// parseNumber accepts plain decimal numbers only (JSON's number syntax, with
// an optional leading '+'). strconv.ParseFloat alone would also accept "NaN",
// "Inf", hexadecimal and underscores, none of which a RAM policy means, and
// NaN in particular would make every comparison false. The syntax check also
// keeps a malformed context value from allocating an error.
func parseNumber(s string) (float64, bool) {
	if !isDecimal(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false // out of range
	}
	return f, true
}

func isDecimal(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	n := digits()
	if i < len(s) && s[i] == '.' {
		i++
		n += digits()
	}
	if n == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

// parseTime reads RFC 3339 times, the form Alibaba documents for date
// conditions ("2019-08-12T17:00:00+08:00") and the form cdnd supplies for
// acs:CurrentTime ("2026-01-01T00:00:00Z"). Fractional seconds are accepted.
// The same function reads policy values and context values, so both sides
// accept exactly the same forms.
//
// time.Parse takes an allocation-free fast path for this layout when the
// offset is Z or a whole number of hours, but any failure allocates an error.
// The shape check in front refuses, without allocating, anything that is
// not laid out as YYYY-MM-DDTHH:MM:SS: an empty or garbage context value
// costs nothing. It is also slightly stricter than time.Parse, whose slow path
// would take a one-digit hour.
func parseTime(s string) (time.Time, bool) {
	if !timeShaped(s) {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339, s)
	return t, err == nil
}

func timeShaped(s string) bool {
	const layout = "dddd-dd-ddTdd:dd:dd" // followed by fraction and zone
	if len(s) < len(layout)+1 {
		return false
	}
	for i := 0; i < len(layout); i++ {
		c, want := s[i], layout[i]
		switch {
		case want == 'd':
			if c < '0' || c > '9' {
				return false
			}
		case want == 'T':
			if c != 'T' && c != 't' {
				return false
			}
		case c != want:
			return false
		}
	}
	return true
}

// parseNetwork reads an IPv4 or IPv6 address or CIDR. A single address
// becomes a /32 or /128 network; host bits of a CIDR are cleared, as Alibaba
// and AWS accept "10.1.2.3/8" to mean 10.0.0.0/8. IPv4-mapped IPv6 forms are
// turned into IPv4, because the evaluator unmaps context addresses the same
// way. Zones are refused: a policy names networks, not interfaces.
func parseNetwork(s string) (netip.Prefix, bool) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		if a := p.Addr(); a.Is4In6() {
			if p.Bits() < 96 {
				// Covers more than the mapped space; keep it as IPv6.
				return p.Masked(), true
			}
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}

// addrShaped refuses, without the allocation a netip.ParseAddr error costs,
// context values that cannot be addresses: empty ones, and ones with a byte
// outside hexadecimal digits, '.' and ':' before any "%zone".
func addrShaped(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '%':
			return i > 0
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f', 'A' <= c && c <= 'F', c == '.', c == ':':
		default:
			return false
		}
	}
	return true
}
