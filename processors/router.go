package processors

import (
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"

	"github.com/mhfz/mhfz-pipeline/codecs"
	"github.com/mhfz/mhfz-pipeline/processors/weaponrow"
)

// Router is the processor group that parses, validates, deduplicates and routes the raw records:
// group Names.RouterGroup() reading Names.WeaponData() as bytes (a codec that cannot fail, so that
// a bad input becomes a dead letter rather than stopping the processor), its group table holding
// a codecs.DedupState per key, and the weapon topics and the dead-letter topic as outputs. Run
// runs it; a Router runs once.
type Router struct {
	cfg     Config
	opts    []goka.ProcessorOption
	graph   *goka.GroupGraph
	stats   *Stats
	monitor *monitor
	// current is the goka processor running now: Run makes a new one after a Kafka failure.
	current atomic.Pointer[goka.Processor]
	// tester is the processor New made on goka's tester (which registers it then), for Run.
	tester *goka.Processor
	// pause is the first pause before a restart; it doubles up to maxPause.
	pause, maxPause time.Duration
}

// router is the state the callback needs.
type router struct {
	names  codecs.Names
	maxLen int
	log    *slog.Logger
	stats  *Stats
	now    func() time.Time
	parse  func(*codecs.RawRecord) (*codecs.Weapon, error)
}

// New validates cfg and builds the router, its metrics (on cfg.Registry) and its checks (on
// cfg.Health), without talking to Kafka. opts are goka's, applied after the Kafka builders of
// cfg.Kafka: a test's builders, or goka.WithTester (with no cfg.Kafka.Brokers).
func New(cfg Config, opts ...goka.ProcessorOption) (*Router, error) {
	if err := cfg.validate(len(opts) > 0); err != nil {
		return nil, fmt.Errorf("new router: %w", err)
	}
	r := &Router{cfg: cfg, opts: opts, stats: NewStats(), pause: time.Second, maxPause: 30 * time.Second}
	cb := &router{names: cfg.Names, maxLen: cfg.MaxMessageBytes, log: cfg.Logger, stats: r.stats, now: cfg.Now,
		parse: cfg.Parse}
	r.graph = Graph(cfg.Names, cb.process)
	if err := r.graph.Validate(); err != nil {
		return nil, fmt.Errorf("new router %s: %w", cfg.Names.RouterGroup(), err)
	}
	if !r.onKafka() {
		p, err := r.processor(nil)
		if err != nil {
			return nil, err
		}
		r.tester = p
	}
	m, err := newMonitor(r)
	if err != nil {
		return nil, fmt.Errorf("new router: %w", err)
	}
	r.monitor = m
	return r, nil
}

// onKafka reports whether the router runs on real brokers (not goka's tester).
func (r *Router) onKafka() bool { return len(r.cfg.Kafka.Brokers) > 0 }

// processor makes a goka processor of the router, with kopts (its Kafka builders, none on goka's
// tester) before New's options.
func (r *Router) processor(kopts []goka.ProcessorOption) (*goka.Processor, error) {
	// Empty messages must reach the callback (and the dead-letter topic), not be skipped.
	opts := append([]goka.ProcessorOption{goka.WithNilHandling(goka.NilProcess)}, kopts...)
	p, err := goka.NewProcessor(r.cfg.Kafka.Brokers, r.graph, append(opts, r.opts...)...)
	if err != nil {
		return nil, fmt.Errorf("new router %s: %w", r.cfg.Names.RouterGroup(), err)
	}
	return p, nil
}

// Stats is a snapshot of the router's counters, over every restart of its processor.
func (r *Router) Stats() Snapshot { return r.stats.Snapshot() }

// Graph is the router's group graph with cb as its input callback.
func Graph(names codecs.Names, cb goka.ProcessCallback) *goka.GroupGraph {
	edges := []goka.Edge{
		goka.Input(goka.Stream(names.WeaponData()), new(codec.Bytes), cb),
		goka.Persist(new(codecs.DedupStateCodec)),
		goka.Output(goka.Stream(names.DeadLetter()), new(codecs.DeadLetterCodec)),
	}
	for _, t := range names.WeaponTopics() {
		edges = append(edges, goka.Output(goka.Stream(t), new(weaponCodec)))
	}
	return goka.DefineGroup(goka.Group(names.RouterGroup()), edges...)
}

// recentVersions is how many versions of a key the group table remembers with their inputs
// (codecs.DedupState.Recent): more than a crash can leave unsent, since one key changes at most
// once per scrape of its page and goka commits its inputs every few seconds.
const recentVersions = 8

