package outcome

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prism-wait/prism-wait/internal/crash"
	"github.com/prism-wait/prism-wait/internal/download"
	"github.com/prism-wait/prism-wait/internal/prism"
	"github.com/prism-wait/prism-wait/internal/rerun"
	"github.com/prism-wait/prism-wait/internal/wait"
)

// cli names inputs as the CLI's user sets them.
func cli(input string) string {
	return "--" + strings.ReplaceAll(input, "_", "-") + " (PRISM_" + strings.ToUpper(input) + ")"
}

// rowCases reach each row of the table, with the exact title and advice,
// in the action's terms and in the CLI's.
var rowCases = func() []rowCase {
	get := func(status int) *prism.Error {
		return &prism.Error{Method: "GET", StatusCode: status, Code: "c", Message: "m"}
	}
	post := func(status int) *prism.Error {
		return &prism.Error{Method: "POST", StatusCode: status, Code: "c", Message: "m"}
	}
	done := prism.Generation{Status: prism.StatusCompleted, VideoURL: "https://x/v.mp4"}
	dlErr := &download.Error{ID: "gen_1", Want: -1, Attempts: 2, Err: errors.New("storage answered HTTP 500")}
	return []rowCase{
		{"re-run guard required", Facts{Invalid: &rerun.RequiredUnmet{Why: errors.New("the cache is read-only")}}, ExitInput, "Re-run guard unavailable",
			"rerun_guard is required, but the cache is read-only. Nothing was submitted. Set rerun_guard to auto to submit without the guard (a re-run would then submit and pay again).",
			"--rerun-guard (PRISM_RERUN_GUARD) is required, but the cache is read-only. Nothing was submitted. Set --rerun-guard (PRISM_RERUN_GUARD) to auto to submit without the guard (a re-run would then submit and pay again)."},
		{"invalid input", Facts{Invalid: errors.New(`timeout: "soon" is not a duration`)}, ExitInput, "Invalid input", `timeout: "soon" is not a duration`, ""},
		{"earlier attempt may have paid", Facts{Submit: &rerun.Unrecorded{Attempt: 1, At: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)}}, ExitRefused, "Earlier attempt may have paid",
			"Attempt 1 of this run began to submit this same request at 2026-12-01T10:00:00Z, and recorded no answer: it may have created (and been charged for) generations. " +
				"Nothing was submitted now. Check the Prism dashboard for generations created around that time; to wait for them, set generation_id to their IDs " +
				"(in place of template_id or prompt); to submit again anyway, set rerun_guard to off.",
			"Attempt 1 of this run began to submit this same request at 2026-12-01T10:00:00Z, and recorded no answer: it may have created (and been charged for) generations. " +
				"Nothing was submitted now. Check the Prism dashboard for generations created around that time; to wait for them, set --generation-id (PRISM_GENERATION_ID) to their IDs " +
				"(in place of --template-id (PRISM_TEMPLATE_ID) or --prompt (PRISM_PROMPT)); to submit again anyway, set --rerun-guard (PRISM_RERUN_GUARD) to off."},
		{"earlier attempt may have paid", Facts{Submit: &rerun.Unrecorded{Reason: "an earlier attempt began to record this submit and never finished the record"}}, ExitRefused, "Earlier attempt may have paid",
			"The re-run guard cannot tell what an earlier attempt of this run paid for: an earlier attempt began to record this submit and never finished the record: it may have created (and been charged for) generations. " +
				"Nothing was submitted now. Check the Prism dashboard for generations created by this run; to wait for them, set generation_id to their IDs " +
				"(in place of template_id or prompt); to submit again anyway, set rerun_guard to off.",
			"The re-run guard cannot tell what an earlier attempt of this run paid for: an earlier attempt began to record this submit and never finished the record: it may have created (and been charged for) generations. " +
				"Nothing was submitted now. Check the Prism dashboard for generations created by this run; to wait for them, set --generation-id (PRISM_GENERATION_ID) to their IDs " +
				"(in place of --template-id (PRISM_TEMPLATE_ID) or --prompt (PRISM_PROMPT)); to submit again anyway, set --rerun-guard (PRISM_RERUN_GUARD) to off."},
		{"submit outcome unknown", Facts{Submit: &prism.Error{Method: "POST", StatusCode: 500, Unknown: true}}, ExitRefused, "Submit outcome unknown",
			"The submit request reached Prism, but its answer was lost or unusable (HTTP 500). The generations may have been created and charged: " +
				"check the Prism dashboard before re-running. It was not sent again; to wait for generations that exist, pass their IDs as generation_id.",
			"The submit request reached Prism, but its answer was lost or unusable (HTTP 500). The generations may have been created and charged: " +
				"check the Prism dashboard before re-running. It was not sent again; to wait for generations that exist, pass their IDs as --generation-id (PRISM_GENERATION_ID)."},
		{"no credits", Facts{Submit: post(402)}, ExitRefused, "Prism API refused the submission",
			"Not enough credits (HTTP 402 c: m). Top up the account's credits in Prism, then re-run.", ""},
		{"template not generatable", Facts{Submit: post(422)}, ExitRefused, "Prism API refused the submission",
			"This template cannot be generated through the API (HTTP 422 c: m). Use another template_id, or generate it in the Prism app.",
			"This template cannot be generated through the API (HTTP 422 c: m). Use another --template-id (PRISM_TEMPLATE_ID), or generate it in the Prism app."},
		{"submission rejected", Facts{Submit: post(400)}, ExitRefused, "Prism API refused the submission",
			"The request was rejected (HTTP 400 c: m). Fix the variable or field it names in variables or options.",
			"The request was rejected (HTTP 400 c: m). Fix the variable or field it names in --variables (PRISM_VARIABLES) or --options (PRISM_OPTIONS)."},
		{"template not found", Facts{Submit: post(404)}, ExitRefused, "Prism API refused the submission",
			"Not found (HTTP 404 c: m). Check template_id, and that the template belongs to the account of this API key.",
			"Not found (HTTP 404 c: m). Check --template-id (PRISM_TEMPLATE_ID), and that the template belongs to the account of this API key."},
		{"submission: key refused", Facts{Submit: post(401)}, ExitRefused, "Prism API refused the submission",
			"Prism refused the API key (HTTP 401 c: m). Check that the secret passed as api_key holds a current key (prism_sk_…); keys can be revoked or expire.",
			"Prism refused the API key (HTTP 401 c: m). Check that the secret passed as --api-key (PRISM_API_KEY) holds a current key (prism_sk_…); keys can be revoked or expire."},
		{"submission: key not allowed", Facts{Submit: post(403)}, ExitRefused, "Prism API refused the submission",
			"The API key may not submit generations (HTTP 403 c: m). Create a key with the templates:read scope, and pass it as api_key from a secret.",
			"The API key may not submit generations (HTTP 403 c: m). Create a key with the templates:read scope, and pass it as --api-key (PRISM_API_KEY) from a secret."},
		{"submission: refused to connect", Facts{Submit: &prism.Error{Method: "POST", Err: errors.New("refusing to connect to 169.254.169.254")}}, ExitRefused, "Refused to connect",
			"The submission: request failed: refusing to connect to 169.254.169.254. Nothing was submitted. No retry can help: set base_url to the Prism API's root, as https://prismvideos.com/api, or to a prism-sim's address.",
			"The submission: request failed: refusing to connect to 169.254.169.254. Nothing was submitted. No retry can help: set --base-url (PRISM_BASE_URL) to the Prism API's root, as https://prismvideos.com/api, or to a prism-sim's address."},
		{"submission refused", Facts{Submit: post(409)}, ExitRefused, "Prism API refused the submission",
			"The API refused the request for the submission (HTTP 409 c: m). This is not retried; check that base_url points at the Prism API's root, as https://prismvideos.com/api does.",
			"The API refused the request for the submission (HTTP 409 c: m). This is not retried; check that --base-url (PRISM_BASE_URL) points at the Prism API's root, as https://prismvideos.com/api does."},
		{"key refused", Facts{ID: "gen_1", Wait: get(401)}, ExitRefused, "Prism API refused the request",
			"Prism refused the API key (HTTP 401 c: m). Check that the secret passed as api_key holds a current key (prism_sk_…); keys can be revoked or expire.",
			"Prism refused the API key (HTTP 401 c: m). Check that the secret passed as --api-key (PRISM_API_KEY) holds a current key (prism_sk_…); keys can be revoked or expire."},
		{"key not allowed", Facts{ID: "gen_1", Wait: get(403)}, ExitRefused, "Prism API refused the request",
			"The API key may not read generations (HTTP 403 c: m). Create a key with the templates:read scope, and pass it as api_key from a secret.",
			"The API key may not read generations (HTTP 403 c: m). Create a key with the templates:read scope, and pass it as --api-key (PRISM_API_KEY) from a secret."},
		{"submitted, not found", Facts{ID: "gen_1", Wait: &wait.NotFoundAfterSubmit{Err: get(404), For: 30 * time.Second}}, ExitRefused, "Prism API refused the request",
			"Generation gen_1 was returned by the submit, but the API does not know it (HTTP 404 c: m, 30s after the submit returned the ID). It was created and charged: wait for it again later with generation_id set to its ID in place of template_id, or ask Prism support about it.",
			"Generation gen_1 was returned by the submit, but the API does not know it (HTTP 404 c: m, 30s after the submit returned the ID). It was created and charged: wait for it again later with --generation-id (PRISM_GENERATION_ID) set to its ID in place of --template-id (PRISM_TEMPLATE_ID), or ask Prism support about it."},
		{"generation not found", Facts{ID: "gen_1", Wait: get(404)}, ExitRefused, "Prism API refused the request",
			"Generation gen_1 was not found (HTTP 404 c: m). Check the ID given as generation_id, and that it belongs to the account of this API key.",
			"Generation gen_1 was not found (HTTP 404 c: m). Check the ID given as --generation-id (PRISM_GENERATION_ID), and that it belongs to the account of this API key."},
		{"refused to connect", Facts{ID: "gen_1", Wait: &prism.Error{Method: "GET", Err: errors.New("x")}}, ExitRefused, "Refused to connect",
			"gen_1: request failed: x. No retry can help: set base_url to the Prism API's root, as https://prismvideos.com/api, or to a prism-sim's address.",
			"gen_1: request failed: x. No retry can help: set --base-url (PRISM_BASE_URL) to the Prism API's root, as https://prismvideos.com/api, or to a prism-sim's address."},
		{"refused", Facts{ID: "gen_1", Wait: get(302)}, ExitRefused, "Prism API refused the request",
			"The API refused the request for gen_1 (HTTP 302 c: m). This is not retried; check that base_url points at the Prism API's root, as https://prismvideos.com/api does.",
			"The API refused the request for gen_1 (HTTP 302 c: m). This is not retried; check that --base-url (PRISM_BASE_URL) points at the Prism API's root, as https://prismvideos.com/api does."},
		{"internal error", Facts{ID: "gen_1", Wait: &crash.Panic{Value: "boom"}}, ExitFailed, "Internal error",
			"gen_1: internal error: boom. This is a bug in prism-wait: please report it with the step's debug log (it has the stack).", ""},
		{"internal error", Facts{ID: "gen_1", Gen: done, Download: fmt.Errorf("saving: %w", &crash.Panic{Value: "boom"})}, ExitFailed, "Internal error",
			"gen_1: internal error: boom. This is a bug in prism-wait: please report it with the step's debug log (it has the stack).", ""},
		{"internal error", Facts{Crash: &crash.Panic{Value: "lookup exploded"}}, ExitFailed, "Internal error",
			"internal error: lookup exploded. This is a bug in prism-wait: please report it with the step's debug log (it has the stack).", ""},
		{"submitted entries failed", Facts{Lost: &Lost{Count: 3, Failed: 2, What: "entry 2: no generation_id string in {}"}}, ExitFailed, "Generation failed",
			"The submit answer marks 2 of its entries failed, with no generation ID to wait for, and 1 more without one (entry 2: no generation_id string in {}). Look at them in the Prism dashboard.", ""},
		{"submitted entries failed", Facts{Lost: &Lost{Count: 1, Failed: 1, What: "entry 2: x"}}, ExitFailed, "Generation failed",
			"The submit answer marks 1 of its entries failed, with no generation ID to wait for (entry 2: x). Look at them in the Prism dashboard.", ""},
		{"submitted entries lost", Facts{Lost: &Lost{Count: 1, What: "entry 2: no generation_id string in {}"}}, ExitTimeout, "Not waited for",
			"The submit answer has entries with no generation ID to wait for (1: entry 2: no generation_id string in {}). They may be generations that were created and charged, so the step ends with exit code 3 (no verdict), whatever the others do. Look for them in the Prism dashboard; to wait for them, pass their IDs as generation_id in place of template_id.",
			"The submit answer has entries with no generation ID to wait for (1: entry 2: no generation_id string in {}). They may be generations that were created and charged, so the step ends with exit code 3 (no verdict), whatever the others do. Look for them in the Prism dashboard; to wait for them, pass their IDs as --generation-id (PRISM_GENERATION_ID) in place of --template-id (PRISM_TEMPLATE_ID)."},
		{"completed", Facts{Lost: &Lost{}}, ExitOK, "", "", ""},
		{"generation failed", Facts{ID: "gen_1", Gen: prism.Generation{Status: "failed", Error: "Generation timed out"}}, ExitFailed, "Generation failed",
			"gen_1 failed: Generation timed out", ""},
		{"generation failed", Facts{ID: "gen_1", Gen: prism.Generation{Status: "failed"}}, ExitFailed, "Generation failed", "gen_1 failed: the API gave no reason", ""},
		{"outputs not written", Facts{Outputs: errors.New("failed to open /x: permission denied")}, ExitFailed, "Cannot write step outputs",
			"failed to open /x: permission denied. Later steps would not see the results.", ""},
		{"download failed", Facts{ID: "gen_1", Gen: done, Download: dlErr}, ExitDownload, "Download failed",
			"download of gen_1 failed after 2 attempt(s) at 0 bytes: storage answered HTTP 500", ""},
		{"submit did not finish", Facts{Submit: fmt.Errorf("%w while submitting", wait.ErrDeadline)}, ExitTimeout, "Submit did not finish",
			"The generations were not submitted: timeout reached while submitting. Nothing was created or charged: the API did not accept the request. Re-run, or raise timeout (now 10m0s).",
			"The generations were not submitted: timeout reached while submitting. Nothing was created or charged: the API did not accept the request. Re-run, or raise --timeout (PRISM_TIMEOUT) (now 10m0s)."},
		{"submit did not finish", Facts{Submit: fmt.Errorf("%w while submitting: %w (the last: %w)", wait.ErrDeadline, wait.ErrUnanswered, &prism.Error{Method: "POST", Transient: true, Err: errors.New("connection refused")})},
			ExitTimeout, "Submit did not finish",
			"The generations were not submitted: timeout reached while submitting: no attempt reached the API (the last: request failed: connection refused). Nothing was created or charged. Check base_url and this machine's network, then re-run.",
			"The generations were not submitted: timeout reached while submitting: no attempt reached the API (the last: request failed: connection refused). Nothing was created or charged. Check --base-url (PRISM_BASE_URL) and this machine's network, then re-run."},
		{"submit did not finish", Facts{Submit: fmt.Errorf("%w; last: %w", wait.ErrCanceled, post(400))}, ExitTimeout, "Submit did not finish",
			"The generations were not submitted: the job was cancelled; last: HTTP 400 c: m. Nothing was created or charged: the API did not accept the request. Start it again when you want them.", ""},
		{"stopped early", Facts{ID: "gen_2", Wait: fmt.Errorf("%w while the generation was %q", wait.ErrStopped, "generating")}, ExitTimeout, "Stopped early",
			`gen_2: stopped after another generation's permanent error while the generation was "generating"`, ""},
		{"cancelled", Facts{ID: "gen_1", Wait: fmt.Errorf("%w before the API answered", wait.ErrCanceled)}, ExitTimeout, "Cancelled",
			"gen_1: the job was cancelled before the API answered", ""},
		{"not waited for", Facts{ID: "gen_101", Wait: ErrNotWaited}, ExitTimeout, "Not waited for",
			"gen_101: not waited for: one step waits for the first 100 generations", ""},
		{"no verdict in time", Facts{ID: "gen_1", Wait: fmt.Errorf("%w while the generation was %q", wait.ErrDeadline, "generating")}, ExitTimeout, "No verdict in time",
			`gen_1: timeout reached while the generation was "generating". Raise timeout (now 10m0s) if generations take longer.`,
			`gen_1: timeout reached while the generation was "generating". Raise --timeout (PRISM_TIMEOUT) (now 10m0s) if generations take longer.`},
		{"no verdict in time", Facts{ID: "gen_1", Gen: prism.Generation{Status: "COMPLETED"}, Wait: fmt.Errorf("%w while the generation was %q", wait.ErrDeadline, "COMPLETED")}, ExitTimeout, "No verdict in time",
			`gen_1: timeout reached while the generation was "COMPLETED". The API sent a status it does not document, which GitHub's case-blind == would take for a verdict, so it is reported as unrecognised: look at the generation in Prism's dashboard, or ask Prism support about it with its ID.`, ""},
		{"no verdict in time", Facts{ID: "gen_1", Wait: fmt.Errorf("%w; last problem: %w", wait.ErrDeadline, &prism.Error{Transient: true, Err: errors.New("connection refused")})},
			ExitTimeout, "No verdict in time",
			"gen_1: timeout reached; last problem: request failed: connection refused. No status was read, and the last request got no answer: check base_url and this machine's network; raise timeout (now 10m0s) only if the API was just slow.",
			"gen_1: timeout reached; last problem: request failed: connection refused. No status was read, and the last request got no answer: check --base-url (PRISM_BASE_URL) and this machine's network; raise --timeout (PRISM_TIMEOUT) (now 10m0s) only if the API was just slow."},
		{"no verdict in time", Facts{ID: "gen_1", Wait: fmt.Errorf("%w %w", wait.ErrDeadline, wait.ErrNoAnswer)},
			ExitTimeout, "No verdict in time",
			"gen_1: timeout reached before the API answered. No status was read, and the last request got no answer: check base_url and this machine's network; raise timeout (now 10m0s) only if the API was just slow.",
			"gen_1: timeout reached before the API answered. No status was read, and the last request got no answer: check --base-url (PRISM_BASE_URL) and this machine's network; raise --timeout (PRISM_TIMEOUT) (now 10m0s) only if the API was just slow."},
		// A status was read, or the API answered: it is reachable.
		{"no verdict in time", Facts{ID: "gen_1", Gen: prism.Generation{Status: "generating"}, Wait: fmt.Errorf("%w; last problem: %w", wait.ErrDeadline, &prism.Error{Transient: true, Err: errors.New("connection refused")})},
			ExitTimeout, "No verdict in time",
			"gen_1: timeout reached; last problem: request failed: connection refused. Raise timeout (now 10m0s) if generations take longer.",
			"gen_1: timeout reached; last problem: request failed: connection refused. Raise --timeout (PRISM_TIMEOUT) (now 10m0s) if generations take longer."},
		{"no verdict in time", Facts{ID: "gen_1", Wait: fmt.Errorf("%w; last problem: %w", wait.ErrDeadline, &prism.Error{StatusCode: 502, Transient: true})},
			ExitTimeout, "No verdict in time",
			"gen_1: timeout reached; last problem: HTTP 502. Raise timeout (now 10m0s) if generations take longer.",
			"gen_1: timeout reached; last problem: HTTP 502. Raise --timeout (PRISM_TIMEOUT) (now 10m0s) if generations take longer."},
		{"no verdict in time", Facts{ID: "gen_1", Wait: errors.New("the API reports completed but gives no usable video_url")}, ExitTimeout, "No verdict in time",
			"gen_1: the API reports completed but gives no usable video_url", ""},
		{"download cancelled", Facts{ID: "gen_1", Gen: done, Download: fmt.Errorf("download of gen_1 stopped at 5 bytes: %w", wait.ErrCanceled)}, ExitTimeout, "Cancelled",
			"download of gen_1 stopped at 5 bytes: the job was cancelled", ""},
		{"download not finished", Facts{ID: "gen_1", Gen: done, Download: &download.Error{ID: "gen_1", Want: 9, Attempts: 1, Err: fmt.Errorf("no fresh URL: %w", wait.ErrDeadline)}},
			ExitTimeout, "Download not finished",
			"download of gen_1 failed after 1 attempt(s) at 0 of 9 bytes: no fresh URL: timeout reached. Raise timeout (now 10m0s): it covers the downloads too.",
			"download of gen_1 failed after 1 attempt(s) at 0 of 9 bytes: no fresh URL: timeout reached. Raise --timeout (PRISM_TIMEOUT) (now 10m0s): it covers the downloads too."},
		{"download not finished", Facts{ID: "gen_1", Gen: done, Download: fmt.Errorf("download of gen_1 did not start: %w", wait.ErrStopped)}, ExitTimeout, "Download not finished",
			"download of gen_1 did not start: stopped after another generation's permanent error", ""},
		{"completed", Facts{ID: "gen_1", Gen: done}, ExitOK, "", "", ""},
		{"completed", Facts{}, ExitOK, "", "", ""},
	}
}()

