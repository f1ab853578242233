package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// clockTicks is Linux's USER_HZ, the unit of /proc/PID/stat's times (100 on every architecture
// Go builds for).
const clockTicks = 100

// serversCPU is the CPU time used so far by the test environment's Kafka broker (its pid in
// $MHFZ_TESTENV_DIR/kafka/pid) and by every process named postgres, their reaped children
// included (a backend's time moves to the postmaster's when it exits). The two share the
// machine's cores with the services, so a run's wall time is bounded by their CPU as much as by
// the services': the end-to-end benchmark reports both. ok is false where the broker's pid is
// not known (a Kafka not started by scripts/testenv).
func serversCPU() (kafka, postgres time.Duration, ok bool) {
	dir := os.Getenv("MHFZ_TESTENV_DIR")
	if dir == "" {
		return 0, 0, false
	}
	pid, err := os.ReadFile(filepath.Join(dir, "kafka", "pid"))
	if err != nil {
		return 0, 0, false
	}
	broker, err := readProcStat(strings.TrimSpace(string(pid)))
	if err != nil {
		return 0, 0, false
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, 0, false
	}
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		if st, err := readProcStat(e.Name()); err == nil && st.comm == "postgres" {
			postgres += st.cpu + st.children
		}
	}
	return broker.cpu + broker.children, postgres, true
}

// procStat is what the benchmarks read of a process's /proc/PID/stat: its command name, and its
// user and system time and those of its reaped children.
type procStat struct {
	comm     string
	cpu      time.Duration
	children time.Duration
}

// procCPU is the user and system CPU time of a process ("self" for this one).
func procCPU(pid string) (time.Duration, error) {
	st, err := readProcStat(pid)
	return st.cpu, err
}

func readProcStat(pid string) (procStat, error) {
	data, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	if err != nil {
		return procStat{}, err
	}
	st, err := parseProcStat(string(data))
	if err != nil {
		return procStat{}, fmt.Errorf("/proc/%s/stat: %w", pid, err)
	}
	return st, nil
}

// parseProcStat reads the line of /proc/PID/stat (proc(5)). The command name is between the
// first "(" and the last ")": it may hold spaces and parentheses itself.
func parseProcStat(s string) (procStat, error) {
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open || end+2 > len(s) {
		return procStat{}, fmt.Errorf("no command name in %q", s)
	}
	fields := strings.Fields(s[end+2:]) // fields[0] is the state, the 3rd field of the line
	if len(fields) < 15 {
		return procStat{}, fmt.Errorf("%d fields after the command name, want at least 15", len(fields))
	}
	var ticks [4]time.Duration // utime, stime, cutime, cstime: the 14th to 17th fields
	for i, f := range fields[11:15] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return procStat{}, err
		}
		ticks[i] = time.Duration(n) * time.Second / clockTicks
	}
	return procStat{comm: s[open+1 : end], cpu: ticks[0] + ticks[1], children: ticks[2] + ticks[3]}, nil
}

func TestParseProcStat(t *testing.T) {
	for _, tc := range []struct {
		name, stat string
		want       procStat
		fails      bool
	}{
		{name: "postgres", stat: "8563 (postgres) S 8555 8563 8563 0 -1 4194368 97 0 0 0 12 30 250 8 20 0 1 0 5839\n",
			want: procStat{comm: "postgres", cpu: 420 * time.Millisecond, children: 2580 * time.Millisecond}},
		{name: "name with spaces and parentheses", stat: "7 (a) b (c)) R 1 7 7 0 -1 0 0 0 0 0 100 0 0 50 20 0 1 0 9",
			want: procStat{comm: "a) b (c)", cpu: time.Second, children: 500 * time.Millisecond}},
		{name: "cut short", stat: "7 (java) S 1 7 7 0 -1 0 0 0 0 0 100", fails: true},
		{name: "no name", stat: "7 java S 1", fails: true},
		{name: "not a number", stat: "7 (java) S 1 7 7 0 -1 0 0 0 0 0 x 0 0 0 20 0 1 0 9", fails: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseProcStat(tc.stat)
			if tc.fails {
				if err == nil {
					t.Fatalf("parseProcStat(%q) = %+v; want an error", tc.stat, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("parseProcStat(%q) = %+v, %v; want %+v", tc.stat, got, err, tc.want)
			}
		})
	}
}

// TestReadProcStatOfThisProcess reads this test's own line: its name, and a CPU time that grows
// with work done.
func TestReadProcStatOfThisProcess(t *testing.T) {
	before, err := readProcStat("self")
	if err != nil {
		t.Fatal(err)
	}
	if bin := filepath.Base(os.Args[0]); before.comm != bin[:min(len(bin), 15)] { // the kernel keeps 15 bytes
		t.Errorf("command name %q, want the binary's %q", before.comm, bin)
	}
	deadline := time.Now().Add(5 * time.Second)
	for after := before; after.cpu <= before.cpu; after, err = readProcStat("self") {
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("CPU time still %v after 5 s of work (%v)", before.cpu, err)
		}
		for i := range 1_000_000 {
			_ = strconv.Itoa(i)
		}
	}
}
