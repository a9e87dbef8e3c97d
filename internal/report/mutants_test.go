package report

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prism-wait/prism-wait/internal/prism"
	"github.com/prism-wait/prism-wait/internal/untrusted"
	"github.com/prism-wait/prism-wait/internal/wait"
)

// emptyRow is the summary row of a generation never read.
func emptyRow(id string) string { return fmt.Sprintf("| `%s` |  |  |  |  |  |\n", id) }

// runWithRows returns a run of n unread generations whose summary rows
// total exactly rows bytes, IDs being at most 128 bytes as prism.ValidID
// allows.
func runWithRows(t *testing.T, n, rows int) Run {
	t.Helper()
	ids := rows - n*len(emptyRow(""))
	q, rem := ids/n, ids%n
	if q < 1 || q+1 > 128 {
		t.Fatalf("%d rows cannot total %d bytes", n, rows)
	}
	var r Run
	for i := range n {
		k := q
		if i < rem {
			k++
		}
		r.Results = append(r.Results, Result{Result: wait.Result{ID: strings.Repeat("g", k)}})
	}
	return r
}

// TestSummaryBound fills the summary to exactly maxSummary bytes, and one
// byte over: the last row is kept in the first case only.
func TestSummaryBound(t *testing.T) {
	t.Parallel()
	const n = 7000 // rows of about 100 bytes
	// The header depends only on n: measure it on a run of short rows.
	var small Run
	for range n {
		small.Results = append(small.Results, Result{Result: wait.Result{ID: "g"}})
	}
	s := small.Summary()
	if !strings.HasSuffix(s, emptyRow("g")) {
		t.Fatalf("a row is not %q: %q", emptyRow("g"), s[len(s)-80:])
	}
	header := len(s) - n*len(emptyRow("g"))
	const note = "more generations left out"
	for _, tc := range []struct {
		size    int
		allRows bool
	}{
		{maxSummary - 1, true},
		{maxSummary, true},
		{maxSummary + 1, false},
	} {
		run := runWithRows(t, n, tc.size-header)
		got := run.Summary()
		last := emptyRow(run.Results[n-1].ID)
		if tc.allRows {
			if len(got) != tc.size || !strings.HasSuffix(got, last) || strings.Contains(got, note) {
				t.Errorf("summary of %d bytes: got %d bytes, ending %q", tc.size, len(got), got[len(got)-60:])
			}
			continue
		}
		if rows := strings.Count(got, "\n| `"); !strings.Contains(got, note) || rows != n-1 || len(got)-len(note) > maxSummary {
			t.Errorf("summary of %d bytes: got %d bytes, ending %q", tc.size, len(got), got[len(got)-60:])
		}
	}
}

func TestSummaryShareLinkLength(t *testing.T) {
	t.Parallel()
	const head = "https://prismvideos.com/share/"
	for _, tc := range []struct {
		n    int
		link bool
	}{
		{prism.MaxVideoURL - 1, true},
		{prism.MaxVideoURL, true},
		{prism.MaxVideoURL + 1, false},
	} {
		u := head + strings.Repeat("a", tc.n-len(head))
		got := Run{}.link(u)
		if isLink := got == "[open]("+u+")"; isLink != tc.link {
			t.Errorf("link(%d bytes) = %q, want a link: %v", tc.n, got[:min(20, len(got))], tc.link)
		}
	}
}

func TestParseOutputsNamesTheBadLine(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"bad\n":                  "line 1 is neither",
		"a=1\n\nb<<E\nx\nE\nbad": "line 6 is neither",
	} {
		if _, err := ParseOutputs(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseOutputs(%q) = %v, want %q", in, err, want)
		}
	}
}

func TestParseOutputsUnclosedHeredoc(t *testing.T) {
	t.Parallel()
	for _, in := range []string{"a<<EOF\n", "a<<EOF\nvalue\n", "a<<EOF\nvalue\nEOFX"} {
		if _, err := ParseOutputs(in); err == nil || !strings.Contains(err.Error(), "no closing delimiter") {
			t.Errorf("ParseOutputs(%q) = %v, want no closing delimiter", in, err)
		}
	}
}

// failingWriter fails every write with a new error.
type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	w.n++
	return 0, fmt.Errorf("write %d failed", w.n)
}

