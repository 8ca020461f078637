package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cdnd/cdnd/internal/server"
	"github.com/spf13/cobra"
)

// adminClient calls the operator API of a running cdnd.
type adminClient struct {
	addr, token, dataDir, output string
}

func (c *adminClient) flags(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	f.StringVar(&c.addr, "admin-addr", defaultAdminAddr, "operator API address of the running cdnd")
	f.StringVar(&c.token, "token", "", "operator token (default $CDND_ADMIN_TOKEN, else DATA_DIR/admin.token)")
	f.StringVar(&c.dataDir, "data-dir", defaultDataDir, "data directory of the running cdnd, to find a generated token")
	f.StringVarP(&c.output, "output", "o", "table", "table (for people) or json (for scripts) where a command lists records")
}

// bearer finds the operator token and says where it came from, so that a
// refusal can say which source to fix.
func (c *adminClient) bearer() (token, source string, err error) {
	if c.token != "" {
		return c.token, "--token", nil
	}
	if t := os.Getenv("CDND_ADMIN_TOKEN"); t != "" {
		return t, "$CDND_ADMIN_TOKEN", nil
	}
	path := server.AdminTokenPath(c.dataDir)
	b, err := os.ReadFile(path)
	if err != nil {
		return "", "", fmt.Errorf("no operator token: tried --token (not given), $CDND_ADMIN_TOKEN (not set) and %s (%v); pass --token, set CDND_ADMIN_TOKEN, or point --data-dir at the server's data directory", path, err)
	}
	return strings.TrimSpace(string(b)), path, nil
}

// do sends body as JSON and returns the JSON answer.
func (c *adminClient) do(cmd *cobra.Command, method, path string, body any) ([]byte, error) {
	token, source, err := c.bearer()
	if err != nil {
		return nil, err
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(cmd.Context(), method, "http://"+c.addr+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return nil, fmt.Errorf("%s %s: the operator API at %s refused the token from %s", method, path, c.addr, source)
	}
	if resp.StatusCode >= 300 {
		return nil, fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(out))
	}
	return out, nil
}

// call sends body as JSON and prints the JSON answer.
func (c *adminClient) call(cmd *cobra.Command, method, path string, body any) error {
	out, err := c.do(cmd, method, path, body)
	if err != nil {
		return err
	}
	_, err = cmd.OutOrStdout().Write(out)
	return err
}

func adminCommand() *cobra.Command {
	c := &adminClient{}
	cmd := commandGroup("admin", "Operator tasks against a running cdnd")
	c.flags(cmd)

	account := commandGroup("account", "Manage accounts", &cobra.Command{
		Use:   "create",
		Short: "Create an account; prints its AccountId and its AccessKey pair (the secret only this once)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.call(cmd, http.MethodPost, "/admin/v1/accounts", nil)
		},
	}, &cobra.Command{
		Use:   "set-quota ACCOUNT_ID DOMAINS",
		Short: "Set how many domains an account may add (default 50)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := strconv.Atoi(args[1])
			if err != nil {
				return fmt.Errorf("DOMAINS must be a number: %w", err)
			}
			return c.call(cmd, http.MethodPut, "/admin/v1/accounts/"+url.PathEscape(args[0])+"/quota", map[string]int{"DomainQuota": n})
		},
	})

	domain := commandGroup("domain", "Manage domains", &cobra.Command{
		Use:   "set-mode DOMAIN normal|safe|protected",
		Short: "Put a domain in a mode; safe and protected refuse certificate changes through the API",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return c.call(cmd, http.MethodPut, "/admin/v1/domains/"+url.PathEscape(args[0])+"/mode", map[string]string{"Mode": args[1]})
		},
	})
	var f struct{ account, domain, action, since, until string }
	var limit int
	auditCmd := &cobra.Command{
		Use:   "audit",
		Short: "Show the audit trail: every write and every refused call, oldest first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{}
			for k, v := range map[string]string{"AccountId": f.account, "DomainName": f.domain, "Action": f.action} {
				if v != "" {
					q.Set(k, v)
				}
			}
			for k, v := range map[string]string{"StartTime": f.since, "EndTime": f.until} {
				if v == "" {
					continue
				}
				t, err := parseWhen(v)
				if err != nil {
					return fmt.Errorf("--%s: %w", map[string]string{"StartTime": "since", "EndTime": "until"}[k], err)
				}
				q.Set(k, t.Format(time.RFC3339))
			}
			if limit > 0 {
				q.Set("Limit", strconv.Itoa(limit))
			}
			return c.list(cmd, "/admin/v1/audit?"+q.Encode(), auditTable)
		},
	}
	af := auditCmd.Flags()
	af.StringVar(&f.account, "account", "", "only this AccountId")
	af.StringVar(&f.domain, "domain", "", "only calls on this domain")
	af.StringVar(&f.action, "action", "", "only this action, e.g. SetDomainServerCertificate")
	af.StringVar(&f.since, "since", "", "from this time: RFC 3339, or a duration ago such as 1h")
	af.StringVar(&f.until, "until", "", "up to this time: RFC 3339, or a duration ago")
	af.IntVar(&limit, "limit", 0, "at most this many records (default 1000)")
	cmd.AddCommand(account, domain, auditCmd, c.accountsCommand(), c.domainsCommand(), c.certsCommand(), &cobra.Command{
		Use:   "edges",
		Short: "List the live edges, the store revision each has applied and its lag",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return c.list(cmd, "/admin/v1/edges", edgesTable)
		},
	})
	return cmd
}

// parseWhen reads a time as RFC 3339 or as a duration before now ("90m").
func parseWhen(v string) (time.Time, error) {
	if d, err := time.ParseDuration(v); err == nil {
		return time.Now().Add(-d), nil
	}
	return time.Parse(time.RFC3339, v)
}
