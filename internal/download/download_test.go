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
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prism-wait/prism-wait/internal/crash"
	"github.com/prism-wait/prism-wait/internal/media"
	"github.com/prism-wait/prism-wait/internal/prismsim"
	"github.com/prism-wait/prism-wait/internal/testnet"
)

const size = 300_000

// storage is a fake S3: it serves content with Range and ETag support
// through http.ServeContent, and a hook can change each answer.
type storage struct {
	mu       sync.Mutex
	requests []*http.Request
	times    []time.Time // when each request came
	hook     func(n int, w http.ResponseWriter, r *http.Request, c *prismsim.Content) (http.ResponseWriter, bool)
	version  int
	size     int64 // of the video; the const size when zero
}

func (s *storage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	n := len(s.requests)
	s.requests = append(s.requests, r.Clone(context.Background()))
	s.times = append(s.times, time.Now())
	version := max(s.version, 1)
	s.mu.Unlock()
	c := prismsim.NewContent("gen_1", version, cmp.Or(s.size, size))
	if s.hook != nil {
		var done bool
		if w, done = s.hook(n, w, r, c); done {
			return
		}
	}
	w.Header().Set("ETag", c.ETag())
	w.Header().Set("Content-Type", "video/mp4")
	http.ServeContent(w, r, "", time.Time{}, c)
}

// waits are the times between one request and the next.
func (s *storage) waits() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	var waits []time.Duration
	for i := 1; i < len(s.times); i++ {
		waits = append(waits, s.times[i].Sub(s.times[i-1]))
	}
	return waits
}

func (s *storage) seen() []*http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*http.Request(nil), s.requests...)
}

// cut sends only half of the body, then drops the connection.
type cut struct {
	http.ResponseWriter
	left int
}

func (c *cut) Write(b []byte) (int, error) {
	if len(b) > c.left {
		c.ResponseWriter.Write(b[:c.left])
		c.ResponseWriter.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}
	c.left -= len(b)
	return c.ResponseWriter.Write(b)
}

func sum(version int) string {
	h := sha256.New()
	io.Copy(h, prismsim.NewContent("gen_1", version, size))
	return hex.EncodeToString(h.Sum(nil))
}

// setup serves h over an in-memory connection and returns a Downloader
// whose stall timeout is an hour, and a signed URL. Call it in a bubble:
// the backoff's waits take no time, and a stall passes only when every
// goroutine waits for an hour of the bubble's clock.
func setup(t *testing.T, h http.Handler) (*Downloader, string) {
	t.Helper()
	root, err := os.OpenRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	return &Downloader{HTTP: &http.Client{Transport: testnet.Serve(t, h)}, Root: root, Dir: "videos", StallTimeout: time.Hour},
		"http://storage.test/v/gen_1.mp4?X-Amz-Signature=SIG"
}

// dir is the download directory's path on disk.
func dir(d *Downloader) string { return filepath.Join(d.Root.Name(), filepath.FromSlash(d.Dir)) }

// tapped wraps the body of the first response so that a test can wait
// until the downloader has handled n bytes: it asks for more only after
// writing them and resetting the stall watchdog.
func tapped(rt http.RoundTripper) (http.RoundTripper, *tap) {
	tp := &tap{asked: make(chan int64, 1<<16)}
	var once sync.Once
	return roundTripper(func(r *http.Request) (*http.Response, error) {
		resp, err := rt.RoundTrip(r)
		if err == nil {
			once.Do(func() { tp.ReadCloser, resp.Body = resp.Body, tp })
		}
		return resp, err
	}), tp
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

type tap struct {
	io.ReadCloser
	read  int64
	asked chan int64 // bytes read so far, at each call of Read
}

func (t *tap) Read(p []byte) (int, error) {
	select {
	case t.asked <- t.read:
	default:
	}
	n, err := t.ReadCloser.Read(p)
	t.read += int64(n)
	return n, err
}

// handled waits until the downloader has handled n bytes.
func (t *tap) handled(n int64) {
	for read := range t.asked {
		if read >= n {
			return
		}
	}
}

func noRefresh(context.Context) (string, error) { return "", errors.New("no refresh expected") }

// sent is a storage hook that serves body with contentType.
func sent(contentType string, body io.ReadSeeker) func(int, http.ResponseWriter, *http.Request, *prismsim.Content) (http.ResponseWriter, bool) {
	return func(n int, w http.ResponseWriter, r *http.Request, _ *prismsim.Content) (http.ResponseWriter, bool) {
		w.Header().Set("Content-Type", contentType)
		http.ServeContent(w, r, "", time.Time{}, body)
		return w, true
	}
}

// leftovers lists the files in dir other than want.
func leftovers(t *testing.T, dir string, want ...string) []string {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	var extra []string
	for _, e := range entries {
		if !strings.Contains(strings.Join(want, "\x00"), e.Name()) {
			extra = append(extra, e.Name())
		}
	}
	return extra
}

func TestFetch(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		hook     func(n int, w http.ResponseWriter, r *http.Request, c *prismsim.Content) (http.ResponseWriter, bool)
		version  int // of the saved file
		requests int
		ranges   []string // Range header per request
	}{
		{"plain", nil, 1, 1, []string{""}},
		{"cut connections resume", func(n int, w http.ResponseWriter, r *http.Request, c *prismsim.Content) (http.ResponseWriter, bool) {
			if n < 2 {
				return &cut{ResponseWriter: w, left: 100_000}, false
			}
			return w, false
		}, 1, 3, []string{"", "bytes=100000-", "bytes=200000-"}},
		{"no Range support starts over", func(n int, w http.ResponseWriter, r *http.Request, c *prismsim.Content) (http.ResponseWriter, bool) {
			r.Header.Del("Range")
			if n == 0 {
				return &cut{ResponseWriter: w, left: 100_000}, false
			}
			return w, false
		}, 1, 2, []string{"", "bytes=100000-"}},
		{"5xx and 429 are retried", func(n int, w http.ResponseWriter, r *http.Request, c *prismsim.Content) (http.ResponseWriter, bool) {
			if n < 2 {
				w.WriteHeader([]int{500, 429}[n])
				return w, true
			}
			return w, false
		}, 1, 3, []string{"", "", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				s := &storage{hook: tc.hook}
				d, url := setup(t, s)
				d.RetryBase = time.Nanosecond // the retries take next to no time
				var logs strings.Builder
				d.Logf = func(format string, a ...any) { fmt.Fprintf(&logs, format+"\n", a...) }
				f, err := d.Fetch(context.Background(), "gen_1", url, noRefresh)
				if err != nil {
					t.Fatal(err)
				}
				// The bubble's clock has barely moved: the rate is taken over a millisecond.
				if !strings.HasSuffix(logs.String(), "gen_1: saved videos/gen_1.mp4 (293.0 KiB in 0s, 286.1 MiB/s)\n") {
					t.Errorf("no saved line at the end of the log:\n%s", logs.String())
				}
				if again := strings.Contains(logs.String(), "whole video again"); again != (tc.name == "no Range support starts over") {
					t.Errorf("the log says the whole video was sent again: %t\n%s", again, logs.String())
				}
				if f.Path != "videos/gen_1.mp4" || f.Bytes != size || f.SHA256 != sum(tc.version) {
					t.Errorf("got %+v", f)
				}
				data, _ := d.Root.ReadFile(f.Path)
				if h := sha256.Sum256(data); hex.EncodeToString(h[:]) != sum(tc.version) {
					t.Error("the file on disk is not the video")
				}
				reqs := s.seen()
				if len(reqs) != tc.requests {
					t.Fatalf("%d requests, want %d", len(reqs), tc.requests)
				}
				for i, r := range reqs {
					if r.Header.Get("Range") != tc.ranges[i] {
						t.Errorf("request %d: Range %q, want %q", i, r.Header.Get("Range"), tc.ranges[i])
					}
					if r.Header.Get("Range") != "" && r.Header.Get("If-Range") == "" {
						t.Errorf("request %d resumes without If-Range", i)
					}
					if r.Header.Get("Authorization") != "" {
						t.Errorf("request %d carries Authorization", i)
					}
					if r.Header.Get("Accept-Encoding") != "identity" {
						t.Errorf("request %d accepts %q: a compressed body breaks resuming", i, r.Header.Get("Accept-Encoding"))
					}
				}
				if extra := leftovers(t, dir(d), "gen_1.mp4"); len(extra) > 0 {
					t.Errorf("left behind: %v", extra)
				}
			})
		})
	}
}

