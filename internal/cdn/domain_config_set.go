package cdn

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cdnd/cdnd/internal/openapi"
	"github.com/cdnd/cdnd/internal/store"
)

// Errors of the domain configuration actions, as the BatchSetCdnDomainConfig
// page lists them (https://www.alibabacloud.com/help/en/cdn/developer-reference/api-cdn-2018-05-10-batchsetcdndomainconfig).
var (
	errFunctionsMalformed    = openapi.NewError(400, "InvalidFunctions.Malformed", "The specified Functions is incorrectly formatted.")
	errFunctionNotSupported  = openapi.NewError(400, "InvalidFunctionName.ValueNotSupported", "FunctionName is not supported.")
	errArgNameNotSupported   = openapi.NewError(400, "InvalidArgName.ValueNotSupported", "ArgName is not supported.")
	errArgValueMalformed     = openapi.NewError(400, "InvalidArgValue.Malformed", "The specified ArgValue is invalid.")
	errFunctionArgsMalformed = openapi.NewError(400, "InvalidFunctionArgs.Malformed", "The specified FunctionArgs is invalid.")
	errHeaderKeyNotSupported = openapi.NewError(400, "InvalidHeaderKey.ValueNotSupported", "The specified value of parameter HeaderKey is not supported.")
	errConfigExceedLimit     = openapi.NewError(400, "ConfigExceedLimit", "Count of config entries exceeds the limit.")
	errInvalidParentID       = openapi.NewError(400, "Function.InvalidParentId", "The specified parentId does not exist.")
	errConfigDuplicate       = openapi.NewError(400, "ConfigDuplicate", "Duplicate configuration. This function has already been configured and cannot be added repeatedly.")
	// A ConfigId that names no config of the domain (or is no number).
	errConfigNotFound = openapi.NewError(404, "InvalidConfigId.NotFound", "The specified ConfigId does not exist.")
)

// Limits of one call and of one domain. Alibaba allows 50 domains a call
// and domains × functions ≤ 50. A domain's configs are one record, and a
// batch writes up to 50 of them in one etcd transaction, which etcd bounds
// at 1.5 MiB (--max-request-bytes): 50 records of 16 KiB fit with room for
// the call's audit record.
const (
	maxBatchConfigs      = 50
	maxDomainConfigs     = 100
	maxDomainConfigBytes = 16 << 10
)

// configBytes is about what c's record weighs: its arguments and a fixed
// overhead per config and argument for the JSON around them.
func configBytes(c *store.DomainConfigs) int {
	n := 0
	for _, cfg := range c.Configs {
		n += 64 + len(cfg.Function) + len(cfg.ParentID)
		for _, a := range cfg.Args {
			n += 16 + len(a.Name) + len(a.Value)
		}
	}
	return n
}

// functionInput is one entry of Functions as clients send it. parentId and
// configId arrive as numbers or as strings, depending on the client.
type functionInput struct {
	FunctionName string          `json:"functionName"`
	FunctionArgs []argInput      `json:"functionArgs"`
	ParentID     json.RawMessage `json:"parentId"`
	ConfigID     json.RawMessage `json:"configId"`
}

type argInput struct {
	ArgName  string          `json:"argName"`
	ArgValue json.RawMessage `json:"argValue"`
}

// functionSet is one validated entry of Functions.
type functionSet struct {
	name     string
	fn       function
	args     []store.FunctionArg
	configID int64 // 0: a new config (or the function's one, if once per domain)
}

// parseFunctions validates the Functions parameter entirely before anything
// is read or written.
func parseFunctions(s string) ([]functionSet, error) {
	var in []functionInput
	if err := json.Unmarshal([]byte(s), &in); err != nil || len(in) == 0 {
		return nil, errFunctionsMalformed
	}
	if len(in) > maxBatchConfigs {
		return nil, errConfigExceedLimit
	}
	out := make([]functionSet, 0, len(in))
	for _, f := range in {
		fn, ok := functions[f.FunctionName]
		if !ok {
			return nil, errFunctionNotSupported.WithMessage("FunctionName %s is not supported.", printable(f.FunctionName))
		}
		given := make([]store.FunctionArg, len(f.FunctionArgs))
		for i, a := range f.FunctionArgs {
			v, ok := scalar(a.ArgValue)
			if a.ArgName == "" || !ok {
				return nil, errFunctionArgsMalformed
			}
			given[i] = store.FunctionArg{Name: a.ArgName, Value: v}
		}
		args, err := fn.normalize(given)
		if err != nil {
			return nil, err
		}
		// No function of the catalogue is a rule condition, so a config
		// can refer to none; -1 is Alibaba's "refer to no condition".
		if p, _ := scalar(f.ParentID); p != "" && p != "-1" && p != "0" {
			return nil, errInvalidParentID
		}
		set := functionSet{name: f.FunctionName, fn: fn, args: args}
		if id, ok := scalar(f.ConfigID); !ok {
			return nil, errFunctionsMalformed
		} else if id != "" && id != "0" {
			if set.configID, err = strconv.ParseInt(id, 10, 64); err != nil || set.configID <= 0 {
				return nil, errConfigNotFound
			}
		}
		out = append(out, set)
	}
	return out, nil
}

// scalar reads a JSON string or number as text; absent and null are "".
func scalar(raw json.RawMessage) (string, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", true
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String(), true
	}
	return "", false
}

