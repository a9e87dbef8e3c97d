// Package prism is a small client for the Prism API calls prism-wait
// makes: reading a generation's status (GET /generations/{id}) and
// submitting generations (POST /templates/{id}/generate, POST
// /generations). Both go through one request path (timeout, headers,
// count, redirects, error mapping, bounded decode), and one decision says
// whether a failed request may be sent again, knowing its method. It is the
// only package that knows the API's wire format; everything it returns is
// a value or an *Error.
//
// API facts: docs/api.md.
package prism

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prism-wait/prism-wait/internal/budget"
	"github.com/prism-wait/prism-wait/internal/untrusted"
)

// Statuses the API documents. Any other value is treated as not yet final.
const (
	StatusGenerating = "generating"
	StatusCompleted  = "completed"
	StatusFailed     = "failed"
)

// Limits on what is read from the network.
const (
	maxBody      = 1 << 20  // a status or submit body is a few hundred bytes
	maxErrorBody = 64 << 10 // error bodies are only scanned for code and message
	maxRedirects = 5
	// maxText bounds each text field and message kept from the API, after
	// the key is redacted from it.
	maxText = 2 << 10
	// MaxVideoURL bounds a usable video_url: a presigned S3 URL is well
	// under 2 KiB, and 100 of them, with their share_url, must fit twice
	// (the output and results) in a job's 1 MB of outputs counted in
	// UTF-16 (report's maxOutputs). A longer one is not taken as a video.
	MaxVideoURL = 2 << 10
	// maxShareURL bounds a usable share_url, a short public page address.
	maxShareURL = 256
)

// Generation is the status of one generation. JSON nulls decode to "".
// Unknown fields are ignored, so new API fields never break a waiter.
type Generation struct {
	ID          string `json:"id"`
	Status      string `json:"status"`
	TemplateID  string `json:"template_id"`
	VideoURL    string `json:"video_url"` // "" unless usable: see UsableURL
	ShareURL    string `json:"share_url"`
	CreatedAt   string `json:"created_at"`
	CompletedAt string `json:"completed_at"`
	Error       string `json:"error"`
}

// Final reports whether the generation has reached a verdict: failed, or
// completed with a video to fetch. "completed" without a usable video_url
// is not final: the URL is what the user waits for.
func (g Generation) Final() bool {
	return g.Status == StatusFailed || g.Done()
}

// Done reports whether the generation completed with a usable video.
func (g Generation) Done() bool {
	return g.Status == StatusCompleted && g.VideoURL != ""
}

// UsableURL returns raw, trimmed and normalised, when it is an absolute
// http or https URL with a host, no credentials and at most MaxVideoURL
// bytes once normalised; "" otherwise. It is idempotent. Anything else (blank, "javascript:…", a relative
// path) is treated exactly like a missing video_url.
func UsableURL(raw string) string { return usableURL(raw, MaxVideoURL) }

func usableURL(raw string, limit int) string {
	raw = strings.TrimSpace(raw)
	u, err := url.Parse(raw)
	if err != nil || len(raw) > limit || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.Opaque != "" {
		return ""
	}
	// A query is kept as written, but for what breaks a line or is no
	// ASCII (U+2028, U+0085): escaped, as a client sends it anyway, so
	// that each output's one line per ID stays one line.
	var q strings.Builder
	for i := 0; i < len(u.RawQuery); i++ {
		if c := u.RawQuery[i]; c <= ' ' || c >= 0x7f {
			fmt.Fprintf(&q, "%%%02X", c)
		} else {
			q.WriteByte(c)
		}
	}
	u.RawQuery = q.String()
	// The limit is on what is handed on: escaping a space or an é makes
	// the URL longer, and a second look would find it too long.
	if s := u.String(); len(s) <= limit {
		return s
	}
	return ""
}

