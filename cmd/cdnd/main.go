// Command cdnd is a self-hostable CDN whose control plane speaks Alibaba
// Cloud CDN's OpenAPI.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	root := &cobra.Command{
		Use:           "cdnd",
		Short:         "A self-hostable CDN with an Alibaba Cloud CDN compatible API",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serveCommand(), apiCommand(), edgeCommand(), etcdCommand(), adminCommand(), &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Run:   func(cmd *cobra.Command, _ []string) { fmt.Fprintln(cmd.OutOrStdout(), "cdnd", version) },
	})
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "cdnd:", err)
		os.Exit(1)
	}
}
