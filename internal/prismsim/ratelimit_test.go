package prismsim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestRateLimit(t *testing.T) {
	t.Parallel()
	clk := newClock()
	s, base := start(t, `{"generations": {"gen_1": {"steps": [{"status": "generating"}]}}, "templates": {"tpl": {}},
		"rate_limit": {"per_second": 2}}`, WithClock(clk.Now))
	statusURL := base + "/api/generations/gen_1"
	type req struct {
		advance time.Duration
		key     string
		post    bool
		code    int
	}
	for i, r := range []req{
		{0, "prism_sk_a", false, 200},
		{0, "prism_sk_a", true, 200}, // a POST spends the same budget
		{0, "prism_sk_a", false, 429},
		{0, "prism_sk_a", true, 429},
		{0, "prism_sk_b", false, 200}, // another key has its own
		{0, "", false, 401},           // no key: a budget of its own, then the 401
		{499 * time.Millisecond, "prism_sk_a", false, 429},
		{time.Millisecond, "prism_sk_a", false, 200}, // half a second refills one request
		{0, "prism_sk_a", false, 429},
		{time.Hour, "prism_sk_a", false, 200}, // the burst is per_second, however long the pause
		{0, "prism_sk_a", false, 200},
		{0, "prism_sk_a", false, 429},
	} {
		clk.Advance(r.advance)
		var resp *http.Response
		var body string
		if r.post {
			var err error
			if resp, body, err = post(t, t.Context(), base+TemplatePath("tpl"), r.key, "application/json", `{"variables": {}}`); err != nil {
				t.Fatal(err)
			}
		} else {
			resp, body = get(t, statusURL, r.key)
		}
		if resp.StatusCode != r.code {
			t.Fatalf("request %d (%+v): %d %s", i+1, r, resp.StatusCode, body)
		}
		if r.code == 429 {
			var e struct{ Error, Message string }
			json.Unmarshal([]byte(body), &e)
			if e.Error != "rate_limited" || e.Message != "Too many requests" || resp.Header.Get("Retry-After") != "1" {
				t.Errorf("request %d: 429 with %v %s", i+1, resp.Header, body)
			}
		}
	}
	if got, want := s.APIStats(), (APIStats{Requests: 12, RateLimited: 5}); got != want {
		t.Errorf("APIStats %+v, want %+v", got, want)
	}
	// The refused POST was counted but created nothing.
	if st := s.Submits(TemplatePath("tpl")); st.Posts != 2 || len(st.Created) != 1 {
		t.Errorf("submits %+v", st)
	}
	// Videos are storage, not the API: never limited.
	if resp, _ := get(t, base+"/videos/gen_1.mp4", "prism_sk_a"); resp.StatusCode == 429 {
		t.Error("a video request was rate limited")
	}
	if got := s.APIStats().Requests; got != 12 {
		t.Errorf("a video request counted as an API request: %d", got)
	}
}

func TestNoRateLimit(t *testing.T) {
	t.Parallel()
	s := New(Scenario{Generations: map[string]Lifecycle{"gen_1": {Steps: []Step{{Status: "generating"}}}}}, WithClock(newClock().Now))
	for i := range 100 {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/api/generations/gen_1", nil)
		req.Header.Set("Authorization", "Bearer prism_sk_x")
		s.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("request %d: %d without a rate limit", i+1, rec.Code)
		}
	}
	if got := s.APIStats(); got != (APIStats{Requests: 100}) {
		t.Errorf("APIStats %+v", got)
	}
}
