package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prism-wait/prism-wait/internal/clock"
	"github.com/prism-wait/prism-wait/internal/download"
	"github.com/prism-wait/prism-wait/internal/outcome"
	"github.com/prism-wait/prism-wait/internal/prism"
	"github.com/prism-wait/prism-wait/internal/report"
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
		{"timeout equal to busy", prism.Submission{IDs: []string{"gen_1"}, Typical: 60, Busy: 120}, 2 * time.Minute,
			"submitted 1 generation(s): gen_1\nexpected in about 1m0s (up to 2m0s when Prism is busy)\n"},
		{"timeout under busy", prism.Submission{IDs: []string{"gen_1"}, Busy: 120}, time.Minute,
			"submitted 1 generation(s): gen_1\nwarning: Timeout may be too short: Prism expects up to 2m0s when busy, and the timeout is 1m0s. Raise timeout if the step ends before the videos.\n"},
	} {
		var b bytes.Buffer
		typical := announce(report.NewLog(&b, false), tc.sub, tc.timeout)
		if b.String() != tc.want || typical != seconds(tc.sub.Typical) {
			t.Errorf("%s: returned %s, logged\n%s\nwant\n%s", tc.name, typical, b.String(), tc.want)
		}
	}
}

func TestSubmitThroughTheAction(t *testing.T) {
	t.Parallel()
	_, base := sim(t, `{"generations": {},
		"templates": {
			"tpl_ok": {"credits": 20, "latency": {"typical": 2, "busy": 4}, "lifecycle": {"steps": [{"status": "completed"}], "video": {"bytes": 100}}},
			"tpl_busy": {"submit": [{"http": 429, "retry_after": "0", "times": 2}, {"ok": true}], "lifecycle": {"steps": [{"status": "completed"}], "video": {"bytes": 100}}},
			"tpl_gone": {"submit": [{"http": 404}]}},
		"prompt": {"lifecycle": {"steps": [{"status": "completed"}], "video": {"bytes": 100}}}}`)
	for _, tc := range []struct {
		name    string
		inputs  map[string]string
		code    int
		logSays []string
	}{
		{"template", map[string]string{"template_id": "tpl_ok"}, outcome.ExitOK, []string{
			"submitting template tpl_ok at " + base, "20 credits charged", "expected in about 2s (up to 4s when Prism is busy)"}},
		{"retried after 429", map[string]string{"template_id": "tpl_busy"}, outcome.ExitOK, []string{
			"::warning title=Submit not accepted yet::HTTP 429 rate_limited", "so it is sent again when the API's rate limit allows"}},
		{"refused", map[string]string{"template_id": "tpl_gone"}, outcome.ExitRefused, []string{"HTTP 404 not_found"}},
		{"prompt", map[string]string{"prompt": "a cat", "model": "m"}, outcome.ExitOK, []string{"submitting a prompt at " + base}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := action(t, context.Background(), base, tc.inputs)
			if r.code != tc.code {
				t.Errorf("code %d, want %d:\n%s", r.code, tc.code, r.stdout)
			}
			for _, want := range tc.logSays {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("log lacks %q:\n%s", want, r.stdout)
				}
			}
		})
	}
}

// TestARefreshWarnsAboutItsTrouble: a refresh's transient errors reach
// the log like any status read's.
func TestARefreshWarnsAboutItsTrouble(t *testing.T) {
	t.Parallel()
	_, base := sim(t, `{"generations": {"gen_x": {"steps": [
		{"status": "completed"}, {"http": 503, "retry_after": "2", "times": 2}, {"status": "completed"}],
		"video": {"bytes": 5000, "faults": ["expired_first"]}}}}`)
	r := action(t, context.Background(), base, map[string]string{"generation_id": "gen_x", "download_dir": "v"})
	if r.code != outcome.ExitOK || !strings.Contains(r.stdout, "::warning title=Prism API trouble::gen_x: HTTP 503") {
		t.Errorf("code %d:\n%s", r.code, r.stdout)
	}
	if n := strings.Count(r.stdout, "gen_x: completed"); n != 1 {
		t.Errorf("completed logged %d times, want once (the refresh's reads are not news):\n%s", n, r.stdout)
	}
}

