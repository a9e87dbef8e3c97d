package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prism-wait/prism-wait/internal/crash"
	"github.com/prism-wait/prism-wait/internal/download"
	"github.com/prism-wait/prism-wait/internal/media"
	"github.com/prism-wait/prism-wait/internal/prism"
	"github.com/prism-wait/prism-wait/internal/untrusted"
	"github.com/prism-wait/prism-wait/internal/wait"
)

// StatusNoVideo is the status reported for a generation that the API calls
// completed but that never gave a usable video_url: it is no success.
const StatusNoVideo = "completed_without_video"

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

// Worse is whichever of two exit codes takes precedence.
func Worse(a, b int) int {
	if precedence[b] > precedence[a] {
		return b
	}
	return a
}

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
	var p *crash.Panic
	switch {
	case errors.As(r.Err, &pe) && !pe.Transient:
		return ExitRefused
	case errors.As(r.Err, &p) || errors.As(r.FileErr, &p):
		return ExitFailed
	case r.Err != nil:
		return ExitTimeout
	case r.Gen.Status == prism.StatusFailed:
		return ExitFailed
	case errors.Is(r.FileErr, wait.ErrDeadline) || errors.Is(r.FileErr, wait.ErrCanceled):
		return ExitTimeout // e.g. a URL refresh told to wait past the deadline
	case errors.As(r.FileErr, &de):
		return ExitDownload
	case r.FileErr != nil: // the download was cut short by the deadline or a cancel
		return ExitTimeout
	}
	return ExitOK
}

