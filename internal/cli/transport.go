package cli

import (
	"net/http"
	"net/url"

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

// newTransport is the one transport of every request, to the API and to
// storage: a copy of http.DefaultTransport (HTTP/2, timeouts) with bounded
// headers, idle connections for every request in flight, and proxies for
// https only.
func newTransport(getenv func(string) string) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxResponseHeaderBytes = maxHeaderBytes
	t.MaxIdleConns, t.MaxIdleConnsPerHost = 2*maxInFlight, maxInFlight
	t.Proxy = proxy(getenv)
	return t
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