// Error is every way a request can fail short of the caller's context
// ending. StatusCode is 0 when no HTTP response arrived, and 200 for any
// 2xx whose body was not understood.
type Error struct {
	Method     string        // GET or POST
	StatusCode int           // HTTP status, 0 for transport errors
	Code       string        // the API's error code, e.g. "not_found"
	Message    string        // the API's message, or what went wrong
	RetryAfter time.Duration // from a Retry-After header, 0 when absent
	// JSON says the body was a JSON object, as the API's error bodies
	// are; a web page's is not.
	JSON bool
	// Transient says whether the same request may be sent again: see
	// retryable.
	Transient bool
	// Unknown says that a POST may have been acted on (and charged for)
	// although no success was seen: it must not be sent again.
	Unknown bool
	Err     error // the underlying error, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	switch {
	case e.StatusCode == 0:
		b.WriteString("request failed")
	case e.StatusCode == http.StatusOK:
		b.WriteString("invalid response body")
	default:
		fmt.Fprintf(&b, "HTTP %d", e.StatusCode)
	}
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Kind names the class of failure in a few words ("HTTP 503", "timeout"),
// so that a log can say each kind of trouble once instead of once per try.
func (e *Error) Kind() string {
	var other *OtherGenerationError
	switch {
	case errors.Is(e.Err, ErrRedirect):
		return "redirect"
	case errors.As(e.Err, &other):
		// Said once per generation: another one's answer is no trouble of
		// the API as a whole.
		return "answer for another generation than " + other.Asked
	case e.StatusCode == http.StatusOK:
		return "invalid response body"
	case e.StatusCode != 0:
		return "HTTP " + strconv.Itoa(e.StatusCode)
	case errors.Is(e.Err, context.DeadlineExceeded):
		return "request timeout"
	default:
		return "network error"
	}
}

// Meaning is what a failed request's answer says, for advice: which
// setting or account fact the user should look at.
type Meaning int

// Meanings of a failed request, from its HTTP status.
const (
	Other         Meaning = iota // any other answer: a redirect not followed, a 5xx, a 409, …
	NoAnswer                     // no HTTP answer arrived (a network error, a timeout)
	Rejected                     // 400: the request names a field the API does not accept
	KeyRefused                   // 401: the API key is unknown, revoked or expired
	NoCredits                    // 402: the account has too few credits
	NotAllowed                   // 403: the key lacks the scope
	NotFound                     // 404 with a JSON body: no such generation or template for this key
	Unprocessable                // 422: the API cannot do this, e.g. generate this template
	RateLimited                  // 429: too many requests; sent again after a pause
)

// Meaning says what the answer means. It is decided here only: no other
// package reads StatusCode to tell the user what to do.
func (e *Error) Meaning() Meaning {
	switch e.StatusCode {
	case 0:
		return NoAnswer
	case http.StatusBadRequest:
		return Rejected
	case http.StatusUnauthorized:
		return KeyRefused
	case http.StatusPaymentRequired:
		return NoCredits
	case http.StatusForbidden:
		return NotAllowed
	case http.StatusNotFound:
		if e.Code == "" && !e.JSON {
			// No answer of the API's: a web page that has no such path,
			// as when base_url lacks its /api.
			return Other
		}
		return NotFound
	case http.StatusUnprocessableEntity:
		return Unprocessable
	case http.StatusTooManyRequests:
		return RateLimited
	}
	return Other
}

// ErrRedirect is wrapped by the error for a redirect the client will not
// follow: to another host (following it would send the key elsewhere),
// without a usable Location, in a loop, or in answer to a POST.
var ErrRedirect = errors.New("unusable redirect")

// retryable is the one decision whether a failed request may be sent
// again. A status read may always be repeated after a transient failure:
// network errors, 408, 429, 5xx except 501, a 2xx that is not the expected
// JSON; never a redirect that was not followed (a 3xx). A POST creates (and charges for) generations and carries no
// idempotency key, so it is repeated only where the API certainly did not
// act: a 429, or a connection that failed before the request was written
// (fail makes a 429 that lists generations no such refusal).
func retryable(method string, status int, wrote bool) bool {
	if method != http.MethodGet {
		return status == http.StatusTooManyRequests || (status == 0 && !wrote)
	}
	switch {
	case status == 0, status == http.StatusOK:
		return true
	case status == http.StatusRequestTimeout, status == http.StatusTooManyRequests:
		return true
	}
	return status >= 500 && status != http.StatusNotImplemented
}

// Client talks to the Prism API. Its zero value is not usable; build it
// with New.
type Client struct {
	base      *url.URL
	key       string
	userAgent string
	http      *http.Client
	requests  atomic.Int64
	refused   atomic.Int64 // answers 429
	// RequestTimeout bounds each request on its own (30s from New); the
	// caller's context bounds them all.
	RequestTimeout time.Duration
	// Budget, when set, gives every request its turn and hears of every
	// 429: one rate for the key, shared by all its requests.
	Budget *budget.Budget
	// BaseURLSetting names the base URL setting the way the user sets it,
	// for messages that say what to change: "base_url" in the action (and
	// when empty), "--base-url (PRISM_BASE_URL)" in the CLI.
	BaseURLSetting string
}

// baseURLSetting is BaseURLSetting, or the action's input name.
func (c *Client) baseURLSetting() string {
	if c.BaseURLSetting == "" {
		return "base_url"
	}
	return c.BaseURLSetting
}

