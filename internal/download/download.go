// Package download saves finished videos into the workspace: streamed in
// constant memory to a temporary file beside the target, resumed with Range
// after a cut, checked against the sizes the server declared, hashed,
// verified as a whole video of its container (see internal/media), then
// synced and renamed, so the final path only ever holds a whole file.
//
// Content that is plainly not a video (an error page, an XML or JSON
// document, an empty body, an image) is refused, quoting how it begins.
// A file of a container without a check (AVI) is saved with a warning.
//
// The presigned URL is its own credential: no Authorization header is ever
// sent (S3 rejects a presigned request that carries one). When the
// signature expires, a Refresh callback asks for a new URL; this package
// never talks to the Prism API itself.
package download

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/prism-wait/prism-wait/internal/crash"
	"github.com/prism-wait/prism-wait/internal/media"
	"github.com/prism-wait/prism-wait/internal/pause"
	"github.com/prism-wait/prism-wait/internal/untrusted"
)

// File is a saved video.
type File struct {
	Path   string // relative to the Downloader's Root, slash-separated: videos/gen_1.mp4
	Bytes  int64
	SHA256 string // hex
	// Media is what the verified container says of the video; nil when
	// its format has no check, and the file was saved unverified.
	Media *media.Info
}

// Owner is a numeric user and group.
type Owner struct{ UID, GID int }

// Refresh returns a freshly signed URL for the same video.
type Refresh func(ctx context.Context) (string, error)

// Downloader saves videos into Dir inside Root. Fields left zero take
// the defaults noted beside them.
//
// Every write goes through Root, so that a symlink planted in the
// workspace while the program waited cannot send a file outside it.
type Downloader struct {
	HTTP *http.Client // must add no credentials; redirects are followed, without a Referer
	Root *os.Root     // the workspace, opened by the caller with os.OpenRoot; nothing is created outside it
	Dir  string       // the download directory relative to Root, slash-separated and clean ("." for the root itself)
	// Owner, when not nil, owns every directory and file created, so that
	// a root container leaves files the runner's user can clean.
	Owner *Owner

	Logf func(format string, args ...any) // progress and completion lines
	// Warnf warns of a video saved without its container verified (Logf
	// when nil).
	Warnf     func(title, format string, args ...any)
	RetryBase time.Duration // first backoff step (500ms)
	// StallTimeout abandons an attempt that receives nothing for this
	// long, headers included (30s). The attempt is then resumed.
	StallTimeout time.Duration
	// MaxBytes caps a video's size (DefaultMaxBytes), so that storage
	// sending an endless body cannot fill the runner's disk.
	MaxBytes int64
	// CheckURL, when not nil, refuses a URL that must not be fetched: the
	// video's, a fresh one, or one storage redirects to. Its error ends
	// the download.
	CheckURL func(*url.URL) error

	freeSpace func(*os.File) (int64, error) // free bytes on the file's filesystem (diskFree); tests replace it
}

// DefaultMaxBytes is the default cap on a video's size: 4 GiB, many
// times a generated clip, and well within a hosted runner's free disk.
const DefaultMaxBytes = 4 << 30

// Limits of one download.
const (
	maxFutile     = 6                // failed attempts in a row that got the file no further than ever before
	maxRefreshes  = 3                // fresh URLs after 403s from storage
	progressEvery = 10 * time.Second // at most one progress line per period
)

// Error is a download that failed for a reason other than ctx ending.
type Error struct {
	ID       string
	Got      int64 // the most bytes the file held at any time
	Want     int64 // bytes last declared by the server, -1 when unknown
	Attempts int
	Err      error
}

