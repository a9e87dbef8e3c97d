package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prism-wait/prism-wait/internal/outcome"
	"github.com/prism-wait/prism-wait/internal/prismsim"
	"github.com/prism-wait/prism-wait/internal/report"
	"github.com/prism-wait/prism-wait/internal/testnet"
)

// guardScenario has one template whose generations complete at once, and
// one whose first submit is refused for want of credits.
const guardScenario = `{"generations": {}, "templates": {
	"tpl_ok":   {"videos": 2, "lifecycle": {"steps": [{"status": "completed"}]}},
	"tpl_poor": {"lifecycle": {"steps": [{"status": "completed"}]}, "submit": [{"http": 402}, {"ok": true}]},
	"tpl_broke": {"submit": [{"http": 402}]},
	"tpl_lost": {"unlisted": 1, "lifecycle": {"steps": [{"status": "completed"}]}}
}}`

type attempt struct {
	code    int
	log     string
	outputs map[string]string
}

// runAttempt runs the action as attempt n of run 7001 would, with the cache
// service of the simulator at root (results "" for none).
func runAttempt(t *testing.T, base api, results string, n string, inputs map[string]string) attempt {
	t.Helper()
	ws := t.TempDir()
	env := map[string]string{
		"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": ws,
		"GITHUB_OUTPUT": filepath.Join(ws, "..", "output"), "GITHUB_STEP_SUMMARY": filepath.Join(ws, "..", "summary"),
		"GITHUB_RUN_ID": "7001", "GITHUB_RUN_ATTEMPT": n, "GITHUB_JOB": "release", "GITHUB_ACTION": "videos",
		"ACTIONS_RUNTIME_TOKEN": "runtime-token",
		"INPUT_API_KEY":         key, "INPUT_BASE_URL": base.URL, "INPUT_POLL_INTERVAL": "10ms", "INPUT_MAX_INTERVAL": "40ms",
		"INPUT_TIMEOUT": "", "INPUT_DOWNLOAD_DIR": "", "INPUT_GENERATION_ID": "", "INPUT_RERUN_GUARD": "", "INPUT_WAIT": "",
	}
	if results != "" {
		env["ACTIONS_RESULTS_URL"] = results
	}
	for k, v := range inputs {
		if name, ok := strings.CutPrefix(k, "$"); ok { // the runner's own variable: "" unsets it
			env[name] = v
			continue
		}
		env["INPUT_"+strings.ToUpper(k)] = v
	}
	var stdout, stderr bytes.Buffer
	code := Run(context.Background(), Env{LookupEnv: lookup(env), Stdout: &stdout, Stderr: &stderr, Wd: "/nonexistent", Version: "v0-test", Transport: base.Transport})
	raw, _ := os.ReadFile(env["GITHUB_OUTPUT"])
	outputs, err := report.ParseOutputs(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	if stderr.Len() > 0 {
		t.Errorf("stderr: %s", stderr.String())
	}
	return attempt{code: code, log: stdout.String(), outputs: outputs}
}

// guardSim serves the simulator, the Actions cache service at its root
// included, over an in-memory transport. Call it in a bubble.
func guardSim(t *testing.T, faults ...string) (*prismsim.Server, api, string) {
	t.Helper()
	sc := mustScenario(t)
	if len(faults) > 0 {
		sc.Cache = &prismsim.CacheConfig{Faults: faults}
	}
	s := prismsim.New(sc)
	tr := testnet.Serve(t, s)
	t.Cleanup(s.Close) // before the server: hanging requests let go
	return s, api{URL: apiBase, Transport: tr}, strings.TrimSuffix(apiBase, "/api")
}

func TestAReRunWaitsForWhatTheFirstAttemptSubmitted(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s, base, root := guardSim(t)
		tpl := map[string]string{"template_id": "tpl_ok"}
		first := runAttempt(t, base, root, "1", tpl)
		if first.code != outcome.ExitOK || first.outputs["resumed"] != "false" || first.outputs["credits_charged"] != "10" {
			t.Fatalf("first attempt: code %d, outputs %v\n%s", first.code, first.outputs, first.log)
		}
		ids := first.outputs["generation_id"]
		if strings.Count(ids, "\n") != 1 {
			t.Fatalf("first attempt generation_id = %q, want two IDs", ids)
		}
		second := runAttempt(t, base, root, "2", tpl)
		if got := s.Submits("/api/templates/tpl_ok/generate").Posts; got != 1 {
			t.Errorf("%d POSTs after the re-run, want 1: the re-run must not submit", got)
		}
		if second.code != outcome.ExitOK || second.outputs["generation_id"] != ids || second.outputs["resumed"] != "true" ||
			second.outputs["credits_charged"] != "" || second.outputs["status"] != "completed" {
			t.Errorf("re-run: code %d, outputs %v, want attempt 1's IDs %q resumed and completed", second.code, second.outputs, ids)
		}
		if !strings.Contains(second.log, "attempt 1 of this run submitted this request already") || !strings.Contains(second.log, strings.ReplaceAll(ids, "\n", ", ")) {
			t.Errorf("the re-run's log does not say which attempt submitted which IDs:\n%s", second.log)
		}
		for _, id := range strings.Split(ids, "\n") {
			if s.Stats(id).Requests == 0 {
				t.Errorf("%s was not read on the re-run", id)
			}
		}
	})
}

