package actionscache_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prism-wait/prism-wait/internal/actionscache"
	"github.com/prism-wait/prism-wait/internal/prismsim"
	"github.com/prism-wait/prism-wait/internal/testnet"
)

// fake serves the simulator's cache service in memory; call it inside a
// synctest bubble, so that the client's waits between tries take no time.
func fake(t *testing.T, faults ...string) (*prismsim.Server, *actionscache.Client) {
	t.Helper()
	sim := prismsim.New(prismsim.Scenario{Cache: &prismsim.CacheConfig{Faults: faults}})
	c, err := actionscache.New("http://127.0.0.1:8787/", "runtime-token", testnet.Serve(t, sim))
	if err != nil {
		t.Fatal(err)
	}
	return sim, c
}

func TestAnEntryPutIsGotBackUnderItsKeyAndVersion(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		sim, c := fake(t)
		ctx := context.Background()
		if err := c.Put(ctx, "k1", "v1", []byte(`{"ids":["gen_a"]}`)); err != nil {
			t.Fatal(err)
		}
		got, found, err := c.Get(ctx, "k1", "v1")
		if err != nil || !found || string(got) != `{"ids":["gen_a"]}` {
			t.Fatalf("Get = %q, %v, %v", got, found, err)
		}
		for _, miss := range [][2]string{{"k1", "v2"}, {"k2", "v1"}, {"k", "v1"}} {
			if _, found, err := c.Get(ctx, miss[0], miss[1]); found || err != nil {
				t.Errorf("Get(%q, %q) found=%v err=%v, want a miss", miss[0], miss[1], found, err)
			}
		}
		if e := sim.CacheEntries(); len(e) != 1 || e[0].Key != "k1" {
			t.Errorf("entries = %+v", e)
		}
	})
}

func TestAnEntryIsImmutable(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, c := fake(t)
		ctx := context.Background()
		if err := c.Put(ctx, "k", "v", []byte("first")); err != nil {
			t.Fatal(err)
		}
		if err := c.Put(ctx, "k", "v", []byte("second")); !errors.Is(err, actionscache.ErrTaken) {
			t.Fatalf("second Put = %v, want ErrTaken", err)
		}
		if got, _, _ := c.Get(ctx, "k", "v"); string(got) != "first" {
			t.Errorf("Get = %q, want the first entry", got)
		}
	})
}

func TestFaultsOfTheService(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		fault          string
		putErr, getErr string // "" for none, "taken"
		found          bool
	}{
		{fault: "unavailable", putErr: "HTTP 503", getErr: "HTTP 503"},
		{fault: "throttled", found: true}, // the second try of each call goes through
		{fault: "upload_fails", putErr: "upload of the entry answered HTTP 500", found: true},
		{fault: "create_not_ok", putErr: "taken", found: true},
		{fault: "get_not_ok"},
	} {
		t.Run(tc.fault, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				sim, c := fake(t, tc.fault)
				sim.PutCacheEntry(prismsim.CacheEntry{Key: "old", Version: "v", Data: []byte("x")})
				err := c.Put(ctx, "new", "v", []byte("y"))
				switch {
				case tc.putErr == "taken" && !errors.Is(err, actionscache.ErrTaken),
					tc.putErr == "" && err != nil,
					tc.putErr != "" && tc.putErr != "taken" && (err == nil || !strings.Contains(err.Error(), tc.putErr)):
					t.Errorf("Put = %v, want %q", err, tc.putErr)
				}
				_, found, err := c.Get(ctx, "old", "v")
				if found != tc.found || (tc.getErr == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.getErr) {
					t.Errorf("Get = found %v, %v; want found %v, error %q", found, err, tc.found, tc.getErr)
				}
			})
		})
	}
}

func TestTheTokenGoesOnlyToTheService(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		// The fake's blob store refuses any request with an Authorization
		// header, as Azure storage behind a SAS URL does: a round trip proves
		// the token stayed with the Twirp calls.
		sim, c := fake(t)
		ctx := context.Background()
		if err := c.Put(ctx, "k", "v", []byte("x")); err != nil {
			t.Fatal(err)
		}
		if _, found, err := c.Get(ctx, "k", "v"); !found || err != nil {
			t.Fatalf("Get: %v %v", found, err)
		}
		if n := sim.CacheCalls("CreateCacheEntry"); n != 1 {
			t.Errorf("CreateCacheEntry calls = %d, want 1", n)
		}
	})
}

