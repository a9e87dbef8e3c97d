package prism

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prism-wait/prism-wait/internal/budget"
	"github.com/prism-wait/prism-wait/internal/testnet"
)

const key = "prism_sk_test_secret"

// serve starts a scripted API and returns a client for it.
func serve(t *testing.T, h http.HandlerFunc) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	// The server's own client: http.DefaultTransport is shared with every
	// test, and httptest.Server.Close closes its idle connections, which
	// breaks a parallel test's request on a connection it just reused.
	return New(mustURL(t, srv.URL+"/api"), key, "prism-wait/test", srv.Client().Transport)
}

func mustURL(t testing.TB, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// memClient answers every request with status and body, in memory.
func memClient(t *testing.T, status int, body string) *Client {
	t.Helper()
	return New(mustURL(t, "https://api.example/api"), key, "t", roundTrip(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
	}))
}

func TestGetDecodesLeniently(t *testing.T) {
	t.Parallel()
	var got *http.Request
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		got = r
		io.WriteString(w, `{"id":"gen_1","status":"completed","template_id":null,"video_url":"https://s3/v.mp4?X-Amz-Signature=abc",
			"share_url":"https://prismvideos.com/share/gen_1","created_at":"2026-01-01T00:00:00Z","completed_at":"2026-01-01T00:02:00Z",
			"error":null,"brand_new_field":{"nested":[1,2]}}`)
	})
	g, err := c.Get(context.Background(), "gen_1")
	if err != nil {
		t.Fatal(err)
	}
	want := Generation{ID: "gen_1", Status: "completed", VideoURL: "https://s3/v.mp4?X-Amz-Signature=abc",
		ShareURL: "https://prismvideos.com/share/gen_1", CreatedAt: "2026-01-01T00:00:00Z", CompletedAt: "2026-01-01T00:02:00Z"}
	if g != want {
		t.Errorf("got %+v, want %+v", g, want)
	}
	if !g.Final() {
		t.Error("completed with a video_url must be final")
	}
	if got.URL.Path != "/api/generations/gen_1" || got.Header.Get("Authorization") != "Bearer "+key ||
		got.Header.Get("User-Agent") != "prism-wait/test" || got.Header.Get("Accept") != "application/json" {
		t.Errorf("request: %s %v", got.URL.Path, got.Header)
	}
	if c.Requests() != 1 {
		t.Errorf("Requests() = %d, want 1", c.Requests())
	}
}

func TestFinal(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		g    Generation
		want bool
	}{
		{Generation{Status: "generating"}, false},
		{Generation{Status: "queued"}, false},
		{Generation{Status: "completed"}, false}, // no video_url yet
		{Generation{Status: "completed", VideoURL: "https://x"}, true},
		{Generation{Status: "failed"}, true},
	} {
		if got := tc.g.Final(); got != tc.want {
			t.Errorf("%+v.Final() = %v, want %v", tc.g, got, tc.want)
		}
	}
}

func TestErrorText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		e    Error
		want string
		kind string
	}{
		{Error{Err: errors.New("connection refused")}, "request failed: connection refused", "network error"},
		{Error{Err: context.DeadlineExceeded}, "request failed: context deadline exceeded", "request timeout"},
		{Error{Err: fmt.Errorf("%w: loop", ErrRedirect)}, "request failed: unusable redirect: loop", "redirect"},
		{Error{StatusCode: 200, Message: "not the expected JSON"}, "invalid response body: not the expected JSON", "invalid response body"},
		{Error{StatusCode: 404, Code: "not_found", Message: "Generation not found"}, "HTTP 404 not_found: Generation not found", "HTTP 404"},
		{Error{StatusCode: 503}, "HTTP 503", "HTTP 503"},
		{Error{StatusCode: 429, Code: "rate_limited"}, "HTTP 429 rate_limited", "HTTP 429"},
		{Error{StatusCode: 500, Message: "boom", Err: io.ErrUnexpectedEOF}, "HTTP 500: boom: unexpected EOF", "HTTP 500"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
		if got := tc.e.Kind(); got != tc.kind {
			t.Errorf("%q: Kind() = %q, want %q", tc.want, got, tc.kind)
		}
	}
}

func TestGetErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		status     int
		header     map[string]string
		body       string
		transient  bool
		code       string
		retryAfter time.Duration
		meaning    Meaning
	}{
		{"unauthorized", 401, nil, `{"error":"unauthorized","message":"Invalid API key"}`, false, "unauthorized", 0, KeyRefused},
		{"forbidden", 403, nil, `{"error":"forbidden","message":"Missing scope"}`, false, "forbidden", 0, NotAllowed},
		{"not found", 404, nil, `{"error":"not_found","message":"Generation not found"}`, false, "not_found", 0, NotFound},
		{"not found, no code", 404, nil, `{"message":"Generation not found"}`, false, "", 0, NotFound},
		// The API's JSON whatever its fields' types: never taken for a web page.
		{"not found, message an object", 404, nil, `{"error":"not_found","message":{"en":"Generation not found"}}`, false, "not_found", 0, NotFound},
		{"not found, error a list", 404, nil, `{"error":["not_found"]}`, false, `["not_found"]`, 0, NotFound},
		{"not found, error an object", 404, nil, `{"error":{"code":"not_found","message":"Generation not found"}}`, false, "not_found", 0, NotFound},
		{"not found, null", 404, nil, `null`, false, "", 0, NotFound},
		// A web page: base_url does not lead to the API.
		{"no such page", 404, nil, `<!DOCTYPE html><title>404: This page could not be found</title>`, false, "", 0, Other},
		{"other 4xx", 422, nil, `not json`, false, "", 0, Unprocessable},
		{"request timeout", 408, nil, ``, true, "", 0, Other},
		{"rate limited", 429, map[string]string{"Retry-After": "7"}, ``, true, "", 7 * time.Second, RateLimited},
		{"server error", 500, nil, `{"error":"generation_error","message":"boom"}`, true, "generation_error", 0, Other},
		{"bad gateway", 502, nil, `<html>`, true, "", 0, Other},
		{"unavailable", 503, map[string]string{"Retry-After": "2"}, ``, true, "", 2 * time.Second, Other},
		{"garbage 200", 200, nil, `<html>maintenance</html>`, true, "", 0, Other},
		{"truncated 200", 200, nil, `{"id":"gen_1","sta`, true, "", 0, Other},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := serve(t, func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			})
			_, err := c.Get(context.Background(), "gen_1")
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if pe.Transient != tc.transient || pe.Code != tc.code || pe.RetryAfter != tc.retryAfter || pe.StatusCode != tc.status || pe.Meaning() != tc.meaning {
				t.Errorf("got %+v", pe)
			}
			if strings.Contains(err.Error(), key) {
				t.Errorf("error leaks the key: %v", err)
			}
		})
	}
}

// A status read answered with another 2xx than 200 (a proxy's 203) is
// read as a 200: its generation counts, at once.
func TestAnyTwoHundredHoldsTheGeneration(t *testing.T) {
	t.Parallel()
	for _, status := range []int{201, 202, 203, 206} {
		c := serve(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			io.WriteString(w, `{"id":"gen_1","status":"completed","video_url":"https://s3/v.mp4"}`)
		})
		if g, err := c.Get(context.Background(), "gen_1"); err != nil || !g.Done() {
			t.Errorf("HTTP %d: %+v, %v", status, g, err)
		}
	}
	// Without one (a 204), it is an answer not understood: read again.
	c := serve(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	_, err := c.Get(context.Background(), "gen_1")
	if pe, ok := errors.AsType[*Error](err); !ok || !pe.Transient || pe.StatusCode != http.StatusOK || !strings.HasPrefix(err.Error(), "invalid response body") {
		t.Errorf("HTTP 204: %v", err)
	}
}

// An error's message is the API's wherever it puts it: beside the code,
// inside an "error" object, or as JSON text when it is no string.
func TestErrorMessageOfAnyShape(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]string{
		`{"error":"not_found","message":"Generation not found"}`:                          "Generation not found",
		`{"error":{"code":"not_found","message":"Generation not found"}}`:                 "Generation not found",
		`{"error":{"code":"not_found","message":"inner"},"message":"outer"}`:              "outer",
		`{"error":"not_found","message":{"en":"Generation not found","k":"` + key + `"}}`: `{"en":"Generation not found","k":"***"}`,
		`{"error":"not_found","message":7}`:                                               "7",
	} {
		c := serve(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(404)
			io.WriteString(w, body)
		})
		_, err := c.Get(context.Background(), "gen_1")
		var pe *Error
		if !errors.As(err, &pe) || pe.Message != want || pe.Code != "not_found" {
			t.Errorf("%s: got %+v, want message %q", body, pe, want)
		}
	}
}

