package e2e

// The seeded soak: each seed draws a scenario for the simulator (1 to 5
// generations, each with a random lifecycle, random cadences, downloads on
// some runs with random storage faults), runs the whole action in-process
// through cli.Run against it, and checks the invariants that must hold
// whatever the scenario: the exit code by the documented precedence,
// `status` and `results` consistent with it, every output written, no key
// or URL signature printed, no workflow command the action did not mean to
// send, the deadline kept, the request count bounded by the script, and
// downloaded bytes exact or no file at all.
//
// A short run (seeds 1 to 20, a few seconds) is part of `go test ./...`;
// replay one with `go test ./e2e -run 'TestSoak/seed=7$' -v`. A long run:
//
//	go test ./e2e -run TestSoak -timeout 60m -v -soak=1000
//
// draws 1000 scenarios from -soak-seed (default: from the time) and prints
// each failing seed with the command that replays it. The soak's flags
// come after the package: go test hands them to the test binary.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prism-wait/prism-wait/internal/cli"
	"github.com/prism-wait/prism-wait/internal/download"
	"github.com/prism-wait/prism-wait/internal/outcome"
	"github.com/prism-wait/prism-wait/internal/prismsim"
	"github.com/prism-wait/prism-wait/internal/report"
)

var (
	soakRuns     = flag.Int("soak", 0, "TestSoak: draw this many scenarios, from -soak-seed on, instead of the short fixed set")
	soakSeed     = flag.Uint64("soak-seed", 0, "TestSoak: first seed of -soak (0: from the time)")
	soakParallel = flag.Int("soak-parallel", 0, "TestSoak: scenarios run at once (0: the whole short set, 8 with -soak)")
)

// soakShort is the number of seeds, from 1, that every `go test` runs.
const soakShort = 20

func TestSoak(t *testing.T) {
	t.Parallel()
	action := readActionYML(t)
	first, n, parallel := uint64(1), soakShort, soakShort
	replay := func(seed uint64) string { return fmt.Sprintf("go test ./e2e -run 'TestSoak/seed=%d$' -v", seed) }
	if *soakRuns > 0 {
		first, n, parallel = *soakSeed, *soakRuns, 8
		if first == 0 {
			first = uint64(time.Now().UnixNano()%1e9) + 1
		}
		replay = func(seed uint64) string {
			return fmt.Sprintf("go test ./e2e -run TestSoak -v -soak=1 -soak-seed=%d", seed)
		}
	}
	if *soakParallel > 0 {
		parallel = *soakParallel
	}

	start := time.Now()
	var mu sync.Mutex
	var failed []uint64
	ran, codes := 0, map[int]int{}
	t.Cleanup(func() {
		slices.Sort(failed)
		var tally []string
		for code := range 6 {
			if codes[code] > 0 {
				tally = append(tally, fmt.Sprintf("%d×%d", codes[code], code))
			}
		}
		t.Logf("soak: %d runs from seed %d in %s (exit codes %s); %d failed%s",
			ran, first, time.Since(start).Round(time.Second), strings.Join(tally, ", "), len(failed), seedList(failed))
	})
	slots := make(chan struct{}, parallel)
	for i := range n {
		seed := first + uint64(i)
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			// The run starts before t.Parallel, so that all of them run at
			// once (up to -soak-parallel), not -parallel at a time: they
			// spend their time waiting, not computing.
			slots <- struct{}{}
			done := make(chan soakOutcome, 1)
			go func() {
				defer func() { <-slots }()
				done <- soakRun(action, seed)
			}()
			t.Parallel()
			out := <-done
			mu.Lock()
			ran++
			codes[out.code]++
			if len(out.problems) > 0 {
				failed = append(failed, seed)
			}
			mu.Unlock()
			if len(out.problems) > 0 {
				t.Errorf("soak seed %d broke %d invariant(s):\n- %s\nreplay: %s\nscenario:\n%s\n%s",
					seed, len(out.problems), strings.Join(out.problems, "\n- "), replay(seed), out.scenario, out.detail)
			}
		})
	}
}

func seedList(seeds []uint64) string {
	if len(seeds) == 0 {
		return ""
	}
	s := make([]string, len(seeds))
	for i, v := range seeds {
		s[i] = fmt.Sprint(v)
	}
	return ": seeds " + strings.Join(s, " ")
}

// soakScenario is one seed's draw: the inputs and each generation's script,
// with what is expected of it.
type soakScenario struct {
	Seed        uint64            `json:"seed"`
	Timeout     prismsim.Duration `json:"timeout"`
	Poll        prismsim.Duration `json:"poll_interval"`
	MaxInterval prismsim.Duration `json:"max_interval"`
	Heartbeat   prismsim.Duration `json:"heartbeat"`
	DownloadDir string            `json:"download_dir,omitempty"`
	Input       string            `json:"generation_id"` // the input as given: separators, duplicates
	Key         string            `json:"api_key"`
	RateLimit   int               `json:"rate_limit,omitempty"` // requests per second per key
	Gens        []*soakGen        `json:"generations"`
	Codes       []int             `json:"codes"` // the acceptable exit codes
}

