// Package actionscache is a small client for GitHub's Actions cache
// service, version 2: the Twirp JSON API that @actions/cache v4 speaks at
// $ACTIONS_RESULTS_URL, with $ACTIONS_RUNTIME_TOKEN. prism-wait keeps only
// tiny entries there (docs/rerun-guard.md), so the whole client is four
// calls: reserve an entry, upload its bytes to the signed URL, finalise
// it, and look an entry up.
//
// Entries are immutable: a key, once finalised, keeps its bytes until it
// is evicted (7 days unused). Entries are scoped to the ref, and a re-run
// of a workflow keeps its ref, so an attempt sees what earlier attempts
// stored.
package actionscache

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prism-wait/prism-wait/internal/pause"
	"github.com/prism-wait/prism-wait/internal/untrusted"
)

// service is the Twirp path prefix of the cache service.
const service = "twirp/github.actions.results.api.v1.CacheService/"

// Limits on what is kept and read.
const (
	MaxKey   = 512      // the service's limit on a key's length
	MaxEntry = 64 << 10 // prism-wait's entries hold at most a few KiB of IDs
	maxReply = 64 << 10
	tries    = 3
)

// ErrTaken is returned by Put when the service did not reserve the key:
// an entry with that key exists already (or is being written), or the
// cache is read-only for this run.
var ErrTaken = errors.New("the cache service did not accept a new entry under this key (it exists already, or the cache is read-only for this run)")

// ErrUnreadable is wrapped by Get's error when the service said the entry
// exists but its bytes could not be had.
var ErrUnreadable = errors.New("the entry exists, but its bytes could not be read")

// Client talks to the cache service of one job.
type Client struct {
	base  *url.URL
	token string
	http  *http.Client
}

// New returns a client for the service at resultsURL (ACTIONS_RESULTS_URL)
// with token (ACTIONS_RUNTIME_TOKEN). The URL must be https, or http to a
// loopback or private address (a test's fake); the token is sent only to
// its host, never to the signed storage URLs.
func New(resultsURL, token string, transport http.RoundTripper) (*Client, error) {
	switch {
	case strings.TrimSpace(resultsURL) == "":
		return nil, errors.New("ACTIONS_RESULTS_URL is not set: the runner gives the Actions cache service only to Docker and JavaScript actions (not to run: steps, nor to the binary sub-action's), and there is none on GitHub Enterprise Server without cache v2 or under act")
	case strings.TrimSpace(token) == "":
		return nil, errors.New("ACTIONS_RUNTIME_TOKEN is not set")
	}
	u, err := checkURL(resultsURL)
	if err != nil {
		return nil, fmt.Errorf("ACTIONS_RESULTS_URL: %w", err)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return &Client{base: u, token: token, http: &http.Client{Transport: transport, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}, nil
}

// checkURL accepts https, or http to a host that cannot be on the internet.
func checkURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" || u.User != nil {
		return nil, errors.New("not an absolute URL without credentials")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && private(u.Hostname()):
	default:
		return nil, fmt.Errorf("scheme %q to %s is not allowed: https, or http only to loopback and private addresses", u.Scheme, u.Hostname())
	}
	return u, nil
}

func private(host string) bool {
	ip := net.ParseIP(host)
	return host == "localhost" || ip != nil && (ip.IsLoopback() || ip.IsPrivate())
}

// CheckKey reports whether the service can store key.
func CheckKey(key string) error {
	switch {
	case key == "" || len(key) > MaxKey:
		return fmt.Errorf("cache key of %d bytes: want 1 to %d", len(key), MaxKey)
	case strings.ContainsRune(key, ','):
		return errors.New("cache key contains a comma")
	}
	return nil
}

// Get returns the entry stored under key and version; found is false for a
// miss.
func (c *Client) Get(ctx context.Context, key, version string) (data []byte, found bool, err error) {
	if err := CheckKey(key); err != nil {
		return nil, false, err
	}
	var out struct {
		OK                bool   `json:"ok"`
		SignedDownloadURL string `json:"signed_download_url"`
		MatchedKey        string `json:"matched_key"`
	}
	if err := c.call(ctx, "GetCacheEntryDownloadURL", false, map[string]any{"key": key, "restore_keys": []string{}, "version": version}, &out); err != nil {
		return nil, false, err
	}
	if !out.OK || out.MatchedKey != key {
		return nil, false, nil // a miss; a prefix match is not ours
	}
	u, err := checkURL(out.SignedDownloadURL)
	if err != nil {
		return nil, false, fmt.Errorf("%w: signed download URL: %w", ErrUnreadable, err)
	}
	var body []byte
	err = c.retry(ctx, func() (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return false, err
		}
		resp, err := c.http.Do(req)
		if err != nil {
			return true, transportError(err)
		}
		defer drain(resp)
		if resp.StatusCode != http.StatusOK {
			return transient(resp.StatusCode), fmt.Errorf("download of the entry answered HTTP %d", resp.StatusCode)
		}
		body, err = io.ReadAll(io.LimitReader(resp.Body, MaxEntry+1))
		switch {
		case err != nil:
			return true, transportError(err)
		case len(body) > MaxEntry:
			return false, fmt.Errorf("entry larger than %d bytes", MaxEntry)
		}
		return false, nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrUnreadable, err)
	}
	return body, true, nil
}

