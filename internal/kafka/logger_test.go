package kafka

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestGokaLoggerWritesThroughSlog(t *testing.T) {
	var buf bytes.Buffer
	l := GokaLogger(slog.New(slog.NewTextHandler(&buf, nil)))
	l.Printf("[Processor %s] setup generation %d", "weapon-router", 1)
	l.Println("rebalance")
	out := buf.String()
	for _, want := range []string{`msg="[Processor weapon-router] setup generation 1"`, "component=goka", "msg=rebalance"} {
		if !strings.Contains(out, want) {
			t.Errorf("log %q lacks %q", out, want)
		}
	}
}
