package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prism-wait/prism-wait/internal/prismsim"
)

// TestPlainHTTPNeverGoesThroughAProxy: an http:// request (a loopback or
// private base_url, a simulator's storage) is sent directly, whatever the
// proxy variables say: through a proxy, the key would cross it in clear.
// https keeps HTTPS_PROXY and NO_PROXY.
func TestPlainHTTPNeverGoesThroughAProxy(t *testing.T) {
	t.Parallel()
	const via = "http://127.0.0.1:3128"
	env := map[string]string{"HTTP_PROXY": via, "http_proxy": via, "HTTPS_PROXY": via, "ALL_PROXY": via, "NO_PROXY": "uploads.example"}
	tr := newTransport(func(k string) string { return env[k] })
	for _, tc := range []struct {
		url, want string
	}{
		{"http://172.17.0.1:8080/api/generations/gen_x", ""},
		{"http://10.1.2.3/api/generations/gen_x", ""},
		{"http://192.168.1.20/videos/gen_x.mp4?X-Amz-Signature=s", ""},
		{"http://127.0.0.1:8080/api/generations/gen_x", ""},
		{"http://storage.example/videos/gen_x.mp4", ""},
		{"https://prismvideos.com/api/generations/gen_x", via},
		{"https://bucket.s3.amazonaws.com/v.mp4", via},
		{"https://uploads.example/v.mp4", ""},
	} {
		req, err := http.NewRequest(http.MethodGet, tc.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := tr.Proxy(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.url, err)
		}
		if s := urlString(got); s != tc.want {
			t.Errorf("proxy for %s = %q, want %q", tc.url, s, tc.want)
		}
	}
	// Lower-case names are read too, as net/http reads them.
	lower := newTransport(func(k string) string { return map[string]string{"https_proxy": via}[k] })
	req, _ := http.NewRequest(http.MethodGet, "https://prismvideos.com/api", nil)
	if got, _ := lower.Proxy(req); urlString(got) != via {
		t.Errorf("https_proxy ignored: %q", urlString(got))
	}
}

func urlString(u *url.URL) string {
	if u == nil {
		return ""
	}
	return u.String()
}

// TestNoRequestReachesAProxyOverHTTP runs the command, with downloads, over
// plain http with every proxy variable pointing at a listener that counts
// connections: none reaches it, from the API requests or the downloads.
func TestNoRequestReachesAProxyOverHTTP(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var reached atomic.Int32
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			reached.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	sc, err := prismsim.ParseScenario([]byte(scenario))
	if err != nil {
		t.Fatal(err)
	}
	s := prismsim.New(sc)
	srv := httptest.NewServer(s) // on loopback, through the command's own transport
	t.Cleanup(func() { s.Close(); srv.Close() })
	via := "http://" + ln.Addr().String()
	env := map[string]string{"PRISM_API_KEY": key, "PRISM_BASE_URL": srv.URL + "/api", "PRISM_POLL_INTERVAL": "10ms", "PRISM_DOWNLOAD_DIR": "v",
		"HTTP_PROXY": via, "http_proxy": via, "HTTPS_PROXY": via, "https_proxy": via, "ALL_PROXY": via}
	var out bytes.Buffer
	code := Run(context.Background(), Env{LookupEnv: lookup(env), Args: []string{"gen_ok"}, Stdout: &out, Stderr: &out, Wd: t.TempDir()})
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out.String())
	}
	if n := reached.Load(); n != 0 {
		t.Errorf("%d connection(s) reached the proxy", n)
	}
}

// TestIdleConnectionsForEveryRequestInFlight: after a round of MaxIDs
// requests at once to one HTTPS host, the next round reuses their
// connections instead of opening new ones (a TLS handshake each). Not
// parallel: 100 handshakes at once would slow the package's other tests.
func TestIdleConnectionsForEveryRequestInFlight(t *testing.T) {
	const n = 100
	var round atomic.Pointer[barrier]
	var opened atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		round.Load().arrive(n) // every request of the round is in flight at once
		w.Write([]byte(`{}`))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	tr := newTransport(func(string) string { return "" })
	tr.TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}
	var first int32
	for r := range 2 {
		round.Store(&barrier{all: make(chan struct{})})
		var done sync.WaitGroup
		for range n {
			done.Go(func() {
				resp, err := client.Get(srv.URL)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body) // read to the end: the connection is reusable
				resp.Body.Close()
			})
		}
		done.Wait()
		if r == 0 {
			first = opened.Load()
		}
	}
	if again := opened.Load() - first; again != 0 {
		t.Errorf("the second round of %d requests opened %d new connection(s) (the first opened %d), want none", n, again, first)
	}
}

// barrier holds each arrival until n have arrived, or for at most 30
// seconds: a request that failed must not hang the test.
type barrier struct {
	mu      sync.Mutex
	arrived int
	all     chan struct{}
}

func (b *barrier) arrive(n int) {
	b.mu.Lock()
	if b.arrived++; b.arrived == n {
		close(b.all)
	}
	b.mu.Unlock()
	select {
	case <-b.all:
	case <-time.After(30 * time.Second):
	}
}

