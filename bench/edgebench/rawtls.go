package main

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"time"
)

// rawClient is a minimal TLS 1.3 client (TLS_AES_128_GCM_SHA256, X25519)
// for the load generator. A crypto/tls client costs more CPU per handshake
// than the server it talks to (it generates a key share and verifies the
// server's ECDSA signature, the server only signs), so on a two-core machine
// one core of crypto/tls clients cannot load one core of server. This client
// does the whole handshake the server sees — ClientHello with SNI and a key
// share, the server's full flight, the client Finished — but reuses one
// X25519 key share and does not verify the server's signature, the client
// work a server never notices. It checks that the leaf is the SNI's (the
// name appears in it) and verifies the server's Finished, so a wrong
// certificate or a broken handshake still counts as an error.
//
// Not a TLS implementation for anything else: no verification, no
// HelloRetryRequest, no application data.
type rawClient struct {
	priv *ecdh.PrivateKey
	pub  []byte
}

func newRawClient() (*rawClient, error) {
	priv, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return &rawClient{priv: priv, pub: priv.PublicKey().Bytes()}, nil
}

// TLS constants (RFC 8446).
const (
	recordHandshake    = 22
	recordAlert        = 21
	recordCCS          = 20
	recordAppData      = 23
	msgClientHello     = 1
	msgServerHello     = 2
	msgEncryptedExts   = 8
	msgCertificate     = 11
	msgCertVerify      = 15
	msgFinished        = 20
	suiteAES128GCM     = 0x1301
	groupX25519        = 0x001d
	extServerName      = 0
	extSupportedGroups = 10
	extSigAlgs         = 13
	extSupportedVers   = 43
	extKeyShare        = 51
	tls13              = 0x0304
)

// handshake does one full handshake with sni on a new connection, then
// closes its side and waits for the server to close, so the server has
// processed the client Finished before the next handshake is counted.
func (c *rawClient) handshake(addr, sni string) error {
	raw, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return err
	}
	defer raw.Close()
	_ = raw.SetDeadline(time.Now().Add(10 * time.Second))
	conn := raw.(*net.TCPConn)
	r := bufio.NewReaderSize(conn, 8192)

	hello := c.clientHello(sni)
	if _, err := conn.Write(record(recordHandshake, hello)); err != nil {
		return err
	}
	transcript := append(make([]byte, 0, 4096), hello...)

	// ServerHello, in plaintext.
	typ, body, err := readRecord(r)
	if err != nil {
		return err
	}
	if typ == recordAlert {
		return alertError(body)
	}
	if typ != recordHandshake || len(body) < 4 || body[0] != msgServerHello {
		return fmt.Errorf("expected ServerHello, got record %d", typ)
	}
	serverHello := body[:4+(int(body[1])<<16|int(body[2])<<8|int(body[3]))]
	serverKey, err := parseServerHello(serverHello[4:])
	if err != nil {
		return err
	}
	transcript = append(transcript, serverHello...)

	peer, err := ecdh.X25519().NewPublicKey(serverKey)
	if err != nil {
		return err
	}
	shared, err := c.priv.ECDH(peer)
	if err != nil {
		return err
	}
	ks := newKeySchedule(shared, transcript)
	serverAEAD, serverIV := ks.trafficKeys(ks.serverHS)

	// The server's encrypted flight: EncryptedExtensions, Certificate,
	// CertificateVerify, Finished, possibly over several records.
	var hs []byte
	var seq uint64
	var leafOK bool
	for done := false; !done; {
		typ, body, err := readRecord(r)
		if err != nil {
			return err
		}
		switch typ {
		case recordCCS:
			continue // middlebox compatibility, ignored in TLS 1.3
		case recordAlert:
			return alertError(body)
		case recordAppData:
		default:
			return fmt.Errorf("unexpected record type %d", typ)
		}
		inner, innerType, err := open(serverAEAD, serverIV, seq, body)
		seq++
		if err != nil {
			return err
		}
		if innerType == recordAlert {
			return alertError(inner)
		}
		hs = append(hs, inner...)
		for len(hs) >= 4 {
			n := 4 + (int(hs[1])<<16 | int(hs[2])<<8 | int(hs[3]))
			if len(hs) < n {
				break
			}
			msg := hs[:n]
			switch msg[0] {
			case msgEncryptedExts, msgCertVerify:
			case msgCertificate:
				leafOK = leafNames(msg[4:], sni)
			case msgFinished:
				want := finishedMAC(ks.serverHS, transcript)
				if !hmac.Equal(msg[4:], want) {
					return errors.New("server Finished does not verify")
				}
				done = true
			default:
				return fmt.Errorf("unexpected handshake message %d", msg[0])
			}
			transcript = append(transcript, msg...)
			hs = hs[n:]
		}
	}
	if !leafOK {
		return fmt.Errorf("SNI %s was served a certificate for another name", sni)
	}

	// Client Finished, encrypted with the client handshake key.
	fin := append([]byte{msgFinished, 0, 0, 32}, finishedMAC(ks.clientHS, transcript)...)
	clientAEAD, clientIV := ks.trafficKeys(ks.clientHS)
	if _, err := conn.Write(seal(clientAEAD, clientIV, 0, fin, recordHandshake)); err != nil {
		return err
	}
	_ = conn.CloseWrite()
	_, _ = io.Copy(io.Discard, r) // until the server closes (or resets)
	return nil
}

