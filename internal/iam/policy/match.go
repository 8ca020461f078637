package policy

import "strings"

// RAM patterns have a single metacharacter: '*' matches any sequence of
// characters, including the empty one and including ':' and '/', so that
// "acs:cdn:*:123:domain/*" spans every region and every domain. Alibaba
// documents no other wildcard, so '?' is an ordinary character here: treating
// it as a wildcard would let a policy match more than its author can expect
// from Alibaba's own documentation.

// pattern is an Action, Resource or StringLike pattern, split once at parse
// time into the literal text before the first '*', the literal text after the
// last '*', and the starred middle. Nearly every real pattern is
// "literal*" or "literal*literal" ("cdn:Describe*", "acs:cdn:*:1:domain/*"),
// so matching is then two memory comparisons, and the byte-at-a-time
// wildcard loop only ever sees the rare middle with a literal between stars.
type pattern struct {
	text   string // the whole pattern
	prefix string // before the first '*'
	suffix string // after the last '*'
	middle string // from the first '*' to the last, inclusive; "" if there is no '*'
	// any is set when the middle is only stars, so it matches whatever lies
	// between prefix and suffix.
	any bool
}

func compile(text string) pattern {
	first := strings.IndexByte(text, '*')
	if first < 0 {
		return pattern{text: text}
	}
	last := strings.LastIndexByte(text, '*')
	middle := text[first : last+1]
	return pattern{
		text:   text,
		prefix: text[:first],
		suffix: text[last+1:],
		middle: middle,
		any:    strings.Trim(middle, "*") == "",
	}
}

// match reports whether s matches the pattern, byte for byte. It is used for
// resources (RAM resource names are case-sensitive) and StringLike.
func (p *pattern) match(s string) bool {
	if p.middle == "" {
		return s == p.text
	}
	if len(s) < len(p.prefix)+len(p.suffix) ||
		!strings.HasPrefix(s, p.prefix) || !strings.HasSuffix(s, p.suffix) {
		return false
	}
	return p.any || wildcard(p.middle, s[len(p.prefix):len(s)-len(p.suffix)], false)
}

// matchFold is match with ASCII case folding of s; the pattern must have been
// lower-cased by ascii.Lower. Action patterns are lower-cased once at parse
// time, so the request's action, which would need an allocation to
// lower-case, is folded byte by byte instead. RAM action names are ASCII, so
// folding ASCII only is enough, and it keeps matching byte-oriented and free
// of Unicode folding surprises (such as the Kelvin sign folding to 'k').
func (p *pattern) matchFold(s string) bool {
	if p.middle == "" {
		return len(s) == len(p.text) && equalFold(p.text, s)
	}
	if len(s) < len(p.prefix)+len(p.suffix) ||
		!equalFold(p.prefix, s[:len(p.prefix)]) || !equalFold(p.suffix, s[len(s)-len(p.suffix):]) {
		return false
	}
	return p.any || wildcard(p.middle, s[len(p.prefix):len(s)-len(p.suffix)], true)
}

// equalFold compares a lower-case pattern with s of the same length, folding
// ASCII upper case in s.
func equalFold(lower, s string) bool {
	for i := 0; i < len(lower); i++ {
		if lower[i] != lowerByte(s[i]) {
			return false
		}
	}
	return true
}

func lowerByte(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

// wildcard is the classic greedy matcher with one backtrack point. When a
// literal run after a '*' fails to match, only the most recent '*' needs to
// absorb one more byte: an earlier star can never help, because whatever it
// could swallow the later star can swallow too. So the matcher keeps just the
// last star's position and where it last resumed, which makes it non-recursive
// and allocation-free, and bounds the work by len(pattern)*len(s), with no
// exponential blow-up on patterns such as "*a*a*a*a*b" (documents are at most
// 6 KiB, so the quadratic worst case stays small); a failed literal costs a
// rescan of at most its own length, so real patterns take time close to
// len(s). With fold set, ASCII upper case in s is folded; the pattern must
// then be lower-case.
func wildcard(pattern, s string, fold bool) bool {
	p, i := 0, 0
	star, resume := -1, 0
	for i < len(s) {
		if p < len(pattern) {
			c := pattern[p]
			if c == '*' {
				if p == len(pattern)-1 {
					return true // a trailing star takes the rest of s
				}
				star, resume = p, i
				p++
				continue
			}
			b := s[i]
			if fold {
				b = lowerByte(b)
			}
			if c == b {
				p++
				i++
				continue
			}
		}
		if star < 0 {
			return false
		}
		// Let the last star absorb one more byte, and then more up to the
		// next place where the literal after it can start, and retry the
		// rest from there. Stars are never adjacent here (each '*' moves
		// star on), so pattern[star+1] is a literal byte.
		resume++
		c := pattern[star+1]
		if fold {
			for resume < len(s) && lowerByte(s[resume]) != c {
				resume++
			}
		} else if j := strings.IndexByte(s[resume:], c); j >= 0 {
			resume += j
		} else {
			resume = len(s)
		}
		if resume == len(s) {
			return false // the literal after the last star starts nowhere
		}
		p, i = star+1, resume
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}
