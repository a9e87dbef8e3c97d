package prism

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

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

// heldBody yields its first smallBody+1 bytes at once, then blocks until
// released, counting how many such bodies are past their first part.
type heldBody struct {
	head    []byte
	release chan struct{}
	inRest  *atomic.Int32
	maxRest *atomic.Int32
	entered bool
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
	return 0, io.EOF
}

// TestLargeBodiesAreReadAFewAtATime: bodies larger than smallBody are read
// and decoded at most cap(largeBodies) at once, while a small body never
// waits for them, and a wait ends with the caller's context. Not parallel:
// the turns are the process's.
func TestLargeBodiesAreReadAFewAtATime(t *testing.T) {
	release := make(chan struct{})
	var inRest, maxRest atomic.Int32
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			body, done, err := readBody(context.Background(), &heldBody{head: bytes.Repeat([]byte("x"), smallBody+1), release: release, inRest: &inRest, maxRest: &maxRest})
			defer done()
			if err != nil || len(body) != smallBody+1 {
				t.Errorf("readBody: %d bytes, %v", len(body), err)
			}
		})
	}
	for inRest.Load() < int32(cap(largeBodies)) {
		runtime.Gosched() // until every turn is taken
	}
	small, done, err := readBody(context.Background(), strings.NewReader(`{"status":"generating"}`))
	done()
	if err != nil || string(small) != `{"status":"generating"}` {
		t.Errorf("a small body while the turns are taken: %q, %v", small, err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("deadline")
	cancel(cause)
	if _, done, err := readBody(ctx, bytes.NewReader(make([]byte, smallBody+1))); !errors.Is(err, cause) {
		t.Errorf("waiting for a turn after ctx ended: %v, want its cause", err)
	} else {
		done()
	}
	close(release)
	wg.Wait()
	if m := maxRest.Load(); m != int32(cap(largeBodies)) {
		t.Errorf("%d large bodies read at once, want %d", m, cap(largeBodies))
	}
	// The limit is the same as without turns: maxBody+1 bytes at most.
	body, done, err := readBody(context.Background(), bytes.NewReader(make([]byte, 2*maxBody)))
	done()
	if err != nil || len(body) != maxBody+1 {
		t.Errorf("a 2 MiB body: %d bytes read, %v; want maxBody+1", len(body), err)
	}
}
