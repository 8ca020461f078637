package keyring_test

import (
	"bytes"
	"testing"
)

// 2 KB is about the size of a PEM RSA-2048 private key, the largest secret
// cdnd seals routinely.
var benchPlaintext = bytes.Repeat([]byte("k"), 2048)

func BenchmarkSeal(b *testing.B) {
	k := mustNew(b, key(1))
	aad := []byte("cert/1234567890/my-cert")
	b.SetBytes(int64(len(benchPlaintext)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Seal(benchPlaintext, aad); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkOpen(b *testing.B) {
	k := mustNew(b, key(1))
	aad := []byte("cert/1234567890/my-cert")
	s, err := k.Seal(benchPlaintext, aad)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(benchPlaintext)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := k.Open(s, aad); err != nil {
			b.Fatal(err)
		}
	}
}
