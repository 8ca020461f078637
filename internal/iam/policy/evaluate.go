package policy

import "strconv"

// Request is what is being asked.
type Request struct {
	Action   string // e.g. "cdn:SetDomainServerCertificate"; matched case-insensitively
	Resource string // e.g. "acs:cdn:*:1234567890123456:domain/www.a.example"; matched case-sensitively
	// Context holds the condition keys and their values. Keys must be
	// lower-case (as by strings.ToLower): policies' condition keys are
	// lower-cased once by Parse, so a lookup is one plain map access with no
	// folding or allocation per request. The keys cdnd supplies are
	// "acs:sourceip" (an IPv4 or IPv6 address), "acs:securetransport"
	// ("true" or "false") and "acs:currenttime" (RFC 3339, e.g.
	// "2026-01-01T00:00:00Z"). A key that is absent makes every condition
	// on it false.
	Context map[string]string
}

// Decision is the outcome of evaluating a request against a set of policies.
type Decision int

const (
	// ImplicitDeny: no statement allows the request. It is the zero value,
	// so a Decision that was never set denies.
	ImplicitDeny Decision = iota
	// Allow: some statement allows the request and none denies it.
	Allow
	// ExplicitDeny: some statement denies the request. Nothing overrides it.
	ExplicitDeny
)

// String returns "ImplicitDeny", "Allow" or "ExplicitDeny".
func (d Decision) String() string {
	switch d {
	case ImplicitDeny:
		return "ImplicitDeny"
	case Allow:
		return "Allow"
	case ExplicitDeny:
		return "ExplicitDeny"
	}
	return "Decision(" + strconv.Itoa(int(d)) + ")"
}

// Evaluate decides a request against all the policies that apply to the
// caller, with RAM's rule: any matching Deny statement in any policy gives
// ExplicitDeny; otherwise any matching Allow statement gives Allow; otherwise
// ImplicitDeny. The order of policies and statements therefore does not
// change the answer, only how soon it is found. Nil policies are skipped.
//
// A statement matches when one of its Action patterns matches req.Action,
// one of its Resource patterns matches req.Resource, and all its conditions
// hold. Evaluate does not allocate for well-formed context values, nor for
// values that are plainly not an address, time or number; one that looks
// like one but is not (say "10.0.0.256") costs an error allocation inside
// the standard library, and still just fails to match.
func Evaluate(policies []*Policy, req Request) Decision {
	allowed := false
	f := facts{ctx: req.Context}
	for _, p := range policies {
		if p == nil {
			continue
		}
		for i := range p.statements {
			s := &p.statements[i]
			if allowed && s.effect == effectAllow {
				// Already allowed; only a Deny can change the answer.
				continue
			}
			if !s.matches(&req, &f) {
				continue
			}
			if s.effect == effectDeny {
				return ExplicitDeny
			}
			allowed = true
		}
	}
	if allowed {
		return Allow
	}
	return ImplicitDeny
}

// matches checks the cheap, most selective parts first: the action, then the
// resource, and only then the conditions, which need map lookups and
// parsing of context values.
func (s *statement) matches(req *Request, f *facts) bool {
	ok := false
	for i := range s.actions {
		if s.actions[i].matchFold(req.Action) {
			ok = true
			break
		}
	}
	if !ok {
		return false
	}
	ok = false
	for i := range s.resources {
		if s.resources[i].match(req.Resource) {
			ok = true
			break
		}
	}
	if !ok {
		return false
	}
	for i := range s.conditions {
		if !s.conditions[i].matches(f) {
			return false
		}
	}
	return true
}