func TestGetBoundsErrorText(t *testing.T) {
	t.Parallel()
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(404)
		io.WriteString(w, `{"error":"not_found","message":"`+strings.Repeat("x", 10000)+`"}`)
	})
	_, err := c.Get(context.Background(), "gen_1")
	if len(err.Error()) > 2200 {
		t.Errorf("error text is %d bytes; untrusted text must be bounded", len(err.Error()))
	}
}

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	const doc = `{"id":"gen_1","status":"generating"}`
	for _, tc := range []struct {
		size    int
		wantErr bool
	}{
		{maxBody - 1, false},
		{maxBody, false},
		{maxBody + 1, true},
	} {
		t.Run(fmt.Sprint(tc.size), func(t *testing.T) {
			t.Parallel()
			// The value itself is that large: what follows a complete
			// value is never read.
			c := memClient(t, http.StatusOK, doc[:len(doc)-1]+strings.Repeat(" ", tc.size-len(doc))+"}")
			g, err := c.Get(context.Background(), "gen_1")
			if !tc.wantErr {
				if err != nil || g.Status != StatusGenerating {
					t.Fatalf("got %+v, %v", g, err)
				}
				return
			}
			var pe *Error
			if !errors.As(err, &pe) || pe.StatusCode != http.StatusOK || !strings.Contains(pe.Message, "larger than 1 MiB") || !pe.Transient {
				t.Fatalf("err = %#v, want a transient oversized-body error", err)
			}
		})
	}
}

func TestGetNetworkErrorsAreTransient(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	u := mustURL(t, srv.URL)
	srv.Close() // nothing listens there any more
	_, err := New(u, key, "t", nil).Get(context.Background(), "gen_1")
	var pe *Error
	if !errors.As(err, &pe) || !pe.Transient || pe.StatusCode != 0 || pe.Kind() != "network error" {
		t.Fatalf("err = %#v, want a transient network *Error", err)
	}
}

// refusal is a transport's refusal by policy, which says no retry helps.
type refusal struct{}

func (refusal) Error() string   { return "refusing to connect to 169.254.169.254" }
func (refusal) Permanent() bool { return true }

// A connection the transport refuses by policy (a link-local address) is
// final, for a read and for a submit, which it never sent; an error that
// says it is not permanent stays transient.
func TestTransportRefusalIsFinal(t *testing.T) {
	t.Parallel()
	for _, permanent := range []bool{true, false} {
		var err error = refusal{}
		if !permanent {
			err = notPermanent{}
		}
		c := New(mustURL(t, "https://api.example/api"), key, "t", roundTrip(func(*http.Request) (*http.Response, error) {
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: err}
		}))
		_, gerr := c.Get(context.Background(), "gen_1")
		_, serr := c.Submit(context.Background(), SubmitRequest{TemplateID: "tpl_1", Body: map[string]any{}})
		for _, e := range []error{gerr, serr} {
			pe, ok := errors.AsType[*Error](e)
			if !ok || pe.Transient == permanent || pe.Unknown || pe.Kind() != "network error" {
				t.Errorf("permanent %v: err = %#v, want transient %v, not unknown", permanent, e, !permanent)
			}
		}
	}
}

// notPermanent is an error that says it may pass.
type notPermanent struct{}

func (notPermanent) Error() string   { return "maybe later" }
func (notPermanent) Permanent() bool { return false }

func TestGetRequestTimeout(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		c := New(mustURL(t, "http://127.0.0.1/api"), key, "prism-wait/test", testnet.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-release:
			}
		})))
		c.RequestTimeout = 20 * time.Millisecond
		start := time.Now()
		_, err := c.Get(context.Background(), "gen_1")
		var pe *Error
		if !errors.As(err, &pe) || !pe.Transient || pe.Kind() != "request timeout" {
			t.Fatalf("err = %v, want a transient request timeout", err)
		}
		if took := time.Since(start); took != c.RequestTimeout {
			t.Errorf("gave up after %s, want the request timeout, %s", took, c.RequestTimeout)
		}
	})
}

