package rerun_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prism-wait/prism-wait/internal/prism"
	"github.com/prism-wait/prism-wait/internal/prismsim"
	"github.com/prism-wait/prism-wait/internal/rerun"
	"github.com/prism-wait/prism-wait/internal/testnet"
)

var (
	req   = prism.SubmitRequest{TemplateID: "tpl_a", Body: map[string]any{"variables": map[string]any{"title": "Launch"}}}
	when  = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	later = when.Add(time.Hour)
)

// runner is the environment the runner gives a Docker action's container.
func runner(url string, attempt string) func(string) string {
	env := map[string]string{
		"GITHUB_RUN_ID": "7001", "GITHUB_RUN_ATTEMPT": attempt, "GITHUB_JOB": "release", "GITHUB_ACTION": "submit",
		"ACTIONS_RESULTS_URL": url + "/", "ACTIONS_RUNTIME_TOKEN": "runtime-token",
	}
	return func(k string) string { return env[k] }
}

// server is the simulator's cache service, served in memory: call start
// inside a synctest bubble, so that retries take no time.
type server struct {
	url string
	tr  http.RoundTripper
}

func start(t *testing.T, faults ...string) (*prismsim.Server, server) {
	t.Helper()
	sim := prismsim.New(prismsim.Scenario{Cache: &prismsim.CacheConfig{Faults: faults}})
	return sim, server{"http://127.0.0.1:8787", testnet.Serve(t, sim)}
}

func open(t *testing.T, srv server, attempt string, r prism.SubmitRequest) *rerun.Guard {
	t.Helper()
	g, err := rerun.Open(runner(srv.url, attempt), "https://prismvideos.com/api", "prism_sk_one", r, srv.tr)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestAReRunFindsTheIDsTheFirstAttemptSubmitted(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		sim, url := start(t)
		ctx := context.Background()
		first := open(t, url, "1", req)
		if p, err := first.Check(ctx); err != nil || p.Intent != nil || p.Submitted != nil {
			t.Fatalf("first attempt Check = %+v, %v; want nothing", p, err)
		}
		if err := first.Intend(ctx, when); err != nil {
			t.Fatal(err)
		}
		if err := first.Submitted(ctx, when, []string{"gen_a", "gen_b"}, 3, 2); err != nil {
			t.Fatal(err)
		}
		p, err := open(t, url, "2", req).Check(ctx)
		if err != nil || p.Submitted == nil || strings.Join(p.Submitted.IDs, ",") != "gen_a,gen_b" || p.Submitted.Attempt != 1 ||
			p.Submitted.Lost != 3 || p.Submitted.LostFailed != 2 {
			t.Fatalf("second attempt Check = %+v, %v; want attempt 1's IDs", p.Submitted, err)
		}
		for _, e := range sim.CacheEntries() {
			for _, leak := range []string{"runtime-token", "prism_sk_", "http"} {
				if strings.Contains(e.Key, leak) || strings.Contains(string(e.Data), leak) {
					t.Errorf("entry %q = %s holds %q", e.Key, e.Data, leak)
				}
			}
			if strings.Contains(e.Key, "attempt") || strings.Contains(e.Key, ",") {
				t.Errorf("key %q names the attempt or holds a comma", e.Key)
			}
		}
	})
}

func TestAnIntentWithoutItsAnswerIsReported(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, url := start(t)
		ctx := context.Background()
		if err := open(t, url, "1", req).Intend(ctx, when); err != nil {
			t.Fatal(err)
		}
		p, err := open(t, url, "3", req).Check(ctx)
		if err != nil || p.Submitted != nil || p.Intent == nil || p.Intent.Attempt != 1 || !p.Intent.At.Equal(when) {
			t.Fatalf("Check = %+v, %v; want attempt 1's intent", p, err)
		}
	})
}

