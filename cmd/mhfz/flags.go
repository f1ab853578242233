package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// flagSet is a flag.FlagSet whose every flag also reads an environment variable: the flag wins
// over the variable, the variable over the default.
type flagSet struct {
	*flag.FlagSet
	env       map[string]string // flag name -> environment variable
	takesArgs bool              // positional arguments are the command's to check (migrate's action)
	usage     string            // the command line, for the help
	help      io.Writer         // where --help goes (standard output)
}

func newFlagSet(name, usage string, help io.Writer) *flagSet {
	fs := &flagSet{FlagSet: flag.NewFlagSet(name, flag.ContinueOnError), env: map[string]string{}, usage: usage, help: help}
	// The flag package prints every parse error followed by the whole help: parseArgs returns
	// the error alone instead (main prints it once, on standard error), and only --help prints
	// the help, on standard output.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return fs
}

func (fs *flagSet) printHelp() {
	w := fs.help
	fmt.Fprintf(w, "usage: mhfz %s\n", fs.usage)
	if !hasFlags(fs.FlagSet) {
		return
	}
	fmt.Fprintf(w, "\nflags (environment variable in brackets):\n")
	fs.VisitAll(func(f *flag.Flag) {
		def := ""
		if f.DefValue != "" {
			def = fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "  --%s [%s]\n        %s%s\n", f.Name, fs.env[f.Name], f.Usage, def)
	})
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
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
	*p = def
	fs.Var((*durationValue)(p), name, usage)
	fs.bind(name, env)
}

// durationValue is a time.Duration flag whose error says what a duration looks like: a bare
// number ("--every 5") is the usual mistake, and the flag package says only "parse error".
type durationValue time.Duration

func (d *durationValue) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil {
		if _, numErr := strconv.ParseFloat(s, 64); numErr == nil {
			return errors.New("a duration needs a unit: 5m, 6h, 30s, 500ms (units: ms, s, m, h)")
		}
		return errors.New("not a duration: write it like 5m, 6h, 1h30m, 30s or 500ms")
	}
	*d = durationValue(v)
	return nil
}

func (d *durationValue) String() string { return time.Duration(*d).String() }

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
				return usageError{fmt.Sprintf("%s: environment variable %s=%q (--%s): %v", fs.Name(), env, v, name, err)}
			}
		}
	}
	if err := fs.parseArgs(args); err != nil {
		return err
	}
	if fs.NArg() > 0 && !fs.takesArgs {
		return usageError{fmt.Sprintf("%s: unexpected arguments %q (mhfz %s --help lists the flags)", fs.Name(), fs.Args(), fs.Name())}
	}
	return nil
}

// parseArgs parses the command line: --help prints the help (flag.ErrHelp), a mistake is a
// usage error naming the command and where its flags are listed.
func (fs *flagSet) parseArgs(args []string) error {
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.printHelp()
		return err
	case err != nil:
		return usageError{fmt.Sprintf("%s: %v (mhfz %s --help lists the flags)", fs.Name(), err, fs.Name())}
	}
	return nil
}
