package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
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
		key := m[1] + " " + m[2] // one row per help text: a flag may have several (health's --database-url)
		documented[key] = row{m[2], append(documented[key].commands, strings.Split(m[3], ", ")...)}
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

// userPages returns the text of the user's pages, the README and every page of docs/, by path:
// the tests that check their commands read them all, wherever a command moved to.
func userPages(t *testing.T) map[string]string {
	t.Helper()
	docs, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	pages := map[string]string{}
	for _, path := range append([]string{"../../README.md"}, docs...) {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		pages[filepath.ToSlash(path[len("../../"):])] = string(data)
	}
	if len(pages) < 5 {
		t.Fatalf("found %d user pages (README.md and docs/*.md); the docs are missing", len(pages))
	}
	return pages
}

// TestDocLinks: every relative link of the README and docs/ reaches a file of the tree, and a
// link to a section of a page reaches one of its headings (as GitHub names their anchors).
func TestDocLinks(t *testing.T) {
	pages := userPages(t)
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	for path, text := range pages {
		for _, m := range link.FindAllStringSubmatch(withoutCode(text), -1) {
			target, anchor, _ := strings.Cut(m[1], "#")
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file := path
			if target != "" {
				file = filepath.ToSlash(filepath.Clean(filepath.Join(filepath.Dir(path), target)))
				if _, err := os.Stat("../../" + file); err != nil {
					t.Errorf("%s links to %s, which is not in the tree", path, m[1])
					continue
				}
			}
			if anchor == "" {
				continue
			}
			page, ok := pages[file]
			if !ok {
				t.Errorf("%s links to a section of %s, which is not a user's page", path, file)
			} else if !slices.Contains(anchors(page), anchor) {
				t.Errorf("%s links to %s: %s has no such heading", path, m[1], file)
			}
		}
	}
}

// withoutCode returns a page without its ``` code blocks.
func withoutCode(page string) string {
	var out strings.Builder
	inBlock := false
	for _, line := range strings.Split(page, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inBlock = !inBlock
		} else if !inBlock {
			out.WriteString(line + "\n")
		}
	}
	return out.String()
}

// anchors returns the anchors of a page's headings, as GitHub makes them: lower case, spaces to
// hyphens, punctuation left out.
func anchors(page string) []string {
	var out []string
	for _, line := range strings.Split(withoutCode(page), "\n") {
		heading := strings.TrimLeft(line, "#")
		if heading == line || !strings.HasPrefix(heading, " ") {
			continue
		}
		var a strings.Builder
		for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
			switch {
			case r == ' ':
				a.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				a.WriteRune(r)
			}
		}
		out = append(out, a.String())
	}
	return out
}

const (
	configStart = "<!-- configuration table: generated from the flags by cmd/mhfz TestReadmeConfigurationTable; MHFZ_UPDATE_DOCS=1 rewrites it -->\n"
	configEnd   = "<!-- end of the configuration table -->"
)

// TestReadmeConfigurationTable: the README's configuration table is generated from the
// commands' --help (flag, variable, commands, default, what it sets); MHFZ_UPDATE_DOCS=1
// writes it again.
func TestReadmeConfigurationTable(t *testing.T) {
	const path = "../../README.md"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	start, end := strings.Index(readme, configStart), strings.Index(readme, configEnd)
	if start < 0 || end < start {
		t.Fatalf("the README has no configuration table between %q and %q", configStart, configEnd)
	}
	want := configurationTable(t)
	if got := readme[start+len(configStart) : end]; got != want {
		if os.Getenv("MHFZ_UPDATE_DOCS") == "1" {
			readme = readme[:start+len(configStart)] + want + readme[end:]
			if err := os.WriteFile(path, []byte(readme), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		t.Errorf("the README's configuration table is not the one of the flags: run MHFZ_UPDATE_DOCS=1 go test -run TestReadmeConfigurationTable ./cmd/mhfz\ngot:\n%s\nwant:\n%s", got, want)
	}
}

// configurationTable is the README's table of every flag: one row per flag, variable, help and
// default, with the commands that have it so.
func configurationTable(t *testing.T) string {
	t.Helper()
	type row struct{ flag, env, usage, def, commands string }
	var rows []*row
	index := map[row]*row{}
	entry := regexp.MustCompile(`(?m)^  --([a-z0-9-]+) \[([A-Z0-9_]+)\]\n {8}(.*?)(?: \(default (.*)\))?$`)
	for _, c := range commands() {
		var out bytes.Buffer
		_ = run(context.Background(), []string{c.name, "--help"}, &out, &out)
		for _, m := range entry.FindAllStringSubmatch(out.String(), -1) {
			key := row{flag: m[1], env: m[2], usage: m[3], def: m[4]}
			if r, ok := index[key]; ok {
				r.commands += ", " + c.name
				continue
			}
			r := key
			r.commands = c.name
			index[key] = &r
			rows = append(rows, &r)
		}
	}
	var b strings.Builder
	b.WriteString("| flag | environment variable | commands | default | what it sets |\n| --- | --- | --- | --- | --- |\n")
	cell := strings.NewReplacer("|", `\|`).Replace
	for _, r := range rows {
		def := ""
		if r.def != "" {
			def = "`" + cell(r.def) + "`"
		}
		fmt.Fprintf(&b, "| `--%s` | `%s` | %s | %s | %s |\n", r.flag, r.env, r.commands, def, cell(r.usage))
	}
	return b.String()
}
