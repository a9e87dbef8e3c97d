package e2e

// A submit over HTTP/2, as Prism's API is served: no layer below
// prism-wait sends the POST again on its own, whatever the server does to
// the stream after reading it.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prism-wait/prism-wait/internal/prismsim"
)

// actWithEnv runs the action with extra environment variables beside the
// inputs (the runner passes the step's whole environment).
func (c *container) actWithEnv(t testing.TB, with map[string]string, extra ...string) run {
	t.Helper()
	return c.start(t, append(c.env(t, with), extra...)).wait(t)
}

// trust writes a certificate where the binary reads its roots from
// (SSL_CERT_FILE), and returns that variable.
func (c *container) trust(t testing.TB, certPEM []byte) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(c.root, "github", "home", "ca.pem"), certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return "SSL_CERT_FILE=" + c.path("/github/home/ca.pem")
}

func TestSubmitOverHTTP2IsNeverReplayed(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	for name, abort := range map[string]prismsim.H2Abort{
		"RST_STREAM(PROTOCOL_ERROR) once": prismsim.H2ResetOnce, "RST_STREAM(PROTOCOL_ERROR) always": prismsim.H2ResetAlways,
		"GOAWAY last stream 0": prismsim.H2GoAwayOnce, "RST_STREAM(REFUSED_STREAM)": prismsim.H2RefusedOnce,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv, err := prismsim.NewH2(abort)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(srv.Close)
			c := newContainer(t)
			// The re-run guard is off: its cache requests are not the submit.
			r := c.actWithEnv(t, fast(map[string]string{"template_id": "tpl_h2", "base_url": srv.URL, "timeout": "20s", "rerun_guard": "off"}), c.trust(t, srv.CertPEM))
			if n := srv.Posts(); n != 1 {
				t.Errorf("%d POSTs reached the server, want exactly 1", n)
			}
			if r.code != 4 || !strings.Contains(r.stdout, "::error title=Submit outcome unknown::") {
				t.Errorf("exit %d, want 4 and \"Submit outcome unknown\":\n%s%s", r.code, r.stdout, r.stderr)
			}
			if r.outputs["generation_id"] != "" {
				t.Errorf("generation_id %q: a generation from a repeated POST", r.outputs["generation_id"])
			}
		})
	}
}

// An HTTP/2 server that floods PINGs and stops reading makes net/http's
// read loop block writing the answers, holding the lock that ending the
// request needs: without a write timeout on the connection, neither the
// deadline nor a signal could end the step. It ends with exit 3, outputs
// written, soon after its timeout.
func TestAPingFloodCannotHoldTheStep(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	srv, err := prismsim.NewH2(prismsim.H2PingFlood)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	c := newContainer(t)
	r := c.actWithEnv(t, fast(map[string]string{"generation_id": "gen_flood", "base_url": srv.URL, "timeout": "5s"}), c.trust(t, srv.CertPEM))
	select {
	case <-srv.Flooding:
	default:
		t.Fatal("the server never flooded")
	}
	if r.code != 3 || !strings.Contains(r.stdout, "::error title=No verdict in time::") {
		t.Errorf("exit %d, want 3 and \"No verdict in time\":\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, ok := r.outputs["status"]; !ok {
		t.Errorf("outputs not written: %v", r.outputs)
	}
}
