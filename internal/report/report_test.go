package report

import (
	"bytes"
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

	"github.com/prism-wait/prism-wait/internal/crash"
	"github.com/prism-wait/prism-wait/internal/download"
	"github.com/prism-wait/prism-wait/internal/media"
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

func TestExitCodePrecedence(t *testing.T) {
	t.Parallel()
	refused := Result{Result: wait.Result{Err: &prism.Error{StatusCode: 404}}}
	failed := Result{Result: wait.Result{Gen: prism.Generation{Status: "failed"}}}
	refreshPastDeadline := Result{Result: wait.Result{Gen: prism.Generation{Status: "completed", VideoURL: "x"}},
		FileErr: &download.Error{Err: fmt.Errorf("no fresh URL: %w", wait.ErrDeadline)}}
	download := Result{Result: wait.Result{Gen: prism.Generation{Status: "completed", VideoURL: "x"}}, FileErr: &download.Error{}}
	timeout := Result{Result: wait.Result{Err: wait.ErrDeadline}}
	cancelledDownload := Result{Result: wait.Result{Gen: prism.Generation{Status: "completed", VideoURL: "x"}}, FileErr: wait.ErrCanceled}
	transientAtDeadline := Result{Result: wait.Result{Err: fmt.Errorf("%w: %w", wait.ErrDeadline, &prism.Error{StatusCode: 503, Transient: true})}}
	ok := Result{Result: wait.Result{Gen: prism.Generation{Status: "completed", VideoURL: "x"}}}
	for _, tc := range []struct {
		rs   []Result
		want int
	}{
		{nil, ExitOK},
		{[]Result{ok, ok}, ExitOK},
		{[]Result{ok, timeout}, ExitTimeout},
		{[]Result{transientAtDeadline}, ExitTimeout},
		{[]Result{cancelledDownload}, ExitTimeout},
		{[]Result{refreshPastDeadline}, ExitTimeout},
		{[]Result{refreshPastDeadline, download}, ExitDownload},
		{[]Result{timeout, download}, ExitDownload},
		{[]Result{download, failed, timeout}, ExitFailed},
		{[]Result{failed, refused, timeout, download}, ExitRefused},
	} {
		if got := (Run{Results: tc.rs}).ExitCode(); got != tc.want {
			t.Errorf("ExitCode(%d results) = %d, want %d", len(tc.rs), got, tc.want)
		}
	}
}

func TestStatus(t *testing.T) {
	t.Parallel()
	res := func(status, url string) Result {
		return Result{Result: wait.Result{Gen: prism.Generation{Status: status, VideoURL: url}}}
	}
	for _, tc := range []struct {
		rs   []Result
		want string
	}{
		{[]Result{res("completed", "u"), res("completed", "u")}, "completed"},
		{[]Result{res("completed", "u"), res("generating", ""), res("failed", "")}, "failed"},
		{[]Result{res("completed", "u"), res("generating", "")}, "generating"},
		{[]Result{res("queued", "")}, "queued"},
		{[]Result{res("", "")}, ""},
		{nil, ""}, // invalid input: nothing was waited for
	} {
		if got := (Run{Results: tc.rs}).Status(); got != tc.want {
			t.Errorf("Status() = %q, want %q", got, tc.want)
		}
	}
}

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

func TestLogEscapesUntrustedText(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	l := NewLog(&b, true)
	l.Mask("prism_sk_secret")
	l.Infof("status %s", "x\n::add-mask::y\r\n::stop-commands::z")
	l.Errorf("Generation gen_1 failed", "reason: %s", "100%\n::error::fake")
	l.Warningf("a:b,c", "w")
	l.Debugf("d\nx")
	l.Infof("echo %s ##[set-output name=x;]y", "prism_sk_secret")
	l.Infof("%s", "::stop-commands::tok")
	want := "::add-mask::prism_sk_secret\n" +
		"status x ::add-mask::y  ::stop-commands::z\n" +
		"::error title=Generation gen_1 failed::reason: 100%25 ::error::fake\n" +
		"::warning title=a%3Ab%2Cc::w\n" +
		"::debug::d x\n" +
		"echo *** ## [set-output name=x;]y\n" +
		": :stop-commands::tok\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n")[1:] {
		if strings.HasPrefix(line, "::") && !strings.HasPrefix(line, "::error ") && !strings.HasPrefix(line, "::warning ") && !strings.HasPrefix(line, "::debug::") {
			t.Errorf("unexpected command line %q", line)
		}
	}
}