func TestGetReturnsContextCause(t *testing.T) {
	t.Parallel()
	cause := errors.New("the job was cancelled")
	ctx, cancel := context.WithCancelCause(context.Background())
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		cancel(cause)
		<-r.Context().Done()
	})
	_, err := c.Get(ctx, "gen_1")
	if !errors.Is(err, cause) {
		t.Fatalf("err = %v, want the context's cause", err)
	}
}

// failingBody yields some bytes, then calls before and fails.
type failingBody struct {
	sent   bool
	before func()
}

func (b *failingBody) Read(p []byte) (int, error) {
	if !b.sent {
		b.sent = true
		return copy(p, `{"id":"gen_1",`), nil
	}
	if b.before != nil {
		b.before()
	}
	return 0, io.ErrUnexpectedEOF
}

func (b *failingBody) Close() error { return nil }

func TestBodyReadFailure(t *testing.T) {
	t.Parallel()
	get := func(ctx context.Context, body *failingBody) error {
		c := New(mustURL(t, "https://api.example/api"), key, "t", roundTrip(func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: body, Request: r}, nil
		}))
		_, err := c.Get(ctx, "gen_1")
		return err
	}
	t.Run("transient error while the context lives", func(t *testing.T) {
		t.Parallel()
		err := get(context.Background(), &failingBody{})
		var pe *Error
		if !errors.As(err, &pe) || pe.StatusCode != http.StatusOK || !pe.Transient || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("err = %#v, want a transient invalid-body error", err)
		}
	})
	t.Run("the context's cause once it ended", func(t *testing.T) {
		t.Parallel()
		cause := errors.New("the job was cancelled")
		ctx, cancel := context.WithCancelCause(context.Background())
		defer cancel(nil)
		err := get(ctx, &failingBody{before: func() { cancel(cause) }})
		var pe *Error
		if !errors.Is(err, cause) || errors.As(err, &pe) {
			t.Fatalf("err = %#v, want the context's cause", err)
		}
	})
}

func TestRedirectToAnotherHostIsRefused(t *testing.T) {
	t.Parallel()
	var leaked []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked = append(leaked, r.Header.Get("Authorization"))
		io.WriteString(w, `{"id":"gen_1","status":"completed","video_url":"https://x"}`)
	}))
	defer other.Close()
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusFound)
	})
	_, err := c.Get(context.Background(), "gen_1")
	var pe *Error
	if !errors.As(err, &pe) || pe.Transient || !errors.Is(err, ErrRedirect) {
		t.Fatalf("err = %v, want a permanent redirect error", err)
	}
	if len(leaked) != 0 {
		t.Errorf("the other host was asked %d times", len(leaked))
	}
	if !strings.Contains(err.Error(), "set base_url to that host") {
		t.Errorf("error does not say what to do: %v", err)
	}
	// The CLI names the setting as its user sets it.
	c.BaseURLSetting = "--base-url (PRISM_BASE_URL)"
	if _, err := c.Get(context.Background(), "gen_1"); err == nil || !strings.Contains(err.Error(), "set --base-url (PRISM_BASE_URL) to that host") {
		t.Errorf("error does not name the CLI's setting: %v", err)
	}
}

func TestMeaningOfAFailedAnswer(t *testing.T) {
	t.Parallel()
	for status, want := range map[int]Meaning{
		0: NoAnswer, 400: Rejected, 401: KeyRefused, 402: NoCredits, 403: NotAllowed, 404: NotFound,
		422: Unprocessable, 429: RateLimited, 200: Other, 302: Other, 409: Other, 500: Other, 503: Other,
	} {
		code := ""
		if status == 404 {
			code = "not_found"
		}
		if got := (&Error{StatusCode: status, Code: code}).Meaning(); got != want {
			t.Errorf("HTTP %d means %d, want %d", status, got, want)
		}
	}
	// Not the API's own 404: a page without the path, as when base_url
	// lacks its /api. A JSON body without a code is the API's still.
	if got := (&Error{StatusCode: 404}).Meaning(); got != Other {
		t.Errorf("HTTP 404 without a JSON body means %d, want Other", got)
	}
	if got := (&Error{StatusCode: 404, JSON: true}).Meaning(); got != NotFound {
		t.Errorf("HTTP 404 with a JSON body but no code means %d, want NotFound", got)
	}
}