func (e *Error) Error() string {
	if e.Attempts == 0 {
		return fmt.Sprintf("download of %s failed before any request: %v", e.ID, e.Err)
	}
	size := strconv.FormatInt(e.Got, 10) + " bytes"
	if e.Want >= 0 {
		size = fmt.Sprintf("%d of %d bytes", e.Got, e.Want)
	}
	return fmt.Sprintf("download of %s failed after %d attempt(s) at %s: %v", e.ID, e.Attempts, size, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// errExpired marks a 403 from storage: the signed URL expired or is invalid.
var errExpired = errors.New("storage refused the signed URL (HTTP 403)")

// storageAdvice ends the message of a download that storage kept
// refusing or failing.
const storageAdvice = "Try again later; if it fails the same way, ask Prism support about this generation."

// LocalError marks failures of the runner's own disk (no space, no
// permission), not of storage.
type LocalError struct{ Err error }

func (l LocalError) Error() string { return l.Err.Error() }
func (l LocalError) Unwrap() error { return l.Err }

// Local reports whether the runner's disk failed (no space, no
// permission), not storage: the fix is on the runner, or download_dir.
func (e *Error) Local() bool { return errors.As(e.Err, new(LocalError)) }

// Full reports whether the runner's disk had no room for the video.
func (e *Error) Full() bool {
	return errors.Is(e.Err, errNoRoom) || errors.Is(e.Err, syscall.ENOSPC) || errors.Is(e.Err, syscall.EDQUOT)
}

// errNoRoom marks the check of the free space before writing.
var errNoRoom = errors.New("not enough free space for the video")

// pathless is err without the path of a *fs.PathError: the temporary
// file's absolute path says nothing the message does not.
func pathless(err error) error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		return pe.Err
	}
	return err
}

// permanent marks failures that another attempt would only repeat.
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// transfer is the state of one video's download across attempts.
type transfer struct {
	id     string
	url    string
	file   *os.File
	sum    hash.Hash
	offset int64  // bytes in file, all hashed
	total  int64  // declared size, -1 while unknown
	etag   string // the version being saved, as storage names it: its ETag
	since  string // its Last-Modified, the validator when there is no ETag
	ext    string
	kind   media.Kind // the container that the content type or URL declares; Unknown when neither does
	ctype  string     // the Content-Type of the latest 200
}

// Ready creates Dir and a file in it, then removes the file: a directory
// the step cannot write in is found before anything is paid for.
func (d *Downloader) Ready() error {
	if err := d.mkdirAll(); err != nil {
		return fmt.Errorf("cannot create %s: %w", d.Dir, pathless(err))
	}
	f, name, err := d.createTemp("ready")
	if err != nil {
		return fmt.Errorf("cannot create a file in %s: %w", d.Dir, pathless(err))
	}
	f.Close()
	return d.Root.Remove(name)
}