type soakGen struct {
	ID        string              `json:"id"`
	Lifecycle *prismsim.Lifecycle `json:"lifecycle,omitempty"` // nil: an ID the API does not know
	// End is how the script ends: completed, failed, refused (a 4xx),
	// pending (a status for ever), no_video (completed without a usable
	// URL for ever), trouble (a transient fault for ever), hang, or
	// retry_after (a Retry-After past the deadline).
	End string `json:"end"`
	// Storage is what a download of the video must come to: ok, missing
	// or refresh_failed (exit 5), stuck (no byte for longer than the timeout: exit 3), or
	// hopeless (no download survives it: 5, or 3 when the timeout comes
	// first). Empty without a download.
	Storage string            `json:"storage,omitempty"`
	Version int               `json:"version,omitempty"` // of the content an ok download saves
	Need    prismsim.Duration `json:"need"`              // bound on the time to the verdict, unloaded
	Codes   []int             `json:"codes"`             // this generation's acceptable exit codes
	// Statuses are the statuses its results may show: one when the
	// verdict is certain, else any status of the script or none.
	Statuses []string `json:"statuses"`
	widen    bool     // the verdict may not be reached: any status of the script may be the last
	// Exact is the number of status requests the script takes to its
	// verdict, when that is certain; 0 otherwise.
	Exact int `json:"exact_requests,omitempty"`
}

func lifecycleSteps(g *soakGen) []prismsim.Step {
	if g.Lifecycle == nil {
		return nil
	}
	return g.Lifecycle.Steps
}

// storageFaults are the video faults drawn, each with what a download comes
// to and which version of the content it saves. "endless" is left out: it
// would write gigabytes before the deadline of a short run.
var storageFaults = []struct {
	faults  []string
	storage string
	version int
	cut     bool // an attempt is cut: a backoff step (up to 750ms) before the next
}{
	{nil, "ok", 1, false},
	{[]string{"cut_first"}, "ok", 1, true},
	{[]string{"cut_always"}, "ok", 1, true}, // the resume is whole: only full transfers are cut
	{[]string{"expired_first"}, "ok", 1, false},
	{[]string{"expired_first", "cut_first"}, "ok", 1, true},
	{[]string{"etag_change"}, "ok", 1, false},
	{[]string{"etag_change", "cut_first"}, "ok", 2, true},
	{[]string{"etag_change", "cut_first", "no_range"}, "ok", 2, true},
	{[]string{"no_range"}, "ok", 1, false},
	{[]string{"no_range", "cut_first"}, "ok", 1, true},
	{[]string{"etag_always"}, "ok", 1, false},
	{[]string{"etag_always", "cut_first"}, "ok", 2, true},
	{[]string{"missing"}, "missing", 0, false},
	{[]string{"missing", "expired_first"}, "missing", 0, false},
	// Storage that answers 200 with no whole video: refused at once (exit 5).
	{[]string{"html_200"}, "refused", 0, false},
	{[]string{"xml_200"}, "refused", 0, false},
	{[]string{"empty_200"}, "refused", 0, false},
	{[]string{"cut_no_length"}, "refused", 0, false},
	{[]string{"no_moov"}, "refused", 0, false},
	{[]string{"png"}, "refused", 0, false},
	{[]string{"png", "cut_first"}, "refused", 0, true},
	{[]string{"stall"}, "stuck", 0, false},
	{[]string{"slow_headers"}, "stuck", 0, false},
	{[]string{"short_always"}, "hopeless", 0, false},
	{[]string{"cut_always", "etag_always"}, "hopeless", 0, false},
	{[]string{"cut_always", "no_range"}, "hopeless", 0, false},
}

// soakFailure is a failure reason the API gives: some hostile.
func soakFailure(r *rand.Rand, key string) string {
	return []string{
		"Generation timed out",
		"Content policy violation",
		"",
		"quota exceeded for " + key,
		"see https://storage.example/v.mp4?X-Amz-Signature=c0ffee1234567890&X-Amz-Date=20250101T000000Z",
		"bad\nnews::error::injected",
	}[r.IntN(6)]
}

