package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prism-wait/prism-wait/internal/download"
	"github.com/prism-wait/prism-wait/internal/prism"
	"github.com/prism-wait/prism-wait/internal/wait"
)

// Exit codes, documented in README and --help. Where several apply, the
// first in this order wins: ExitInput, ExitRefused, ExitFailed,
// ExitDownload, ExitTimeout.
const (
	ExitOK       = 0 // every generation completed (and downloaded, if asked)
	ExitFailed   = 1 // a generation failed
	ExitInput    = 2 // invalid input, before any request
	ExitTimeout  = 3 // the timeout passed, or the job was cancelled, before a verdict
	ExitRefused  = 4 // the API refused: 401, 403, 404, other 4xx
	ExitDownload = 5 // a download failed
)

var precedence = map[int]int{ExitInput: 5, ExitRefused: 4, ExitFailed: 3, ExitDownload: 2, ExitTimeout: 1, ExitOK: 0}

// Result is everything known about one generation at the end.
type Result struct {
	wait.Result
	File    *download.File // the saved video, when downloaded
	FileErr error          // why the download did not happen
}

// Code is this generation's exit code.
func (r Result) Code() int {
	var pe *prism.Error
	var de *download.Error
	switch {
	case errors.As(r.Err, &pe) && !pe.Transient:
		return ExitRefused
	case r.Err != nil:
		return ExitTimeout
	case r.Gen.Status == prism.StatusFailed:
		return ExitFailed
	case errors.As(r.FileErr, &de):
		return ExitDownload
	case r.FileErr != nil: // the download was cut short by the deadline or a cancel
		return ExitTimeout
	}
	return ExitOK
}

// Title names this generation's problem for an annotation.
func (r Result) Title() string {
	switch {
	case errors.Is(r.Err, wait.ErrStopped):
		return "Stopped early"
	case errors.Is(r.Err, wait.ErrCanceled) || errors.Is(r.FileErr, wait.ErrCanceled):
		return "Cancelled"
	}
	return map[int]string{
		ExitFailed:   "Generation failed",
		ExitTimeout:  "No verdict in time",
		ExitRefused:  "Prism API refused the request",
		ExitDownload: "Download failed",
	}[r.Code()]
}

// Problem explains in one line, with what to do next, why this generation
// is not a success. It is "" for a success.
func (r Result) Problem(timeout time.Duration) string {
	var pe *prism.Error
	switch {
	case errors.As(r.Err, &pe) && !pe.Transient:
		return refusal(r.ID, pe)
	case errors.Is(r.Err, wait.ErrDeadline):
		return fmt.Sprintf("%s: %v. Raise timeout (now %s) if generations take longer.", r.ID, r.Err, timeout)
	case r.Err != nil:
		return fmt.Sprintf("%s: %v", r.ID, r.Err)
	case r.Gen.Status == prism.StatusFailed:
		msg := r.Gen.Error
		if msg == "" {
			msg = "the API gave no reason"
		}
		return fmt.Sprintf("%s failed: %s", r.ID, msg)
	case errors.Is(r.FileErr, wait.ErrDeadline):
		return fmt.Sprintf("%v. Raise timeout (now %s): it covers the downloads too.", r.FileErr, timeout)
	case r.FileErr != nil:
		return r.FileErr.Error()
	}
	return ""
}

// refusal explains a permanent API error and what to do about it.
func refusal(id string, e *prism.Error) string {
	switch e.StatusCode {
	case http.StatusUnauthorized:
		return fmt.Sprintf("Prism refused the API key (%v). Check that the secret passed as api_key holds a current key (prism_sk_…); keys can be revoked or expire.", e)
	case http.StatusForbidden:
		return fmt.Sprintf("The API key may not read generations (%v). Create a key with the templates:read scope and store it in the secret.", e)
	case http.StatusNotFound:
		return fmt.Sprintf("Generation %s was not found (%v). Check the ID, and that it belongs to the account of this API key.", id, e)
	case 0:
		return fmt.Sprintf("%s: %v", id, e)
	}
	return fmt.Sprintf("The API refused the request for %s (%v). This is not retried; check that base_url points at the Prism API.", id, e)
}

// Run is the whole outcome of one invocation.
type Run struct {
	Results   []Result
	Elapsed   time.Duration
	Requests  int64
	Timeout   time.Duration
	Workspace string // reported paths are relative to it
}

// Problems are the annotations to show: a title and a line with what to
// do next for each generation that is not a success, the decisive ones
// (by exit code precedence) first, then in input order.
func (r Run) Problems() [][2]string {
	sorted := slices.Clone(r.Results)
	slices.SortStableFunc(sorted, func(a, b Result) int { return precedence[b.Code()] - precedence[a.Code()] })
	var out [][2]string
	for _, res := range sorted {
		if p := res.Problem(r.Timeout); p != "" {
			out = append(out, [2]string{res.Title(), p})
		}
	}
	return out
}

