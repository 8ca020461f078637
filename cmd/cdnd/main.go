// Command cdnd is a self-hostable CDN whose control plane speaks Alibaba
// Cloud CDN's OpenAPI.
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

func main() {
	if err := rootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "cdnd:", err)
		os.Exit(1)
	}
}

// rootCommand is the whole command tree.
func rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "cdnd",
		Short:         "A self-hostable CDN with an Alibaba Cloud CDN compatible API",
		Version:       buildVersion(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("cdnd {{.Version}}\n")
	root.AddCommand(serveCommand(), apiCommand(), edgeCommand(), etcdCommand(), adminCommand(), &cobra.Command{
		Use:   "version",
		Short: "Print the version: module version, VCS revision and commit time of this build",
		Args:  cobra.NoArgs,
		Run:   func(cmd *cobra.Command, _ []string) { fmt.Fprintln(cmd.OutOrStdout(), "cdnd", buildVersion()) },
	})
	return root
}

// commandGroup is a command that only holds subcommands. Cobra answers an
// unknown word after such a command with its help and exit status 0, so a
// script that misspelled a subcommand would go on as if it had run; here
// it is an error, with cobra's suggestions, as at the top level.
func commandGroup(use, short string, subs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ArbitraryArgs,
		// What cobra's own top-level suggestions use; SuggestionsFor
		// alone leaves it at 0 (prefix matches only).
		SuggestionsMinimumDistance: 2,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			return unknownCommand(cmd, args[0])
		},
	}
	cmd.AddCommand(subs...)
	return cmd
}

// unknownCommand is the error for a word that names none of cmd's
// subcommands, with cobra's suggestions.
func unknownCommand(cmd *cobra.Command, word string) error {
	msg := fmt.Sprintf("unknown command %q for %q", word, cmd.CommandPath())
	if s := cmd.SuggestionsFor(word); len(s) > 0 {
		msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
	}
	return errors.New(msg)
}

// noArgsButSubcommands is cobra.NoArgs for a command that runs by itself
// and has subcommands too: a misspelled subcommand gets the suggestions.
func noArgsButSubcommands(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return unknownCommand(cmd, args[0])
	}
	return nil
}
