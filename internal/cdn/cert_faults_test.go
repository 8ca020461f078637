package cdn

import (
	"errors"
	"testing"

	"github.com/cdnd/cdnd/internal/openapi"
)

// Every certificate action answers every fault with a code of its own
// table: a missing entry would once have turned into a nil error.
func TestEveryFaultHasACodeInEveryTable(t *testing.T) {
	tables := map[string]map[certFault]*openapi.Error{
		"SetDomainServerCertificate 2018":    setServerCertificateErrors,
		"SetDomainServerCertificate 2014":    setServerCertificate2014Errors,
		"SetCdnDomainSSLCertificate":         setSSLCertificateErrors,
		"BatchSetCdnDomainServerCertificate": batchSetCertificateErrors,
	}
	for name, table := range tables {
		for f := certFault(1); f < numFaults; f++ {
			if table[f] == nil {
				t.Errorf("%s: fault %d has no code", name, f)
			}
		}
	}
}

func TestTranslateNeverReturnsANilAPIError(t *testing.T) {
	err := translate(faultEnv, map[certFault]*openapi.Error{})
	var apiErr *openapi.Error
	if err == nil || (errors.As(err, &apiErr) && apiErr == nil) {
		t.Fatalf("translate of an unmapped fault = %#v", err)
	}
}