// Fetch downloads the video at rawURL to Dir/<id>.<ext>. On every failure
// path, cancellation included, it leaves nothing behind in Dir.
func (d *Downloader) Fetch(ctx context.Context, id, rawURL string, refresh Refresh) (f File, err error) {
	if err := d.mkdirAll(); err != nil {
		return File{}, &Error{ID: id, Want: -1, Err: LocalError{fmt.Errorf("cannot create %s: %w", d.Dir, pathless(err))}}
	}
	tmp, tmpName, err := d.createTemp(id)
	if err != nil {
		return File{}, &Error{ID: id, Want: -1, Err: LocalError{fmt.Errorf("cannot create a file in %s: %w", d.Dir, pathless(err))}}
	}
	defer func() {
		if err != nil {
			tmp.Close()
			d.Root.Remove(tmpName)
		}
	}()

	t := &transfer{id: id, url: rawURL, file: tmp, sum: sha256.New(), total: -1}
	start := time.Now()
	b := backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(cmp.Or(d.RetryBase, 500*time.Millisecond)),
		backoff.WithMaxInterval(10*time.Second),
		backoff.WithMaxElapsedTime(0),
	)
	attempts, futile, refreshes := 0, 0, 0
	// furthest is the most bytes the file ever held. Progress is getting
	// past it: an attempt that starts over and gets as far again made
	// none, so storage that fails the same way each time is given up on.
	furthest := int64(0)
	stopped := func() (File, error) {
		return File{}, fmt.Errorf("download of %s stopped at %d bytes: %w", id, t.offset, context.Cause(ctx))
	}
	for {
		attempts++
		err := d.attempt(ctx, t)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return stopped()
		}
		fail := func(err error) (File, error) {
			return File{}, &Error{ID: id, Got: max(furthest, t.offset), Want: t.total, Attempts: attempts, Err: err}
		}
		var p permanent
		switch {
		case errors.As(err, &p):
			return fail(err)
		case errors.Is(err, errExpired):
			if refreshes++; refreshes > maxRefreshes {
				return fail(fmt.Errorf("%w, even after %d fresh URLs: storage refuses the URLs Prism signs for this video. %s", err, refreshes-1, storageAdvice))
			}
			d.logf("%s: %v; asking the API for a fresh URL", id, err)
			u, rerr := refresh(ctx)
			if rerr != nil {
				if ctx.Err() != nil {
					return stopped()
				}
				return fail(fmt.Errorf("%w, and no fresh URL could be had: %w. Look at the generation in Prism's dashboard: once it has a video again, a wait for its ID downloads it", err, rerr))
			}
			t.url = u
			continue
		}
		if t.offset > furthest {
			furthest, futile = t.offset, 0
			b.Reset()
		} else if futile++; futile >= maxFutile {
			return fail(fmt.Errorf("%d attempts in a row got no further than byte %d; the last: %w. %s", futile, furthest, err, storageAdvice))
		}
		delay := b.NextBackOff()
		d.logf("%s: %v; retrying in %s from byte %d", id, err, delay.Round(time.Millisecond), t.offset)
		if pause.For(ctx, delay) != nil {
			return stopped()
		}
	}

	info, unchecked, err := t.verify()
	if err != nil {
		return File{}, &Error{ID: id, Got: t.offset, Want: t.total, Attempts: attempts, Err: err}
	}
	ext := named(info, t.ext)
	if unchecked.ext != "" {
		ext = unchecked.ext
	}
	final := path.Join(d.Dir, id+ext)
	if err := d.commit(tmp, tmpName, final); err != nil {
		return File{}, &Error{ID: id, Got: t.offset, Want: t.total, Attempts: attempts, Err: LocalError{err}}
	}
	if info != nil {
		d.logf("%s: verified %s: %s", id, final, Describe(*info))
	} else {
		d.warnf("Video not verified", "%s: saved %s without checking that it is a whole video: its first bytes show %s, a format without a check "+
			"(prism-wait checks MP4, MOV, M4V, WebM and MKV). Check the file in a later step if that matters.", id, final, unchecked.what)
	}
	elapsed := time.Since(start)
	d.logf("%s: saved %s (%s in %s, %s/s)", id, final, Size(t.offset), elapsed.Round(time.Millisecond),
		Size(int64(float64(t.offset)/max(elapsed.Seconds(), 1e-3))))
	return File{Path: final, Bytes: t.offset, SHA256: hex.EncodeToString(t.sum.Sum(nil)), Media: info}, nil
}

// Describe says what a verified video is: "MP4, avc1, 1920x1080, 8s".
func Describe(info media.Info) string {
	parts := []string{strings.ToUpper(info.Container)}
	if info.Codec != "" {
		parts = append(parts, info.Codec)
	}
	if info.Width > 0 && info.Height > 0 {
		parts = append(parts, fmt.Sprintf("%dx%d", info.Width, info.Height))
	}
	if info.Duration > 0 {
		parts = append(parts, info.Duration.Round(time.Millisecond).String())
	}
	return strings.Join(parts, ", ")
}

// brokenAdvice ends the message of a file that storage sent whole but
// that is no whole video.
const brokenAdvice = "Nothing was saved. Try again to download it; if it fails the same way, the video on storage is broken: generate it again."

// format is a video format without a check, known by its first bytes.
type format struct{ ext, what string }