type rowCase struct {
	kind  string
	facts Facts
	code  int
	title string
	// advice in the action's terms; cliAdvice, when set, in the CLI's
	advice, cliAdvice string
}

func TestEveryRow(t *testing.T) {
	t.Parallel()
	for _, tc := range rowCases {
		got := Of(tc.facts, Settings{Timeout: 10 * time.Minute})
		if want := (Verdict{Kind: tc.kind, Code: tc.code, Title: tc.title, Advice: tc.advice}); got != want {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.kind, got, want)
		}
		want := tc.cliAdvice
		if want == "" {
			want = tc.advice
		}
		if got := Of(tc.facts, Settings{Name: cli, Timeout: 10 * time.Minute}).Advice; got != want {
			t.Errorf("%s in the CLI's terms:\n got %q\nwant %q", tc.kind, got, want)
		}
	}
}

// TestEveryRowIsReached holds rowCases against the table: each row has
// its own name, and a case that reaches it.
func TestEveryRowIsReached(t *testing.T) {
	t.Parallel()
	kinds := map[string]int{}
	for _, r := range table {
		kinds[r.kind]++
	}
	for _, tc := range rowCases {
		if _, ok := kinds[tc.kind]; !ok {
			t.Errorf("a case expects row %q, which the table does not have", tc.kind)
		}
	}
	for kind, n := range kinds {
		if n != 1 {
			t.Errorf("%d rows are named %q", n, kind)
		}
		if !slices.ContainsFunc(rowCases, func(tc rowCase) bool { return tc.kind == kind }) {
			t.Errorf("no case reaches row %q", kind)
		}
	}
}

