package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// makeTargets returns the targets the Makefile defines and those it declares .PHONY.
func makeTargets(t *testing.T) (defined, phony []string) {
	t.Helper()
	data, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`(?m)^([a-z][a-z0-9_-]*):`).FindAllStringSubmatch(string(data), -1) {
		defined = append(defined, m[1])
	}
	if m := regexp.MustCompile(`(?m)^\.PHONY:(.*)$`).FindStringSubmatch(string(data)); m != nil {
		phony = strings.Fields(m[1])
	}
	return defined, phony
}

// TestMakefileTargets: what .PHONY, the README and docs/ name exists, and every target is .PHONY.
func TestMakefileTargets(t *testing.T) {
	defined, phony := makeTargets(t)
	for _, p := range phony {
		if !slices.Contains(defined, p) {
			t.Errorf(".PHONY lists %q, which the Makefile does not define", p)
		}
	}
	for _, d := range defined {
		if !slices.Contains(phony, d) {
			t.Errorf("target %q is not .PHONY", d)
		}
	}
	pages := userPages(t)
	if used := makeTarget.FindAllStringSubmatch(pages["README.md"], -1); len(used) < 2 {
		t.Fatalf("the README names %d make targets; it should say how to build and test", len(used))
	}
	for path, text := range pages {
		for _, m := range makeTarget.FindAllStringSubmatch(text, -1) {
			if !slices.Contains(defined, m[1]) {
				t.Errorf("%s runs `make %s`, which the Makefile does not define", path, m[1])
			}
		}
	}
}

// makeTarget matches `make TARGET` in a user's page.
var makeTarget = regexp.MustCompile("(?m)(?:^|`)make ([a-z][a-z0-9_-]*)")

// TestMakeBuild runs the README's `make build` (into a temporary folder) and the binary's
// version command: it names the commit the tree is at.
func TestMakeBuild(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary: not in -short")
	}
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Fatalf("git rev-parse HEAD: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "mhfz")
	cmd := exec.Command("make", "-C", "../..", "build", "BIN="+bin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatalf("mhfz version: %v", err)
	}
	want := "commit " + strings.TrimSpace(string(head)) + "\n"
	if !strings.Contains(string(out), want) || !strings.Contains(string(out), "\ngo1.") {
		t.Errorf("mhfz version:\n%s\nwant %q and the Go version", out, want)
	}
}

// TestReadmeCommands: every `mhfz COMMAND` and `docker compose run --rm SERVICE COMMAND` of the
// README and of docs/ names a real command (the image's entry point is mhfz), and no command
// shows the example password of .env.example, which the README asks to change.
func TestReadmeCommands(t *testing.T) {
	known := map[string]bool{"help": true, "--help": true, "COMMAND": true}
	for _, c := range commands() {
		known[c.name] = true
	}
	example, err := os.ReadFile("../../.env.example")
	if err != nil {
		t.Fatal(err)
	}
	// The passwords of .env.example are empty (TestComposeVariablesHaveDefaultsOrExamples); one
	// given there would be one to change, never to show.
	m := regexp.MustCompile(`(?m)^POSTGRES_PASSWORD=(.*)$`).FindSubmatch(example)
	if m == nil {
		t.Fatal(".env.example sets no POSTGRES_PASSWORD")
	}
	n := 0
	for path, text := range userPages(t) {
		for _, re := range []string{`(?m)^(?:bin/)?mhfz ([a-zA-Z-]+)`, `docker compose run --rm [a-z]+ ([a-zA-Z-]+)`} {
			for _, c := range regexp.MustCompile(re).FindAllStringSubmatch(codeBlocks(text), -1) {
				n++
				if !known[c[1]] {
					t.Errorf("%s runs %q: mhfz has no command %q", path, c[0], c[1])
				}
			}
		}
		if len(m[1]) > 0 && strings.Contains(text, ":"+string(m[1])+"@") {
			t.Errorf("%s connects with the example password %q, which the README asks to change", path, m[1])
		}
	}
	if n < 8 {
		t.Errorf("found %d mhfz commands in the code blocks of the README and docs/", n)
	}
}

// codeBlocks returns the lines of a page's ``` code blocks.
func codeBlocks(page string) string {
	var blocks strings.Builder
	inBlock := false
	for _, line := range strings.Split(page, "\n") {
		switch {
		case strings.HasPrefix(strings.TrimSpace(line), "```"):
			inBlock = !inBlock
		case inBlock:
			blocks.WriteString(strings.TrimSpace(line) + "\n")
		}
	}
	return blocks.String()
}
