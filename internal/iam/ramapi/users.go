package ramapi

import (
	"context"
	"sort"
	"strconv"

	"github.com/cdnd/cdnd/internal/iam"
	"github.com/cdnd/cdnd/internal/openapi"
	"github.com/cdnd/cdnd/internal/store"
)

type user struct {
	UserId, UserName, DisplayName, Comments, Email, CreateDate, UpdateDate string
}

func userOf(u store.RAMUser) user {
	return user{u.UserID, u.UserName, u.DisplayName, u.Comments, u.Email, isoTime(u.Created), isoTime(u.Updated)}
}

func (a *API) createUser(ctx context.Context, r *openapi.Request) (any, error) {
	u, err := a.d.CreateUser(ctx, r.Principal.AccountID, store.RAMUser{
		UserName: r.Get("UserName"), DisplayName: r.Get("DisplayName"), Comments: r.Get("Comments"), Email: r.Get("Email")})
	return struct{ User user }{userOf(u)}, err
}

func (a *API) getUser(ctx context.Context, r *openapi.Request) (any, error) {
	u, _, err := a.d.User(ctx, r.Principal.AccountID, r.Get("UserName"))
	return struct{ User user }{userOf(u)}, err
}

// listUsers pages by Marker (the last name of the previous page) and
// MaxItems (1–1000, default 100), as RAM does.
func (a *API) listUsers(ctx context.Context, r *openapi.Request) (any, error) {
	max := 100
	if v := r.Get("MaxItems"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return nil, openapi.ErrInvalidParameter.WithMessage("MaxItems must be 1 to 1000.")
		}
		max = n
	}
	all, err := a.d.Users(ctx, r.Principal.AccountID)
	if err != nil {
		return nil, err
	}
	start := sort.Search(len(all), func(i int) bool { return all[i].UserName > r.Get("Marker") })
	page := []user{}
	for _, u := range all[start:min(start+max, len(all))] {
		page = append(page, userOf(u))
	}
	out := struct {
		IsTruncated bool
		Marker      string
		Users       struct{ User []user }
	}{IsTruncated: start+max < len(all)}
	if out.IsTruncated {
		out.Marker = page[len(page)-1].UserName
	}
	out.Users.User = page
	return out, nil
}

func (a *API) deleteUser(ctx context.Context, r *openapi.Request) (any, error) {
	return nil, a.d.DeleteUser(ctx, r.Principal.AccountID, r.Get("UserName"))
}

// keyOwner is whose keys a key action manages: the named user, or without
// UserName the caller itself (the account, or a RAM user's own keys).
func keyOwner(r *openapi.Request) string {
	if u := r.Get("UserName"); u != "" {
		return u
	}
	if r.Principal.Type == iam.TypeSubUser {
		return r.Principal.Name
	}
	return ""
}

type accessKey struct {
	AccessKeyId     string
	AccessKeySecret string `json:",omitempty"`
	Status          string
	CreateDate      string
}

func (a *API) createAccessKey(ctx context.Context, r *openapi.Request) (any, error) {
	c, k, err := a.d.CreateAccessKey(ctx, r.Principal.AccountID, keyOwner(r))
	return struct{ AccessKey accessKey }{accessKey{c.AccessKeyID, c.AccessKeySecret, k.Status, isoTime(k.Created)}}, err
}

func (a *API) updateAccessKey(ctx context.Context, r *openapi.Request) (any, error) {
	return nil, a.d.UpdateAccessKey(ctx, r.Principal.AccountID, keyOwner(r), r.Get("UserAccessKeyId"), r.Get("Status"))
}

func (a *API) deleteAccessKey(ctx context.Context, r *openapi.Request) (any, error) {
	return nil, a.d.DeleteAccessKey(ctx, r.Principal.AccountID, keyOwner(r), r.Get("UserAccessKeyId"))
}

func (a *API) listAccessKeys(ctx context.Context, r *openapi.Request) (any, error) {
	owner := keyOwner(r)
	if owner != "" {
		if _, _, err := a.d.User(ctx, r.Principal.AccountID, owner); err != nil {
			return nil, err
		}
	}
	keys, err := a.d.AccessKeys(ctx, r.Principal.AccountID, owner)
	if err != nil {
		return nil, err
	}
	list := make([]accessKey, len(keys))
	for i, k := range keys {
		list[i] = accessKey{AccessKeyId: k.AccessKeyID, Status: k.Status, CreateDate: isoTime(k.Created)}
	}
	return struct {
		AccessKeys struct{ AccessKey []accessKey }
	}{struct{ AccessKey []accessKey }{list}}, nil
}