func TestExitCodePrecedence(t *testing.T) {
	t.Parallel()
	refused := Facts{Wait: &prism.Error{StatusCode: 404}}
	failed := Facts{Gen: prism.Generation{Status: "failed"}}
	refreshPastDeadline := Facts{Gen: prism.Generation{Status: "completed", VideoURL: "x"},
		Download: &download.Error{Err: fmt.Errorf("no fresh URL: %w", wait.ErrDeadline)}}
	download := Facts{Gen: prism.Generation{Status: "completed", VideoURL: "x"}, Download: &download.Error{}}
	timeout := Facts{Wait: wait.ErrDeadline}
	cancelledDownload := Facts{Gen: prism.Generation{Status: "completed", VideoURL: "x"}, Download: wait.ErrCanceled}
	transientAtDeadline := Facts{Wait: fmt.Errorf("%w: %w", wait.ErrDeadline, &prism.Error{StatusCode: 503, Transient: true})}
	ok := Facts{Gen: prism.Generation{Status: "completed", VideoURL: "x"}}
	outputs := Facts{Outputs: errors.New("disk full")}
	for _, tc := range []struct {
		fs   []Facts
		want int
	}{
		{nil, ExitOK},
		{[]Facts{ok, ok}, ExitOK},
		{[]Facts{ok, timeout}, ExitTimeout},
		{[]Facts{transientAtDeadline}, ExitTimeout},
		{[]Facts{cancelledDownload}, ExitTimeout},
		{[]Facts{refreshPastDeadline}, ExitTimeout},
		{[]Facts{refreshPastDeadline, download}, ExitDownload},
		{[]Facts{timeout, download}, ExitDownload},
		{[]Facts{download, failed, timeout}, ExitFailed},
		{[]Facts{failed, refused, timeout, download}, ExitRefused},
		// Outputs that could not be written turn a success, a timeout or
		// a failed download into a failure, and leave a refusal be.
		{[]Facts{ok, outputs}, ExitFailed},
		{[]Facts{timeout, download, outputs}, ExitFailed},
		{[]Facts{refused, outputs}, ExitRefused},
		// Invalid input is decided before anything else happened.
		{[]Facts{{Submit: errors.New("x")}, {Invalid: errors.New("x")}}, ExitInput},
	} {
		if got := Code(tc.fs); got != tc.want {
			t.Errorf("Code(%d facts) = %d, want %d", len(tc.fs), got, tc.want)
		}
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
			if got := Compare(a, b); (got < 0) != (i > j) || (got == 0) != (i == j) {
				t.Errorf("Compare(%d, %d) = %d", a, b, got)
			}
		}
	}
	// A code outside the table comes after every code in it; between two
	// such codes, the first stays.
	if Worse(ExitOK, 99) != ExitOK || Worse(99, ExitOK) != ExitOK || Compare(99, ExitOK) <= 0 {
		t.Error("an unknown code takes precedence over ExitOK")
	}
	if Worse(98, 99) != 98 || Worse(99, 98) != 99 {
		t.Error("of two codes outside the table, Worse does not keep the first")
	}
}