func TestARefusedSubmitMaySendAgainOnTheNextAttempt(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, url := start(t)
		ctx := context.Background()
		first := open(t, url, "1", req)
		if err := first.Intend(ctx, when); err != nil {
			t.Fatal(err)
		}
		if err := first.Refused(ctx, when); err != nil {
			t.Fatal(err)
		}
		second := open(t, url, "2", req)
		if p, err := second.Check(ctx); err != nil || p.Intent != nil || p.Submitted != nil {
			t.Fatalf("Check after a refusal = %+v, %v; want a free round", p, err)
		}
		// The second attempt records under its own keys, and a third finds it.
		if err := second.Intend(ctx, later); err != nil {
			t.Fatal(err)
		}
		if err := second.Submitted(ctx, later, []string{"gen_c"}, 0, 0); err != nil {
			t.Fatal(err)
		}
		p, err := open(t, url, "3", req).Check(ctx)
		if err != nil || p.Submitted == nil || p.Submitted.Attempt != 2 || p.Submitted.IDs[0] != "gen_c" {
			t.Fatalf("third attempt Check = %+v, %v", p.Submitted, err)
		}
	})
}

func TestAnotherRequestIsAnotherEntry(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, url := start(t)
		ctx := context.Background()
		first := open(t, url, "1", req)
		first.Intend(ctx, when)
		first.Submitted(ctx, when, []string{"gen_a"}, 0, 0)
		other := prism.SubmitRequest{TemplateID: "tpl_a", Body: map[string]any{"variables": map[string]any{"title": "Other"}}}
		if p, err := open(t, url, "2", other).Check(ctx); err != nil || p.Submitted != nil || p.Intent != nil {
			t.Fatalf("Check of another request = %+v, %v; want nothing", p, err)
		}
	})
}

func TestAMatrixLegWithTheSameRequestIsTakenNotResumed(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, url := start(t)
		ctx := context.Background()
		if err := open(t, url, "1", req).Intend(ctx, when); err != nil {
			t.Fatal(err)
		}
		leg := open(t, url, "1", req)
		if p, err := leg.Check(ctx); err != nil || p.Intent != nil || p.Submitted != nil {
			t.Fatalf("first-attempt Check = %+v, %v: a first attempt never resumes", p, err)
		}
		if err := leg.Intend(ctx, when); !errors.Is(err, rerun.ErrTaken) {
			t.Fatalf("Intend of the second leg = %v, want ErrTaken", err)
		}
	})
}

func TestOpenSaysWhyTheGuardCannotBeUsed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		drop, set, want string
	}{
		{drop: "ACTIONS_RESULTS_URL", want: "ACTIONS_RESULTS_URL is not set"},
		{drop: "ACTIONS_RUNTIME_TOKEN", want: "ACTIONS_RUNTIME_TOKEN is not set"},
		{drop: "GITHUB_RUN_ID", want: "not a GitHub Actions job"},
		{drop: "GITHUB_JOB", want: "not a GitHub Actions job"},
		{drop: "GITHUB_ACTION", want: "not a GitHub Actions job"},
		{set: "GITHUB_RUN_ATTEMPT=0", want: "GITHUB_RUN_ATTEMPT is not a number from 1 on"},
		{set: "GITHUB_RUN_ATTEMPT=zero", want: "GITHUB_RUN_ATTEMPT"},
		{set: "ACTIONS_RESULTS_URL=http://results.example/", want: "loopback and private"},
	} {
		env := runner("http://127.0.0.1:1", "1")
		get := func(k string) string {
			if k == tc.drop {
				return ""
			}
			if name, v, _ := strings.Cut(tc.set, "="); k == name {
				return v
			}
			return env(k)
		}
		_, err := rerun.Open(get, "https://prismvideos.com/api", "prism_sk_one", req, nil)
		var u *rerun.Unavailable
		if !errors.As(err, &u) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("drop %q set %q: Open = %v, want Unavailable naming %q", tc.drop, tc.set, err, tc.want)
		}
	}
}

func TestACacheFaultIsAnError(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, url := start(t, "unavailable")
		g := open(t, url, "2", req)
		if _, err := g.Check(context.Background()); err == nil {
			t.Error("Check against an unavailable service succeeded")
		}
		if err := g.Intend(context.Background(), when); err == nil || errors.Is(err, rerun.ErrTaken) {
			t.Errorf("Intend against an unavailable service = %v", err)
		}
	})
}

