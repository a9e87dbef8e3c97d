package prism

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prism-wait/prism-wait/internal/prismsim"
)

// TestHTTP2NeverReplaysASubmit: an HTTP/2 server that reads the whole POST
// and then resets the stream (PROTOCOL_ERROR, once or always), refuses it
// (REFUSED_STREAM) or sends GOAWAY (last stream 0) gets that POST once:
// net/http's transport does not send it again on its own, and the submit
// ends with an outcome unknown, not to be repeated.
func TestHTTP2NeverReplaysASubmit(t *testing.T) {
	t.Parallel()
	for name, abort := range map[string]prismsim.H2Abort{
		"reset once": prismsim.H2ResetOnce, "reset always": prismsim.H2ResetAlways,
		"goaway": prismsim.H2GoAwayOnce, "refused stream": prismsim.H2RefusedOnce,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv, err := prismsim.NewH2(abort)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(srv.Close)
			tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: srv.CertPool()}, ForceAttemptHTTP2: true}
			t.Cleanup(tr.CloseIdleConnections)
			base, _ := url.Parse(srv.URL)
			c := New(base, "prism_sk_h2", "test", tr)
			sub, err := c.Submit(context.Background(), SubmitRequest{TemplateID: "tpl_1", Body: map[string]any{"variables": map[string]any{}}})
			var pe *Error
			if !errors.As(err, &pe) || !pe.Unknown || pe.Transient {
				t.Errorf("Submit = %v, %v; want an outcome unknown, not to be sent again", sub, err)
			}
			if n := srv.Posts(); n != 1 {
				t.Errorf("%d POSTs reached the server, want 1", n)
			}
			if c.Requests() != 1 {
				t.Errorf("%d requests counted, want 1", c.Requests())
			}
		})
	}
}

// TestHTTP2StatusReadsStillWork: the same server answers a status read
// over HTTP/2, which the transport may repeat as it likes.
func TestHTTP2StatusReadsStillWork(t *testing.T) {
	t.Parallel()
	srv, err := prismsim.NewH2(prismsim.H2ResetAlways)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: srv.CertPool()}, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	base, _ := url.Parse(srv.URL)
	g, err := New(base, "prism_sk_h2", "test", tr).Get(context.Background(), "gen_h2_1")
	if err != nil || !g.Done() {
		t.Errorf("Get = %+v, %v", g, err)
	}
}

// heldBody yields head at once, then blocks until released, counting how
// many such bodies are past their head, then yields tail.
type heldBody struct {
	head, tail []byte
	release    chan struct{}
	inRest     *atomic.Int32
	maxRest    *atomic.Int32
	entered    bool
}

func (h *heldBody) Read(p []byte) (int, error) {
	if len(h.head) > 0 {
		n := copy(p, h.head)
		h.head = h.head[n:]
		return n, nil
	}
	if !h.entered {
		h.entered = true
		n := h.inRest.Add(1)
		for m := h.maxRest.Load(); n > m && !h.maxRest.CompareAndSwap(m, n); m = h.maxRest.Load() {
		}
		<-h.release
		h.inRest.Add(-1)
	}
	if len(h.tail) > 0 {
		n := copy(p, h.tail)
		h.tail = h.tail[n:]
		return n, nil
	}
	return 0, io.EOF
}

// xObject is a JSON object of n bytes in all, {"x":"xxx…"}.
func xObject(n int) string { return `{"x":"` + strings.Repeat("x", n-8) + `"}` }

type xs struct{ X string }

