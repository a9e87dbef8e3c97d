package report

import (
	"bytes"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prism-wait/prism-wait/internal/prism"
	"github.com/prism-wait/prism-wait/internal/wait"
)

func TestSeconds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   float64
		want time.Duration
	}{
		{-1, 0}, {0, 0}, {0.4, 0}, {1.5, 2 * time.Second}, {90, 90 * time.Second},
		{24 * 3600, 24 * time.Hour}, {24*3600 + 1, 0},
	} {
		if got := seconds(tc.in); got != tc.want {
			t.Errorf("seconds(%v) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestAnnounce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		sub     prism.Submission
		timeout time.Duration
		want    string
	}{
		{"no estimate, no credits", prism.Submission{IDs: []string{"gen_1"}}, time.Minute,
			"submitted 1 generation(s): gen_1\n"},
		{"estimate and credits", prism.Submission{IDs: []string{"gen_1", "gen_2"}, CreditsCharged: "20", Typical: 60, Busy: 120}, time.Hour,
			"submitted 2 generation(s), 20 credits charged: gen_1, gen_2\nexpected in about 1m0s (up to 2m0s when Prism is busy)\n"},
		{"busy below typical", prism.Submission{IDs: []string{"gen_1"}, Typical: 60, Busy: 30}, time.Hour,
			"submitted 1 generation(s): gen_1\nexpected in about 1m0s (up to 1m0s when Prism is busy)\n"},
		{"busy equal to typical, timeout under", prism.Submission{IDs: []string{"gen_1"}, Typical: 60, Busy: 60}, 45 * time.Second,
			"submitted 1 generation(s): gen_1\nexpected in about 1m0s (up to 1m0s when Prism is busy)\nwarning: Timeout may be too short: Prism expects up to 1m0s when busy, and the timeout is 45s. Raise <timeout> if the step ends before the videos.\n"},
		{"timeout equal to busy", prism.Submission{IDs: []string{"gen_1"}, Typical: 60, Busy: 120}, 2 * time.Minute,
			"submitted 1 generation(s): gen_1\nexpected in about 1m0s (up to 2m0s when Prism is busy)\n"},
		{"timeout under busy", prism.Submission{IDs: []string{"gen_1"}, Busy: 120}, time.Minute,
			"submitted 1 generation(s): gen_1\nwarning: Timeout may be too short: Prism expects up to 2m0s when busy, and the timeout is 1m0s. Raise <timeout> if the step ends before the videos.\n"},
		{"timeout under typical, no busy", prism.Submission{IDs: []string{"gen_1"}, Typical: 60}, 45 * time.Second,
			"submitted 1 generation(s): gen_1\nexpected in about 1m0s (up to 1m0s when Prism is busy)\nwarning: Timeout may be too short: Prism expects about 1m0s, and the timeout is 45s. Raise <timeout> if the step ends before the videos.\n"},
		{"not waiting", prism.Submission{IDs: []string{"gen_1"}, Typical: 20, Busy: 40}, 0,
			"submitted 1 generation(s): gen_1\nexpected in about 20s (up to 40s when Prism is busy)\n"},
	} {
		var b bytes.Buffer
		typical := Announce(NewLog(&b, false), tc.sub, tc.timeout, func(in string) string { return "<" + in + ">" })
		if b.String() != tc.want || typical != seconds(tc.sub.Typical) {
			t.Errorf("%s: returned %s, logged\n%s\nwant\n%s", tc.name, typical, b.String(), tc.want)
		}
	}
}

func TestReadPlan(t *testing.T) {
	t.Parallel()
	s := time.Second
	for _, tc := range []struct {
		name   string
		poll   time.Duration
		sparse []time.Duration
		dense  time.Duration
		want   string
	}{
		{"no estimate", 5 * s, nil, 0, ""},
		{"T = 127s", 5 * s, []time.Duration{5 * s, 10 * s, 15 * s, 22500 * time.Millisecond, 33750 * time.Millisecond}, 101600 * time.Millisecond,
			"first reads at 5s, 10s, 15s, 23s, 34s after the submit, then every 5s from 1m42s on (0.8 × the typical estimate)\n"},
		// Rounded to the second from a poll_interval of 1s on, to a tenth of it below.
		{"a poll of 1s", s, []time.Duration{1250 * time.Millisecond}, 2 * s,
			"first reads at 1s after the submit, then every 1s from 2s on (0.8 × the typical estimate)\n"},
		{"a poll of 500ms", 500 * time.Millisecond, []time.Duration{1260 * time.Millisecond}, 2 * s,
			"first reads at 1.25s after the submit, then every 500ms from 2s on (0.8 × the typical estimate)\n"},
		{"many, a short poll", 100 * time.Millisecond, []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 2 * s,
			"first reads at 0s, 0s, 0s, 0s, 0s, 0s, 0s, 0s, … after the submit, then every 100ms from 2s on (0.8 × the typical estimate)\n"},
	} {
		var b bytes.Buffer
		ReadPlan(NewLog(&b, false), tc.poll, tc.sparse, tc.dense, "0.8 × the typical estimate")
		if b.String() != tc.want {
			t.Errorf("%s: logged %q, want %q", tc.name, b.String(), tc.want)
		}
	}
}

func TestWaiting(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	base, _ := url.Parse("https://prismvideos.com/api")
	Waiting(NewLog(&b, false), []string{"gen_1", "gen_2"}, base, 15*time.Minute)
	if want := "waiting for 2 generation(s) at https://prismvideos.com/api (timeout 15m0s): gen_1, gen_2\n"; b.String() != want {
		t.Errorf("logged %q, want %q", b.String(), want)
	}
}

func TestSubmittingNamesTheFieldsButNotTheirValues(t *testing.T) {
	t.Parallel()
	base, _ := url.Parse("https://prismvideos.com/api")
	for _, tc := range []struct {
		req  prism.SubmitRequest
		want string
	}{
		{prism.SubmitRequest{TemplateID: "tpl_x", Body: map[string]any{"variables": map[string]any{"title": "secret"}, "model": "m"}},
			"submitting template tpl_x at https://prismvideos.com/api\n::debug::submit request fields: model, variables\n"},
		{prism.SubmitRequest{Body: map[string]any{"prompt": "a cat"}},
			"submitting a prompt at https://prismvideos.com/api\n::debug::submit request fields: prompt\n"},
	} {
		var b bytes.Buffer
		Submitting(NewLog(&b, true), tc.req, base)
		if b.String() != tc.want {
			t.Errorf("logged\n%s\nwant\n%s", b.String(), tc.want)
		}
	}
}

// A submit refused again and again warns once, at the first refusal; the
// later ones are debug lines, so the job's annotations are not flooded.
func TestResubmitWarnsOnceThenDebugs(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	p := NewProgress(NewLog(&b, true), nil, time.Time{})
	refused := &prism.Error{StatusCode: 429, Code: "rate_limited", Transient: true}
	p.Event(wait.Event{Kind: wait.Resubmit, Err: refused})
	p.Event(wait.Event{Kind: wait.Resubmit, Err: refused, Wait: 1500 * time.Millisecond})
	p.Event(wait.Event{Kind: wait.Resubmit, Err: refused})
	want := "::warning title=Submit not accepted yet::HTTP 429 rate_limited; the API did not act on it, so it is sent again when the API's rate limit allows. Further refusals are logged as debug only.\n" +
		"::debug::submit: HTTP 429 rate_limited; sent again in 1.5s\n" +
		"::debug::submit: HTTP 429 rate_limited; sent again when the API's rate limit allows\n"
	if b.String() != want {
		t.Errorf("logged\n%s\nwant\n%s", b.String(), want)
	}
	if strings.Contains(b.String(), "Prism API trouble") {
		t.Error("a refused submit was told as a status read's trouble")
	}
}

func TestCaveatsSayWhatOfTheAnswerIsNotUsed(t *testing.T) {
	t.Parallel()
	var ids []string
	for i := range prism.MaxIDs + 1 {
		ids = append(ids, fmt.Sprintf("gen_%d", i+1))
	}
	for _, tc := range []struct {
		name string
		sub  prism.Submission
		want string
	}{
		{"nothing", prism.Submission{IDs: ids[:2]}, ""},
		{"side fields", prism.Submission{IDs: ids[:2], Ignored: []string{`credits_charged is not a number: "twenty"`, "latency_estimate_sec is not an object: 127"}},
			"the submit answer's credits_charged is not a number: \"twenty\"; left empty\nthe submit answer's latency_estimate_sec is not an object: 127; left empty\n"},
		{"unusable entries", prism.Submission{IDs: ids[:2], Unusable: []string{"entry 3: gen_a is listed again"}, UnusableCount: 4, Lost: 3},
			"warning: Unusable entries in the submit answer: 4 of the API's entries cannot be waited for: entry 3: gen_a is listed again; and 3 more. " +
				"Those without a plain ID may be generations that were created and charged: check the Prism dashboard. The step goes on with the 2 usable generation ID(s), " +
				"and ends with exit code 3 (no verdict) for the others, or 1 if the answer marks one failed.\n"},
		{"IDs listed again", prism.Submission{IDs: ids[:2], Unusable: []string{"entry 3: gen_a is listed again"}, UnusableCount: 1},
			"warning: Unusable entries in the submit answer: 1 of the API's entries cannot be waited for: entry 3: gen_a is listed again. The step goes on with the 2 usable generation ID(s).\n"},
		{"more than one step waits for", prism.Submission{IDs: ids}, ""},
	} {
		var b bytes.Buffer
		Caveats(NewLog(&b, false), tc.sub)
		if got := b.String(); !strings.HasPrefix(got, tc.want) || (tc.want == "") != (got == "") {
			t.Errorf("%s: logged\n%s\nwant\n%s", tc.name, got, tc.want)
		}
	}
}

// TestAnnounceListsManyIDsOnBoundedLines: past idsPerLine IDs, each line
// lists idsPerLine of them, numbered, and stays under MaxLine.
func TestAnnounceListsManyIDsOnBoundedLines(t *testing.T) {
	t.Parallel()
	ids := make([]string, 2*idsPerLine+1)
	for i := range ids {
		ids[i] = fmt.Sprintf("gen_%0124d", i+1)
	}
	var b bytes.Buffer
	Announce(NewLog(&b, false), prism.Submission{IDs: ids, CreditsCharged: "3"}, 0, nil)
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	want := []string{
		"submitted 51 generation(s), 3 credits charged:",
		"submitted 1–25: " + strings.Join(ids[:25], ", "),
		"submitted 26–50: " + strings.Join(ids[25:50], ", "),
		"submitted 51–51: " + ids[50],
	}
	if !slices.Equal(lines, want) {
		t.Errorf("logged\n%s\nwant\n%s", b.String(), strings.Join(want, "\n"))
	}
	for _, l := range lines {
		if len(l) > MaxLine {
			t.Errorf("a line of %d bytes", len(l))
		}
	}
	// A multiple of idsPerLine ends on a full line.
	b.Reset()
	LogIDs(NewLog(&b, false), "head", ids[:2*idsPerLine])
	if got := strings.Count(b.String(), "\n"); got != 3 || !strings.HasSuffix(b.String(), "submitted 26–50: "+strings.Join(ids[25:50], ", ")+"\n") {
		t.Errorf("50 IDs: %d lines:\n%s", got, b.String())
	}
	b.Reset()
	Announce(NewLog(&b, false), prism.Submission{IDs: ids[:idsPerLine]}, 0, nil)
	if got := b.String(); got != "submitted 25 generation(s): "+strings.Join(ids[:25], ", ")+"\n" {
		t.Errorf("25 IDs: %s", got)
	}
}

func TestWarnNotWaitedNamesThemBeforeTheWait(t *testing.T) {
	t.Parallel()
	var ids []string
	for i := range prism.MaxIDs + 1 {
		ids = append(ids, fmt.Sprintf("gen_%d", i+1))
	}
	var b bytes.Buffer
	WarnNotWaited(NewLog(&b, false), ids[:prism.MaxIDs], nil)
	if b.Len() != 0 {
		t.Errorf("all waited for, yet: %s", b.String())
	}
	WarnNotWaited(NewLog(&b, false), ids, func(in string) string { return "--" + strings.ReplaceAll(in, "_", "-") })
	if got := b.String(); !strings.HasPrefix(got, "warning: Not waited for: The API created 101 generations, more than the 100 one step waits for: "+
		"this step waits for the first 100 and not for the other 1 (gen_101).") || !strings.Contains(got, "as --generation-id to later steps") {
		t.Errorf("logged %s", got)
	}
}

// TestWarnMarkedNamesTenThenCounts: one warning per ID the answer marks
// failed, with its error when it has one, up to ten, then one for the rest.
func TestWarnMarkedNamesTenThenCounts(t *testing.T) {
	t.Parallel()
	for _, n := range []int{1, 10, 12} {
		var b strings.Builder
		marked := make([]prism.Failed, n)
		for i := range marked {
			marked[i] = prism.Failed{ID: fmt.Sprintf("gen_%d", i+1), Error: "Policy"}
		}
		marked[0].Error = ""
		WarnMarked(NewLog(&b, true), marked)
		got := b.String()
		lines := strings.Count(got, "::warning title=Generation failed::")
		if lines != min(n, 11) || !strings.Contains(got, "::gen_1: the submit answer marks it failed already; a wait for it will fail. Look at it in the Prism dashboard before submitting again, which pays again.\n") ||
			n > 1 && !strings.Contains(got, "::gen_2: the submit answer marks it failed already (Policy); a wait for it will fail. Look at it in the Prism dashboard before submitting again, which pays again.\n") ||
			(n > 10) != strings.Contains(got, "The submit answer marks 2 more IDs failed: the results say which, of the first 500.") ||
			strings.Contains(got, "gen_11") {
			t.Errorf("%d marked: %d warnings\n%s", n, lines, got)
		}
	}
}