// TestAReRunKeepsTheAnswersUnlistedEntries: an answer's entry marked
// failed without an ID fails the step, and the re-run that waits for the
// recorded IDs too, instead of calling the rest a success.
func TestAReRunKeepsTheAnswersUnlistedEntries(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s, base, root := guardSim(t)
		tpl := map[string]string{"template_id": "tpl_lost"}
		for _, n := range []string{"1", "2"} {
			a := runAttempt(t, base, root, n, tpl)
			if a.code != outcome.ExitFailed || a.outputs["status"] != "failed" || a.outputs["resumed"] != strconv.FormatBool(n == "2") ||
				!strings.Contains(a.log, "The submit answer marks 1 of its entries failed, with no generation ID to wait for") {
				t.Errorf("attempt %s: code %d, outputs %v\n%s", n, a.code, a.outputs, a.log)
			}
		}
		if got := s.Submits("/api/templates/tpl_lost/generate").Posts; got != 1 {
			t.Errorf("%d POSTs, want 1", got)
		}
	})
}

func TestAReRunAfterAnUnrecordedSubmitStopsBeforeSending(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s, base, root := guardSim(t)
		// Attempt 1 recorded its intent and died before the answer was kept.
		first := runAttempt(t, base, root, "1", map[string]string{"template_id": "tpl_ok"})
		if first.code != outcome.ExitOK {
			t.Fatal(first.log)
		}
		dropped := 0
		for _, e := range s.CacheEntries() {
			if strings.HasSuffix(e.Key, "/submitted") {
				s.DropCacheEntry(e.Key)
				dropped++
			}
		}
		if dropped != 1 {
			t.Fatalf("%d submitted entries, want 1", dropped)
		}
		got := runAttempt(t, base, root, "2", map[string]string{"template_id": "tpl_ok"})
		if n := s.Submits("/api/templates/tpl_ok/generate").Posts; got.code != outcome.ExitRefused || n != 1 {
			t.Errorf("code %d, %d POSTs in all; want exit 4 and no second POST\n%s", got.code, n, got.log)
		}
		for _, want := range []string{"::error title=Earlier attempt may have paid::Attempt 1 of this run", "Check the Prism dashboard", "set generation_id to their IDs", "set rerun_guard to off"} {
			if !strings.Contains(got.log, want) {
				t.Errorf("log lacks %q:\n%s", want, got.log)
			}
		}
		if got.outputs["resumed"] != "false" {
			t.Errorf("resumed = %q", got.outputs["resumed"])
		}
	})
}

