package main

import (
	"runtime/debug"
	"strings"
)

// buildVersion describes this binary from what the Go toolchain recorded in
// it (runtime/debug.ReadBuildInfo): the module version ("(devel)" for a
// build from a checkout), and the VCS revision and commit time when it was
// built from a repository, "+dirty" when that had uncommitted changes.
func buildVersion() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown (no build information)"
	}
	parts := []string{info.Main.Version}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		if settings["vcs.modified"] == "true" {
			rev += "+dirty"
		}
		parts = append(parts, "revision "+rev)
	}
	if t := settings["vcs.time"]; t != "" {
		parts = append(parts, "committed "+t)
	}
	parts = append(parts, info.GoVersion)
	return strings.Join(parts, ", ")
}