// TestRowsOfACodeAreTogether: the first row that applies decides a
// verdict, and the first row of a code decides its precedence. For the
// two orders to be one, no code comes back after another, and the last
// row applies to everything.
func TestRowsOfACodeAreTogether(t *testing.T) {
	t.Parallel()
	var order []int
	for _, r := range table {
		if len(order) == 0 || order[len(order)-1] != r.code {
			if slices.Contains(order, r.code) {
				t.Errorf("row %q: code %d comes back after %v", r.kind, r.code, order)
			}
			order = append(order, r.code)
		}
		if (r.code == ExitOK) != (r.title == "") {
			t.Errorf("row %q: code %d with title %q", r.kind, r.code, r.title)
		}
	}
	if want := []int{ExitInput, ExitRefused, ExitFailed, ExitDownload, ExitTimeout, ExitOK}; !slices.Equal(order, want) {
		t.Errorf("codes in the order %v, want %v", order, want)
	}
	last := table[len(table)-1]
	if !last.when(&Facts{}) || last.code != ExitOK {
		t.Errorf("the last row %q does not take what no other row took", last.kind)
	}
}

func TestUsageListsEveryExitCode(t *testing.T) {
	t.Parallel()
	want := "Exit codes: 0 all completed, 1 a generation failed (by its status or\n" +
		"the submit's answer; or the outputs could not be written, or an\n" +
		"internal error), 2 invalid input (or --rerun-guard required where it\n" +
		"cannot work), 3 timeout or cancelled (or submitted generations not\n" +
		"waited for: past the first 100, or without an ID), 4 the API refused\n" +
		"(or a submit's outcome is unknown, or an earlier attempt may have\n" +
		"paid for it), 5 a download failed.\n"
	if got := Usage(); got != want {
		t.Errorf("Usage() =\n%s\nwant\n%s", got, want)
	}
	for _, r := range table {
		if !slices.ContainsFunc(codes, func(c exitCode) bool { return c.code == r.code }) {
			t.Errorf("row %q: exit code %d is not in --help", r.kind, r.code)
		}
	}
	if len(codes) != 6 {
		t.Errorf("%d exit codes in --help, want 6", len(codes))
	}
}

