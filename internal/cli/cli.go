// Package cli is prism-wait's command: it reads the settings, submits the
// generations when asked, waits for them (downloading each video as soon
// as it is ready, when asked), reports, and decides the exit code. The
// action and the plain CLI are the same code; only where the settings come
// from and where the report goes differ.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/prism-wait/prism-wait/internal/budget"
	"github.com/prism-wait/prism-wait/internal/clock"
	"github.com/prism-wait/prism-wait/internal/config"
	"github.com/prism-wait/prism-wait/internal/crash"
	"github.com/prism-wait/prism-wait/internal/download"
	"github.com/prism-wait/prism-wait/internal/outcome"
	"github.com/prism-wait/prism-wait/internal/prism"
	"github.com/prism-wait/prism-wait/internal/report"
	"github.com/prism-wait/prism-wait/internal/wait"
)

// Env is everything the command takes from its process.
type Env struct {
	LookupEnv      func(string) (string, bool) // os.LookupEnv
	Args           []string                    // without the program name
	Stdout, Stderr io.Writer
	Wd             string            // the working directory
	Transport      http.RoundTripper // nil for a bounded copy of http.DefaultTransport
	Version        string            // stamped at build time; "" falls back to build info
	Clock          clock.Clock       // nil for the system clock
	Heartbeat      time.Duration     // how often a line says what is pending; 0 for DefaultHeartbeat
}

func (env Env) getenv(k string) string {
	v, _ := env.LookupEnv(k)
	return v
}

// DefaultHeartbeat is how often a line says what is still pending.
const DefaultHeartbeat = 30 * time.Second

// MaxDownloads bounds how many videos download at once.
const MaxDownloads = 4

// maxHeaderBytes bounds a response's headers, from the API or storage:
// net/http's default would take 10 MiB of an endless header per request.
const maxHeaderBytes = 64 << 10

// Run runs prism-wait and returns the process's exit code. It returns soon
// after ctx ends, with the outputs and summary written as far as known. A
// panic is reported as an internal error with exit code 1, never as Go's
// exit code 2, which means invalid input here.
func Run(ctx context.Context, env Env) (code int) {
	// The runner reads workflow commands from stdout and stderr alike. The
	// action logs to stdout, as actions do; the CLI to stderr, so that its
	// stdout stays the results JSON, in a workflow's run: step too.
	logw := env.Stderr
	if config.ActionMode(env.LookupEnv) {
		logw = env.Stdout
	}
	log := report.NewLog(logw, env.getenv("GITHUB_ACTIONS") == "true")
	defer crash.Recover(func(p *crash.Panic) {
		v := outcome.Of(outcome.Facts{Crash: p}, outcome.Settings{})
		log.Errorf(v.Title, "%s", v.Advice)
		debugStack(log, "prism-wait", p)
		code = v.Code
	})
	return run(ctx, env, log)
}

