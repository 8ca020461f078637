// Package store is the only package that talks to etcd. It keeps cdnd's
// records as JSON values under one key prefix, commits changes that span
// records in a single transaction, and streams what the edge serves.
//
// etcd is embedded (one member in the data directory) by default and external
// when endpoints are named; both are reached through the same *clientv3.Client,
// so there is one code path.
package store
