package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prism-wait/prism-wait/internal/download"
	"github.com/prism-wait/prism-wait/internal/media"
	"github.com/prism-wait/prism-wait/internal/outcome"
	"github.com/prism-wait/prism-wait/internal/prism"
	"github.com/prism-wait/prism-wait/internal/untrusted"
	"github.com/prism-wait/prism-wait/internal/wait"
)

// Result is everything known about one generation at the end.
type Result struct {
	wait.Result
	File    *download.File // the saved video, when downloaded
	FileErr error          // why the download did not happen
}

// facts are what happened to this generation, for outcome to judge.
func (r Result) facts() outcome.Facts {
	return outcome.Facts{ID: r.ID, Gen: r.Gen, Wait: r.Err, Download: r.FileErr}
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
	// Created is how many IDs the submit returned: more than IDs when
	// past MaxListed.
	Created int
	// Credits is the submit's credits_charged, "" when none.
	Credits string
	// Submit is why submitting failed, if it did: a *prism.Error, or the
	// context's cause.
	Submit error
	// Lost are the submit answer's entries with no ID to wait for, nil
	// when there are none.
	Lost *outcome.Lost
	// Marked are the IDs the submit answer marks failed, set only when
	// NotWaiting (a wait reads them): the results say so, and a warning.
	Marked []prism.Failed
	// Resumed says the IDs are those an earlier attempt of the run
	// submitted: this one sent no submit (the re-run guard).
	Resumed bool
	// Submitted says the IDs came from a submit, this attempt's or (when
	// Resumed) an earlier one's, not from generation_id; Prompt, that the
	// submit was a prompt's.
	Submitted, Prompt bool
	// NotWaiting says the run submitted and stopped (wait false): its
	// results are the IDs, with status "submitted".
	NotWaiting bool
	// Invalid are the problems of an invalid input, in the user's terms:
	// nothing was sent.
	Invalid []error
	// Terms names an input the way the user sets it, for advice: "api_key"
	// in the action, "--api-key (PRISM_API_KEY)" in the CLI. nil: the
	// action's input names.
	Terms func(input string) string
}

// Facts are what happened in the run, for outcome to judge: each problem
// of the input, the failed submit, then each generation in input order.
func (r Run) Facts() []outcome.Facts {
	var fs []outcome.Facts
	for _, p := range r.Invalid {
		fs = append(fs, outcome.Facts{Invalid: p})
	}
	if r.Submit != nil {
		fs = append(fs, outcome.Facts{Submit: r.Submit})
	}
	if r.Lost != nil {
		fs = append(fs, outcome.Facts{Lost: r.Lost})
	}
	for _, res := range r.Results {
		fs = append(fs, res.facts())
	}
	return fs
}

// verdict is outcome's verdict on f, its advice in the user's terms.
func (r Run) verdict(f outcome.Facts) outcome.Verdict {
	return outcome.Of(f, r.settings())
}

func (r Run) settings() outcome.Settings {
	return outcome.Settings{Name: r.Terms, Timeout: r.Timeout, Submitted: r.Submitted, Prompt: r.Prompt}
}

// OutputsLost is the verdict on outputs that could not be written (err),
// in the run's terms: after a submit that returned IDs, it says how to
// wait for them again without paying again.
func (r Run) OutputsLost(err error) outcome.Verdict {
	s := r.settings()
	s.Submitted = s.Submitted && r.Submit == nil && len(r.IDs) > 0
	return outcome.Of(outcome.Facts{Outputs: err}, s)
}

// RequestCount says how many requests were sent, and how many of them
// the API refused with 429 when any were: "125 requests (15 refused with
// 429)".
func (r Run) RequestCount() string {
	s := fmt.Sprintf("%d requests", r.Requests)
	if r.Requests == 1 {
		s = "1 request"
	}
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
	if r >= 100 {
		return fmt.Sprintf("%.0f requests/s", r) // 10000, not 1e+04
	}
	return fmt.Sprintf("%.3g requests/s", r)
}

// Problems are the annotations to show: a title and a line with what to
// do next for the input's problems and a failed submit, then for each
// generation that is not a success, the decisive ones (by exit code
// precedence) first, then in input order.
func (r Run) Problems() [][2]string {
	fs := r.Facts()
	vs := make([]outcome.Verdict, len(fs))
	for i, f := range fs {
		vs[i] = r.verdict(f)
	}
	gens := vs[len(vs)-len(r.Results):] // after the run's own problems
	slices.SortStableFunc(gens, func(a, b outcome.Verdict) int { return outcome.Compare(a.Code, b.Code) })
	var out [][2]string
	notWaited := false
	for _, v := range vs {
		switch {
		case v.Code == outcome.ExitOK:
		case v.Kind == notWaitedKind:
			// One annotation for them all, however many.
			if !notWaited {
				out = append(out, [2]string{v.Title, outcome.NotWaited(r.ids(), r.Created, r.settings())})
			}
			notWaited = true
		default:
			out = append(out, [2]string{v.Title, v.Advice})
		}
	}
	return out
}

// notWaitedKind is the kind of outcome's verdict on a generation not
// waited for.
var notWaitedKind = outcome.Of(outcome.Facts{Wait: outcome.ErrNotWaited}, outcome.Settings{}).Kind

// ids are the results' IDs, in order.
func (r Run) ids() []string {
	ids := make([]string, len(r.Results))
	for i, res := range r.Results {
		ids[i] = res.ID
	}
	return ids
}