func TestKeysHoldOnlySafeCharactersOfTheRunJobAndStep(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		sim, srv := start(t)
		env := runner(srv.url, "1")
		odd := map[string]string{"GITHUB_JOB": "build (linux, 1.2)", "GITHUB_ACTION": "__prism-wait_prism-wait.v2,x", "GITHUB_RUN_ID": "09AZaz@[`{/:"}
		get := func(k string) string {
			if v, ok := odd[k]; ok {
				return v
			}
			return env(k)
		}
		g, err := rerun.Open(get, "https://prismvideos.com/api", "prism_sk_one", req, srv.tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Intend(context.Background(), when); err != nil {
			t.Fatal(err)
		}
		e := sim.CacheEntries()
		want := "prism-wait-rerun-guard/09AZaz______/build__linux__1.2_/__prism-wait_prism-wait.v2_x/"
		if len(e) != 1 || !strings.HasPrefix(e[0].Key, want) || !strings.HasSuffix(e[0].Key, "/0/intent") {
			t.Fatalf("entries %+v, want one key starting %q", e, want)
		}
		long := strings.Repeat("j", 300)
		odd["GITHUB_JOB"] = long
		g, _ = rerun.Open(get, "https://prismvideos.com/api", "prism_sk_one", req, srv.tr)
		if err := g.Intend(context.Background(), when); err != nil {
			t.Fatalf("a 300-character job name: %v", err)
		}
		for _, e := range sim.CacheEntries() {
			if strings.Contains(e.Key, long[:101]) {
				t.Errorf("key %q keeps more than 100 characters of the job", e.Key)
			}
		}
	})
}

func TestTenRefusedAttemptsAreAsManyAsTheGuardKeeps(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, srv := start(t)
		ctx := context.Background()
		for n := 1; n <= 10; n++ {
			g := open(t, srv, strconv.Itoa(n), req)
			if p, err := g.Check(ctx); err != nil || p.Intent != nil || p.Submitted != nil {
				t.Fatalf("attempt %d: Check = %+v, %v", n, p, err)
			}
			if err := g.Intend(ctx, when); err != nil {
				t.Fatal(err)
			}
			if err := g.Refused(ctx, when); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := open(t, srv, "11", req).Check(ctx); !errors.Is(err, rerun.ErrNoMoreRounds) || !strings.Contains(err.Error(), "10 earlier attempts") {
			t.Errorf("attempt 11: Check = %v, want the guard to say it keeps no more", err)
		}
	})
}

func TestEntriesPrismWaitDidNotWriteAreErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, phase, data, want string
	}{
		{"not JSON", "submitted", `garbage`, "not one prism-wait wrote"},
		{"attempt 0", "submitted", `{"attempt":0,"ids":["gen_a"]}`, "not one prism-wait wrote"},
		{"a later attempt", "intent", `{"attempt":3}`, "not one prism-wait wrote"},
		{"this attempt's, by another job", "intent", `{"attempt":2}`, "several jobs of this run made this same request"},
		{"no usable ID", "submitted", `{"attempt":1,"ids":["../x","gen a"]}`, "holds what is no generation ID of a submit"},
		{"no ID at all", "submitted", `{"attempt":1,"ids":[]}`, "holds no generation ID"},
		// One bad ID among good ones: prism-wait records what the submit
		// gave, plain and each once, so the entry is not its.
		{"a bad ID among good ones", "submitted", `{"attempt":1,"ids":["gen_a","::set-output name=x::y"]}`, "holds what is no generation ID of a submit"},
		{"an ID twice", "submitted", `{"attempt":1,"ids":["gen_a","gen_a"]}`, "holds what is no generation ID of a submit"},
	} {
		synctest.Test(t, func(t *testing.T) {
			sim, srv := start(t)
			first := open(t, srv, "1", req)
			first.Intend(context.Background(), when)
			key := ""
			for _, e := range sim.CacheEntries() {
				key = strings.TrimSuffix(e.Key, "intent") + tc.phase
				if tc.phase == "intent" {
					sim.DropCacheEntry(e.Key)
				}
				sim.PutCacheEntry(prismsim.CacheEntry{Key: key, Version: e.Version, Data: []byte(tc.data)})
			}
			if _, err := open(t, srv, "2", req).Check(context.Background()); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: Check = %v, want %q", tc.name, err, tc.want)
			}
		})
	}
}

