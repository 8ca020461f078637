package cdn

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/cdnd/cdnd/internal/openapi"
	"github.com/cdnd/cdnd/internal/store"
)

// deleteSpecificConfig removes configs of one domain by ConfigId (a comma
// list): all of them, or none when one does not exist.
func (s *Service) deleteSpecificConfig(ctx context.Context, r *openapi.Request) (any, error) {
	var ids []int64
	for _, v := range strings.Split(r.Get("ConfigId"), ",") {
		id, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			return nil, errConfigNotFound
		}
		ids = append(ids, id)
	}
	return nil, s.changeConfigs(ctx, r, []string{r.Get("DomainName")}, func(c *store.DomainConfigs) error {
		for _, id := range ids {
			i := c.Index(id)
			if i < 0 {
				return errConfigNotFound
			}
			c.Configs = slices.Delete(c.Configs, i, i+1)
		}
		return nil
	}, func() {})
}

// batchDeleteDomainConfig removes every config of the named functions from
// each of the named domains, in one transaction.
func (s *Service) batchDeleteDomainConfig(ctx context.Context, r *openapi.Request) (any, error) {
	names, err := batchNames(r.Get("DomainNames"))
	if err != nil {
		return nil, err
	}
	var fns []string
	for _, f := range strings.Split(r.Get("FunctionNames"), ",") {
		f = strings.TrimSpace(f)
		if _, ok := functions[f]; !ok {
			return nil, errFunctionNotSupported.WithMessage("FunctionName %s is not supported.", printable(f))
		}
		fns = append(fns, f)
	}
	return nil, s.changeConfigs(ctx, r, names, func(c *store.DomainConfigs) error {
		c.Configs = removeFunctions(c.Configs, fns)
		return nil
	}, func() {})
}