func TestETagChangeMidResumeStartsOver(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := &storage{}
		s.hook = func(n int, w http.ResponseWriter, r *http.Request, c *prismsim.Content) (http.ResponseWriter, bool) {
			if n == 0 {
				s.mu.Lock()
				s.version = 2 // the object changes while the first transfer runs
				s.mu.Unlock()
				return &cut{ResponseWriter: w, left: 100_000}, false
			}
			return w, false
		}
		d, url := setup(t, s)
		f, err := d.Fetch(context.Background(), "gen_1", url, noRefresh)
		if err != nil {
			t.Fatal(err)
		}
		if f.SHA256 != sum(2) {
			t.Error("the saved file mixes two versions")
		}
	})
}

// If-Range carries a strong ETag, or, without any ETag, Last-Modified.
// Without either (or with a weak ETag, which If-Range may not carry) the
// resume is a bare Range: starting over would never finish from storage
// that cuts every transfer at the same point.
func TestResumeIfRange(t *testing.T) {
	t.Parallel()
	lastModified := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		etag     string
		modified bool
		ifRange  string // of each resume
	}{
		{"none", "", false, ""},
		{"a weak ETag", `W/"v"`, true, ""},
		{"Last-Modified", "", true, lastModified.Format(http.TimeFormat)},
		{"a strong ETag", `"v"`, true, `"v"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				s := &storage{}
				s.hook = func(n int, w http.ResponseWriter, r *http.Request, c *prismsim.Content) (http.ResponseWriter, bool) {
					if tc.etag != "" {
						w.Header().Set("ETag", tc.etag)
					}
					w.Header().Set("Content-Type", "video/mp4")
					var modified time.Time
					if tc.modified {
						modified = lastModified
					}
					if n < 2 {
						// Cut at the same point of every transfer: only a
						// resume gets further.
						w = &cut{ResponseWriter: w, left: 100_000}
					}
					http.ServeContent(w, r, "", modified, c)
					return w, true
				}
				d, url := setup(t, s)
				d.RetryBase = time.Nanosecond
				f, err := d.Fetch(context.Background(), "gen_1", url, noRefresh)
				if err != nil || f.SHA256 != sum(1) {
					t.Fatalf("got %+v, %v; want the video whole", f, err)
				}
				reqs := s.seen()
				if len(reqs) != 3 {
					t.Fatalf("%d requests, want 3", len(reqs))
				}
				for i, want := range []string{"bytes=100000-", "bytes=200000-"} {
					if got := reqs[i+1].Header.Get("Range"); got != want {
						t.Errorf("resume %d: Range %q, want %q", i+1, got, want)
					}
					if got := reqs[i+1].Header.Get("If-Range"); got != tc.ifRange {
						t.Errorf("resume %d: If-Range %q, want %q", i+1, got, tc.ifRange)
					}
				}
			})
		})
	}
}

func TestETagChangeIgnoringIfRangeStartsOver(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		// A server that ignores If-Range and answers 206 from the new version.
		s := &storage{}
		s.hook = func(n int, w http.ResponseWriter, r *http.Request, c *prismsim.Content) (http.ResponseWriter, bool) {
			switch n {
			case 0:
				return &cut{ResponseWriter: w, left: 100_000}, false
			case 1:
				r.Header.Del("If-Range")
				s.mu.Lock()
				s.version = 2
				s.mu.Unlock()
				c2 := prismsim.NewContent("gen_1", 2, size)
				w.Header().Set("ETag", c2.ETag())
				http.ServeContent(w, r, "", time.Time{}, c2)
				return w, true
			}
			return w, false
		}
		d, url := setup(t, s)
		f, err := d.Fetch(context.Background(), "gen_1", url, noRefresh)
		if err != nil || f.SHA256 != sum(2) {
			t.Fatalf("got %+v, %v; want version 2 whole", f, err)
		}
	})
}

// A 206 without the ETag that the 200 had says nothing of its version:
// it starts over, and the file is one version whole.
func TestResumeWithoutItsETagStartsOver(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := &storage{}
		s.hook = func(n int, w http.ResponseWriter, r *http.Request, c *prismsim.Content) (http.ResponseWriter, bool) {
			switch n {
			case 0:
				return &cut{ResponseWriter: w, left: 100_000}, false
			case 1: // If-Range as sent, but the bytes of another version, without its ETag
				c2 := prismsim.NewContent("gen_1", 2, size)
				w.Header().Set("Content-Type", "video/mp4")
				w.Header().Set("Content-Range", fmt.Sprintf("bytes 100000-%d/%d", size-1, size))
				w.Header().Set("Content-Length", strconv.Itoa(size-100_000))
				w.WriteHeader(http.StatusPartialContent)
				io.Copy(w, io.NewSectionReader(c2, 100_000, size-100_000))
				return w, true
			}
			return w, false
		}
		d, url := setup(t, s)
		var logged []string
		d.Logf = func(format string, a ...any) { logged = append(logged, fmt.Sprintf(format, a...)) }
		f, err := d.Fetch(context.Background(), "gen_1", url, noRefresh)
		if err != nil || f.SHA256 != sum(1) {
			t.Fatalf("got %+v, %v; want version 1 whole", f, err)
		}
		if !slices.ContainsFunc(logged, func(l string) bool { return strings.Contains(l, "storage resumed the video without its ETag") }) {
			t.Errorf("the restart is not logged: %q", logged)
		}
	})
}

// The same without an ETag: a 206 whose Last-Modified is not the one of
// the bytes saved starts over.
func TestLastModifiedChangeIgnoringIfRangeStartsOver(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		first := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
		s := &storage{}
		s.hook = func(n int, w http.ResponseWriter, r *http.Request, c *prismsim.Content) (http.ResponseWriter, bool) {
			w.Header().Set("Content-Type", "video/mp4")
			switch n {
			case 0:
				http.ServeContent(&cut{ResponseWriter: w, left: 100_000}, r, "", first, c)
			default:
				r.Header.Del("If-Range")
				http.ServeContent(w, r, "", first.Add(time.Hour), prismsim.NewContent("gen_1", 2, size))
			}
			return w, true
		}
		d, url := setup(t, s)
		d.RetryBase = time.Nanosecond
		f, err := d.Fetch(context.Background(), "gen_1", url, noRefresh)
		if err != nil || f.SHA256 != sum(2) {
			t.Fatalf("got %+v, %v; want version 2 whole", f, err)
		}
	})
}

func TestExpiredURLIsRefreshed(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := &storage{}
		s.hook = func(n int, w http.ResponseWriter, r *http.Request, c *prismsim.Content) (http.ResponseWriter, bool) {
			if r.URL.Query().Get("X-Amz-Signature") != "FRESH" {
				w.WriteHeader(http.StatusForbidden)
				return w, true
			}
			return w, false
		}
		d, url := setup(t, s)
		refreshes := 0
		f, err := d.Fetch(context.Background(), "gen_1", url, func(context.Context) (string, error) {
			refreshes++
			return strings.Replace(url, "SIG", "FRESH", 1), nil
		})
		if err != nil || f.SHA256 != sum(1) || refreshes != 1 {
			t.Fatalf("got %+v, %v after %d refreshes", f, err, refreshes)
		}
	})
}

func TestFailures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		hook func(n int, w http.ResponseWriter, r *http.Request, c *prismsim.Content) (http.ResponseWriter, bool)
		says []string
	}{
		{"URL stays expired", func(n int, w http.ResponseWriter, r *http.Request, c *prismsim.Content) (http.ResponseWriter, bool) {
			w.WriteHeader(http.StatusForbidden)
			return w, true
		}, []string{"HTTP 403", "even after 3 fresh URLs: storage refuses the URLs Prism signs for this video. " + storageAdvice, "after 4 attempt(s) at 0 bytes:"}},
		{"more than declared after a resume", func(n int, w http.ResponseWriter, r *http.Request, c *prismsim.Content) (http.ResponseWriter, bool) {
			if n == 0 {
				return &cut{ResponseWriter: w, left: 100_000}, false
			}
			w.Header().Set("ETag", c.ETag())
			w.Header().Set("Content-Range", fmt.Sprintf("bytes 100000-%d/%d", size-1, size))
			w.WriteHeader(http.StatusPartialContent) // no Content-Length: chunked
			w.Write(make([]byte, 250_000))
			return w, true
		}, []string{"sent more than the 300000 bytes it declared", "at 300001 of 300000 bytes"}},
		{"body always short", func(n int, w http.ResponseWriter, r *http.Request, c *prismsim.Content) (http.ResponseWriter, bool) {
			r.Header.Del("Range")
			return &cut{ResponseWriter: w, left: 1000}, false
		}, []string{"after 7 attempt(s) at 1000 of 300000 bytes", "6 attempts in a row got no further than byte 1000", "the last: connection lost: unexpected EOF. " + storageAdvice}},
		{"body always short, resume answered with an impossible range", func(n int, w http.ResponseWriter, r *http.Request, c *prismsim.Content) (http.ResponseWriter, bool) {
			if r.Header.Get("Range") == "" {
				return &cut{ResponseWriter: w, left: 1000}, false
			}
			w.Header().Set("Content-Range", "bytes 1000-999/1000")
			w.WriteHeader(http.StatusPartialContent)
			return w, true
		}, []string{"after 7 attempt(s) at 1000 of 300000 bytes", "6 attempts in a row got no further than byte 1000"}},
		{"every resume answered from a new version", func(n int, w http.ResponseWriter, r *http.Request, c *prismsim.Content) (http.ResponseWriter, bool) {
			r.Header.Del("If-Range") // as if it were ignored
			w.Header().Set("ETag", fmt.Sprintf(`"v%d"`, n))
			http.ServeContent(&cut{ResponseWriter: w, left: 100_000}, r, "", time.Time{}, c)
			return w, true
		}, []string{"after 7 attempt(s) at 100000 of 300000 bytes", "6 attempts in a row got no further than byte 100000"}},
		{"not found", func(n int, w http.ResponseWriter, r *http.Request, c *prismsim.Content) (http.ResponseWriter, bool) {
			w.WriteHeader(http.StatusNotFound)
			return w, true
		}, []string{"storage answered HTTP 404 for http://storage.test/v/gen_1.mp4. " + storageAdvice, "after 1 attempt(s)"}},
		{"range disagrees with length", func(n int, w http.ResponseWriter, r *http.Request, c *prismsim.Content) (http.ResponseWriter, bool) {
			if n == 0 {
				return &cut{ResponseWriter: w, left: 100_000}, false
			}
			w.Header().Set("Content-Range", fmt.Sprintf("bytes 100000-%d/%d", size-1, size))
			w.Header().Set("ETag", r.Header.Get("If-Range"))
			w.Header().Set("Content-Length", "250000") // more than the range holds
			w.WriteHeader(http.StatusPartialContent)
			w.Write(make([]byte, 250000))
			return w, true
		}, []string{"disagrees with Content-Range"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				d, url := setup(t, &storage{hook: tc.hook})
				_, err := d.Fetch(context.Background(), "gen_1", url, func(context.Context) (string, error) { return url, nil })
				var de *Error
				if !errors.As(err, &de) {
					t.Fatalf("err = %v, want *Error", err)
				}
				if de.Local() {
					t.Errorf("storage's failure is taken for the runner's disk: %v", err)
				}
				for _, s := range append(tc.says, "gen_1") {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not say %q", err, s)
					}
				}
				if strings.Contains(err.Error(), "SIG") {
					t.Errorf("error shows the URL's signature: %v", err)
				}
				if extra := leftovers(t, dir(d)); len(extra) > 0 {
					t.Errorf("left behind: %v", extra)
				}
			})
		})
	}
}

func TestCancelMidDownloadLeavesNothing(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancelCause(context.Background())
		s := &storage{hook: func(n int, w http.ResponseWriter, r *http.Request, c *prismsim.Content) (http.ResponseWriter, bool) {
			w.Header().Set("Content-Length", fmt.Sprint(size))
			w.WriteHeader(200)
			w.Write(make([]byte, 1000))
			w.(http.Flusher).Flush()
			cancel(errors.New("the job was cancelled"))
			<-r.Context().Done()
			return w, true
		}}
		d, url := setup(t, s)
		_, err := d.Fetch(ctx, "gen_1", url, noRefresh)
		if err == nil || !strings.Contains(err.Error(), "the job was cancelled") {
			t.Fatalf("err = %v", err)
		}
		if extra := leftovers(t, dir(d)); len(extra) > 0 {
			t.Errorf("left behind: %v", extra)
		}
	})
}

func TestStalledTransferIsResumed(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := &storage{hook: func(n int, w http.ResponseWriter, r *http.Request, c *prismsim.Content) (http.ResponseWriter, bool) {
			if n == 0 {
				w.Header().Set("ETag", c.ETag())
				w.Header().Set("Content-Length", fmt.Sprint(size))
				w.WriteHeader(200)
				io.CopyN(w, c, 1000)
				w.(http.Flusher).Flush()
				<-r.Context().Done()
				return w, true
			}
			return w, false
		}}
		d, url := setup(t, s)
		var logs strings.Builder
		d.Logf = func(format string, a ...any) { fmt.Fprintf(&logs, format+"\n", a...) }
		// Once the first 1000 bytes are in, every goroutine waits: the
		// bubble's clock moves on to the stall timeout.
		start := time.Now()
		f, err := d.Fetch(context.Background(), "gen_1", url, noRefresh)
		if err != nil || f.SHA256 != sum(1) {
			t.Fatalf("got %+v, %v", f, err)
		}
		if w := s.waits(); len(w) != 1 || w[0] < time.Hour || time.Since(start) != w[0] {
			t.Errorf("resumed after %v, want after the hour of the stall timeout and a backoff step", w)
		}
		if reqs := s.seen(); len(reqs) != 2 || reqs[1].Header.Get("Range") != "bytes=1000-" {
			t.Errorf("expected a resume from byte 1000")
		}
		if !strings.Contains(logs.String(), "storage sent nothing for 1h0m0s") {
			t.Errorf("the log does not say why the attempt ended:\n%s", logs.String())
		}
	})
}

// emptyReads is a body that, after its first bytes, returns nothing and
// no error, a second apart, until its request ends.
type emptyReads struct {
	ctx  context.Context
	head int
}

func (e *emptyReads) Read(p []byte) (int, error) {
	if e.head > 0 {
		n := min(e.head, len(p))
		e.head -= n
		return n, nil
	}
	select {
	case <-e.ctx.Done():
		return 0, context.Cause(e.ctx)
	case <-time.After(time.Second):
		return 0, nil
	}
}

func (e *emptyReads) Close() error { return nil }

// Reads that return no bytes are no progress: the stall watchdog still
// ends the attempt, and the download gives up after its attempts instead
// of waiting for ever.
func TestEmptyReadsAreAStall(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		d, url := setup(t, http.NotFoundHandler())
		d.StallTimeout = 10 * time.Second
		d.HTTP.Transport = roundTripper(func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"video/mp4"}}, ContentLength: -1,
				Body: &emptyReads{ctx: r.Context(), head: 10}, Request: r}, nil
		})
		ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
		defer cancel()
		_, err := d.Fetch(ctx, "gen_1", url, noRefresh)
		if err == nil || !strings.Contains(err.Error(), "storage sent nothing for 10s") {
			t.Errorf("err = %v, want the stall", err)
		}
	})
}

func TestSilentHostIsAbandoned(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := &storage{hook: func(n int, w http.ResponseWriter, r *http.Request, c *prismsim.Content) (http.ResponseWriter, bool) {
			<-r.Context().Done() // accepts the connection, never answers
			return w, true
		}}
		d, url := setup(t, s)
		d.StallTimeout = 0 // the default, 30s
		_, err := d.Fetch(context.Background(), "gen_1", url, noRefresh)
		var de *Error
		if !errors.As(err, &de) || !strings.Contains(err.Error(), "storage sent nothing for 30s") {
			t.Fatalf("err = %v, want a *Error naming the stall", err)
		}
		if de.Attempts != 6 {
			t.Errorf("gave up after %d attempts, want 6", de.Attempts)
		}
	})
}

func TestOwnership(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("handing files to another owner needs root, as in the action's container")
		}
		d, url := setup(t, &storage{})
		if err := d.Root.Mkdir("old", 0o755); err != nil {
			t.Fatal(err)
		}
		d.Dir = "old/videos/deep er"
		d.Owner = &Owner{UID: 4242, GID: 4343}
		f, err := d.Fetch(context.Background(), "gen_1", url, noRefresh)
		if err != nil {
			t.Fatal(err)
		}
		if f.Path != "old/videos/deep er/gen_1.mp4" {
			t.Errorf("Path = %q", f.Path)
		}
		for _, p := range []string{f.Path, d.Dir, "old/videos"} {
			p = filepath.Join(d.Root.Name(), p)
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			st := fi.Sys().(*syscall.Stat_t)
			if st.Uid != 4242 || st.Gid != 4343 {
				t.Errorf("%s is owned by %d:%d", p, st.Uid, st.Gid)
			}
		}
		for _, p := range []string{"old", "."} {
			if fi, _ := d.Root.Stat(p); fi.Sys().(*syscall.Stat_t).Uid == 4242 {
				t.Errorf("%s existed before and was given away", p)
			}
		}
	})
}

func TestExtension(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ ct, path, want string }{
		{"video/mp4", "/x", ".mp4"},
		{"video/webm; codecs=vp9", "/x.mp4", ".webm"},
		{"application/octet-stream", "/v/x.MOV", ".mov"},
		{"", "/v/x", ".mp4"},
		{"", "/v/x.exe%00.sh/../", ".mp4"},
		{"", "/v/x.toolongext", ".mp4"},
		{"video/quicktime", "/x", ".mov"},
		{"video/x-matroska", "/x", ".mkv"},
		{"video/x-m4v", "/x", ".m4v"},
		{"video/x-msvideo", "/x", ".avi"},
		{"", "/v/x.webm", ".webm"},
		{"", "/v/x.mkv", ".mkv"},
		{"text/html", "/v/x.html", ".mp4"},
		{"application/x-sh", "/v/gen_x.sh", ".mp4"},
		{"image/gif", "/v/x.gif", ".mp4"},
		{"", "/v/x.mp4.sh", ".mp4"},
		{"video/", "/v/x.m4v", ".m4v"},
	} {
		if got := extension(tc.ct, tc.path); got != tc.want {
			t.Errorf("extension(%q, %q) = %q, want %q", tc.ct, tc.path, got, tc.want)
		}
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	if got := Redact("https://b.s3.amazonaws.com/v/x.mp4?X-Amz-Signature=abc&X-Amz-Credential=def#frag"); got != "https://b.s3.amazonaws.com/v/x.mp4" {
		t.Errorf("Redact = %q", got)
	}
}

func FuzzContentRange(f *testing.F) {
	f.Add("bytes 0-9/10")
	f.Add("bytes 5-4/10")
	f.Add("bytes */10")
	f.Fuzz(func(t *testing.T, v string) {
		first, last, total, ok := contentRange(v)
		if ok && (first < 0 || last < first || total <= last) {
			t.Fatalf("contentRange(%q) = %d-%d/%d", v, first, last, total)
		}
	})
}

func TestRedirectToAnotherHostCarriesNoCredentials(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		final := &storage{}
		first := &storage{hook: func(n int, w http.ResponseWriter, r *http.Request, c *prismsim.Content) (http.ResponseWriter, bool) {
			http.Redirect(w, r, "http://other.test/elsewhere/gen_1.mp4?X-Amz-Signature=OTHER", http.StatusTemporaryRedirect)
			return w, true
		}}
		d, url := setup(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Host == "other.test" {
				final.ServeHTTP(w, r)
				return
			}
			first.ServeHTTP(w, r)
		}))
		f, err := d.Fetch(context.Background(), "gen_1", url, noRefresh)
		if err != nil || f.SHA256 != sum(1) {
			t.Fatalf("got %+v, %v", f, err)
		}
		for _, r := range append(first.seen(), final.seen()...) {
			// net/http's Referer would be the first URL, signature and all.
			if r.Header.Get("Authorization") != "" || r.Header.Get("Cookie") != "" || r.Header.Get("Referer") != "" {
				t.Errorf("%s carried credentials: %v", r.URL, r.Header)
			}
		}
		if len(final.seen()) != 1 {
			t.Errorf("the other host saw %d requests, want 1", len(final.seen()))
		}
	})
}

// CheckURL refuses a URL before any request to it, the video's own or a
// redirect's: the download ends at once, with its reason, and no file.
func TestARefusedURLIsNotFetched(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		other := &storage{}
		first := &storage{hook: func(n int, w http.ResponseWriter, r *http.Request, c *prismsim.Content) (http.ResponseWriter, bool) {
			http.Redirect(w, r, "http://other.test/v/gen_1.mp4", http.StatusFound)
			return w, true
		}}
		d, url := setup(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Host == "other.test" {
				other.ServeHTTP(w, r)
				return
			}
			first.ServeHTTP(w, r)
		}))
		d.CheckURL = func(u *neturl.URL) error {
			if u.Host == "other.test" {
				return errors.New("other.test is not storage")
			}
			return nil
		}
		_, err := d.Fetch(context.Background(), "gen_1", url, noRefresh)
		var de *Error
		if !errors.As(err, &de) || de.Attempts != 1 || !strings.Contains(err.Error(), "other.test is not storage") || len(other.seen()) != 0 || len(first.seen()) != 1 {
			t.Errorf("redirect: %v; %d and %d requests, want 1 and 0", err, len(first.seen()), len(other.seen()))
		}
		d.CheckURL = func(*neturl.URL) error { return errors.New("not this one") }
		_, err = d.Fetch(context.Background(), "gen_1", url, noRefresh)
		if !errors.As(err, &de) || de.Attempts != 1 || !strings.Contains(err.Error(), "not this one") || len(first.seen()) != 1 {
			t.Errorf("the video's URL: %v; %d requests, want none more", err, len(first.seen()))
		}
		if entries, _ := os.ReadDir(dir(d)); len(entries) != 0 {
			t.Errorf("left %v", entries)
		}
	})
}

func TestEndlessRedirectsEnd(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		loop := &storage{hook: func(n int, w http.ResponseWriter, r *http.Request, c *prismsim.Content) (http.ResponseWriter, bool) {
			http.Redirect(w, r, fmt.Sprintf("/v/gen_1.mp4?hop=%d", n), http.StatusFound)
			return w, true
		}}
		d, url := setup(t, loop)
		_, err := d.Fetch(context.Background(), "gen_1", url, noRefresh)
		if err == nil || !strings.Contains(err.Error(), "stopped after 10 redirects") {
			t.Fatalf("err = %v, want the redirects stopped", err)
		}
		if n := len(loop.seen()); n == 0 || n%10 != 0 {
			t.Errorf("%d requests, want 10 an attempt (the first and 9 redirects)", n)
		}
		// The client's own policy, when it has one, decides.
		d.HTTP.CheckRedirect = func(*http.Request, []*http.Request) error { return errors.New("no redirect wanted") }
		if _, err := d.Fetch(context.Background(), "gen_1", url, noRefresh); err == nil || !strings.Contains(err.Error(), "no redirect wanted") {
			t.Errorf("err = %v, want the client's policy", err)
		}
	})
}

func TestSymlinkOutOfWorkspaceIsRefused(t *testing.T) {
	t.Parallel()
	// plant replaces the workspace's videos directory with a symlink to
	// outside, as another step could while the program waited.
	plant := func(t *testing.T, workspace, outside string) {
		if err := os.Rename(filepath.Join(workspace, "videos"), filepath.Join(workspace, "moved")); err != nil {
			t.Error(err)
		}
		if err := os.Symlink(outside, filepath.Join(workspace, "videos")); err != nil {
			t.Error(err)
		}
	}
	for _, tc := range []struct {
		name   string
		before bool // planted before Fetch, else between two attempts
	}{
		{"planted while waiting", true},
		{"swapped in between attempts", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				outside := t.TempDir()
				s := &storage{}
				d, url := setup(t, s)
				workspace := d.Root.Name()
				s.hook = func(n int, w http.ResponseWriter, r *http.Request, c *prismsim.Content) (http.ResponseWriter, bool) {
					if n == 0 && !tc.before {
						return &cut{ResponseWriter: w, left: 100_000}, false
					}
					if n == 1 {
						plant(t, workspace, outside)
					}
					return w, false
				}
				if tc.before {
					if err := os.Mkdir(filepath.Join(workspace, "videos"), 0o755); err != nil {
						t.Fatal(err)
					}
					plant(t, workspace, outside)
				}
				_, err := d.Fetch(context.Background(), "gen_1", url, noRefresh)
				var de *Error
				if !errors.As(err, &de) {
					t.Fatalf("err = %v, want *Error", err)
				}
				if entries, _ := os.ReadDir(outside); len(entries) > 0 {
					t.Errorf("written outside the workspace: %v", entries)
				}
				if tc.before && len(s.seen()) > 0 {
					t.Error("downloaded a video with nowhere to put it")
				}
			})
		})
	}
}

func TestPathIsExact(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{".", "my videos", "a/b c/d"} {
		t.Run(dir, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				d, url := setup(t, &storage{})
				d.Dir = dir
				f, err := d.Fetch(context.Background(), "gen_1", url, noRefresh)
				if err != nil {
					t.Fatal(err)
				}
				if want := strings.TrimPrefix(dir+"/gen_1.mp4", "./"); f.Path != want {
					t.Errorf("Path = %q, want %q", f.Path, want)
				}
				if data, err := d.Root.ReadFile(f.Path); err != nil || int64(len(data)) != f.Bytes {
					t.Errorf("the file at Path holds %d bytes (%v), want %d", len(data), err, f.Bytes)
				}
			})
		})
	}
}

func TestNoSignatureInErrors(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := &storage{hook: func(n int, w http.ResponseWriter, r *http.Request, c *prismsim.Content) (http.ResponseWriter, bool) {
			w.Header().Set("Location", "https://bad host/v/gen_1.mp4?X-Amz-Signature=SIG")
			w.WriteHeader(http.StatusFound)
			return w, true
		}}
		d, url := setup(t, s)
		var logs strings.Builder
		d.Logf = func(format string, a ...any) { fmt.Fprintf(&logs, format+"\n", a...) }
		_, err := d.Fetch(context.Background(), "gen_1", url, noRefresh)
		var de *Error
		if !errors.As(err, &de) {
			t.Fatalf("err = %v, want *Error", err)
		}
		if !strings.Contains(err.Error(), "Location") {
			t.Errorf("error %q does not say what failed", err)
		}
		if out := err.Error() + logs.String(); strings.Contains(out, "SIG") {
			t.Errorf("the signature is shown:\n%s", out)
		}
		_, err = d.Fetch(context.Background(), "gen_1", "https://bad host/v/gen_1.mp4?X-Amz-Signature=SIG", noRefresh)
		if !errors.As(err, &de) || strings.Contains(err.Error(), "SIG") {
			t.Errorf("err = %v, want a *Error without the signature", err)
		}
	})
}

func TestLimits(t *testing.T) {
	t.Parallel()
	// roomFor is a disk with space for exactly n bytes beside the file.
	roomFor := func(n int64) func(*os.File) (int64, error) {
		return func(f *os.File) (int64, error) {
			fi, err := f.Stat()
			if err != nil {
				return 0, err
			}
			return n - fi.Size(), nil
		}
	}
	endless := func(n int, w http.ResponseWriter, r *http.Request, c *prismsim.Content) (http.ResponseWriter, bool) {
		w.WriteHeader(http.StatusOK) // no Content-Length: chunked
		for b := make([]byte, 32<<10); ; {
			if _, err := w.Write(b); err != nil {
				return w, true
			}
		}
	}
	for _, tc := range []struct {
		name     string
		maxBytes int64
		free     func(*os.File) (int64, error)
		hook     func(n int, w http.ResponseWriter, r *http.Request, c *prismsim.Content) (http.ResponseWriter, bool)
		says     []string // nothing for a download that succeeds
		requests int
	}{
		{"declared size over the cap", size - 1, nil, nil,
			[]string{"declares 300000 bytes (293.0 KiB), more than the cap of 299999", "after 1 attempt(s) at 0 of 300000 bytes"}, 1},
		{"declared size at the cap", size, nil, nil, nil, 1},
		{"endless body cut at the cap", 100_000, nil, endless,
			[]string{"larger than the cap of 100000 bytes (97.7 KiB)", "after 1 attempt(s)"}, 1},
		{"no room on disk", 0, roomFor(size - 1), nil,
			[]string{"not enough free space", "300000 bytes needed (293.0 KiB), 299999 free (293.0 KiB)"}, 1},
		{"room for the rest after a cut", 0, roomFor(size), func(n int, w http.ResponseWriter, r *http.Request, c *prismsim.Content) (http.ResponseWriter, bool) {
			if n == 0 {
				return &cut{ResponseWriter: w, left: 100_000}, false
			}
			return w, false
		}, nil, 2},
		{"free space unknown", 0, func(*os.File) (int64, error) { return 0, errors.ErrUnsupported }, nil, nil, 1},
		{"the real disk", 0, nil, nil, nil, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				s := &storage{hook: tc.hook}
				d, url := setup(t, s)
				d.MaxBytes, d.freeSpace = tc.maxBytes, tc.free
				f, err := d.Fetch(context.Background(), "gen_1", url, noRefresh)
				if n := len(s.seen()); n != tc.requests {
					t.Errorf("%d requests, want %d", n, tc.requests)
				}
				if tc.says == nil {
					if err != nil || f.Bytes != size {
						t.Fatalf("got %+v, %v", f, err)
					}
					return
				}
				var de *Error
				if !errors.As(err, &de) {
					t.Fatalf("err = %v, want *Error", err)
				}
				if local := tc.free != nil; de.Local() != local || de.Full() != local {
					t.Errorf("Local() = %t, Full() = %t, want %t: %v", de.Local(), de.Full(), local, err)
				}
				for _, s := range tc.says {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not say %q", err, s)
					}
				}
				if extra := leftovers(t, dir(d)); len(extra) > 0 {
					t.Errorf("left behind: %v", extra)
				}
			})
		})
	}
}

func TestSlowTransferIsNotAbandoned(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		next := make(chan struct{})
		s := &storage{hook: func(n int, w http.ResponseWriter, r *http.Request, c *prismsim.Content) (http.ResponseWriter, bool) {
			w.Header().Set("ETag", c.ETag())
			w.Header().Set("Content-Length", fmt.Sprint(size))
			for i := range 3 {
				if i > 0 {
					<-next
				}
				io.CopyN(w, c, size/3)
				w.(http.Flusher).Flush()
			}
			return w, true
		}}
		d, url := setup(t, s)
		var tp *tap
		d.HTTP.Transport, tp = tapped(d.HTTP.Transport)
		done := make(chan error)
		go func() {
			_, err := d.Fetch(context.Background(), "gen_1", url, noRefresh)
			done <- err
		}()
		for i := range int64(2) {
			tp.handled((i + 1) * size / 3)
			time.Sleep(time.Hour - time.Second) // two of these pass the stall timeout
			next <- struct{}{}
		}
		if err := <-done; err != nil || len(s.seen()) != 1 {
			t.Errorf("err = %v after %d requests; want one request that never stalled", err, len(s.seen()))
		}
	})
}

func TestLargeVideo(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const large = blocks*blockSize + 12345 // fills every block, then some
		s := &storage{size: large}
		d, url := setup(t, s)
		f, err := d.Fetch(context.Background(), "gen_1", url, noRefresh)
		h := sha256.New()
		io.Copy(h, prismsim.NewContent("gen_1", 1, large))
		if err != nil || f.Bytes != large || f.SHA256 != hex.EncodeToString(h.Sum(nil)) {
			t.Fatalf("got %+v, %v", f, err)
		}
	})
}

func TestProgress(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name           string
		after          time.Duration
		synced, offset int64
		total          int64
		want           string // the line logged, if any
		wantSynced     int64
	}{
		{"too soon", progressEvery - 1, 0, 5 << 20, -1, "", 0},
		{"on time", progressEvery, 0, 10<<20 + 1000, -1, "gen_1: 10.0 MiB downloaded (1.0 MiB/s)\n", 0},
		{"of a known size", 2 * progressEvery, 0, 10<<20 + 1000, 30 << 20, "gen_1: 10.0 MiB of 30.0 MiB downloaded (512.0 KiB/s)\n", 0},
		{"of nothing", progressEvery, 0, 1000, 0, "gen_1: 1000 B of 0 B downloaded (0 B/s)\n", 0},
		{"writeback not due", 0, 1 << 20, 1<<20 + writebackEvery - 1, -1, "", 1 << 20},
		{"writeback due", 0, 1 << 20, 1<<20 + writebackEvery, -1, "", 1<<20 + writebackEvery},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				var logs strings.Builder
				d := &Downloader{Logf: func(format string, a ...any) { fmt.Fprintf(&logs, format+"\n", a...) }}
				tmp, err := os.CreateTemp(t.TempDir(), "")
				if err != nil {
					t.Fatal(err)
				}
				defer tmp.Close()
				tr := &transfer{id: "gen_1", file: tmp, offset: tc.offset, total: tc.total}
				p := &progress{d: d, t: tr, last: time.Now(), lastOff: 1000, synced: tc.synced}
				time.Sleep(tc.after)
				p.advance()
				if logs.String() != tc.want {
					t.Errorf("logged %q, want %q", logs.String(), tc.want)
				}
				if p.synced != tc.wantSynced {
					t.Errorf("writeback started up to %d, want %d", p.synced, tc.wantSynced)
				}
			})
		})
	}
}

func TestContentRange(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		v                  string
		first, last, total int64
		ok                 bool
	}{
		{"bytes 0-9/10", 0, 9, 10, true},
		{" bytes 5-5/10 ", 5, 5, 10, true},
		{"bytes 5-4/10", 0, 0, 0, false},
		{"bytes 0-9/9", 0, 0, 0, false},
		{"bytes 0-9/*", 0, 0, 0, false},
		{"bytes */10", 0, 0, 0, false},
		{"bytes 0-9", 0, 0, 0, false},
		{"bytes 09", 0, 0, 0, false},
		{"items 0-9/10", 0, 0, 0, false},
		{"bytes x-9/10", 0, 0, 0, false},
	} {
		first, last, total, ok := contentRange(tc.v)
		if first != tc.first || last != tc.last || total != tc.total || ok != tc.ok {
			t.Errorf("contentRange(%q) = %d, %d, %d, %t", tc.v, first, last, total, ok)
		}
	}
}

func TestErrorText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		e    Error
		want string
	}{
		{Error{ID: "gen_1", Got: 5, Want: -1, Attempts: 2, Err: errExpired}, "download of gen_1 failed after 2 attempt(s) at 5 bytes: storage refused the signed URL (HTTP 403)"},
		{Error{ID: "gen_1", Got: 0, Want: 0, Attempts: 1, Err: errExpired}, "download of gen_1 failed after 1 attempt(s) at 0 of 0 bytes: storage refused the signed URL (HTTP 403)"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
		if !errors.Is(&tc.e, errExpired) {
			t.Errorf("%v does not unwrap", &tc.e)
		}
	}
}

func TestSize(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 3 << 19: "1.5 MiB", 5 << 29: "2.50 GiB"} {
		if got := Size(n); got != want {
			t.Errorf("Size(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestCannotCreate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ dir, says string }{
		{"file/videos", "download of gen_1 failed before any request: cannot create file/videos: not a directory"},
		{"file", "download of gen_1 failed before any request: cannot create a file in file: not a directory"},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				s := &storage{}
				d, url := setup(t, s)
				if err := d.Root.WriteFile("file", nil, 0o644); err != nil {
					t.Fatal(err)
				}
				d.Dir = tc.dir
				_, err := d.Fetch(context.Background(), "gen_1", url, noRefresh)
				var de *Error
				if !errors.As(err, &de) || err.Error() != tc.says || !de.Local() || de.Want != -1 || de.Got != 0 {
					t.Errorf("err = %#v, want a local *Error saying %q, of no known size", err, tc.says)
				}
				if len(s.seen()) > 0 {
					t.Error("downloaded a video with nowhere to put it")
				}
			})
		})
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		base     time.Duration
		min, max time.Duration // of every wait
	}{
		{"default first step", 0, 250 * time.Millisecond, 4 * time.Second},
		{"capped", 8 * time.Second, 4 * time.Second, 15 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				s := &storage{hook: func(n int, w http.ResponseWriter, r *http.Request, c *prismsim.Content) (http.ResponseWriter, bool) {
					w.WriteHeader(http.StatusServiceUnavailable)
					return w, true
				}}
				d, url := setup(t, s)
				d.RetryBase = tc.base
				d.Fetch(context.Background(), "gen_1", url, noRefresh)
				waits := s.waits()
				if len(waits) != maxFutile-1 {
					t.Fatalf("%d waits, want %d", len(waits), maxFutile-1)
				}
				if tc.base == 0 && waits[0] > 750*time.Millisecond {
					t.Errorf("first wait %s, want at most 750ms", waits[0])
				}
				for _, w := range waits {
					if w < tc.min || w > tc.max {
						t.Errorf("waited %s, want %s to %s: %v", w, tc.min, tc.max, waits)
					}
				}
			})
		})
	}
}

// panicky is a hash that panics, standing for a bug in the hashing
// goroutine.
type panicky struct{ hash.Hash }

func (panicky) Write([]byte) (int, error) { panic("hash exploded") }

// A full disk is the runner's failure, said in the download directory's
// terms (not the temporary file's absolute path), and permanent: no
// connection was lost, and another attempt would fill the disk again.
func TestAFullDiskIsLocal(t *testing.T) {
	t.Parallel()
	f, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skip("no /dev/full here:", err)
	}
	defer f.Close()
	synctest.Test(t, func(t *testing.T) {
		d, url := setup(t, &storage{})
		d.freeSpace = func(*os.File) (int64, error) { return size, nil } // /dev/full says it has no room at all
		err := d.attempt(context.Background(), &transfer{id: "gen_1", url: url, file: f, sum: sha256.New(), total: -1})
		de := &Error{ID: "gen_1", Err: err}
		if !errors.As(err, new(permanent)) || !de.Local() || !de.Full() || err.Error() != "cannot write the video into videos: no space left on device" {
			t.Errorf("err = %v (Local %t), want a permanent local error without the file's path", err, de.Local())
		}
	})
}

func TestAPanicWhileHashingIsAPermanentInternalError(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		f, err := os.Create(filepath.Join(t.TempDir(), "part"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		watchdog := time.AfterFunc(time.Hour, func() {})
		defer watchdog.Stop()
		p := &progress{d: &Downloader{}, t: &transfer{file: f, sum: panicky{sha256.New()}, total: -1},
			watchdog: watchdog, stall: time.Hour, last: time.Now()}
		err = p.copyFrom(strings.NewReader(strings.Repeat("x", 3*blockSize)))
		var perm permanent
		var cp *crash.Panic
		if !errors.As(err, &perm) || !errors.As(err, &cp) || cp.Value != "hash exploded" {
			t.Fatalf("err = %#v, want a permanent *crash.Panic", err)
		}
	})
}

// serveVideo answers with v's content, as S3 would serve that object.
func serveVideo(v prismsim.Video) func(int, http.ResponseWriter, *http.Request, *prismsim.Content) (http.ResponseWriter, bool) {
	return func(n int, w http.ResponseWriter, r *http.Request, _ *prismsim.Content) (http.ResponseWriter, bool) {
		c := v.Content("gen_1", 1)
		w.Header().Set("ETag", c.ETag())
		w.Header().Set("Content-Type", cmp.Or(v.ContentType, "video/mp4"))
		http.ServeContent(w, r, "", time.Time{}, c)
		return w, true
	}
}

// answer is a 200 with this content type and body, and a Content-Length
// unless told not to: then the body ends when the connection closes.
func answer(contentType, body string, noLength bool) func(int, http.ResponseWriter, *http.Request, *prismsim.Content) (http.ResponseWriter, bool) {
	return func(n int, w http.ResponseWriter, r *http.Request, _ *prismsim.Content) (http.ResponseWriter, bool) {
		w.Header().Set("Content-Type", contentType)
		if noLength {
			w.Header().Set("Transfer-Encoding", "identity")
		} else {
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		}
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, body)
		return w, true
	}
}

// padded makes a file of media.MinUnchecked bytes from head, zeros after.
func padded(head string) string {
	return head + strings.Repeat("\x00", max(media.MinUnchecked-len(head), 0))
}

func TestWholeVideosAreVerified(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		hook  func(int, http.ResponseWriter, *http.Request, *prismsim.Content) (http.ResponseWriter, bool)
		path  string
		media *media.Info
		logs  string
	}{
		{"mp4", serveVideo(prismsim.Video{Width: 1920, Height: 1080, Duration: prismsim.Duration(8 * time.Second)}), "videos/gen_1.mp4",
			&media.Info{Container: "mp4", Codec: "avc1", Width: 1920, Height: 1080, Duration: 8 * time.Second}, "gen_1: verified videos/gen_1.mp4: MP4, avc1, 1920x1080, 8s\n"},
		{"webm", serveVideo(prismsim.Video{ContentType: "video/webm", Codec: "av01", Width: 640, Height: 360, Duration: prismsim.Duration(2500 * time.Millisecond)}), "videos/gen_1.webm",
			&media.Info{Container: "webm", Codec: "av01", Width: 640, Height: 360, Duration: 2500 * time.Millisecond}, "gen_1: verified videos/gen_1.webm: WEBM, av01, 640x360, 2.5s\n"},
		{"a WebM sent as application/octet-stream", sent("application/octet-stream", prismsim.Video{ContentType: "video/webm"}.Content("gen_1", 1)), "videos/gen_1.webm",
			&media.Info{Container: "webm", Codec: "vp09", Width: 1280, Height: 720, Duration: 8 * time.Second}, "gen_1: verified videos/gen_1.webm: WEBM, vp09, 1280x720, 8s\n"},
		// Named by what the bytes proved, not by what the type declared.
		{"a WebM sent as video/mp4", sent("video/mp4", prismsim.Video{ContentType: "video/webm"}.Content("gen_1", 1)), "videos/gen_1.webm",
			&media.Info{Container: "webm", Codec: "vp09", Width: 1280, Height: 720, Duration: 8 * time.Second}, "gen_1: verified videos/gen_1.webm: WEBM, vp09, 1280x720, 8s\n"},
		{"an MP4 sent as video/webm", sent("video/webm", prismsim.Video{}.Content("gen_1", 1)), "videos/gen_1.mp4",
			&media.Info{Container: "mp4", Codec: "avc1", Width: 1280, Height: 720, Duration: 8 * time.Second}, "gen_1: verified videos/gen_1.mp4: MP4, avc1, 1280x720, 8s\n"},
		{"an MP4 sent as video/quicktime keeps .mov", sent("video/quicktime", prismsim.Video{}.Content("gen_1", 1)), "videos/gen_1.mov",
			&media.Info{Container: "mp4", Codec: "avc1", Width: 1280, Height: 720, Duration: 8 * time.Second}, "gen_1: verified videos/gen_1.mov: MP4, avc1, 1280x720, 8s\n"},
		{"avi: no check", serveVideo(prismsim.Video{ContentType: "video/x-msvideo"}), "videos/gen_1.avi", nil,
			"Video not verified: gen_1: saved videos/gen_1.avi without checking that it is a whole video: its first bytes show an AVI video, a format without a check (prism-wait checks MP4, MOV, M4V, WebM and MKV). Check the file in a later step if that matters.\n"},
		// Named by its bytes, whatever the type declared.
		{"an AVI sent as video/mp4", sent("video/mp4", strings.NewReader(padded("RIFF\x0c\x00\x00\x00AVI JUNK\x00\x00\x00\x00"))), "videos/gen_1.avi", nil, "its first bytes show an AVI video"},
		// Text that is a video: saved unverified, not refused.
		{"Y4M, whose header is text", sent("application/octet-stream", strings.NewReader(padded("YUV4MPEG2 W1280 H720 F25:1 Ip A1:1 C420jpeg\nFRAME\n"))), "videos/gen_1.y4m", nil,
			"Video not verified: gen_1: saved videos/gen_1.y4m without checking that it is a whole video: its first bytes show a Y4M video"},
		{"MPEG-TS that declares no type", sent("binary/octet-stream", strings.NewReader(padded("\x47\x40\x00\x10"+strings.Repeat("\xff", 184)+"\x47\x40\x00\x11"))), "videos/gen_1.ts", nil,
			"its first bytes show an MPEG transport stream"},
		{"MPEG-PS", sent("binary/octet-stream", strings.NewReader(padded("\x00\x00\x01\xba\x44"))), "videos/gen_1.mpg", nil, "an MPEG program stream"},
		{"FLV", sent("video/x-flv", strings.NewReader(padded("FLV\x01\x05\x00\x00\x00\x09"))), "videos/gen_1.flv", nil, "an FLV video"},
		{"ASF", sent("video/x-ms-wmv", strings.NewReader(padded("\x30\x26\xb2\x75\x8e\x66\xcf\x11\xa6\xd9\x00\xaa\x00\x62\xce\x6c\x00"))), "videos/gen_1.asf", nil, "an ASF (WMV) video"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, url := setup(t, &storage{hook: tc.hook})
			url = strings.Replace(url, "gen_1.mp4", "gen_1", 1) // only the content type declares a type
			var logs strings.Builder
			d.Logf = func(format string, a ...any) { fmt.Fprintf(&logs, format+"\n", a...) }
			f, err := d.Fetch(context.Background(), "gen_1", url, noRefresh)
			if err != nil {
				t.Fatal(err)
			}
			if f.Path != tc.path || (f.Media == nil) != (tc.media == nil) || f.Media != nil && *f.Media != *tc.media {
				t.Errorf("got %+v, media %+v; want %s, %+v", f, f.Media, tc.path, tc.media)
			}
			if !strings.Contains(logs.String(), tc.logs) {
				t.Errorf("the log lacks %q:\n%s", tc.logs, logs.String())
			}
			if extra := leftovers(t, dir(d), path.Base(tc.path)); len(extra) > 0 {
				t.Errorf("left behind: %v", extra)
			}
		})
	}
}

// TestUnverifiedVideosWarn: the warning goes to Warnf, with a title.
func TestUnverifiedVideosWarn(t *testing.T) {
	t.Parallel()
	d, url := setup(t, &storage{hook: serveVideo(prismsim.Video{ContentType: "video/x-msvideo"})})
	var titles []string
	d.Warnf = func(title, format string, a ...any) { titles = append(titles, title) }
	if _, err := d.Fetch(context.Background(), "gen_1", url, noRefresh); err != nil || len(titles) != 1 || titles[0] != "Video not verified" {
		t.Errorf("err = %v, warnings %q", err, titles)
	}
}

func TestWhatIsNoWholeVideoIsRefused(t *testing.T) {
	t.Parallel()
	cutNoLength := func(n int, w http.ResponseWriter, r *http.Request, _ *prismsim.Content) (http.ResponseWriter, bool) {
		w.Header().Set("Content-Type", "video/mp4")
		w.Header().Set("Transfer-Encoding", "identity") // no length, no chunks: the body ends with the connection
		w.WriteHeader(http.StatusOK)
		io.CopyN(w, prismsim.NewContent("gen_1", 1, 1<<20), 300_000)
		panic(http.ErrAbortHandler)
	}
	advice := "Nothing was saved. Try again to download it; if it fails the same way, the video on storage is broken: generate it again."
	for _, tc := range []struct {
		name string
		hook func(int, http.ResponseWriter, *http.Request, *prismsim.Content) (http.ResponseWriter, bool)
		says string
	}{
		{"an HTML error page", answer("text/html; charset=utf-8", "<html><body>\n<h1>503 ::error::##[stop]</h1>"+strings.Repeat("x", 1000), false),
			`after 1 attempt(s) at 0 of 1043 bytes: storage answered HTTP 200 with Content-Type text/html, not a video; it begins: "<html><body> <h1>503 ::error::## [stop]</h1>xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx…[cut]". ` + advice},
		{"an XML error document", answer("application/xml", `<?xml version="1.0"?><Error><Code>SlowDown</Code></Error>`, false),
			`storage answered HTTP 200 with Content-Type application/xml, not a video; it begins: "<?xml version="1.0"?><Error><Code>SlowDown</Code></Error>". `},
		{"JSON", answer("application/json", `{"error":"x"}`, true), "with Content-Type application/json, not a video"},
		{"problem JSON", answer("application/problem+json", `{}`, false), "with Content-Type application/problem+json, not a video"},
		{"plain text", answer("text/plain", "Service Unavailable", false), `with Content-Type text/plain, not a video; it begins: "Service Unavailable". `},
		// S3's type for an object stored without one: the bytes tell.
		{"plain text sent as binary/octet-stream", answer("binary/octet-stream", "Service Unavailable: please retry later\n", false),
			`storage sent text, not a video; it begins: "Service Unavailable: please retry later". ` + advice},
		{"text sent as a video", answer("video/mp4", "AccessDenied", false), `storage sent text, not a video; it begins: "AccessDenied". `},
		{"Content-Length 0", answer("video/mp4", "", false), "at 0 of 0 bytes: storage sent an empty file (HTTP 200 with Content-Length: 0). " + advice},
		{"an empty body without a length", answer("video/mp4", "", true), "at 0 bytes: storage sent an empty body (HTTP 200 without Content-Length). " + advice},
		{"cut without a length", cutNoLength,
			"after 1 attempt(s) at 300000 bytes: the file is not a whole ISO base media (MP4) video: top-level boxes end at 300000 bytes of 1048576: the file is cut short inside its \"mdat\" box at byte 614. " + advice},
		{"moov missing", serveVideo(prismsim.Video{Faults: []string{"no_moov"}}), "the file is not a whole ISO base media (MP4) video: moov box missing. " + advice},
		{"a PNG image", serveVideo(prismsim.Video{Faults: []string{"png"}}), "storage sent a PNG image, not a video. Nothing was saved."},
		{"HTML sent as a video", answer("video/mp4", "<!DOCTYPE html><p>Access denied", false), `storage sent an HTML page, not a video; it begins: "<!DOCTYPE html><p>Access denied". `},
		{"a WebM cut short", func(n int, w http.ResponseWriter, r *http.Request, _ *prismsim.Content) (http.ResponseWriter, bool) {
			w.Header().Set("Content-Type", "video/webm")
			w.Header().Set("Transfer-Encoding", "identity")
			w.WriteHeader(http.StatusOK)
			io.CopyN(w, prismsim.Video{ContentType: "video/webm", Bytes: 1 << 20}.Content("gen_1", 1), 300_000)
			panic(http.ErrAbortHandler)
		}, "the file is not a whole Matroska (WebM) video: the Segment at byte 36 ends at byte 1048576 of a 300000-byte file: the file is cut short. "},
		{"a declared MP4 that is no known container", answer("video/mp4", "\x47\x40\x00\x10 an MPEG-TS packet", false), "the file is not a whole ISO base media (MP4) video: ftyp box missing: the file starts with a \" an \" box (its first bytes: 47 40 00 10 20 61 6e 20). "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := &storage{hook: tc.hook}
			d, url := setup(t, s)
			_, err := d.Fetch(context.Background(), "gen_1", url, noRefresh)
			var de *Error
			if !errors.As(err, &de) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("err = %v, want a *Error saying %q", err, tc.says)
			}
			if n := len(s.seen()); n != 1 {
				t.Errorf("%d requests: what is no video is not asked for again", n)
			}
			if extra := leftovers(t, dir(d)); len(extra) > 0 {
				t.Errorf("left behind: %v", extra)
			}
		})
	}
}

// TestBytesOfNoVideoFormatAreRefused: bytes that are no container with a
// check nor a video format without one, under a type and a URL that
// declare no container, are refused, never saved as a video.
func TestBytesOfNoVideoFormatAreRefused(t *testing.T) {
	t.Parallel()
	answer := func(body string) func(int, http.ResponseWriter, *http.Request, *prismsim.Content) (http.ResponseWriter, bool) {
		return sent("application/octet-stream", strings.NewReader(body))
	}
	for _, tc := range []struct{ name, body, says string }{
		{"an executable", "\x7fELF\x02\x01\x01\x00\x00\x00#!/bin/sh\n",
			"storage sent a file of no video format: its first bytes (7f 45 4c 46 02 01 01 00) are none that prism-wait checks (MP4, MOV, M4V, WebM, MKV) or saves unchecked (AVI, MPEG-TS, MPEG-PS, FLV, ASF, Y4M). " + brokenAdvice},
		{"one MPEG-TS sync byte is no stream", "\x47\x40\x00\x10" + strings.Repeat("\xff", 300), "storage sent a file of no video format: its first bytes (47 40 00 10 ff ff ff ff)"},
		{"a short file that starts like MPEG-TS", "\x47\x40\x00\x10\xff", "storage sent a file of no video format: its first bytes (47 40 00 10 ff)"},
		{"a RIFF that is no AVI", "RIFF\x04\x00\x00\x00WAVEfmt ", "storage sent a file of no video format"},
		// An error page behind a video's signature.
		{"an AVI signature, then an error", "RIFF\x00\x00\x00\x00AVI <Error>AccessDenied</Error>", "storage sent no whole video: an AVI signature, but no chunk after it. " + brokenAdvice},
		{"an MPEG-PS signature alone", "\x00\x00\x01\xba", "storage sent no whole video: the signature of an MPEG program stream, but 4 bytes in all, too few for one. " + brokenAdvice},
		{"an ASF signature, then an error", padded("\x30\x26\xb2\x75\x8e\x66\xcf\x11\xa6\xd9\x00\xaa\x00\x62\xce\x6c" + `{"error":"AccessDenied"}`), "storage sent no whole video: the signature of an ASF (WMV) video, then an error page"},
		{"a Y4M signature, then an error", "YUV4MPEG2 <Error><Code>AccessDenied</Code></Error>", "storage sent no whole video: a Y4M signature, but no frame after its header line"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, url := setup(t, &storage{hook: answer(tc.body)})
			url = strings.Replace(url, "gen_1.mp4", "gen_1", 1)
			_, err := d.Fetch(context.Background(), "gen_1", url, noRefresh)
			var de *Error
			if !errors.As(err, &de) || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("err = %v, want a *Error saying %q", err, tc.says)
			}
			if extra := leftovers(t, dir(d), ""); len(extra) > 0 {
				t.Errorf("left behind: %v", extra)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		info media.Info
		want string
	}{
		{media.Info{Container: "mp4", Codec: "avc1", Width: 1920, Height: 1080, Duration: 8 * time.Second}, "MP4, avc1, 1920x1080, 8s"},
		{media.Info{Container: "webm", Width: 1920, Duration: 1234567 * time.Microsecond}, "WEBM, 1.235s"},
		{media.Info{Container: "matroska", Codec: "vp09", Height: 5}, "MATROSKA, vp09"},
	} {
		if got := Describe(tc.info); got != tc.want {
			t.Errorf("Describe(%+v) = %q, want %q", tc.info, got, tc.want)
		}
	}
}

func TestDeclared(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ct, path string
		want     media.Kind
	}{
		{"video/mp4", "/x", media.ISO},
		{"video/quicktime", "/x.webm", media.ISO},
		{"video/x-m4v", "/x", media.ISO},
		{"video/webm; codecs=vp9", "/x.mp4", media.Matroska},
		{"video/x-matroska", "/x", media.Matroska},
		{"video/x-msvideo", "/x.mp4", media.Unknown},
		{"application/octet-stream", "/v/x.MKV", media.Matroska},
		{"application/octet-stream", "/v/x.mov", media.ISO},
		{"", "/v/x.avi", media.Unknown},
		{"", "/v/x", media.Unknown},
		{"binary/octet-stream", "/v/x.bin", media.Unknown},
	} {
		if got := declared(tc.ct, tc.path); got != tc.want {
			t.Errorf("declared(%q, %q) = %v, want %v", tc.ct, tc.path, got, tc.want)
		}
	}
}

// TestReadyMakesTheDirectoryAndLeavesNothingInIt: Ready creates Dir and
// its parents, writes in it and leaves it empty; where Dir leads out of
// the root, it says which step failed.
func TestReadyMakesTheDirectoryAndLeavesNothingInIt(t *testing.T) {
	d, _ := setup(t, http.NotFoundHandler())
	d.Dir = "videos/2026"
	if err := d.Ready(); err != nil {
		t.Fatal(err)
	}
	if left, err := os.ReadDir(dir(d)); err != nil || len(left) != 0 {
		t.Errorf("%s: %v, left %v", d.Dir, err, left)
	}
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(d.Root.Name(), "out")); err != nil {
		t.Fatal(err)
	}
	d.Dir = "out"
	if err := d.Ready(); err == nil || !strings.HasPrefix(err.Error(), "cannot create a file in out: ") {
		t.Errorf("a directory that leads out: %v", err)
	}
	d.Dir = "out/sub"
	if err := d.Ready(); err == nil || !strings.HasPrefix(err.Error(), "cannot create out/sub: ") {
		t.Errorf("a parent that leads out: %v", err)
	}
	if left, _ := os.ReadDir(outside); len(left) != 0 {
		t.Errorf("written outside the root: %v", left)
	}
}

// permanentError is a transport's refusal by policy, which says that no
// retry can help.
type permanentError string

func (e permanentError) Error() string   { return string(e) }
func (e permanentError) Permanent() bool { return true }

// A connection the transport refuses by policy (a link-local address
// that a storage host name resolved to) ends the download at once: no
// retry can help.
func TestAForbiddenConnectionIsNotRetried(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		d, u := setup(t, http.NotFoundHandler())
		var tries int
		d.HTTP.Transport = roundTripper(func(r *http.Request) (*http.Response, error) {
			tries++
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: permanentError("refusing to connect to 169.254.169.254, a link-local address")}
		})
		_, err := d.Fetch(t.Context(), "gen_1", u, nil)
		if tries != 1 || err == nil || !strings.Contains(err.Error(), "after 1 attempt(s)") || !strings.Contains(err.Error(), "refusing to connect to 169.254.169.254") {
			t.Errorf("%d tries, err = %v", tries, err)
		}
	})
}
