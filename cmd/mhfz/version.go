package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// version and commit are stamped by `make build` (-ldflags "-X main.version=… -X
// main.commit=…"): package-level variables, since -X can set nothing else. A plain `go build`
// leaves them empty, and the build's own stamps stand in (the module's version; the VCS
// revision, which Go records only in a plain clone and with -buildvcs on).
var version, commit string

// runVersion prints what a bug report needs: the version, the commit it was built from (and
// whether the tree had changes), and the Go version and platform.
func runVersion(ctx context.Context, args []string, env runEnv) error {
	fs := newFlagSet("version", "version", env.stdout)
	if err := fs.parse(args); err != nil {
		return err
	}
	fmt.Fprint(env.stdout, buildDescription(version, commit))
	return nil
}

// buildDescription describes the running binary, given the stamped version and commit.
func buildDescription(stampedVersion, stampedCommit string) string {
	v, rev, when, modified := stampedVersion, stampedCommit, "", ""
	if info, ok := debug.ReadBuildInfo(); ok && rev == "" {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				when = " of " + s.Value
			case "vcs.modified":
				if s.Value == "true" {
					modified = ", with uncommitted changes"
				}
			}
		}
	}
	if info, ok := debug.ReadBuildInfo(); ok && v == "" {
		v = info.Main.Version // "(devel)" when built from a checkout
	}
	if v == "" {
		v = "unknown"
	}
	if rev == "" {
		rev = "unknown (build with make build)"
	}
	return fmt.Sprintf("mhfz %s\ncommit %s%s%s\n%s %s/%s\n", v, rev, when, modified,
		runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