func TestNewRefusesWhatCannotBeTheService(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ url, token, want string }{
		{"", "t", "ACTIONS_RESULTS_URL is not set"},
		{"https://results.example/", "", "ACTIONS_RUNTIME_TOKEN is not set"},
		{"http://results.example/", "t", "http only to loopback and private addresses"},
		{"ftp://10.0.0.1/", "t", "scheme \"ftp\""},
		{"https://user:pw@results.example/", "t", "without credentials"},
	} {
		if _, err := actionscache.New(tc.url, tc.token, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%q, %q) = %v, want %q", tc.url, tc.token, err, tc.want)
		}
	}
	for _, ok := range []string{"https://results.example", "http://127.0.0.1:1/", "http://172.17.0.1:8787"} {
		if _, err := actionscache.New(ok, "t", nil); err != nil {
			t.Errorf("New(%q) = %v", ok, err)
		}
	}
}

func TestKeysTheServiceCannotStoreAreRefusedBeforeAnyCall(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		sim, c := fake(t)
		for _, key := range []string{"", "a,b", strings.Repeat("k", actionscache.MaxKey+1)} {
			if err := c.Put(context.Background(), key, "v", nil); err == nil {
				t.Errorf("Put(%q) succeeded", key)
			}
			if _, _, err := c.Get(context.Background(), key, "v"); err == nil {
				t.Errorf("Get(%q) succeeded", key)
			}
		}
		if err := c.Put(context.Background(), strings.Repeat("k", actionscache.MaxKey), "v", nil); err != nil {
			t.Errorf("a key of exactly %d bytes: %v", actionscache.MaxKey, err)
		}
		if n := sim.CacheCalls("GetCacheEntryDownloadURL"); n != 0 {
			t.Errorf("%d Get calls reached the service", n)
		}
	})
}

func TestAnEntryTooLargeIsRefused(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, c := fake(t)
		if err := c.Put(context.Background(), "k", "v", make([]byte, actionscache.MaxEntry+1)); err == nil {
			t.Error("Put of an oversized entry succeeded")
		}
		if err := c.Put(context.Background(), "k", "v", make([]byte, actionscache.MaxEntry)); err != nil {
			t.Errorf("Put of an entry of exactly %d bytes: %v", actionscache.MaxEntry, err)
		}
	})
}

func TestARedirectIsNotFollowed(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		tr := testnet.Serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://elsewhere.example/", http.StatusTemporaryRedirect)
		}))
		c, _ := actionscache.New("http://127.0.0.1:8787", "t", tr)
		if _, _, err := c.Get(context.Background(), "k", "v"); err == nil || !strings.Contains(err.Error(), "HTTP 307") {
			t.Errorf("Get = %v, want the redirect as an error", err)
		}
	})
}

// scripted serves answers by path, counting the requests to each.
type scripted struct {
	mu      sync.Mutex
	calls   map[string]int
	answers map[string]func(w http.ResponseWriter, r *http.Request)
}

func (s *scripted) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.calls[r.URL.Path]++
	s.mu.Unlock()
	if a, ok := s.answers[r.URL.Path]; ok {
		a(w, r)
		return
	}
	http.NotFound(w, r)
}

func (s *scripted) count(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[path]
}

const twirp = "/" + "twirp/github.actions.results.api.v1.CacheService/"

func script(t *testing.T, answers map[string]func(w http.ResponseWriter, r *http.Request)) (*scripted, *actionscache.Client) {
	t.Helper()
	s := &scripted{calls: map[string]int{}, answers: answers}
	c, err := actionscache.New("http://127.0.0.1:8787", "t", testnet.Serve(t, s))
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func status(code int, body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(code)
		io.WriteString(w, body)
	}
}

func TestTransientAnswersAreTriedThreeTimesOneThenTwoSecondsApart(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		code  int
		tries int
	}{{429, 3}, {408, 3}, {500, 3}, {503, 3}, {400, 1}, {404, 1}, {409, 1}, {499, 1}} {
		synctest.Test(t, func(t *testing.T) {
			s, c := script(t, map[string]func(http.ResponseWriter, *http.Request){
				twirp + "GetCacheEntryDownloadURL": status(tc.code, `{"code":"x","msg":"m"}`)})
			start := time.Now()
			_, _, err := c.Get(context.Background(), "k", "v")
			took := time.Since(start)
			want := map[int]time.Duration{1: 0, 3: 3 * time.Second}[tc.tries]
			if n := s.count(twirp + "GetCacheEntryDownloadURL"); n != tc.tries || took != want {
				t.Errorf("HTTP %d: %d tries in %s, want %d in %s", tc.code, n, took, tc.tries, want)
			}
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("GetCacheEntryDownloadURL answered HTTP %d x: m", tc.code)) {
				t.Errorf("HTTP %d: err = %v", tc.code, err)
			}
		})
	}
}

