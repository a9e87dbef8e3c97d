// Package prism is a small client for the one Prism API call a waiter needs:
// GET /generations/{id}. It is the only package that knows the API's wire
// format; everything it returns is a Generation or an *Error.
//
// API facts: ../../../shared/PRISM-API.md (kept in the steering repo).
package prism

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Statuses the API documents. Any other value is treated as not yet final.
const (
	StatusGenerating = "generating"
	StatusCompleted  = "completed"
	StatusFailed     = "failed"
)

// Limits on what is read from the network.
const (
	maxBody      = 1 << 20  // a status body is a few hundred bytes
	maxErrorBody = 64 << 10 // error bodies are only scanned for code and message
	maxRetry     = time.Hour
)

// Generation is the status of one generation. JSON nulls decode to "".
// Unknown fields are ignored, so new API fields never break a waiter.
type Generation struct {
	ID          string `json:"id"`
	Status      string `json:"status"`
	TemplateID  string `json:"template_id"`
	VideoURL    string `json:"video_url"`
	ShareURL    string `json:"share_url"`
	CreatedAt   string `json:"created_at"`
	CompletedAt string `json:"completed_at"`
	Error       string `json:"error"`
}

// Final reports whether the generation has reached a verdict: failed, or
// completed with a video to fetch. "completed" without a video_url is not
// final: the URL is what the user waits for.
func (g Generation) Final() bool {
	return g.Status == StatusFailed || (g.Status == StatusCompleted && g.VideoURL != "")
}

// Error is every way a status request can fail short of the caller's
// context ending. StatusCode is 0 when no HTTP response arrived.
type Error struct {
	StatusCode int           // HTTP status, 0 for transport errors
	Code       string        // the API's error code, e.g. "not_found"
	Message    string        // the API's message, or what went wrong
	RetryAfter time.Duration // from a Retry-After header, 0 when absent
	Transient  bool          // whether asking again may succeed
	Err        error         // the underlying error, if any
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
	switch {
	case e.StatusCode == http.StatusOK:
		return "invalid response body"
	case e.StatusCode != 0:
		return "HTTP " + strconv.Itoa(e.StatusCode)
	case errors.Is(e.Err, context.DeadlineExceeded):
		return "request timeout"
	case errors.Is(e.Err, ErrRedirect):
		return "redirect"
	default:
		return "network error"
	}
}

// ErrRedirect is wrapped by the error for a redirect away from the API's
// scheme and host: following it would send the key elsewhere.
var ErrRedirect = errors.New("redirect to another host")

// Client asks the Prism API for generation statuses. Its zero value is not
// usable; build it with New.
type Client struct {
	base      *url.URL
	key       string
	userAgent string
	http      *http.Client
	requests  atomic.Int64
	// RequestTimeout bounds each request on its own (30s from New); the
	// caller's context bounds them all.
	RequestTimeout time.Duration
}

// New returns a client for the API rooted at base (e.g.
// https://prismvideos.com/api). The key is sent only to base's scheme and
// host: a redirect anywhere else is refused, not followed.
func New(base *url.URL, key, userAgent string, transport http.RoundTripper) *Client {
	c := &Client{base: base, key: key, userAgent: userAgent, RequestTimeout: 30 * time.Second}
	c.http = &http.Client{
		Transport: transport,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Scheme != base.Scheme || req.URL.Host != base.Host {
				return fmt.Errorf("%w: the API answered with a redirect to %s://%s; set base_url to that host if it is really Prism's",
					ErrRedirect, req.URL.Scheme, req.URL.Host)
			}
			if len(via) >= 5 {
				return errors.New("stopped after 5 redirects")
			}
			return nil
		},
	}
	return c
}

// Requests is the number of requests sent so far.
func (c *Client) Requests() int64 { return c.requests.Load() }

// Get fetches the status of one generation. It returns ctx's error when ctx
// ends, and an *Error for everything else.
func (c *Client) Get(ctx context.Context, id string) (Generation, error) {
	rctx, cancel := context.WithTimeout(ctx, c.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, c.base.JoinPath("generations", id).String(), nil)
	if err != nil {
		return Generation{}, &Error{Message: "cannot build request", Err: err}
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)

	c.requests.Add(1)
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return Generation{}, context.Cause(ctx)
		}
		e := &Error{Err: transportError(err), Transient: !errors.Is(err, ErrRedirect)}
		return Generation{}, e
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
		resp.Body.Close()
	}()

	if resp.StatusCode != http.StatusOK {
		return Generation{}, checkResponse(resp)
	}
	var g Generation
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	switch {
	case err != nil:
		if ctx.Err() != nil {
			return Generation{}, context.Cause(ctx)
		}
		return Generation{}, &Error{StatusCode: http.StatusOK, Transient: true, Err: transportError(err)}
	case len(body) > maxBody:
		return Generation{}, &Error{StatusCode: http.StatusOK, Transient: true, Message: "body larger than 1 MiB"}
	}
	if err := json.Unmarshal(body, &g); err != nil {
		return Generation{}, &Error{StatusCode: http.StatusOK, Transient: true, Message: "not the expected JSON", Err: err}
	}
	return g, nil
}

// checkResponse turns a non-200 response into an *Error, reading at most
// maxErrorBody bytes of the body for the API's code and message.
func checkResponse(resp *http.Response) *Error {
	e := &Error{StatusCode: resp.StatusCode}
	var body struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if json.Unmarshal(raw, &body) == nil {
		e.Code, e.Message = clip(body.Error, 64), clip(body.Message, 300)
	}
	switch {
	case resp.StatusCode == http.StatusRequestTimeout,
		resp.StatusCode == http.StatusTooManyRequests,
		resp.StatusCode >= 500:
		e.Transient = true
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		// A redirect that was not followed (no Location): nothing to retry.
		e.Message = "unexpected redirect without a usable Location"
	}
	e.RetryAfter = ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	return e
}

// ParseRetryAfter reads a Retry-After value, either delay-seconds or an
// HTTP date (RFC 9110, section 10.2.3). It returns 0 for an absent, past or
// malformed value, and caps absurd values at an hour.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		if n > int64(maxRetry/time.Second) {
			return maxRetry
		}
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetry)
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

// clip bounds text from the network before it reaches a log or an output.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
