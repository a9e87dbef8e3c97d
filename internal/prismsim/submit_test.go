package prismsim

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// post sends body to base+path and returns the answer, or the error when
// there is none.
func post(t *testing.T, ctx context.Context, url, key, contentType, body string) (*http.Response, string, error) {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := testClient.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b), nil
}

// submitted is a generate endpoint's 200 body.
type submitted struct {
	Generations []struct {
		GenerationID string `json:"generation_id"`
		Status       string `json:"status"`
	} `json:"generations"`
	TemplateID     *string  `json:"template_id"`
	CreditsCharged int      `json:"credits_charged"`
	Latency        *Latency `json:"latency_estimate_sec"`
}

func (s submitted) ids() []string {
	var ids []string
	for _, g := range s.Generations {
		ids = append(ids, g.GenerationID)
	}
	return ids
}

const submitScenario = `{"generations": {"gen_taken_2": {"steps": [{"status": "failed"}]}},
	"templates": {
		"tpl_demo": {"variables": ["title", "cta"], "videos": 2, "credits": 20, "latency": {"typical": 2, "busy": 4},
			"lifecycle": {"steps": [{"status": "generating", "for": "1.5s"}, {"status": "completed"}], "video": {"bytes": 1000}}},
		"tpl-x.y": {},
		"taken": {},
		"tpl_doomed": {"videos": 2, "lifecycle": {"steps": [{"status": "failed", "error": "Policy"}]}},
		"tpl_refused_first": {"lifecycle": {"steps": [{"http": 503, "times": 1}, {"status": "failed"}]}}}}`