func TestAWriteIsTriedAgainOnlyAfterA429(t *testing.T) {
	t.Parallel()
	// A reservation that may have reached the service is not sent again:
	// its second try would answer "already exists" for the first.
	for _, tc := range []struct {
		code, tries int
	}{{429, 3}, {500, 1}, {503, 1}} {
		synctest.Test(t, func(t *testing.T) {
			s, c := script(t, map[string]func(http.ResponseWriter, *http.Request){twirp + "CreateCacheEntry": status(tc.code, "")})
			if err := c.Put(context.Background(), "k", "v", []byte("x")); err == nil || errors.Is(err, actionscache.ErrTaken) {
				t.Errorf("HTTP %d: Put = %v", tc.code, err)
			}
			if n := s.count(twirp + "CreateCacheEntry"); n != tc.tries {
				t.Errorf("HTTP %d: %d tries, want %d", tc.code, n, tc.tries)
			}
		})
	}
	synctest.Test(t, func(t *testing.T) {
		s, c := script(t, map[string]func(http.ResponseWriter, *http.Request){twirp + "CreateCacheEntry": func(w http.ResponseWriter, r *http.Request) {
			panic(http.ErrAbortHandler) // the connection drops without an answer
		}})
		c.Put(context.Background(), "k", "v", []byte("x"))
		if n := s.count(twirp + "CreateCacheEntry"); n != 1 {
			t.Errorf("a dropped connection: %d tries, want 1", n)
		}
	})
}

func TestACancelStopsTheWaitBetweenTries(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, c := script(t, map[string]func(http.ResponseWriter, *http.Request){twirp + "GetCacheEntryDownloadURL": status(503, "")})
		ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
		defer cancel()
		_, _, err := c.Get(ctx, "k", "v")
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "HTTP 503") {
			t.Errorf("err = %v, want the deadline and the last answer", err)
		}
	})
}

func TestAServiceThatNeverAnswersTimesOutEachTry(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		method string
		want   time.Duration
	}{
		{"GetCacheEntryDownloadURL", 3*30*time.Second + 3*time.Second}, // a read: three tries, 1 s and 2 s apart
		{"CreateCacheEntry", 30 * time.Second},                         // a write: one
	} {
		synctest.Test(t, func(t *testing.T) {
			release := make(chan struct{})
			defer close(release)
			_, c := script(t, map[string]func(http.ResponseWriter, *http.Request){
				twirp + tc.method: func(_ http.ResponseWriter, r *http.Request) {
					select {
					case <-r.Context().Done():
					case <-release:
					}
				}})
			start := time.Now()
			var err error
			if tc.method == "CreateCacheEntry" {
				err = c.Put(context.Background(), "k", "v", []byte("x"))
			} else {
				_, _, err = c.Get(context.Background(), "k", "v")
			}
			if err == nil {
				t.Fatalf("%s succeeded", tc.method)
			}
			if took := time.Since(start); took != tc.want {
				t.Errorf("%s took %s, want %s", tc.method, took, tc.want)
			}
		})
	}
}

func TestAReservationTheServiceRefusesIsTaken(t *testing.T) {
	t.Parallel()
	for _, answer := range []func(http.ResponseWriter, *http.Request){
		status(409, `{"code":"already_exists","msg":"cache entry exists"}`),
		status(400, `{"code":"already_exists"}`),
		status(409, `not json`),
	} {
		synctest.Test(t, func(t *testing.T) {
			_, c := script(t, map[string]func(http.ResponseWriter, *http.Request){twirp + "CreateCacheEntry": answer})
			if err := c.Put(context.Background(), "k", "v", []byte("x")); !errors.Is(err, actionscache.ErrTaken) {
				t.Errorf("Put = %v, want ErrTaken", err)
			}
		})
	}
	synctest.Test(t, func(t *testing.T) {
		_, c := script(t, map[string]func(http.ResponseWriter, *http.Request){twirp + "CreateCacheEntry": status(400, `{"code":"invalid_argument"}`)})
		if err := c.Put(context.Background(), "k", "v", []byte("x")); err == nil || errors.Is(err, actionscache.ErrTaken) {
			t.Errorf("Put after invalid_argument = %v, want another error", err)
		}
	})
}

