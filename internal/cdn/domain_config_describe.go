package cdn

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/cdnd/cdnd/internal/openapi"
	"github.com/cdnd/cdnd/internal/store"
)

// Config statuses on the wire: a config is configuring until every live
// edge has applied the revision that wrote it, as a domain is.
const (
	configSuccess     = "success"
	configConfiguring = "configuring"
)

type functionArgModel struct{ ArgName, ArgValue string }

type domainConfigDescribed struct {
	FunctionName string
	ConfigId     string
	Status       string
	ParentId     string
	FunctionArgs struct{ FunctionArg []functionArgModel }
}

// describeDomainConfigs lists a domain's configs, optionally only those of
// some functions (FunctionNames, a comma list) or the one with ConfigId. A
// filter that matches nothing answers an empty list, which is how
// Terraform tells that a config is gone.
func (s *Service) describeDomainConfigs(ctx context.Context, r *openapi.Request) (any, error) {
	d, _, err := s.loadDomain(ctx, account(r), r.Get("DomainName"))
	if err != nil {
		return nil, err
	}
	cfgs, err := s.st.GetDomainConfigs(ctx, []string{d.Name})
	if err != nil {
		return nil, err
	}
	applied, err := s.applied(ctx)
	if err != nil {
		return nil, err
	}
	status := configSuccess
	if cfgs[0].Revision > applied {
		status = configConfiguring
	}
	var fns []string
	for _, f := range strings.Split(r.Get("FunctionNames"), ",") {
		if f = strings.TrimSpace(f); f != "" {
			fns = append(fns, f)
		}
	}
	id := strings.TrimSpace(r.Get("ConfigId"))
	out := []domainConfigDescribed{}
	for _, c := range cfgs[0].Value.Configs {
		cid := strconv.FormatInt(c.ConfigID, 10)
		if (len(fns) > 0 && !slices.Contains(fns, c.Function)) || (id != "" && id != cid) {
			continue
		}
		m := domainConfigDescribed{FunctionName: c.Function, ConfigId: cid, Status: status, ParentId: c.ParentID}
		m.FunctionArgs.FunctionArg = argModels(c.Args)
		out = append(out, m)
	}
	return struct {
		DomainConfigs struct{ DomainConfig []domainConfigDescribed }
	}{struct{ DomainConfig []domainConfigDescribed }{out}}, nil
}

func argModels(args []store.FunctionArg) []functionArgModel {
	out := make([]functionArgModel, len(args))
	for i, a := range args {
		out[i] = functionArgModel{ArgName: a.Name, ArgValue: a.Value}
	}
	return out
}