func TestWrapBreaksBetweenWords(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		s     string
		width int
		want  string
	}{
		{"aa bb cc", 5, "aa bb\ncc\n"},  // a line of exactly width
		{"aa bb cc", 4, "aa\nbb\ncc\n"}, // one byte short
		{"aa bb cc", 8, "aa bb cc\n"},
		{"aaaaaa b", 3, "aaaaaa\nb\n"}, // a word longer than width
		{"  aa \n bb ", 80, "aa bb\n"},
	} {
		if got := wrap(tc.s, tc.width); got != tc.want {
			t.Errorf("wrap(%q, %d) = %q, want %q", tc.s, tc.width, got, tc.want)
		}
	}
}

func TestAdviceSaysWhatToDo(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&prism.Error{StatusCode: 401, Code: "unauthorized"}, "Check that the secret passed as api_key"},
		{&prism.Error{StatusCode: 403}, "templates:read"},
		{&prism.Error{StatusCode: 404, Code: "not_found"}, "Check the ID given as generation_id, and that it belongs to the account"},
		{&prism.Error{StatusCode: 404}, "check that base_url points at the Prism API's root, as https://prismvideos.com/api does"},
		{&prism.Error{StatusCode: 400}, "check that base_url"},
		{fmt.Errorf("%w while the generation was %q", wait.ErrDeadline, "generating"), "Raise timeout (now 10m0s)"},
	} {
		if got := Of(Facts{ID: "gen_1", Wait: tc.err}, Settings{Timeout: 10 * time.Minute}).Advice; !strings.Contains(got, tc.want) {
			t.Errorf("advice on %v = %q, want it to say %q", tc.err, got, tc.want)
		}
	}
	if got := Of(Facts{Download: errors.New("x")}, Settings{Timeout: time.Minute}).Advice; got != "x" {
		t.Errorf("download advice %q", got)
	}
	gone := Of(Facts{ID: "gen_1", Wait: &prism.Error{StatusCode: 404, Code: "not_found"}}, Settings{Submitted: true}).Advice
	if want := "Generation gen_1 was not found (HTTP 404 not_found), though the submit returned it: it was created and charged. Ask Prism support about it, with its ID."; gone != want {
		t.Errorf("a submitted generation gone: %q, want %q", gone, want)
	}
	prompt := Of(Facts{Submit: &prism.Error{Method: "POST", StatusCode: 404, JSON: true, Message: "Not Found"}}, Settings{Prompt: true}).Advice
	if want := "Not found (HTTP 404: Not Found): there is no prompt-to-video endpoint there. Check that base_url points at the Prism API's root, as https://prismvideos.com/api does."; prompt != want {
		t.Errorf("a prompt's submit not found: %q, want %q", prompt, want)
	}
	rejected := Of(Facts{Submit: &prism.Error{Method: "POST", StatusCode: 400, Code: "validation_error", Message: "count must be at most 4"}}, Settings{Name: cli, Prompt: true}).Advice
	if want := "The request was rejected (HTTP 400 validation_error: count must be at most 4). Fix the field it names in --prompt (PRISM_PROMPT), --model (PRISM_MODEL), --count (PRISM_COUNT) or --options (PRISM_OPTIONS)."; rejected != want {
		t.Errorf("a prompt's submit rejected: %q, want %q", rejected, want)
	}
	full := &download.Error{ID: "gen_1", Want: -1, Attempts: 1, Err: download.LocalError{Err: fmt.Errorf("cannot write the video into videos: %w", syscall.ENOSPC)}}
	denied := &download.Error{ID: "gen_1", Want: -1, Attempts: 1, Err: download.LocalError{Err: fmt.Errorf("cannot create a file in videos: %w", syscall.EACCES)}}
	done := prism.Generation{Status: "completed", VideoURL: "x"}
	for name, term := range map[string]string{"": "download_dir", "--download-dir": "--download-dir"} {
		s := Settings{}
		if name != "" {
			s.Name = func(string) string { return name }
		}
		if got := Of(Facts{ID: "gen_1", Gen: done, Download: full}, s).Advice; !strings.HasSuffix(got, "no space left on device. The disk is full, not storage's fault: make room in the workspace (what earlier steps left there), or download fewer videos per job.") {
			t.Errorf("advice on a full disk = %q", got)
		}
		if got := Of(Facts{ID: "gen_1", Gen: done, Download: denied}, s).Advice; !strings.Contains(got, "permission denied. The file system refused it, not storage: check that "+term+" is a directory that the user running prism-wait may write in") {
			t.Errorf("advice on a refused write = %q, want it to name %q", got, term)
		}
	}
}

