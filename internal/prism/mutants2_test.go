package prism

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/prism-wait/prism-wait/internal/budget"
	"github.com/prism-wait/prism-wait/internal/clock"
)

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
			b := budget.New(clock.NewFake(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)), time.Second, time.Minute)
			turn, err := b.Wait(t.Context(), "gen_0")
			if err != nil {
				t.Fatal(err)
			}
			turn.Refused(time.Hour) // every request now waits an hour
			c.Budget = b
			cause := errors.New("the job was cancelled")
			ctx, cancel := context.WithCancelCause(t.Context())
			cancel(cause)
			err = tt.send(ctx, c)
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

// A submit whose answer is cut short because the caller's context ended
// may have created generations: it is an Unknown *Error that names the
// context's cause, not the read error the cut left behind.
func TestSubmitBodyCutByTheCallerIsUnknown(t *testing.T) {
	t.Parallel()
	cause := errors.New("timeout reached")
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	body := &failingBody{before: func() { cancel(cause) }}
	c := New(mustURL(t, "https://api.example/api"), key, "t", roundTrip(func(r *http.Request) (*http.Response, error) {
		io.Copy(io.Discard, r.Body)
		return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: body, Request: r}, nil
	}))
	_, err := c.Submit(ctx, SubmitRequest{Body: map[string]any{}})
	var pe *Error
	if !errors.As(err, &pe) || !pe.Unknown || pe.Transient || pe.StatusCode != http.StatusOK || !errors.Is(err, cause) {
		t.Fatalf("err = %#v, want an Unknown invalid-body *Error wrapping the cause", err)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("err = %v names the read error, want the cause", err)
	}
}