func TestWhatTheSignedURLsAnswerIsChecked(t *testing.T) {
	t.Parallel()
	ok := func(field, url string) func(http.ResponseWriter, *http.Request) {
		return status(200, fmt.Sprintf(`{"ok":true,%q:%q,"matched_key":"k"}`, field, url))
	}
	for _, tc := range []struct {
		name    string
		answers map[string]func(http.ResponseWriter, *http.Request)
		get     bool
		want    string
	}{
		{"download to a public http host", map[string]func(http.ResponseWriter, *http.Request){
			twirp + "GetCacheEntryDownloadURL": ok("signed_download_url", "http://blob.example/x")}, true, "signed download URL"},
		{"download answers 403", map[string]func(http.ResponseWriter, *http.Request){
			twirp + "GetCacheEntryDownloadURL": ok("signed_download_url", "http://127.0.0.1/blob"), "/blob": status(403, "")}, true, "download of the entry answered HTTP 403"},
		{"an entry too large", map[string]func(http.ResponseWriter, *http.Request){
			twirp + "GetCacheEntryDownloadURL": ok("signed_download_url", "http://127.0.0.1/blob"), "/blob": status(200, strings.Repeat("x", actionscache.MaxEntry+1))}, true, "entry larger than"},
		{"upload to a public http host", map[string]func(http.ResponseWriter, *http.Request){
			twirp + "CreateCacheEntry": ok("signed_upload_url", "http://blob.example/x")}, false, "signed upload URL"},
		{"upload refused", map[string]func(http.ResponseWriter, *http.Request){
			twirp + "CreateCacheEntry": ok("signed_upload_url", "http://127.0.0.1/blob"), "/blob": status(400, "")}, false, "upload of the entry answered HTTP 400"},
		{"finalize not ok", map[string]func(http.ResponseWriter, *http.Request){
			twirp + "CreateCacheEntry": ok("signed_upload_url", "http://127.0.0.1/blob"), "/blob": status(201, ""),
			twirp + "FinalizeCacheEntryUpload": status(200, `{"ok":false}`)}, false, "did not finalise"},
		{"not JSON", map[string]func(http.ResponseWriter, *http.Request){
			twirp + "CreateCacheEntry": status(200, `<html>`)}, false, "CreateCacheEntry: answer is not the expected JSON"},
	} {
		synctest.Test(t, func(t *testing.T) {
			_, c := script(t, tc.answers)
			var err error
			if tc.get {
				_, _, err = c.Get(context.Background(), "k", "v")
			} else {
				err = c.Put(context.Background(), "k", "v", []byte("x"))
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: err = %v, want %q", tc.name, err, tc.want)
			}
		})
	}
	synctest.Test(t, func(t *testing.T) {
		_, c := script(t, map[string]func(http.ResponseWriter, *http.Request){
			twirp + "GetCacheEntryDownloadURL": status(200, `{"ok":true,"signed_download_url":"http://127.0.0.1/b","matched_key":"k-other"}`)})
		if _, found, err := c.Get(context.Background(), "k", "v"); found || err != nil {
			t.Errorf("a prefix match: found %v, %v; want a miss", found, err)
		}
	})
}

// The service's message is scrubbed of the runtime token before it is
// cut: a token cut in half would no longer be recognised.
func TestATokenInAnErrorMessageIsRedactedBeforeItIsCut(t *testing.T) {
	t.Parallel()
	token := "runtime-" + strings.Repeat("T", 400)
	synctest.Test(t, func(t *testing.T) {
		s := &scripted{calls: map[string]int{}, answers: map[string]func(http.ResponseWriter, *http.Request){
			twirp + "CreateCacheEntry": status(500, `{"code":"internal","msg":"`+strings.Repeat("x", 183)+` `+token+`yyyy"}`)}}
		c, err := actionscache.New("http://127.0.0.1:8787", token, testnet.Serve(t, s))
		if err != nil {
			t.Fatal(err)
		}
		err = c.Put(context.Background(), "k", "v", []byte("x"))
		if err == nil || strings.Contains(err.Error(), "runtime-") || !strings.Contains(err.Error(), "internal") || !strings.Contains(err.Error(), "xxx ***") {
			t.Errorf("Put = %v", err)
		}
	})
}
