package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// table says how a listing answer prints for people: which field of the
// answer holds the rows, and which of their fields are the columns.
type table struct {
	rows    string
	columns []string
}

var (
	accountsTable  = table{"Accounts", []string{"AccountId", "Domains", "DomainQuota", "Created"}}
	domainsTable   = table{"Domains", []string{"DomainName", "AccountId", "Status", "Mode", "CertName", "Modified"}}
	certsTable     = table{"Certs", []string{"AccountId", "CertName", "CertId", "CommonName", "NotAfter", "Issuer", "CertType"}}
	freeCertsTable = table{"FreeCerts", []string{"DomainName", "AccountId", "Status", "NotAfter", "RenewAt", "Attempts", "Problem"}}
	edgesTable     = table{"Edges", []string{"EdgeId", "Applied", "Lag", "Domains", "Reported"}}
	auditTable     = table{"Events", []string{"Time", "AccountID", "PrincipalName", "SourceIP", "Action", "Code", "Count", "Resources"}}
)

// list prints a listing: the answer as it came with -o json, else a table,
// and the flag that shows the next page when there is one.
func (c *adminClient) list(cmd *cobra.Command, path string, t table) error {
	if c.output != "table" && c.output != "json" {
		return fmt.Errorf("--output must be table or json, not %q", c.output)
	}
	out, err := c.do(cmd, "GET", path, nil)
	if err != nil {
		return err
	}
	if c.output == "json" {
		_, err = cmd.OutOrStdout().Write(out)
		return err
	}
	var answer map[string]json.RawMessage
	if err := json.Unmarshal(out, &answer); err != nil {
		return fmt.Errorf("the operator API answered something other than JSON: %w", err)
	}
	var rows []map[string]any
	if err := json.Unmarshal(answer[t.rows], &rows); err != nil {
		return fmt.Errorf("the operator API's answer has no %s list: %w", t.rows, err)
	}
	w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, strings.ToUpper(strings.Join(t.columns, "\t")))
	for _, row := range rows {
		cells := make([]string, len(t.columns))
		for i, col := range t.columns {
			cells[i] = cell(row[col])
		}
		fmt.Fprintln(w, strings.Join(cells, "\t"))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	var next string
	if raw, ok := answer["Next"]; ok && json.Unmarshal(raw, &next) == nil && next != "" {
		fmt.Fprintf(cmd.ErrOrStderr(), "more: add --after %s\n", next)
	}
	return nil
}

// cell is one value as a table shows it: times to the second in UTC,
// lists joined, absent values as "-".
func cell(v any) string {
	switch v := v.(type) {
	case nil:
		return "-"
	case string:
		if v == "" {
			return "-"
		}
		if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
			if t.IsZero() {
				return "-"
			}
			return t.UTC().Format("2006-01-02 15:04:05")
		}
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case []any:
		parts := make([]string, len(v))
		for i, p := range v {
			parts[i] = cell(p)
		}
		return strings.Join(parts, ",")
	}
	return fmt.Sprint(v)
}

// pageFlags adds --limit and --after to a listing command.
func pageFlags(cmd *cobra.Command, q *pageQuery) {
	cmd.Flags().IntVar(&q.limit, "limit", 0, "at most this many records (default 100, at most 1000)")
	cmd.Flags().StringVar(&q.after, "after", "", "the page after this key, as the previous page printed")
}

type pageQuery struct {
	limit int
	after string
}

func (p pageQuery) into(q url.Values) {
	if p.limit > 0 {
		q.Set("Limit", strconv.Itoa(p.limit))
	}
	if p.after != "" {
		q.Set("After", p.after)
	}
}

func (c *adminClient) accountsCommand() *cobra.Command {
	var p pageQuery
	cmd := &cobra.Command{
		Use:   "accounts",
		Short: "List accounts with their domain counts and quotas",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{}
			p.into(q)
			return c.list(cmd, "/admin/v1/accounts?"+q.Encode(), accountsTable)
		},
	}
	pageFlags(cmd, &p)
	return cmd
}

func (c *adminClient) domainsCommand() *cobra.Command {
	return c.accountStatusList("domains", "List domains: owner, status, mode and bound certificate",
		"only domains in this status: online or offline", "/admin/v1/domains", domainsTable)
}

func (c *adminClient) freeCertsCommand() *cobra.Command {
	return c.accountStatusList("free", "List the free (ACME) certificates: issuance status, renewal, the last ACME problem",
		"only those in this status: checking, applying, success, failed, ...", "/admin/v1/free-certs", freeCertsTable)
}

// accountStatusList is a listing filtered by --account and --status.
func (c *adminClient) accountStatusList(use, short, statusHelp, path string, t table) *cobra.Command {
	var p pageQuery
	var account, status string
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{}
			p.into(q)
			for k, v := range map[string]string{"AccountId": account, "Status": status} {
				if v != "" {
					q.Set(k, v)
				}
			}
			return c.list(cmd, path+"?"+q.Encode(), t)
		},
	}
	cmd.Flags().StringVar(&account, "account", "", "only this AccountId's")
	cmd.Flags().StringVar(&status, "status", "", statusHelp)
	pageFlags(cmd, &p)
	return cmd
}

func (c *adminClient) certsCommand() *cobra.Command {
	var p pageQuery
	var account, expiring string
	cmd := &cobra.Command{
		Use:   "certs",
		Short: "List the certificates of the accounts' repositories (never a key)",
		Args:  noArgsButSubcommands,
		// As commandGroup's: suggestions for a misspelled "free".
		SuggestionsMinimumDistance: 2,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q := url.Values{}
			p.into(q)
			if account != "" {
				q.Set("AccountId", account)
			}
			if expiring != "" {
				d, err := parseDays(expiring)
				if err != nil {
					return fmt.Errorf("--expiring: %w", err)
				}
				q.Set("Expiring", d.String())
			}
			return c.list(cmd, "/admin/v1/certs?"+q.Encode(), certsTable)
		},
	}
	cmd.Flags().StringVar(&account, "account", "", "only this AccountId's certificates")
	cmd.Flags().StringVar(&expiring, "expiring", "", "only those expiring within this long: 30d, 72h")
	pageFlags(cmd, &p)
	// cdnd admin certs free: the free certificates' state, also before
	// one is issued, and the last ACME problem.
	cmd.AddCommand(c.freeCertsCommand())
	return cmd
}

// parseDays reads a duration that may be in days ("30d"), as operators
// count certificate lifetimes.
func parseDays(v string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(v, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 {
			return 0, fmt.Errorf("%q is not a number of days", v)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration such as 30d or 72h", v)
	}
	return d, nil
}
