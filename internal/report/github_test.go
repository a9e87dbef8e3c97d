package report

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prism-wait/prism-wait/internal/outcome"
	"github.com/prism-wait/prism-wait/internal/prism"
	"github.com/prism-wait/prism-wait/internal/wait"
)

func TestOutputsCannotBeInjected(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "output")
	hostile := "x\n_GitHubActionsFileCommandDelimeter_\ninjected<<EOF\nowned\nEOF\nstatus=completed"
	if err := WriteOutputs(path, []Output{{"error", hostile}, {"status", "failed"}}); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	got, err := ParseOutputs(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["error"] != hostile || got["status"] != "failed" {
		t.Errorf("outputs %q", got)
	}
	// A second call appends with a new delimiter.
	if err := WriteOutputs(path, []Output{{"more", "y"}}); err != nil {
		t.Fatal(err)
	}
	raw2, _ := os.ReadFile(path)
	if !bytes.HasPrefix(raw2, raw) || bytes.Count(raw2, []byte("ghadelimiter_")) != 6 {
		t.Errorf("second write did not append: %s", raw2)
	}
}

func FuzzOutputsRoundTrip(f *testing.F) {
	f.Add("plain", "line1\nline2")
	f.Add("x\nghadelimiter_00\n", "name<<EOF")
	f.Fuzz(func(t *testing.T, a, b string) {
		path := filepath.Join(t.TempDir(), "output")
		if err := WriteOutputs(path, []Output{{"a", a}, {"b", b}}); err != nil {
			t.Fatal(err)
		}
		raw, _ := os.ReadFile(path)
		got, err := ParseOutputs(string(raw))
		if err != nil || len(got) != 2 || got["a"] != a || got["b"] != b {
			t.Fatalf("round trip of %q, %q gave %q, %v", a, b, got, err)
		}
	})
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

func TestSummaryGolden(t *testing.T) {
	t.Parallel()
	got := sample().Summary()
	if strings.Contains(got, "SECRETSIG") || strings.Contains(got, "X-Amz") {
		t.Error("the summary shows the presigned URL")
	}
	golden := filepath.Join("..", "..", "testdata", "summary.golden.md")
	if *update {
		os.WriteFile(golden, []byte(got), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("summary differs from %s (go test -update to accept):\n%s", golden, got)
	}
}

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

func TestTallyCountsEachEnd(t *testing.T) {
	t.Parallel()
	res := func(status, url string) Result {
		return Result{Result: wait.Result{Gen: prism.Generation{Status: status, VideoURL: url}}}
	}
	if got := (Run{Results: []Result{res("completed", "u"), res("completed", ""), res("failed", ""), res("queued", "")}}).Tally(); got != "1 completed, 1 completed without a usable video, 1 failed, 1 without a verdict" {
		t.Errorf("Tally = %q", got)
	}
	notWaited := Result{Result: wait.Result{Err: outcome.ErrNotWaited}}
	if got := (Run{Created: 5, Results: []Result{res("completed", "u"), notWaited}}).Tally(); got != "1 completed, 4 not waited for" {
		t.Errorf("Tally with 3 created past those listed = %q", got)
	}
	if got := (Run{Created: 3}).Tally(); got != "nothing waited for" {
		t.Errorf("Tally of nothing = %q", got)
	}
}

// TestSummaryProblemKeepsItsAdvice: a long quote from the network is cut
// from the middle of a Problem cell, so that its end, what to do, stays.
func TestSummaryProblemKeepsItsAdvice(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 3000)
	run := Run{Submitted: true, Timeout: time.Minute, IDs: []string{"gen_1"}, Results: []Result{
		{Result: wait.Result{ID: "gen_1", Err: fmt.Errorf("%w; last problem: %s", wait.ErrDeadline, long)}},
	}}
	got := run.Summary()
	row := got[strings.Index(got, "| `gen_1`"):]
	if !strings.HasSuffix(row, "pass gen\\_1 as generation\\_id in place of template\\_id, with a longer timeout. |\n") || !strings.Contains(row, "xxx…\\[cut\\]xxx") || len(row) > 1100 {
		t.Errorf("the row is %d bytes, or lost its end: %q", len(row), row)
	}
}