func mustScenario(t *testing.T) prismsim.Scenario {
	t.Helper()
	sc, err := prismsim.ParseScenario([]byte(guardScenario))
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

func TestARefusedSubmitIsSentAgainOnTheReRun(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s, base, root := guardSim(t)
		tpl := map[string]string{"template_id": "tpl_poor"}
		if first := runAttempt(t, base, root, "1", tpl); first.code != outcome.ExitRefused || strings.Contains(first.log, "recording the refused submit") {
			t.Fatalf("first attempt: code %d, or a failed record of the refusal\n%s", first.code, first.log)
		}
		second := runAttempt(t, base, root, "2", tpl)
		if second.code != outcome.ExitOK || second.outputs["resumed"] != "false" || s.Submits("/api/templates/tpl_poor/generate").Posts != 2 ||
			!strings.Contains(second.log, "re-run guard: the API refused this request's submit by an earlier attempt of this run (nothing was created); submitting it again") ||
			strings.Contains(second.log, "no earlier attempt of this run recorded this request") {
			t.Errorf("re-run after a 402: code %d, outputs %v\n%s", second.code, second.outputs, second.log)
		}
		// And a third attempt resumes the second's.
		third := runAttempt(t, base, root, "3", tpl)
		if third.outputs["resumed"] != "true" || third.outputs["generation_id"] != second.outputs["generation_id"] {
			t.Errorf("third attempt: %v\n%s", third.outputs, third.log)
		}
	})
}

func TestWithoutACacheServiceAutoWarnsAndRequiredRefuses(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s, base, _ := guardSim(t)
		auto := runAttempt(t, base, "", "1", map[string]string{"template_id": "tpl_ok"})
		if auto.code != outcome.ExitOK || !strings.Contains(auto.log, "::warning title=Re-run guard unavailable::") ||
			!strings.Contains(auto.log, "ACTIONS_RESULTS_URL is not set") || strings.Count(auto.log, "Re-run guard") != 1 {
			t.Errorf("auto without a cache: code %d\n%s", auto.code, auto.log)
		}
		// On a re-run, required would stop every attempt: the advice is the
		// two-job pattern.
		again := runAttempt(t, base, "", "2", map[string]string{"template_id": "tpl_ok"})
		if again.code != outcome.ExitOK || !strings.Contains(again.log, "this submit pays for it again (check the Prism dashboard). There is no cache here in any attempt: "+
			"to make re-runs safe, submit with wait false in a job of its own") || strings.Contains(again.log, "to required") {
			t.Errorf("a re-run without a cache: code %d\n%s", again.code, again.log)
		}
		required := runAttempt(t, base, "", "1", map[string]string{"template_id": "tpl_ok", "rerun_guard": "required"})
		if required.code != outcome.ExitInput || !strings.Contains(required.log, "::error title=Re-run guard unavailable::rerun_guard is required, but") {
			t.Errorf("required without a cache: code %d\n%s", required.code, required.log)
		}
		// A cache service without a token is no cache either.
		noToken := runAttempt(t, base, "http://127.0.0.1:9/", "2", map[string]string{"template_id": "tpl_ok", "$ACTIONS_RUNTIME_TOKEN": ""})
		if noToken.code != outcome.ExitOK || !strings.Contains(noToken.log, "ACTIONS_RUNTIME_TOKEN is not set") || !strings.Contains(noToken.log, "There is no cache here in any attempt") {
			t.Errorf("a re-run without a runtime token: code %d\n%s", noToken.code, noToken.log)
		}
		if n := s.Submits("/api/templates/tpl_ok/generate").Posts; n != 3 {
			t.Errorf("%d POSTs, want 3 (auto only, in every attempt)", n)
		}
	})
}