// Put stores data under key and version: it reserves the entry, uploads
// the bytes to the signed URL the service hands out, and finalises it. It
// returns ErrTaken when the service would not reserve the key.
func (c *Client) Put(ctx context.Context, key, version string, data []byte) error {
	if err := CheckKey(key); err != nil {
		return err
	}
	if len(data) > MaxEntry {
		return fmt.Errorf("entry of %d bytes, more than %d", len(data), MaxEntry)
	}
	var created struct {
		OK              bool   `json:"ok"`
		SignedUploadURL string `json:"signed_upload_url"`
	}
	if err := c.call(ctx, "CreateCacheEntry", true, map[string]any{"key": key, "version": version}, &created); err != nil {
		var te *twirpError
		if errors.As(err, &te) && (te.Code == "already_exists" || te.Status == http.StatusConflict) {
			return ErrTaken
		}
		return err
	}
	if !created.OK {
		return ErrTaken
	}
	u, err := checkURL(created.SignedUploadURL)
	if err != nil {
		return fmt.Errorf("signed upload URL: %w", err)
	}
	err = c.retry(ctx, func() (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPut, u.String(), bytes.NewReader(data))
		if err != nil {
			return false, err
		}
		req.GetBody = nil // tries are retry's to decide, not the transport's
		req.Header.Set("x-ms-blob-type", "BlockBlob")
		req.Header.Set("Content-Type", "application/octet-stream")
		resp, err := c.http.Do(req)
		if err != nil {
			return true, transportError(err)
		}
		defer drain(resp)
		if resp.StatusCode/100 != 2 {
			return transient(resp.StatusCode), fmt.Errorf("upload of the entry answered HTTP %d", resp.StatusCode)
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	var final struct {
		OK      bool   `json:"ok"`
		EntryID string `json:"entry_id"`
	}
	if err := c.call(ctx, "FinalizeCacheEntryUpload", true, map[string]any{"key": key, "size_bytes": strconv.Itoa(len(data)), "version": version}, &final); err != nil {
		return err
	}
	if !final.OK {
		return errors.New("the cache service did not finalise the entry")
	}
	return nil
}

// twirpError is a Twirp error answer: {"code": "...", "msg": "..."}.
type twirpError struct {
	Method string
	Status int
	Code   string
	Msg    string
}

func (e *twirpError) Error() string {
	s := fmt.Sprintf("cache service %s answered HTTP %d", e.Method, e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	return s
}

// call posts in to method and decodes the answer into out, trying again
// after a 429. A call that reads (writes false) is tried again after a 5xx
// or a network error too; one that writes is not, since it may have been
// acted on: a reservation tried again would answer "already exists" for
// its own first try.
func (c *Client) call(ctx context.Context, method string, writes bool, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	u := c.base.JoinPath(service + method)
	return c.retry(ctx, func() (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
		if err != nil {
			return false, err
		}
		req.GetBody = nil // tries are retry's to decide, not the transport's
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+c.token)
		resp, err := c.http.Do(req)
		if err != nil {
			return !writes, transportError(err)
		}
		defer drain(resp)
		raw, err := io.ReadAll(io.LimitReader(resp.Body, maxReply))
		if err != nil {
			return !writes, transportError(err)
		}
		if resp.StatusCode != http.StatusOK {
			te := &twirpError{Method: method, Status: resp.StatusCode}
			var e struct {
				Code string `json:"code"`
				Msg  string `json:"msg"`
			}
			if json.Unmarshal(raw, &e) == nil {
				// Scrubbed before it is cut: a cut token is no longer one to
				// redact. A Twirp code (already_exists) is kept as it is.
				sc := untrusted.New(c.token)
				te.Code, te.Msg = e.Code, sc.Line(e.Msg, 200)
				if !twirpCode.MatchString(e.Code) {
					te.Code = sc.Line(e.Code, 40)
				}
			}
			return resp.StatusCode == http.StatusTooManyRequests || !writes && transient(resp.StatusCode), te
		}
		if err := json.Unmarshal(raw, out); err != nil {
			return false, fmt.Errorf("cache service %s: answer is not the expected JSON", method)
		}
		return false, nil
	})
}

// twirpCode is the shape of a Twirp error code, such as already_exists.
var twirpCode = regexp.MustCompile(`^[a-z_]{1,40}$`)

// retry runs try up to tries times while it says the failure is transient,
// waiting 1 s, then 2 s, in between.
func (c *Client) retry(ctx context.Context, try func() (again bool, err error)) error {
	var err error
	for i := range tries {
		var again bool
		if again, err = try(); err == nil || !again || i == tries-1 {
			return err
		}
		if perr := pause.For(ctx, time.Duration(i+1)*time.Second); perr != nil {
			if errors.Is(err, perr) {
				return err // the last try met the same end: say it once
			}
			return fmt.Errorf("%w (last: %w)", perr, err)
		}
	}
	return err
}

func transient(status int) bool {
	return status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || status >= 500
}

// transportError drops the URL net/http puts in its errors: a signed URL
// is a credential.
func transportError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxReply))
	resp.Body.Close()
}