// Status is the step's `status` output: see outcome.Status. The submit
// answer's entries without an ID count as failed when it says so, else
// as not waited for.
func (r Run) Status() string {
	gens := make([]outcome.Facts, len(r.Results))
	for i, res := range r.Results {
		gens[i] = res.facts()
	}
	status := outcome.Status(gens)
	switch {
	case r.NotWaiting && len(r.Marked) > 0: // the answer said so: no read can be awaited for it here
		status = prism.StatusFailed
	case r.Lost == nil || status == prism.StatusFailed || len(gens) == 0 && !r.NotWaiting:
	case r.Lost.Failed > 0:
		status = prism.StatusFailed
	case r.Lost.Count > 0 && status == prism.StatusCompleted:
		status = outcome.StatusNotWaited
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
	// What the verified container says; null when unknown or unverified.
	VideoDurationS *float64 `json:"video_duration_s"`
	VideoWidth     *int     `json:"video_width"`
	VideoHeight    *int     `json:"video_height"`
	VideoCodec     *string  `json:"video_codec"`
}

// Bounds of the step outputs. Each text value from the network is cut to
// maxField bytes; when the outputs would still exceed maxOutputs (100 IDs
// with long errors), maxField is halved until they fit, down to minField.
// GitHub caps a job's outputs at 1 MB, which may be weighed in UTF-16
// (as .NET strings are), two bytes per ASCII character: 510 KiB of UTF-8
// is at most 1020 KiB of UTF-16. The longest URLs prism keeps on 100
// generations fit (TestFitListsFewerNotWaitedFor).
const (
	maxField   = 2 << 10
	minField   = 64
	maxOutputs = 510 << 10
)

// JSON is the `results` output and the CLI's stdout: one object per ID, in
// input order, on one line.
func (r Run) JSON() []byte { return r.json(maxField) }

// StatusSubmitted is the status in the results of a generation that a
// submit-only run (wait false) submitted and did not wait for.
const StatusSubmitted = "submitted"

// submitted is what is known of id after a submit that did not wait: its
// status, StatusSubmitted or failed when the answer marks it so, with the
// answer's error.
func (r Run) submitted(id string) (status string, failed *prism.Failed) {
	if f := prism.FailedOf(r.Marked, id); f != nil {
		return prism.StatusFailed, f
	}
	return StatusSubmitted, nil
}

// submittedJSON is the results after a submit that did not wait: one
// object per submitted ID, as JSON has them, with status "submitted" and
// nothing else known.
func (r Run) submittedJSON(limit int) []byte {
	out := make([]resultJSON, len(r.IDs))
	for i, id := range r.IDs {
		status, failed := r.submitted(id)
		out[i] = resultJSON{ID: id, Status: opt(status)}
		if failed != nil {
			out[i].Error = opt(r.Scrub.Line(failed.Error, limit))
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		panic(err) // strings always marshal
	}
	return b
}

func (r Run) json(limit int) []byte {
	if r.NotWaiting {
		return r.submittedJSON(limit)
	}
	out := make([]resultJSON, len(r.Results))
	text := func(s string) *string { return opt(r.Scrub.Line(s, limit)) }
	for i, res := range r.Results {
		g := res.Gen
		out[i] = resultJSON{
			ID: res.ID, Status: text(outcome.StatusOf(res.facts())), VideoURL: opt(r.url(g.VideoURL)), ShareURL: opt(r.url(g.ShareURL)),
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
		if size(outs) <= maxOutputs || limit <= minField {
			return outs
		}
	}
}

func size(outs []Output) int {
	n := 0
	for _, o := range outs {
		n += len(o.Name) + len(o.Value)
	}
	return n
}

// Fit lists fewer of the generations not waited for, halving them, when
// even the shortest text would leave the outputs over maxOutputs (100
// completed with the longest URLs beside hundreds not waited for): they
// hold nothing but their IDs, which the log lists. Created keeps the
// count. The waited-for ones are all kept.
func (r Run) Fit() Run {
	r.Created = max(r.Created, len(r.IDs))
	waited := 0
	for _, res := range r.Results {
		if !errors.Is(res.Err, outcome.ErrNotWaited) {
			waited++
		}
	}
	// One not waited for stays listed: it keeps the exit code from
	// saying they were all seen.
	for len(r.IDs) > waited+1 && size(r.outputs(minField)) > maxOutputs {
		n := waited + max(1, (len(r.IDs)-waited)/2)
		r.IDs = r.IDs[:n]
		r.Results = r.Results[:min(n, len(r.Results))]
	}
	return r
}

func (r Run) outputs(limit int) []Output {
	results := r.Results
	if r.NotWaiting {
		// One line per ID here too: error holds the answer's, for those
		// it marks failed.
		results = make([]Result, len(r.IDs))
		for i, id := range r.IDs {
			results[i].ID = id
			if _, failed := r.submitted(id); failed != nil {
				results[i].Gen.Error = failed.Error
			}
		}
	}
	lines := func(f func(Result) string) string {
		v := make([]string, len(results))
		for i, res := range results {
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
		{"resumed", strconv.FormatBool(r.Resumed)},
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
		{"video_duration", lines(func(res Result) string { return durationSeconds(res.media()) })},
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

// durationSeconds is a video's duration in seconds for an output ("8",
// "2.5"), "" when unknown.
func durationSeconds(m *media.Info) string {
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