// TestFinishWritesOnlyWhatIsKnown: invalid input leaves no results JSON,
// no closing line and no summary; a run with results has all three.
func TestFinishWritesOnlyWhatIsKnown(t *testing.T) {
	t.Parallel()
	_, base := sim(t, scenario)
	t.Run("cli", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			args    []string
			results bool
		}{
			{[]string{"gen_ok"}, true},
			{[]string{"../bad"}, false},
		} {
			var stdout, stderr bytes.Buffer
			env := map[string]string{"PRISM_API_KEY": key, "PRISM_BASE_URL": base, "PRISM_POLL_INTERVAL": "10ms"}
			Run(context.Background(), Env{LookupEnv: lookup(env), Args: tc.args, Stdout: &stdout, Stderr: &stderr, Wd: t.TempDir(), Clock: clock.NewAuto(epoch)})
			var results []map[string]any
			gotJSON := json.Unmarshal(stdout.Bytes(), &results) == nil && len(results) == 1
			closing := strings.Contains(stderr.String(), " requests; exit code ")
			if gotJSON != tc.results || closing != tc.results || (!tc.results && stdout.Len() != 0) {
				t.Errorf("%v: stdout %q, closing line %v; want results %v:\n%s", tc.args, stdout.String(), closing, tc.results, stderr.String())
			}
		}
	})
	t.Run("action", func(t *testing.T) {
		t.Parallel()
		for _, tc := range []struct {
			id      string
			results bool
		}{
			{"gen_ok", true},
			{"../bad", false},
		} {
			// A subtest each: action's output files sit beside its TempDir.
			t.Run(tc.id, func(t *testing.T) {
				t.Parallel()
				r := action(t, context.Background(), base, map[string]string{"generation_id": tc.id})
				closing := strings.Contains(r.stdout, " requests; exit code ")
				summary := strings.Contains(r.summary, "### Prism generations")
				if closing != tc.results || summary != tc.results {
					t.Errorf("%s: closing line %v, summary %v; want %v:\n%s", tc.id, closing, summary, tc.results, r.stdout)
				}
			})
		}
	})
}

// TestDefaultHeartbeat pins the period README promises: "a heartbeat at
// most every 30 s while waiting".
func TestDefaultHeartbeat(t *testing.T) {
	t.Parallel()
	if DefaultHeartbeat != 30*time.Second {
		t.Errorf("DefaultHeartbeat = %s, README says 30 s", DefaultHeartbeat)
	}
}

func TestOr(t *testing.T) {
	t.Parallel()
	if or(0, DefaultHeartbeat) != DefaultHeartbeat || or(time.Second, DefaultHeartbeat) != time.Second || or("", "d") != "d" || or("v", "d") != "v" {
		t.Error("or does not take the value when set, the default when zero")
	}
}

func TestVersion(t *testing.T) {
	t.Parallel()
	if got := Version("v1.2.3"); got != "v1.2.3" {
		t.Errorf("Version(stamped) = %q", got)
	}
	if got := Version(""); got == "" {
		t.Error(`Version("") is empty, want the build info's version or "(devel)"`)
	}
}

func TestOwner(t *testing.T) {
	t.Parallel()
	if owner(filepath.Join(t.TempDir(), "missing")) != nil {
		t.Error("a missing workspace has an owner")
	}
	if os.Geteuid() != 0 {
		if owner(t.TempDir()) != nil {
			t.Error("not root: files need no new owner")
		}
		return
	}
	for _, tc := range []struct {
		uid, gid int
		want     *download.Owner
	}{
		{0, 0, nil},
		{1001, 0, &download.Owner{UID: 1001, GID: 0}},
		{0, 1002, &download.Owner{UID: 0, GID: 1002}},
		{1001, 1002, &download.Owner{UID: 1001, GID: 1002}},
	} {
		ws := t.TempDir()
		if err := os.Chown(ws, tc.uid, tc.gid); err != nil {
			t.Skipf("cannot chown as root here: %v", err)
		}
		got := owner(ws)
		if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
			t.Errorf("owner of %d:%d = %+v, want %+v", tc.uid, tc.gid, got, tc.want)
		}
	}
}