// A re-run whose reads of the cache fail, while writes work, still finds
// attempt 1's intent in its way and stops rather than pay again; once the
// cache answers again, attempt 3 resumes attempt 1's IDs (attempt 2 left
// no mark that would hide them).
func TestAReRunThatCannotReadTheCacheDoesNotPayAgain(t *testing.T) {
	t.Parallel()
	for _, fault := range []string{"503", "hang"} {
		t.Run(fault, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				s := prismsim.New(mustScenario(t))
				var readsFail atomic.Bool
				release := make(chan struct{})
				defer close(release)
				hang := release // reads that use up their whole share
				if fault != "hang" {
					hang = nil
				}
				base, root := failingReads(t, s, &readsFail, hang)
				tpl := map[string]string{"template_id": "tpl_ok"}
				first := runAttempt(t, base, root, "1", tpl)
				readsFail.Store(true)
				second := runAttempt(t, base, root, "2", tpl)
				if posts := s.Submits("/api/templates/tpl_ok/generate").Posts; second.code != outcome.ExitRefused || posts != 1 ||
					!strings.Contains(second.log, "could not be read") || !strings.Contains(second.log, "whether it paid cannot be told") {
					t.Errorf("re-run that cannot read the cache: code %d, %d POSTs in all; want 4 and 1:\n%s", second.code, posts, second.log)
				}
				readsFail.Store(false)
				third := runAttempt(t, base, root, "3", tpl)
				if third.code != outcome.ExitOK || third.outputs["resumed"] != "true" || third.outputs["generation_id"] != first.outputs["generation_id"] {
					t.Errorf("attempt 3: code %d, outputs %v; want attempt 1's IDs resumed:\n%s", third.code, third.outputs, third.log)
				}
			})
		})
	}
}

// More refused attempts than the guard keeps records for: in either mode
// the step stops before submitting (exit 4), since from then on no attempt
// would be guarded and each could pay.
func TestPastTheRoundsTheGuardKeepsNothingIsSent(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"auto", "required"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				s, base, root := guardSim(t)
				tpl := map[string]string{"template_id": "tpl_broke", "rerun_guard": mode}
				for n := 1; n <= 10; n++ {
					if got := runAttempt(t, base, root, fmt.Sprint(n), tpl); got.code != outcome.ExitRefused {
						t.Fatalf("attempt %d: code %d\n%s", n, got.code, got.log)
					}
				}
				for _, n := range []string{"11", "12"} {
					got := runAttempt(t, base, root, n, tpl)
					if posts := s.Submits("/api/templates/tpl_broke/generate").Posts; got.code != outcome.ExitRefused || posts != 10 ||
						!strings.Contains(got.log, "the re-run guard keeps no more") || !strings.Contains(got.log, "set rerun_guard to off") {
						t.Errorf("attempt %s: code %d, %d POSTs; want 4 and 10:\n%s", n, got.code, posts, got.log)
					}
				}
			})
		})
	}
}

// A re-run that finds nothing recorded for its request says so before it
// submits: the request (its inputs) differs from the earlier attempts'.
func TestAReRunWithNothingRecordedSaysSo(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s, base, root := guardSim(t)
		runAttempt(t, base, root, "1", map[string]string{"template_id": "tpl_ok", "variables": `{"title": "one"}`})
		second := runAttempt(t, base, root, "2", map[string]string{"template_id": "tpl_ok", "variables": `{"title": "two"}`})
		if posts := s.Submits("/api/templates/tpl_ok/generate").Posts; second.code != outcome.ExitOK || posts != 2 ||
			!strings.Contains(second.log, "re-run guard: no earlier attempt of this run recorded this request") {
			t.Errorf("code %d, %d POSTs:\n%s", second.code, posts, second.log)
		}
	})
}

func TestACacheFaultIsAWarningInAutoAndAnInputErrorInRequired(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		for _, fault := range []string{"unavailable", "create_not_ok"} {
			s, base, root := guardSim(t, fault)
			auto := runAttempt(t, base, root, "1", map[string]string{"template_id": "tpl_ok"})
			if auto.code != outcome.ExitOK || !strings.Contains(auto.log, "::warning title=Re-run guard unavailable::") {
				t.Errorf("%s, auto: code %d\n%s", fault, auto.code, auto.log)
			}
			required := runAttempt(t, base, root, "1", map[string]string{"template_id": "tpl_ok", "rerun_guard": "required"})
			if required.code != outcome.ExitInput {
				t.Errorf("%s, required: code %d\n%s", fault, required.code, required.log)
			}
			if n := s.Submits("/api/templates/tpl_ok/generate").Posts; n != 1 {
				t.Errorf("%s: %d POSTs, want 1", fault, n)
			}
		}
	})
}

