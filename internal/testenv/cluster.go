package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// Cluster is the three-node Kafka cluster of `scripts/testenv up --cluster`: three combined
// broker+controller nodes, a KRaft quorum of three. Node n (1, 2, 3) is Kafka's broker id n and
// listens on Brokers[n-1].
//
// Several tests may use the cluster at once; a test that kills nodes holds it alone (see
// KafkaClusterExclusive), so that no other test sees its failovers.
type Cluster struct {
	Brokers []string
	dir     string
	t       testing.TB
}

// KafkaCluster returns the test cluster, shared with the other tests that use it meanwhile.
func KafkaCluster(t testing.TB) *Cluster { return cluster(t, syscall.LOCK_SH) }

// KafkaClusterExclusive returns the test cluster for this test alone: it waits until no other
// test uses it, and the test may kill and restart its nodes.
func KafkaClusterExclusive(t testing.TB) *Cluster { return cluster(t, syscall.LOCK_EX) }

func cluster(t testing.TB, lock int) *Cluster {
	t.Helper()
	brokers, dir := os.Getenv("MHFZ_TEST_KAFKA_CLUSTER_BROKERS"), os.Getenv("MHFZ_TEST_KAFKA_CLUSTER_DIR")
	if brokers == "" || dir == "" {
		missing(t, "the Kafka cluster (MHFZ_TEST_KAFKA_CLUSTER_BROKERS and _DIR, from `scripts/testenv up --cluster`)")
	}
	c := &Cluster{Brokers: strings.Split(brokers, ","), dir: dir, t: t}
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatalf("cluster lock: %v", err)
	}
	if err := syscall.Flock(int(f.Fd()), lock); err != nil {
		f.Close()
		t.Fatalf("cluster lock: %v", err)
	}
	t.Cleanup(func() { f.Close() }) // closing releases the lock
	// A test that failed midway may have left a node down: every test starts with three.
	for n := 1; n <= len(c.Brokers); n++ {
		if !c.alive(n) {
			t.Logf("cluster node %d is down: starting it", n)
			c.Start(n)
		}
	}
	c.WaitBrokers(len(c.Brokers), 2*time.Minute)
	return c
}

func (c *Cluster) node(n int) string { return filepath.Join(c.dir, fmt.Sprintf("node%d", n)) }

func (c *Cluster) pid(n int) int {
	data, err := os.ReadFile(filepath.Join(c.node(n), "pid"))
	if err != nil {
		c.t.Fatalf("cluster node %d: %v", n, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		c.t.Fatalf("cluster node %d: pid file: %v", n, err)
	}
	return pid
}

// alive reports whether node n's process runs (a zombie does not).
func (c *Cluster) alive(n int) bool { return Running(c.pid(n)) }

// Running reports whether the process pid runs: it exists and has not exited. A broker that has
// exited stays a zombie until its parent, here the machine's init, reaps it, which may take
// seconds, and a zombie still answers kill -0.
func Running(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// "pid (comm) S ...": the state follows the command's closing parenthesis.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] != 'Z' && s[i+2] != 'X'
}

// Kill kills node n with SIGKILL (no shutdown: a crash) and waits until its process is gone.
func (c *Cluster) Kill(n int) {
	c.t.Helper()
	if err := syscall.Kill(c.pid(n), syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		c.t.Fatalf("kill cluster node %d: %v", n, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for c.alive(n) {
		if time.Now().After(deadline) {
			c.t.Fatalf("cluster node %d still alive 30s after SIGKILL", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Start starts node n again (after Kill) and waits until it accepts connections; the broker
// rejoins the cluster's metadata soon after (WaitBrokers).
func (c *Cluster) Start(n int) {
	c.t.Helper()
	if out, err := exec.Command(filepath.Join(c.node(n), "start")).CombinedOutput(); err != nil {
		c.t.Fatalf("start cluster node %d: %v\n%s", n, err, out)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		conn, err := net.DialTimeout("tcp", c.Brokers[n-1], time.Second)
		if err == nil {
			conn.Close()
			return
		}
		if !c.alive(n) || time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(c.node(n), "kafka.log"))
			if len(log) > 4000 {
				log = log[len(log)-4000:]
			}
			c.t.Fatalf("cluster node %d did not start: %v\n%s", n, err, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// WaitBrokers waits until the cluster's metadata lists want live brokers.
func (c *Cluster) WaitBrokers(want int, timeout time.Duration) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var got int
	var err error
	for {
		got, err = c.liveBrokers()
		if err == nil && got == want {
			return
		}
		select {
		case <-ctx.Done():
			c.t.Fatalf("the cluster lists %d brokers (%v) after %s, want %d", got, err, timeout, want)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// liveBrokers asks the cluster how many brokers it has now (fenced ones are not listed).
func (c *Cluster) liveBrokers() (int, error) {
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V4_0_0_0
	cfg.Metadata.Retry.Max = 0
	cfg.Net.DialTimeout = 2 * time.Second
	client, err := sarama.NewClient(c.Brokers, cfg)
	if err != nil {
		return 0, err
	}
	defer client.Close()
	if err := client.RefreshMetadata(); err != nil {
		return 0, err
	}
	return len(client.Brokers()), nil
}
