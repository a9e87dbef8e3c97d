// Package cli is prism-wait's command: it reads the settings, waits for
// the generations (downloading each video as soon as it is ready, when
// asked), reports, and decides the exit code. The action and the plain CLI
// are the same code; only where the report goes differs.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/prism-wait/prism-wait/internal/config"
	"github.com/prism-wait/prism-wait/internal/download"
	"github.com/prism-wait/prism-wait/internal/prism"
	"github.com/prism-wait/prism-wait/internal/report"
	"github.com/prism-wait/prism-wait/internal/wait"
)

// Env is everything the command takes from its process.
type Env struct {
	Getenv         func(string) string
	Args           []string // without the program name
	Stdout, Stderr io.Writer
	Wd             string            // the working directory
	Transport      http.RoundTripper // nil for http.DefaultTransport
	Version        string            // stamped at build time; "" falls back to build info
}

// Heartbeat is how often a line says what is still pending.
const Heartbeat = 30 * time.Second

// MaxDownloads bounds how many videos download at once.
const MaxDownloads = 4

// Run runs prism-wait and returns the process's exit code. It returns soon
// after ctx ends, with the outputs and summary written as far as known.
func Run(ctx context.Context, env Env) int {
	start := time.Now()
	github := env.Getenv("GITHUB_ACTIONS") == "true"
	logw := env.Stderr
	if github {
		logw = env.Stdout // the runner reads workflow commands from stdout
	}
	log := report.NewLog(logw, github)

	cfg, err := config.Load(ctx, env.Getenv, env.Args, env.Wd, env.Stderr)
	log.Mask(cfg.APIKey) // before anything else is printed
	switch {
	case errors.Is(err, config.ErrHelp):
		return report.ExitOK
	case errors.Is(err, config.ErrVersion):
		fmt.Fprintln(env.Stdout, "prism-wait", Version(env.Version))
		return report.ExitOK
	case err != nil:
		for _, line := range strings.Split(err.Error(), "\n") {
			log.Errorf("Invalid input", "%s", line)
		}
		finish(env, log, report.Run{Workspace: cfg.Workspace})
		return report.ExitInput
	}

	// Causes say why waiting stopped: the timeout, or a cancelled job.
	signalled := ctx
	ctx, cancel := context.WithCancelCause(context.WithoutCancel(signalled))
	defer cancel(nil)
	defer context.AfterFunc(signalled, func() { cancel(wait.ErrCanceled) })()
	ctx, cancelTimeout := context.WithDeadlineCause(ctx, start.Add(cfg.Timeout), wait.ErrDeadline)
	defer cancelTimeout()

	transport := env.Transport
	if transport == nil {
		transport = http.DefaultTransport
	}
	client := prism.New(cfg.BaseURL, cfg.APIKey, "prism-wait/"+Version(env.Version), transport)
	progress := report.NewProgress(log, cfg.IDs, start)
	waiter := &wait.Waiter{Client: client, PollInterval: cfg.PollInterval, MaxInterval: cfg.MaxInterval, Events: progress.Event}
	log.Infof("waiting for %d generation(s) at %s (timeout %s): %s", len(cfg.IDs), cfg.BaseURL, cfg.Timeout, strings.Join(cfg.IDs, ", "))

	stopHeartbeat := heartbeat(progress)
	var dl *downloads
	var then func(context.Context, *wait.Result)
	if cfg.DownloadDir != "" {
		dl = &downloads{
			d: &download.Downloader{
				HTTP:  &http.Client{Transport: transport}, // no credentials: the URL is its own
				Dir:   cfg.DownloadDir,
				Owner: owner(cfg.Workspace),
				Logf:  log.Infof,
			},
			client: client,
			slots:  make(chan struct{}, MaxDownloads),
			done:   map[string]report.Result{},
		}
		then = dl.fetch
	}
	waited := waiter.All(ctx, cfg.IDs, then)
	stopHeartbeat()

	run := report.Run{Elapsed: time.Since(start), Requests: client.Requests(), Timeout: cfg.Timeout, Workspace: cfg.Workspace}
	for _, w := range waited {
		r := dl.result(w.ID)
		r.Result = w
		run.Results = append(run.Results, r)
	}
	return finish(env, log, run)
}

// heartbeat says what is still pending every Heartbeat, until stopped.
func heartbeat(p *report.Progress) (stop func()) {
	t := time.NewTicker(Heartbeat)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case now := <-t.C:
				p.Heartbeat(now)
			case <-done:
				return
			}
		}
	}()
	return func() { t.Stop(); close(done) }
}

// downloads fetches each completed generation's video as soon as its wait
// ends, at most MaxDownloads at once, and keeps the outcomes by ID.
type downloads struct {
	d      *download.Downloader
	client *prism.Client
	slots  chan struct{}
	mu     sync.Mutex
	done   map[string]report.Result
}

// fetch is the wait's follow-up for one generation. The API is asked
// again for a freshly signed URL when storage says the old one expired.
func (dl *downloads) fetch(ctx context.Context, r *wait.Result) {
	if r.Err != nil || r.Gen.Status != prism.StatusCompleted {
		return
	}
	var out report.Result
	select {
	case dl.slots <- struct{}{}:
		refresh := func(ctx context.Context) (string, error) {
			g, err := dl.client.Get(ctx, r.ID)
			if err != nil {
				return "", err
			}
			if g.VideoURL == "" {
				return "", errors.New("the API gives no video_url any more")
			}
			r.Gen = g // report the URL that worked
			return g.VideoURL, nil
		}
		if f, err := dl.d.Fetch(ctx, r.ID, r.Gen.VideoURL, refresh); err != nil {
			out.FileErr = err
		} else {
			out.File = &f
		}
		<-dl.slots
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

// finish reports the run and returns its exit code: annotations for each
// problem, a closing line, then outputs and summary in GitHub Actions or
// the results JSON on stdout elsewhere.
func finish(env Env, log *report.Log, run report.Run) int {
	code := run.ExitCode()
	for _, p := range run.Problems() {
		log.Errorf(p[0], "%s", p[1])
	}
	if len(run.Results) > 0 {
		log.Infof("prism-wait: %s after %s, %d requests; exit code %d", report.Tally(run.Results), run.Elapsed.Round(time.Millisecond), run.Requests, code)
	}
	if env.Getenv("GITHUB_ACTIONS") != "true" {
		if len(run.Results) > 0 {
			fmt.Fprintf(env.Stdout, "%s\n", run.JSON())
		}
		return code
	}
	var errs []error
	if p := env.Getenv("GITHUB_OUTPUT"); p != "" {
		errs = append(errs, report.WriteOutputs(p, run.Outputs()))
	}
	if p := env.Getenv("GITHUB_STEP_SUMMARY"); p != "" && len(run.Results) > 0 {
		errs = append(errs, report.WriteSummary(p, run.Summary()))
	}
	if err := errors.Join(errs...); err != nil {
		log.Errorf("Cannot write step outputs", "%v. Later steps would not see the results.", err)
		if code == report.ExitOK {
			code = report.ExitFailed // never report success without the outputs
		}
	}
	return code
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
