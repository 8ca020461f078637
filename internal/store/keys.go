package store

import "strings"

// Key layout under the installation prefix (e.g. "/cdnd/v1/"). What the edge
// serves lives under "served/" so that one watch, delivered one revision at a
// time, carries a certificate and its domain binding together.
const (
	servedDir   = "served/"
	domainsDir  = servedDir + "domains/"
	certsDir    = servedDir + "certs/"
	configsDir  = servedDir + "configs/" // configs/{domain}: the domain's function configs
	purgesDir   = servedDir + "purges/"  // purges/{account}/{taskId}: refresh and prefetch tasks
	quotasDir   = "refreshquota/"        // refreshquota/{account}/{day}: what the day's tasks used
	accountsDir = "accounts/"
	keysDir     = "accesskeys/"
	ownersDir   = "owners/" // owners/{account}/{domain}: per-account domain index
	certIDsDir  = "certids/"
	certFPsDir  = "certfp/" // certfp/{account}/{sha256}: content index
	noncesDir   = "nonces/"
	edgesDir    = "edges/"
	metaDir     = "meta/"
	pendingDir  = "csrkeys/"  // csrkeys/{account}/{md5 of public key}
	verifiedDir = "verified/" // verified/{account}/{root domain}: proven ownership
)

// Key is a record's key relative to the installation prefix.
type Key string

// The prefixes the operator's listings page through (Page).
const (
	AccountsPrefix   Key = accountsDir
	AllDomainsPrefix Key = domainsDir
	AllCertsPrefix   Key = certsDir
)

func DomainKey(name string) Key                 { return Key(domainsDir + name) }
func DomainConfigsKey(domain string) Key        { return Key(configsDir + domain) }
func CertKey(account, name string) Key          { return Key(certsDir + account + "/" + name) }
func AccountKey(id string) Key                  { return Key(accountsDir + id) }
func AccessKeyKey(id string) Key                { return Key(keysDir + id) }
func OwnerKey(account, domain string) Key       { return Key(ownersDir + account + "/" + domain) }
func CertIDKey(id string) Key                   { return Key(certIDsDir + id) }
func CertFingerprintKey(account, fp string) Key { return Key(certFPsDir + account + "/" + fp) }
func EdgeKey(id string) Key                     { return Key(edgesDir + id) }
func MetaKey(name string) Key                   { return Key(metaDir + name) }

// VerifiedRootKey records that an account proved it controls a root
// (registrable) domain, which lets it add any name under that root.
func VerifiedRootKey(account, root string) Key { return Key(verifiedDir + account + "/" + root) }

func (s *Store) abs(k Key) string { return s.prefix + string(k) }

// ownersPrefix lists one account's domains.
func ownersPrefix(account string) Key { return Key(ownersDir + account + "/") }

// splitServed tells what a key under served/ names: a domain, a domain's
// configs or a certificate.
func splitServed(rel string) (kind, account, name string) {
	switch {
	case strings.HasPrefix(rel, domainsDir):
		return "domain", "", rel[len(domainsDir):]
	case strings.HasPrefix(rel, configsDir):
		return "configs", "", rel[len(configsDir):]
	case strings.HasPrefix(rel, purgesDir):
		account, id, _ := strings.Cut(rel[len(purgesDir):], "/")
		return "purge", account, id
	case strings.HasPrefix(rel, certsDir):
		account, name, _ := strings.Cut(rel[len(certsDir):], "/")
		return "cert", account, name
	}
	return "", "", ""
}

// CertKeyAAD is the associated data a certificate's private key is sealed
// with: the record's own key, so a sealed key copied onto another
// certificate record does not open.
func CertKeyAAD(account, name string) []byte { return []byte(CertKey(account, name)) }

// CertsPrefix lists one account's certificates.
func CertsPrefix(account string) Key { return Key(certsDir + account + "/") }

// PendingKeyKey holds a private key generated for a certificate signing
// request, until the certificate issued for it arrives.
func PendingKeyKey(account, pubMD5 string) Key { return Key(pendingDir + account + "/" + pubMD5) }

// RAM identities and policies live under one prefix per account, so that
// one mirror (the authorizer's cache) follows them all:
//
//	ram/{account}/users/{user}
//	ram/{account}/policies/{policy}
//	ram/{account}/roles/{role}
//	ram/{account}/attach/{user|role}/{name}/{policyType}/{policy}
const ramDir = "ram/"

// RAMPrefix is everything RAM knows, for the authorizer's mirror.
func RAMPrefix() Key { return Key(ramDir) }

func RAMUserKey(account, user string) Key { return Key(ramDir + account + "/users/" + user) }
func RAMUsersPrefix(account string) Key   { return Key(ramDir + account + "/users/") }
func PolicyKey(account, name string) Key  { return Key(ramDir + account + "/policies/" + name) }
func RoleKey(account, name string) Key    { return Key(ramDir + account + "/roles/" + name) }

// AttachmentKey records that a policy is attached to a user or a role.
func AttachmentKey(account, kind, name, policyType, policy string) Key {
	return Key(ramDir + account + "/attach/" + kind + "/" + name + "/" + policyType + "/" + policy)
}

// AttachmentsPrefix lists the policies attached to one user or role.
func AttachmentsPrefix(account, kind, name string) Key {
	return Key(ramDir + account + "/attach/" + kind + "/" + name + "/")
}

// STSKey holds temporary credentials issued by AssumeRole.
func STSKey(accessKeyID string) Key { return Key(stsDir + accessKeyID) }

const stsDir = "sts/"

// UserKeyIndex lists a RAM user's AccessKeys ("" user: the account's own).
func UserKeyIndex(account, user, id string) Key { return UserKeysPrefix(account, user) + Key(id) }

// UserKeysPrefix is the index of one user's keys.
func UserKeysPrefix(account, user string) Key {
	if user == "" {
		user = "~account"
	}
	return Key(keyIndexDir + account + "/" + user + "/")
}

const keyIndexDir = "keyindex/"