// New returns a client for the API rooted at base (e.g.
// https://prismvideos.com/api). The key is sent only to base's scheme and
// host: a redirect anywhere else is refused, not followed.
func New(base *url.URL, key, userAgent string, transport http.RoundTripper) *Client {
	return &Client{
		base: base, key: key, userAgent: userAgent, RequestTimeout: 30 * time.Second,
		// Redirects are followed by do, which can tell the user why one
		// is not: net/http would fail on an unparsable Location with an
		// error that quotes it, query and all.
		http: &http.Client{Transport: keepRedirects{transport}},
	}
}

// stashedLocation holds a redirect's Location, hidden from http.Client.
const stashedLocation = "X-Prism-Wait-Location"

// keepRedirects hands redirects to the caller instead of http.Client.
type keepRedirects struct{ rt http.RoundTripper }

func (k keepRedirects) RoundTrip(r *http.Request) (*http.Response, error) {
	rt := k.rt
	if rt == nil {
		rt = http.DefaultTransport
	}
	resp, err := rt.RoundTrip(r)
	if err == nil && resp.StatusCode >= 300 && resp.StatusCode < 400 {
		resp.Header.Set(stashedLocation, resp.Header.Get("Location"))
		resp.Header.Del("Location")
	}
	return resp, err
}

// scrubber redacts the key from API text before anything clips it: an
// API that echoes the key must not leave a prefix of it in a message.
func (c *Client) scrubber() untrusted.Scrubber { return untrusted.New(c.key) }

// BaseURL is the API root the client talks to.
func (c *Client) BaseURL() *url.URL { return c.base }

// Requests is the number of requests sent so far.
func (c *Client) Requests() int64 { return c.requests.Load() }

// Refused is the number of requests the API answered with 429 so far.
func (c *Client) Refused() int64 { return c.refused.Load() }

// Get fetches the status of one generation. It returns ctx's cause when
// ctx ends, and an *Error for everything else.
func (c *Client) Get(ctx context.Context, id string) (Generation, error) {
	var b statusBody
	if err := c.do(ctx, id, http.MethodGet, c.base.JoinPath("generations", id), nil, &b); err != nil {
		return Generation{}, err
	}
	g := b.Generation
	if b.HasID && g.ID != id {
		return Generation{}, c.fail(http.MethodGet, &Error{StatusCode: http.StatusOK,
			Err: &OtherGenerationError{Asked: id, Answer: c.scrubber().Line(g.ID, 80)}}, true)
	}
	g.VideoURL, g.ShareURL = UsableURL(g.VideoURL), usableURL(g.ShareURL, maxShareURL)
	// A URL that carries the key, as written or percent-encoded, would put
	// it in outputs, which are not scrubbed (a presigned URL must keep its
	// signature): not usable.
	sc := c.scrubber()
	for _, u := range []*string{&g.VideoURL, &g.ShareURL} {
		if sc.Secret(*u) {
			*u = ""
		}
	}
	for _, f := range []*string{&g.ID, &g.Status, &g.TemplateID, &g.CreatedAt, &g.CompletedAt, &g.Error} {
		*f = sc.Line(*f, maxText)
	}
	return g, nil
}

// do sends one request and decodes a 200's JSON body into out. It follows
// a GET's redirects on the API's own scheme and host, at most
// maxRedirects. Each request waits for its turn in the budget, as the
// request for generation id ("" for none), and tells it the outcome. It
// returns ctx's cause when ctx ends, else an *Error.
func (c *Client) do(ctx context.Context, id, method string, u *url.URL, body []byte, out any) error {
	rctx := ctx // bounded by RequestTimeout from the first turn on
	stop := context.CancelFunc(func() {})
	for hops := 0; ; hops++ {
		turn, err := c.Budget.Wait(rctx, id)
		var pause *budget.PauseError
		switch {
		case errors.As(err, &pause):
			return c.fail(method, &Error{StatusCode: http.StatusTooManyRequests, RetryAfter: pause.Left,
				Message: "not sent", Err: pause}, false)
		case err != nil && ctx.Err() != nil:
			return context.Cause(ctx)
		case err != nil:
			return c.fail(method, &Error{Err: transportError(err)}, false)
		}
		if hops == 0 {
			// The timeout starts when the request leaves, not while it
			// waits for its first turn.
			rctx, stop = context.WithTimeout(ctx, c.RequestTimeout)
			defer stop()
		}
		resp, wrote, err := c.send(rctx, method, u, body)
		if err != nil {
			turn.Lost()
			// A POST cut short by the caller may still have been acted on.
			if ctx.Err() != nil && (method == http.MethodGet || !wrote) {
				return context.Cause(ctx)
			} else if ctx.Err() != nil {
				err = context.Cause(ctx)
			}
			return c.fail(method, &Error{Err: transportError(err)}, wrote)
		}
		if resp.StatusCode == http.StatusTooManyRequests {
			c.refused.Add(1)
			turn.Refused(ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()))
		} else {
			turn.Read()
		}
		next, err := c.redirect(method, u, resp, hops)
		if err != nil {
			drain(resp)
			return c.fail(method, &Error{StatusCode: resp.StatusCode, Err: err}, true)
		}
		if next == nil {
			defer resp.Body.Close()
			err := c.decode(ctx, method, resp, out)
			if err == nil {
				readTail(resp.Body, stop)
			}
			return err
		}
		drain(resp)
		u = next
	}
}

