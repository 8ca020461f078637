// Package iam knows who is calling: accounts and their AccessKeys. It turns an
// AccessKeyId into a principal and the secret that verifies its signature, and
// creates accounts and keys for the operator.
package iam