// soakDraw draws seed's scenario.
func soakDraw(seed uint64) *soakScenario {
	r := rand.New(rand.NewPCG(seed, 0x50a6))
	ms := func(lo, hi int) time.Duration { return time.Duration(lo+r.IntN(hi-lo+1)) * time.Millisecond }
	sc := &soakScenario{
		Seed:    seed,
		Timeout: prismsim.Duration(ms(1000, 3000)),
		Poll:    prismsim.Duration(ms(10, 50)),
		Key:     fmt.Sprintf("prism_sk_soak%016x", r.Uint64()),
	}
	sc.MaxInterval = prismsim.Duration(max(time.Duration(sc.Poll), ms(20, 200)))
	sc.Heartbeat = prismsim.Duration(ms(50, 1000))
	if r.IntN(2) == 0 {
		sc.DownloadDir = []string{"videos", "out/v", ".", "a/b/c"}[r.IntN(4)]
	}
	if r.IntN(8) == 0 {
		sc.RateLimit = 20 + r.IntN(80)
	}
	poll, maxInterval := time.Duration(sc.Poll), time.Duration(sc.MaxInterval)

	n := 1 + r.IntN(5)
	for i := range n {
		g := &soakGen{ID: fmt.Sprintf("gen_soak%d_%d", seed, i)}
		sc.Gens = append(sc.Gens, g)
		lc := &prismsim.Lifecycle{}
		g.Lifecycle = lc
		need := time.Duration(0)
		statuses := map[string]bool{"": true}
		// step adds a step, and the time it may take to the bound: for a
		// timed step its length and the wait after its last request,
		// else each request's wait.
		step := func(s prismsim.Step, timed bool) {
			delay := poll
			if s.Status == "" {
				delay = maxInterval
				if s.RetryAfter == "1" {
					delay = max(delay, time.Second)
				}
			} else {
				statuses[reported(s)] = true
			}
			if timed {
				s.For = prismsim.Duration(ms(0, 400))
				need += time.Duration(s.For) + delay
			} else {
				s.Times = 1 + r.IntN(3)
				need += time.Duration(s.Times) * delay
			}
			lc.Steps = append(lc.Steps, s)
		}
		for range r.IntN(5) {
			step(soakTransient(r), r.IntN(2) == 0)
		}
		exact := 0
		timed := false
		for _, s := range lc.Steps {
			exact += max(s.Times, 1)
			timed = timed || s.For > 0
		}
		exact++ // the answer with the verdict

		// Half of them complete, so that whole runs often end in 0 or 5
		// instead of the 3 or 4 of one generation among five.
		ends := []struct {
			end    string
			weight int
		}{{"completed", 10}, {"failed", 2}, {"refused", 1}, {"pending", 2}, {"no_video", 2}, {"trouble", 1}, {"hang", 1}, {"retry_after", 1}}
		for w, e := r.IntN(20), 0; g.End == ""; e++ {
			if w -= ends[e].weight; w < 0 {
				g.End = ends[e].end
			}
		}
		var last prismsim.Step
		var code int
		switch g.End {
		case "completed":
			last, code = prismsim.Step{Status: "completed"}, 0
			statuses = map[string]bool{"completed": true}
		case "failed":
			last, code = prismsim.Step{Status: "failed", Error: soakFailure(r, sc.Key)}, 1
			statuses = map[string]bool{"failed": true}
		case "refused":
			code = 4
			switch r.IntN(4) {
			case 0:
				g.Lifecycle, lc = nil, nil // unknown to the API
				statuses, exact = map[string]bool{"": true}, 0
			case 1:
				last = prismsim.Step{HTTP: 403}
			case 2:
				last = prismsim.Step{HTTP: 410}
			default:
				last = prismsim.Step{HTTP: 404}
			}
		case "pending":
			st := []string{"generating", "queued", "processing", "COMPLETED", "Failed"}[r.IntN(5)]
			last, code = prismsim.Step{Status: st}, 3
			statuses = map[string]bool{reported(prismsim.Step{Status: st}): true}
		case "no_video":
			last, code = soakNoVideo(r), 3
			statuses = map[string]bool{outcome.StatusNoVideo: true}
		case "trouble":
			last, code = []prismsim.Step{{HTTP: 503}, {HTTP: 500}, {HTTP: 429}, {Fault: "cut"}, {Fault: "garbage"}}[r.IntN(5)], 3
		case "hang":
			last, code = prismsim.Step{Fault: "hang"}, 3
		case "retry_after":
			last, code = prismsim.Step{HTTP: []int{503, 429}[r.IntN(2)], RetryAfter: []string{"3600", "99999999999999999999"}[r.IntN(2)]}, 3
		}
		if lc != nil {
			lc.Steps = append(lc.Steps, last)
			lc.Video = prismsim.Video{
				Bytes:       int64(1+r.IntN(600)) << 10,
				ContentType: []string{"", "", "video/webm", "application/octet-stream"}[r.IntN(4)],
			}
		}
		g.Codes = []int{code}
		if g.End == "completed" && sc.DownloadDir != "" {
			f := storageFaults[0]
			if r.IntN(2) == 0 {
				f = storageFaults[r.IntN(len(storageFaults))]
			}
			lc.Video.Faults, g.Storage, g.Version = f.faults, f.storage, f.version
			need += 50*time.Millisecond + time.Duration(lc.Video.Bytes)*time.Second/(20<<20)
			if f.cut {
				need += 750 * time.Millisecond
			}
			switch g.Storage {
			case "missing", "refused":
				g.Codes = []int{5}
			case "stuck":
				g.Codes = []int{3}
			case "hopeless":
				g.Codes = []int{3, 5}
			}
			if slices.Contains(f.faults, "expired_first") {
				exact++ // the refresh's answer
				if r.IntN(2) == 0 {
					// The verdict answered once, then the refresh meets
					// other answers: transient ones are retried, a
					// status that is no verdict is polled past, and a
					// failure fails the download, never the verdict.
					lc.Steps[len(lc.Steps)-1].Times = 1
					for range 1 + r.IntN(2) {
						var s prismsim.Step
						switch r.IntN(9) {
						case 8:
							// docs/behaviour.md: a Retry-After past the timeout
							// ends the step at once with exit 3.
							s = prismsim.Step{HTTP: 503, RetryAfter: "3600"}
							g.Storage, g.Version, g.Codes = "refresh_past_deadline", 0, []int{3}
							exact--
						case 0:
							s = prismsim.Step{Status: "generating"}
						case 1:
							s = soakNoVideo(r)
						case 2:
							s = prismsim.Step{Fault: []string{"cut", "garbage"}[r.IntN(2)]}
						case 3:
							s = prismsim.Step{Status: "failed", Error: "Refresh refused"}
							g.Storage, g.Version, g.Codes = "refresh_failed", 0, []int{5}
							exact-- // the refresh ends at the failure
						default:
							s = prismsim.Step{HTTP: []int{500, 503, 429}[r.IntN(3)]}
						}
						s.Times = 1 + r.IntN(2)
						if s.RetryAfter != "" || s.Status == "failed" {
							s.Times = 1 // read once: the refresh ends there
						}
						exact += s.Times
						need += time.Duration(s.Times) * maxInterval
						lc.Steps = append(lc.Steps, s)
						if s.Status == "failed" || s.RetryAfter != "" {
							break
						}
					}
					lc.Steps = append(lc.Steps, prismsim.Step{Status: "completed"})
				}
			}
		}
		g.Need = prismsim.Duration(need)
		// Room: the verdict is certain only when twice the bound and half
		// a second fit in the timeout; else the timeout may come first.
		// A rate limit answers 429 with a Retry-After of a second or more
		// where the script does not say: nothing is certain.
		certain := 2*need+500*time.Millisecond <= time.Duration(sc.Timeout) && sc.RateLimit == 0
		if !certain && !slices.Contains(g.Codes, 3) {
			g.Codes = append(g.Codes, 3)
		}
		g.widen = !certain
		for s := range statuses {
			g.Statuses = append(g.Statuses, s)
		}
		if certain && !timed && (g.End == "completed" || g.End == "failed" || g.End == "refused") {
			g.Exact = exact
		}
	}

	// Downloads wait for one of download.MaxDownloads slots: stuck and hopeless
	// downloads may hold them all until the deadline.
	if sc.DownloadDir != "" {
		holding := 0
		for _, g := range sc.Gens {
			if g.Storage == "stuck" || g.Storage == "hopeless" {
				holding++
			}
		}
		for _, g := range sc.Gens {
			mine := 0
			if g.Storage == "stuck" || g.Storage == "hopeless" {
				mine = 1
			}
			if g.Storage != "" && holding-mine >= download.MaxDownloads && !slices.Contains(g.Codes, 3) {
				g.Codes, g.Exact = append(g.Codes, 3), 0
			}
		}
	}
	// A 429 anywhere pauses every request until its Retry-After (one
	// budget per key), and the budget then limits the rate for the rest of
	// the run: no generation's timing is certain after one.
	limited := sc.RateLimit > 0
	for _, g := range sc.Gens {
		for _, st := range lifecycleSteps(g) {
			limited = limited || st.HTTP == http.StatusTooManyRequests
		}
	}
	for _, g := range sc.Gens {
		if limited && !slices.Contains(g.Codes, 3) {
			g.Codes = append(g.Codes, 3)
		}
		if limited {
			g.Exact, g.widen = 0, true
		}
	}
	// A permanent refusal stops every other wait: their verdicts are then
	// uncertain, and their request counts too.
	refusals := 0
	for _, g := range sc.Gens {
		if slices.Contains(g.Codes, 4) {
			refusals++
		}
	}
	for _, g := range sc.Gens {
		if mine := slices.Contains(g.Codes, 4); refusals > 1 || refusals == 1 && !mine {
			g.Exact, g.widen = 0, true
		}
		if g.widen {
			widenStatuses(g)
		}
	}

	// The input: the IDs with random separators, sometimes a duplicate.
	ids := make([]string, 0, n+1)
	for _, g := range sc.Gens {
		ids = append(ids, g.ID)
	}
	if r.IntN(4) == 0 {
		ids = append(ids, ids[r.IntN(n)])
	}
	var in strings.Builder
	for i, id := range ids {
		if i > 0 {
			in.WriteString([]string{"\n", ",", " ", ", "}[r.IntN(4)])
		}
		in.WriteString(id)
	}
	sc.Input = in.String()

	sc.combineCodes()
	return sc
}

