package report

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestRequestCountSaysThe429s(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		run  Run
		want string
	}{
		{Run{Requests: 12}, "12 requests"},
		{Run{Requests: 125, Refused: 15}, "125 requests (15 refused with 429)"},
	} {
		if got := tc.run.RequestCount(); got != tc.want {
			t.Errorf("RequestCount() = %q, want %q", got, tc.want)
		}
	}
	sum := Run{Requests: 125, Refused: 15, Elapsed: 7 * time.Second}.Summary()
	if !strings.Contains(sum, "in 7s, 125 requests (15 refused with 429).") {
		t.Errorf("summary does not say the 429s:\n%s", sum)
	}
}

func TestPerSecond(t *testing.T) {
	t.Parallel()
	for r, want := range map[float64]string{
		0:        "no requests until the pause ends",
		2.5:      "2.5 requests/s",
		1:        "one request every 1s",
		12.3456:  "12.3 requests/s",
		0.25:     "one request every 4s",
		1.0 / 60: "one request every 1m0s",
	} {
		if got := PerSecond(r); got != want {
			t.Errorf("PerSecond(%v) = %q, want %q", r, got, want)
		}
	}
}

func TestHeartbeatSaysTheRateWhileLimited(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var b bytes.Buffer
	p := NewProgress(NewLog(&b, false), []string{"gen_a"}, start)
	limited, rate := false, 0.0
	p.Rate = func() (float64, bool) { return rate, limited }
	p.Heartbeat(start.Add(30 * time.Second))
	limited, rate = true, 2.5
	p.Heartbeat(start.Add(time.Minute))
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 || strings.Contains(lines[0], "rate") || !strings.Contains(lines[1], "still waiting after 1m0s (rate-limited by the API: 2.5 requests/s for all): gen_a") {
		t.Errorf("heartbeats:\n%s", b.String())
	}
}
