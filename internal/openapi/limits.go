package openapi

// commonLimits bound the common parameters that steer a call, so that an
// oversized one is refused before it is looked up, hashed into a nonce key
// or written to the store. Real values are far shorter: AccessKeyIds are
// about 30 bytes (STS ones about 30 too), SDK nonces are UUIDs or 32-64
// hex digits, STS tokens about 1-2 KB. Each is refused with the code a
// wrong value of that parameter gets, since an oversized one is wrong.
var commonLimits = []struct {
	name  string
	max   int
	value func(*signedRequest) string
	err   *Error
}{
	{"Action", 128, func(s *signedRequest) string { return s.action }, ErrActionNotFound},
	{"Version", 32, func(s *signedRequest) string { return s.version }, ErrInvalidVersion},
	{"AccessKeyId", 128, func(s *signedRequest) string { return s.accessKeyID }, ErrAccessKeyNotFound},
	{"SignatureNonce", 128, func(s *signedRequest) string { return s.nonce }, ErrInvalidParameter},
	{"SecurityToken", 16 << 10, func(s *signedRequest) string { return s.securityToken }, ErrSecurityTokenMalformed},
}

// checkCommonLimits refuses a request whose common parameters are longer
// than any real one.
func checkCommonLimits(s *signedRequest) error {
	for _, l := range commonLimits {
		if n := len(l.value(s)); n > l.max {
			return l.err.WithMessage("%s The parameter %s is %d bytes, more than %d.", l.err.Message, l.name, n, l.max)
		}
	}
	return nil
}