// widenStatuses lets any status of g's script, or none, be the last one
// read.
func widenStatuses(g *soakGen) {
	if g.Lifecycle != nil {
		g.Statuses = append(g.Statuses, "")
		for _, s := range g.Lifecycle.Steps {
			if s.Status != "" {
				g.Statuses = append(g.Statuses, reported(s))
			}
			if reported(s) == "completed" {
				break // what the refresh reads never replaces the verdict
			}
		}
	}
	slices.Sort(g.Statuses)
	g.Statuses = slices.Compact(g.Statuses)
}

// combineCodes sets the run's acceptable exit codes from each
// generation's, by the documented precedence.
func (sc *soakScenario) combineCodes() {
	sc.Codes = []int{outcome.ExitOK}
	for _, g := range sc.Gens {
		var next []int
		for _, a := range sc.Codes {
			for _, b := range g.Codes {
				if c := outcome.Worse(a, b); !slices.Contains(next, c) {
					next = append(next, c)
				}
			}
		}
		sc.Codes = next
	}
	slices.Sort(sc.Codes)
}

// starved reports how long the process was kept from running while a run
// went on: a goroutine asks to wake every tick and adds up how late it
// woke. It counts what a loaded machine takes from every goroutine at
// once, which no scenario's timing can allow for, and not a wait of the
// action's own.
func starved() (stop func() time.Duration) {
	const tick, slack = 10 * time.Millisecond, time.Millisecond
	done, lost := make(chan struct{}), make(chan time.Duration, 1)
	go func() {
		var sum time.Duration
		t := time.NewTicker(tick)
		defer t.Stop()
		last := time.Now()
		for {
			select {
			case <-done:
				lost <- sum
				return
			case now := <-t.C:
				now = time.Now() // the tick's own time is when it was due
				sum += max(now.Sub(last)-tick-slack, 0)
				last = now
			}
		}
	}()
	return func() time.Duration { close(done); return <-lost }
}