// afterSubmit is a generation's end after a submit, and how its advice
// must end: in the action's terms, and (when set) in the CLI's.
type afterSubmit struct {
	f         Facts
	want, cli string
}

// afterSubmitCases are the ends of a generation after a submit that
// trying again can mend, one or more per row of the table.
func afterSubmitCases() []afterSubmit {
	done := prism.Generation{Status: "completed", VideoURL: "x"}
	late := fmt.Errorf("%w while the generation was %q", wait.ErrDeadline, "generating")
	const again = "It was created and charged: to wait for it again without paying again, pass gen_1 as generation_id in place of template_id."
	const download1 = "It was created and charged: to download it again without paying again, pass gen_1 as generation_id in place of template_id."
	full := &download.Error{ID: "gen_1", Want: -1, Attempts: 1, Err: download.LocalError{Err: fmt.Errorf("cannot write the video into videos: %w", syscall.ENOSPC)}}
	denied := &download.Error{ID: "gen_1", Want: -1, Attempts: 1, Err: download.LocalError{Err: fmt.Errorf("cannot create a file in videos: %w", syscall.EACCES)}}
	return []afterSubmit{
		{Facts{ID: "gen_1", Wait: late},
			"Raise timeout (now 10m0s) if generations take longer. It was created and charged: to wait for it again without paying again, pass gen_1 as generation_id in place of template_id, with a longer timeout.",
			"Raise --timeout (PRISM_TIMEOUT) (now 10m0s) if generations take longer. It was created and charged: to wait for it again without paying again, pass gen_1 as --generation-id (PRISM_GENERATION_ID) in place of --template-id (PRISM_TEMPLATE_ID), with a longer --timeout (PRISM_TIMEOUT)."},
		{Facts{ID: "gen_1", Wait: fmt.Errorf("%w %w", wait.ErrDeadline, wait.ErrNoAnswer)}, "only if the API was just slow. " + again, ""},
		{Facts{ID: "gen_1", Gen: prism.Generation{Status: "completed"}, Wait: fmt.Errorf("%w; last problem: %w", wait.ErrDeadline, wait.ErrNoVideo)}, "with its ID. " + again, ""},
		{Facts{ID: "gen_1", Wait: ErrNotWaited}, "gen_1: not waited for: one step waits for the first 100 generations. " + again, ""},
		{Facts{ID: "gen_1", Wait: wait.ErrStopped}, "permanent error. " + again, ""},
		{Facts{ID: "gen_1", Wait: fmt.Errorf("%w while the generation was %q", wait.ErrCanceled, "generating")}, `"generating". ` + again, ""},
		{Facts{ID: "gen_1", Wait: &prism.Error{StatusCode: 401}}, "keys can be revoked or expire. " + again,
			"keys can be revoked or expire. It was created and charged: to wait for it again without paying again, pass gen_1 as --generation-id (PRISM_GENERATION_ID) in place of --template-id (PRISM_TEMPLATE_ID)."},
		{Facts{ID: "gen_1", Wait: &prism.Error{StatusCode: 403}}, "from a secret. " + again, ""},
		{Facts{ID: "gen_1", Wait: &prism.Error{StatusCode: 410}}, "as https://prismvideos.com/api does. " + again, ""},
		{Facts{ID: "gen_1", Wait: &prism.Error{StatusCode: 100}}, again, ""},
		{Facts{ID: "gen_1", Wait: &prism.Error{Method: "GET", Err: prism.ErrRedirect}}, again, ""},
		{Facts{ID: "gen_1", Wait: &wait.NotFoundAfterSubmit{}}, "with generation_id set to its ID in place of template_id, or ask Prism support about it.", ""},
		{Facts{ID: "gen_1", Wait: &crash.Panic{Value: "boom"}}, "(it has the stack). " + again, ""},
		{Facts{ID: "gen_1", Gen: done, Download: &download.Error{ID: "gen_1", Want: 9, Attempts: 1, Err: fmt.Errorf("no fresh URL: %w", wait.ErrDeadline)}},
			"it covers the downloads too. It was created and charged: to download it again without paying again, pass gen_1 as generation_id in place of template_id, with a longer timeout.", ""},
		{Facts{ID: "gen_1", Gen: done, Download: errors.New("storage kept failing. Try again later.")}, "Try again later. " + download1, ""},
		{Facts{ID: "gen_1", Gen: done, Download: &download.Error{ID: "gen_1", Want: -1, Attempts: 2, Err: errors.New("storage answered HTTP 500")}}, "storage answered HTTP 500. " + download1, ""},
		{Facts{ID: "gen_1", Gen: done, Download: full}, "or download fewer videos per job. " + download1, ""},
		{Facts{ID: "gen_1", Gen: done, Download: denied}, "with no directory where the video goes. " + download1, ""},
		{Facts{ID: "gen_1", Gen: done, Download: fmt.Errorf("download of gen_1: %w", wait.ErrCanceled)}, "the job was cancelled. " + download1, ""},
	}
}