// apply sets f on c and returns the config's id.
func (f functionSet) apply(c *store.DomainConfigs, now time.Time) (int64, error) {
	cfg := store.FunctionConfig{Function: f.name, Args: f.args, Updated: now}
	c.Configs = removeFunctions(c.Configs, f.fn.replaces)
	i := -1
	if f.configID != 0 {
		if i = c.Index(f.configID); i < 0 || c.Configs[i].Function != f.name {
			return 0, errConfigNotFound
		}
	} else {
		for j := range c.Configs {
			if c.Configs[j].Function == f.name && f.fn.identity(&c.Configs[j]) == f.fn.identity(&cfg) {
				if f.fn.key != "" {
					return 0, errConfigDuplicate
				}
				i = j
			}
		}
	}
	if i < 0 {
		cfg.ConfigID = c.NewConfigID()
		c.Configs = append(c.Configs, cfg)
		return cfg.ConfigID, nil
	}
	cfg.ConfigID = c.Configs[i].ConfigID
	for j := range c.Configs {
		if j != i && c.Configs[j].Function == f.name && f.fn.key != "" && f.fn.identity(&c.Configs[j]) == f.fn.identity(&cfg) {
			return 0, errConfigDuplicate
		}
	}
	c.Configs[i] = cfg
	return cfg.ConfigID, nil
}

func removeFunctions(cs []store.FunctionConfig, names []string) []store.FunctionConfig {
	out := cs[:0]
	for _, c := range cs {
		if !slices.Contains(names, c.Function) {
			out = append(out, c)
		}
	}
	return out
}

type domainConfigModel struct {
	DomainName   string
	FunctionName string
	ConfigId     int64
}

// batchSetDomainConfig configures functions on up to 50 of the caller's
// domains in one transaction: every domain gets every function, or none
// does (nor is anything written when one is refused).
func (s *Service) batchSetDomainConfig(ctx context.Context, r *openapi.Request) (any, error) {
	names, err := batchNames(r.Get("DomainNames"))
	if err != nil {
		return nil, err
	}
	sets, err := parseFunctions(r.Get("Functions"))
	if err != nil {
		return nil, err
	}
	if len(names)*len(sets) > maxBatchConfigs {
		return nil, errConfigExceedLimit
	}
	var out []domainConfigModel
	err = s.changeConfigs(ctx, r, names, func(c *store.DomainConfigs) error {
		for _, f := range sets {
			id, err := f.apply(c, s.now().UTC())
			if err != nil {
				return err
			}
			out = append(out, domainConfigModel{DomainName: c.Domain, FunctionName: f.name, ConfigId: id})
		}
		return nil
	}, func() { out = out[:0] })
	if err != nil {
		return nil, err
	}
	return struct {
		DomainConfigList struct{ DomainConfigModel []domainConfigModel }
	}{struct{ DomainConfigModel []domainConfigModel }{out}}, nil
}

// setReqHeaderConfig is the older single-purpose form of set_req_header
// that the Go SDK still generates: Key and Value of a header sent to the
// origin; ConfigId changes an existing one.
func (s *Service) setReqHeaderConfig(ctx context.Context, r *openapi.Request) (any, error) {
	const name = "set_req_header"
	args, err := functions[name].normalize([]store.FunctionArg{{Name: "key", Value: r.Get("Key")}, {Name: "value", Value: r.Get("Value")}})
	if err != nil {
		return nil, err
	}
	set := functionSet{name: name, fn: functions[name], args: args}
	if v := r.Get("ConfigId"); v != "" && v != "0" {
		if set.configID, err = strconv.ParseInt(v, 10, 64); err != nil {
			return nil, errConfigNotFound
		}
	}
	return nil, s.changeConfigs(ctx, r, []string{r.Get("DomainName")}, func(c *store.DomainConfigs) error {
		_, err := set.apply(c, s.now().UTC())
		return err
	}, func() {})
}

// batchNames splits a DomainNames list: trimmed, without repeats, at most
// 50.
func batchNames(list string) ([]string, error) {
	var names []string
	for _, n := range strings.Split(list, ",") {
		if n = strings.TrimSpace(n); n != "" && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	if len(names) > maxBatchDomains {
		return nil, setSSLCertificateErrors[faultTooManyDomains]
	}
	if len(names) == 0 {
		return nil, errDomainMalformed
	}
	return names, nil
}

// changeConfigs applies change to the configs of each named domain of the
// caller and commits them in one transaction, guarded by every domain's and
// every config record's revision; on a conflict it reads again and calls
// reset before trying once more.
func (s *Service) changeConfigs(ctx context.Context, r *openapi.Request, names []string, change func(c *store.DomainConfigs) error, reset func()) error {
	return store.RetryConflicts(ctx, func() error {
		reset()
		t := s.st.Txn()
		canonical := make([]string, 0, len(names))
		for _, n := range names {
			d, rev, err := s.loadDomain(ctx, account(r), n)
			if err != nil {
				return err
			}
			if !slices.Contains(canonical, d.Name) {
				t.Unchanged(store.DomainKey(d.Name), rev)
				canonical = append(canonical, d.Name)
			}
		}
		cfgs, err := s.st.GetDomainConfigs(ctx, canonical)
		if err != nil {
			return err
		}
		for _, v := range cfgs {
			c := v.Value
			if err := change(&c); err != nil {
				return err
			}
			if len(c.Configs) > maxDomainConfigs || configBytes(&c) > maxDomainConfigBytes {
				return errConfigExceedLimit
			}
			t.Unchanged(store.DomainConfigsKey(c.Domain), v.Revision).PutDomainConfigs(c)
		}
		_, err = t.Commit(ctx)
		return err
	})
}