// excuseStarvation widens what a run may show where the draw found the
// timing certain, if the machine took more of the run than the margin the
// draw left for load: each such generation's timeout is then possible, and
// its last status any of its script's. Its verdict, if read, must still be
// right, its file exact or absent, and the exit code by the precedence
// over what results show. It returns the generations it widened.
func (c *soakCheck) excuseStarvation() (widened []string) {
	timeout := time.Duration(c.sc.Timeout)
	for _, g := range c.sc.Gens {
		margin := timeout - 2*time.Duration(g.Need) // at least 500ms
		// Widened by the draw (after another generation's refusal, say)
		// is not enough: its timeout may have become possible too.
		if g.widen && slices.Contains(g.Codes, 3) || 2*c.starved < margin {
			continue
		}
		g.Exact = 0
		if !slices.Contains(g.Codes, 3) {
			g.Codes = append(g.Codes, 3)
		}
		if !g.widen {
			g.widen = true
			widenStatuses(g)
		}
		widened = append(widened, g.ID)
	}
	if widened != nil {
		c.sc.combineCodes()
	}
	return widened
}

// reported is the status results show for a step that answers one.
func reported(s prismsim.Step) string {
	switch {
	case s.Status == "completed" && (s.NoVideo || s.VideoURL != nil):
		return outcome.StatusNoVideo
	case s.Status != "completed" && strings.EqualFold(s.Status, "completed") || s.Status != "failed" && strings.EqualFold(s.Status, "failed"):
		return outcome.StatusUnrecognised // no verdict, whatever GitHub's == says
	}
	return s.Status
}

// soakTransient draws a step that is no verdict: a status that is not
// final, or a transient fault.
func soakTransient(r *rand.Rand) prismsim.Step {
	switch r.IntN(9) {
	case 0, 1:
		return prismsim.Step{Status: "generating"}
	case 2:
		return prismsim.Step{Status: []string{"queued", "processing", "COMPLETED"}[r.IntN(3)]}
	case 3:
		return soakNoVideo(r)
	case 4:
		return prismsim.Step{Fault: "cut"}
	case 5:
		return prismsim.Step{Fault: "garbage"}
	default:
		s := prismsim.Step{HTTP: []int{500, 502, 503, 504, 429, 408}[r.IntN(6)]}
		if r.IntN(4) == 0 {
			s.RetryAfter = []string{"0", "1"}[r.IntN(2)]
		}
		return s
	}
}

// soakNoVideo is "completed" without a usable video URL.
func soakNoVideo(r *rand.Rand) prismsim.Step {
	s := prismsim.Step{Status: "completed"}
	switch r.IntN(3) {
	case 0:
		s.NoVideo = true
	default:
		u := []string{" \t ", "javascript:alert(1)", "/videos/x.mp4", "ftp://storage.example/x.mp4", "http://user:pw@storage.example/x.mp4", ""}[r.IntN(6)]
		s.VideoURL = &u
	}
	return s
}

type soakOutcome struct {
	code     int
	problems []string
	scenario string // JSON
	detail   string // the log and outputs, when something broke
}

// soakRun draws seed's scenario, runs the action against it and checks
// every invariant. It touches no testing.T: it runs in its own goroutine.
func soakRun(action actionYML, seed uint64) (out soakOutcome) {
	sc := soakDraw(seed)
	js, _ := json.MarshalIndent(sc, "", "  ")
	out.scenario = string(js)
	defer func() {
		if p := recover(); p != nil {
			out.problems = append(out.problems, fmt.Sprintf("the soak itself panicked: %v", p))
		}
	}()

	scenario := prismsim.Scenario{Generations: map[string]prismsim.Lifecycle{}, RateLimit: prismsim.RateLimit{PerSecond: sc.RateLimit}}
	for _, g := range sc.Gens {
		if g.Lifecycle != nil {
			scenario.Generations[g.ID] = *g.Lifecycle
		}
	}
	sim := prismsim.New(scenario)
	srv := httptest.NewServer(sim)
	defer srv.Close()
	defer sim.Close()

	tmp, err := os.MkdirTemp("", "prism-wait-soak-")
	if err != nil {
		return soakOutcome{problems: []string{err.Error()}}
	}
	defer os.RemoveAll(tmp)
	ws, files := filepath.Join(tmp, "workspace"), filepath.Join(tmp, "file_commands")
	os.Mkdir(ws, 0o755)
	os.Mkdir(files, 0o755)
	env := map[string]string{
		"GITHUB_ACTIONS": "true", "CI": "true", "GITHUB_WORKSPACE": ws,
		"GITHUB_OUTPUT": filepath.Join(files, "output"), "GITHUB_STEP_SUMMARY": filepath.Join(files, "summary"),
	}
	inputs, err := action.inputEnv(map[string]string{
		"generation_id": sc.Input, "api_key": sc.Key, "base_url": srv.URL + "/api",
		"timeout": time.Duration(sc.Timeout).String(), "poll_interval": time.Duration(sc.Poll).String(),
		"max_interval": time.Duration(sc.MaxInterval).String(), "download_dir": sc.DownloadDir,
	})
	if err != nil {
		return soakOutcome{problems: []string{err.Error()}}
	}
	maps.Copy(env, inputs)
	var stdout, stderr bytes.Buffer
	stopMeter := starved()
	start := time.Now()
	code := cli.Run(context.Background(), cli.Env{
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
		Stdout:    &stdout, Stderr: &stderr, Wd: ws, Version: "v0.0.0-soak",
		Heartbeat: time.Duration(sc.Heartbeat),
	})
	elapsed := time.Since(start)
	lost := stopMeter()

	c := &soakCheck{sc: sc, sim: sim, code: code, elapsed: elapsed, starved: lost, stdout: stdout.String(), stderr: stderr.String(), ws: ws, base: srv.URL + "/api", start: start}
	rawOut, _ := os.ReadFile(env["GITHUB_OUTPUT"])
	sum, _ := os.ReadFile(env["GITHUB_STEP_SUMMARY"])
	c.rawOutputs, c.summary = string(rawOut), string(sum)
	c.check(action)
	out.problems, out.code = c.problems, code
	if len(out.problems) > 0 {
		out.detail = fmt.Sprintf("exit code %d after %s, the process starved for %s%s\n--- stdout\n%s\n--- stderr\n%s\n--- GITHUB_OUTPUT\n%s\n--- summary\n%s",
			code, elapsed.Round(time.Millisecond), lost.Round(time.Millisecond), c.widened, clip(c.stdout, 12<<10), clip(c.stderr, 2<<10), clip(c.rawOutputs, 8<<10), clip(c.summary, 4<<10))
	}
	return out
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n/2] + "\n[…]\n" + s[len(s)-n/2:]
}

