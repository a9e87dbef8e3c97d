package testnet

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"testing/synctest"
	"time"
)

func TestAHandlerIsReachedAtAnyHost(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		tr := Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, r.Host+r.URL.Path)
		}))
		c := &http.Client{Transport: tr}
		for _, u := range []string{"http://127.0.0.1/a", "http://storage.test/b"} {
			resp, err := c.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if want := u[len("http://"):]; string(body) != want {
				t.Errorf("GET %s: %q, want %q", u, body, want)
			}
		}
	})
}

// A request to a handler that never answers blocks durably: the bubble's
// clock moves on to the request's deadline, and no real time passes.
func TestAHungHandlerLetsTheBubblesClockReachTheDeadline(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		tr := Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
		ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
		defer cancel()
		start := time.Now()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1/", nil)
		_, err := (&http.Client{Transport: tr}).Do(req)
		if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != time.Hour {
			t.Errorf("err %v after %s, want the deadline after exactly 1h", err, time.Since(start))
		}
	})
}
