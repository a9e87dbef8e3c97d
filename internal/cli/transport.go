package cli

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/net/http/httpproxy"

	"github.com/prism-wait/prism-wait/internal/download"
	"github.com/prism-wait/prism-wait/internal/prism"
)

// maxHeaderBytes bounds a response's headers, from the API or storage:
// net/http's default would take 10 MiB of an endless header per request.
const maxHeaderBytes = 64 << 10

// maxInFlight is how many requests can run at once: a status read per ID,
// and for each download its transfer and a read for a fresh URL. As many
// idle connections are kept, so that a poll reuses one instead of paying
// for a new TLS handshake (net/http keeps 2 per host by default).
const maxInFlight = prism.MaxIDs + 2*download.MaxDownloads

// newTransport is the one transport of every request, to the API, to
// storage and to the Actions cache: a copy of http.DefaultTransport
// (HTTP/2, timeouts) with bounded headers, idle connections for every
// request in flight, proxies for https only, localhost always loopback,
// and final answers only.
func newTransport(getenv func(string) string) transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxResponseHeaderBytes = maxHeaderBytes
	t.MaxIdleConns, t.MaxIdleConnsPerHost = 2*maxInFlight, maxInFlight
	t.Proxy = proxy(getenv)
	t.DialContext = loopbackNames(t.DialContext)
	return transport{t}
}

// transport refuses an informational answer as the final one: after a
// 101 Switching Protocols, net/http hands back the raw connection as the
// body, which no deadline or cancel closes, so reading it could hang the
// step for good.
type transport struct{ *http.Transport }

func (t transport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.Transport.RoundTrip(r)
	if err == nil && resp.StatusCode < 200 {
		resp.Body.Close()
		return nil, fmt.Errorf("the server answered %d, an informational status, instead of a response", resp.StatusCode)
	}
	return resp, err
}

// loopbackNames dials localhost, and names under .localhost, on the
// loopback addresses themselves (RFC 6761): resolved, they could come from
// DNS where /etc/hosts lacks them, and plain http to them carries the key.
func loopbackNames(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if name := strings.ToLower(strings.TrimSuffix(host, ".")); err != nil || name != "localhost" && !strings.HasSuffix(name, ".localhost") {
			return dial(ctx, network, addr)
		}
		c, err := dial(ctx, network, net.JoinHostPort("127.0.0.1", port))
		if err != nil {
			if c6, err6 := dial(ctx, network, net.JoinHostPort("::1", port)); err6 == nil {
				return c6, nil
			}
		}
		return c, err
	}
}

// proxy is HTTPS_PROXY and NO_PROXY as net/http reads them, for https
// requests only. A plain-http request is allowed only to a loopback or
// private address (config.ParseBaseURL), which is reached directly: through
// a proxy, the key would cross it in clear. HTTP_PROXY is never used.
func proxy(getenv func(string) string) func(*http.Request) (*url.URL, error) {
	either := func(a, b string) string {
		if v := getenv(a); v != "" {
			return v
		}
		return getenv(b)
	}
	viaProxy := (&httpproxy.Config{
		HTTPSProxy: either("HTTPS_PROXY", "https_proxy"),
		NoProxy:    either("NO_PROXY", "no_proxy"),
	}).ProxyFunc()
	return func(r *http.Request) (*url.URL, error) {
		if r.URL.Scheme != "https" {
			return nil, nil
		}
		return viaProxy(r.URL)
	}
}
