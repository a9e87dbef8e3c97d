package prism

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// memClient answers every request with status and body, in memory.
func memClient(t *testing.T, status int, body string) *Client {
	t.Helper()
	return New(mustURL(t, "https://api.example/api"), key, "t", roundTrip(func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: status, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
	}))
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
			c := memClient(t, http.StatusOK, doc+strings.Repeat(" ", tc.size-len(doc)))
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

func TestValidID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{"gen_1-A", true},
		{"0", true}, {"9", true}, {"a", true}, {"z", true}, {"A", true}, {"Z", true},
		{"_", true}, {"-", true},
		{strings.Repeat("a", 127), true},
		{strings.Repeat("a", 128), true},
		{strings.Repeat("a", 129), false},
		{"", false},
		// The neighbours of each accepted range.
		{"/", false}, {":", false}, {"`", false}, {"{", false}, {"@", false}, {"[", false},
		{"gen/1", false}, {"gen.1", false}, {"gen 1", false}, {"gén", false},
	} {
		if got := ValidID(tc.id); got != tc.want {
			t.Errorf("ValidID(%q) = %v, want %v", tc.id, got, tc.want)
		}
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
