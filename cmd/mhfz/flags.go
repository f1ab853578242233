package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

// flagSet is a flag.FlagSet whose every flag also reads an environment variable: the flag wins
// over the variable, the variable over the default.
type flagSet struct {
	*flag.FlagSet
	env       map[string]string // flag name -> environment variable
	takesArgs bool              // positional arguments are the command's to check (migrate's action)
}

func newFlagSet(name, usage string, output io.Writer) *flagSet {
	fs := &flagSet{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError), env: map[string]string{}}
	fs.SetOutput(output)
	fs.Usage = func() {
		fmt.Fprintf(output, "usage: mhfz %s\n\nflags (environment variable in brackets):\n", usage)
		fs.VisitAll(func(f *flag.Flag) {
			def := ""
			if f.DefValue != "" {
				def = fmt.Sprintf(" (default %s)", f.DefValue)
			}
			fmt.Fprintf(output, "  --%s [%s]\n        %s%s\n", f.Name, fs.env[f.Name], f.Usage, def)
		})
	}
	return fs
}

func (fs *flagSet) bind(name, env string) { fs.env[name] = env }

func (fs *flagSet) stringVar(p *string, name, env, def, usage string) {
	fs.StringVar(p, name, def, usage)
	fs.bind(name, env)
}

func (fs *flagSet) intVar(p *int, name, env string, def int, usage string) {
	fs.IntVar(p, name, def, usage)
	fs.bind(name, env)
}

func (fs *flagSet) boolVar(p *bool, name, env string, def bool, usage string) {
	fs.BoolVar(p, name, def, usage)
	fs.bind(name, env)
}

func (fs *flagSet) durationVar(p *time.Duration, name, env string, def time.Duration, usage string) {
	fs.DurationVar(p, name, def, usage)
	fs.bind(name, env)
}

func (fs *flagSet) floatVar(p *float64, name, env string, def float64, usage string) {
	fs.Float64Var(p, name, def, usage)
	fs.bind(name, env)
}

// listVar is a comma-separated list flag ("host1:9092,host2:9092").
func (fs *flagSet) listVar(p *[]string, name, env, def, usage string) {
	*p = splitList(def)
	fs.Func(name, usage, func(v string) error { *p = splitList(v); return nil })
	fs.Lookup(name).DefValue = def
	fs.bind(name, env)
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// parse applies the environment variables, then the command line. A variable that does not
// parse is an error naming it.
func (fs *flagSet) parse(args []string) error {
	names := make([]string, 0, len(fs.env))
	for name := range fs.env {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		env := fs.env[name]
		if v, ok := os.LookupEnv(env); ok {
			if err := fs.Set(name, v); err != nil {
				return usageError{fmt.Sprintf("environment variable %s=%q: %v", env, v, err)}
			}
		}
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return err
		}
		return usageError{err.Error()}
	}
	if fs.NArg() > 0 && !fs.takesArgs {
		return usageError{fmt.Sprintf("%s: unexpected arguments %q", fs.Name(), fs.Args())}
	}
	return nil
}
