package report

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prism-wait/prism-wait/internal/download"
	"github.com/prism-wait/prism-wait/internal/media"
	"github.com/prism-wait/prism-wait/internal/outcome"
	"github.com/prism-wait/prism-wait/internal/prism"
	"github.com/prism-wait/prism-wait/internal/untrusted"
	"github.com/prism-wait/prism-wait/internal/wait"
)

var update = flag.Bool("update", false, "rewrite golden files")

const signed = "https://bucket.s3.amazonaws.com/v/gen_ok.mp4?X-Amz-Date=20260101T120000Z&X-Amz-Expires=3600&X-Amz-Signature=SECRETSIG"

// sample has one of every outcome, with hostile text from the API.
func sample() Run {
	ok := prism.Generation{ID: "gen_ok", Status: "completed", VideoURL: signed, ShareURL: "https://prismvideos.com/share/gen_ok",
		TemplateID: "tpl_1", CreatedAt: "2026-01-01T11:58:00Z", CompletedAt: "2026-01-01T12:00:00Z"}
	return Run{
		Elapsed: 2*time.Minute + 3*time.Second, Requests: 42, Timeout: 10 * time.Minute, IDs: []string{"gen_ok", "gen_bad", "gen_slow"},
		Results: []Result{
			{Result: wait.Result{ID: "gen_ok", Gen: ok}, File: &download.File{Path: "videos/gen_ok.mp4", Bytes: 3 << 20, SHA256: "ab12",
				Media: &media.Info{Container: "mp4", Codec: "avc1", Width: 1920, Height: 1080, Duration: 8500 * time.Millisecond}}},
			{Result: wait.Result{ID: "gen_bad", Gen: prism.Generation{Status: "failed", Error: "bad | <script>\n::error::injected\nline"}}},
			{Result: wait.Result{ID: "gen_slow", Gen: prism.Generation{Status: "generating"}, Err: fmt.Errorf("%w while the generation was %q", wait.ErrDeadline, "generating")}},
		},
	}
}

const key = "prism_sk_report_0123456789"

func TestOutputsHoldOneLinePerID(t *testing.T) {
	t.Parallel()
	outs := map[string]string{}
	for _, o := range sample().Outputs() {
		outs[o.Name] = o.Value
	}
	want := map[string]string{
		"status":         "failed",
		"video_url":      signed + "\n\n",
		"share_url":      "https://prismvideos.com/share/gen_ok\n\n",
		"template_id":    "tpl_1\n\n",
		"created_at":     "2026-01-01T11:58:00Z\n\n",
		"completed_at":   "2026-01-01T12:00:00Z\n\n",
		"error":          "\nbad | <script> ::error::injected line\n",
		"video_path":     "videos/gen_ok.mp4\n\n",
		"video_sha256":   "ab12\n\n",
		"video_duration": "8.5\n\n",
		"video_width":    "1920\n\n",
		"video_height":   "1080\n\n",
	}
	for name, v := range want {
		if outs[name] != v {
			t.Errorf("%s = %q, want %q", name, outs[name], v)
		}
	}
	var results []map[string]any
	if err := json.Unmarshal([]byte(outs["results"]), &results); err != nil || len(results) != 3 {
		t.Fatalf("results: %v", err)
	}
	if results[0]["video_url_expires_at"] != "2026-01-01T13:00:00Z" || results[0]["video_bytes"] != float64(3<<20) ||
		results[1]["video_url"] != nil || results[2]["status"] != "generating" || results[0]["video_path"] != "videos/gen_ok.mp4" {
		t.Errorf("results: %v", results)
	}
	if results[0]["video_codec"] != "avc1" || results[0]["video_duration_s"] != 8.5 || results[0]["video_width"] != float64(1920) || results[0]["video_height"] != float64(1080) {
		t.Errorf("results[0] lacks the media facts: %v", results[0])
	}
	for _, name := range []string{"video_codec", "video_duration_s", "video_width", "video_height"} {
		if v, ok := results[1][name]; !ok || v != nil {
			t.Errorf("results[1][%q] = %v, want null", name, v)
		}
	}
	if strings.Contains(outs["results"], "\n") {
		t.Error("results must be one line")
	}
}