func TestOffNeverTouchesTheCache(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s, base, root := guardSim(t)
		got := runAttempt(t, base, root, "2", map[string]string{"template_id": "tpl_ok", "rerun_guard": "off"})
		if got.code != outcome.ExitOK || strings.Contains(got.log, "Re-run guard") {
			t.Errorf("off: code %d\n%s", got.code, got.log)
		}
		for _, m := range []string{"GetCacheEntryDownloadURL", "CreateCacheEntry"} {
			if n := s.CacheCalls(m); n != 0 {
				t.Errorf("%d %s calls with rerun_guard off", n, m)
			}
		}
	})
}

func TestWaitFalseSubmitsAndStops(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s, base, root := guardSim(t)
		got := runAttempt(t, base, root, "1", map[string]string{"template_id": "tpl_ok", "wait": "false"})
		ids := strings.Split(got.outputs["generation_id"], "\n")
		if got.code != outcome.ExitOK || len(ids) != 2 || got.outputs["credits_charged"] != "10" || got.outputs["status"] != "" || got.outputs["resumed"] != "false" {
			t.Fatalf("wait false: code %d outputs %v\n%s", got.code, got.outputs, got.log)
		}
		for _, id := range ids {
			if n := s.Stats(id).Requests; n != 0 {
				t.Errorf("%s read %d times by a submit-only step", id, n)
			}
		}
		if !strings.Contains(got.log, "not waiting (wait is false)") {
			t.Errorf("log does not say it stops:\n%s", got.log)
		}
		// results has one object per ID, as after a wait, as in the CLI.
		want := fmt.Sprintf(`[{"id":%q,"status":"submitted"`, ids[0])
		if r := got.outputs["results"]; !strings.HasPrefix(r, want) || strings.Count(r, `"status":"submitted"`) != 2 {
			t.Errorf("results = %s, want both IDs submitted", r)
		}
		// Its re-run hands the same IDs on, and says so, not that it waits.
		again := runAttempt(t, base, root, "2", map[string]string{"template_id": "tpl_ok", "wait": "false"})
		if again.code != outcome.ExitOK || again.outputs["generation_id"] != got.outputs["generation_id"] ||
			!strings.Contains(again.log, "handing those on instead of submitting again") || strings.Contains(again.log, "waiting for those") ||
			!strings.Contains(again.log, "\nprism-wait: 2 handed on, submitted by an earlier attempt after ") || !strings.Contains(got.log, "\nprism-wait: 2 submitted after ") {
			t.Errorf("re-run with wait false: code %d outputs %v\n%s", again.code, again.outputs, again.log)
		}
	})
}

func TestAMatrixLegWithTheSameRequestWarnsAndSubmits(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s, base, root := guardSim(t)
		tpl := map[string]string{"template_id": "tpl_ok"}
		runAttempt(t, base, root, "1", tpl)
		leg := runAttempt(t, base, root, "1", tpl)
		if leg.code != outcome.ExitOK || leg.outputs["resumed"] != "false" || !strings.Contains(leg.log, "a matrix leg?") ||
			s.Submits("/api/templates/tpl_ok/generate").Posts != 2 {
			t.Errorf("second leg: code %d outputs %v\n%s", leg.code, leg.outputs, leg.log)
		}
		// A re-run of either leg cannot tell whose generations the record
		// holds: it stops, never resuming the other's, never paying again.
		rerun := runAttempt(t, base, root, "2", tpl)
		if rerun.code != outcome.ExitRefused || rerun.outputs["resumed"] != "false" || !strings.Contains(rerun.log, "several jobs of this run made this same request") ||
			s.Submits("/api/templates/tpl_ok/generate").Posts != 2 {
			t.Errorf("re-run of a leg: code %d outputs %v\n%s", rerun.code, rerun.outputs, rerun.log)
		}
	})
}

