// Package ascii folds case the way DNS names and RAM actions are compared:
// ASCII letters only, so that no Unicode folding (the Kelvin sign "K"
// becoming "k") makes two different names equal.
package ascii

// Is reports whether s is all ASCII.
func Is(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// Lower lower-cases the ASCII letters of s and leaves every other byte
// alone; it allocates only when there is something to change.
func Lower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
