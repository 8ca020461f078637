// Package cas is each account's certificate repository: certificates with
// their sealed private keys, addressed by name (and by a numeric CertId, as
// Alibaba's certificate service addresses them). CDN domains bind to
// certificates here; uploading under a name a domain is bound to switches
// that domain.
package cas