// hopeless are a generation's ends that waiting again cannot mend: the
// API does not know it, it failed, or nothing went wrong.
var hopeless = []Facts{
	{ID: "gen_1", Wait: &prism.Error{StatusCode: 404, Code: "not_found"}},
	{ID: "gen_1", Gen: prism.Generation{Status: "failed"}},
	{ID: "gen_1", Gen: prism.Generation{Status: "completed", VideoURL: "x"}},
}

// TestSubmittedAdviceAvoidsPayingAgain: after a submit, every way a wait
// or download can end without its verdict or video says how to try again
// without submitting (and paying) again; for given IDs it says nothing of
// it.
func TestSubmittedAdviceAvoidsPayingAgain(t *testing.T) {
	t.Parallel()
	for _, tc := range afterSubmitCases() {
		v := Of(tc.f, Settings{Timeout: 10 * time.Minute, Submitted: true})
		if !strings.HasSuffix(v.Advice, tc.want) {
			t.Errorf("%s: advice after a submit = %q, want it to end %q", v.Kind, v.Advice, tc.want)
		}
		if tc.cli != "" {
			if got := Of(tc.f, Settings{Name: cli, Timeout: 10 * time.Minute, Submitted: true}).Advice; !strings.HasSuffix(got, tc.cli) {
				t.Errorf("%s: CLI advice after a submit = %q, want it to end %q", v.Kind, got, tc.cli)
			}
		}
		if got := Of(tc.f, Settings{Timeout: 10 * time.Minute, Submitted: true, Prompt: true}).Advice; !strings.Contains(got, "in place of prompt") {
			t.Errorf("%s: advice after a prompt's submit = %q, want it to say in place of prompt", v.Kind, got)
		}
		if got := Of(tc.f, Settings{Timeout: 10 * time.Minute}).Advice; strings.Contains(got, "charged") && v.Kind != "submitted, not found" {
			t.Errorf("%s: advice for a given ID = %q, which was not submitted here", v.Kind, got)
		}
	}
	for _, f := range hopeless {
		if got := Of(f, Settings{Submitted: true}).Advice; strings.Contains(got, "without paying again") {
			t.Errorf("advice %q: waiting again cannot help", got)
		}
	}
	// Outputs lost after a submit: the IDs are in the log.
	lost := Facts{Outputs: errors.New("failed to write")}
	if got := Of(lost, Settings{Submitted: true, Prompt: true}).Advice; !strings.HasSuffix(got, `pass the IDs this log lists as submitted as generation_id in place of prompt.`) {
		t.Errorf("outputs lost after a submit: %q", got)
	}
	if got := Of(lost, Settings{}).Advice; got != "failed to write. Later steps would not see the results." {
		t.Errorf("outputs lost, given IDs: %q", got)
	}
}

// TestEveryGenerationRowIsTriedAfterASubmit: a row added to the table for
// a generation's end is in afterSubmitCases or hopeless, so that its
// advice after a submit is looked at.
func TestEveryGenerationRowIsTriedAfterASubmit(t *testing.T) {
	t.Parallel()
	tried := map[string]bool{}
	for _, tc := range afterSubmitCases() {
		tried[Of(tc.f, Settings{Submitted: true}).Kind] = true
	}
	for _, f := range hopeless {
		tried[Of(f, Settings{Submitted: true}).Kind] = true
	}
	// Rows about the run as a whole: its inputs, its submit, its outputs.
	whole := map[string]bool{"re-run guard required": true, "invalid input": true, "earlier attempt may have paid": true,
		"submit outcome unknown": true, "no credits": true, "template not generatable": true, "submission rejected": true,
		"template not found": true, "submission: key refused": true, "submission: key not allowed": true,
		"submission: refused to connect": true, "submission refused": true, "outputs not written": true, "submit did not finish": true,
		"submitted entries failed": true, "submitted entries lost": true}
	for _, r := range table {
		if !tried[r.kind] && !whole[r.kind] {
			t.Errorf("row %q is in neither afterSubmitCases nor hopeless", r.kind)
		}
	}
}

func TestPanicIsAnInternalError(t *testing.T) {
	t.Parallel()
	f := Facts{ID: "gen_1", Wait: &crash.Panic{Value: "boom"}}
	if v := Of(f, Settings{Timeout: time.Minute}); v.Code != ExitFailed || v.Title != "Internal error" || !strings.Contains(v.Advice, "This is a bug in prism-wait") {
		t.Errorf("code %d title %q advice %q", v.Code, v.Title, v.Advice)
	}
	if got := Code([]Facts{f, {Wait: wait.ErrDeadline}}); got != ExitFailed {
		t.Errorf("exit %d, want 1 above a timeout", got)
	}
}

