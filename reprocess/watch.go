package reprocess

import (
	"context"
	"fmt"
	"time"

	"github.com/IBM/sarama"

	"github.com/mhfz/mhfz-pipeline/internal/kafka"
	"github.com/mhfz/mhfz-pipeline/processors"
	"github.com/mhfz/mhfz-pipeline/sink"
)

// watcher tells when a re-processing has caught up: the router has committed every raw record
// of weapon_data, and then the rebuilding sink has stored every record on the derived topics.
type watcher struct {
	cfg    Config
	client sarama.Client
	admin  sarama.ClusterAdmin
	rb     *sink.Rebuild
	router *processors.Router
	sink   *sink.Sink
}

// lags are how many records each stage still has to handle.
type lags struct{ router, sink int64 }

func (w *watcher) untilCaughtUp(ctx context.Context) error {
	poll := time.NewTicker(w.cfg.Poll)
	defer poll.Stop()
	lastLog := time.Now()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-poll.C:
		}
		l, err := w.lags(ctx)
		if err != nil {
			// Kafka or PostgreSQL hiccups are the stages' to survive; the watcher asks again.
			w.cfg.Logger.Warn("reprocess: could not measure the lag, asking again", "err", err)
			continue
		}
		if l.router == 0 && l.sink == 0 {
			w.cfg.Logger.Info("reprocess: caught up", w.attrs(l)...)
			return nil
		}
		if w.cfg.Progress > 0 && time.Since(lastLog) >= w.cfg.Progress {
			lastLog = time.Now()
			w.cfg.Logger.Info("reprocess: progress", w.attrs(l)...)
		}
	}
}

func (w *watcher) attrs(l lags) []any {
	r, s := w.router.Stats(), w.sink.Stats()
	return []any{"router_lag", l.router, "sink_lag", l.sink, "read", r.Read, "forwarded", r.Forwarded,
		"dead_letters", r.DeadLetters, "stored", s.Stored}
}

// lags measures the router's lag, and only if it is zero the sink's: the derived topics are
// complete once every raw record is committed (goka commits an input after its outputs).
func (w *watcher) lags(ctx context.Context) (lags, error) {
	input := string(w.cfg.Names.WeaponData())
	ends, err := kafka.TopicEnds(w.client, input)
	if err != nil {
		return lags{}, err
	}
	committed, err := kafka.GroupOffsets(w.admin, string(w.cfg.Names.RouterGroup()), ends)
	if err != nil {
		return lags{}, err
	}
	starts, err := kafka.TopicStarts(w.client, input)
	if err != nil {
		return lags{}, err
	}
	l := lags{router: ends.Behind(committed, starts), sink: -1}
	if l.router > 0 {
		return l, nil
	}
	derived := weaponTopics(w.cfg.Names) // the dead letters have no table
	if ends, err = kafka.TopicEnds(w.client, derived...); err != nil {
		return l, err
	}
	if starts, err = kafka.TopicStarts(w.client, derived...); err != nil {
		return l, err
	}
	stored, err := w.rb.Offsets(ctx)
	if err != nil {
		return l, fmt.Errorf("offsets of the rebuilding sink: %w", err)
	}
	l.sink = ends.Behind(stored, starts)
	return l, nil
}
