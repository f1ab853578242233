package e2e

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

// envProfileDir is where `make profile` asks the end-to-end benchmark to keep each service's CPU
// profile (MHFZ_CPU_PROFILE of each service: DIR/SERVICE-ITERATION.pprof) and its summary.
const envProfileDir = "MHFZ_PROFILE_DIR"

// profiledRuns counts the benchmark's runs in this process: go test calls a benchmark's function
// again for each -count and each b.N, and every run's profiles are kept and summarised, with
// those of the other runs written into the same directory (each file is named for its process
// and run).
var profiledRuns atomic.Int64

// profileEnv is the environment that makes the service svc of run i write its CPU profile into
// the profile directory; nothing without one.
func profileEnv(svc string, i int64) []string {
	dir := os.Getenv(envProfileDir)
	if dir == "" {
		return nil
	}
	return []string{fmt.Sprintf("MHFZ_CPU_PROFILE=%s/%s-%d-%d.pprof", dir, svc, os.Getpid(), i)}
}

// usage is what one service of one run cost: CPU (user + system), peak resident memory, and
// the minor page faults (each page of fresh memory touched: a cost the CPU profile spreads over
// whatever touched it first, memmove and memclr mostly).
type usage struct {
	cpu    time.Duration
	maxRSS int64 // bytes
	faults int64
}

func usageOf(svc *service) usage {
	u := usage{cpu: svc.cmd.ProcessState.UserTime() + svc.cmd.ProcessState.SystemTime()}
	if ru, ok := svc.cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		u.maxRSS = ru.Maxrss * 1024 // kilobytes on Linux
		u.faults = ru.Minflt
	}
	return u
}

// A category is where a sample's CPU went, named for what the issue of a slow run would look
// for: each rule is a prefix of a function's full name.
type category struct {
	name     string
	prefixes []string
}

// gcFrames mark a sample of the garbage collector, wherever they are in the stack.
var gcFrames = []string{"runtime.gcBgMarkWorker", "runtime.gcAssistAlloc", "runtime.bgsweep",
	"runtime.bgscavenge", "runtime.gcDrain", "runtime.markroot", "runtime.scanobject", "internal/runtime/gc"}

// categories are tried from a sample's leaf to its root, the first frame that matches one wins:
// the JSON decoder's allocations count as JSON, the sink's calls to pgx as PostgreSQL.
var categories = []category{
	{"compression (lz4, zstd, snappy, gzip)", []string{"github.com/pierrec/lz4", "github.com/klauspost/compress", "github.com/eapache/go-xerial-snappy", "github.com/golang/snappy", "compress/"}},
	{"JSON", []string{"github.com/goccy/go-json", "encoding/json"}},
	{"goka storage (leveldb)", []string{"github.com/syndtr/goleveldb", "github.com/lovoo/goka/storage"}},
	{"PostgreSQL client (pgx, COPY)", []string{"github.com/jackc/"}},
	{"Kafka client (sarama)", []string{"github.com/IBM/sarama", "github.com/rcrowley/go-metrics"}},
	{"HTML tokenizer (x/net/html)", []string{"golang.org/x/net/html"}},
	{"scraper", []string{"github.com/mhfz/mhfz-pipeline/scraper"}},
	{"row parse (weaponrow)", []string{"github.com/mhfz/mhfz-pipeline/processors/weaponrow"}},
	{"processor", []string{"github.com/mhfz/mhfz-pipeline/processors"}},
	{"sink", []string{"github.com/mhfz/mhfz-pipeline/sink"}},
	{"codecs", []string{"github.com/mhfz/mhfz-pipeline/codecs"}},
	{"goka", []string{"github.com/lovoo/goka"}},
	{"hashing and crypto", []string{"crypto/", "hash/"}},
	{"metrics and logging", []string{"github.com/prometheus/", "log/slog"}},
}

const (
	gcCategory      = "GC"
	syscallCategory = "system calls (network, files)"
	runtimeCategory = "runtime (scheduler, allocation, other)"
)