// verify checks the finished file: plainly not a video (by its first
// bytes), a container that fails its check, or no video format at all
// is an error. A video of a format without a check has nil Info, and
// its format.
func (t *transfer) verify() (*media.Info, format, error) {
	head := make([]byte, media.SniffLen)
	n, err := t.file.ReadAt(head, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, format{}, permanent{fmt.Errorf("cannot read the video back: %w", err)}
	}
	kind, other := media.Sniff(head[:n])
	if other != "" {
		begins := "" // binary bytes would say nothing to a reader
		if media.Text(head[:n]) {
			begins = "; it begins: " + quote(head[:n])
		}
		return nil, format{}, permanent{fmt.Errorf("storage sent %s, not a video%s. %s", other, begins, brokenAdvice)}
	}
	if kind == media.Unknown {
		ext, what, err := media.Unchecked(t.file, t.offset)
		switch {
		case err != nil:
			return nil, format{}, permanent{fmt.Errorf("storage sent no whole video: %w. %s", err, brokenAdvice)}
		case ext != "":
			return nil, format{ext, what}, nil
		}
		kind = t.kind // the declared container's check says what is wrong
	}
	if kind == media.Unknown {
		return nil, format{}, permanent{fmt.Errorf("storage sent a file of no video format: its first bytes (% x) are none that prism-wait checks "+
			"(MP4, MOV, M4V, WebM, MKV) or saves unchecked (AVI, MPEG-TS, MPEG-PS, FLV, ASF, Y4M). %s", head[:min(n, 8)], brokenAdvice)}
	}
	info, err := media.Verify(t.file, t.offset, kind)
	if err != nil {
		return nil, format{}, permanent{fmt.Errorf("the file is not a whole %s video: %w. %s", kind, err, brokenAdvice)}
	}
	return &info, format{}, nil
}

// redirect is the redirect policy: CheckURL's, then d.HTTP's (net/http's
// when nil: at most 10), without the Referer that net/http adds: that is
// the presigned URL, signature and all, which the next host must not get.
func (d *Downloader) redirect(req *http.Request, via []*http.Request) error {
	req.Header.Del("Referer")
	if err := d.checkURL(req.URL); err != nil {
		return refusedURL{err}
	}
	if d.HTTP.CheckRedirect != nil {
		return d.HTTP.CheckRedirect(req, via)
	}
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	return nil
}

// refusedURL is CheckURL's refusal of a redirect, told apart from a
// failed request.
type refusedURL struct{ error }

func (d *Downloader) checkURL(u *url.URL) error {
	if d.CheckURL == nil {
		return nil
	}
	return d.CheckURL(u)
}

// quote is the start of what storage sent, scrubbed and bounded, for a
// message.
func quote(b []byte) string {
	return "\"" + strings.TrimSpace(untrusted.Scrubber{}.Line(string(b), 100)) + "\""
}

// notVideo reports whether a content type is plainly something other
// than a video: text, or a structured document such as an error body.
func notVideo(contentType string) (string, bool) {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return "", false
	}
	switch {
	case strings.HasPrefix(mt, "text/"), mt == "application/xml", mt == "application/json", mt == "application/problem+json":
		return mt, true
	}
	return "", false
}

