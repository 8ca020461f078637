// Package keyring seals secrets (TLS private keys, AccessKey secrets) before
// they are written to the store, and opens them again for the edge and the
// signature checker.
//
// Why: etcd snapshots, backups and the data directory are copied around far
// more freely than a master key file is. With envelope sealing, reading the
// store gives an attacker ciphertext only; the master keys live outside it
// (a file or an environment variable handed to cdnd).
//
// How: AES-256-GCM with a random 96-bit nonce per seal. Each master key has a
// public id derived from the key itself (KeyID), stored beside the
// ciphertext, so that a Keyring holding the current key and older ones can
// open anything sealed under any of them. That makes rotation gradual: add a
// new current key, keep the old one as "older", and re-seal records as they
// are touched or by a background sweep (NeedsRotation says which) before the
// old key is finally dropped.
//
// The GCM associated data binds each ciphertext to its record (the caller's
// aad, e.g. "cert/{account}/{name}") and to the id of the key that sealed it,
// so a blob copied onto another record, or relabelled with another key id,
// fails to open.
//
// Errors never contain key material or plaintext.
package keyring