// soakCheck holds one run and the invariants it broke.
type soakCheck struct {
	sc                                  *soakScenario
	sim                                 *prismsim.Server
	code                                int
	elapsed                             time.Duration
	starved                             time.Duration // what the machine took of the run (starved)
	widened                             string        // for the report: the generations excuseStarvation widened
	stdout, stderr, rawOutputs, summary string
	ws, base                            string
	start                               time.Time
	problems                            []string
}

func (c *soakCheck) errorf(format string, a ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, a...))
}

// soakResult is one element of the results output.
type soakResult struct {
	ID          string  `json:"id"`
	Status      *string `json:"status"`
	VideoURL    *string `json:"video_url"`
	ShareURL    *string `json:"share_url"`
	Error       *string `json:"error"`
	ExpiresAt   *string `json:"video_url_expires_at"`
	VideoPath   *string `json:"video_path"`
	VideoSHA256 *string `json:"video_sha256"`
	VideoBytes  *int64  `json:"video_bytes"`
	// What the verified container says.
	VideoCodec     *string  `json:"video_codec"`
	VideoWidth     *int     `json:"video_width"`
	VideoHeight    *int     `json:"video_height"`
	VideoDurationS *float64 `json:"video_duration_s"`
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

var (
	signature = regexp.MustCompile(`(?i)X-Amz-Signature=[0-9a-z%]`)
	sigValue  = regexp.MustCompile(`X-Amz-Signature=([0-9a-f]+)`)
)

func (c *soakCheck) check(action actionYML) {
	sc := c.sc
	if w := c.excuseStarvation(); w != nil {
		c.widened = fmt.Sprintf(" (more than the margin left for load: the timing of %s is no longer certain)", strings.Join(w, ", "))
	}
	timeout := time.Duration(sc.Timeout)

	// The exit code: one the script allows, by the documented precedence.
	if !slices.Contains(sc.Codes, c.code) {
		c.errorf("exit code %d; the script allows %v (precedence 2 > 4 > 1 > 5 > 3 over each generation's %s)", c.code, sc.Codes, c.perGen())
	}
	// The deadline, generously: no tight wall-clock bound.
	if c.elapsed > timeout+5*time.Second {
		c.errorf("took %s with a timeout of %s", c.elapsed.Round(time.Millisecond), timeout)
	}
	if c.stderr != "" {
		c.errorf("wrote to stderr in GitHub Actions: %q", clip(c.stderr, 500))
	}
	// Every line, read as the runner reads it.
	for _, p := range append(commandProblems("stdout", c.stdout, sc.Key), commandProblems("stderr", c.stderr, sc.Key)...) {
		c.errorf("the runner would read a command the action did not mean to send: %s", p)
	}
	if want := fmt.Sprintf("; exit code %d\n", c.code); !strings.Contains(c.stdout, want) {
		c.errorf("the closing line does not say %q", strings.TrimSpace(want))
	}

	// The key: masked first, never shown again, anywhere.
	if !strings.HasPrefix(c.stdout, "::add-mask::"+sc.Key+"\n") {
		c.errorf("the log does not start by masking the key")
	}
	for name, text := range map[string]string{"the log": strings.TrimPrefix(c.stdout, "::add-mask::"+sc.Key+"\n"), "stderr": c.stderr,
		"the outputs": c.rawOutputs, "the summary": c.summary} {
		if strings.Contains(text, sc.Key) || strings.Contains(text, "prism_sk_") {
			c.errorf("%s shows an API key", name)
		}
	}

	// Outputs: every declared one written, results one per ID in order.
	outs, err := report.ParseOutputs(c.rawOutputs)
	if err != nil {
		c.errorf("GITHUB_OUTPUT does not parse: %v", err)
		return
	}
	for name := range action.Outputs {
		if _, ok := outs[name]; !ok {
			c.errorf("output %s not written", name)
		}
	}
	for name := range outs {
		if _, ok := action.Outputs[name]; !ok {
			c.errorf("output %s written but not declared", name)
		}
	}
	ids := make([]string, len(sc.Gens))
	for i, g := range sc.Gens {
		ids[i] = g.ID
	}
	if got := outs["generation_id"]; got != strings.Join(ids, "\n") {
		c.errorf("output generation_id %q, want the IDs in input order without duplicates", got)
	}
	var results []soakResult
	if err := json.Unmarshal([]byte(outs["results"]), &results); err != nil {
		c.errorf("output results is not JSON: %v", err)
		return
	}
	if len(results) != len(ids) {
		c.errorf("results has %d objects for %d IDs", len(results), len(ids))
		return
	}
	for i, res := range results {
		if res.ID != ids[i] {
			c.errorf("results[%d] is %q, want %q: input order", i, res.ID, ids[i])
		}
	}
	lines := func(name string) []string { return strings.Split(outs[name], "\n") }
	for _, name := range []string{"video_url", "video_path", "video_sha256", "error", "share_url", "completed_at"} {
		if l := lines(name); len(l) != len(ids) {
			c.errorf("output %s has %d lines for %d IDs", name, len(l), len(ids))
		}
	}

	// Signatures: only in video_url and results' video_url.
	var sigs []string
	for _, u := range lines("video_url") {
		if m := sigValue.FindStringSubmatch(u); m != nil {
			sigs = append(sigs, m[1])
		}
	}
	for name, text := range map[string]string{"the log": c.stdout, "stderr": c.stderr, "the summary": c.summary} {
		if signature.MatchString(text) {
			c.errorf("%s shows a URL signature: %q", name, signature.FindString(text))
		}
		for _, s := range sigs {
			if strings.Contains(text, s) {
				c.errorf("%s shows the signature of a video URL", name)
			}
		}
	}
	for name, v := range outs {
		if name != "video_url" && name != "results" && signature.MatchString(v) {
			c.errorf("output %s shows a URL signature", name)
		}
	}

	// status, derived from results by the documented rule, and consistent
	// with the exit code.
	want := "completed"
	for _, res := range results {
		if str(res.Status) == "failed" {
			want = "failed"
		}
	}
	if want != "failed" {
		for _, res := range results {
			if str(res.Status) != "completed" {
				want = str(res.Status)
				break
			}
		}
	}
	status := outs["status"]
	if status != want {
		c.errorf("status %q, but results say %q", status, want)
	}
	switch {
	case c.code == outcome.ExitOK && status != "completed":
		c.errorf("exit code 0 with status %q", status)
	case status == "completed" && !(c.code == 0 || c.code == 5 || c.code == 3 && sc.DownloadDir != ""):
		c.errorf("status completed with exit code %d", c.code)
	case status == "failed" && c.code != 1 && c.code != 4:
		c.errorf("status failed with exit code %d", c.code)
	case status != "completed" && status != "failed" && c.code != 3 && c.code != 4 && c.code != 5:
		c.errorf("status %q with exit code %d", status, c.code)
	}
	// The exit code again, from what results show of each generation.
	observed := []int{outcome.ExitOK}
	for _, res := range results {
		var codes []int
		switch {
		case str(res.Status) == "failed":
			codes = []int{1}
		case str(res.Status) == "completed" && (sc.DownloadDir == "" || res.VideoPath != nil):
			codes = []int{0}
		case str(res.Status) == "completed":
			codes = []int{3, 5}
		default:
			codes = []int{3, 4}
		}
		var next []int
		for _, a := range observed {
			for _, b := range codes {
				next = append(next, outcome.Worse(a, b))
			}
		}
		observed = next
	}
	if !slices.Contains(observed, c.code) {
		c.errorf("exit code %d disagrees with the results, which allow %v", c.code, observed)
	}

	// Each generation: its status, its requests, its video.
	refused := c.code == outcome.ExitRefused
	for i, g := range sc.Gens {
		res := results[i]
		st := str(res.Status)
		if !slices.Contains(g.Statuses, st) {
			c.errorf("%s: results status %q; its script allows %q", g.ID, st, g.Statuses)
		}
		if len(g.Codes) == 1 && !refused {
			c.certain(g, res)
		}
		if st == "completed" {
			if !strings.HasPrefix(str(res.VideoURL), strings.TrimSuffix(c.base, "/api")+"/videos/"+g.ID+".mp4?") || res.ExpiresAt == nil {
				c.errorf("%s: completed with video_url %q, expires %q", g.ID, str(res.VideoURL), str(res.ExpiresAt))
			}
			if !strings.Contains(c.stdout, g.ID+": completed") {
				c.errorf("%s: completed, but the log never says so", g.ID)
			}
		} else if res.VideoURL != nil {
			c.errorf("%s: status %q with a video_url", g.ID, st)
		}
		if st == "failed" && !strings.Contains(c.stdout, g.ID+": failed") {
			c.errorf("%s: failed, but the log never says so", g.ID)
		}
		if g.End == "failed" && st == "failed" {
			if e := str(res.Error); strings.Contains(e, "\n") || strings.Contains(e, "c0ffee") {
				c.errorf("%s: error %q is not scrubbed", g.ID, e)
			}
		}
		c.requests(g)
		c.video(g, res)
	}
	c.downloadDir(results)
	for _, id := range ids {
		if !strings.Contains(c.summary, "| `"+id+"` |") {
			c.errorf("the summary has no row for %s", id)
		}
	}
}

// certain checks a generation whose verdict the script decides.
func (c *soakCheck) certain(g *soakGen, res soakResult) {
	if g.Storage == "ok" && res.VideoPath == nil {
		c.errorf("%s: storage serves the video (faults %q), but nothing was saved", g.ID, g.Lifecycle.Video.Faults)
	}
}

// requests checks the status requests the simulator saw of g against its
// script: exactly the script's count where the verdict is certain, else no
// more than the cadence allows.
func (c *soakCheck) requests(g *soakGen) {
	if g.Lifecycle == nil {
		return
	}
	got := c.sim.Stats(g.ID).Requests
	if g.Exact > 0 && got != g.Exact {
		c.errorf("%s: %d status requests; its script takes exactly %d to the verdict", g.ID, got, g.Exact)
	}
	// No two requests closer than half a poll interval (the backoff's
	// jitter), a connection cut may be retried once by net/http, and a
	// refresh reads again.
	perWait := 1 + int(c.elapsed/(time.Duration(c.sc.Poll)/2))
	for _, s := range g.Lifecycle.Steps {
		if s.Fault == "cut" {
			perWait *= 2
			break
		}
	}
	if bound := perWait + len(g.Lifecycle.Steps) + 8; got > bound {
		c.errorf("%s: %d status requests in %s at poll_interval %s; at most %d expected", g.ID, got, c.elapsed.Round(time.Millisecond), time.Duration(c.sc.Poll), bound)
	}
}

// video checks g's saved file: exact bytes, or none at all.
func (c *soakCheck) video(g *soakGen, res soakResult) {
	if res.VideoPath == nil {
		if res.VideoSHA256 != nil || res.VideoBytes != nil {
			c.errorf("%s: video_sha256 or video_bytes without video_path", g.ID)
		}
		return
	}
	if c.sc.DownloadDir == "" {
		c.errorf("%s: video_path %q without download_dir", g.ID, *res.VideoPath)
		return
	}
	if g.Storage != "ok" {
		c.errorf("%s: saved %s although storage %q serves no whole video", g.ID, *res.VideoPath, g.Lifecycle.Video.Faults)
	}
	if exp, err := time.Parse(time.RFC3339, str(res.ExpiresAt)); err != nil || !exp.After(c.start) {
		c.errorf("%s: saved, but video_url expires at %q: not the URL that worked", g.ID, str(res.ExpiresAt))
	}
	ext := map[string]string{"video/webm": ".webm"}[g.Lifecycle.Video.ContentType]
	codec := map[string]string{".webm": "vp09"}[ext]
	if ext == "" {
		ext, codec = ".mp4", "avc1"
	}
	if str(res.VideoCodec) != codec || res.VideoWidth == nil || *res.VideoWidth != prismsim.DefaultWidth || res.VideoHeight == nil || *res.VideoHeight != prismsim.DefaultHeight ||
		res.VideoDurationS == nil || *res.VideoDurationS != prismsim.DefaultDuration.Seconds() {
		c.errorf("%s: saved without the media facts of a %s %dx%d %s video: codec %q, %v x %v, %v s", g.ID, codec, prismsim.DefaultWidth, prismsim.DefaultHeight,
			prismsim.DefaultDuration, str(res.VideoCodec), res.VideoWidth, res.VideoHeight, res.VideoDurationS)
	}
	if want := path.Join(c.sc.DownloadDir, g.ID+ext); *res.VideoPath != want {
		c.errorf("%s: video_path %q, want %q", g.ID, *res.VideoPath, want)
	}
	got, err := os.ReadFile(filepath.Join(c.ws, filepath.FromSlash(*res.VideoPath)))
	if err != nil {
		c.errorf("%s: video_path %s: %v", g.ID, *res.VideoPath, err)
		return
	}
	sum := sha256.Sum256(got)
	if hex.EncodeToString(sum[:]) != str(res.VideoSHA256) || res.VideoBytes == nil || *res.VideoBytes != int64(len(got)) {
		c.errorf("%s: the file's %d bytes and SHA-256 disagree with video_bytes and video_sha256", g.ID, len(got))
	}
	versions := []int{g.Version}
	if g.Storage != "ok" {
		versions = []int{1, 2, 3, 4, 5, 6, 7, 8}
	}
	for _, v := range versions {
		content := g.Lifecycle.Video.Content(g.ID, v)
		want := make([]byte, content.Size())
		content.ReadAt(want, 0)
		if bytes.Equal(got, want) {
			return
		}
	}
	c.errorf("%s: the saved %d bytes are not version %v of the %d-byte video", g.ID, len(got), versions, g.Lifecycle.Video.Bytes)
}

// downloadDir checks that the download directory holds the saved videos
// and nothing else: no partial file, no file for a failed download.
func (c *soakCheck) downloadDir(results []soakResult) {
	if c.sc.DownloadDir == "" {
		if entries, _ := os.ReadDir(c.ws); len(entries) > 0 {
			c.errorf("the workspace holds %d entries without download_dir", len(entries))
		}
		return
	}
	want := map[string]bool{}
	for _, res := range results {
		if res.VideoPath != nil {
			want[path.Base(*res.VideoPath)] = true
		}
	}
	dir := filepath.Join(c.ws, filepath.FromSlash(c.sc.DownloadDir))
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		c.errorf("download_dir: %v", err)
	}
	for _, e := range entries {
		if !want[e.Name()] {
			c.errorf("download_dir holds %s, which no result names", e.Name())
		}
	}
}

// perGen says each generation's acceptable codes, for a message.
func (c *soakCheck) perGen() string {
	var parts []string
	for _, g := range c.sc.Gens {
		parts = append(parts, fmt.Sprintf("%s %s %v", g.ID, g.End+map[bool]string{true: "/" + g.Storage}[g.Storage != ""], g.Codes))
	}
	return strings.Join(parts, ", ")
}
