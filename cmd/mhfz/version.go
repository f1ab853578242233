package main

import (
	"context"
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is the build's version, stamped by `make build` and the Dockerfile
// (-ldflags "-X main.version=…"): the one package-level variable, since -X can set nothing
// else. A plain `go build` leaves it empty, and the module's version stands in.
var version string

// runVersion prints what a bug report needs: the version, the commit it was built from (and
// whether the tree had changes), and the Go version and platform.
func runVersion(ctx context.Context, args []string, env runEnv) error {
	fs := newFlagSet("version", "version", env.stdout)
	if err := fs.parse(args); err != nil {
		return err
	}
	fmt.Fprint(env.stdout, buildDescription(version))
	return nil
}

// buildDescription describes the running binary; stamped is the -X version, if any.
func buildDescription(stamped string) string {
	v, commit, when, modified := stamped, "unknown", "", ""
	if info, ok := debug.ReadBuildInfo(); ok {
		if v == "" {
			v = info.Main.Version // "(devel)" outside a module version or a VCS checkout
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.time":
				when = " of " + s.Value
			case "vcs.modified":
				if s.Value == "true" {
					modified = ", with uncommitted changes"
				}
			}
		}
	}
	if v == "" {
		v = "unknown"
	}
	return fmt.Sprintf("mhfz %s\ncommit %s%s%s\n%s %s/%s\n", v, commit, when, modified,
		runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