func TestURLsAreWrittenOnlyWhenUsableAndFreeOfSecrets(t *testing.T) {
	t.Parallel()
	run := Run{Scrub: untrusted.New(key), Results: []Result{
		{Result: wait.Result{ID: "a", Gen: prism.Generation{Status: "completed", VideoURL: "https://s3/v.mp4?k=" + key, ShareURL: "javascript:alert(1)"}}},
		{Result: wait.Result{ID: "b", Gen: prism.Generation{Status: "completed", VideoURL: signed, ShareURL: "https://prismvideos.com/s/b"}}},
	}}
	outs := map[string]string{}
	for _, o := range run.Outputs() {
		outs[o.Name] = o.Value
	}
	if outs["video_url"] != "\n"+signed || outs["share_url"] != "\nhttps://prismvideos.com/s/b" || strings.Contains(outs["results"], key) {
		t.Errorf("outputs %q", outs)
	}
	sum := run.Summary()
	if strings.Contains(sum, "javascript") || !strings.Contains(sum, "[open](https://prismvideos.com/s/b)") {
		t.Errorf("summary:\n%s", sum)
	}
}

// TestOutputsAreScrubbedAndBounded: 100 IDs failing with megabyte errors
// that carry the key, control characters and command syntax.
func TestOutputsAreScrubbedAndBounded(t *testing.T) {
	t.Parallel()
	huge := "render failed ##[set-output name=x;]y \x1b[31m\x00 " + key + " " + strings.Repeat("é", 1<<19)
	run := Run{Scrub: untrusted.New(key)}
	for i := range 100 {
		id := fmt.Sprintf("gen_%03d", i)
		run.IDs = append(run.IDs, id)
		// The longest URLs prism keeps, beside megabyte text.
		long := prism.Generation{Status: "completed", VideoURL: "https://s3.test/v.mp4?X-Amz-Signature=" + strings.Repeat("s", prism.MaxVideoURL-40),
			ShareURL: "https://prismvideos.com/s/" + strings.Repeat("x", 480), TemplateID: huge, CreatedAt: huge, CompletedAt: huge}
		if i%2 == 0 {
			long = prism.Generation{Status: "failed", Error: huge, TemplateID: huge, ShareURL: huge}
		}
		run.Results = append(run.Results, Result{Result: wait.Result{ID: id, Gen: long}})
	}
	path := filepath.Join(t.TempDir(), "output")
	if err := WriteOutputs(path, run.Outputs()); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(path)
	// Under 1 MiB as the runner weighs strings, in UTF-16: at most two
	// bytes per byte of UTF-8.
	if 2*len(raw) > 1<<20 {
		t.Errorf("GITHUB_OUTPUT is %d bytes for 100 IDs, want under 512 KiB", len(raw))
	}
	for _, bad := range []string{key, "##[", "\x1b", "\x00", "prism_sk_"} {
		if strings.Contains(string(raw), bad) {
			t.Errorf("outputs contain %q", bad)
		}
	}
	outs, err := ParseOutputs(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(outs["error"], "\n")
	if len(lines) != 100 || !strings.HasSuffix(lines[0], untrusted.CutMarker) || !utf8.ValidString(outs["error"]) || len(strings.Split(outs["video_url"], "\n")[1]) < prism.MaxVideoURL-10 {
		t.Errorf("error output: %d lines, first ends %q", len(lines), lines[0][max(0, len(lines[0])-20):])
	}
	var results []map[string]any
	if err := json.Unmarshal([]byte(outs["results"]), &results); err != nil || len(results) != 100 {
		t.Fatalf("results: %v", err)
	}
	if outs["generation_id"] != strings.Join(run.IDs, "\n") {
		t.Errorf("generation_id output %q", outs["generation_id"][:40])
	}
	// One ID keeps the full 2 KiB per field.
	run.Results, run.IDs = run.Results[:1], run.IDs[:1]
	run.Results[0].Gen.Error = huge
	for _, o := range run.Outputs() {
		if o.Name == "error" && (len(o.Value) > maxField || len(o.Value) < maxField-16) {
			t.Errorf("one ID's error is %d bytes, want about %d", len(o.Value), maxField)
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

func TestExpiresAt(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		signed:            "2026-01-01T13:00:00Z",
		"https://x/v.mp4": "",
		"https://x/v.mp4?X-Amz-Date=bad&X-Amz-Expires=3600":          "",
		"https://x/v.mp4?X-Amz-Date=20260101T120000Z&X-Amz-Expires=": "",
		"": "",
	} {
		if got := ExpiresAt(in); got != want {
			t.Errorf("ExpiresAt(%q) = %q, want %q", in, got, want)
		}
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

func FuzzExpiresAt(f *testing.F) {
	f.Add(signed)
	f.Add("https://x/v?X-Amz-Date=99991231T235959Z&X-Amz-Expires=604800")
	f.Add("%zz")
	f.Fuzz(func(t *testing.T, u string) {
		got := ExpiresAt(u)
		if got == "" {
			return
		}
		if _, err := time.Parse(time.RFC3339, got); err != nil {
			t.Fatalf("ExpiresAt(%q) = %q, not RFC 3339", u, got)
		}
	})
}

func TestProblemsPutTheDecisiveFirst(t *testing.T) {
	t.Parallel()
	run := sample()
	run.Results = append(run.Results, Result{Result: wait.Result{ID: "gen_404", Err: &prism.Error{StatusCode: 404}}})
	var titles []string
	for _, p := range run.Problems() {
		titles = append(titles, p[0])
	}
	if got := strings.Join(titles, ", "); got != "Prism API refused the request, Generation failed, No verdict in time" {
		t.Errorf("order: %s", got)
	}
}

func TestSubmitProblems(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err         error
		code        int
		title, says string
	}{
		{&prism.Error{Method: "POST", StatusCode: 500, Unknown: true}, outcome.ExitRefused, "Submit outcome unknown", "check the Prism dashboard before re-running"},
		{&prism.Error{Method: "POST", StatusCode: 402, Code: "insufficient_credits"}, outcome.ExitRefused, "Prism API refused the submission", "Top up the account's credits"},
		{&prism.Error{Method: "POST", StatusCode: 422}, outcome.ExitRefused, "Prism API refused the submission", "cannot be generated through the API"},
		{&prism.Error{Method: "POST", StatusCode: 400, Message: "Missing required variable: title"}, outcome.ExitRefused, "Prism API refused the submission", "Missing required variable: title). Fix the variable or field it names in variables or options"},
		{&prism.Error{Method: "POST", StatusCode: 404, Code: "not_found"}, outcome.ExitRefused, "Prism API refused the submission", "Check template_id"},
		{&prism.Error{Method: "POST", StatusCode: 404}, outcome.ExitRefused, "Prism API refused the submission", "check that base_url points at the Prism API's root"},
		{&prism.Error{Method: "POST", StatusCode: 401}, outcome.ExitRefused, "Prism API refused the submission", "Check that the secret passed as api_key"},
		{fmt.Errorf("%w while submitting", wait.ErrDeadline), outcome.ExitTimeout, "Submit did not finish", "Nothing was created or charged"},
		// As cli and wait make them: the deadline wrapping the 429.
		{fmt.Errorf("%w before the API would answer again (Retry-After 1h0m0s); last problem: %w", wait.ErrDeadline,
			&prism.Error{Method: "POST", StatusCode: 429, Transient: true}), outcome.ExitTimeout, "Submit did not finish", "Re-run, or raise timeout"},
		{fmt.Errorf("%w while submitting (the last attempt: %w)", wait.ErrCanceled,
			&prism.Error{Method: "POST", StatusCode: 429, Transient: true}), outcome.ExitTimeout, "Submit did not finish", "Nothing was created"},
		// The deadline cut a POST that was written: outcome unknown.
		{&prism.Error{Method: "POST", Unknown: true, Err: wait.ErrDeadline}, outcome.ExitRefused, "Submit outcome unknown", "may have been created"},
	} {
		run := Run{Submit: tc.err, IDs: nil}
		p := run.Problems()
		if got := outcome.Code(run.Facts()); got != tc.code || len(p) != 1 || p[0][0] != tc.title || !strings.Contains(p[0][1], tc.says) {
			t.Errorf("%v: exit %d, problems %q; want %d, %q saying %q", tc.err, got, p, tc.code, tc.title, tc.says)
		}
		if !strings.Contains(run.Summary(), tc.title) {
			t.Errorf("%v: the summary does not say %q", tc.err, tc.title)
		}
	}
	cli := Run{Submit: &prism.Error{Method: "POST", StatusCode: 404, Code: "not_found"}, Terms: func(in string) string { return "--" + strings.ReplaceAll(in, "_", "-") }}
	if p := cli.Problems(); !strings.Contains(p[0][1], "Check --template-id") {
		t.Errorf("Terms not applied: %q", p)
	}
}

func TestInvalidInputIsExit2(t *testing.T) {
	t.Parallel()
	if got := outcome.Code(Run{Invalid: []error{errors.New("x")}, Submit: errors.New("x")}.Facts()); got != outcome.ExitInput {
		t.Errorf("exit %d", got)
	}
}

func TestRequestCountSaysThe429s(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		run  Run
		want string
	}{
		{Run{Requests: 12}, "12 requests"},
		{Run{Requests: 1}, "1 request"},
		{Run{Requests: 0}, "0 requests"},
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
		99.94:    "99.9 requests/s",
		100:      "100 requests/s",
		10000.4:  "10000 requests/s",
		0.25:     "one request every 4s",
		1.0 / 60: "one request every 1m0s",
		// Below one request a second, the interval is rounded to a tenth
		// of a second: "every 3.3s", not "every 3.333333333s".
		0.3:     "one request every 3.3s",
		0.7:     "one request every 1.4s",
		1.0 / 7: "one request every 7s",
	} {
		if got := PerSecond(r); got != want {
			t.Errorf("PerSecond(%v) = %q, want %q", r, got, want)
		}
	}
}

// TestMediaFactsWhereKnown: a video saved unverified, or whose container
// gives no size or duration, leaves those outputs empty, never 0.
func TestMediaFactsWhereKnown(t *testing.T) {
	t.Parallel()
	done := prism.Generation{Status: "completed", VideoURL: "https://x/v.mp4"}
	run := Run{Results: []Result{
		{Result: wait.Result{ID: "gen_a", Gen: done}, File: &download.File{Path: "v/gen_a.avi", Bytes: 10}},
		{Result: wait.Result{ID: "gen_b", Gen: done}, File: &download.File{Path: "v/gen_b.webm", Bytes: 10, Media: &media.Info{Container: "webm", Codec: "vp09\n::x"}}},
		{Result: wait.Result{ID: "gen_c", Gen: done}, File: &download.File{Path: "v/gen_c.mp4", Bytes: 10, Media: &media.Info{Container: "mp4", Codec: "avc1", Width: 640, Height: 360, Duration: 1234567 * time.Microsecond}}},
		{Result: wait.Result{ID: "gen_d", Gen: done}, File: &download.File{Path: "v/gen_d.mp4", Bytes: 10, Media: &media.Info{Container: "mp4", Width: 0, Height: 360}}},
		{Result: wait.Result{ID: "gen_e", Gen: done}, File: &download.File{Path: "v/gen_e.mp4", Bytes: 10, Media: &media.Info{Container: "mp4", Width: 640, Height: 0}}},
	}}
	outs := map[string]string{}
	for _, o := range run.Outputs() {
		outs[o.Name] = o.Value
	}
	for name, want := range map[string]string{"video_duration": "\n\n1.235\n\n", "video_width": "\n\n640\n\n640", "video_height": "\n\n360\n360\n"} {
		if outs[name] != want {
			t.Errorf("%s = %q, want %q", name, outs[name], want)
		}
	}
	var results []map[string]any
	json.Unmarshal([]byte(outs["results"]), &results)
	if len(results) != 5 || results[0]["video_codec"] != nil || results[1]["video_codec"] != "vp09 ::x" || results[1]["video_width"] != nil || results[2]["video_duration_s"] != 1.235 {
		t.Errorf("results: %v", results)
	}
	summary := run.Summary()
	for _, want := range []string{"| v/gen\\_a.avi (10 B) |", "| v/gen\\_b.webm (10 B) |", "| v/gen\\_c.mp4 (10 B, 640x360, 1.235 s) |", "| v/gen\\_d.mp4 (10 B) |", "| v/gen\\_e.mp4 (10 B) |"} {
		if !strings.Contains(summary, want) {
			t.Errorf("the summary lacks %q:\n%s", want, summary)
		}
	}
}

// TestGenerationsNotWaitedForAreNoSuccess: a submitted generation past the
// first prism.MaxIDs has status not_waited and no verdict (exit 3, below a
// failure), and all of them are one annotation, however many.
func TestGenerationsNotWaitedForAreNoSuccess(t *testing.T) {
	t.Parallel()
	var run Run
	for i := range prism.MaxIDs + 15 {
		res := Result{Result: wait.Result{ID: fmt.Sprintf("gen_%d", i+1), Gen: prism.Generation{Status: "completed", VideoURL: "https://s3/v.mp4"}}}
		if i >= prism.MaxIDs {
			res = Result{Result: wait.Result{ID: res.ID, Err: outcome.ErrNotWaited}}
		}
		run.Results = append(run.Results, res)
		run.IDs = append(run.IDs, res.ID)
	}
	if code, status, tally := outcome.Code(run.Facts()), run.Status(), run.Tally(); code != outcome.ExitTimeout || status != outcome.StatusNotWaited || tally != "100 completed, 15 not waited for" {
		t.Errorf("code %d, status %q, tally %q", code, status, tally)
	}
	problems := run.Problems()
	if len(problems) != 1 || problems[0][0] != "Not waited for" ||
		!strings.Contains(problems[0][1], "not for the other 15 (gen_101, gen_102, gen_103, gen_104, gen_105, gen_106, gen_107, gen_108, gen_109, gen_110 and 5 more)") {
		t.Errorf("problems %q", problems)
	}
	var results []struct{ ID, Status string }
	if err := json.Unmarshal(run.JSON(), &results); err != nil || results[99].Status != "completed" || results[100].Status != outcome.StatusNotWaited || results[114].ID != "gen_115" {
		t.Errorf("results %+v, %v", results[99:], err)
	}
	if !strings.Contains(run.Summary(), "| `gen_115` | not\\_waited |") {
		t.Errorf("summary:\n%s", run.Summary()[len(run.Summary())-400:])
	}
	// A failure among the waited ones still decides.
	run.Results[0].Gen.Status = prism.StatusFailed
	if code := outcome.Code(run.Facts()); code != outcome.ExitFailed {
		t.Errorf("code %d with a failure", code)
	}
}

// TestFitListsFewerNotWaitedFor: the longest URLs prism keeps on 100
// completed generations, beside 400 more not waited for, still fit the
// outputs: Fit lists fewer of those not waited for (never none), keeps
// every waited one and the API's count, and the advice names how many
// are listed. 100 IDs alone with the longest URLs fit without it.
func TestFitListsFewerNotWaitedFor(t *testing.T) {
	t.Parallel()
	id := func(i int) string { return fmt.Sprintf("gen_%0124d", i) }
	long := prism.Generation{Status: "completed", VideoURL: "https://s3.test/v.mp4?X-Amz-Signature=" + strings.Repeat("s", prism.MaxVideoURL-38),
		ShareURL: "https://prismvideos.com/s/" + strings.Repeat("x", 256-26)}
	run := Run{Scrub: untrusted.New(key), Submitted: true, Created: 3000}
	for i := range MaxListed {
		run.IDs = append(run.IDs, id(i))
		r := Result{Result: wait.Result{ID: id(i), Gen: long}}
		if i >= prism.MaxIDs {
			r = Result{Result: wait.Result{ID: id(i), Err: outcome.ErrNotWaited}}
		}
		run.Results = append(run.Results, r)
	}
	if got := prism.UsableURL(long.VideoURL); got != long.VideoURL {
		t.Fatalf("the video URL is not usable: %d bytes", len(long.VideoURL))
	}
	fit := run.Fit()
	n := len(fit.IDs)
	if size(fit.Outputs()) > maxOutputs || n <= prism.MaxIDs || n >= MaxListed || len(fit.Results) != n || fit.Created != 3000 {
		t.Fatalf("Fit: %d listed, %d results, created %d, %d bytes of outputs", n, len(fit.Results), fit.Created, size(fit.Outputs()))
	}
	if code := outcome.Code(fit.Facts()); code != outcome.ExitTimeout {
		t.Errorf("exit code %d after Fit, want 3", code)
	}
	if p := fit.Problems(); len(p) != 1 || !strings.Contains(p[0][1], fmt.Sprintf("the first %d are in the results", n)) || !strings.HasPrefix(p[0][1], "The API created 3000 generations") {
		t.Errorf("problems %q", p)
	}
	if got := fit.Tally(); got != "100 completed, 2900 not waited for" {
		t.Errorf("tally %q", got)
	}
	// The waited-for alone fit, and Fit leaves what fits alone.
	alone := run
	alone.IDs, alone.Results, alone.Created = run.IDs[:prism.MaxIDs], run.Results[:prism.MaxIDs], 0
	if s := size(alone.Outputs()); s > maxOutputs {
		t.Errorf("100 completed with the longest URLs: %d bytes of outputs, over %d", s, maxOutputs)
	}
	if f := alone.Fit(); len(f.IDs) != prism.MaxIDs || f.Created != prism.MaxIDs {
		t.Errorf("Fit of what fits: %d listed, created %d", len(f.IDs), f.Created)
	}
	small := run
	small.IDs, small.Results = run.IDs[:prism.MaxIDs+2], run.Results[:prism.MaxIDs+2]
	if f := small.Fit(); len(f.IDs) != prism.MaxIDs+2 {
		t.Errorf("Fit of what fits: %d listed", len(f.IDs))
	}
}

// TestLostEntriesAreNoSuccess: entries of the submit answer without an ID
// make the status, tally, summary and exit code say so, failed when the
// answer marks one failed.
func TestLostEntriesAreNoSuccess(t *testing.T) {
	t.Parallel()
	done := Result{Result: wait.Result{ID: "gen_a", Gen: prism.Generation{Status: "completed", VideoURL: "https://v/a.mp4"}}}
	for _, tc := range []struct {
		lost                *outcome.Lost
		code                int
		status, tally, bold string
	}{
		{nil, outcome.ExitOK, "completed", "1 completed", ""},
		{&outcome.Lost{Count: 2, What: "entry 2: x"}, outcome.ExitTimeout, outcome.StatusNotWaited, "1 completed, 2 with no ID to wait for",
			"**Not waited for:** The submit answer has entries with no generation ID to wait for (2: entry 2: x)."},
		{&outcome.Lost{Count: 2, Failed: 1, What: "entry 2: x"}, outcome.ExitFailed, "failed", "1 completed, 2 with no ID to wait for",
			"**Generation failed:** The submit answer marks 1 of its entries failed"},
	} {
		run := Run{IDs: []string{"gen_a"}, Results: []Result{done}, Lost: tc.lost, Submitted: true}
		summary := run.Summary()
		if code := outcome.Code(run.Facts()); code != tc.code || run.Status() != tc.status || run.Tally() != tc.tally ||
			!strings.Contains(summary, tc.bold) || (tc.bold == "") != !strings.Contains(summary, "**") {
			t.Errorf("lost %+v: exit %d, status %q, tally %q, summary:\n%s", tc.lost, code, run.Status(), run.Tally(), summary)
		}
		// wait: false hands on what it can, and ends as a wait would.
		handOn := Run{IDs: []string{"gen_a"}, Lost: tc.lost, Submitted: true, NotWaiting: true}
		want := "1 submitted"
		if tc.lost != nil {
			want += ", 2 with no ID to hand on"
		}
		status := ""
		if tc.status == prism.StatusFailed {
			status = prism.StatusFailed
		}
		if code := outcome.Code(handOn.Facts()); code != tc.code || handOn.Tally() != want || handOn.Status() != status {
			t.Errorf("lost %+v, not waiting: exit %d, tally %q, status %q, want %d, %q, %q", tc.lost, code, handOn.Tally(), handOn.Status(), tc.code, want, status)
		}
	}
}

// TestMarkedFailedIsShownWithoutAWait: a run that does not wait, whose
// submit answer marks an ID failed, says so in its status, results and
// summary; failing is the wait's, so that it waits for the others.
func TestMarkedFailedIsShownWithoutAWait(t *testing.T) {
	t.Parallel()
	run := Run{IDs: []string{"gen_a", "gen_b"}, Created: 2, Marked: []prism.Failed{{ID: "gen_b", Error: "Policy ::x"}}, Submitted: true, NotWaiting: true}
	if code := outcome.Code(run.Facts()); code != outcome.ExitOK || run.Status() != prism.StatusFailed || run.Tally() != "2 submitted, 1 of them marked failed" {
		t.Errorf("exit %d, status %q, tally %q", code, run.Status(), run.Tally())
	}
	summary := run.Summary()
	for _, want := range []string{"| `gen_a` | submitted | | | | |", "| `gen_b` | failed | | | | gen\\_b: the submit answer marks it failed already (Policy ::x); a wait for it will fail. Look at it in the Prism dashboard before submitting again, which pays again. |"} {
		if !strings.Contains(summary, want) {
			t.Errorf("the summary lacks %q:\n%s", want, summary)
		}
	}
	var results []struct{ ID, Status, Error string }
	if err := json.Unmarshal(run.JSON(), &results); err != nil || fmt.Sprint(results) != "[{gen_a submitted } {gen_b failed Policy ::x}]" {
		t.Errorf("results %v (%v)", results, err)
	}
	outs := map[string]string{}
	for _, o := range run.Outputs() {
		outs[o.Name] = o.Value
	}
	if outs["error"] != "\nPolicy ::x" || outs["video_url"] != "\n" || outs["generation_id"] != "gen_a\ngen_b" {
		t.Errorf("outputs: one line per ID, error the answer's: %q", outs)
	}
	run.Marked = nil
	if run.Tally() != "2 submitted" || run.Status() != "" || strings.Contains(run.Summary(), "failed") {
		t.Errorf("none marked: tally %q, summary\n%s", run.Tally(), run.Summary())
	}
}

// TestOutputsLostSaysHowToWaitAgainOnlyWhenSomethingWasSubmitted.
func TestOutputsLostSaysHowToWaitAgainOnlyWhenSomethingWasSubmitted(t *testing.T) {
	t.Parallel()
	err := errors.New("failed to open output")
	for _, tc := range []struct {
		run     Run
		charged bool
	}{
		{Run{Submitted: true, IDs: []string{"gen_a"}}, true},
		{Run{Submitted: true, IDs: []string{"gen_a"}, Submit: errors.New("cut")}, false}, // a failed submit: maybe nothing was created
		{Run{Submitted: true}, false},
		{Run{IDs: []string{"gen_a"}}, false}, // given IDs
	} {
		v := tc.run.OutputsLost(err)
		if v.Code != outcome.ExitFailed || strings.Contains(v.Advice, "charged") != tc.charged {
			t.Errorf("%+v: %+v", tc.run, v)
		}
	}
}

// With wait: false, long errors of IDs marked failed shrink as the
// outputs need: no ID the API created and charged is cut from them.
func TestNotWaitingOutputsShrinkTheErrorsNotTheIDs(t *testing.T) {
	t.Parallel()
	run := Run{Submitted: true, NotWaiting: true}
	for i := range MaxListed {
		id := fmt.Sprintf("gen_%03d", i)
		run.IDs = append(run.IDs, id)
		if i%2 == 0 {
			run.Marked = append(run.Marked, prism.Failed{ID: id, Error: strings.Repeat("e", 2000)})
		}
	}
	fitted := run.Fit()
	if n := len(fitted.IDs); n != MaxListed {
		t.Errorf("%d IDs kept, want all %d", n, MaxListed)
	}
	if n := size(fitted.Outputs()); n > maxOutputs {
		t.Errorf("outputs of %d bytes, over %d", n, maxOutputs)
	}
}
