// Package cli is prism-wait's command: it reads the settings, submits the
// generations when asked, waits for them (downloading each video as soon
// as it is ready, when asked), reports, and decides the exit code. The
// action and the plain CLI are the same code; only where the settings come
// from and where the report goes differ.
package cli

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/prism-wait/prism-wait/internal/budget"
	"github.com/prism-wait/prism-wait/internal/config"
	"github.com/prism-wait/prism-wait/internal/crash"
	"github.com/prism-wait/prism-wait/internal/download"
	"github.com/prism-wait/prism-wait/internal/outcome"
	"github.com/prism-wait/prism-wait/internal/prism"
	"github.com/prism-wait/prism-wait/internal/report"
	"github.com/prism-wait/prism-wait/internal/rerun"
	"github.com/prism-wait/prism-wait/internal/wait"
)

// Env is everything the command takes from its process.
type Env struct {
	LookupEnv      func(string) (string, bool) // os.LookupEnv
	Args           []string                    // without the program name
	Stdout, Stderr io.Writer
	Wd             string            // the working directory
	Transport      http.RoundTripper // nil for newTransport's
	Version        string            // stamped at build time; "" falls back to build info
	Heartbeat      time.Duration     // how often a line says what is pending; 0 for report.DefaultHeartbeat
	// NoBudget sends every request without the request budget, for tests
	// and benchmarks that compare a run with and without it; never set
	// from the user's inputs.
	NoBudget bool
}

func (env Env) getenv(k string) string {
	v, _ := env.LookupEnv(k)
	return v
}

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
	// Nothing reaches stdout or stderr but through log: net/http prints on
	// its own through the standard log package.
	defer report.RouteStdLog(log)()
	defer crash.Recover(func(p *crash.Panic) {
		v := outcome.Of(outcome.Facts{Crash: p}, outcome.Settings{})
		log.Errorf(v.Title, "%s", v.Advice)
		debugStack(log, "prism-wait", p)
		code = v.Code
	})
	return run(ctx, env, log)
}

