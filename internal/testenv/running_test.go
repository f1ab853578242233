package testenv

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestRunningIsFalseForAZombie: a process that has exited but is not reaped yet (a zombie, which
// still answers kill -0) does not run; this process does.
func TestRunningIsFalseForAZombie(t *testing.T) {
	if !Running(os.Getpid()) {
		t.Fatal("this process does not run, says Running")
	}
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait() // reaped only after the check: until then it is a zombie
	deadline := time.Now().Add(10 * time.Second)
	for Running(cmd.Process.Pid) {
		if time.Now().After(deadline) {
			t.Fatalf("pid %d has exited but still runs, says Running", cmd.Process.Pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
