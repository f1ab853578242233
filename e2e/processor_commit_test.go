package e2e

import (
	"context"
	"errors"
	"hash"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/processors"
)

// TestRouterCommitsOnlyFinishedInputs is the crash that lost versions in a failover run on the
// cluster: an input's weapon is still being sent when the inputs after it are done (their sends,
// to other topics and brokers, acknowledged first), and then the send fails or the router dies.
// The committed offset must not pass the unsent input, so that the next router reads it again
// and sends its version (the group table already holds it: a re-emit).
func TestRouterCommitsOnlyFinishedInputs(t *testing.T) {
	t.Parallel()
	e := newRouterEnv(t)
	sword, hammer := rawFixture(t, "ken_base_tree"), rawFixture(t, "hammer_length")
	// One partition, in this order: the sword's send is held, then the hammer is forwarded (its
	// send acknowledged) and read again three times unchanged (nothing to send).
	inputs := []poison{sword, hammer, hammer, hammer, hammer}
	offsets := e.produceTo(0, inputs)
	swordTopic := e.names.Type(codecs.LongSword)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	held := &holdingProducer{topic: string(swordTopic)}
	first := e.runRouter(e.routerConfig(), goka.WithProducerBuilder(held.builder(e.cfg)))
	waitFor(t, ctx, "every input read, the sword's send held, every other send acknowledged", func() bool {
		return first.router.Stats().Read == int64(len(inputs)) && held.heldCount() == 1 && held.allOthersDone()
	})
	held.fail(errors.New("the send was lost"))
	if err := first.wait(t); err == nil {
		t.Fatal("the router went on after a failed send")
	}
	if next, ok := e.committed(t, 0); ok && next > offsets[0] {
		t.Fatalf("committed offset %d after the router stopped: past the sword's input at %d, whose send failed",
			next, offsets[0])
	}

	second := e.runRouter(e.routerConfig())
	waitFor(t, ctx, "the sword's version re-sent", func() bool {
		return e.readTopic(string(swordTopic), func(string, []byte) {}) >= 1
	})
	waitFor(t, ctx, "every input read again", func() bool {
		return second.router.Stats().Read == int64(len(inputs))
	})
	second.stop(t)
	var got []topicRecord
	for _, w := range e.weapons() {
		if w.key == sword.key {
			got = append(got, w)
		}
	}
	if len(got) != 1 || got[0].version != 1 {
		t.Fatalf("the sword on its topic: %+v, want version 1 once", got)
	}
	if s := second.router.Stats(); s.Reemitted != 2 || s.Unchanged != 3 || s.Forwarded != 0 {
		t.Errorf("second router: %+v, want the sword and the hammer re-emitted, 3 unchanged", s)
	}
	if next, ok := e.committed(t, 0); !ok || next != offsets[len(offsets)-1]+1 {
		t.Errorf("committed offset %d (%v) at the end, want %d", next, ok, offsets[len(offsets)-1]+1)
	}
}

// rawFixture is a real row of the site (processors/weaponrow/testdata/raw), as an input.
func rawFixture(t *testing.T, name string) poison {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "processors", "weaponrow", "testdata", "raw", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := codecs.DecodeRaw(b)
	if err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return poison{name: name, key: r.Key, value: b}
}

// committed is the router group's committed offset of a weapon_data partition.
func (e *routerEnv) committed(t *testing.T, partition int32) (int64, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client, admin, err := kafka.Connect(ctx, e.brokers, e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	defer admin.Close()
	p := kafka.Partition{Topic: string(e.names.WeaponData()), ID: partition}
	var got kafka.Ends
	err = kafka.Retry(ctx, "the router group's offsets", 200*time.Millisecond, func() (err error) {
		got, err = kafka.GroupOffsets(admin, string(e.names.RouterGroup()), kafka.Ends{p: 0})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	next, ok := got[p]
	return next, ok
}

// routerConfig is the config of a router of this deployment run in this process.
func (e *routerEnv) routerConfig() processors.Config {
	return routerConfig(e.names, e.setup(), slog.Default())
}

// runningRouter is a router run in this process, with its own producer.
type runningRouter struct {
	router *processors.Router
	cancel context.CancelFunc
	done   chan error
}

// runRouter runs a router in this process on the real broker; extra options (a producer of the
// test's) come after those of a deployment.
func (e *routerEnv) runRouter(cfg processors.Config, extra ...goka.ProcessorOption) *runningRouter {
	e.t.Helper()
	r, err := processors.New(cfg, extra...)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rr := &runningRouter{router: r, cancel: cancel, done: make(chan error, 1)}
	go func() { rr.done <- r.Run(ctx) }()
	e.t.Cleanup(cancel)
	return rr
}

func (r *runningRouter) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.done:
		return err
	case <-time.After(2 * time.Minute):
		t.Fatal("the router did not stop within 2 minutes")
		return nil
	}
}

func (r *runningRouter) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	if err := r.wait(t); err != nil {
		t.Fatalf("router stopped with: %v", err)
	}
}

// holdingProducer holds every send to one topic until fail is called, and passes the others on
// to Kafka. Its promises are finished only after goka's own callbacks ran (a promise runs its
// callbacks as it finishes), so allOthersDone means goka has marked those inputs.
type holdingProducer struct {
	goka.Producer
	topic        string
	mu           sync.Mutex
	held         []goka.PromiseFinisher
	issued, done atomic.Int64
}

func (p *holdingProducer) builder(cfg *sarama.Config) goka.ProducerBuilder {
	c := *cfg // goka's builder sets the client id and partitioner on the config it is given
	real := goka.ProducerBuilderWithConfig(&c)
	return func(brokers []string, clientID string, hasher func() hash.Hash32) (goka.Producer, error) {
		inner, err := real(brokers, clientID, hasher)
		if err != nil {
			return nil, err
		}
		p.Producer = inner
		return p, nil
	}
}

func (p *holdingProducer) Emit(topic, key string, value []byte) *goka.Promise {
	return p.EmitWithHeaders(topic, key, value, nil)
}

func (p *holdingProducer) EmitWithHeaders(topic, key string, value []byte, h goka.Headers) *goka.Promise {
	prom, finish := goka.NewPromiseWithFinisher()
	if topic == p.topic {
		p.mu.Lock()
		p.held = append(p.held, finish)
		p.mu.Unlock()
		return prom
	}
	p.issued.Add(1)
	p.Producer.EmitWithHeaders(topic, key, value, h).ThenWithMessage(func(m *sarama.ProducerMessage, err error) {
		finish(m, err)
		p.done.Add(1)
	})
	return prom
}

func (p *holdingProducer) heldCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.held)
}

func (p *holdingProducer) allOthersDone() bool { return p.issued.Load() == p.done.Load() }

func (p *holdingProducer) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, finish := range p.held {
		finish(nil, err)
	}
	p.held = nil
}