// process handles one input. It never calls ctx.Fail for a bad input: bad inputs go to the
// dead-letter topic; goka itself stops the processor only when Kafka fails (retryable: restart).
func (r *router) process(ctx goka.Context, msg any) {
	r.stats.Read.Add(1)
	data, _ := msg.([]byte)
	src := codecs.Source{Topic: string(ctx.Topic()), Partition: ctx.Partition(), Offset: ctx.Offset()}
	w, topic, h, err := r.routed(ctx.Key(), data)
	if err != nil {
		r.deadLetter(ctx, data, src, err)
		return
	}
	defer h.release()
	seen := w.ScrapedAt
	if seen.IsZero() {
		seen = ctx.Timestamp() // deterministic for the same message, unlike the clock
	}
	if r.dedup(ctx, w, h.sum, seen, src) {
		ctx.Emit(goka.Stream(topic), w.Key, sentWeapon{w: w, h: h})
		r.stats.routed(string(topic))
	}
}

// routed is the weapon of one input, its topic and its content hash (to release once sent).
func (r *router) routed(key string, data []byte) (*codecs.Weapon, codecs.Topic, *hashed, error) {
	w, err := r.weapon(key, data)
	if err != nil {
		return nil, "", nil, err
	}
	topic, err := r.names.Route(w.WeaponType, w.PageKind)
	if err != nil { // Validate refuses unknown types: kept a dead letter rather than a crash
		return nil, "", nil, &RecordError{Kind: KindType, Err: err}
	}
	h := newHashed()
	if err := h.hash(w); err != nil { // cannot happen for a Weapon; kept a dead letter rather than a crash
		h.release()
		return nil, "", nil, &RecordError{Kind: KindInvalid, Err: err}
	}
	return w, topic, h, nil
}

// dedup decides an input against its key's state in the group table, numbers w and writes the
// state; it reports whether w is to be sent.
func (r *router) dedup(ctx goka.Context, w *codecs.Weapon, hash string, seen time.Time, src codecs.Source) bool {
	state, _ := ctx.Value().(*codecs.DedupState)
	d, made := decide(state, hash, src)
	switch d {
	case decisionUnchanged:
		r.stats.Unchanged.Add(1)
		if seen.After(state.LastSeen) {
			next := *state
			next.LastSeen = seen
			ctx.SetValue(&next)
		}
		return false
	case decisionStale:
		r.stats.Stale.Add(1)
		return false
	case decisionReemit:
		// The table already holds this version (and maybe later ones): it is sent again, and the
		// key's state written again unchanged, since after a crash goka's local copy of the table
		// may hold a state whose write to the table's topic was lost.
		w.Version, w.ContentHash, w.Source = made.Version, hash, src
		ctx.SetValue(state)
		r.stats.Reemitted.Add(1)
	default:
		next := nextState(state, hash, seen, src)
		w.Version, w.ContentHash, w.Source = next.Version, hash, src
		// The table is written before the weapon is sent and the input committed after both:
		// a crash between them re-reads this input, finds its version in the table's recent
		// versions, and re-emits it (decisionReemit) instead of dropping it.
		ctx.SetValue(next)
		r.stats.Forwarded.Add(1)
		r.stats.flagged(w.Quality)
	}
	return true
}

// nextState is the state of a key after a new version: its number, the input that made it, and
// the recent versions with it, at most recentVersions.
func nextState(state *codecs.DedupState, hash string, seen time.Time, src codecs.Source) *codecs.DedupState {
	next := &codecs.DedupState{ContentHash: hash, Version: 1, FirstSeen: seen, LastSeen: seen, Source: src}
	var recent []codecs.VersionSource
	if state != nil {
		next.Version, next.FirstSeen = state.Version+1, state.FirstSeen
		recent = recentOf(state)
	}
	recent = append(slices.Clone(recent), codecs.VersionSource{Version: next.Version, ContentHash: hash, Source: src})
	next.Recent = recent[max(0, len(recent)-recentVersions):]
	return next
}

// recentOf returns the recent versions of a state; a state written before they were kept knows
// its last version only.
func recentOf(state *codecs.DedupState) []codecs.VersionSource {
	if len(state.Recent) > 0 {
		return state.Recent
	}
	return []codecs.VersionSource{{Version: state.Version, ContentHash: state.ContentHash, Source: state.Source}}
}

type decision int

const (
	decisionNew decision = iota
	decisionChanged
	decisionUnchanged
	decisionReemit
	decisionStale
)