// attempt sends one request and appends what it receives. It returns nil
// once the whole video is in the file.
func (d *Downloader) attempt(ctx context.Context, t *transfer) error {
	actx, abandon := context.WithCancelCause(ctx)
	defer abandon(nil)
	req, err := http.NewRequestWithContext(actx, http.MethodGet, t.url, nil)
	if err != nil {
		return permanent{fmt.Errorf("invalid video URL %s: %w", Redact(t.url), stripURL(err))}
	}
	if err := d.checkURL(req.URL); err != nil {
		return permanent{err}
	}
	// Bytes as stored: a transparently decompressed body would not match
	// the sizes and ranges that resuming relies on.
	req.Header.Set("Accept-Encoding", "identity")
	if t.offset > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", t.offset))
		// If-Range: a changed video answers 200, so two versions are
		// never mixed. Without a validator If-Range may carry (no ETag
		// nor Last-Modified, or a weak ETag), the 206 is still checked
		// against what is known (its ETag, size and range); starting
		// over instead would never finish from storage that cuts every
		// transfer at the same point. S3 always sends a strong ETag.
		if v := t.validator(); v != "" {
			req.Header.Set("If-Range", v)
		}
	}

	// A stalled attempt ends, not the whole wait: it is resumed. The
	// watchdog runs from before the request, so that a host that never
	// answers is abandoned like one that stops sending.
	stall := cmp.Or(d.StallTimeout, 30*time.Second)
	watchdog := time.AfterFunc(stall, func() { abandon(fmt.Errorf("storage sent nothing for %s", stall)) })
	defer watchdog.Stop()
	client := *d.HTTP
	client.CheckRedirect = d.redirect
	resp, err := client.Do(req)
	var refused refusedURL
	if errors.As(err, &refused) {
		return permanent{refused.error}
	}
	if err != nil {
		// A connection the transport refuses by policy says so: no
		// retry can help (see cli's transport).
		var policy interface{ Permanent() bool }
		final := errors.As(err, &policy) && policy.Permanent()
		err = fmt.Errorf("request to %s failed: %w", Redact(t.url), stripURL(err))
		if final {
			return permanent{err}
		}
		return err
	}
	defer resp.Body.Close()

	switch resp.StatusCode {
	case http.StatusOK:
		if t.offset > 0 {
			d.logf("%s: storage sent the whole video again instead of resuming; starting over", t.id)
			if err := t.restart(); err != nil {
				return permanent{err}
			}
		}
		t.etag, t.since = resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
		t.total = resp.ContentLength
		t.ext = extension(resp.Header.Get("Content-Type"), resp.Request.URL.Path)
		t.ctype = resp.Header.Get("Content-Type")
		t.kind = declared(t.ctype, resp.Request.URL.Path)
		if t.total == 0 {
			return permanent{fmt.Errorf("storage sent an empty file (HTTP 200 with Content-Length: 0). %s", brokenAdvice)}
		}
	case http.StatusPartialContent:
		if t.offset == 0 {
			return fmt.Errorf("storage sent part of the video to a request for all of it")
		}
		first, last, total, ok := contentRange(resp.Header.Get("Content-Range"))
		switch {
		case !ok || first != t.offset:
			return t.restartf("storage answered Range bytes=%d- with Content-Range %q", t.offset, resp.Header.Get("Content-Range"))
		case t.etag != "" && resp.Header.Get("ETag") == "":
			// A 206 carries the ETag a 200 would (RFC 9110, 15.3.7):
			// without it, nothing says these bytes are the same version.
			return t.restartf("storage resumed the video without its ETag (was %q), so the rest may be another version", t.etag)
		case t.etag != "" && resp.Header.Get("ETag") != t.etag:
			return t.restartf("the video changed on storage (ETag %q, was %q)", resp.Header.Get("ETag"), t.etag)
		case t.etag == "" && resp.Header.Get("Last-Modified") != "" && resp.Header.Get("Last-Modified") != t.since:
			return t.restartf("the video changed on storage (Last-Modified %q, was %q)", resp.Header.Get("Last-Modified"), t.since)
		case t.total >= 0 && total != t.total:
			return t.restartf("storage now declares %d bytes instead of %d", total, t.total)
		case resp.ContentLength >= 0 && resp.ContentLength != last-first+1:
			return permanent{fmt.Errorf("Content-Length %d disagrees with Content-Range %q", resp.ContentLength, resp.Header.Get("Content-Range"))}
		}
		t.total = total
	case http.StatusForbidden:
		return errExpired
	case http.StatusRequestedRangeNotSatisfiable:
		return t.restartf("storage refused Range bytes=%d-", t.offset)
	case http.StatusRequestTimeout, http.StatusTooManyRequests:
		return fmt.Errorf("storage answered HTTP %d", resp.StatusCode)
	default:
		if resp.StatusCode >= 500 {
			return fmt.Errorf("storage answered HTTP %d", resp.StatusCode)
		}
		return permanent{fmt.Errorf("storage answered HTTP %d for %s. %s", resp.StatusCode, Redact(t.url), storageAdvice)}
	}

	if mt, ok := notVideo(resp.Header.Get("Content-Type")); ok {
		start := make([]byte, 200)
		n, _ := io.ReadFull(resp.Body, start)
		return permanent{fmt.Errorf("storage answered HTTP %d with Content-Type %s, not a video; it begins: %s. %s",
			resp.StatusCode, mt, quote(start[:n]), brokenAdvice)}
	}

	maxBytes := cmp.Or(d.MaxBytes, DefaultMaxBytes)
	limit := t.total // the size declared, else the cap
	switch {
	case t.total > maxBytes:
		return permanent{fmt.Errorf("storage declares %d bytes (%s), more than the cap of %d (%s)", t.total, Size(t.total), maxBytes, Size(maxBytes))}
	case t.total < 0:
		limit = maxBytes
	default:
		need, probe := t.total-t.offset, d.freeSpace
		if probe == nil {
			probe = diskFree
		}
		if free, err := probe(t.file); err == nil && free < need {
			return permanent{LocalError{fmt.Errorf("%w: %d bytes needed (%s), %d free (%s)", errNoRoom, need, Size(need), free, Size(free))}}
		}
	}
	body := io.LimitReader(resp.Body, limit-t.offset+1) // one byte more reveals a long body
	p := &progress{d: d, t: t, watchdog: watchdog, stall: stall, last: time.Now(), lastOff: t.offset, synced: t.offset}
	err = p.copyFrom(body)
	switch {
	case t.offset > limit && t.total < 0:
		return permanent{fmt.Errorf("the video is larger than the cap of %d bytes (%s)", maxBytes, Size(maxBytes))}
	case t.offset > limit:
		return permanent{fmt.Errorf("storage sent more than the %d bytes it declared", t.total)}
	case errors.As(err, new(permanent)):
		return err // the disk, or a bug: no connection was lost
	case err != nil:
		return fmt.Errorf("connection lost: %w", stripURL(err))
	case t.total >= 0 && t.offset < t.total:
		return fmt.Errorf("connection closed at %d of %d bytes", t.offset, t.total)
	case t.offset == 0:
		return permanent{fmt.Errorf("storage sent an empty body (HTTP 200 without Content-Length). %s", brokenAdvice)}
	}
	return nil
}

