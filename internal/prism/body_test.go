package prism

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"net/url"
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
