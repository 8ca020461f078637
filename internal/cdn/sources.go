package cdn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/cdnd/cdnd/internal/originpolicy"
	"github.com/cdnd/cdnd/internal/store"
)

// maxSources bounds an origin list; Alibaba allows 20.
const maxSources = 20

var sourceTypes = map[string]bool{"ipaddr": true, "domain": true, "oss": true, "fc_domain": true, "common": true}

// errSourceType tells a well-formed list with an unknown type apart from a
// malformed one: Alibaba answers them with different codes.
type errSourceType struct{ typ string }

func (e errSourceType) Error() string { return "unknown source type " + e.typ }

// originCheckTimeout bounds the resolution of one call's origin names: the
// names are the tenant's, and so is the DNS server that answers for them.
const originCheckTimeout = 3 * time.Second

// readSources reads a Sources parameter and checks every origin against the
// node's origin address policy: an origin that is, or resolves to, an
// address of the node or its network is refused, naming that address and
// nothing more of the request.
func (s *Service) readSources(ctx context.Context, text string) ([]store.Source, error) {
	sources, err := parseSources(text)
	if errors.As(err, new(errSourceType)) {
		return nil, errSourceTypeMalformed
	}
	if err != nil {
		return nil, errSourcesMalformed
	}
	ctx, cancel := context.WithTimeout(ctx, originCheckTimeout)
	defer cancel()
	for _, src := range sources {
		if err := s.origins.CheckOrigin(ctx, s.resolver, src.Content, src.Port); err != nil {
			var refused *originpolicy.RefusedError
			errors.As(err, &refused)
			return nil, errSourcesMalformed.WithMessage("Specified Sources is malformed: the origin %s is not allowed (%v).", refused.Origin, refused.Reason)
		}
	}
	return sources, nil
}

// parseSources reads the Sources JSON leniently, as real clients send it:
// keys in any case ("content", "Content"), numbers or strings for port,
// priority and weight. Defaults: port 80, priority "20", weight "10".
func parseSources(text string) ([]store.Source, error) {
	var raw []map[string]any
	if err := json.Unmarshal([]byte(text), &raw); err != nil {
		return nil, fmt.Errorf("sources: %w", err)
	}
	if len(raw) == 0 || len(raw) > maxSources {
		return nil, fmt.Errorf("sources: %d entries", len(raw))
	}
	out := make([]store.Source, 0, len(raw))
	for _, entry := range raw {
		fields := map[string]any{}
		for k, v := range entry {
			fields[strings.ToLower(k)] = v
		}
		var src store.Source
		var err error
		if src.Type, err = stringField(fields, "type", ""); err != nil {
			return nil, err
		}
		if src.Content, err = stringField(fields, "content", ""); err != nil {
			return nil, err
		}
		port, err := stringField(fields, "port", "80")
		if err != nil {
			return nil, err
		}
		if src.Priority, err = stringField(fields, "priority", "20"); err != nil {
			return nil, err
		}
		if src.Weight, err = stringField(fields, "weight", "10"); err != nil {
			return nil, err
		}
		if src.Type == "" {
			src.Type = guessSourceType(src.Content)
		}
		if !sourceTypes[src.Type] {
			return nil, errSourceType{src.Type}
		}
		if src.Port, err = strconv.Atoi(port); err != nil || src.Port < 1 || src.Port > 65535 {
			return nil, fmt.Errorf("sources: port %q", port)
		}
		if src.Priority != "20" && src.Priority != "30" {
			return nil, fmt.Errorf("sources: priority %q", src.Priority)
		}
		if w, err := strconv.Atoi(src.Weight); err != nil || w < 0 || w >= 100 {
			return nil, fmt.Errorf("sources: weight %q", src.Weight)
		}
		if !validOrigin(src) {
			return nil, fmt.Errorf("sources: content %q", src.Content)
		}
		out = append(out, src)
	}
	return out, nil
}

// stringField reads a scalar as a string: "80", 80 and 80.0 are all "80".
func stringField(fields map[string]any, key, def string) (string, error) {
	v, ok := fields[key]
	if !ok || v == nil {
		return def, nil
	}
	switch t := v.(type) {
	case string:
		if t == "" {
			return def, nil
		}
		return t, nil
	case float64:
		if t != float64(int64(t)) {
			return "", fmt.Errorf("sources: %s %v is not an integer", key, t)
		}
		return strconv.FormatInt(int64(t), 10), nil
	}
	return "", fmt.Errorf("sources: %s has type %T", key, v)
}

func guessSourceType(content string) string {
	if net.ParseIP(content) != nil {
		return "ipaddr"
	}
	return "domain"
}

// validOrigin: an ipaddr source must be an IP, the others a host name.
func validOrigin(s store.Source) bool {
	if s.Type == "ipaddr" {
		return net.ParseIP(s.Content) != nil
	}
	_, ok := normalizeDomain(s.Content)
	return ok || (s.Content == "localhost")
}