// send writes one request; wrote tells whether any of it reached the
// connection, which decides whether a POST may be sent again.
func (c *Client) send(ctx context.Context, method string, u *url.URL, body []byte) (*http.Response, bool, error) {
	var wrote atomic.Bool
	trace := &httptrace.ClientTrace{
		WroteHeaderField: func(string, []string) { wrote.Store(true) },
		WroteRequest:     func(httptrace.WroteRequestInfo) { wrote.Store(true) },
	}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), method, u.String(), oneShot(body))
	if err != nil {
		return nil, false, err
	}
	if body != nil {
		req.ContentLength = int64(len(body))
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	c.requests.Add(1)
	resp, err := c.http.Do(req)
	return resp, wrote.Load(), err
}

// redirect returns where a redirect leads, nil for any other answer, or
// an error wrapping ErrRedirect for one that must not be followed.
func (c *Client) redirect(method string, from *url.URL, resp *http.Response, hops int) (*url.URL, error) {
	if resp.StatusCode < 300 || resp.StatusCode >= 400 || resp.StatusCode == http.StatusNotModified {
		return nil, nil
	}
	loc := resp.Header.Get(stashedLocation)
	next, err := from.Parse(loc)
	setting := c.baseURLSetting()
	switch {
	case loc == "" || err != nil:
		return nil, fmt.Errorf("%w: the API answered HTTP %d without a usable Location; check that %s points at the Prism API", ErrRedirect, resp.StatusCode, setting)
	case next.Scheme != c.base.Scheme || next.Host != c.base.Host:
		return nil, fmt.Errorf("%w: the API answered with a redirect to %s://%s; set %s to that host if it is really Prism's",
			ErrRedirect, next.Scheme, next.Host, setting)
	case method != http.MethodGet:
		return nil, fmt.Errorf("%w: the API answered a %s with a redirect (HTTP %d): it may have acted on it; check that %s points at the Prism API", ErrRedirect, method, resp.StatusCode, setting)
	case hops >= maxRedirects:
		return nil, fmt.Errorf("%w: stopped after %d redirects; check that %s points at the Prism API", ErrRedirect, maxRedirects, setting)
	}
	return next, nil
}

// decode turns a response into out or an *Error: a non-2xx through
// checkResponse, a 2xx through decodeBody. Any 2xx is decoded: a POST's
// may list the generations it created whatever its code, and a status
// read's (a proxy's 203) holds the generation or is not understood, and
// read again, as a 200 that is not the expected JSON (a 204's).
func (c *Client) decode(ctx context.Context, method string, resp *http.Response, out any) error {
	if resp.StatusCode/100 != 2 {
		defer drain(resp) // for the connection to be used again
		return c.fail(method, c.checkResponse(method, resp), true)
	}
	err := decodeBody(ctx, resp.Body, out)
	var re *readError
	switch {
	case err == nil:
		return nil
	case !errors.As(err, &re):
		return c.fail(method, &Error{StatusCode: http.StatusOK, Message: "not the expected JSON", Err: err}, true)
	case ctx.Err() != nil && method == http.MethodGet:
		return context.Cause(ctx)
	case ctx.Err() != nil:
		return c.fail(method, &Error{StatusCode: http.StatusOK, Err: context.Cause(ctx)}, true)
	case errors.Is(err, errTooLarge):
		return c.fail(method, &Error{StatusCode: http.StatusOK, Message: "body larger than 1 MiB"}, true)
	}
	return c.fail(method, &Error{StatusCode: http.StatusOK, Err: transportError(re.err)}, true)
}

