package kafka

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/lovoo/goka"
)

// GokaLogger makes goka's own messages (group setup, rebalances) go through the service's
// log/slog logger, at info level, instead of the standard library's logger.
func GokaLogger(l *slog.Logger) goka.Logger { return &gokaLogger{l: l.With("component", "goka")} }

type gokaLogger struct{ l *slog.Logger }

func (g *gokaLogger) Print(v ...any)   { g.l.Info(strings.TrimSpace(fmt.Sprint(v...))) }
func (g *gokaLogger) Println(v ...any) { g.l.Info(strings.TrimSpace(fmt.Sprintln(v...))) }
func (g *gokaLogger) Printf(format string, v ...any) {
	g.l.Info(strings.TrimSpace(fmt.Sprintf(format, v...)))
}
