package prismsim

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prism-wait/prism-wait/internal/testnet"
)

func get(t *testing.T, url, key string, header ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func start(t *testing.T, js string) (*Server, string) {
	t.Helper()
	sc, err := ParseScenario([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	s := New(sc)
	// Served in memory (internal/testnet), so that a test in a synctest
	// bubble can run the server on the bubble's clock.
	host := fmt.Sprintf("sim-%d.test", simSeq.Add(1))
	sims.Store(host, testnet.Serve(t, s))
	t.Cleanup(func() { sims.Delete(host); s.Close() })
	return s, "http://" + host
}

// sims are the servers start serves, by host, for testClient to reach.
var (
	sims   sync.Map
	simSeq atomic.Int64
)

// simRouter sends a request for a host that start serves to that server,
// and any other to the network (a test's own httptest server).
type simRouter struct{ network http.RoundTripper }

func (r simRouter) RoundTrip(req *http.Request) (*http.Response, error) {
	if rt, ok := sims.Load(req.URL.Host); ok {
		return rt.(http.RoundTripper).RoundTrip(req)
	}
	return r.network.RoundTrip(req)
}

func TestAuthAndErrors(t *testing.T) {
	t.Parallel()
	_, base := start(t, `{"generations": {"gen_1": {"steps": [{"status": "generating"}]}}}`)
	for _, tc := range []struct {
		key, id string
		code    int
		errCode string
	}{
		{"", "gen_1", 401, "unauthorized"},
		{"sk_wrong", "gen_1", 401, "unauthorized"},
		{KeyRevoked, "gen_1", 401, "unauthorized"},
		{KeyNoScope, "gen_1", 403, "forbidden"},
		{"prism_sk_ok", "gen_404", 404, "not_found"},
	} {
		resp, body := get(t, base+"/api/generations/"+tc.id, tc.key)
		var e struct{ Error, Message string }
		json.Unmarshal([]byte(body), &e)
		if resp.StatusCode != tc.code || e.Error != tc.errCode || e.Message == "" {
			t.Errorf("key %q id %s: %d %s", tc.key, tc.id, resp.StatusCode, body)
		}
	}
}

func TestLifecycleSteps(t *testing.T) {
	t.Parallel()
	s, base := start(t, `{"generations": {"gen_1": {"template_id": "tpl", "steps": [
		{"http": 429, "retry_after": "2"},
		{"status": "queued", "times": 2},
		{"status": "generating", "for": "30ms"},
		{"status": "completed"}]}}}`)
	url := base + "/api/generations/gen_1"
	resp, _ := get(t, url, "prism_sk_x")
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "2" {
		t.Fatalf("step 1: %d %v", resp.StatusCode, resp.Header)
	}
	var statuses []string
	var last map[string]any
	for i := 0; i < 40 && (last == nil || last["status"] != "completed"); i++ {
		_, body := get(t, url, "prism_sk_x")
		last = nil
		json.Unmarshal([]byte(body), &last)
		if n := len(statuses); n == 0 || statuses[n-1] != last["status"] {
			statuses = append(statuses, last["status"].(string))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := strings.Join(statuses, ","); got != "queued,generating,completed" {
		t.Errorf("statuses %s", got)
	}
	if last["template_id"] != "tpl" || last["share_url"] == nil || last["completed_at"] == nil || last["video_url"] == nil {
		t.Errorf("completed body %v", last)
	}
	st := s.Stats("gen_1")
	if st.Completed.Sub(st.First) < 30*time.Millisecond {
		t.Errorf("completed %s after the first request, want at least the scripted 30ms", st.Completed.Sub(st.First))
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	_, base := start(t, `{"generations": {
		"gen_garbage": {"steps": [{"fault": "garbage"}]},
		"gen_cut": {"steps": [{"fault": "cut"}]},
		"gen_switch": {"steps": [{"fault": "switch"}]},
		"gen_failed": {"steps": [{"status": "failed", "error": "Generation timed out"}]},
		"gen_novideo": {"steps": [{"status": "completed", "no_video": true}]}}}`)
	resp, body := get(t, base+"/api/generations/gen_garbage", "prism_sk_x")
	if resp.StatusCode != 200 || json.Valid([]byte(body)) {
		t.Errorf("garbage: %d %q", resp.StatusCode, body)
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/api/generations/gen_cut", nil)
	req.Header.Set("Authorization", "Bearer prism_sk_x")
	if resp, err := testClient.Do(req); err == nil {
		resp.Body.Close()
		t.Error("cut: got a response")
	}
	req, _ = http.NewRequest(http.MethodGet, base+"/api/generations/gen_switch", nil)
	req.Header.Set("Authorization", "Bearer prism_sk_x")
	if resp, err := testClient.Do(req); err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Errorf("switch: %v %v", resp, err)
	} else {
		resp.Body.Close() // the handler ends with the connection
	}
	_, body = get(t, base+"/api/generations/gen_failed", "prism_sk_x")
	if !strings.Contains(body, `"error":"Generation timed out"`) || !strings.Contains(body, `"video_url":null`) {
		t.Errorf("failed: %s", body)
	}
	_, body = get(t, base+"/api/generations/gen_novideo", "prism_sk_x")
	if !strings.Contains(body, `"status":"completed"`) || !strings.Contains(body, `"video_url":null`) {
		t.Errorf("no video: %s", body)
	}
}

// TestStepsOverrideTheURLs: a step's video_url and share_url are answered
// as written, a blank one included; without video_url, the signed URL.
func TestStepsOverrideTheURLs(t *testing.T) {
	t.Parallel()
	_, base := start(t, `{"generations": {
		"gen_blank": {"steps": [{"status": "completed", "video_url": " \t ", "share_url": ""}]},
		"gen_js": {"steps": [{"status": "completed", "video_url": "javascript:alert(1)", "share_url": "javascript:alert(2)"}]},
		"gen_share_only": {"steps": [{"status": "completed", "share_url": "http://evil.example/share"}]}}}`)
	for _, tc := range []struct {
		id           string
		video, share any // want; "signed" for a signed URL
	}{
		{"gen_blank", " \t ", ""},
		{"gen_js", "javascript:alert(1)", "javascript:alert(2)"},
		{"gen_share_only", "signed", "http://evil.example/share"},
	} {
		g := status(t, base, tc.id)
		if tc.video == "signed" {
			if u, _ := g["video_url"].(string); !strings.Contains(u, "X-Amz-Signature=") {
				t.Errorf("%s: video_url %v, want a signed URL", tc.id, g["video_url"])
			}
		} else if g["video_url"] != tc.video {
			t.Errorf("%s: video_url %q, want %q", tc.id, g["video_url"], tc.video)
		}
		if g["share_url"] != tc.share || g["status"] != "completed" || g["completed_at"] == nil {
			t.Errorf("%s: %v", tc.id, g)
		}
	}
}

func videoURL(t *testing.T, base, id string) string {
	t.Helper()
	_, body := get(t, base+"/api/generations/"+id, "prism_sk_x")
	var g struct {
		VideoURL string `json:"video_url"`
	}
	json.Unmarshal([]byte(body), &g)
	if g.VideoURL == "" {
		t.Fatalf("no video_url in %s", body)
	}
	return g.VideoURL
}

// fetchVideo fetches a URL with optional headers and returns the
// response, the body read until it ended, and how it ended.
func fetchVideo(t *testing.T, url string, header ...string) (*http.Response, []byte, error) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := testClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func TestVideoURLs(t *testing.T) {
	t.Parallel()
	s, base := start(t, `{"generations": {
		"gen_1": {"steps": [{"status": "completed"}], "video": {"bytes": 1000, "content_type": "video/webm"}},
		"gen_exp": {"steps": [{"status": "completed"}], "video": {"faults": ["expired_first"]}}}}`)
	u := videoURL(t, base, "gen_1")
	resp, body := get(t, u, "")
	if resp.StatusCode != 200 || len(body) != 1000 || resp.Header.Get("Content-Type") != "video/webm" || resp.Header.Get("ETag") == "" {
		t.Errorf("video: %d, %d bytes, %v", resp.StatusCode, len(body), resp.Header)
	}
	resp, body = get(t, u, "", "Range", "bytes=900-")
	if resp.StatusCode != 206 || len(body) != 100 {
		t.Errorf("range: %d, %d bytes", resp.StatusCode, len(body))
	}
	if resp, _ := get(t, u, "prism_sk_x"); resp.StatusCode != 400 || s.Stats("gen_1").VideoAuthz != 1 {
		t.Errorf("a presigned GET with Authorization must be refused, like S3 does: %d", resp.StatusCode)
	}
	if resp, _ := get(t, strings.Replace(u, "X-Amz-Signature=", "X-Amz-Signature=0", 1), ""); resp.StatusCode != 403 {
		t.Errorf("bad signature: %d", resp.StatusCode)
	}
	if resp, _ := get(t, strings.Replace(u, "X-Amz-Expires=3600", "X-Amz-Expires=7200", 1), ""); resp.StatusCode != 403 {
		t.Errorf("tampered expiry: %d", resp.StatusCode)
	}
	expired := videoURL(t, base, "gen_exp")
	if resp, _ := get(t, expired, ""); resp.StatusCode != 403 {
		t.Errorf("expired_first: %d", resp.StatusCode)
	}
	if resp, _ := get(t, videoURL(t, base, "gen_exp"), ""); resp.StatusCode != 200 {
		t.Errorf("the second URL must work: %d", resp.StatusCode)
	}
}

// TestShortAlwaysServesHalfOfEachRange: short_always declares the whole
// range and ends after half of it; a range in the last quarter is one no
// client may accept.
func TestShortAlwaysServesHalfOfEachRange(t *testing.T) {
	t.Parallel()
	_, base := start(t, `{"generations": {"gen_1": {"steps": [{"status": "completed"}], "video": {"bytes": 1000, "faults": ["short_always"]}}}}`)
	u := videoURL(t, base, "gen_1")
	full, _ := io.ReadAll(NewContent("gen_1", 1, 1000))
	for _, tc := range []struct {
		rng          string
		code         int
		length       int64 // declared
		first, got   int   // first byte served, bytes received
		contentRange string
	}{
		{"", 200, 1000, 0, 500, ""},
		{"bytes=500-", 206, 500, 500, 250, "bytes 500-999/1000"},
		{"bytes=0-99", 206, 100, 0, 50, "bytes 0-99/1000"},
		{"bytes=749-", 206, 251, 749, 125, "bytes 749-999/1000"},
		// The last quarter: a range no client may accept.
		{"bytes=750-", 206, 250, 750, 250, "bytes 751-750/1000"},
		{"bytes=-10", 206, 10, 990, 10, "bytes 991-990/1000"},
	} {
		var header []string
		if tc.rng != "" {
			header = []string{"Range", tc.rng}
		}
		resp, body, err := fetchVideo(t, u, header...)
		if resp == nil {
			t.Fatalf("%q: %v", tc.rng, err)
		}
		short := tc.got < int(tc.length)
		if resp.StatusCode != tc.code || resp.ContentLength != tc.length || resp.Header.Get("Content-Range") != tc.contentRange ||
			len(body) != tc.got || !bytes.Equal(body, full[tc.first:tc.first+tc.got]) || short != errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%q: %d, Content-Length %d, Content-Range %q, %d bytes, %v; want %+v", tc.rng, resp.StatusCode, resp.ContentLength,
				resp.Header.Get("Content-Range"), len(body), err, tc)
		}
	}
}

// TestEtagAlwaysServesANewVideoEveryTime: etag_always serves new bytes
// under a new ETag on every transfer, a resume included.
func TestEtagAlwaysServesANewVideoEveryTime(t *testing.T) {
	t.Parallel()
	_, base := start(t, `{"generations": {"gen_1": {"steps": [{"status": "completed"}], "video": {"bytes": 1000, "faults": ["etag_always"]}}}}`)
	u := videoURL(t, base, "gen_1")
	seen := map[string]bool{}
	var bodies [][]byte
	var firstETag string
	for range 3 {
		resp, body, err := fetchVideo(t, u)
		if err != nil || resp.StatusCode != 200 || seen[resp.Header.Get("ETag")] {
			t.Fatalf("%v %v: every transfer must carry a new ETag", resp, err)
		}
		seen[resp.Header.Get("ETag")] = true
		firstETag = cmp.Or(firstETag, resp.Header.Get("ETag"))
		bodies = append(bodies, body)
	}
	if bytes.Equal(bodies[0], bodies[1]) || bytes.Equal(bodies[1], bodies[2]) {
		t.Error("every transfer must serve new bytes")
	}
	// A resume with the ETag seen before gets the whole, new file.
	resp, body, _ := fetchVideo(t, u, "Range", "bytes=500-", "If-Range", firstETag)
	if resp.StatusCode != 200 || len(body) != 1000 {
		t.Errorf("resume: %d, %d bytes; want 200 and the whole file", resp.StatusCode, len(body))
	}
}

// TestSlowHeadersNeverAnswers: slow_headers sends no answer until the
// client gives up or the server closes.
func TestSlowHeadersNeverAnswers(t *testing.T) {
	t.Parallel()
	s, base := start(t, `{"generations": {"gen_1": {"steps": [{"status": "completed"}], "video": {"faults": ["slow_headers"]}}}}`)
	u := videoURL(t, base, "gen_1")
	// Until the client gives up: its deadline, not a closed connection,
	// must end the request.
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if resp, err := testClient.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow_headers: %v %v, want the client's deadline", resp, err)
	}
	// Or until the server closes, without an answer.
	done := make(chan error, 1)
	go func() {
		resp, _, err := fetchVideo(t, u)
		if resp != nil {
			err = nil // an answer, whatever it is, is the failure
		}
		done <- err
	}()
	s.Close()
	if err := <-done; err == nil {
		t.Error("slow_headers answered")
	}
}

// TestEndlessServesTheVideoOverAndOver: endless ignores the range and
// repeats the file without end.
func TestEndlessServesTheVideoOverAndOver(t *testing.T) {
	t.Parallel()
	_, base := start(t, `{"generations": {"gen_1": {"steps": [{"status": "completed"}], "video": {"bytes": 1000, "faults": ["endless"]}}}}`)
	req, _ := http.NewRequest(http.MethodGet, videoURL(t, base, "gen_1"), nil)
	req.Header.Set("Range", "bytes=0-9")
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// Far more than the file's 1000 bytes, and still going.
	got, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	full, _ := io.ReadAll(NewContent("gen_1", 1, 1000))
	if resp.StatusCode != 200 || resp.ContentLength != -1 || err != nil || len(got) != 1<<20 ||
		!bytes.Equal(got[:1000], full) || !bytes.Equal(got[1000:2000], full) {
		t.Errorf("%d, Content-Length %d, %d bytes, %v", resp.StatusCode, resp.ContentLength, len(got), err)
	}
}

func TestScenarioFiles(t *testing.T) {
	t.Parallel()
	if d := Default(); len(d.Generations) == 0 || len(d.Templates) == 0 {
		t.Fatal("the embedded default scenario lacks generations or templates")
	}
	files, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "scenarios", "*.json"))
	if len(files) == 0 {
		t.Fatal("no bundled scenario files in testdata/scenarios")
	}
	for _, f := range files {
		if _, err := LoadScenario(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	for _, bad := range []string{
		`{"generations": {"g": {"steps": []}}}`,
		`{"generations": {"g": {"steps": [{"status": "completed", "http": 500}]}}}`,
		`{"generations": {"g": {"steps": [{"for": 3}]}}}`,
		`{"generations": {"g": {"steps": [{"stauts": "completed"}]}}}`,
		`{"generations": {"g": {"steps": [{"fault": "reset"}]}}}`,
		`{"generations": {"g": {"steps": [{"status": "completed"}], "video": {"faults": ["short"]}}}}`,
		`{"generations": {"g": {"steps": [{"status": "generating", "video_url": "x"}]}}}`,
		`{"generations": {"g": {"steps": [{"status": "failed", "share_url": "x"}]}}}`,
		`{"generations": {"g": {"steps": [{"status": "completed", "no_video": true, "video_url": "x"}]}}}`,
		`{"generations": {"g": {"steps": [{"status": "generating", "times": -1}]}}}`,
		`{"templates": {"t": {"videos": -1}}}`,
		`{"templates": {"t": {"credits": -1}}}`,
		`{"templates": {"t": {"unlisted": -1}}}`,
		`{"templates": {"t": {"variables": [""]}}}`,
		`{"templates": {"a/b": {}}}`,
		`{"templates": {"t": {"latency": {"typical": -1, "busy": 2}}}}`,
		`{"templates": {"t": {"lifecycle": {"steps": [{"status": "x", "http": 500}]}}}}`,
		`{"templates": {"t": {"lifecycle": {"steps": [{"status": "completed"}], "video": {"faults": ["nope"]}}}}}`,
		`{"templates": {"t": {"submit": [{}]}}}`,
		`{"templates": {"t": {"submit": [{"ok": true, "http": 402}]}}}`,
		`{"templates": {"t": {"submit": [{"http": 200}]}}}`,
		`{"templates": {"t": {"submit": [{"http": 302}]}}}`,
		`{"templates": {"t": {"submit": [{"ok": true, "retry_after": "1"}]}}}`,
		`{"templates": {"t": {"submit": [{"fault": "cut"}]}}}`,
		`{"templates": {"t": {"submit": [{"ok": true, "times": -2}]}}}`,
		`{"templates": {"t": {"sumbit": []}}}`,
		`{"prompt": {"videos": 2}}`,
		`{"prompt": {"variables": ["title"]}}`,
		`{"prompt": {"submit": [{"http": 402, "fault": "hang"}]}}`,
		`{"rate_limit": {"per_second": -1}}`,
		`{"rate_limit": {"per_second": 1.5}}`,
		`{"rate_limit": {"persecond": 1}}`,
	} {
		if _, err := ParseScenario([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
	// Every mistake at once, so that a file is fixed in one go.
	_, err := ParseScenario([]byte(`{"generations": {"g1": {"steps": []}, "g2": {"steps": [{"fault": "nope"}]}},
		"templates": {"t": {"submit": [{"http": 200}]}}, "rate_limit": {"per_second": -1}}`))
	for _, want := range []string{`generation "g1" has no steps`, `g2 step 1: unknown fault "nope"`, `template "t" submit step 1: http is 200`, "per_second is -1"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	// A file that does not decode names where it breaks.
	for bad, want := range map[string]string{
		`{"generations": {"a": {"steps": [{"status": "x"}]}, "b": {"steps": [{"status": "x"}, {"for": 2}]}}}`: `invalid scenario: generation "b" step 2: durations are strings like "3s", not 2`,
		`{"generations": {"a": {"steps": [{"statu": "x"}]}}}`:                                                 `invalid scenario: generation "a" step 1: json: unknown field "statu"`,
		`{"generations": {"a": {"stepz": []}}}`:                                                               `invalid scenario: generation "a": json: unknown field "stepz"`,
		`{"generations": {"a": {"steps": {}}}}`:                                                               `invalid scenario: generation "a": json: cannot unmarshal`,
		`{"generations": {"a": {"steps": []}}, "templates": {"t": {"sumbit": []}}}`:                           `invalid scenario: template "t": json: unknown field "sumbit"`,
		`{"rate_limit": {"persecond": 1}}`:                                                                    `invalid scenario: json: unknown field "persecond"`,
		`{"generations": []}`:                                                                                 `invalid scenario: json: cannot unmarshal array`,
		// The first mistake in the file's order is named, as the decoder
		// reports it, not the first ID in sorted order.
		`{"generations": {"gen_b": {"steps": [{"status": 5}]}, "gen_a": {"steps": [{"status": "x"}, {"status": 5}]}}}`: `invalid scenario: generation "gen_b" step 1: json: cannot unmarshal number`,
		`{"templates": {"t2": {"sumbit": []}, "t1": {"sumbit": []}}, "generations": {}}`:                               `invalid scenario: template "t2": json: unknown field "sumbit"`,
		`{"generations": {"z": {"stepz": []}, "a": {"stepz": []}}}`:                                                    `invalid scenario: generation "z": json: unknown field "stepz"`,
		// A broken generation elsewhere is not named for another mistake.
		`{"rate_limit": {"persecond": 1}, "generations": {"a": {"stepz": []}}}`:                                  `invalid scenario: json: unknown field "persecond"`,
		`{"generations": {"b": {"steps": [{"for": 2}]}, "a": {"stepz": []}}}`:                                    `invalid scenario: generation "b" step 1: durations are strings like "3s", not 2`,
		`{"templates": {"t": {"sumbit": []}}, "generations": {"a": {"steps": [{"status": "x", "times": "2"}]}}}`: `invalid scenario: template "t": json: unknown field "sumbit"`,
		`{"generations": {"a": {"steps": [{"status": "x"}, {"status": "x", "times": "2"}]}}}`:                    `invalid scenario: generation "a" step 2: json: cannot unmarshal string`,
		`{"generations": {"a": {"steps": [{"for": [` + strings.Repeat("1,", 50) + `1]}]}}}`:                      `invalid scenario: generation "a" step 1: durations are strings like "3s", not [1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1…[cut]`,
	} {
		if _, err := ParseScenario([]byte(bad)); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", bad, err, want)
		}
	}
	// What the new keys accept.
	sc, err := ParseScenario([]byte(`{"generations": {}, "templates": {"t": {"variables": ["title"], "videos": 2, "credits": 0,
		"latency": {"typical": 1, "busy": 2}, "submit": [{"http": 400, "code": "pricing_error", "message": "m"}, {"http": 429, "retry_after": "1", "times": 2}, {"fault": "reset"}, {"ok": true}],
		"lifecycle": {"steps": [{"status": "completed", "video_url": "", "share_url": " "}], "video": {"faults": ["short_always", "etag_always", "slow_headers", "endless"]}}}},
		"prompt": {"credits": 5, "submit": [{"fault": "garbage"}, {"fault": "hang"}]}, "rate_limit": {"per_second": 0}}`))
	if err != nil || sc.Templates["t"].Videos != 2 || *sc.Templates["t"].Lifecycle.Steps[0].VideoURL != "" || sc.Prompt.Credits != 5 {
		t.Errorf("a valid scenario: %v", err)
	}
	if _, err := LoadScenario(filepath.Join(t.TempDir(), "missing.json")); !os.IsNotExist(err) {
		t.Errorf("missing file: %v", err)
	}
}

func TestContentIsDeterministicAndSeekable(t *testing.T) {
	t.Parallel()
	a, _ := io.ReadAll(NewContent("gen_1", 1, 200_000))
	b, _ := io.ReadAll(NewContent("gen_1", 1, 200_000))
	c, _ := io.ReadAll(NewContent("gen_1", 2, 200_000))
	if string(a) != string(b) || string(a) == string(c) || len(a) != 200_000 {
		t.Fatal("content must depend on the ID and version only")
	}
	r := NewContent("gen_1", 1, 200_000)
	r.Seek(123_456, io.SeekStart)
	tail, _ := io.ReadAll(r)
	if string(tail) != string(a[123_456:]) {
		t.Error("seeking gives other bytes")
	}
}

// status GETs generation id and decodes its body.
func status(t *testing.T, base, id string) map[string]any {
	t.Helper()
	resp, body := get(t, base+"/api/generations/"+id, "prism_sk_x")
	var m map[string]any
	if err := json.Unmarshal([]byte(body), &m); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", id, resp.StatusCode, body)
	}
	return m
}

// A lifecycle from_start counts from the server's first /api request,
// not from the generation's own first read, which a storm delayed here.
func TestLifecycleFromStart(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s, t0 := limitedServer(t, `{"storm": "1s"}`), time.Now()
		s.scenario.Generations["gen_1"] = Lifecycle{FromStart: true, Steps: []Step{{Status: "generating", For: Duration(2 * time.Second)}, {Status: "completed"}}}
		serveAt(s, "prism_sk_a") // refused by the storm, at the start
		for _, tc := range []struct {
			advance time.Duration
			status  string
		}{{1500 * time.Millisecond, "generating"}, {499 * time.Millisecond, "generating"}, {time.Millisecond, "completed"}} {
			time.Sleep(tc.advance)
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, "/api/generations/gen_1", nil)
			req.Header.Set("Authorization", "Bearer prism_sk_a")
			s.ServeHTTP(rec, req)
			if !strings.Contains(rec.Body.String(), `"status":"`+tc.status+`"`) {
				t.Errorf("at %v: %d %s, want %s", time.Since(t0), rec.Code, rec.Body, tc.status)
			}
		}
	})
}

// testClient has a transport of its own: httptest.Server.Close closes
// http.DefaultTransport's idle connections, which would break a parallel
// test's request on a connection it had just taken from the pool.
var testClient = &http.Client{Transport: simRouter{http.DefaultTransport.(*http.Transport).Clone()}}