// decide compares an input with its key's state. An input that made one of the key's recent
// versions (same topic, partition and offset, same content) is a redelivery after a crash:
// re-emit exactly that version, even if later ones were written since (the crash may have lost
// its send and not theirs). Another input older than the one that made the last version, on the
// same partition, made no version (it was unchanged, or a dead letter): drop it. Otherwise the
// content decides. For decisionReemit, decide also returns the version the input made.
func decide(state *codecs.DedupState, hash string, src codecs.Source) (decision, codecs.VersionSource) {
	if state == nil {
		return decisionNew, codecs.VersionSource{}
	}
	for _, v := range recentOf(state) {
		if v.Source == src && v.ContentHash == hash {
			return decisionReemit, v
		}
	}
	switch {
	case state.Source.Topic == src.Topic && state.Source.Partition == src.Partition &&
		src.Offset < state.Source.Offset:
		return decisionStale, codecs.VersionSource{}
	case state.ContentHash == hash:
		return decisionUnchanged, codecs.VersionSource{}
	default:
		return decisionChanged, codecs.VersionSource{}
	}
}

// weapon decodes, parses and validates one input. A panic while doing it (a bug of the parser, or
// of a library) is turned into an error of KindPanic: one record must not stop the processor and
// then come back at every restart.
func (r *router) weapon(key string, data []byte) (w *codecs.Weapon, err error) {
	defer func() {
		if p := recover(); p != nil {
			r.log.Error("panic while parsing a record: it becomes a dead letter", "key", clipKey(key),
				"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			w, err = nil, recordErr(KindPanic, "message %s: the parser panicked: %v", quoteKey(key), p)
		}
	}()
	switch {
	case len(data) == 0:
		return nil, recordErr(KindEmpty, "message %s: empty", quoteKey(key))
	case len(data) > r.maxLen:
		return nil, recordErr(KindTooLarge, "message %s: %d bytes, more than the %d a weapon row may take",
			quoteKey(key), len(data), r.maxLen)
	}
	raw, err := decodePooled(data)
	if err != nil {
		return nil, &RecordError{Kind: KindOf(err), Err: fmt.Errorf("message %s: %w", quoteKey(key), err)}
	}
	defer releaseRecord(raw)
	if raw.Key != key {
		return nil, recordErr(KindEnvelope, "message %s: record key %q is not the message key",
			quoteKey(key), clipKey(raw.Key))
	}
	if w, err = r.parse(raw); err != nil {
		return nil, err
	}
	findings, err := weaponrow.Validate(w)
	if err != nil {
		return nil, err
	}
	w.Quality = append(w.Quality, findings...)
	return w, nil
}

// clipKey bounds a message key for a reason or a log line: a poison message may have a huge key.
func clipKey(key string) string {
	const limit = 256
	if len(key) <= limit {
		return key
	}
	return fmt.Sprintf("%s…(%d bytes)", key[:limit], len(key))
}

func quoteKey(key string) string { return strconv.Quote(clipKey(key)) }

// deadLetter emits the dead letter of one input: always small enough to be written, whatever the
// size of the input (codecs.NewDeadLetter keeps a bounded prefix, the size and the SHA-256).
func (r *router) deadLetter(ctx goka.Context, data []byte, src codecs.Source, err error) {
	kind := KindOf(err)
	r.stats.deadLetter(kind)
	d := codecs.NewDeadLetter(kind, err.Error(), ctx.Key(), src, data, r.now().UTC())
	r.log.Warn("dead letter", "kind", kind, "key", clipKey(ctx.Key()), "partition", src.Partition,
		"offset", src.Offset, "size", d.Size, "reason", d.Reason)
	ctx.Emit(goka.Stream(r.names.DeadLetter()), d.Key, d)
}

// sentWeapon is a weapon the router sends, with the JSON its hash was computed from, which
// weaponCodec writes it from.
type sentWeapon struct {
	w *codecs.Weapon
	h *hashed
}

// weaponCodec is the codec of the weapon topics: codecs.WeaponCodec, writing a sentWeapon from
// its hashed JSON (hashed.encodeWeapon: the same bytes).
type weaponCodec struct{ codecs.WeaponCodec }

// Encode implements goka.Codec.
func (c weaponCodec) Encode(value any) ([]byte, error) {
	if s, ok := value.(sentWeapon); ok {
		return s.h.encodeWeapon(s.w)
	}
	return c.WeaponCodec.Encode(value)
}