func TestABrokenLogIsIgnored(t *testing.T) {
	t.Parallel()
	w := &failingWriter{}
	l := NewLog(w, true)
	l.Infof("one")
	l.Errorf("T", "two")
	if w.n != 2 {
		t.Errorf("%d writes tried, want 2: each line is tried, and a failure changes nothing", w.n)
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

func TestHeartbeatAtTheEstimate(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := NewProgress(NewLog(&b, false), []string{"gen_a"}, start)
	p.Estimate(2 * time.Minute)
	p.Heartbeat(start.Add(2 * time.Minute))
	if want := "still waiting after 2m0s: gen_a not read yet\n"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

func TestExpiresAtBounds(t *testing.T) {
	t.Parallel()
	u := func(date, expires string) string {
		return "https://x/v.mp4?X-Amz-Date=" + date + "&X-Amz-Expires=" + expires
	}
	for _, tc := range []struct{ in, want string }{
		{u("20260101T120000Z", "0"), "2026-01-01T12:00:00Z"},
		{u("20260101T120000Z", "-1"), ""},
		{u("20260101T120000Z", "604800"), "2026-01-08T12:00:00Z"}, // S3's longest, 7 days
		{u("20260101T120000Z", "604801"), ""},
		{u("99991231T000000Z", "0"), "9999-12-31T00:00:00Z"},
		{u("99991231T000000Z", "86400"), ""},
	} {
		if got := ExpiresAt(tc.in); got != tc.want {
			t.Errorf("ExpiresAt(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// outputsSize is what Outputs weighs against maxOutputs.
func outputsSize(outs []Output) int {
	n := 0
	for _, o := range outs {
		n += len(o.Name) + len(o.Value)
	}
	return n
}

func failedRun(n, errLen int) Run {
	var r Run
	for i := range n {
		id := fmt.Sprintf("gen_%04d", i)
		r.IDs = append(r.IDs, id)
		r.Results = append(r.Results, Result{Result: wait.Result{ID: id, Gen: prism.Generation{Status: "failed", Error: strings.Repeat("x", errLen),
			TemplateID: strings.Repeat("t", 100), CreatedAt: strings.Repeat("c", 100)}}})
	}
	return r
}

// TestOutputsFitExactly builds outputs of exactly maxOutputs bytes at the
// full field bound, and one byte more: only the second is shrunk.
func TestOutputsFitExactly(t *testing.T) {
	t.Parallel()
	const errLen = 2000 // kept whole at maxField, cut at maxField/2
	one, two := outputsSize(failedRun(1, errLen).outputs(maxField)), outputsSize(failedRun(2, errLen).outputs(maxField))
	per := two - one
	n := (maxOutputs - one) / per // one plus n more results fit
	run := failedRun(n+1, errLen)
	// Fill the gap: two bytes per character of the last template_id and
	// created_at (each in its output and in results), one per byte of
	// credits_charged.
	gap := maxOutputs - outputsSize(run.outputs(maxField))
	last := &run.Results[n].Gen
	a := min(gap/2, maxField-100)
	last.TemplateID += strings.Repeat("t", a)
	last.CreatedAt += strings.Repeat("c", gap/2-a)
	gap = maxOutputs - outputsSize(run.outputs(maxField))
	if gap < 0 || gap > 1 || len(last.CreatedAt) > maxField {
		t.Fatalf("the gap is %d bytes, want 0 or 1", gap)
	}
	for _, tc := range []struct {
		credits string
		whole   bool
	}{
		{strings.Repeat("1", gap), true},
		{strings.Repeat("1", gap+1), false},
	} {
		run.Credits = tc.credits
		outs := run.Outputs()
		var errs string
		for _, o := range outs {
			if o.Name == "error" {
				errs = o.Value
			}
		}
		first := strings.Split(errs, "\n")[0]
		if tc.whole && (outputsSize(outs) != maxOutputs || first != strings.Repeat("x", errLen)) {
			t.Errorf("credits %d bytes: %d bytes of outputs, first error %d bytes; want %d and whole", len(tc.credits), outputsSize(outs), len(first), maxOutputs)
		}
		if !tc.whole && (outputsSize(outs) > maxOutputs || len(first) != maxField/2 || !strings.HasSuffix(first, untrusted.CutMarker)) {
			t.Errorf("credits %d bytes: %d bytes of outputs, first error %d bytes; want it cut to %d", len(tc.credits), outputsSize(outs), len(first), maxField/2)
		}
	}
}

// TestOutputsStopShrinkingAtMinField: with outputs that cannot fit (long
// video URLs are never cut), fields shrink to minField and no further.
func TestOutputsStopShrinkingAtMinField(t *testing.T) {
	t.Parallel()
	video := "https://bucket.s3.amazonaws.com/" + strings.Repeat("v", prism.MaxVideoURL-40)
	run := failedRun(100, 2000)
	for i := range run.Results {
		run.Results[i].Gen = prism.Generation{Status: "completed", VideoURL: video, ShareURL: video, Error: strings.Repeat("x", 2000)}
	}
	for _, o := range run.Outputs() {
		if o.Name != "error" {
			continue
		}
		first := strings.Split(o.Value, "\n")[0]
		if len(first) != minField || !strings.HasSuffix(first, untrusted.CutMarker) {
			t.Errorf("error cut to %d bytes (%q), want %d", len(first), first, minField)
		}
	}
}