func TestTheRuntimeTokenNeverReachesTheLog(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := prismsim.New(mustScenario(t))
		tr := testnet.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/twirp/") {
				// A service that echoes the request's credentials.
				w.WriteHeader(http.StatusBadRequest)
				fmt.Fprintf(w, `{"code":"invalid_argument","msg":"bad header %s"}`, r.Header.Get("Authorization"))
				return
			}
			s.ServeHTTP(w, r)
		}))
		t.Cleanup(s.Close)
		got := runAttempt(t, api{URL: apiBase, Transport: tr}, strings.TrimSuffix(apiBase, "/api"), "2", map[string]string{"template_id": "tpl_ok"})
		if got.code != outcome.ExitOK || !strings.Contains(got.log, "Re-run guard unavailable") || !strings.Contains(got.log, "bad header Bearer") ||
			strings.Contains(got.log, "runtime-token") {
			t.Errorf("code %d; the warning must quote the service without the token:\n%s", got.code, got.log)
		}
	})
}

func TestTheCLIOutsideGitHubHasNoGuard(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s, base, root := guardSim(t)
		var stdout, stderr bytes.Buffer
		env := map[string]string{"PRISM_API_KEY": key, "PRISM_POLL_INTERVAL": "10ms", "ACTIONS_RESULTS_URL": root, "ACTIONS_RUNTIME_TOKEN": "runtime-token",
			"GITHUB_RUN_ID": "1", "GITHUB_RUN_ATTEMPT": "2", "GITHUB_JOB": "j", "GITHUB_ACTION": "a"}
		code := Run(context.Background(), Env{LookupEnv: lookup(env), Args: []string{"--base-url", base.URL, "--template-id", "tpl_ok"}, Stdout: &stdout, Stderr: &stderr, Wd: t.TempDir(), Transport: base.Transport})
		if code != outcome.ExitOK || strings.Contains(stderr.String(), "guard") || s.CacheCalls("GetCacheEntryDownloadURL")+s.CacheCalls("CreateCacheEntry") != 0 {
			t.Errorf("CLI: code %d, cache calls made or guard mentioned:\n%s", code, stderr.String())
		}
		// required cannot be met there: it refuses before any request,
		// rather than passing for a protection.
		stderr.Reset()
		code = Run(context.Background(), Env{LookupEnv: lookup(env), Args: []string{"--base-url", base.URL, "--template-id", "tpl_ok", "--rerun-guard", "required"},
			Stdout: &stdout, Stderr: &stderr, Wd: t.TempDir(), Transport: base.Transport})
		if posts := s.Submits("/api/templates/tpl_ok/generate").Posts; code != outcome.ExitInput || posts != 1 ||
			!strings.Contains(stderr.String(), "--rerun-guard (PRISM_RERUN_GUARD) is required, but the re-run guard works only in GitHub Actions") {
			t.Errorf("CLI with --rerun-guard required: code %d, %d POSTs in all:\n%s", code, posts, stderr.String())
		}
	})
}

func TestACacheThatNeverAnswersGetsABoundedShareOfTheRun(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := prismsim.New(mustScenario(t))
		release := make(chan struct{})
		defer close(release)
		tr := testnet.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/twirp/") {
				select {
				case <-r.Context().Done():
				case <-release:
				}
				return
			}
			s.ServeHTTP(w, r)
		}))
		t.Cleanup(s.Close)
		start := time.Now()
		got := runAttempt(t, api{URL: apiBase, Transport: tr}, strings.TrimSuffix(apiBase, "/api"), "2", map[string]string{"template_id": "tpl_ok", "timeout": "1m"})
		if got.code != outcome.ExitOK || !strings.Contains(got.log, "::warning title=Re-run guard unavailable::") || s.Submits("/api/templates/tpl_ok/generate").Posts != 1 {
			t.Errorf("code %d, %d POSTs:\n%s", got.code, s.Submits("/api/templates/tpl_ok/generate").Posts, got.log)
		}
		if took := time.Since(start); took < guardTimeout || took > guardTimeout+recordTimeout+time.Second {
			t.Errorf("took %s: the guard's share is %s before the submit, %s after", took, guardTimeout, recordTimeout)
		}
	})
}