func TestPlainLog(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	l := NewLog(&b, false)
	l.Mask("prism_sk_secret")
	l.Debugf("hidden")
	l.Errorf("Timeout", "gen_1\nstill going")
	if b.String() != "error: Timeout: gen_1 still going\n" {
		t.Errorf("got %q", b.String())
	}
}

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

func TestProblemsSayWhatToDo(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&prism.Error{StatusCode: 401, Code: "unauthorized"}, "Check that the secret passed as api_key"},
		{&prism.Error{StatusCode: 403}, "templates:read"},
		{&prism.Error{StatusCode: 404}, "Check the ID, and that it belongs to the account"},
		{&prism.Error{StatusCode: 400}, "check that base_url"},
		{fmt.Errorf("%w while the generation was %q", wait.ErrDeadline, "generating"), "Raise timeout (now 10m0s)"},
	} {
		r := Result{Result: wait.Result{ID: "gen_1", Err: tc.err}}
		if got := (Run{}).say(r.Problem(10 * time.Minute)); !strings.Contains(got, tc.want) {
			t.Errorf("Problem(%v) = %q, want it to say %q", tc.err, got, tc.want)
		}
	}
	if got := (Result{FileErr: errors.New("x")}).Problem(time.Minute); got != "x" {
		t.Errorf("download problem %q", got)
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

func TestStatusIsCompletedOnlyWithUsableVideos(t *testing.T) {
	t.Parallel()
	res := func(status, url string) Result {
		return Result{Result: wait.Result{Gen: prism.Generation{Status: status, VideoURL: url}}}
	}
	for _, tc := range []struct {
		rs   []Result
		want string
	}{
		{[]Result{res("completed", "u"), res("completed", "")}, StatusNoVideo},
		{[]Result{res("completed", ""), res("failed", "")}, "failed"},
		{[]Result{res("generating", ""), res("completed", "")}, "generating"},
		{[]Result{res("completed", "u")}, "completed"},
	} {
		if got := (Run{Results: tc.rs}).Status(); got != tc.want {
			t.Errorf("Status() = %q, want %q", got, tc.want)
		}
	}
	if got := Tally([]Result{res("completed", "u"), res("completed", ""), res("failed", ""), res("queued", "")}); got != "1 completed, 1 completed without a usable video, 1 failed, 1 without a verdict" {
		t.Errorf("Tally = %q", got)
	}
}

func TestWorse(t *testing.T) {
	t.Parallel()
	order := []int{ExitOK, ExitTimeout, ExitDownload, ExitFailed, ExitRefused, ExitInput}
	for i, a := range order {
		for j, b := range order {
			want := order[max(i, j)]
			if got := Worse(a, b); got != want {
				t.Errorf("Worse(%d, %d) = %d, want %d", a, b, got, want)
			}
		}
	}
}

const key = "prism_sk_report_0123456789"

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
	if len(raw) > 800<<10 {
		t.Errorf("GITHUB_OUTPUT is %d bytes for 100 IDs, want under 800 KiB", len(raw))
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

func TestSubmitProblems(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err         error
		code        int
		title, says string
	}{
		{&prism.Error{Method: "POST", StatusCode: 500, Unknown: true}, ExitRefused, "Submit outcome unknown", "check the Prism dashboard before re-running"},
		{&prism.Error{Method: "POST", StatusCode: 402, Code: "insufficient_credits"}, ExitRefused, "Prism API refused the submission", "Top up the account's credits"},
		{&prism.Error{Method: "POST", StatusCode: 422}, ExitRefused, "Prism API refused the submission", "cannot be generated through the API"},
		{&prism.Error{Method: "POST", StatusCode: 400, Message: "Missing required variable: title"}, ExitRefused, "Prism API refused the submission", "Missing required variable: title). Fix the variable or field it names in variables or options"},
		{&prism.Error{Method: "POST", StatusCode: 404}, ExitRefused, "Prism API refused the submission", "Check template_id"},
		{&prism.Error{Method: "POST", StatusCode: 401}, ExitRefused, "Prism API refused the submission", "Check that the secret passed as api_key"},
		{fmt.Errorf("%w while submitting", wait.ErrDeadline), ExitTimeout, "Submit did not finish", "Nothing was created or charged"},
		// As cli and wait make them: the deadline wrapping the 429.
		{fmt.Errorf("%w before the API would answer again (Retry-After 1h0m0s); last problem: %w", wait.ErrDeadline,
			&prism.Error{Method: "POST", StatusCode: 429, Transient: true}), ExitTimeout, "Submit did not finish", "Re-run, or raise timeout"},
		{fmt.Errorf("%w while submitting; nothing was created: the API refused every attempt (last: %w)", wait.ErrCanceled,
			&prism.Error{Method: "POST", StatusCode: 429, Transient: true}), ExitTimeout, "Submit did not finish", "Nothing was created"},
		// The deadline cut a POST that was written: outcome unknown.
		{&prism.Error{Method: "POST", Unknown: true, Err: wait.ErrDeadline}, ExitRefused, "Submit outcome unknown", "may have been created"},
	} {
		run := Run{Submit: tc.err, IDs: nil}
		p := run.Problems()
		if got := run.ExitCode(); got != tc.code || len(p) != 1 || p[0][0] != tc.title || !strings.Contains(p[0][1], tc.says) {
			t.Errorf("%v: exit %d, problems %q; want %d, %q saying %q", tc.err, got, p, tc.code, tc.title, tc.says)
		}
		if !strings.Contains(run.Summary(), tc.title) {
			t.Errorf("%v: the summary does not say %q", tc.err, tc.title)
		}
	}
	cli := Run{Submit: &prism.Error{Method: "POST", StatusCode: 404}, Terms: strings.NewReplacer("{template_id}", "--template-id")}
	if p := cli.Problems(); !strings.Contains(p[0][1], "Check --template-id") {
		t.Errorf("Terms not applied: %q", p)
	}
}

func TestPanicIsAnInternalError(t *testing.T) {
	t.Parallel()
	r := Result{Result: wait.Result{ID: "gen_1", Err: &crash.Panic{Value: "boom"}}}
	if r.Code() != ExitFailed || r.Title() != "Internal error" || !strings.Contains(r.Problem(time.Minute), "This is a bug in prism-wait") {
		t.Errorf("code %d title %q problem %q", r.Code(), r.Title(), r.Problem(time.Minute))
	}
	if got := (Run{Results: []Result{r, {Result: wait.Result{Err: wait.ErrDeadline}}}}).ExitCode(); got != ExitFailed {
		t.Errorf("exit %d, want 1 above a timeout", got)
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
	p.Estimate(2 * time.Minute)
	p.Heartbeat(start.Add(time.Minute))
	p.Heartbeat(start.Add(150 * time.Second))
	if want := "still waiting after 1m0s: gen_a not read yet\nstill waiting after 2m30s (30s past Prism's typical 2m0s): gen_a not read yet\n"; b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

func TestLogLinesAreBounded(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	l := NewLog(&b, true)
	l.Infof("%s", strings.Repeat("x", 1<<20))
	l.Errorf("T", "%s", strings.Repeat("y", 1<<20))
	for _, line := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		if len(line) > MaxLine+100 {
			t.Errorf("a line of %d bytes", len(line))
		}
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

func TestInvalidInputIsExit2(t *testing.T) {
	t.Parallel()
	if got := (Run{Invalid: true, Submit: errors.New("x")}).ExitCode(); got != ExitInput {
		t.Errorf("exit %d", got)
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
	}}
	outs := map[string]string{}
	for _, o := range run.Outputs() {
		outs[o.Name] = o.Value
	}
	for name, want := range map[string]string{"video_duration": "\n\n1.235", "video_width": "\n\n640", "video_height": "\n\n360"} {
		if outs[name] != want {
			t.Errorf("%s = %q, want %q", name, outs[name], want)
		}
	}
	var results []map[string]any
	json.Unmarshal([]byte(outs["results"]), &results)
	if len(results) != 3 || results[0]["video_codec"] != nil || results[1]["video_codec"] != "vp09 ::x" || results[1]["video_width"] != nil || results[2]["video_duration_s"] != 1.235 {
		t.Errorf("results: %v", results)
	}
	summary := run.Summary()
	for _, want := range []string{"| v/gen\\_a.avi (10 B) |", "| v/gen\\_b.webm (10 B) |", "| v/gen\\_c.mp4 (10 B, 640x360, 1.235 s) |"} {
		if !strings.Contains(summary, want) {
			t.Errorf("the summary lacks %q:\n%s", want, summary)
		}
	}
}