func TestSubmitRefusals(t *testing.T) {
	t.Parallel()
	const ok = `{"variables": {"title": "T", "cta": "Buy"}}`
	tpl := TemplatePath("tpl_demo")
	for _, tc := range []struct {
		name, path, key, contentType, body string
		code                               int
		errCode, message                   string
	}{
		{"no key", tpl, "", "application/json", ok, 401, "unauthorized", ""},
		{"revoked key", tpl, KeyRevoked, "application/json", ok, 401, "unauthorized", ""},
		{"key without scope", tpl, KeyNoScope, "application/json", ok, 403, "forbidden", ""},
		{"unknown template", TemplatePath("tpl_nope"), "prism_sk_x", "application/json", ok, 404, "not_found", "Template not found"},
		{"no content type", tpl, "prism_sk_x", "", ok, 400, "validation_error", "Content-Type must be application/json"},
		{"form content type", tpl, "prism_sk_x", "application/x-www-form-urlencoded", ok, 400, "validation_error", "Content-Type must be application/json"},
		{"not JSON", tpl, "prism_sk_x", "application/json", `{"variables":`, 400, "validation_error", "The request body must be a JSON object"},
		{"an array", tpl, "prism_sk_x", "application/json", `[]`, 400, "validation_error", "The request body must be a JSON object"},
		{"null", tpl, "prism_sk_x", "application/json", `null`, 400, "validation_error", "The request body must be a JSON object"},
		{"too large", tpl, "prism_sk_x", "application/json", `{"variables": {"title": "` + strings.Repeat("x", maxBody) + `"}}`, 400, "validation_error", "Request body is larger than 4 MiB"},
		{"no variables", tpl, "prism_sk_x", "application/json", `{"webhook_url": "https://x"}`, 400, "validation_error", "Missing required field: variables"},
		{"variables not an object", tpl, "prism_sk_x", "application/json", `{"variables": ["T"]}`, 400, "validation_error", "variables must be an object"},
		{"missing variable", tpl, "prism_sk_x", "application/json", `{"variables": {"title": "T"}}`, 400, "validation_error", "Missing required variable: cta"},
		{"empty variable", tpl, "prism_sk_x", "application/json", `{"variables": {"title": "", "cta": "Buy"}}`, 400, "validation_error", "Missing required variable: title"},
		{"null variable", tpl, "prism_sk_x", "application/json", `{"variables": {"title": "T", "cta": null}}`, 400, "validation_error", "Missing required variable: cta"},
		{"prompt without prompt", PromptPath, "prism_sk_x", "application/json", `{"modelName": "veo-3.1"}`, 400, "validation_error", "Missing required field: prompt"},
		{"prompt with an empty prompt", PromptPath, "prism_sk_x", "application/json", `{"prompt": "", "modelName": "veo-3.1"}`, 400, "validation_error", "Missing required field: prompt"},
		{"prompt without modelName", PromptPath, "prism_sk_x", "application/json", `{"prompt": "a cat"}`, 400, "validation_error", "Missing required field: modelName"},
		{"count 0", PromptPath, "prism_sk_x", "application/json", `{"prompt": "a cat", "modelName": "m", "count": 0}`, 400, "validation_error", "count must be an integer from 1 to 4"},
		{"count 5", PromptPath, "prism_sk_x", "application/json", `{"prompt": "a cat", "modelName": "m", "count": 5}`, 400, "validation_error", "count must be an integer from 1 to 4"},
		{"count 1.5", PromptPath, "prism_sk_x", "application/json", `{"prompt": "a cat", "modelName": "m", "count": 1.5}`, 400, "validation_error", "count must be an integer from 1 to 4"},
		{"count as a string", PromptPath, "prism_sk_x", "application/json", `{"prompt": "a cat", "modelName": "m", "count": "2"}`, 400, "validation_error", "count must be an integer from 1 to 4"},
		{"prompt, no key", PromptPath, "", "application/json", `{"prompt": "a cat", "modelName": "m"}`, 401, "unauthorized", ""},
		{"GET on a generate endpoint", "GET " + tpl, "prism_sk_x", "", "", 404, "not_found", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, base := start(t, submitScenario)
			method, path, found := strings.Cut(tc.path, " ")
			if !found {
				method, path = http.MethodPost, tc.path
			}
			req, _ := http.NewRequest(method, base+path, strings.NewReader(tc.body))
			if tc.key != "" {
				req.Header.Set("Authorization", "Bearer "+tc.key)
			}
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			resp, err := testClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var e struct{ Error, Message string }
			json.Unmarshal(body, &e)
			if resp.StatusCode != tc.code || e.Error != tc.errCode || e.Message == "" || (tc.message != "" && e.Message != tc.message) {
				t.Errorf("got %d %s, want %d %s %q", resp.StatusCode, body, tc.code, tc.errCode, tc.message)
			}
			if st := s.Submits(path); len(st.Created) != 0 {
				t.Errorf("a refused POST created %v", st.Created)
			}
			if want := map[bool]int{true: 1, false: 0}[method == http.MethodPost]; s.Submits(path).Posts != want {
				t.Errorf("Posts = %d, want %d", s.Submits(path).Posts, want)
			}
		})
	}
}

