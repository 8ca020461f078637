package iam

// validName checks a RAM user, policy or role name: 1–max characters of
// letters, digits, '.', '-' and '_' (RAM's rule; '@' is refused so that
// names never look like logon names).
func validName(s string, max int) bool {
	if len(s) == 0 || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
