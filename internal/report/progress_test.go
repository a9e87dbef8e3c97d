package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/prism-wait/prism-wait/internal/prism"
	"github.com/prism-wait/prism-wait/internal/wait"
)

func TestProgress(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	start := time.Now()
	p := NewProgress(NewLog(&b, true), []string{"gen_a", "gen_b"}, start)
	p.Event(wait.Event{ID: "gen_a", Kind: wait.Poll, Gen: prism.Generation{Status: "generating"}, Wait: time.Second})
	p.Event(wait.Event{ID: "gen_a", Kind: wait.Poll, Gen: prism.Generation{Status: "generating"}, Wait: time.Second})
	for i := 0; i < 3; i++ {
		p.Event(wait.Event{ID: "gen_b", Kind: wait.Retry, Err: &prism.Error{StatusCode: 503, Transient: true}, Wait: time.Second})
	}
	p.Event(wait.Event{ID: "gen_b", Kind: wait.Retry, Err: &prism.Error{StatusCode: 429, Transient: true}, Wait: time.Second})
	p.Heartbeat(start.Add(95 * time.Second))
	p.Event(wait.Event{ID: "gen_a", Kind: wait.Poll, Gen: prism.Generation{Status: "completed", VideoURL: signed,
		CreatedAt: "2026-01-01T11:58:00Z", CompletedAt: "2026-01-01T12:00:00Z"}})
	p.Event(wait.Event{ID: "gen_b", Kind: wait.Poll, Gen: prism.Generation{Status: "queued\n::x"}, Wait: time.Second})
	log := b.String()
	for _, want := range []string{
		"gen_a: generating\n",
		"::warning title=Prism API trouble::gen_b: HTTP 503; retrying",
		"::debug::gen_b: HTTP 429; waiting for a turn in the request budget",
		"still waiting after 1m35s: gen_a generating, gen_b not read yet (retrying after HTTP 429)\n",
		"gen_a: completed in 2m0s; video at https://bucket.s3.amazonaws.com/v/gen_ok.mp4 (signed URL, expires 2026-01-01T13:00:00Z)\n",
		`gen_b: "queued\n::x" is not a status`,
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if n := strings.Count(log, "gen_a: generating"); n != 1 {
		t.Errorf("status change logged %d times, want once", n)
	}
	if strings.Contains(log, "::warning title=Prism API trouble::gen_b: HTTP 429") {
		t.Error("a 429 is warned about as trouble; the request budget warns about it")
	}
	if n := strings.Count(log, "::warning title=Prism API trouble::gen_b: HTTP 503"); n != 1 {
		t.Errorf("HTTP 503 warned %d times, want once", n)
	}
	if strings.Contains(log, "SECRETSIG") {
		t.Error("the log shows the URL's signature")
	}
}

func TestProgressDebugsTheNextPoll(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		wait time.Duration
		want bool
	}{
		{0, false},
		{time.Nanosecond, true},
		{time.Second, true},
	} {
		var b bytes.Buffer
		p := NewProgress(NewLog(&b, true), []string{"gen_a"}, time.Time{})
		p.Event(wait.Event{ID: "gen_a", Kind: wait.Poll, Gen: prism.Generation{Status: "generating"}, Wait: tc.wait})
		if got := strings.Contains(b.String(), "::debug::gen_a: status \"generating\"; next poll in"); got != tc.want {
			t.Errorf("wait %s: debug line %v, want %v:\n%s", tc.wait, got, tc.want, b.String())
		}
	}
}

func TestProgressLogsTheVideoAfterCompletedWithoutOne(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	p := NewProgress(NewLog(&b, false), []string{"gen_a"}, time.Now())
	p.Event(wait.Event{ID: "gen_a", Kind: wait.Poll, Gen: prism.Generation{Status: "completed"}, Wait: time.Second})
	p.Event(wait.Event{ID: "gen_a", Kind: wait.Poll, Gen: prism.Generation{Status: "completed"}, Wait: time.Second})
	p.Event(wait.Event{ID: "gen_a", Kind: wait.Poll, Gen: prism.Generation{Status: "completed", VideoURL: signed}})
	log := b.String()
	if strings.Count(log, "no usable video_url yet") != 1 || !strings.Contains(log, "gen_a: completed; video at https://bucket.s3.amazonaws.com/v/gen_ok.mp4") {
		t.Errorf("log:\n%s", log)
	}
}

func TestHeartbeatSaysHowFarPastTheEstimate(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := NewProgress(NewLog(&b, false), []string{"gen_a"}, start)
	p.Estimate(2*time.Minute, start.Add(20*time.Second)) // the submit took 20s (429s)
	p.Heartbeat(start.Add(time.Minute))
	p.Heartbeat(start.Add(170 * time.Second))
	if want := "still waiting after 1m0s: gen_a not read yet\nstill waiting after 2m50s (30s past Prism's typical 2m0s): gen_a not read yet\n"; b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestHeartbeatAtTheEstimate(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := NewProgress(NewLog(&b, false), []string{"gen_a"}, start)
	p.Estimate(2*time.Minute, start)
	p.Heartbeat(start.Add(2 * time.Minute))
	if want := "still waiting after 2m0s: gen_a not read yet\n"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
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

// TestProgressBoundsChangingStatuses: a status that changes on every read
// logs a line per change up to maxChanges, one line saying so, then
// nothing but debug lines; the verdict is logged still.
func TestProgressBoundsChangingStatuses(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	p := NewProgress(NewLog(&b, false), []string{"gen_a"}, time.Now())
	for i := range 50 {
		p.Event(wait.Event{ID: "gen_a", Kind: wait.Poll, Gen: prism.Generation{Status: []string{"queued", "processing"}[i%2]}, Wait: time.Second})
	}
	p.Event(wait.Event{ID: "gen_a", Kind: wait.Poll, Gen: prism.Generation{Status: "failed", Error: "boom"}})
	log := b.String()
	if n := strings.Count(log, "is not a status prism-wait knows"); n != maxChanges {
		t.Errorf("%d lines for changes, want %d:\n%s", n, maxChanges, log)
	}
	if n := strings.Count(log, `gen_a: its status keeps changing (now "processing"); further changes are debug lines only`); n != 1 {
		t.Errorf("%d lines saying the status keeps changing, want 1:\n%s", n, log)
	}
	if !strings.HasSuffix(log, "gen_a: failed: boom\n") || strings.Count(log, "\n") != maxChanges+2 {
		t.Errorf("want %d lines ending with the verdict:\n%s", maxChanges+2, log)
	}
}

// Two statuses reported alike (unrecognised) are two changes in the log,
// which shows each as sent.
func TestProgressLogsEachStatusAsSent(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	p := NewProgress(NewLog(&b, false), []string{"gen_a"}, time.Now())
	for _, st := range []string{"COMPLETED", "COMPLETED", "Failed"} {
		p.Event(wait.Event{ID: "gen_a", Kind: wait.Poll, Gen: prism.Generation{Status: st}, Wait: time.Second})
	}
	log := b.String()
	if strings.Count(log, "\n") != 2 || !strings.Contains(log, `"COMPLETED"`) || !strings.Contains(log, `"Failed"`) {
		t.Errorf("want a line for each status sent:\n%s", log)
	}
}