func run(ctx context.Context, env Env, log *report.Log) int {
	clk := clock.Or(env.Clock)
	start := clk.Now()
	cfg, err := config.Load(ctx, env.LookupEnv, env.Args, env.Wd, env.Stderr)
	log.Mask(cfg.APIKey) // before anything else is printed
	switch {
	case errors.Is(err, config.ErrHelp):
		return outcome.ExitOK
	case errors.Is(err, config.ErrVersion):
		fmt.Fprintln(env.Stdout, "prism-wait", Version(env.Version))
		return outcome.ExitOK
	case err != nil:
		return invalid(env, log, cfg, strings.Split(err.Error(), "\n")...)
	}
	// The workspace is opened before any request: a submit must not be
	// paid for when its videos could not be saved.
	var root *os.Root
	if cfg.DownloadDir != "" {
		if root, err = os.OpenRoot(cfg.Workspace); err != nil {
			return invalid(env, log, cfg, fmt.Sprintf("%s: cannot open the workspace %s: %v", cfg.Term("download_dir"), cfg.Workspace, err))
		}
		defer root.Close()
	}

	// Causes say why waiting stopped: the timeout, or a cancelled job.
	signalled := ctx
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(signalled))
	defer cancel(nil)
	defer context.AfterFunc(signalled, func() { cancel(wait.ErrCanceled) })()
	ctx, cancelTimeout := context.WithTimeoutCause(ctx, cfg.Timeout, wait.ErrDeadline)
	defer cancelTimeout()

	transport := env.Transport
	if transport == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxResponseHeaderBytes = maxHeaderBytes
		transport = t
	}
	client := prism.New(cfg.BaseURL, cfg.APIKey, "prism-wait/"+Version(env.Version), transport)
	client.Clock = clk
	client.BaseURLSetting = cfg.Term("base_url")
	// One budget for every request with this key: reads, refreshes, submits.
	client.Budget = budget.New(clk, cfg.PollInterval, cfg.MaxInterval)
	client.Budget.Shrunk = func(perSecond float64) {
		log.Warningf("Prism API rate limit", "the API answered 429 Too Many Requests: every request paused (for its Retry-After, or a backoff step without one), and all requests now share a budget of %s, which grows back while the API accepts them.", report.PerSecond(perSecond))
	}
	out := report.Run{Timeout: cfg.Timeout, Scrub: log.Scrubber(), Terms: cfg.Term, IDs: cfg.IDs}
	waiter := &wait.Waiter{Client: client, PollInterval: cfg.PollInterval, MaxInterval: cfg.MaxInterval, Clock: clk}

	var estimate time.Duration
	if cfg.Submit != nil {
		sub, err := submit(ctx, waiter, *cfg.Submit, log)
		if err != nil {
			out.Submit, out.Elapsed, out.Requests, out.Refused = err, clk.Now().Sub(start), client.Requests(), client.Refused()
			return finish(env, log, cfg, out)
		}
		out.IDs, out.Credits = sub.IDs, sub.CreditsCharged.String()
		estimate = announce(log, sub, cfg.Timeout)
		waiter.FirstDelay = cfg.PollInterval // a generation just created is not done yet
	} else {
		log.Infof("waiting for %d generation(s) at %s (timeout %s): %s", len(cfg.IDs), cfg.BaseURL, cfg.Timeout, strings.Join(cfg.IDs, ", "))
	}

	progress := report.NewProgress(log, out.IDs, start)
	progress.Estimate(estimate)
	progress.Rate = client.Budget.Rate
	waiter.Events = progress.Event
	stopHeartbeat := heartbeat(clk, or(env.Heartbeat, DefaultHeartbeat), progress)

	var dl *downloads
	var then func(context.Context, *wait.Result)
	if root != nil {
		refresher := *waiter
		refresher.FirstDelay = 0
		refresher.Events = func(e wait.Event) {
			if e.Kind == wait.Retry {
				progress.Event(e)
			}
		}
		dl = &downloads{
			d: &download.Downloader{
				HTTP:  &http.Client{Transport: transport}, // no credentials: the URL is its own
				Root:  root,
				Dir:   cfg.DownloadDir,
				Owner: owner(cfg.Workspace),
				Logf:  log.Infof,
				Clock: clk,
			},
			refresher: &refresher,
			slots:     make(chan struct{}, MaxDownloads),
			done:      map[string]report.Result{},
		}
		then = dl.fetch
	}
	waited := waiter.All(ctx, out.IDs, then)
	stopHeartbeat()

	out.Elapsed, out.Requests, out.Refused = clk.Now().Sub(start), client.Requests(), client.Refused()
	for _, w := range waited {
		r := dl.result(w.ID)
		r.Result = w
		out.Results = append(out.Results, r)
	}
	return finish(env, log, cfg, out)
}