func TestTheSameRequestUnderAnotherKeyIsAnotherEntry(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		sim, srv := start(t)
		ctx := context.Background()
		first := open(t, srv, "1", req)
		first.Intend(ctx, when)
		first.Submitted(ctx, when, []string{"gen_a"}, 0, 0)
		other, err := rerun.Open(runner(srv.url, "2"), "https://prismvideos.com/api", "prism_sk_two", req, srv.tr)
		if err != nil {
			t.Fatal(err)
		}
		if p, err := other.Check(ctx); err != nil || p.Submitted != nil || p.Intent != nil {
			t.Fatalf("another key's Check = %+v, %v; want nothing: its account did not submit", p, err)
		}
		for _, e := range sim.CacheEntries() {
			if strings.Contains(e.Key, "prism_sk") || strings.Contains(string(e.Data), "prism_sk") {
				t.Errorf("entry %q holds the key", e.Key)
			}
		}
	})
}

func TestAReRunStopsWhereAnEarlierAttemptLeftARecordItCannotUse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	unrecorded := func(t *testing.T, err error, want string) {
		t.Helper()
		var u *rerun.Unrecorded
		if !errors.As(err, &u) || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want an *Unrecorded saying %q", err, want)
		}
	}
	synctest.Test(t, func(t *testing.T) {
		// Attempt 1 reserved its intent and died before finishing it.
		sim, srv := start(t)
		first := open(t, srv, "1", req)
		first.Intend(ctx, when)
		e := sim.CacheEntries()[0]
		sim.DropCacheEntry(e.Key)
		sim.ReserveCacheEntry(e.Key, e.Version)
		g := open(t, srv, "2", req)
		if p, err := g.Check(ctx); err != nil || p.Intent != nil || p.Submitted != nil {
			t.Fatalf("Check = %+v, %v; an unfinished entry is not found", p, err)
		}
		unrecorded(t, g.Intend(ctx, later), "never finished the record")
	})
	synctest.Test(t, func(t *testing.T) {
		// The record exists, and its bytes cannot be had.
		sim, srv := start(t, "download_fails")
		first := open(t, srv, "1", req)
		first.Intend(ctx, when)
		first.Submitted(ctx, when, []string{"gen_a"}, 0, 0)
		_, err := open(t, srv, "2", req).Check(ctx)
		unrecorded(t, err, "the record cannot be used")
		_ = sim
	})
	synctest.Test(t, func(t *testing.T) {
		// Two legs of a matrix, one key, one request: neither re-run resumes.
		_, srv := start(t)
		a, b := open(t, srv, "1", req), open(t, srv, "1", req)
		a.Intend(ctx, when)
		if err := b.Intend(ctx, when); !errors.Is(err, rerun.ErrTaken) {
			t.Fatalf("second leg's Intend = %v, want ErrTaken", err)
		}
		a.Submitted(ctx, when, []string{"gen_a"}, 0, 0)
		_, err := open(t, srv, "2", req).Check(ctx)
		unrecorded(t, err, "several jobs of this run made this same request")
	})
}

// Two legs of a matrix meet on attempt 1 and the mark that they share the
// record cannot be written: the second leg's error says what a re-run of
// it may then do, instead of keeping quiet.
func TestAMarkThatCannotBeWrittenIsSaid(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		srv := sharedMark(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
		ctx := context.Background()
		open(t, srv, "1", req).Intend(ctx, when)
		err := open(t, srv, "1", req).Intend(ctx, when)
		if !errors.Is(err, rerun.ErrTaken) || !strings.Contains(err.Error(), "could not be written") || !strings.Contains(err.Error(), "could wait for the other job's videos") {
			t.Errorf("second leg's Intend = %v, want ErrTaken saying the mark could not be written", err)
		}
	})
}