// TestLargeBodiesAreReadAFewAtATime: bodies larger than smallBody are read
// and decoded at most cap(largeBodies) at once, while a small body never
// waits for them, and a wait ends with the caller's context. Not parallel:
// the turns are the process's.
func TestLargeBodiesAreReadAFewAtATime(t *testing.T) {
	release := make(chan struct{})
	var inRest, maxRest atomic.Int32
	var wg sync.WaitGroup
	large := xObject(smallBody + 10)
	for range 10 {
		wg.Go(func() {
			var got xs
			err := decodeBody(context.Background(), &heldBody{head: []byte(large[:smallBody]), tail: []byte(large[smallBody:]),
				release: release, inRest: &inRest, maxRest: &maxRest}, &got)
			if err != nil || len(got.X) != len(large)-8 {
				t.Errorf("decodeBody: %d bytes, %v", len(got.X), err)
			}
		})
	}
	for inRest.Load() < int32(cap(largeBodies)) {
		runtime.Gosched() // until every turn is taken
	}
	var small struct{ Status string }
	if err := decodeBody(context.Background(), strings.NewReader(`{"status":"generating"}`), &small); err != nil || small.Status != "generating" {
		t.Errorf("a small body while the turns are taken: %+v, %v", small, err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("deadline")
	cancel(cause)
	var re *readError
	if err := decodeBody(ctx, strings.NewReader(large), new(xs)); !errors.Is(err, cause) || !errors.As(err, &re) {
		t.Errorf("waiting for a turn after ctx ended: %v, want a readError with its cause", err)
	}
	close(release)
	wg.Wait()
	if m := maxRest.Load(); m != int32(cap(largeBodies)) {
		t.Errorf("%d large bodies read at once, want %d", m, cap(largeBodies))
	}
	if n := len(largeBodies); n != 0 {
		t.Errorf("%d turns not given back", n)
	}
	// The limit is the same as without turns: maxBody bytes, then an error.
	for n, want := range map[int]error{maxBody: nil, maxBody + 1: errTooLarge, 2 * maxBody: errTooLarge} {
		err := decodeBody(context.Background(), strings.NewReader(xObject(n)), new(xs))
		if !errors.Is(err, want) || (want != nil) != errors.As(err, &re) {
			t.Errorf("a body of %d bytes: %v, want %v", n, err, want)
		}
	}
}

// stalledBody yields body, then blocks until the request's context ends,
// as an answer whose connection stays open without another byte.
type stalledBody struct {
	body []byte
	ctx  context.Context
}

func (s *stalledBody) Read(p []byte) (int, error) {
	if len(s.body) > 0 {
		n := copy(p, s.body)
		s.body = s.body[n:]
		return n, nil
	}
	<-s.ctx.Done()
	return 0, s.ctx.Err()
}

func (s *stalledBody) Close() error { return nil }

// TestAnswerIsReadWithoutWaitingForItsEnd: a submit whose JSON answer is
// complete but whose body never ends keeps the IDs it lists (they were
// charged), at once, not when the request times out; so does a status
// read. What follows the JSON value is not read.
func TestAnswerIsReadWithoutWaitingForItsEnd(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		answer := func(body string) *Client {
			return New(mustURL(t, "https://api.example/api"), key, "t", roundTrip(func(r *http.Request) (*http.Response, error) {
				if r.Body != nil {
					io.Copy(io.Discard, r.Body)
				}
				return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: &stalledBody{body: []byte(body), ctx: r.Context()}, Request: r}, nil
			}))
		}
		start := time.Now()
		s, err := answer(`{"generations":[{"generation_id":"gen_a"}]}`+"\n{").Submit(context.Background(), SubmitRequest{TemplateID: "tpl_1", Body: map[string]any{}})
		if err != nil || strings.Join(s.IDs, " ") != "gen_a" {
			t.Errorf("Submit = %+v, %v; want gen_a", s, err)
		}
		g, err := answer(`{"id":"gen_a","status":"generating"}  `).Get(context.Background(), "gen_a")
		if err != nil || g.Status != StatusGenerating {
			t.Errorf("Get = %+v, %v; want generating", g, err)
		}
		if d := time.Since(start); d != 2*tailWait {
			t.Errorf("the answers took %v of the test clock, want %v, each only waiting for a tail", d, 2*tailWait)
		}
	})
}

// TestConnectionsAreUsedAgain: answers whose JSON is followed by a
// newline, as Go's json.Encoder writes them, of sizes whose reads may end
// right after the JSON value, leave their connection to the next read.
func TestConnectionsAreUsedAgain(t *testing.T) {
	t.Parallel()
	for _, size := range []int{100, 513, 1537, smallBody, smallBody + 1} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			t.Parallel()
			doc := `{"id":"gen_1","status":"generating","error":"` + strings.Repeat("x", max(0, size-48)) + `"}` + "\n"
			var conns atomic.Int32
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, doc) }))
			srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateNew {
					conns.Add(1)
				}
			}
			srv.Start()
			t.Cleanup(srv.Close)
			c := New(mustURL(t, srv.URL+"/api"), key, "t", srv.Client().Transport)
			for range 10 {
				if _, err := c.Get(context.Background(), "gen_1"); err != nil {
					t.Fatal(err)
				}
			}
			// One, but for a tail delayed past tailWait on a loaded machine.
			if n := conns.Load(); n > 3 {
				t.Errorf("%d connections for 10 reads, want 1", n)
			}
		})
	}
}
