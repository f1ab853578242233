package processors

import (
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/mhfz/mhfz-pipeline/codecs"
)

// Stats counts what the router did with its inputs. Every input is counted exactly once in
// Read and once in one of Forwarded, Reemitted, Unchanged, Stale or DeadLetters, so
// Read == Forwarded + Reemitted + Unchanged + Stale + DeadLetters. Safe for concurrent use (goka
// runs one goroutine per partition).
type Stats struct {
	Read      atomic.Int64 // inputs handed to the callback
	Forwarded atomic.Int64 // new or changed content: a new version on a weapon topic
	Reemitted atomic.Int64 // an input read again at the offset that made its key's last version
	Unchanged atomic.Int64 // same content as the key's last version: dropped
	Stale     atomic.Int64 // read again at an offset older than its key's last version: dropped

	mu          sync.Mutex
	deadLetters map[string]int64 // by kind
	topics      map[string]int64 // forwarded and re-emitted, by output topic
	findings    map[string]int64 // quality findings of the forwarded versions, by rule
}

// NewStats returns zeroed counters.
func NewStats() *Stats {
	return &Stats{deadLetters: map[string]int64{}, topics: map[string]int64{}, findings: map[string]int64{}}
}

func (s *Stats) flagged(findings []codecs.Finding) {
	if len(findings) == 0 {
		return
	}
	s.mu.Lock()
	for _, f := range findings {
		s.findings[f.Rule]++
	}
	s.mu.Unlock()
}

func (s *Stats) deadLetter(kind string) {
	s.mu.Lock()
	s.deadLetters[kind]++
	s.mu.Unlock()
}

func (s *Stats) routed(topic string) {
	s.mu.Lock()
	s.topics[topic]++
	s.mu.Unlock()
}

// Snapshot is a copy of the counters at one moment.
type Snapshot struct {
	Read, Forwarded, Reemitted, Unchanged, Stale, DeadLetters int64
	DeadLettersByKind                                         map[string]int64
	ByTopic                                                   map[string]int64
	FindingsByRule                                            map[string]int64
}

// Snapshot copies the counters.
func (s *Stats) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := Snapshot{
		Read: s.Read.Load(), Forwarded: s.Forwarded.Load(), Reemitted: s.Reemitted.Load(),
		Unchanged: s.Unchanged.Load(), Stale: s.Stale.Load(),
		DeadLettersByKind: make(map[string]int64, len(s.deadLetters)),
		ByTopic:           make(map[string]int64, len(s.topics)),
		FindingsByRule:    make(map[string]int64, len(s.findings)),
	}
	for k, v := range s.deadLetters {
		snap.DeadLettersByKind[k] = v
		snap.DeadLetters += v
	}
	for k, v := range s.topics {
		snap.ByTopic[k] = v
	}
	for k, v := range s.findings {
		snap.FindingsByRule[k] = v
	}
	return snap
}

// Done is how many inputs have been fully decided (equal to Read once the callbacks return).
func (s Snapshot) Done() int64 {
	return s.Forwarded + s.Reemitted + s.Unchanged + s.Stale + s.DeadLetters
}

// LogAttrs gives the counters as slog key-value pairs, dead letters by kind and findings by rule
// in a stable order.
func (s Snapshot) LogAttrs() []any {
	attrs := []any{"read", s.Read, "forwarded", s.Forwarded, "reemitted", s.Reemitted,
		"unchanged", s.Unchanged, "stale", s.Stale, "dead_letters", s.DeadLetters}
	attrs = appendSorted(attrs, "dead_", s.DeadLettersByKind)
	return appendSorted(attrs, "quality_", s.FindingsByRule)
}

func appendSorted(attrs []any, prefix string, m map[string]int64) []any {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		attrs = append(attrs, prefix+k, m[k])
	}
	return attrs
}