// The mark that a record is shared, written by the leg that finds the
// other's, takes no longer than the read it follows: a cache that hangs
// cannot hold the step past the guard's deadline.
func TestTheSharedMarkKeepsTheReadsDeadline(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		srv := sharedMark(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
		a := open(t, srv, "2", req)
		a.Intend(context.Background(), when)
		a.Submitted(context.Background(), when, []string{"gen_a"}, 0, 0)
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		start := time.Now()
		_, err := open(t, srv, "2", req).Check(ctx)
		if u, ok := errors.AsType[*rerun.Unrecorded](err); !ok || !strings.Contains(u.Error(), "several jobs of this run made this same request") {
			t.Errorf("Check = %v, want an *Unrecorded for a shared record", err)
		}
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("Check took %s, past its 3s deadline", took)
		}
	})
}

// A record holding the key as an ID is no record of prism-wait's: its
// submit never hands the key on as an ID.
func TestARecordWithTheKeyIsNotResumed(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, srv := start(t)
		ctx := context.Background()
		first := open(t, srv, "1", req)
		first.Intend(ctx, when)
		first.Submitted(ctx, when, []string{"gen_a", "prism_sk_one"}, 0, 0)
		_, err := open(t, srv, "2", req).Check(ctx)
		if u, ok := errors.AsType[*rerun.Unrecorded](err); !ok || !strings.Contains(u.Error(), "holds what is no generation ID of a submit") {
			t.Errorf("Check = %v, want an *Unrecorded for a record that is not prism-wait's", err)
		}
	})
}

func TestMatrixLegsMeetingFirstOnAReRunNeverResumeEachOther(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, bChecksFirst := range []bool{true, false} {
		synctest.Test(t, func(t *testing.T) {
			_, srv := start(t)
			a, b := open(t, srv, "2", req), open(t, srv, "2", req)
			if !bChecksFirst {
				// b checks before a has written anything, then intends.
				if p, err := b.Check(ctx); err != nil || p.Intent != nil || p.Submitted != nil {
					t.Fatalf("b's Check = %+v, %v", p, err)
				}
			}
			a.Check(ctx)
			a.Intend(ctx, when)
			a.Submitted(ctx, when, []string{"gen_a"}, 0, 0)
			var err error
			if bChecksFirst {
				_, err = b.Check(ctx)
			} else {
				err = b.Intend(ctx, when)
			}
			var u *rerun.Unrecorded
			if !errors.As(err, &u) {
				t.Fatalf("b at attempt 2: %v, want an *Unrecorded", err)
			}
			if _, err := open(t, srv, "3", req).Check(ctx); !errors.As(err, &u) || !strings.Contains(err.Error(), "several jobs") {
				t.Errorf("attempt 3: Check = %v, want it to refuse to resume a record two jobs made", err)
			}
		})
	}
}

func TestACacheThatTakesNoNewEntryIsUnusableNotAnUnfinishedRecord(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, srv := start(t, "create_not_ok")
		err := open(t, srv, "2", req).Intend(context.Background(), when)
		var u *rerun.Unrecorded
		if !errors.Is(err, rerun.ErrTaken) || errors.As(err, &u) {
			t.Errorf("Intend on a read-only cache = %v, want ErrTaken (the guard cannot be used), not an earlier attempt's record", err)
		}
	})
}

func TestUnrecordedSaysWhichAttempt(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	for u, want := range map[*rerun.Unrecorded]string{
		{Attempt: 1, At: at}:                 "attempt 1 of this run began this submit at 2026-12-02T10:00:00Z and recorded no answer",
		{Attempt: 2, At: at, Reason: "gone"}: "attempt 2 of this run began this submit at 2026-12-02T10:00:00Z and recorded no answer: gone",
		{Reason: "no attempt known"}:         "no attempt known",
	} {
		if got := u.Error(); got != want {
			t.Errorf("%+v: %q, want %q", *u, got, want)
		}
	}
}

// sharedMark is a cache whose reservations of the "shared" mark are
// answered by mark, and every other request by the simulator.
func sharedMark(t *testing.T, mark http.HandlerFunc) server {
	sim := prismsim.New(prismsim.Scenario{Cache: &prismsim.CacheConfig{}})
	return server{"http://127.0.0.1:8787", testnet.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if strings.HasSuffix(r.URL.Path, "/CreateCacheEntry") && strings.Contains(string(body), "/shared") {
			mark(w, r)
			return
		}
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		sim.ServeHTTP(w, r)
	}))}
}
