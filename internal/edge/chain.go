package edge

import (
	"bytes"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"unique"
)

// compactChain keeps a certificate chain as its leaf plus a handle on the
// rest. Every certificate of one CA carries the same intermediates; with
// 100k domains they would otherwise be stored 100k times over, so each
// distinct run of intermediates is kept once (unique.Make copies it, and the
// leaf is cloned, so no decoded record's buffer stays alive).
type compactChain struct {
	leaf string
	rest unique.Handle[string]
}

const endCertificate = "-----END CERTIFICATE-----"

func newCompactChain(pem string) compactChain {
	leaf, rest := splitChain(pem)
	return compactChain{leaf: strings.Clone(leaf), rest: unique.Make(rest)}
}

// splitChain cuts a PEM chain after its first certificate (and the line
// breaks that follow it): the leaf, and the intermediates it shares with
// every certificate of its CA.
func splitChain(pem string) (leaf, intermediates string) {
	i := strings.Index(pem, endCertificate)
	if i < 0 {
		return pem, ""
	}
	i += len(endCertificate)
	for i < len(pem) && (pem[i] == '\n' || pem[i] == '\r') {
		i++
	}
	return pem[:i], pem[i:]
}

// String is the chain as stored.
func (c compactChain) String() string { return c.leaf + c.rest.Value() }

// is reports whether the chain is pem, without building it.
func (c compactChain) is(pem string) bool {
	return strings.HasPrefix(pem, c.leaf) && pem[len(c.leaf):] == c.rest.Value()
}

// certificatesDER decodes PEM text that holds nothing but CERTIFICATE
// blocks (a stored chain, or a part of one) into their DER.
func certificatesDER(text string) ([][]byte, error) {
	var der [][]byte
	rest := []byte(text)
	for {
		block, after := pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			// Not named: it could be a key pasted into the chain.
			return nil, errors.New("a block that is not a certificate in the chain")
		}
		der, rest = append(der, block.Bytes), after
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("%d bytes that are not a PEM certificate", len(rest))
	}
	return der, nil
}