// clientHello builds the handshake message: TLS 1.3 only, AES-128-GCM,
// X25519, ECDSA/RSA-PSS signatures, SNI.
func (c *rawClient) clientHello(sni string) []byte {
	var ext []byte
	// server_name: list of one host_name.
	name := []byte(sni)
	ext = appendExt(ext, extServerName, u16(append([]byte{0}, u16(name)...)))
	ext = appendExt(ext, extSupportedGroups, u16([]byte{0, groupX25519 & 0xff}))
	ext = appendExt(ext, extSigAlgs, u16([]byte{0x04, 0x03, 0x08, 0x04, 0x08, 0x05, 0x04, 0x01}))
	ext = appendExt(ext, extSupportedVers, []byte{2, 0x03, 0x04})
	share := append([]byte{0, groupX25519 & 0xff}, u16(c.pub)...)
	ext = appendExt(ext, extKeyShare, u16(share))

	var b []byte
	b = append(b, 0x03, 0x03) // legacy_version
	random := make([]byte, 32)
	_, _ = rand.Read(random)
	b = append(b, random...)
	b = append(b, 0)                // legacy_session_id: empty
	b = append(b, 0, 2, 0x13, 0x01) // cipher_suites: TLS_AES_128_GCM_SHA256
	b = append(b, 1, 0)             // legacy_compression_methods: null
	b = append(b, u16(ext)...)      // extensions
	msg := []byte{msgClientHello, byte(len(b) >> 16), byte(len(b) >> 8), byte(len(b))}
	return append(msg, b...)
}

func u16(b []byte) []byte { return append([]byte{byte(len(b) >> 8), byte(len(b))}, b...) }

func appendExt(b []byte, typ uint16, body []byte) []byte {
	b = binary.BigEndian.AppendUint16(b, typ)
	return append(b, u16(body)...)
}

// record frames a plaintext record.
func record(typ byte, body []byte) []byte {
	return append([]byte{typ, 0x03, 0x01, byte(len(body) >> 8), byte(len(body))}, body...)
}

func readRecord(r *bufio.Reader) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := int(hdr[3])<<8 | int(hdr[4])
	if n > 1<<14+256 {
		return 0, nil, fmt.Errorf("record too long (%d)", n)
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, err
	}
	return hdr[0], body, nil
}

func alertError(body []byte) error {
	if len(body) >= 2 {
		return fmt.Errorf("TLS alert %d", body[1])
	}
	return errors.New("TLS alert")
}

// parseServerHello returns the server's X25519 key share.
func parseServerHello(b []byte) ([]byte, error) {
	// legacy_version(2) random(32) session_id(1+n) cipher(2) compression(1) extensions(2+n)
	if len(b) < 35 {
		return nil, errors.New("short ServerHello")
	}
	// The HelloRetryRequest random (RFC 8446, 4.1.3).
	hrr := []byte{0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91, 0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C}
	if bytes.Equal(b[2:34], hrr) {
		return nil, errors.New("HelloRetryRequest: the server does not accept X25519")
	}
	p := b[34:]
	if len(p) < 1+int(p[0])+5 {
		return nil, errors.New("short ServerHello")
	}
	p = p[1+int(p[0]):]
	if suite := binary.BigEndian.Uint16(p); suite != suiteAES128GCM {
		return nil, fmt.Errorf("server chose cipher suite %#04x", suite)
	}
	p = p[3:]
	extLen := int(binary.BigEndian.Uint16(p))
	p = p[2:]
	if len(p) < extLen {
		return nil, errors.New("short ServerHello extensions")
	}
	p = p[:extLen]
	var key []byte
	version := 0
	for len(p) >= 4 {
		typ, n := binary.BigEndian.Uint16(p), int(binary.BigEndian.Uint16(p[2:]))
		if len(p) < 4+n {
			return nil, errors.New("bad ServerHello extension")
		}
		body := p[4 : 4+n]
		switch typ {
		case extSupportedVers:
			if n == 2 {
				version = int(binary.BigEndian.Uint16(body))
			}
		case extKeyShare:
			if n >= 4 && binary.BigEndian.Uint16(body) == groupX25519 {
				key = body[4:]
			}
		}
		p = p[4+n:]
	}
	if version != tls13 || len(key) != 32 {
		return nil, errors.New("server did not negotiate TLS 1.3 with X25519")
	}
	return key, nil
}

