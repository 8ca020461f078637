package iam

import (
	"crypto/rand"
	"math/big"
)

const (
	alnum  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	digits = "0123456789"
)

// randomString draws n characters uniformly from alphabet.
func randomString(alphabet string, n int) string {
	b := make([]byte, n)
	max := big.NewInt(int64(len(alphabet)))
	for i := range b {
		v, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic("iam: crypto/rand failed: " + err.Error())
		}
		b[i] = alphabet[v.Int64()]
	}
	return string(b)
}

// newAccountID looks like an Alibaba Cloud account UID: 16 digits, no leading 0.
func newAccountID() string { return randomString("123456789", 1) + randomString(digits, 15) }

// newAccessKeyID looks like a current Alibaba AccessKeyId ("LTAI" + 20).
func newAccessKeyID() string { return "LTAI" + randomString(alnum, 20) }

// newAccessKeySecret is 30 characters, like Alibaba's (about 178 bits).
func newAccessKeySecret() string { return randomString(alnum, 30) }