// fail completes e with what the method and the outcome imply.
func (c *Client) fail(method string, e *Error, wrote bool) *Error {
	e.Method = method
	// A refusal of a POST that lists generations all the same, or may
	// (too long or broken to tell), may have created them: it is no
	// refusal to send again, or to trust.
	listed := errors.Is(e.Err, ErrListsGenerations)
	// A connection the transport refuses by policy (a link-local
	// address) says so: no retry can help.
	var policy interface{ Permanent() bool }
	refused := errors.As(e.Err, &policy) && policy.Permanent()
	e.Transient = retryable(method, e.StatusCode, wrote) && !listed && !refused
	// A POST that reached the API and was not refused (4xx) may have
	// created generations: a redirect too (a 303 classically answers one
	// that did).
	e.Unknown = method != http.MethodGet && !e.Transient && wrote && (e.StatusCode < 400 || e.StatusCode >= 500 || listed)
	return e
}

// generationKey finds a key that lists generations in a body that does not
// parse: "generations" or "generation_id", in any case.
var generationKey = regexp.MustCompile(`(?i)"generation(s|_id)"\s*:`)

// ErrListsGenerations is wrapped by the Err of a refused POST whose body
// lists generations (a "generations" that is no empty list) all the same,
// or of a 429 whose body is too long or broken to tell.
var ErrListsGenerations = errors.New("yet the answer lists generations")

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
}

// checkResponse turns a non-200 response into an *Error, reading at most
// maxErrorBody bytes of the body for the API's code and message, and for
// a POST whether it lists generations.
func (c *Client) checkResponse(method string, resp *http.Response) *Error {
	e := &Error{StatusCode: resp.StatusCode}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody+1))
	cut := len(raw) > maxErrorBody
	raw = raw[:min(len(raw), maxErrorBody)]
	// A refused POST may list generations in a body too long or broken
	// to tell: a 429 (sent again otherwise) too long, or one with a
	// "generations" or "generation_id" key that is no JSON object; any
	// other refusal whose body begins as JSON (a byte order mark aside)
	// and is too long, whatever its first 64 KiB name (keys come in any
	// order), or is broken and has such a key. A web page, for a wrong
	// base_url, answers no 429 and begins with no brace.
	if method != http.MethodGet && resp.StatusCode >= 400 && resp.StatusCode < 500 {
		_, err := fields(raw)
		named := generationKey.Match(raw)
		start := bytes.TrimLeft(bytes.TrimPrefix(raw, []byte("\ufeff")), " \t\r\n")
		jsonish := resp.StatusCode == http.StatusTooManyRequests || len(start) > 0 && (start[0] == '{' || start[0] == '[')
		switch {
		case cut && jsonish:
			e.Err = fmt.Errorf("%w, or may: its body is longer than %d KiB, too long to tell", ErrListsGenerations, maxErrorBody>>10)
		case err != nil && named && jsonish:
			e.Err = fmt.Errorf("%w, or may: its body is no JSON object, yet names generations", ErrListsGenerations)
		}
	}
	// Any JSON object is the API's answer, whatever its fields' types: a
	// 404 with a message object is still "no such generation", not a web
	// page. An "error" object may hold the code and message itself.
	if body, err := fields(raw); err == nil {
		e.JSON = true
		code, msg := body.get("error"), body.get("message")
		if inner, err := fields(code); err == nil {
			code = inner.get("code")
			if null(msg) {
				msg = inner.get("message")
			}
		}
		sc := c.scrubber()
		e.Code, e.Message = sc.Line(jsonText(code), 64), sc.Line(jsonText(msg), maxText)
		if ids := c.listed(body); method != http.MethodGet && ids != "" {
			e.Err = fmt.Errorf("%w (%s)", ErrListsGenerations, ids)
		}
	}
	e.RetryAfter = ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	return e
}

// Forever stands for a Retry-After too large to represent: it reaches
// past any deadline.
const Forever = time.Duration(math.MaxInt64)

// ParseRetryAfter reads a Retry-After value, either delay-seconds or an
// HTTP date (RFC 9110, section 10.2.3). It returns 0 for an absent, past
// or malformed value, and Forever for a number of seconds too large to
// represent. It does not cap: the caller compares it with its deadline.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseUint(v, 10, 64); err == nil || errors.Is(err, strconv.ErrRange) {
		if err != nil || n > uint64(Forever/time.Second) {
			return Forever
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// transportError strips the URL from a *url.Error: net/http puts the whole
// request URL in its messages, and URLs may carry signatures.
func transportError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%w (no answer in time)", context.DeadlineExceeded)
	}
	return err
}
