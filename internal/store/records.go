package store

import (
	"time"

	"github.com/cdnd/cdnd/internal/keyring"
)

// Account is a tenant: it owns domains, certificates and AccessKeys.
type Account struct {
	AccountID   string    `json:"id"`
	DomainQuota int       `json:"quota"`
	Created     time.Time `json:"created"`
}

// AccessKey authenticates API calls for one account. The secret is sealed,
// bound to the key's own record.
type AccessKey struct {
	AccessKeyID string         `json:"id"`
	AccountID   string         `json:"account"`
	Secret      keyring.Sealed `json:"secret"`
	Status      string         `json:"status"` // Active | Inactive
	// UserName is the RAM user the key belongs to; empty for the account's
	// own keys.
	UserName string    `json:"user,omitempty"`
	Created  time.Time `json:"created"`
}

// Source is one origin of a domain.
type Source struct {
	Type     string `json:"type"`    // ipaddr | domain | oss | fc_domain | common
	Content  string `json:"content"` // IP or host name
	Port     int    `json:"port"`
	Priority string `json:"priority"` // "20" primary, "30" backup
	Weight   string `json:"weight"`
}

// Domain is an accelerated domain: everything the edge needs to serve it,
// plus what the API reports about it.
type Domain struct {
	Name            string    `json:"name"`
	DomainID        int64     `json:"domainId"`
	AccountID       string    `json:"account"`
	CdnType         string    `json:"cdnType"`
	Scope           string    `json:"scope"`
	Sources         []Source  `json:"sources"`
	ResourceGroupID string    `json:"rg,omitempty"`
	CheckURL        string    `json:"checkUrl,omitempty"`
	Status          string    `json:"status"` // desired: online | offline
	Mode            string    `json:"mode"`   // normal | safe | protected
	Created         time.Time `json:"created"`
	Modified        time.Time `json:"modified"`
	HTTPS           *Binding  `json:"https,omitempty"` // nil: HTTPS off
}

// Binding ties a domain to a certificate of its account's repository.
type Binding struct {
	CertName string    `json:"cert"`
	CertType string    `json:"type"` // upload | cas | free
	Updated  time.Time `json:"updated"`
}

// Cert is a certificate in an account's repository, addressed by name.
// The chain is kept as PEM (compact, and what the API returns); the key is
// sealed, bound to the record's key in the store.
type Cert struct {
	AccountID   string         `json:"account"`
	Name        string         `json:"name"`
	CertID      int64          `json:"id"`
	ChainPEM    string         `json:"chain"`
	Key         keyring.Sealed `json:"key"`
	Fingerprint string         `json:"fp"` // hex SHA-256 of the leaf
	CommonName  string         `json:"cn"`
	Names       []string       `json:"names"`
	Issuer      string         `json:"issuer"`
	NotBefore   time.Time      `json:"notBefore"`
	NotAfter    time.Time      `json:"notAfter"`
	Created     time.Time      `json:"created"`
	Updated     time.Time      `json:"updated"`
	// ACME says cdnd obtained the certificate itself (CertType=free): only
	// then may a renewal overwrite the record.
	ACME bool `json:"acme,omitempty"`
}

// Edge is an edge node's report of what it has applied.
type Edge struct {
	EdgeID   string    `json:"id"`
	Applied  int64     `json:"applied"` // store revision
	Domains  int       `json:"domains"`
	Reported time.Time `json:"reported"`
}

// PendingKey is a private key cdnd generated for a certificate signing
// request. It never leaves cdnd: the certificate issued for the request is
// matched to it by public key.
type PendingKey struct {
	AccountID  string         `json:"account"`
	PubMD5     string         `json:"pubMd5"`
	CommonName string         `json:"cn"`
	Key        keyring.Sealed `json:"key"`
	Created    time.Time      `json:"created"`
}

// RAMUser is an identity inside an account, with its own AccessKeys and only
// the permissions its attached policies grant.
type RAMUser struct {
	UserName    string    `json:"name"`
	UserID      string    `json:"id"`
	DisplayName string    `json:"display,omitempty"`
	Comments    string    `json:"comments,omitempty"`
	Email       string    `json:"email,omitempty"`
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated"`
}

// Policy is a custom policy with its versions; one is the default, the one
// that is evaluated.
type Policy struct {
	Name           string          `json:"name"`
	Description    string          `json:"description,omitempty"`
	DefaultVersion string          `json:"default"`
	Versions       []PolicyVersion `json:"versions"`
	Created        time.Time       `json:"created"`
	Updated        time.Time       `json:"updated"`
}

// PolicyVersion is one version of a policy document.
type PolicyVersion struct {
	VersionID string    `json:"id"`
	Document  string    `json:"document"`
	Created   time.Time `json:"created"`
}

// Document returns the default version's document.
func (p Policy) Document() string {
	for _, v := range p.Versions {
		if v.VersionID == p.DefaultVersion {
			return v.Document
		}
	}
	return ""
}

// Role can be assumed through STS for temporary credentials carrying the
// role's attached policies.
type Role struct {
	RoleName           string    `json:"name"`
	RoleID             string    `json:"id"`
	Description        string    `json:"description,omitempty"`
	TrustPolicy        string    `json:"trust"`
	MaxSessionDuration int64     `json:"maxSession"`
	Created            time.Time `json:"created"`
	Updated            time.Time `json:"updated"`
}

// Attachment records when a policy was attached.
type Attachment struct {
	Attached time.Time `json:"attached"`
}

// STSCredential is a temporary AccessKey issued by AssumeRole. Only a hash
// of its SecurityToken is kept; the secret is sealed.
type STSCredential struct {
	AccessKeyID string         `json:"id"`
	AccountID   string         `json:"account"`
	RoleName    string         `json:"role"`
	RoleID      string         `json:"roleId"`
	SessionName string         `json:"session"`
	Secret      keyring.Sealed `json:"secret"`
	TokenHash   string         `json:"tokenHash"`
	Policy      string         `json:"policy,omitempty"` // inline session policy
	Expiration  time.Time      `json:"expiration"`
}

// VerifiedRoot is an account's proof of control over a root domain: how it
// was proven (dnsCheck or fileCheck) and when.
type VerifiedRoot struct {
	VerifyType string    `json:"type"`
	Verified   time.Time `json:"verified"`
}

// OwnerSecret keys the ownership verification contents of an installation.
// It is sealed like every other secret: whoever reads the store must not be
// able to compute another account's content.
type OwnerSecret struct {
	Key keyring.Sealed `json:"key"`
}
