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
	if kafka, _, err = procStatCPU(strings.TrimSpace(string(pid))); err != nil {
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
		if cpu, comm, err := procStatCPU(e.Name()); err == nil && comm == "postgres" {
			postgres += cpu
		}
	}
	return kafka, postgres, true
}

// procStatCPU reads a process's user and system time, its reaped children's included, and its
// command name from /proc/PID/stat.
func procStatCPU(pid string) (time.Duration, string, error) {
	stat, err := os.ReadFile(filepath.Join("/proc", pid, "stat"))
	if err != nil {
		return 0, "", err
	}
	cpu, comm, err := parseProcStat(string(stat))
	if err != nil {
		return 0, "", fmt.Errorf("/proc/%s/stat: %w", pid, err)
	}
	return cpu, comm, nil
}

// parseProcStat reads the line of /proc/PID/stat (proc(5)). The command name is between the
// first "(" and the last ")": it may hold spaces and parentheses itself.
func parseProcStat(s string) (time.Duration, string, error) {
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open || end+2 > len(s) {
		return 0, "", fmt.Errorf("no command name in %q", s)
	}
	fields := strings.Fields(s[end+2:]) // fields[0] is the state, the 3rd field of the line
	if len(fields) < 15 {
		return 0, "", fmt.Errorf("%d fields after the command name, want at least 15", len(fields))
	}
	var ticks int64
	for _, f := range fields[11:15] { // utime, stime, cutime, cstime: the 14th to 17th fields
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, "", err
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, s[open+1 : end], nil
}

func TestParseProcStat(t *testing.T) {
	for _, tc := range []struct {
		name, stat string
		cpu        time.Duration
		comm       string
		fails      bool
	}{
		{name: "postgres", stat: "8563 (postgres) S 8555 8563 8563 0 -1 4194368 97 0 0 0 12 30 250 8 20 0 1 0 5839\n",
			cpu: 3 * time.Second, comm: "postgres"},
		{name: "name with spaces and parentheses", stat: "7 (a) b (c)) R 1 7 7 0 -1 0 0 0 0 0 100 0 0 50 20 0 1 0 9",
			cpu: 1500 * time.Millisecond, comm: "a) b (c)"},
		{name: "cut short", stat: "7 (java) S 1 7 7 0 -1 0 0 0 0 0 100", fails: true},
		{name: "no name", stat: "7 java S 1", fails: true},
		{name: "not a number", stat: "7 (java) S 1 7 7 0 -1 0 0 0 0 0 x 0 0 0 20 0 1 0 9", fails: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cpu, comm, err := parseProcStat(tc.stat)
			if tc.fails {
				if err == nil {
					t.Fatalf("parseProcStat(%q) = %v, %q; want an error", tc.stat, cpu, comm)
				}
				return
			}
			if err != nil || cpu != tc.cpu || comm != tc.comm {
				t.Fatalf("parseProcStat(%q) = %v, %q, %v; want %v, %q", tc.stat, cpu, comm, err, tc.cpu, tc.comm)
			}
		})
	}
}