func run(ctx context.Context, env Env, log *report.Log) int {
	start := time.Now()
	cfg, err := config.Load(ctx, env.LookupEnv, env.Args, env.Wd)
	log.Mask(cfg.APIKey) // before anything else is printed
	log.Redact(env.getenv("ACTIONS_RUNTIME_TOKEN"))
	switch {
	case errors.Is(err, config.ErrHelp):
		config.Help(env.Stdout, outcome.Usage()) // asked for, it is output: stdout
		return outcome.ExitOK
	case errors.Is(err, config.ErrVersion):
		fmt.Fprintln(env.Stdout, "prism-wait", Version(env.Version))
		return outcome.ExitOK
	case err != nil:
		return invalid(env, log, cfg, strings.Split(err.Error(), "\n")...)
	}
	transport := env.Transport
	if transport == nil {
		transport = newTransport(env.getenv)
	}
	// The download directory is made, and written in, before any request:
	// a submit must not be paid for when its videos could not be saved.
	var downloader *download.Downloader
	if cfg.DownloadDir != "" && cfg.Wait {
		root, err := os.OpenRoot(cfg.Workspace)
		if err != nil {
			return invalid(env, log, cfg, fmt.Sprintf("%s: cannot open the workspace %s: %v", cfg.Term("download_dir"), cfg.Workspace, err))
		}
		defer root.Close()
		downloader = &download.Downloader{
			HTTP:     &http.Client{Transport: transport}, // no credentials: the URL is its own
			Root:     root,
			Dir:      cfg.DownloadDir,
			Owner:    owner(cfg.Workspace),
			Logf:     log.Infof,
			Warnf:    log.Warningf,
			CheckURL: storageURL(cfg.BaseURL, cfg.Term("base_url")),
		}
		if err := downloader.Ready(); err != nil {
			return invalid(env, log, cfg, fmt.Sprintf("%s: %v; check that the user prism-wait runs as can write there", cfg.Term("download_dir"), err))
		}
	}

	// Nor when its IDs could not be handed on to later steps.
	if p := env.getenv("GITHUB_OUTPUT"); cfg.GitHub && cfg.Submit != nil && p != "" {
		if err := report.WriteOutputs(p, nil); err != nil {
			v := outcome.Of(outcome.Facts{Outputs: err}, outcome.Settings{})
			log.Errorf(v.Title, "%s Nothing was submitted.", v.Advice)
			return v.Code
		}
	}

	// Causes say why waiting stopped: the timeout, or a cancelled job.
	signalled := ctx
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(signalled))
	defer cancel(nil)
	defer context.AfterFunc(signalled, func() { cancel(wait.ErrCanceled) })()
	ctx, cancelTimeout := context.WithTimeoutCause(ctx, cfg.Timeout, wait.ErrDeadline)
	defer cancelTimeout()

	client := prism.New(cfg.BaseURL, cfg.APIKey, "prism-wait/"+Version(env.Version), transport)
	client.BaseURLSetting = cfg.Term("base_url")
	// One budget for every request with this key: reads, refreshes, submits.
	if !env.NoBudget {
		client.Budget = budget.New(cfg.PollInterval, cfg.MaxInterval)
		client.Budget.Shrunk = report.RateLimited(log)
	}
	out := report.Run{Timeout: cfg.Timeout, Scrub: log.Scrubber(), Terms: cfg.Term, IDs: cfg.IDs, Submitted: cfg.Submit != nil,
		Prompt: cfg.Submit != nil && cfg.Submit.TemplateID == ""}
	waiter := &wait.Waiter{Client: client, PollInterval: cfg.PollInterval, MaxInterval: cfg.MaxInterval}

	var estimate time.Duration
	var submitted time.Time // when the submit was accepted: the estimate counts from it
	waitFor := cfg.IDs
	var marked []prism.Failed // the IDs the submit answer marks failed
	if cfg.Submit != nil {
		sub, resumed, err := guardedSubmit(ctx, env, cfg, waiter, log, transport)
		var required *rerun.RequiredUnmet
		switch {
		case errors.As(err, &required):
			return finish(env, log, cfg, report.Run{Invalid: []error{err}, Scrub: log.Scrubber(), Terms: cfg.Term})
		case err != nil:
			out.Submit, out.Elapsed, out.Requests, out.Refused = err, time.Since(start), client.Requests(), client.Refused()
			return finish(env, log, cfg, out)
		}
		out.IDs, out.Created, out.Credits, out.Resumed = report.Listed(sub.IDs), len(sub.IDs), sub.CreditsCharged.String(), resumed
		marked = sub.Failed
		if sub.Lost > 0 {
			what := sub.LostText()
			if resumed {
				what = "described in the log of the attempt that submitted"
			}
			out.Lost = &outcome.Lost{Count: sub.Lost, Failed: sub.LostFailed, What: what}
		}
		if !resumed {
			timeout := cfg.Timeout
			if !cfg.Wait {
				timeout = 0 // no wait: no timeout to warn of
			}
			estimate, submitted = report.Announce(log, sub, timeout, cfg.Term), time.Now()
		}
		if !resumed && cfg.Wait {
			waiter.FirstDelay = cfg.PollInterval // a generation just created is not done yet
			// Nor maybe known yet to every server of the API: a 404 for
			// an ID the submit just returned is read again for a while.
			waiter.Fresh = max(30*time.Second, 3*cfg.PollInterval)
			// Reads are sparse until near the estimate, or near the
			// timeout when that comes first: a video done before the
			// deadline must not wait for a read after it.
			waiter.Estimate = min(estimate, cfg.Timeout)
			why := "0.8 × the typical estimate"
			if estimate > cfg.Timeout {
				why = "0.8 × the " + cfg.Term("timeout") + ", which is shorter than the typical estimate"
			}
			sparse, dense := waiter.Plan()
			report.ReadPlan(log, cfg.PollInterval, sparse, dense, why)
		}
		report.Caveats(log, sub)
		if !cfg.Wait {
			if cfg.DownloadDir != "" {
				log.Warningf("Nothing downloaded", "%s is set, but %s is false: nothing is downloaded. The step that waits for these IDs can download them.", cfg.Term("download_dir"), cfg.Term("wait"))
			}
			log.Infof("not waiting (%s is false): a later step or job can wait for these IDs with %s", cfg.Term("wait"), cfg.Term("generation_id"))
			if n := len(sub.IDs); n > report.MaxListed {
				log.Warningf("Not every ID in the outputs", "The API created %d generations: the outputs and results list the first %d, and the log's \"submitted\" lines all %d.", n, report.MaxListed, n)
			}
			report.WarnMarked(log, marked)
			out.Elapsed, out.Requests, out.Refused, out.NotWaiting, out.Marked = time.Since(start), client.Requests(), client.Refused(), true, marked
			return finish(env, log, cfg, out)
		}
		// Every ID is in the outputs; one step waits for MaxIDs of them.
		waitFor = sub.IDs[:min(len(sub.IDs), prism.MaxIDs)]
		report.WarnNotWaited(log, sub.IDs, cfg.Term)
	} else {
		report.Waiting(log, cfg.IDs, cfg.BaseURL, cfg.Timeout)
	}

	progress := report.NewProgress(log, waitFor, start)
	progress.Estimate(estimate, submitted)
	progress.Rate = client.Budget.Rate
	waiter.Events = progress.Event
	stopHeartbeat := progress.StartHeartbeat(cmp.Or(env.Heartbeat, report.DefaultHeartbeat))

	var pool *download.Pool
	var then func(context.Context, *wait.Result)
	if downloader != nil {
		refresher := *waiter
		refresher.FirstDelay, refresher.Fresh = 0, 0 // the video's generation was read: it exists
		refresher.Events = func(e wait.Event) {
			if e.Kind == wait.Retry {
				progress.Event(e)
			}
		}
		pool = download.NewPool(downloader)
		// Each completed generation's video is fetched as soon as its wait
		// ends; an expired URL is refreshed with the retries and deadline
		// of any status read.
		then = func(ctx context.Context, r *wait.Result) {
			if r.Err == nil && r.Gen.Done() {
				pool.Fetch(ctx, r.ID, r.Gen.VideoURL, refresher.FreshURL(r))
			}
		}
	}
	waited := waiter.All(ctx, waitFor, then)
	stopHeartbeat()

	out.Elapsed, out.Requests, out.Refused = time.Since(start), client.Requests(), client.Refused()
	for _, w := range waited {
		r := report.Result{Result: w}
		r.File, r.FileErr = pool.Result(w.ID)
		out.Results = append(out.Results, r)
	}
	for _, id := range out.IDs[len(waitFor):] {
		r := wait.Result{ID: id, Err: outcome.ErrNotWaited}
		// Not read, but the submit answer says it failed: that is a verdict.
		if f := prism.FailedOf(marked, id); f != nil {
			r = wait.Result{ID: id, Gen: prism.Generation{ID: id, Status: prism.StatusFailed, Error: f.Error}}
		}
		out.Results = append(out.Results, report.Result{Result: r})
	}
	return finish(env, log, cfg, out)
}

