package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/prism-wait/prism-wait/internal/config"
	"github.com/prism-wait/prism-wait/internal/prism"
	"github.com/prism-wait/prism-wait/internal/report"
	"github.com/prism-wait/prism-wait/internal/rerun"
	"github.com/prism-wait/prism-wait/internal/wait"
)

// recordTimeout bounds writing the submitted IDs to the cache: it runs
// after the deadline or a cancel too, within the runner's grace period.
const recordTimeout = 5 * time.Second

// guardTimeout bounds what the guard reads and records before the POST:
// reading gets readTimeout of it, and writing the intent its own rest,
// so that reads which hang leave the write its time.
const (
	guardTimeout = 15 * time.Second
	readTimeout  = 10 * time.Second
)

// guardedSubmit submits cfg.Submit under the re-run guard (internal/rerun):
// on a re-run that finds the IDs an earlier attempt submitted, it returns
// them with resumed set and sends nothing. It returns a *rerun.RequiredUnmet
// when rerun_guard is required and cannot be met.
func guardedSubmit(ctx context.Context, env Env, cfg config.Config, w *wait.Waiter, log *report.Log, transport http.RoundTripper) (sub prism.Submission, resumed bool, err error) {
	if cfg.RerunGuard == rerun.Required && !cfg.GitHub {
		// Nothing to record an attempt in: required cannot be met, and
		// must not pass for a protection.
		return prism.Submission{}, false, &rerun.RequiredUnmet{Why: errors.New("the re-run guard works only in GitHub Actions, where it records each submit in the Actions cache")}
	}
	if cfg.RerunGuard == rerun.Off || !cfg.GitHub {
		sub, err := submit(ctx, w, *cfg.Submit, log)
		return sub, false, err
	}
	t := cfg.Term
	rerunning := env.getenv("GITHUB_RUN_ATTEMPT") != "" && env.getenv("GITHUB_RUN_ATTEMPT") != "1"
	unusable := func(why error) error {
		if cfg.RerunGuard == rerun.Required {
			return &rerun.RequiredUnmet{Why: why}
		}
		if rerunning {
			next := fmt.Sprintf("Set %s to required to stop instead when the cache cannot be used.", t("rerun_guard"))
			if strings.TrimSpace(env.getenv("ACTIONS_RESULTS_URL")) == "" || strings.TrimSpace(env.getenv("ACTIONS_RUNTIME_TOKEN")) == "" {
				// required would stop every run here.
				next = fmt.Sprintf("There is no cache here in any attempt: to make re-runs safe, submit with %s false in a job of its own and wait for its generation_id in another, so that re-running the waiting job submits nothing.", t("wait"))
			}
			log.Warningf("Re-run guard unavailable", "%s. Submitting without it: if an earlier attempt of this run submitted this same request, this submit pays for it again (check the Prism dashboard). %s",
				untrustedLine(log, why), next)
			return nil
		}
		log.Warningf("Re-run guard unavailable", "%s. Submitting without it: a re-run of this job would submit (and pay) again. Set %s to off to silence this warning.",
			untrustedLine(log, why), t("rerun_guard"))
		return nil
	}
	g, err := rerun.Open(env.getenv, cfg.BaseURL.String(), cfg.APIKey, *cfg.Submit, transport)
	// The cache may be slow or gone: it gets a bounded share of the run,
	// never the time the submit and the wait need.
	gctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	// intend records this attempt's intent. An earlier attempt that began
	// this submit holds its key: an *rerun.Unrecorded, and nothing is sent.
	intend := func() error {
		ictx, cancel := context.WithTimeout(ctx, guardTimeout-readTimeout)
		defer cancel()
		err := g.Intend(ictx, time.Now())
		var unrecorded *rerun.Unrecorded
		switch {
		case errors.As(err, &unrecorded):
			return err
		case errors.Is(err, rerun.ErrTaken):
			return &rerun.Unavailable{Reason: err.Error()}
		case err != nil:
			return &rerun.Unavailable{Reason: "the Actions cache could not be written (" + err.Error() + ")"}
		}
		return nil
	}
	if err == nil {
		var prior rerun.Prior
		prior, err = g.Check(gctx)
		var unrecorded *rerun.Unrecorded
		switch {
		case errors.As(err, &unrecorded):
			return prism.Submission{}, false, err // an earlier attempt may have paid
		case errors.Is(err, rerun.ErrNoMoreRounds):
			// Unguarded, every later attempt could pay: none is sent.
			return prism.Submission{}, false, &rerun.Unrecorded{Reason: err.Error()}
		case err != nil:
			// The record cannot be read. Its intent's key still tells:
			// an earlier attempt that began this submit holds it.
			readErr := err
			if err = intend(); errors.As(err, &unrecorded) {
				return prism.Submission{}, false, &rerun.Unrecorded{Reason: "the Actions cache could not be read (" + readErr.Error() +
					"), and an earlier attempt of this run began this same submit, so whether it paid cannot be told"}
			} else if err != nil {
				err = &rerun.Unavailable{Reason: "the Actions cache could not be read (" + readErr.Error() + ")"}
			}
		case prior.Submitted != nil:
			ids := prior.Submitted.IDs
			what := "waiting for those"
			if !cfg.Wait {
				what = "handing those on"
			}
			report.LogIDs(log, fmt.Sprintf("attempt %d of this run submitted this request already (%s), %s instead of submitting again",
				prior.Submitted.Attempt, prior.Submitted.At.UTC().Format(time.RFC3339), what), ids)
			// That some of its answer cannot be waited for still holds; what
			// it was is in that attempt's log.
			return prism.Submission{IDs: ids, Lost: prior.Submitted.Lost, LostFailed: prior.Submitted.LostFailed}, true, nil
		case prior.Intent != nil:
			return prism.Submission{}, false, &rerun.Unrecorded{Attempt: prior.Intent.Attempt, At: prior.Intent.At}
		default:
			switch {
			case prior.Refused > 0:
				log.Infof("re-run guard: the API refused this request's submit by an earlier attempt of this run (nothing was created); submitting it again")
			case rerunning:
				log.Infof("re-run guard: no earlier attempt of this run recorded this request (the same %s or %s, %s, %s, %s and %s); submitting",
					cfg.Term("template_id"), cfg.Term("prompt"), cfg.Term("variables"), cfg.Term("options"), cfg.Term("api_key"), cfg.Term("base_url"))
			}
			if err = intend(); errors.As(err, &unrecorded) {
				return prism.Submission{}, false, err
			}
		}
	}
	if err != nil {
		if err := unusable(err); err != nil {
			return prism.Submission{}, false, err
		}
		g = nil
	}
	sub, err = submit(ctx, w, *cfg.Submit, log)
	if g == nil {
		return sub, false, err
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	var pe *prism.Error
	switch {
	case err == nil:
		if rerr := g.Submitted(rctx, time.Now(), sub.IDs, sub.Lost, sub.LostFailed); rerr != nil {
			log.Warningf("Re-run guard incomplete", "the submitted IDs could not be recorded in the Actions cache (%s). A re-run of this job will stop before submitting, as it cannot tell what this attempt paid for; the IDs are in the generation_id output.",
				untrustedLine(log, rerr))
		}
	case !errors.As(err, &pe) || !pe.Unknown:
		// Nothing was created: a later attempt may send the request again.
		if rerr := g.Refused(rctx, time.Now()); rerr != nil {
			log.Debugf("re-run guard: recording the refused submit: %v", rerr)
		}
	}
	return sub, false, err
}

// untrustedLine is err's text as one scrubbed line: cache errors may quote
// the service.
func untrustedLine(log *report.Log, err error) string {
	return log.Scrubber().Line(err.Error(), 400)
}