func TestSubmitCreatesGenerations(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s, base := start(t, submitScenario)
		t0 := time.Now()

		var tplResp submitted
		resp, body, err := post(t, t.Context(), base+TemplatePath("tpl_demo"), "prism_sk_x", "application/json; charset=utf-8",
			`{"variables": {"title": "T", "cta": "Buy"}, "webhook_url": "https://hook"}`)
		if err != nil || resp.StatusCode != 200 || json.Unmarshal([]byte(body), &tplResp) != nil {
			t.Fatalf("template POST: %v %v %s", err, resp, body)
		}
		// gen_tpl_demo_1, _2; the prompt's count 3 continue the count.
		if got, want := tplResp.ids(), []string{"gen_tpl_demo_1", "gen_tpl_demo_2"}; !reflect.DeepEqual(got, want) {
			t.Errorf("IDs %v, want %v", got, want)
		}
		if tplResp.TemplateID == nil || *tplResp.TemplateID != "tpl_demo" || tplResp.CreditsCharged != 20 ||
			tplResp.Latency == nil || *tplResp.Latency != (Latency{Typical: 2, Busy: 4}) || tplResp.Generations[0].Status != "generating" {
			t.Errorf("template answer %s", body)
		}

		var promptResp submitted
		_, body, _ = post(t, t.Context(), base+PromptPath, "prism_sk_x", "application/json",
			`{"prompt": "a cat", "modelName": "veo-3.1", "count": 3, "aspectRatio": "16:9"}`)
		if err := json.Unmarshal([]byte(body), &promptResp); err != nil {
			t.Fatal(err)
		}
		if got, want := promptResp.ids(), []string{"gen_prompt_3", "gen_prompt_4", "gen_prompt_5"}; !reflect.DeepEqual(got, want) {
			t.Errorf("prompt IDs %v, want %v", got, want)
		}
		// No "prompt" config: 10 credits a video, no estimate, no template.
		if promptResp.TemplateID != nil || promptResp.CreditsCharged != 30 || promptResp.Latency != nil ||
			!strings.Contains(body, `"latency_estimate_sec":null`) || !strings.Contains(body, `"template_id":null`) {
			t.Errorf("prompt answer %s", body)
		}

		// Template IDs keep letters, digits and underscores; an ID the
		// scenario has is skipped.
		_, body, _ = post(t, t.Context(), base+TemplatePath("tpl-x.y"), "prism_sk_x", "application/json", `{"variables": {}}`)
		if !strings.Contains(body, `"generation_id":"gen_tplxy_6"`) {
			t.Errorf("tpl-x.y: %s", body)
		}
		_, body, _ = post(t, t.Context(), base+TemplatePath("taken"), "prism_sk_x", "application/json", `{"variables": {}}`)
		if !strings.Contains(body, `"generation_id":"gen_taken_7"`) {
			t.Errorf("taken: %s", body)
		}
		s2, base2 := start(t, submitScenario)
		post(t, t.Context(), base2+TemplatePath("tpl-x.y"), "prism_sk_x", "application/json", `{"variables": {}}`)
		_, body, _ = post(t, t.Context(), base2+TemplatePath("taken"), "prism_sk_x", "application/json", `{"variables": {}}`)
		if !strings.Contains(body, `"generation_id":"gen_taken_3"`) || len(s2.Submits(TemplatePath("taken")).Created) != 1 {
			t.Errorf("gen_taken_2 is a scenario generation; got %s", body)
		}

		st := s.Submits(TemplatePath("tpl_demo"))
		if st.Posts != 1 || !reflect.DeepEqual(st.Created, []string{"gen_tpl_demo_1", "gen_tpl_demo_2"}) || st.LastBody["webhook_url"] != "https://hook" {
			t.Errorf("template stats %+v", st)
		}
		if st := s.Submits(PromptPath); st.Posts != 1 || len(st.Created) != 3 || st.LastBody["count"] != 3.0 || st.LastBody["aspectRatio"] != "16:9" {
			t.Errorf("prompt stats %+v", st)
		}

		// The lifecycle runs from creation, whenever it is first read.
		time.Sleep(time.Second)
		g := status(t, base, "gen_tpl_demo_1")
		if g["status"] != "generating" || g["template_id"] != "tpl_demo" || g["created_at"] != t0.Format(time.RFC3339) {
			t.Errorf("after 1s: %v", g)
		}
		time.Sleep(500 * time.Millisecond)
		g = status(t, base, "gen_tpl_demo_2")
		if g["status"] != "completed" || g["completed_at"] != t0.Add(1500*time.Millisecond).Format(time.RFC3339) {
			t.Errorf("gen_tpl_demo_2 read first at 1.5s: %v", g)
		}
		if resp, body := get(t, g["video_url"].(string), ""); resp.StatusCode != 200 || len(body) != 1000 {
			t.Errorf("the created generation's video: %d, %d bytes", resp.StatusCode, len(body))
		}
		if g := status(t, base, "gen_prompt_3"); g["status"] != "generating" || g["template_id"] != nil {
			t.Errorf("default prompt lifecycle at 1.5s: %v", g)
		}
		time.Sleep(500 * time.Millisecond)
		if g := status(t, base, "gen_prompt_3"); g["status"] != "completed" {
			t.Errorf("default prompt lifecycle at 2s: %v", g)
		}
		if resp, _ := get(t, base+"/api/generations/gen_prompt_99", "prism_sk_x"); resp.StatusCode != 404 {
			t.Errorf("an ID never created: %d", resp.StatusCode)
		}
	})
}