// submit sends the submit request through wait's retry loop, which sends
// it again only where the API certainly did not act on it; the log tells
// what is sent, and of each refusal.
func submit(ctx context.Context, w *wait.Waiter, req prism.SubmitRequest, log *report.Log) (prism.Submission, error) {
	report.Submitting(log, req, w.Client.BaseURL())
	sw := *w
	sw.Events = report.NewProgress(log, nil, time.Now()).Event
	return sw.Submit(ctx, req)
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
// problem, outputs and summary inside GitHub Actions, the results JSON on
// stdout from the CLI, and a closing line with the exit code.
func finish(env Env, log *report.Log, cfg config.Config, run report.Run) int {
	run = run.Fit() // before anything says how many are listed
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
	ran := len(run.Results) > 0 || run.Submit != nil || run.NotWaiting
	if cfg.GitHub {
		still := "The step's outputs and this log still hold the results."
		if p := env.getenv("GITHUB_OUTPUT"); p != "" {
			if err := report.WriteOutputs(p, run.Outputs()); err != nil {
				still = "This log still holds the results."
				v := run.OutputsLost(err)
				log.Errorf(v.Title, "%s", v.Advice)
				code = outcome.Worse(code, v.Code) // never report success without the outputs
			}
		}
		// The summary is for people: without it, the outputs and this log
		// still tell everything.
		if p := env.getenv("GITHUB_STEP_SUMMARY"); p != "" && ran {
			if err := report.WriteSummary(p, run.Summary()); err != nil {
				log.Warningf("Cannot write the step summary", "%s. %s", log.Scrubber().Line(err.Error(), 500), still)
			}
		}
	}
	code = printResults(env, log, cfg, run, code)
	if ran {
		log.Infof("prism-wait: %s after %s, %s; exit code %d", run.Tally(), run.Elapsed.Round(time.Millisecond), run.RequestCount(), code)
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
