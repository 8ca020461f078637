package iam

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/cdnd/cdnd/internal/iam/policy"
	"github.com/cdnd/cdnd/internal/store"
)

// stsGrace keeps expired credentials a while so that a late caller hears
// "expired" rather than "malformed".
const stsGrace = time.Hour

// AssumedRole is what AssumeRole returns: temporary credentials, shown once.
type AssumedRole struct {
	AccessKeyID     string
	AccessKeySecret string
	SecurityToken   string
	Expiration      time.Time
	AssumedRoleID   string
	ARN             string
}

// AssumeRole issues temporary credentials for a role of the caller's account
// whose trust policy allows the caller. An optional inline policy narrows
// them further. The credentials live in etcd under a lease, so every API
// node knows them and they vanish on their own.
func (d *Directory) AssumeRole(ctx context.Context, caller Principal, roleARN, session, inline string, seconds int64) (AssumedRole, error) {
	if caller.Type == TypeAssumedRoleUser {
		return AssumedRole{}, ErrAssumeFromSession
	}
	prefix := "acs:ram::" + caller.AccountID + ":role/"
	if !strings.HasPrefix(strings.ToLower(roleARN), strings.ToLower(prefix)) {
		return AssumedRole{}, ErrRoleNotFound
	}
	if !validName(session, 64) || len(session) < 2 {
		return AssumedRole{}, ErrSessionName
	}
	role, _, err := d.Role(ctx, caller.AccountID, roleARN[len(prefix):])
	if err != nil {
		return AssumedRole{}, err
	}
	if seconds == 0 {
		seconds = defaultSession
	}
	if seconds < minSession || seconds > role.MaxSessionDuration {
		return AssumedRole{}, ErrDuration
	}
	t, err := parseTrust(role.TrustPolicy)
	if err != nil || !t.trusts(caller) {
		return AssumedRole{}, ErrTrustDenied
	}
	if inline != "" {
		if _, err := policy.Parse(inline); err != nil {
			return AssumedRole{}, errors.Join(ErrPolicyDocument, err)
		}
	}
	id := "STS." + randomString(alnum, 24)
	secret := newAccessKeySecret()
	token, hash := newSecurityToken(id)
	sealed, err := d.kr.Seal([]byte(secret), secretAAD(id))
	if err != nil {
		return AssumedRole{}, err
	}
	exp := time.Now().UTC().Add(time.Duration(seconds) * time.Second).Truncate(time.Second)
	rec := store.STSCredential{AccessKeyID: id, AccountID: caller.AccountID, RoleName: role.RoleName, RoleID: role.RoleID,
		SessionName: session, Secret: sealed, TokenHash: hash, Policy: inline, Expiration: exp}
	if _, err := d.st.PutExpiring(ctx, store.STSKey(id), rec, time.Until(exp)+stsGrace); err != nil {
		return AssumedRole{}, err
	}
	return AssumedRole{AccessKeyID: id, AccessKeySecret: secret, SecurityToken: token, Expiration: exp,
		AssumedRoleID: role.RoleID + ":" + session, ARN: "acs:ram::" + caller.AccountID + ":assumed-role/" + role.RoleName + "/" + session}, nil
}

// newSecurityToken names its AccessKey inside (so that a token presented
// with another key is told apart from a forged one) and carries 256 random
// bits; only its hash is stored.
func newSecurityToken(accessKeyID string) (token, hash string) {
	var r [32]byte
	if _, err := rand.Read(r[:]); err != nil {
		panic("iam: crypto/rand failed: " + err.Error())
	}
	token = "CAIS" + base64.RawURLEncoding.EncodeToString([]byte(accessKeyID)) + "." + base64.RawURLEncoding.EncodeToString(r[:])
	return token, tokenHash(token)
}

func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// tokenKeyID is the AccessKeyId a token was issued with, or "".
func tokenKeyID(token string) string {
	body, ok := strings.CutPrefix(token, "CAIS")
	if !ok {
		return ""
	}
	enc, _, ok := strings.Cut(body, ".")
	if !ok {
		return ""
	}
	id, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return ""
	}
	return string(id)
}

// lookupSTS authenticates temporary credentials.
func (d *Directory) lookupSTS(ctx context.Context, accessKeyID, token string) (Principal, []byte, error) {
	if token == "" {
		return Principal{}, nil, ErrTokenMalformed
	}
	if owner := tokenKeyID(token); owner == "" {
		return Principal{}, nil, ErrTokenMalformed
	} else if owner != accessKeyID {
		return Principal{}, nil, ErrTokenMismatch
	}
	var c store.STSCredential
	if _, err := d.st.Get(ctx, store.STSKey(accessKeyID), &c); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return Principal{}, nil, ErrTokenExpired // issued here once (the token names it) and gone
		}
		return Principal{}, nil, err
	}
	if subtle.ConstantTimeCompare([]byte(tokenHash(token)), []byte(c.TokenHash)) != 1 {
		return Principal{}, nil, ErrTokenMalformed
	}
	if time.Now().After(c.Expiration) {
		return Principal{}, nil, ErrTokenExpired
	}
	secret, err := d.kr.Open(c.Secret, secretAAD(accessKeyID))
	if err != nil {
		return Principal{}, nil, err
	}
	p := Principal{AccountID: c.AccountID, AccessKeyID: accessKeyID, Type: TypeAssumedRoleUser,
		Name: c.RoleName + "/" + c.SessionName, ID: c.RoleID + ":" + c.SessionName, role: c.RoleName}
	if c.Policy != "" {
		if p.session, err = policy.Parse(c.Policy); err != nil {
			return Principal{}, nil, err
		}
	}
	return p, secret, nil
}