// restart discards what was received, for a response that cannot continue it.
func (t *transfer) restart() error {
	t.offset, t.etag, t.since = 0, "", ""
	t.sum.Reset()
	if err := t.file.Truncate(0); err != nil {
		return err
	}
	_, err := t.file.Seek(0, io.SeekStart)
	return err
}

// validator is what If-Range may carry to resume this version: a strong
// ETag, or, when storage gave no ETag at all, its Last-Modified (RFC
// 9110 forbids a weak ETag there, and a date beside an ETag).
func (t *transfer) validator() string {
	switch {
	case t.etag == "":
		return t.since
	case strings.HasPrefix(t.etag, "W/"):
		return ""
	}
	return t.etag
}

// restartf starts over and returns the reason as a transient error, so that
// the next attempt asks for the whole video.
func (t *transfer) restartf(format string, a ...any) error {
	if err := t.restart(); err != nil {
		return permanent{err}
	}
	return fmt.Errorf(format+"; starting over", a...)
}

// progress appends to the file, feeds the stall watchdog, starts the
// disk writeback as it goes, and logs progress at most every
// progressEvery.
type progress struct {
	d        *Downloader
	t        *transfer
	watchdog *time.Timer
	stall    time.Duration
	last     time.Time
	lastOff  int64
	synced   int64 // bytes whose writeback has been started
}

// Sizes of the copy: blocks in flight between the network, the file and
// the hash, and how much is written before its writeback is started.
const (
	blockSize      = 4 << 20
	blocks         = 4
	writebackEvery = 32 << 20
)

