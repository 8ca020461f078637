package e2e

import (
	"crypto/x509"
	"encoding/pem"
	"errors"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
)

var errorsAs = errors.As

func tlsCertificates(chain []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, chain = pem.Decode(chain)
		if block == nil {
			break
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no certificate")
	}
	return out, nil
}

func requestsInt(s string) requests.Integer { return requests.Integer(s) }