func TestStatus(t *testing.T) {
	t.Parallel()
	gen := func(status, url string) prism.Generation {
		return prism.Generation{Status: status, VideoURL: url}
	}
	for _, tc := range []struct {
		gens []prism.Generation
		want string
	}{
		{[]prism.Generation{gen("completed", "u"), gen("completed", "u")}, "completed"},
		{[]prism.Generation{gen("completed", "u"), gen("generating", ""), gen("failed", "")}, "failed"},
		{[]prism.Generation{gen("completed", "u"), gen("generating", "")}, "generating"},
		{[]prism.Generation{gen("queued", "")}, "queued"},
		{[]prism.Generation{gen("", "")}, ""},
		{nil, ""}, // invalid input: nothing was waited for
		// completed only with usable videos
		{[]prism.Generation{gen("completed", "u"), gen("completed", "")}, StatusNoVideo},
		{[]prism.Generation{gen("completed", ""), gen("failed", "")}, "failed"},
		{[]prism.Generation{gen("generating", ""), gen("completed", "")}, "generating"},
		{[]prism.Generation{gen("completed", "u")}, "completed"},
	} {
		fs := make([]Facts, len(tc.gens))
		for i, g := range tc.gens {
			fs[i] = Facts{Gen: g}
		}
		if got := Status(fs); got != tc.want {
			t.Errorf("Status(%v) = %q, want %q", tc.gens, got, tc.want)
		}
	}
	for g, want := range map[prism.Generation]string{
		gen("completed", "u"): "completed", gen("completed", ""): StatusNoVideo, gen("failed", "u"): "failed", gen("queued", ""): "queued",
		// GitHub's == ignores case: no status from the API looks like a
		// verdict (or one of ours) unless it is one.
		gen("COMPLETED", "u"): StatusUnrecognised, gen("Failed", ""): StatusUnrecognised, gen("Not_Waited", ""): StatusUnrecognised,
		gen("completed_WITHOUT_video", ""): StatusUnrecognised, gen("GENERATING", ""): "GENERATING",
		gen("faıled", ""): StatusUnrecognised,
	} {
		if got := GenerationStatus(g); got != want {
			t.Errorf("GenerationStatus(%v) = %q, want %q", g, got, want)
		}
	}
}

func TestStatusOf(t *testing.T) {
	t.Parallel()
	done := Facts{Gen: prism.Generation{Status: "completed", VideoURL: "u"}}
	notWaited := Facts{ID: "gen_101", Wait: ErrNotWaited}
	// Past the first MaxIDs: no success, below a failure.
	for _, tc := range []struct {
		fs   []Facts
		want string
	}{
		{[]Facts{done, notWaited}, StatusNotWaited},
		{[]Facts{notWaited, {Gen: prism.Generation{Status: "failed"}}}, "failed"},
		{[]Facts{{Gen: prism.Generation{Status: "generating"}}, notWaited}, "generating"},
	} {
		if got := Status(tc.fs); got != tc.want {
			t.Errorf("Status(%+v) = %q, want %q", tc.fs, got, tc.want)
		}
	}
	for _, tc := range []struct {
		f    Facts
		want string
	}{
		{Facts{Wait: ErrNotWaited}, StatusNotWaited},
		{Facts{Wait: fmt.Errorf("%w while the generation was %q", wait.ErrDeadline, "generating"), Gen: prism.Generation{Status: "generating"}}, "generating"},
		{Facts{Gen: prism.Generation{Status: "completed"}}, StatusNoVideo},
	} {
		if got := StatusOf(tc.f); got != tc.want {
			t.Errorf("StatusOf(%+v) = %q, want %q", tc.f, got, tc.want)
		}
	}
}

// TestNotWaitedNamesThoseNotWaitedFor: the advice names the generations
// past the first MaxIDs (ten of them, and how many more), the exit code,
// and how to wait for them, in the user's terms.
func TestNotWaitedNamesThoseNotWaitedFor(t *testing.T) {
	t.Parallel()
	var ids []string
	for i := range prism.MaxIDs + 12 {
		ids = append(ids, fmt.Sprintf("gen_%d", i+1))
	}
	if got := NotWaited(ids[:prism.MaxIDs], prism.MaxIDs, Settings{}); got != "" {
		t.Errorf("all waited for, yet: %s", got)
	}
	want := "The API created 112 generations, more than the 100 one step waits for: this step waits for the first 100 and not for the other 12 " +
		"(gen_101, gen_102, gen_103, gen_104, gen_105, gen_106, gen_107, gen_108, gen_109, gen_110 and 2 more). " +
		"It ends with exit code 3 (no verdict) even when the 100 complete, so that no later step takes the others' videos as ready. " +
		"To wait for them, pass their IDs, at most 100 per step or run, as --generation-id (PRISM_GENERATION_ID) to later steps that run even when this one fails: " +
		"all 112 are in the results, in the API's order (in GitHub Actions, in the generation_id output too)."
	if got := NotWaited(ids, len(ids), Settings{Name: cli}); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if got := NotWaited(ids[:prism.MaxIDs+1], 0, Settings{}); !strings.Contains(got, "not for the other 1 (gen_101).") {
		t.Errorf("one past: %s", got)
	}
	if got := NotWaited(ids[:prism.MaxIDs+10], prism.MaxIDs+10, Settings{}); !strings.Contains(got, "not for the other 10 (gen_101, gen_102, gen_103, gen_104, gen_105, gen_106, gen_107, gen_108, gen_109, gen_110).") {
		t.Errorf("ten past: %s", got)
	}
	// More created than listed: the count is the API's, the IDs named
	// are the listed ones, and the log holds the rest.
	if got := NotWaited(ids[:prism.MaxIDs+3], 5000, Settings{}); !strings.HasPrefix(got, "The API created 5000 generations, ") ||
		!strings.Contains(got, "not for the other 4900 (gen_101, gen_102, gen_103 and 4897 more).") ||
		!strings.HasSuffix(got, `: the first 103 are in the results, in the API's order (in GitHub Actions, in the generation_id output too), and all 5000 in the log's "submitted" lines.`) {
		t.Errorf("5000 created, 103 listed: %s", got)
	}
}
