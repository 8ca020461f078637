package store

import (
	"context"
	"math/rand/v2"
	"time"
)

// DomainConfigs is a domain's function configurations: what Alibaba Cloud
// CDN's BatchSetCdnDomainConfig sets (https_force, HSTS, cache rules, ...).
// All of a domain's configs are one record, next to the domain's own under
// served/, so that the edge follows them in the same watch, a batch writes
// one key per domain, and one compare on that key guards the whole set
// (a ConfigId's uniqueness, a function allowed once per domain).
type DomainConfigs struct {
	// Domain names the record; as for a Domain's Name, the key decides
	// when it is read back.
	Domain  string           `json:"domain"`
	Configs []FunctionConfig `json:"configs"`
}

// FunctionConfig is one configured function. Args hold every argument of
// the function, defaults filled in, in the function's own order: what the
// API validated is what the edge reads.
type FunctionConfig struct {
	ConfigID int64         `json:"id"`
	Function string        `json:"fn"`
	ParentID string        `json:"parent,omitempty"`
	Args     []FunctionArg `json:"args"`
	Updated  time.Time     `json:"updated"`
}

// FunctionArg is one argument of a function, as Alibaba names them
// (argName, argValue).
type FunctionArg struct {
	Name  string `json:"n"`
	Value string `json:"v"`
}

// Arg returns the value of the named argument, "" when absent.
func (c *FunctionConfig) Arg(name string) string {
	for _, a := range c.Args {
		if a.Name == name {
			return a.Value
		}
	}
	return ""
}

// Index returns the position of the config with id, or -1.
func (c *DomainConfigs) Index(id int64) int {
	for i := range c.Configs {
		if c.Configs[i].ConfigID == id {
			return i
		}
	}
	return -1
}

// NewConfigID allocates a ConfigId no config of c has. ConfigIds are
// numeric like Alibaba's, below 2^53 so JavaScript clients read them
// exactly, and random, so that an id deleted and allocated again does not
// make a stale reference (a Terraform state) name a new config. They are
// unique per domain, which is how every action addresses them
// (DomainName + ConfigId); the record's compare makes concurrent
// allocations safe.
func (c *DomainConfigs) NewConfigID() int64 {
	for {
		id := rand.Int64N(1<<53-1_000_000) + 1_000_000
		if c.Index(id) < 0 {
			return id
		}
	}
}

// GetDomainConfigs reads the configs of the named domains with the
// revision each record was written at (0 and no configs when a domain has
// none), a hundred per read.
func (s *Store) GetDomainConfigs(ctx context.Context, domains []string) ([]Versioned[DomainConfigs], error) {
	keys := make([]Key, len(domains))
	for i, d := range domains {
		keys[i] = DomainConfigsKey(d)
	}
	found, err := getMany[DomainConfigs](ctx, s, keys)
	if err != nil {
		return nil, err
	}
	out := make([]Versioned[DomainConfigs], len(domains))
	for i, d := range domains {
		out[i] = found[keys[i]]
		out[i].Value.Domain = d
	}
	return out, nil
}

// PutDomainConfigs writes c, or deletes its record when it holds no
// config: a domain without configs has no record.
func (t *Txn) PutDomainConfigs(c DomainConfigs) *Txn {
	k := DomainConfigsKey(c.Domain)
	if len(c.Configs) == 0 {
		return t.Delete(k)
	}
	return t.Put(k, c)
}
