package cli

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"golang.org/x/net/http/httpproxy"

	"github.com/prism-wait/prism-wait/internal/config"
	"github.com/prism-wait/prism-wait/internal/download"
	"github.com/prism-wait/prism-wait/internal/prism"
)

// maxHeaderBytes bounds a response's headers, from the API or storage:
// net/http's default would take 10 MiB of an endless header per request.
const maxHeaderBytes = 64 << 10

// writeByteTimeout closes a connection that takes no bytes for so long.
const writeByteTimeout = 5 * time.Second

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
	// An HTTP/2 server that floods PINGs and stops reading fills the
	// socket: the read loop then blocks in the write of a PING's answer,
	// holding the lock that a cancel needs, and neither the deadline nor a
	// signal can end the request. A write that makes no progress for 5 s
	// closes the connection instead (the runner kills 10 s after a cancel).
	t.HTTP2 = &http.HTTP2Config{WriteByteTimeout: writeByteTimeout}
	// As http.DefaultTransport's dialer, refusing link-local addresses.
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: notLinkLocal}
	t.DialContext = loopbackNames(dialer.DialContext)
	return transport{t}
}

// notLinkLocal refuses to connect to a link-local address, whatever name
// led there: that is where clouds serve instance metadata and credentials
// (169.254.169.254), never Prism, its storage or the Actions cache. A
// hostile answer's URL must not make the runner fetch them.
func notLinkLocal(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return nil
	}
	if ip, err := netip.ParseAddr(host); err == nil && config.LinkLocal(ip) {
		return linkLocal(host)
	}
	return nil
}

// linkLocal is notLinkLocal's refusal. It is Permanent: a request or a
// download ends at once on it, since no retry can help.
type linkLocal string

func (h linkLocal) Error() string {
	return fmt.Sprintf("refusing to connect to %s, a link-local address (where clouds serve instance metadata), which neither Prism nor its storage uses", string(h))
}

// Permanent says that trying again cannot help.
func (linkLocal) Permanent() bool { return true }

// storageURL allows a video URL that is https, or plain http to a
// loopback or private address when the API itself is plain http (a
// rehearsal against prism-sim): presigned URLs are https, and an answer
// that names another must not make the runner fetch, and quote, a plain
// web page of its network.
func storageURL(api *url.URL, baseURL string) func(*url.URL) error {
	return func(u *url.URL) error {
		if u.Scheme == "https" || api.Scheme == "http" && u.Scheme == "http" && config.LocalHost(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("the video URL %s is not https, so it was not fetched: Prism's storage URLs are (plain http is allowed only to a loopback or private address, when %s is http as well). Try again later; if it persists, ask Prism support about this generation",
			download.Redact(u.String()), baseURL)
	}
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