// submit sends the submit request. It is sent again only where the API
// certainly did not act on it (prism says which), after Retry-After or a
// backoff step, and not past the deadline.
func submit(ctx context.Context, w *wait.Waiter, req prism.SubmitRequest, log *report.Log) (prism.Submission, error) {
	what := "a prompt"
	if req.TemplateID != "" {
		what = "template " + req.TemplateID
	}
	log.Infof("submitting %s at %s", what, w.Client.BaseURL())
	log.Debugf("submit request fields: %s", strings.Join(sortedKeys(req.Body), ", "))
	b := backoff.NewExponentialBackOff(backoff.WithInitialInterval(w.PollInterval), backoff.WithMaxInterval(w.MaxInterval), backoff.WithMaxElapsedTime(0))
	tries := 0
	for {
		sub, err := w.Client.Submit(ctx, req)
		var pe *prism.Error
		if err == nil || !errors.As(err, &pe) || !pe.Transient {
			return sub, err
		}
		if err := wait.PastDeadline(ctx, pe); err != nil {
			return sub, err
		}
		delay := w.RetryDelay(b, pe)
		when := "when the API's rate limit allows" // the request budget holds it
		if delay > 0 {
			when = "in " + delay.Round(time.Millisecond).String()
		}
		if tries++; tries == 1 {
			log.Warningf("Submit not accepted yet", "%v; the API did not act on it, so it is sent again %s. Further refusals are logged as debug only.", err, when)
		} else {
			log.Debugf("submit: %v; sent again %s", err, when)
		}
		if err := clock.Sleep(ctx, clock.Or(w.Clock), delay); err != nil {
			return sub, fmt.Errorf("%w while submitting; nothing was created: the API refused every attempt (last: %w)", err, pe)
		}
	}
}

// announce logs what was submitted and when the videos are expected, and
// warns when the timeout looks too short. It returns the typical estimate.
func announce(log *report.Log, sub prism.Submission, timeout time.Duration) time.Duration {
	credits := ""
	if sub.CreditsCharged != "" {
		credits = ", " + sub.CreditsCharged.String() + " credits charged"
	}
	log.Infof("submitted %d generation(s)%s: %s", len(sub.IDs), credits, strings.Join(sub.IDs, ", "))
	typical, busy := seconds(sub.Typical), seconds(sub.Busy)
	if typical > 0 {
		log.Infof("expected in about %s (up to %s when Prism is busy)", typical, max(busy, typical))
	}
	if busy > 0 && timeout < busy {
		log.Warningf("Timeout may be too short", "Prism expects up to %s when busy, and the timeout is %s. Raise timeout if the step ends before the videos.", busy, timeout)
	}
	return typical
}

func seconds(s float64) time.Duration {
	if s <= 0 || s > 24*3600 {
		return 0
	}
	return time.Duration(s * float64(time.Second)).Round(time.Second)
}

// heartbeat says what is still pending every period, until stopped.
func heartbeat(clk clock.Clock, period time.Duration, p *report.Progress) (stop func()) {
	var mu sync.Mutex
	stopped := false
	var t clock.Timer
	var beat func()
	beat = func() {
		defer crash.Recover(func(*crash.Panic) {}) // a heartbeat is not worth a verdict
		p.Heartbeat(clk.Now())
		mu.Lock()
		defer mu.Unlock()
		if !stopped {
			t = clk.AfterFunc(period, beat)
		}
	}
	t = clk.AfterFunc(period, beat)
	return func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		t.Stop()
	}
}

// downloads fetches each completed generation's video as soon as its wait
// ends, at most MaxDownloads at once, and keeps the outcomes by ID.
type downloads struct {
	d         *download.Downloader
	refresher *wait.Waiter // reads a status again for a freshly signed URL
	slots     chan struct{}
	mu        sync.Mutex
	done      map[string]report.Result
}

