package prismsim

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

func TestRateLimit(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s, base := start(t, `{"generations": {"gen_1": {"steps": [{"status": "generating"}]}}, "templates": {"tpl": {}},
			"rate_limit": {"per_second": 2}}`)
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
			time.Sleep(r.advance)
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
	})
}

func TestNoRateLimit(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := New(Scenario{Generations: map[string]Lifecycle{"gen_1": {Steps: []Step{{Status: "generating"}}}}})
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
	})
}

// serveAt sends one status request for gen_1 with key straight to the
// handler and returns its code and Retry-After.
func serveAt(s *Server, key string) (int, string) {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/api/generations/gen_1", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	s.ServeHTTP(rec, req)
	return rec.Code, rec.Header().Get("Retry-After")
}

func limitedServer(t *testing.T, rl string) *Server {
	t.Helper()
	sc, err := ParseScenario([]byte(`{"generations": {"gen_1": {"steps": [{"status": "generating"}]}}, "rate_limit": ` + rl + `}`))
	if err != nil {
		t.Fatal(err)
	}
	return New(sc)
}

// A burst smaller than the rate: 10 a second, but only 3 at once.
func TestRateLimitBurstSmallerThanTheRate(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := limitedServer(t, `{"per_second": 10, "burst": 3}`)
		var codes []int
		for range 4 {
			c, _ := serveAt(s, "prism_sk_a")
			codes = append(codes, c)
		}
		if want := []int{200, 200, 200, 429}; !slices.Equal(codes, want) {
			t.Errorf("four requests at once: %v, want %v", codes, want)
		}
		time.Sleep(100 * time.Millisecond) // one request's worth at 10 a second
		if c, _ := serveAt(s, "prism_sk_a"); c != 200 {
			t.Errorf("a tenth of a second later: %d, want 200", c)
		}
		if c, _ := serveAt(s, "prism_sk_a"); c != 429 {
			t.Errorf("then at once: %d, want 429", c)
		}
		time.Sleep(time.Hour)
		codes = codes[:0]
		for range 4 {
			c, _ := serveAt(s, "prism_sk_a")
			codes = append(codes, c)
		}
		if want := []int{200, 200, 200, 429}; !slices.Equal(codes, want) {
			t.Errorf("after an hour: %v, want %v: the burst, however long the pause", codes, want)
		}
	})
}

// A storm refuses everything, every key, for its time after the first
// /api request, then the limit (here none) applies.
func TestRateLimitStormThenNoLimit(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := limitedServer(t, `{"storm": "500ms"}`)
		for i, key := range []string{"prism_sk_a", "prism_sk_b", "prism_sk_a"} {
			if c, ra := serveAt(s, key); c != 429 || ra != "1" {
				t.Errorf("request %d in the storm: %d, Retry-After %q; want 429, 1", i+1, c, ra)
			}
		}
		time.Sleep(499 * time.Millisecond)
		if c, _ := serveAt(s, "prism_sk_a"); c != 429 {
			t.Errorf("just before the storm ends: %d, want 429", c)
		}
		time.Sleep(time.Millisecond)
		for i := range 50 {
			if c, _ := serveAt(s, "prism_sk_a"); c != 200 {
				t.Fatalf("request %d after the storm: %d, want 200: no limit", i+1, c)
			}
		}
		if got, want := s.APIStats(), (APIStats{Requests: 54, RateLimited: 4}); got != want {
			t.Errorf("APIStats %+v, want %+v", got, want)
		}
	})
}

func TestRateLimitStormThenTheLimit(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := limitedServer(t, `{"storm": "2500ms", "per_second": 2}`)
		if _, ra := serveAt(s, "prism_sk_a"); ra != "3" {
			t.Errorf("Retry-After %q at the start of a 2.5s storm, want 3", ra)
		}
		time.Sleep(time.Second)
		if _, ra := serveAt(s, "prism_sk_a"); ra != "2" {
			t.Errorf("Retry-After %q 1s into a 2.5s storm, want 2", ra)
		}
		time.Sleep(1500 * time.Millisecond)
		var codes []int
		for range 3 {
			c, _ := serveAt(s, "prism_sk_a")
			codes = append(codes, c)
		}
		if want := []int{200, 200, 429}; !slices.Equal(codes, want) {
			t.Errorf("after the storm: %v, want %v: the limit's full burst", codes, want)
		}
	})
}

func TestRateLimitValidation(t *testing.T) {
	t.Parallel()
	_, err := ParseScenario([]byte(`{"generations": {}, "rate_limit": {"per_second": 1, "burst": -1, "storm": "-1s"}}`))
	if err == nil || !strings.Contains(err.Error(), "burst is -1") || !strings.Contains(err.Error(), "storm is -1s") {
		t.Errorf("error %v, want both mistakes named", err)
	}
}