// leafNames reports whether the first certificate of a Certificate message
// carries sni (as the leaf's CN and SAN do).
func leafNames(b []byte, sni string) bool {
	// certificate_request_context(1+n) certificate_list(3) cert_data(3+n) ...
	if len(b) < 1 || len(b) < 1+int(b[0])+6 {
		return false
	}
	p := b[1+int(b[0])+3:]
	n := int(p[0])<<16 | int(p[1])<<8 | int(p[2])
	if len(p) < 3+n {
		return false
	}
	return bytes.Contains(p[3:3+n], []byte(sni))
}

// keySchedule holds the handshake traffic secrets (RFC 8446, 7.1).
type keySchedule struct{ clientHS, serverHS []byte }

func newKeySchedule(shared, helloTranscript []byte) keySchedule {
	zero := make([]byte, 32)
	early, _ := hkdf.Extract(sha256.New, zero, nil)
	emptyHash := sha256.Sum256(nil)
	derived := expandLabel(early, "derived", emptyHash[:], 32)
	hsSecret, _ := hkdf.Extract(sha256.New, shared, derived)
	th := sha256.Sum256(helloTranscript)
	return keySchedule{
		clientHS: expandLabel(hsSecret, "c hs traffic", th[:], 32),
		serverHS: expandLabel(hsSecret, "s hs traffic", th[:], 32),
	}
}

func (keySchedule) trafficKeys(secret []byte) (cipher.AEAD, []byte) {
	block, err := aes.NewCipher(expandLabel(secret, "key", nil, 16))
	if err != nil {
		panic(err) // a 16-byte key always makes a cipher
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	return aead, expandLabel(secret, "iv", nil, 12)
}

func expandLabel(secret []byte, label string, context []byte, n int) []byte {
	full := "tls13 " + label
	info := make([]byte, 0, 4+len(full)+len(context))
	info = binary.BigEndian.AppendUint16(info, uint16(n))
	info = append(info, byte(len(full)))
	info = append(info, full...)
	info = append(info, byte(len(context)))
	info = append(info, context...)
	out, err := hkdf.Expand(sha256.New, secret, string(info), n)
	if err != nil {
		panic(err) // only for lengths far beyond these
	}
	return out
}

// finishedMAC is the verify_data of a Finished message over transcript.
func finishedMAC(trafficSecret, transcript []byte) []byte {
	key := expandLabel(trafficSecret, "finished", nil, 32)
	th := sha256.Sum256(transcript)
	m := hmac.New(sha256.New, key)
	m.Write(th[:])
	return m.Sum(nil)
}

func nonce(iv []byte, seq uint64) []byte {
	n := bytes.Clone(iv)
	for i := 0; i < 8; i++ {
		n[len(n)-1-i] ^= byte(seq >> (8 * i))
	}
	return n
}

// open decrypts a TLS 1.3 record body and strips the inner type and padding.
func open(aead cipher.AEAD, iv []byte, seq uint64, body []byte) ([]byte, byte, error) {
	hdr := []byte{recordAppData, 0x03, 0x03, byte(len(body) >> 8), byte(len(body))}
	plain, err := aead.Open(nil, nonce(iv, seq), body, hdr)
	if err != nil {
		return nil, 0, errors.New("record does not decrypt")
	}
	i := len(plain) - 1
	for i >= 0 && plain[i] == 0 {
		i--
	}
	if i < 0 {
		return nil, 0, errors.New("record without inner type")
	}
	return plain[:i], plain[i], nil
}

// seal encrypts content of inner type typ into a complete record.
func seal(aead cipher.AEAD, iv []byte, seq uint64, content []byte, typ byte) []byte {
	plain := append(bytes.Clone(content), typ)
	n := len(plain) + aead.Overhead()
	hdr := []byte{recordAppData, 0x03, 0x03, byte(n >> 8), byte(n)}
	return aead.Seal(hdr, nonce(iv, seq), plain, hdr)
}