// TestSubmitAnswersAnAtOnceFailedGenerationFailed: a lifecycle that
// begins failed is failed in the answer already, with its error; one that
// begins with a fault is generating.
func TestSubmitAnswersAnAtOnceFailedGenerationFailed(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		_, base := start(t, submitScenario)
		_, body, err := post(t, t.Context(), base+TemplatePath("tpl_doomed"), "prism_sk_x", "application/json", `{"variables": {}}`)
		if err != nil || strings.Count(body, `"error":"Policy"`) != 2 {
			t.Fatalf("tpl_doomed: %v %s", err, body)
		}
		var answer submitted
		if err := json.Unmarshal([]byte(body), &answer); err != nil || len(answer.Generations) != 2 ||
			answer.Generations[0].Status != "failed" || answer.Generations[1].Status != "failed" {
			t.Errorf("tpl_doomed: %v %s", err, body)
		}
		_, body, _ = post(t, t.Context(), base+TemplatePath("tpl_refused_first"), "prism_sk_x", "application/json", `{"variables": {}}`)
		if err := json.Unmarshal([]byte(body), &answer); err != nil || len(answer.Generations) != 1 || answer.Generations[0].Status != "generating" || strings.Contains(body, "error") {
			t.Errorf("tpl_refused_first: %v %s", err, body)
		}
	})
}

func TestSubmitScripts(t *testing.T) {
	t.Parallel()
	type answer struct {
		code    int    // 0: no answer (connection closed)
		errCode string // of an error body; "-" for a non-JSON 200
		message string
		retry   string // Retry-After
		created int
	}
	ok := answer{code: 200, created: 1}
	for _, tc := range []struct {
		name, script string
		want         []answer
	}{
		{"no script: always success", `[]`, []answer{ok, ok}},
		{"402, for ever", `[{"http": 402}]`, []answer{{402, "insufficient_credits", "Insufficient credits", "", 0}, {402, "insufficient_credits", "Insufficient credits", "", 0}}},
		{"422", `[{"http": 422}]`, []answer{{422, "invalid_template", "This template cannot be generated through the API", "", 0}}},
		{"500", `[{"http": 500}]`, []answer{{500, "server_error", "Internal server error", "", 0}}},
		{"404", `[{"http": 404}]`, []answer{{404, "not_found", "Template not found", "", 0}}},
		{"429 then success", `[{"http": 429, "retry_after": "1"}, {"ok": true}]`, []answer{{429, "rate_limited", "Too many requests", "1", 0}, ok, ok}},
		{"times, codes and messages", `[{"http": 500, "times": 2, "code": "generation_error"}, {"http": 400, "code": "pricing_error"}, {"ok": true}, {"http": 400, "message": "Bad title"}]`,
			[]answer{{500, "generation_error", "Generation failed", "", 0}, {500, "generation_error", "Generation failed", "", 0}, {400, "pricing_error", "Could not price this generation", "", 0}, ok, {400, "validation_error", "Bad title", "", 0}, {400, "validation_error", "Bad title", "", 0}}},
		{"garbage", `[{"fault": "garbage"}, {"ok": true}]`, []answer{{200, "-", "", "", 0}, ok}},
		{"reset", `[{"fault": "reset", "times": 2}, {"ok": true}]`, []answer{{}, {}, ok}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			scenario := `{"generations": {}, "templates": {"tpl": {"submit": ` + tc.script + `}}, "prompt": {"submit": ` + tc.script + `}}`
			for _, path := range []string{TemplatePath("tpl"), PromptPath} {
				s, base := start(t, scenario)
				created := 0
				for i, want := range tc.want {
					resp, body, err := post(t, t.Context(), base+path, "prism_sk_x", "application/json",
						`{"variables": {"n": "`+string(rune('0'+i))+`"}, "prompt": "p", "modelName": "m"}`)
					var e struct{ Error, Message string }
					switch {
					case want.code == 0:
						if err == nil {
							t.Errorf("%s POST %d: got %d %s, want the connection closed", path, i+1, resp.StatusCode, body)
						}
					case err != nil:
						t.Errorf("%s POST %d: %v", path, i+1, err)
					case resp.StatusCode != want.code || resp.Header.Get("Retry-After") != want.retry:
						t.Errorf("%s POST %d: %d %v %s, want %+v", path, i+1, resp.StatusCode, resp.Header, body, want)
					case want.errCode == "-":
						if json.Valid([]byte(body)) {
							t.Errorf("%s POST %d: garbage is JSON: %s", path, i+1, body)
						}
					case want.code != 200:
						if json.Unmarshal([]byte(body), &e); e.Error != want.errCode || e.Message != want.message {
							t.Errorf("%s POST %d: %s, want %+v", path, i+1, body, want)
						}
					}
					created += want.created
					st := s.Submits(path)
					if len(st.Created) != created || st.Posts != i+1 {
						t.Errorf("%s after POST %d: %d created, %d posts; want %d, %d", path, i+1, len(st.Created), st.Posts, created, i+1)
					}
					// Even a reset reads the body first.
					if n := st.LastBody["variables"].(map[string]any)["n"]; n != string(rune('0'+i)) {
						t.Errorf("%s POST %d: last body %v", path, i+1, st.LastBody)
					}
				}
			}
		})
	}
}

