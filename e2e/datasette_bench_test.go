package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mhfz/mhfz-pipeline/browse"
	"github.com/mhfz/mhfz-pipeline/internal/testenv"
)

// BenchmarkVsDatasette sends the same three requests to Datasette, serving a SQLite file of the
// weapons, and to mhfz serve, serving PostgreSQL, with 1, 4 and 8 clients, the two servers in
// turn: a weapon by its key, a search of names, a page of 1,000 weapons of one type. It is not
// part of make test: it needs MHFZ_BENCH_DATASETTE_SQLITE, the SQLite file, and installs
// Datasette from PyPI into a virtualenv kept in ~/.cache/mhfz/datasette (once).
// MHFZ_BENCH_SERVE_DATABASE_URL is the database of mhfz serve (as mhfz_reader; both snapshots
// loaded through the pipeline when unset). The file's table of the weapons (one row per key, the
// key its primary key, an FTS5 index of its name) is MHFZ_BENCH_DATASETTE_TABLE, "weapons" by
// default; a Datasette path may be replaced whole with MHFZ_BENCH_DATASETTE_WEAPON,
// _SEARCH and _PAGE. MHFZ_BENCH_ANSWER_CACHE_SIZE sets mhfz serve's answer cache, in bytes (0:
// off; unset: the default), in this benchmark and in BenchmarkServeEveryWeapon.
func BenchmarkVsDatasette(b *testing.B) {
	sqlite := os.Getenv("MHFZ_BENCH_DATASETTE_SQLITE")
	if sqlite == "" {
		b.Skip("MHFZ_BENCH_DATASETTE_SQLITE: the SQLite file Datasette serves")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Minute)
	defer cancel()
	dbURL := os.Getenv("MHFZ_BENCH_SERVE_DATABASE_URL")
	if dbURL == "" {
		dbURL = loadSnapshots(b, ctx, "bench-datasette", testenv.Older, testenv.Newest)
	}
	// The 1,000-row page is an export, of which serve streams 3 at once by default: a 4th client
	// would get 429.
	mhfz := startServe(b, ctx, dbURL, benchAnswerCache(b), func(c *browse.Config) { c.MaxExports = 8 })
	datasette := startDatasette(b, ctx, sqlite)
	db := strings.TrimSuffix(filepath.Base(sqlite), filepath.Ext(sqlite))
	table := envOr("MHFZ_BENCH_DATASETTE_TABLE", "weapons")
	const key, name, weaponType = "great_sword/base/l0001", "katana", "great_sword"
	// Requests per run: fewer of the costly ones, so that a run takes minutes.
	requests := []struct {
		name, mhfz, datasette string
		n                     int
	}{
		{"weapon", mhfz + "/api/weapons/" + key,
			datasette + envOr("MHFZ_BENCH_DATASETTE_WEAPON", "/"+db+"/"+table+"/"+tildeEncode(key)+".json"), 1000},
		{"search", mhfz + "/api/weapons?q=" + name,
			datasette + envOr("MHFZ_BENCH_DATASETTE_SEARCH", "/"+db+"/"+table+".json?_search="+name), 300},
		{"page1000", mhfz + "/api/export.jsonl?limit=1000&type=" + weaponType,
			datasette + envOr("MHFZ_BENCH_DATASETTE_PAGE", "/"+db+"/"+table+".json?_size=1000&weapon_type="+weaponType), 100},
	}
	for _, r := range requests {
		for _, clients := range []int{1, 4, 8} {
			for _, server := range []struct{ name, url string }{{"datasette", r.datasette}, {"mhfz", r.mhfz}} {
				b.Run(fmt.Sprintf("%s/clients=%d/%s", r.name, clients, server.name), func(b *testing.B) {
					for range b.N {
						latencies(b, clients, r.n, func(int) string { return server.url })
					}
				})
			}
		}
	}
}

// benchAnswerCache sets the answer cache's size from MHFZ_BENCH_ANSWER_CACHE_SIZE, if set.
func benchAnswerCache(b *testing.B) func(*browse.Config) {
	size, set := os.LookupEnv("MHFZ_BENCH_ANSWER_CACHE_SIZE")
	n, err := strconv.Atoi(size)
	if set && err != nil {
		b.Fatalf("MHFZ_BENCH_ANSWER_CACHE_SIZE %q: want a number of bytes (0: off)", size)
	}
	return func(cfg *browse.Config) {
		if set {
			cfg.AnswerCacheSize = n
		}
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// tildeEncode is Datasette's encoding of a primary key in a path: every character but
// letters, digits and _ - as ~XX.
func tildeEncode(s string) string {
	var out strings.Builder
	for _, c := range []byte(s) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '-':
			out.WriteByte(c)
		default:
			fmt.Fprintf(&out, "~%02X", c)
		}
	}
	return out.String()
}

// startDatasette serves sqlite, read-only, with Datasette (installed into a cached virtualenv
// the first time) on a free port until the benchmark ends, and returns its base URL.
func startDatasette(b *testing.B, ctx context.Context, sqlite string) string {
	home, err := os.UserHomeDir()
	if err != nil {
		b.Fatal(err)
	}
	venv := filepath.Join(home, ".cache", "mhfz", "datasette")
	bin := filepath.Join(venv, "bin", "datasette")
	if _, err := os.Stat(bin); err != nil {
		for _, args := range [][]string{{"python3", "-m", "venv", venv}, {filepath.Join(venv, "bin", "pip"), "install", "-q", "datasette"}} {
			if out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput(); err != nil {
				b.Fatalf("install Datasette (%s): %v\n%s", strings.Join(args, " "), err, out)
			}
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	// -i: immutable, as the bundle's files are; the default time limit (1 s) and page limit
	// (1,000 rows) kept.
	cmd := exec.CommandContext(ctx, bin, "serve", "-i", sqlite, "--host", "127.0.0.1", "--port", fmt.Sprint(port))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	for deadline := time.Now().Add(time.Minute); ; {
		resp, err := http.Get(base + "/-/versions.json")
		if err == nil {
			resp.Body.Close()
			return base
		}
		if time.Now().After(deadline) {
			b.Fatalf("Datasette does not answer on %s: %v", base, err)
		}
		time.Sleep(100 * time.Millisecond) // a process starting: nothing to wait on but its port
	}
}