// copyFrom appends body to the file while another goroutine hashes the
// same blocks: hashing costs about as much CPU as receiving, and on two
// cores the two overlap instead of adding up. Memory stays at
// blocks*blockSize whatever the video's size.
func (p *progress) copyFrom(body io.Reader) (err error) {
	free := make(chan []byte, blocks)
	for range blocks {
		free <- make([]byte, blockSize)
	}
	toHash := make(chan []byte, blocks)
	hashed := make(chan struct{})
	var crashed error
	go func() {
		defer close(hashed)
		defer crash.Recover(func(p *crash.Panic) {
			crashed = p
			for b := range toHash { // let the copy finish; its result is void
				free <- b[:cap(b)]
			}
		})
		for b := range toHash {
			p.t.sum.Write(b)
			free <- b[:cap(b)]
		}
	}()
	defer func() {
		close(toHash)
		<-hashed // the hash is whole before anyone reads it
		if crashed != nil {
			err = permanent{crashed} // a bug: another attempt would not help
		}
	}()

	for {
		buf := <-free
		n, rerr := p.fill(body, buf)
		written, werr := p.t.file.Write(buf[:n])
		p.t.offset += int64(written)
		toHash <- buf[:written] // offset and hash always cover the same bytes
		p.advance()
		switch {
		case werr != nil:
			return permanent{LocalError{fmt.Errorf("cannot write the video into %s: %w", p.d.Dir, pathless(werr))}}
		case rerr == io.EOF:
			return nil
		case rerr != nil:
			return rerr
		}
	}
}

