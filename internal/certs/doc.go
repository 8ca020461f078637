// Package certs holds the pure functions cdnd needs to accept, store and
// serve TLS certificates: PEM decoding, chain ordering, key/certificate
// matching, host-name coverage and the identities the Alibaba-compatible API
// reports (fingerprints, key algorithm, issuer).
//
// Why a package of its own, with no I/O: certificates and keys arrive from
// strangers over the API (pasted by hand, produced by acme.sh, copied out of
// a console), and the same checks are needed by the API layer (to reject bad
// input with the right Alibaba error), by the certificate repository and by
// the edge (to pick a certificate for an SNI name). Keeping the parsing in
// one place, free of side effects, is what lets it be fuzzed hard and called
// from any of them.
//
// Parsing is deliberately lenient about the form real users paste (CRLF line
// endings, a UTF-8 byte-order mark, indentation, blank lines, blocks in the
// wrong order) and strict about content: any text between or after PEM
// blocks that is not whitespace is an error, because silently dropping it
// would hide a paste that went wrong. What the API stores and returns is the
// canonical form produced by EncodeChain and EncodeKey.
//
// Errors are the sentinels in errors.go, wrapped with a short reason that
// names line numbers and block types only. They never quote the input, so a
// private key pasted into the wrong field cannot leak through an error
// message, a log line or an API response.
package certs
