// Package cdn is the CDN service: the domain lifecycle, domain ownership and
// the HTTPS certificate actions, with Alibaba Cloud CDN's parameters, response shapes
// and error codes. Each file holds one family of actions and the error codes
// they raise.
package cdn