// fill reads into buf until it is full or the body ends or fails.
func (p *progress) fill(body io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := body.Read(buf[n:])
		n += m
		if m > 0 {
			p.watchdog.Reset(p.stall)
		}
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// advance starts the writeback of what was written, so that the final
// sync has little left to do, and logs progress when it is time.
func (p *progress) advance() {
	if p.t.offset-p.synced >= writebackEvery {
		startWriteback(p.t.file, p.synced, p.t.offset-p.synced)
		p.synced = p.t.offset
	}
	if now := time.Now(); now.Sub(p.last) >= progressEvery {
		rate := float64(p.t.offset-p.lastOff) / now.Sub(p.last).Seconds()
		of := ""
		if p.t.total >= 0 {
			of = " of " + Size(p.t.total)
		}
		p.d.logf("%s: %s%s downloaded (%s/s)", p.t.id, Size(p.t.offset), of, Size(int64(rate)))
		p.last, p.lastOff = now, p.t.offset
	}
}

// createTemp creates an empty file for id in Dir, with a name no other
// download uses: .<id>.<random>.part. os.Root has no CreateTemp.
func (d *Downloader) createTemp(id string) (*os.File, string, error) {
	for {
		name := path.Join(d.Dir, "."+id+"."+strconv.FormatUint(rand.Uint64(), 36)+".part")
		f, err := d.Root.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if !errors.Is(err, fs.ErrExist) {
			return f, name, err
		}
	}
}

// commit makes the temporary file the final one: sync, mode, owner,
// rename, and sync the directory so the rename survives a crash.
func (d *Downloader) commit(tmp *os.File, tmpName, final string) error {
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("cannot sync %s: %w", tmpName, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if d.Owner != nil {
		if err := tmp.Chown(d.Owner.UID, d.Owner.GID); err != nil {
			return fmt.Errorf("cannot give %s to the workspace's owner: %w", tmpName, err)
		}
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := d.Root.Rename(tmpName, final); err != nil {
		return fmt.Errorf("cannot move the video into place: %w", err)
	}
	if dir, err := d.Root.Open(d.Dir); err == nil {
		_ = dir.Sync()
		dir.Close()
	}
	return nil
}

// mkdirAll creates Dir and its missing parents inside Root, each owned
// like the workspace; directories that existed are left as they are.
func (d *Downloader) mkdirAll() error {
	dir := "."
	for _, name := range strings.Split(d.Dir, "/") {
		dir = path.Join(dir, name)
		err := d.Root.Mkdir(dir, 0o755)
		switch {
		case errors.Is(err, fs.ErrExist):
		case err != nil:
			return err
		case d.Owner != nil:
			if err := d.Root.Lchown(dir, d.Owner.UID, d.Owner.GID); err != nil {
				return fmt.Errorf("cannot give %s to the workspace's owner: %w", dir, err)
			}
		}
	}
	return nil
}

func (d *Downloader) logf(format string, a ...any) {
	if d.Logf != nil {
		d.Logf(format, a...)
	}
}

func (d *Downloader) warnf(title, format string, a ...any) {
	if d.Warnf != nil {
		d.Warnf(title, format, a...)
		return
	}
	d.logf(title+": "+format, a...)
}

// videoTypes are the media types saved, with their extensions. No other
// extension is ever written but those of media.Unchecked's formats: a URL
// ending in .sh or .html is not a video.
var videoTypes = map[string]string{
	"video/mp4":        ".mp4",
	"video/webm":       ".webm",
	"video/quicktime":  ".mov",
	"video/x-matroska": ".mkv",
	"video/x-m4v":      ".m4v",
	"video/x-msvideo":  ".avi",
}

// extension picks the file's extension from the content type, else from
// the URL path when it is one of videoTypes', else .mp4.
func extension(contentType, urlPath string) string {
	if mt, _, err := mime.ParseMediaType(contentType); err == nil {
		if ext, ok := videoTypes[mt]; ok {
			return ext
		}
	}
	ext := strings.ToLower(path.Ext(urlPath))
	for _, known := range videoTypes {
		if ext == known {
			return ext
		}
	}
	return ".mp4"
}

// named is the extension a video is saved with: what its container proved
// to be, when it was verified and the declared extension says otherwise
// (a WebM served as video/mp4 is saved as .webm); else ext.
func named(info *media.Info, ext string) string {
	switch {
	case info == nil:
		return ext
	case info.Container == "webm":
		return ".webm"
	case info.Container == "matroska":
		return ".mkv"
	case containers[ext] != media.ISO:
		return ".mp4"
	}
	return ext
}

// containers are the checks for each extension saved.
var containers = map[string]media.Kind{".mp4": media.ISO, ".mov": media.ISO, ".m4v": media.ISO, ".webm": media.Matroska, ".mkv": media.Matroska}

// declared is the container that the content type, else the URL path's
// extension, declares: Unknown when neither names a video type, or one
// without a check (AVI).
func declared(contentType, urlPath string) media.Kind {
	if mt, _, err := mime.ParseMediaType(contentType); err == nil {
		if ext, ok := videoTypes[mt]; ok {
			return containers[ext]
		}
	}
	return containers[strings.ToLower(path.Ext(urlPath))]
}

// contentRange parses "bytes first-last/total" with a known total.
func contentRange(v string) (first, last, total int64, ok bool) {
	rest, found := strings.CutPrefix(strings.TrimSpace(v), "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	span, tot, found := strings.Cut(rest, "/")
	a, b, found2 := strings.Cut(span, "-")
	if !found || !found2 {
		return 0, 0, 0, false
	}
	var err1, err2, err3 error
	first, err1 = strconv.ParseInt(a, 10, 64)
	last, err2 = strconv.ParseInt(b, 10, 64)
	total, err3 = strconv.ParseInt(tot, 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || first < 0 || last < first || total <= last {
		return 0, 0, 0, false
	}
	return first, last, total, true
}

// Redact keeps a URL's scheme, host and path: the query of a presigned URL
// is its signature, which must not reach a log.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// stripURL drops the *url.Error wrapper, whose message holds the full
// URL, and the query of any URL quoted inside, such as an unparsable
// Location: the query of a presigned URL is its signature.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if msg := query.ReplaceAllString(err.Error(), "?(redacted)"); msg != err.Error() {
		return errors.New(msg)
	}
	return err
}

// query matches a URL's query up to the end of the quoted or spaced word.
var query = regexp.MustCompile(`\?[^\s"']+`)

// Size formats a byte count for people: 1.5 MiB.
func Size(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
