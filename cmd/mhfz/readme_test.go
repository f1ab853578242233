package main

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The README's configuration table is the one place the flags are documented: it must list
// every flag of every command with its variable, and nothing that does not exist.
func TestReadmeDocumentsEveryFlag(t *testing.T) {
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		env      string
		commands []string
	}
	documented := map[string]row{}
	for _, m := range regexp.MustCompile("(?m)^\\| `--([a-z0-9-]+)` \\| `([A-Z0-9_]+)` \\| ([a-z, ]+) \\|").FindAllStringSubmatch(string(data), -1) {
		documented[m[1]+" "+m[2]] = row{m[2], strings.Split(m[3], ", ")}
	}
	if len(documented) == 0 {
		t.Fatal("the README has no configuration table")
	}
	seen := map[string]bool{}
	for _, c := range commands() {
		for flag, env := range helpOf(t, c.name) {
			r, ok := documented[flag+" "+env]
			if !ok || !slices.Contains(r.commands, c.name) {
				t.Errorf("mhfz %s --%s [%s] is not in the README's configuration table for %s", c.name, flag, env, c.name)
			}
			seen[flag+" "+env+" "+c.name] = true
		}
	}
	for key, r := range documented {
		for _, c := range r.commands {
			if !seen[key+" "+c] {
				t.Errorf("the README documents --%s for %s, which has no such flag", key, c)
			}
		}
	}
}