// TestAnInformationalAnswerIsNoResponse: a 101 Switching Protocols (or any
// 1xx) as the final answer is an error, and its connection is closed: its
// body would be the raw connection, which no deadline closes.
func TestAnInformationalAnswerIsNoResponse(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	closed := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			closed <- err
			return
		}
		defer c.Close()
		buf := make([]byte, 4096)
		c.Read(buf) // the request
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n")
		_, err = c.Read(buf) // until the client closes the connection
		closed <- err
	}()
	req, _ := http.NewRequest(http.MethodGet, "http://"+ln.Addr().String()+"/api/generations/gen_x", nil)
	resp, err := newTransport(func(string) string { return "" }).RoundTrip(req)
	if err == nil {
		resp.Body.Close()
		t.Fatalf("a 101 came back as a response: %d", resp.StatusCode)
	}
	if want := "the server answered 101, an informational status, instead of a response"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if err := <-closed; err != io.EOF {
		t.Errorf("the connection was not closed: %v", err)
	}
}

// TestLocalhostIsDialledOnLoopback: localhost and names under .localhost
// are dialled at 127.0.0.1, else ::1, never resolved; other names are
// left to the resolver.
func TestLocalhostIsDialledOnLoopback(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		addr string
		down []string // addresses where nothing listens
		want []string // the addresses dialled, in order
		ok   bool
	}{
		{"localhost:8080", nil, []string{"127.0.0.1:8080"}, true},
		{"LocalHost.:8080", nil, []string{"127.0.0.1:8080"}, true},
		{"sim.localhost:1", nil, []string{"127.0.0.1:1"}, true},
		{"localhost:8080", []string{"127.0.0.1:8080"}, []string{"127.0.0.1:8080", "[::1]:8080"}, true},
		{"localhost:8080", []string{"127.0.0.1:8080", "[::1]:8080"}, []string{"127.0.0.1:8080", "[::1]:8080"}, false},
		{"localhost.example:80", nil, []string{"localhost.example:80"}, true},
		{"mylocalhost:80", nil, []string{"mylocalhost:80"}, true},
		{"127.0.0.2:80", nil, []string{"127.0.0.2:80"}, true},
		{"no port", nil, []string{"no port"}, true},
	} {
		var dialled []string
		dial := loopbackNames(func(_ context.Context, _, addr string) (net.Conn, error) {
			dialled = append(dialled, addr)
			for _, d := range tc.down {
				if d == addr {
					return nil, errors.New("refused at " + addr)
				}
			}
			return nil, nil
		})
		_, err := dial(context.Background(), "tcp", tc.addr)
		if !slices.Equal(dialled, tc.want) || (err == nil) != tc.ok {
			t.Errorf("%s: dialled %v (err %v), want %v (ok %v)", tc.addr, dialled, err, tc.want, tc.ok)
		}
		if !tc.ok && err != nil && err.Error() != "refused at "+tc.want[0] {
			t.Errorf("%s: the error is not the first address's: %v", tc.addr, err)
		}
	}
}

// No request connects to a link-local address, where clouds serve
// instance metadata: the dial is refused before it is made. (fe80::1 on
// the loopback interface: nothing leaves the machine either way.)
func TestNoConnectionToALinkLocalAddress(t *testing.T) {
	t.Parallel()
	tr := newTransport(func(string) string { return "" })
	_, err := tr.DialContext(context.Background(), "tcp", "[fe80::1%lo]:80")
	var p interface{ Permanent() bool }
	if !errors.As(err, &p) || !p.Permanent() || !strings.Contains(err.Error(), "refusing to connect to fe80::1%lo, a link-local address") {
		t.Errorf("err = %v, want one that says it is Permanent (which no request or download retries)", err)
	}
	for addr, refused := range map[string]bool{"169.254.169.254:80": true, "[fe80::1]:443": true, "224.0.0.251:5353": true, "[::ffff:169.254.169.254]:80": true,
		"127.0.0.1:80": false, "10.0.0.1:80": false, "[::1]:80": false, "8.8.8.8:53": false} {
		if err := notLinkLocal("tcp4", addr, nil); (err != nil) != refused {
			t.Errorf("%s: %v, want refused %v", addr, err, refused)
		}
	}
}

// Only https video URLs are fetched, except plain http to a loopback or
// private address in a rehearsal against an http base_url.
func TestStorageURLsAreHTTPS(t *testing.T) {
	t.Parallel()
	api, sim := &url.URL{Scheme: "https", Host: "prismvideos.com"}, &url.URL{Scheme: "http", Host: "127.0.0.1:8787"}
	for _, tc := range []struct {
		api   *url.URL
		video string
		ok    bool
	}{
		{api, "https://s3.amazonaws.com/b/v.mp4?X-Amz-Signature=s", true},
		{sim, "https://s3.amazonaws.com/b/v.mp4", true},
		{api, "http://s3.amazonaws.com/b/v.mp4", false},
		{api, "http://127.0.0.1:8787/v.mp4", false},
		{sim, "http://127.0.0.1:8787/v.mp4", true},
		{sim, "http://10.1.2.3/v.mp4", true},
		{sim, "http://example.com/v.mp4", false},
		{sim, "ftp://127.0.0.1/v.mp4", false},
	} {
		u, _ := url.Parse(tc.video)
		err := storageURL(tc.api, "base_url")(u)
		if (err == nil) != tc.ok {
			t.Errorf("API %s, video %s: %v, want allowed %v", tc.api, tc.video, err, tc.ok)
		}
		if err != nil && (!strings.Contains(err.Error(), "is not https, so it was not fetched") || strings.Contains(err.Error(), "Signature")) {
			t.Errorf("API %s, video %s: %v", tc.api, tc.video, err)
		}
	}
}