// Title names this generation's problem for an annotation.
func (r Result) Title() string {
	var p *crash.Panic
	switch {
	case errors.As(r.Err, &p) || errors.As(r.FileErr, &p):
		return "Internal error"
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
	var p *crash.Panic
	switch {
	case errors.As(r.Err, &pe) && !pe.Transient:
		return refusal(r.ID, pe)
	case errors.As(r.Err, &p) || errors.As(r.FileErr, &p):
		return fmt.Sprintf("%s: %v. This is a bug in prism-wait: please report it with the step's debug log (it has the stack).", r.ID, p)
	case errors.Is(r.Err, wait.ErrDeadline):
		return fmt.Sprintf("%s: %v. Raise {timeout} (now %s) if generations take longer.", r.ID, r.Err, timeout)
	case r.Err != nil:
		return fmt.Sprintf("%s: %v", r.ID, r.Err)
	case r.Gen.Status == prism.StatusFailed:
		msg := r.Gen.Error
		if msg == "" {
			msg = "the API gave no reason"
		}
		return fmt.Sprintf("%s failed: %s", r.ID, msg)
	case errors.Is(r.FileErr, wait.ErrDeadline):
		return fmt.Sprintf("%v. Raise {timeout} (now %s): it covers the downloads too.", r.FileErr, timeout)
	case r.FileErr != nil:
		return r.FileErr.Error()
	}
	return ""
}

// refusal explains a permanent API error and what to do about it.
func refusal(id string, e *prism.Error) string {
	switch e.StatusCode {
	case http.StatusUnauthorized:
		return fmt.Sprintf("Prism refused the API key (%v). Check that the secret passed as {api_key} holds a current key (prism_sk_…); keys can be revoked or expire.", e)
	case http.StatusForbidden:
		return fmt.Sprintf("The API key may not read generations (%v). Create a key with the templates:read scope and store it in the secret.", e)
	case http.StatusNotFound:
		return fmt.Sprintf("Generation %s was not found (%v). Check the ID, and that it belongs to the account of this API key.", id, e)
	case 0:
		return fmt.Sprintf("%s: %v", id, e)
	}
	return fmt.Sprintf("The API refused the request for %s (%v). This is not retried; check that {base_url} points at the Prism API.", id, e)
}

// submitCode is the exit code of a failed submit: 4 when the API refused
// it or may have acted on it, 3 when the deadline or a cancel came first
// (a 429 until the deadline included: nothing was created).
func submitCode(err error) int {
	var pe *prism.Error
	switch {
	case errors.As(err, &pe) && pe.Unknown:
		return ExitRefused
	case errors.Is(err, wait.ErrDeadline) || errors.Is(err, wait.ErrCanceled):
		return ExitTimeout
	case errors.As(err, &pe) && !pe.Transient:
		return ExitRefused
	}
	return ExitTimeout
}

// submitProblem explains a failed submit and what to do about it.
func submitProblem(err error) [2]string {
	var pe *prism.Error
	if submitCode(err) == ExitTimeout {
		return [2]string{"Submit did not finish", fmt.Sprintf("The generations were not submitted: %v. Nothing was created or charged: the API did not accept the request. Re-run, or raise {timeout}.", err)}
	}
	errors.As(err, &pe)
	switch {
	case pe.Unknown:
		return [2]string{"Submit outcome unknown", fmt.Sprintf("The submit request reached Prism, but its answer was lost or unusable (%v). "+
			"The generations may have been created and charged: check the Prism dashboard before re-running. "+
			"It was not sent again; to wait for generations that exist, pass their IDs as {generation_id}.", pe)}
	case pe.StatusCode == http.StatusPaymentRequired:
		return [2]string{"Prism API refused the submission", fmt.Sprintf("Not enough credits (%v). Top up the account's credits in Prism, then re-run.", pe)}
	case pe.StatusCode == http.StatusUnprocessableEntity:
		return [2]string{"Prism API refused the submission", fmt.Sprintf("This template cannot be generated through the API (%v). Use another {template_id}, or generate it in the Prism app.", pe)}
	case pe.StatusCode == http.StatusBadRequest:
		return [2]string{"Prism API refused the submission", fmt.Sprintf("The request was rejected (%v). Fix the variable or field it names in {variables} or {options}.", pe)}
	case pe.StatusCode == http.StatusNotFound:
		return [2]string{"Prism API refused the submission", fmt.Sprintf("Not found (%v). Check {template_id}, and that the template belongs to the account of this API key.", pe)}
	}
	return [2]string{"Prism API refused the submission", refusal("the submission", pe)}
}

// Run is the whole outcome of one invocation.
type Run struct {
	Results  []Result
	Elapsed  time.Duration
	Requests int64
	Refused  int64 // requests the API answered with 429
	Timeout  time.Duration
	// Scrub cleans every value from the network on its way out.
	Scrub untrusted.Scrubber
	// IDs are the generations waited for, in order: given, or submitted.
	// They are known before any result, and outlive a submit that failed
	// after the API answered.
	IDs []string
	// Credits is the submit's credits_charged, "" when none.
	Credits string
	// Submit is why submitting failed, if it did: a *prism.Error, or the
	// context's cause.
	Submit error
	// Invalid says the input was invalid: nothing was sent.
	Invalid bool
	// Terms names each input where the user sets it: {api_key} in a
	// message becomes "api_key" in the action, "--api-key" in the CLI.
	Terms *strings.Replacer
}

// RequestCount says how many requests were sent, and how many of them
// the API refused with 429 when any were: "125 requests (15 refused with
// 429)".
func (r Run) RequestCount() string {
	s := fmt.Sprintf("%d requests", r.Requests)
	if r.Refused > 0 {
		s += fmt.Sprintf(" (%d refused with 429)", r.Refused)
	}
	return s
}

// PerSecond writes a request rate for a log line: "2.5 requests/s", or
// "one request every 4s" below one a second.
func PerSecond(r float64) string {
	if r <= 0 {
		return "no requests until the pause ends"
	}
	if r <= 1 {
		return fmt.Sprintf("one request every %s", time.Duration(float64(time.Second)/r).Round(100*time.Millisecond))
	}
	return fmt.Sprintf("%.3g requests/s", r)
}

// say puts the user's names for inputs into a message of ours: Terms,
// else the action's input names.
func (r Run) say(msg string) string {
	if r.Terms == nil {
		return placeholder.ReplaceAllString(msg, "$1")
	}
	return r.Terms.Replace(msg)
}

var placeholder = regexp.MustCompile(`\{([a-z_]+)\}`)

// Problems are the annotations to show: a title and a line with what to
// do next for each generation that is not a success, the decisive ones
// (by exit code precedence) first, then in input order.
func (r Run) Problems() [][2]string {
	sorted := slices.Clone(r.Results)
	slices.SortStableFunc(sorted, func(a, b Result) int { return precedence[b.Code()] - precedence[a.Code()] })
	var out [][2]string
	if r.Submit != nil {
		p := submitProblem(r.Submit)
		out = append(out, [2]string{p[0], r.say(p[1])})
	}
	for _, res := range sorted {
		if p := res.Problem(r.Timeout); p != "" {
			out = append(out, [2]string{res.Title(), r.say(p)})
		}
	}
	return out
}

// ExitCode decides the process's exit code from all results.
func (r Run) ExitCode() int {
	code := ExitOK
	switch {
	case r.Invalid:
		return ExitInput
	case r.Submit != nil:
		code = submitCode(r.Submit)
	}
	for _, res := range r.Results {
		code = Worse(code, res.Code())
	}
	return code
}

// Status is the step's `status` output: completed only when every
// generation completed with a usable video; failed when any failed; else
// the status of the first generation still without a verdict
// (StatusNoVideo for one completed without a usable video_url, "" when
// none was ever read).
func (r Run) Status() string {
	if len(r.Results) == 0 {
		return ""
	}
	for _, res := range r.Results {
		if res.Gen.Status == prism.StatusFailed {
			return prism.StatusFailed
		}
	}
	for _, res := range r.Results {
		if !res.Gen.Done() {
			return res.status()
		}
	}
	return prism.StatusCompleted
}

// status is this generation's status as reported: the API's, except
// StatusNoVideo for completed without a usable video.
func (r Result) status() string {
	if r.Gen.Status == prism.StatusCompleted && !r.Gen.Done() {
		return StatusNoVideo
	}
	return r.Gen.Status
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
	// What the verified container says; null when unknown or unverified.
	VideoDurationS *float64 `json:"video_duration_s"`
	VideoWidth     *int     `json:"video_width"`
	VideoHeight    *int     `json:"video_height"`
	VideoCodec     *string  `json:"video_codec"`
}

// Bounds of the step outputs. Each text value from the network is cut to
// maxField bytes; when the outputs would still exceed maxOutputs (100 IDs
// with long errors), maxField is halved until they fit, down to minField.
// GitHub caps a job's outputs at 1 MB.
const (
	maxField   = 2 << 10
	minField   = 64
	maxOutputs = 700 << 10
)

// JSON is the `results` output and the CLI's stdout: one object per ID, in
// input order, on one line.
func (r Run) JSON() []byte { return r.json(maxField) }

func (r Run) json(limit int) []byte {
	out := make([]resultJSON, len(r.Results))
	text := func(s string) *string { return opt(r.Scrub.Line(s, limit)) }
	for i, res := range r.Results {
		g := res.Gen
		out[i] = resultJSON{
			ID: res.ID, Status: text(res.status()), VideoURL: opt(r.url(g.VideoURL)), ShareURL: opt(r.url(g.ShareURL)),
			TemplateID: text(g.TemplateID), CreatedAt: text(g.CreatedAt), CompletedAt: text(g.CompletedAt),
			Error: text(g.Error), VideoURLExpiresAt: opt(ExpiresAt(g.VideoURL)),
		}
		if f := res.File; f != nil {
			out[i].VideoPath, out[i].VideoSHA256, out[i].VideoBytes = opt(f.Path), opt(f.SHA256), &f.Bytes
		}
		if m := res.media(); m != nil {
			out[i].VideoCodec = text(m.Codec)
			out[i].VideoWidth, out[i].VideoHeight = positive(m.Width), positive(m.Height)
			if m.Duration > 0 {
				s := float64(m.Duration.Round(time.Millisecond).Milliseconds()) / 1000
				out[i].VideoDurationS = &s
			}
		}
	}
	// Without HTML escaping, a URL's & stays one byte, not six (\u0026).
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		panic(err) // strings and integers always marshal
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// url is a usable URL as prism keeps it, or "": URLs are written without
// scrubbing (a presigned URL's query is its signature), so this checks
// again that they are URLs and hold no secret.
func (r Run) url(s string) string {
	if u := prism.UsableURL(s); u != "" && !r.Scrub.Secret(u) {
		return u
	}
	return ""
}

// Output is one step output.
type Output struct{ Name, Value string }

// Outputs are the step outputs, every one on every path: single-valued
// outputs hold one line per ID in input order, empty where absent. Text
// from the network is scrubbed and bounded, so that all of them stay well
// under GitHub's 1 MB per job.
func (r Run) Outputs() []Output {
	for limit := maxField; ; limit /= 2 {
		outs := r.outputs(limit)
		size := 0
		for _, o := range outs {
			size += len(o.Name) + len(o.Value)
		}
		if size <= maxOutputs || limit <= minField {
			return outs
		}
	}
}

func (r Run) outputs(limit int) []Output {
	lines := func(f func(Result) string) string {
		v := make([]string, len(r.Results))
		for i, res := range r.Results {
			v[i] = f(res)
		}
		return strings.Join(v, "\n")
	}
	text := func(f func(prism.Generation) string) string {
		return lines(func(res Result) string { return r.Scrub.Line(f(res.Gen), limit) })
	}
	file := func(f func(*download.File) string) string {
		return lines(func(res Result) string {
			if res.File == nil {
				return ""
			}
			return f(res.File)
		})
	}
	return []Output{
		{"status", r.Status()},
		{"generation_id", strings.Join(r.IDs, "\n")},
		{"credits_charged", r.Scrub.Line(r.Credits, 32)},
		// Usable URLs, normalised by prism and free of the key: the video's
		// keeps its signature.
		{"video_url", lines(func(res Result) string { return r.url(res.Gen.VideoURL) })},
		{"share_url", lines(func(res Result) string { return r.url(res.Gen.ShareURL) })},
		{"template_id", text(func(g prism.Generation) string { return g.TemplateID })},
		{"created_at", text(func(g prism.Generation) string { return g.CreatedAt })},
		{"completed_at", text(func(g prism.Generation) string { return g.CompletedAt })},
		{"error", text(func(g prism.Generation) string { return g.Error })},
		{"video_path", file(func(f *download.File) string { return f.Path })},
		{"video_sha256", file(func(f *download.File) string { return f.SHA256 })},
		{"video_duration", lines(func(res Result) string { return seconds(res.media()) })},
		{"video_width", lines(func(res Result) string { return pixels(res.media(), func(m *media.Info) int { return m.Width }) })},
		{"video_height", lines(func(res Result) string { return pixels(res.media(), func(m *media.Info) int { return m.Height }) })},
		{"results", string(r.json(limit))},
	}
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

// media is what the saved video's container says; nil when not
// downloaded or not verified.
func (r Result) media() *media.Info {
	if r.File == nil {
		return nil
	}
	return r.File.Media
}

// seconds is a video's duration in seconds for an output ("8", "2.5"),
// "" when unknown.
func seconds(m *media.Info) string {
	if m == nil || m.Duration <= 0 {
		return ""
	}
	return strconv.FormatFloat(float64(m.Duration.Round(time.Millisecond).Milliseconds())/1000, 'f', -1, 64)
}

// pixels is a width or height for an output, "" when unknown.
func pixels(m *media.Info, of func(*media.Info) int) string {
	if m == nil || of(m) <= 0 {
		return ""
	}
	return strconv.Itoa(of(m))
}

func positive(n int) *int {
	if n <= 0 {
		return nil
	}
	return &n
}

func opt(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