// categorize names where one sample's CPU went.
func categorize(s *profile.Sample) string {
	var syscalls bool
	for _, loc := range s.Location {
		for _, line := range loc.Line {
			name := line.Function.Name
			if hasPrefix(name, gcFrames) {
				return gcCategory
			}
			syscalls = syscalls || strings.HasPrefix(name, "syscall.") || strings.HasPrefix(name, "internal/poll.")
		}
	}
	for _, loc := range s.Location {
		for _, line := range loc.Line {
			for _, c := range categories {
				if hasPrefix(line.Function.Name, c.prefixes) {
					return c.name
				}
			}
		}
	}
	if syscalls {
		return syscallCategory
	}
	return runtimeCategory
}

func hasPrefix(name string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// profileSummary is one service's CPU, summed over the profiles of every run.
type profileSummary struct {
	runs       int
	total      time.Duration
	byCategory map[string]time.Duration
	byFunction map[string]time.Duration // flat: the leaf's function
}

// summarizeProfiles reads DIR/SERVICE-*.pprof.
func summarizeProfiles(dir, svc string) (profileSummary, error) {
	sum := profileSummary{byCategory: map[string]time.Duration{}, byFunction: map[string]time.Duration{}}
	paths, err := filepath.Glob(filepath.Join(dir, svc+"-*.pprof"))
	if err != nil || len(paths) == 0 {
		return sum, fmt.Errorf("no profile of %s in %s (%v)", svc, dir, err)
	}
	sum.runs = len(paths)
	for _, path := range paths {
		if err := sum.add(path); err != nil {
			return sum, err
		}
	}
	return sum, nil
}

func (sum *profileSummary) add(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		return fmt.Errorf("parse %s: %w", path, err)
	}
	cpu := slices.IndexFunc(p.SampleType, func(t *profile.ValueType) bool { return t.Type == "cpu" })
	if cpu < 0 {
		return fmt.Errorf("%s: no cpu samples", path)
	}
	for _, s := range p.Sample {
		d := time.Duration(s.Value[cpu])
		sum.total += d
		sum.byCategory[categorize(s)] += d
		if len(s.Location) > 0 && len(s.Location[0].Line) > 0 {
			sum.byFunction[s.Location[0].Line[0].Function.Name] += d
		}
	}
	return nil
}

// table writes the summary as markdown: the categories, then the top functions, each with its
// CPU seconds per snapshot (the sum over runs divided by runs) and its share.
func (sum profileSummary) table(svc string, top int) string {
	runs := sum.runs
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %.2f CPU-s per snapshot (profiled, %d runs)\n\n| where | CPU-s | share |\n| --- | --- | --- |\n",
		svc, sum.total.Seconds()/float64(runs), runs)
	for _, kv := range sortedByValue(sum.byCategory) {
		fmt.Fprintf(&b, "| %s | %.2f | %.0f%% |\n", kv.key, kv.value.Seconds()/float64(runs), 100*float64(kv.value)/float64(sum.total))
	}
	fmt.Fprintf(&b, "\n| function (flat) | CPU-s | share |\n| --- | --- | --- |\n")
	for i, kv := range sortedByValue(sum.byFunction) {
		if i == top {
			break
		}
		fmt.Fprintf(&b, "| `%s` | %.2f | %.1f%% |\n", kv.key, kv.value.Seconds()/float64(runs), 100*float64(kv.value)/float64(sum.total))
	}
	return b.String()
}

type keyValue struct {
	key   string
	value time.Duration
}

func sortedByValue(m map[string]time.Duration) []keyValue {
	out := make([]keyValue, 0, len(m))
	for k, v := range m {
		out = append(out, keyValue{k, v})
	}
	slices.SortFunc(out, func(a, b keyValue) int {
		return cmp.Or(cmp.Compare(b.value, a.value), strings.Compare(a.key, b.key))
	})
	return out
}

// writeProfileSummary writes DIR/summary.md for the services' profiles in DIR, and logs it.
func writeProfileSummary(b *testing.B, services ...string) {
	dir := os.Getenv(envProfileDir)
	if dir == "" {
		return
	}
	var out strings.Builder
	for _, svc := range services {
		sum, err := summarizeProfiles(dir, svc)
		if err != nil {
			b.Fatal(err)
		}
		out.WriteString(sum.table(svc, 15) + "\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "summary.md"), []byte(out.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	b.Logf("profiles in %s:\n%s", dir, out.String())
}