func TestRedirectOnTheSameHostIsFollowed(t *testing.T) {
	t.Parallel()
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/generations/gen_1" {
			http.Redirect(w, r, "/v2/generations/gen_1", http.StatusMovedPermanently)
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+key {
			w.WriteHeader(401)
			return
		}
		io.WriteString(w, `{"id":"gen_1","status":"generating"}`)
	})
	g, err := c.Get(context.Background(), "gen_1")
	if err != nil || g.Status != "generating" {
		t.Fatalf("got %+v, %v", g, err)
	}
}

// TestStatusClassBoundaries pins where redirects begin and end: every 3xx
// but 304 is a redirect (300 included), and a 400 is an API error.
func TestStatusClassBoundaries(t *testing.T) {
	t.Parallel()
	t.Run("300 on the same host is followed", func(t *testing.T) {
		t.Parallel()
		c := serve(t, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/api/generations/gen_1" {
				w.Header().Set("Location", "/v2/generations/gen_1")
				w.WriteHeader(http.StatusMultipleChoices)
				return
			}
			io.WriteString(w, `{"id":"gen_1","status":"generating"}`)
		})
		g, err := c.Get(context.Background(), "gen_1")
		if err != nil || g.Status != StatusGenerating {
			t.Fatalf("got %+v, %v", g, err)
		}
		if c.Requests() != 2 {
			t.Errorf("%d requests, want 2", c.Requests())
		}
	})
	t.Run("400 is an API error, not a redirect", func(t *testing.T) {
		t.Parallel()
		c := serve(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":"bad_request","message":"no"}`)
		})
		_, err := c.Get(context.Background(), "gen_1")
		var pe *Error
		if !errors.As(err, &pe) || errors.Is(err, ErrRedirect) || pe.StatusCode != 400 || pe.Code != "bad_request" || pe.Transient {
			t.Fatalf("err = %#v, want a permanent HTTP 400 bad_request", err)
		}
	})
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"-5", 0},
		{"30", 30 * time.Second},
		{" 30 ", 30 * time.Second},
		{"10800", 3 * time.Hour},
		{"99999999999999999", Forever},
		{"99999999999999999999", Forever},
		{"Thu, 01 Jan 2026 12:00:10 GMT", 10 * time.Second},
		{"Thu, 01 Jan 2026 11:00:00 GMT", 0},
		{"soon", 0},
	} {
		if got := ParseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("ParseRetryAfter(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestParseRetryAfterLargestSeconds(t *testing.T) {
	t.Parallel()
	largest := uint64(Forever / time.Second) // 9223372036
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{fmt.Sprint(largest - 1), time.Duration(largest-1) * time.Second},
		{fmt.Sprint(largest), time.Duration(largest) * time.Second},
		{fmt.Sprint(largest + 1), Forever},
	} {
		if got := ParseRetryAfter(tc.in, time.Time{}); got != tc.want {
			t.Errorf("ParseRetryAfter(%q) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

// roundTrip answers every request in memory, for fuzzing without sockets.
type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func FuzzGet(f *testing.F) {
	f.Add(200, "", `{"id":"gen_1","status":"completed","video_url":"https://x"}`)
	f.Add(200, "", `{"status":null,"error":123}`)
	f.Add(429, "Wed, 21 Oct 2015 07:28:00 GMT", `{"error":"rate_limited"}`)
	f.Add(404, "", `{"error":"not_found","message":"Generation not found"}`)
	f.Add(503, "120", "\x00\xff")
	f.Fuzz(func(t *testing.T, status int, retryAfter, body string) {
		if status < 100 || status > 999 {
			return
		}
		c := New(mustURL(t, "https://prism.test/api"), key, "t", roundTrip(func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: status, Header: http.Header{"Retry-After": {retryAfter}},
				Body: io.NopCloser(bytes.NewBufferString(body)), Request: r}, nil
		}))
		g, err := c.Get(context.Background(), "gen_1")
		var pe *Error
		switch {
		case err == nil && status != 200:
			t.Fatalf("status %d gave no error", status)
		case err != nil && !errors.As(err, &pe):
			t.Fatalf("err %T is not *Error", err)
		case err != nil && (len(pe.Message) > 310 || pe.RetryAfter < 0 || pe.RetryAfter > time.Hour):
			t.Fatalf("unbounded error %+v", pe)
		case err == nil && g.Final() && g.Status != StatusFailed && g.VideoURL == "":
			t.Fatalf("final without a video: %+v", g)
		}
	})
}

func TestURLsCarryingTheKeyAreNotUsable(t *testing.T) {
	t.Parallel()
	// As written, and percent-encoded (the runner masks only the first).
	encoded := "%" + fmt.Sprintf("%02X", key[0]) + key[1:]
	for _, k := range []string{key, encoded} {
		c := serve(t, func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"status":"completed","video_url":"https://s3/v.mp4?k=`+k+`","share_url":"https://prismvideos.com/s/`+k+`"}`)
		})
		g, err := c.Get(context.Background(), "gen_1")
		if err != nil || g.VideoURL != "" || g.ShareURL != "" || g.Done() {
			t.Errorf("got %+v, %v; a URL with the key in it must count as none", g, err)
		}
	}
}

func TestBudgetHearsEveryAnswer(t *testing.T) {
	t.Parallel()
	var n int
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		n++
		if n == 1 {
			w.Header().Set("Retry-After", "7200")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		io.WriteString(w, `{"id":"gen_1","status":"generating"}`)
	})
	c.Budget = budget.New(time.Second, time.Minute)
	var pe *Error
	if _, err := c.Get(t.Context(), "gen_1"); !errors.As(err, &pe) || pe.StatusCode != 429 || pe.RetryAfter != 2*time.Hour {
		t.Fatalf("first Get: %v", err)
	}
	if c.Refused() != 1 || c.Requests() != 1 {
		t.Errorf("Refused() %d, Requests() %d; want 1 and 1", c.Refused(), c.Requests())
	}
	// The next request is not sent: the pause reaches past the deadline.
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_, err := c.Get(ctx, "gen_1")
	if !errors.As(err, &pe) || !pe.Transient || pe.StatusCode != 429 || pe.RetryAfter < time.Hour || !strings.Contains(err.Error(), "not sent") {
		t.Errorf("Get during the pause: %v, want a transient 429 not sent, with the time left", err)
	}
	if c.Requests() != 1 {
		t.Errorf("Requests() = %d, want still 1", c.Requests())
	}
	// A cancelled context while waiting for a turn gives its cause.
	cause := errors.New("cancelled")
	cctx, ccancel := context.WithCancelCause(t.Context())
	ccancel(cause)
	if _, err := c.Get(cctx, "gen_1"); !errors.Is(err, cause) {
		t.Errorf("Get with a cancelled context: %v, want its cause", err)
	}
}

// A request whose context ends while it waits for its turn in the budget
// was never sent: the caller gets the context's bare cause, not an *Error
// that a retry loop would take for the API's trouble. This holds for a
// submit too, since nothing reached the API.
func TestCancelledWhileWaitingForATurnIsTheBareCause(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		send func(ctx context.Context, c *Client) error
	}{
		{"get", func(ctx context.Context, c *Client) error {
			_, err := c.Get(ctx, "gen_1")
			return err
		}},
		{"submit", func(ctx context.Context, c *Client) error {
			_, err := c.Submit(ctx, SubmitRequest{Body: map[string]any{}})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := New(mustURL(t, "https://api.example/api"), key, "t", roundTrip(func(r *http.Request) (*http.Response, error) {
				t.Errorf("%s %s sent during the pause", r.Method, r.URL)
				return nil, errors.New("not expected")
			}))
			b := budget.New(time.Second, time.Minute)
			for _, id := range []string{"gen_0", "gen_00"} { // two generations: the key's limit
				turn, err := b.Wait(t.Context(), id)
				if err != nil {
					t.Fatal(err)
				}
				turn.Refused(time.Hour) // every request now waits an hour
			}
			c.Budget = b
			cause := errors.New("the job was cancelled")
			ctx, cancel := context.WithCancelCause(t.Context())
			cancel(cause)
			err := tt.send(ctx, c)
			var pe *Error
			if !errors.Is(err, cause) || errors.As(err, &pe) {
				t.Errorf("err = %#v, want the context's bare cause", err)
			}
			if n := c.Requests(); n != 0 {
				t.Errorf("Requests() = %d, want 0", n)
			}
		})
	}
}

func TestRetryable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		method string
		status int
		wrote  bool
		want   bool
	}{
		{"GET", 0, true, true},
		{"GET", 200, true, true},
		{"GET", 408, true, true},
		{"GET", 429, true, true},
		{"GET", 500, true, true},
		{"GET", 501, true, false},
		{"GET", 404, true, false},
		{"GET", 302, true, false}, // a redirect that was not followed
		{"POST", 429, true, true},
		{"POST", 0, false, true},
		{"POST", 0, true, false},
		{"POST", 500, true, false},
		{"POST", 408, true, false},
		{"POST", 200, true, false},
		{"POST", 307, true, false},
	} {
		if got := retryable(tc.method, tc.status, tc.wrote); got != tc.want {
			t.Errorf("retryable(%s, %d, wrote %v) = %v, want %v", tc.method, tc.status, tc.wrote, got, tc.want)
		}
	}
}

func TestUsableURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://s3.example/v.mp4?X-Amz-Signature=a":    "https://s3.example/v.mp4?X-Amz-Signature=a",
		"  http://127.0.0.1:8/v.mp4\n":                  "http://127.0.0.1:8/v.mp4",
		" \t ":                                          "",
		"javascript:alert(1)":                           "",
		"/relative/v.mp4":                               "",
		"https:///nohost":                               "",
		"ftp://h/v.mp4":                                 "",
		"https://user:pw@h/v.mp4":                       "",
		"https://h/" + strings.Repeat("a", MaxVideoURL): "",
		"https://h/v\x00.mp4":                           "",
		"https://h/v.mp4?a=\u2028b&c=\u0085 d~%41":      "https://h/v.mp4?a=%E2%80%A8b&c=%C2%85%20d~%41",
	} {
		if got := UsableURL(in); got != want {
			t.Errorf("UsableURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestUsableURLLengthBound(t *testing.T) {
	t.Parallel()
	const head = "https://h/"
	for _, tc := range []struct {
		n      int
		usable bool
	}{
		{MaxVideoURL - 1, true},
		{MaxVideoURL, true},
		{MaxVideoURL + 1, false},
	} {
		in := head + strings.Repeat("a", tc.n-len(head))
		if got := UsableURL(in); (got != "") != tc.usable {
			t.Errorf("UsableURL(%d bytes) = %d bytes, want usable %v", tc.n, len(got), tc.usable)
		}
		// Escaping makes a URL longer: the bound is on what is handed on,
		// so that the report's second look finds the same URL usable.
		spaced := head + " " + strings.Repeat("a", tc.n-len(head)-3) // " " is "%20"
		if got := UsableURL(spaced); (got != "") != tc.usable || got != UsableURL(got) {
			t.Errorf("UsableURL(%d bytes with a space) = %d bytes, want usable %v and the same again", len(spaced), len(got), tc.usable)
		}
	}
}

// failFirst is a transport whose first request fails before any answer.
type failFirst struct {
	next   http.RoundTripper
	failed bool
}

func (f *failFirst) RoundTrip(r *http.Request) (*http.Response, error) {
	if !f.failed {
		f.failed = true
		return nil, errors.New("connection reset by peer")
	}
	return f.next.RoundTrip(r)
}

// A request that got no answer tells the budget so: during the opening,
// the next request leaves at once instead of waiting for the gate.
func TestNetworkErrorFreesTheOpening(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"id": "gen_b", "status": "generating"}`)
		})
		c := New(mustURL(t, "http://prism.test/api"), key, "prism-wait/test", &failFirst{next: testnet.Serve(t, h)})
		c.Budget = budget.New(time.Second, time.Minute)
		c.Budget.Add(3)
		start := time.Now()
		if _, err := c.Get(t.Context(), "gen_a"); err == nil {
			t.Fatal("the first request did not fail")
		}
		if _, err := c.Get(t.Context(), "gen_b"); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("the request after a network error left after %v, want at once", d)
		}
	})
}