// ExitCode decides the process's exit code from all results.
func (r Run) ExitCode() int {
	code := ExitOK
	for _, res := range r.Results {
		if c := res.Code(); precedence[c] > precedence[code] {
			code = c
		}
	}
	return code
}

// Status is the step's `status` output: completed when all completed,
// failed when any failed, else the status of the first generation still
// without a verdict ("" when none was ever read).
func (r Run) Status() string {
	if len(r.Results) == 0 {
		return ""
	}
	status := prism.StatusCompleted
	for _, res := range r.Results {
		switch {
		case res.Gen.Status == prism.StatusFailed:
			return prism.StatusFailed
		case status == prism.StatusCompleted && !res.Gen.Final():
			status = res.Gen.Status
		}
	}
	return status
}

// resultJSON is one element of the `results` output. Absent values are
// null, as in the API.
type resultJSON struct {
	ID                string  `json:"id"`
	Status            *string `json:"status"`
	VideoURL          *string `json:"video_url"`
	ShareURL          *string `json:"share_url"`
	TemplateID        *string `json:"template_id"`
	CreatedAt         *string `json:"created_at"`
	CompletedAt       *string `json:"completed_at"`
	Error             *string `json:"error"`
	VideoURLExpiresAt *string `json:"video_url_expires_at"`
	VideoPath         *string `json:"video_path"`
	VideoSHA256       *string `json:"video_sha256"`
	VideoBytes        *int64  `json:"video_bytes"`
}

// JSON is the `results` output and the CLI's stdout: one object per ID, in
// input order, on one line.
func (r Run) JSON() []byte {
	out := make([]resultJSON, len(r.Results))
	for i, res := range r.Results {
		g := res.Gen
		out[i] = resultJSON{
			ID: res.ID, Status: opt(g.Status), VideoURL: opt(g.VideoURL), ShareURL: opt(g.ShareURL),
			TemplateID: opt(g.TemplateID), CreatedAt: opt(g.CreatedAt), CompletedAt: opt(g.CompletedAt),
			Error: opt(g.Error), VideoURLExpiresAt: opt(ExpiresAt(g.VideoURL)),
		}
		if f := res.File; f != nil {
			out[i].VideoPath, out[i].VideoSHA256, out[i].VideoBytes = opt(r.relative(f.Path)), opt(f.SHA256), &f.Bytes
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		panic(err) // strings and integers always marshal
	}
	return b
}

// Output is one step output.
type Output struct{ Name, Value string }

// Outputs are the step outputs, every one on every path: single-valued
// outputs hold one line per ID in input order, empty where absent.
func (r Run) Outputs() []Output {
	lines := func(f func(Result) string) string {
		v := make([]string, len(r.Results))
		for i, res := range r.Results {
			v[i] = strings.Join(strings.Fields(f(res)), " ") // one line per ID, always
		}
		return strings.Join(v, "\n")
	}
	file := func(f func(*download.File) string) func(Result) string {
		return func(res Result) string {
			if res.File == nil {
				return ""
			}
			return f(res.File)
		}
	}
	return []Output{
		{"status", r.Status()},
		{"video_url", lines(func(res Result) string { return res.Gen.VideoURL })},
		{"share_url", lines(func(res Result) string { return res.Gen.ShareURL })},
		{"template_id", lines(func(res Result) string { return res.Gen.TemplateID })},
		{"created_at", lines(func(res Result) string { return res.Gen.CreatedAt })},
		{"completed_at", lines(func(res Result) string { return res.Gen.CompletedAt })},
		{"error", lines(func(res Result) string { return res.Gen.Error })},
		{"video_path", lines(file(func(f *download.File) string { return r.relative(f.Path) }))},
		{"video_sha256", lines(file(func(f *download.File) string { return f.SHA256 }))},
		{"results", string(r.JSON())},
	}
}

// relative reports a path relative to the workspace: later steps run on
// the host, where the workspace is not /github/workspace.
func (r Run) relative(p string) string {
	if rel, err := filepath.Rel(r.Workspace, p); err == nil {
		return filepath.ToSlash(rel)
	}
	return p
}

// ExpiresAt reads when a presigned URL expires, from its X-Amz-Date and
// X-Amz-Expires parameters, as RFC 3339; "" when unknown.
func ExpiresAt(videoURL string) string {
	u, err := url.Parse(videoURL)
	if err != nil || videoURL == "" {
		return ""
	}
	q := u.Query()
	signed, err := time.Parse("20060102T150405Z", q.Get("X-Amz-Date"))
	if err != nil {
		return ""
	}
	secs, err := strconv.ParseInt(q.Get("X-Amz-Expires"), 10, 64)
	if err != nil || secs < 0 || secs > 7*24*3600 {
		return ""
	}
	expires := signed.Add(time.Duration(secs) * time.Second).UTC()
	if expires.Year() > 9999 {
		return "" // not expressible in RFC 3339, and not a real signature anyway
	}
	return expires.Format(time.RFC3339)
}

func opt(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
