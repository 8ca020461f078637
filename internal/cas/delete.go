package cas

import (
	"context"
	"errors"
	"strconv"

	"github.com/cdnd/cdnd/internal/store"
)

// ErrInUse: a domain still serves the certificate.
var ErrInUse = errors.New("cas: certificate is bound to a domain")

// Delete removes a certificate by CertId, unless a domain is bound to it.
// The domains are part of the transaction's conditions, so a binding made
// meanwhile makes the delete fail rather than leave a domain without its
// certificate.
func (r *Repo) Delete(ctx context.Context, account string, id int64) error {
	name, err := r.NameByID(ctx, account, id)
	if err != nil {
		return err
	}
	c, rev, err := r.Get(ctx, account, name)
	if err != nil {
		return err
	}
	names, err := r.st.DomainsOf(ctx, account)
	if err != nil {
		return err
	}
	domains, err := r.st.GetDomains(ctx, names)
	if err != nil {
		return err
	}
	t := r.st.Txn().Unchanged(store.CertKey(account, name), rev)
	for _, d := range domains {
		if d.Value.HTTPS != nil && d.Value.HTTPS.CertName == name {
			return ErrInUse
		}
		t.Unchanged(store.DomainKey(d.Value.Name), d.Revision)
	}
	t.Delete(store.CertKey(account, name)).Delete(store.CertIDKey(strconv.FormatInt(id, 10)))
	var fp fingerprintRecord
	fpRev, err := r.st.Get(ctx, store.CertFingerprintKey(account, c.Fingerprint), &fp)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if fpRev != 0 && fp.Name == name {
		t.Unchanged(store.CertFingerprintKey(account, c.Fingerprint), fpRev).Delete(store.CertFingerprintKey(account, c.Fingerprint))
	}
	_, err = t.Commit(ctx)
	return err
}