// fetch is the wait's follow-up for one generation. When storage says the
// URL expired, the API is asked again, with the retries and deadline of
// any status read. The verdict is never replaced: only a fresh URL for the
// same completed generation is taken from that read.
func (dl *downloads) fetch(ctx context.Context, r *wait.Result) {
	if r.Err != nil || !r.Gen.Done() {
		return
	}
	var out report.Result
	select {
	case dl.slots <- struct{}{}:
		refresh := func(ctx context.Context) (string, error) {
			fresh := dl.refresher.One(ctx, r.ID)
			switch {
			case fresh.Err != nil:
				return "", fresh.Err
			case !fresh.Gen.Done():
				return "", fmt.Errorf("the API now answers %q without a usable video_url", fresh.Gen.Status)
			}
			r.Gen.VideoURL = fresh.Gen.VideoURL // report the URL that worked
			return fresh.Gen.VideoURL, nil
		}
		func() {
			defer func() { <-dl.slots }() // a panic too: the slot is free again
			f, err := dl.d.Fetch(ctx, r.ID, r.Gen.VideoURL, refresh)
			if err != nil {
				out.FileErr = err
			} else {
				out.File = &f
			}
		}()
	case <-ctx.Done():
		out.FileErr = fmt.Errorf("download of %s did not start: %w", r.ID, context.Cause(ctx))
	}
	dl.mu.Lock()
	dl.done[r.ID] = out
	dl.mu.Unlock()
}

// result is the download outcome for id; zero without downloads.
func (dl *downloads) result(id string) report.Result {
	if dl == nil {
		return report.Result{}
	}
	dl.mu.Lock()
	defer dl.mu.Unlock()
	return dl.done[id]
}

// invalid reports bad input, before any request, and returns ExitInput.
func invalid(env Env, log *report.Log, cfg config.Config, problems ...string) int {
	errs := make([]error, len(problems))
	for i, p := range problems {
		errs[i] = errors.New(p)
	}
	return finish(env, log, cfg, report.Run{Invalid: errs, Scrub: log.Scrubber(), Terms: cfg.Term})
}

// finish reports the run and returns its exit code: annotations for each
// problem, a closing line, the results JSON on stdout from the CLI, and
// outputs and summary inside GitHub Actions.
func finish(env Env, log *report.Log, cfg config.Config, run report.Run) int {
	code := outcome.Code(run.Facts())
	for _, p := range run.Problems() {
		log.Errorf(p[0], "%s", p[1])
	}
	for _, r := range run.Results {
		var p *crash.Panic
		if errors.As(r.Err, &p) || errors.As(r.FileErr, &p) {
			debugStack(log, r.ID, p)
		}
	}
	if len(run.Results) > 0 {
		log.Infof("prism-wait: %s after %s, %s; exit code %d", report.Tally(run.Results), run.Elapsed.Round(time.Millisecond), run.RequestCount(), code)
	}
	if !cfg.Action && len(run.Results) > 0 {
		fmt.Fprintf(env.Stdout, "%s\n", run.JSON())
	}
	if !cfg.GitHub {
		return code
	}
	var errs []error
	if p := env.getenv("GITHUB_OUTPUT"); p != "" {
		errs = append(errs, report.WriteOutputs(p, run.Outputs()))
	}
	if p := env.getenv("GITHUB_STEP_SUMMARY"); p != "" && (len(run.Results) > 0 || run.Submit != nil) {
		errs = append(errs, report.WriteSummary(p, run.Summary()))
	}
	if err := errors.Join(errs...); err != nil {
		v := outcome.Of(outcome.Facts{Outputs: err}, outcome.Settings{})
		log.Errorf(v.Title, "%s", v.Advice)
		code = outcome.Worse(code, v.Code) // never report success without the outputs
	}
	return code
}

// debugStack writes a panic's stack as debug lines, one per line of it.
func debugStack(log *report.Log, who string, p *crash.Panic) {
	log.Debugf("%s: %v; stack:", who, p)
	for _, line := range strings.Split(strings.TrimSpace(string(p.Stack)), "\n") {
		log.Debugf("%s", line)
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Version is the stamped version, else the module version from the build
// info ("(devel)" for a local build).
func Version(stamped string) string {
	if stamped != "" {
		return stamped
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}
