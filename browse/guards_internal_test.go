package browse

import (
	"net/netip"
	"strconv"
	"testing"
	"time"
)

// TestClientLimitsBounded: the buckets of idle clients are dropped (a bucket idle long enough
// is full again: nothing is lost), the map never holds more than maxClients, an IPv6 client's
// addresses of one /64 share a bucket, and loopback is exempt unless asked.
func TestClientLimitsBounded(t *testing.T) {
	c := newClientLimits(1, 2, false) // idle after 2 s
	now := time.Unix(1_700_000_000, 0)
	for i := range maxClients + 500 {
		addr := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		if _, ok := c.allow(netip.AddrPortFrom(addr, 1234).String(), now); !ok {
			t.Fatalf("client %d refused its first request", i)
		}
		if len(c.clients) > maxClients {
			t.Fatalf("%d clients tracked, at most %d", len(c.clients), maxClients)
		}
	}
	now = now.Add(3 * time.Second)
	c.allow("192.0.2.1:1", now)
	if len(c.clients) != 1 {
		t.Errorf("%d clients tracked after every other was idle for 3 s, want 1", len(c.clients))
	}
	for i := range 3 {
		_, ok := c.allow("[2001:db8::"+strconv.Itoa(i+1)+"]:443", now)
		if ok != (i < 2) {
			t.Errorf("request %d of one /64: allowed %v, want %v (a burst of 2 for the network)", i, ok, i < 2)
		}
	}
	for range 5 {
		if _, ok := c.allow("127.0.0.1:5000", now); !ok {
			t.Fatal("a loopback client was limited")
		}
		if _, ok := c.allow("[::1]:5000", now); !ok {
			t.Fatal("a loopback client was limited")
		}
	}
	strict := newClientLimits(1, 1, true)
	strict.allow("127.0.0.1:1", now)
	if wait, ok := strict.allow("127.0.0.1:2", now); ok || wait != time.Second {
		t.Errorf("loopback with RateLimitLoopback: allowed %v, wait %s; want refused, 1s", ok, wait)
	}
	if newClientLimits(0, 10, true) != nil {
		t.Error("a rate of 0 is no limit")
	}
}
