package prismsim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
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
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func start(t *testing.T, js string, opts ...Option) (*Server, string) {
	t.Helper()
	sc, err := ParseScenario([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	s := New(sc, opts...)
	srv := httptest.NewServer(s)
	t.Cleanup(func() { s.Close(); srv.Close() })
	return s, srv.URL
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
		"gen_failed": {"steps": [{"status": "failed", "error": "Generation timed out"}]},
		"gen_novideo": {"steps": [{"status": "completed", "no_video": true}]}}}`)
	resp, body := get(t, base+"/api/generations/gen_garbage", "prism_sk_x")
	if resp.StatusCode != 200 || json.Valid([]byte(body)) {
		t.Errorf("garbage: %d %q", resp.StatusCode, body)
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/api/generations/gen_cut", nil)
	req.Header.Set("Authorization", "Bearer prism_sk_x")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Error("cut: got a response")
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

// clock is a clock that tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
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