func TestTheCLIThatDoesNotWaitPrintsTheSubmittedIDs(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s, base, _ := guardSim(t)
		var stdout, stderr bytes.Buffer
		env := map[string]string{"PRISM_API_KEY": key}
		code := Run(context.Background(), Env{LookupEnv: lookup(env), Args: []string{"--base-url", base.URL, "--template-id", "tpl_ok", "--wait=false"},
			Stdout: &stdout, Stderr: &stderr, Wd: t.TempDir(), Transport: base.Transport})
		var results []struct {
			ID     string  `json:"id"`
			Status string  `json:"status"`
			URL    *string `json:"video_url"`
		}
		if err := json.Unmarshal(stdout.Bytes(), &results); err != nil || code != outcome.ExitOK || len(results) != 2 ||
			results[0].Status != "submitted" || results[0].URL != nil || !strings.HasPrefix(results[0].ID, "gen_tpl_ok_") {
			t.Fatalf("code %d, stdout %q (%v); want the two IDs as submitted", code, stdout.String(), err)
		}
		if !strings.Contains(stderr.String(), "not waiting (--wait (PRISM_WAIT) is false): a later step or job can wait for these IDs with --generation-id (PRISM_GENERATION_ID)") ||
			strings.Contains(stderr.String(), "first reads") {
			t.Errorf("stderr:\n%s", stderr.String())
		}
		for _, r := range results {
			if n := s.Stats(r.ID).Requests; n != 0 {
				t.Errorf("%s read %d times", r.ID, n)
			}
		}
	})
}

// An attempt that cannot read the cache, but can write to it, is still
// guarded: its intent and IDs are recorded, so the next re-run resumes
// them instead of paying again. (Attempt 1 failed before its submit.)
func TestAnAttemptThatCannotReadTheCacheStillRecordsWhatItPaidFor(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := prismsim.New(mustScenario(t))
		var readsFail atomic.Bool
		base, root := failingReads(t, s, &readsFail, nil)
		tpl := map[string]string{"template_id": "tpl_ok"}
		readsFail.Store(true)
		second := runAttempt(t, base, root, "2", tpl)
		if second.code != outcome.ExitOK || strings.Contains(second.log, "Re-run guard unavailable") {
			t.Errorf("attempt 2: code %d; want 0 and no warning:\n%s", second.code, second.log)
		}
		readsFail.Store(false)
		third := runAttempt(t, base, root, "3", tpl)
		if posts := s.Submits("/api/templates/tpl_ok/generate").Posts; third.code != outcome.ExitOK || third.outputs["resumed"] != "true" || posts != 1 {
			t.Errorf("attempt 3: code %d, resumed %q, %d POSTs in all; want attempt 2's IDs resumed:\n%s", third.code, third.outputs["resumed"], posts, third.log)
		}
	})
}

// failingReads serves s, except that the cache's reads answer 503 while
// fail is set; with hang, only once the request ends or hang is closed.
func failingReads(t *testing.T, s *prismsim.Server, fail *atomic.Bool, hang <-chan struct{}) (base api, root string) {
	tr := testnet.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail.Load() && strings.HasSuffix(r.URL.Path, "/GetCacheEntryDownloadURL") {
			if hang != nil {
				select {
				case <-r.Context().Done():
				case <-hang:
				}
			}
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		s.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return api{URL: apiBase, Transport: tr}, strings.TrimSuffix(apiBase, "/api")
}