func TestSubmitHangs(t *testing.T) {
	t.Parallel()
	s, base := start(t, `{"generations": {}, "templates": {"tpl": {"submit": [{"fault": "hang"}]}}}`)
	// Until the client gives up: its deadline, not a closed connection,
	// must end the request.
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if resp, _, err := post(t, ctx, base+TemplatePath("tpl"), "prism_sk_x", "application/json", `{"variables": {}}`); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hang: %v %v, want the client's deadline", resp, err)
	}
	// Or until the server closes, without an answer.
	done := make(chan error, 1)
	go func() {
		_, _, err := post(t, context.Background(), base+TemplatePath("tpl"), "prism_sk_x", "application/json", `{"variables": {}}`)
		done <- err
	}()
	s.Close()
	if err := <-done; err == nil {
		t.Error("a hanging POST must end without an answer when the server closes")
	}
	if st := s.Submits(TemplatePath("tpl")); len(st.Created) != 0 || st.Posts != 2 {
		t.Errorf("hanging POSTs: %+v", st)
	}
}

// TestBundledTemplates checks that the templates the end-to-end tests and
// the rehearsals rely on answer as their names say.
func TestBundledTemplates(t *testing.T) {
	t.Parallel()
	e2e, err := LoadScenario("../../testdata/scenarios/e2e.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		scenario Scenario
		path     string
		codes    []int // of successive POSTs; 0 for a closed connection
		created  int   // per successful POST
	}{
		{e2e, TemplatePath("tpl_e2e"), []int{200, 200}, 2},
		{e2e, TemplatePath("tpl_402"), []int{402, 402}, 0},
		{e2e, TemplatePath("tpl_422"), []int{422, 422}, 0},
		{e2e, TemplatePath("tpl_429_then_ok"), []int{429, 200, 200}, 1},
		{e2e, TemplatePath("tpl_500"), []int{500, 500}, 0},
		{e2e, TemplatePath("tpl_reset"), []int{0, 0}, 0},
		{e2e, PromptPath, []int{200}, 1},
		{Default(), TemplatePath("tpl_demo"), []int{200}, 2},
	} {
		s := New(tc.scenario)
		srv := httptest.NewServer(s)
		created := 0
		for i, want := range tc.codes {
			resp, body, err := post(t, t.Context(), srv.URL+tc.path, "prism_sk_x", "application/json",
				`{"variables": {"title": "T"}, "prompt": "p", "modelName": "m"}`)
			switch {
			case want == 0 && err == nil:
				t.Errorf("%s POST %d: %d %s, want the connection closed", tc.path, i+1, resp.StatusCode, body)
			case want != 0 && (err != nil || resp.StatusCode != want):
				t.Errorf("%s POST %d: %v %v %s, want %d", tc.path, i+1, resp, err, body, want)
			}
			if want == 200 {
				created += tc.created
			}
		}
		if got := len(s.Submits(tc.path).Created); got != created {
			t.Errorf("%s: %d created, want %d", tc.path, got, created)
		}
		s.Close()
		srv.Close()
	}
}
