// Package policy parses and evaluates Alibaba Cloud RAM policy documents
// (policy language version "1"), so that cdnd can answer "may this caller do
// this?" with the same documents, and the same answers, that a customer
// already uses against Alibaba Cloud.
//
// The package is pure: it does no I/O, keeps no global state and logs
// nothing. A [Policy] is immutable once [Parse] returns it, so one parsed
// policy may be shared by any number of goroutines; the caller decides where
// documents come from and caches parsed policies.
//
// The work is split so that evaluation is cheap and cannot fail:
//
//   - [Parse] is strict. Every field is checked, unknown keys and
//     unsupported features (NotAction, NotResource, unknown condition
//     operators) are errors rather than being ignored, because a policy that
//     silently means less than its author wrote is a security bug. All
//     condition values (CIDRs, dates, numbers, booleans) are parsed here, and
//     action patterns and condition keys are lower-cased here.
//   - [Evaluate] only compares. It does not allocate for well-formed
//     requests (see Evaluate for the malformed ones), and it never returns
//     an error: a request it cannot judge
//     simply fails to match, and with nothing allowing it the answer is
//     [ImplicitDeny].
//
// Files: document.go (the JSON grammar and Parse), match.go (the wildcard
// matcher used for actions, resources and StringLike), condition.go
// (condition operators) and evaluate.go (Request, Decision and Evaluate).
package policy
