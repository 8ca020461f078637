// Package openapi is the wire layer of Alibaba Cloud's RPC-style OpenAPI and
// nothing else: it decodes a request (query and form body, signature V1 and
// V3), checks its timestamp, nonce and AccessKey, throttles, dispatches on
// (Action, Version) and renders the answer or the error as the real clients
// parse it. Business rules live in the services that register actions.
package openapi
