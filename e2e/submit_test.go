package e2e

// Submit, then wait, in the static binary run as the runner runs it,
// against the simulator's generate endpoints. A POST costs credits: each
// case counts the POSTs the server saw.

import (
	"cmp"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/prism-wait/prism-wait/internal/prismsim"
)

func TestActionSubmitsThenWaits(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	// Submitting runs need room for the lifecycle and a 429's Retry-After.
	slow := func(with map[string]string) map[string]string {
		m := fast(map[string]string{"timeout": "20s"})
		for k, v := range with {
			m[k] = v
		}
		return m
	}

	bodyIs := func(path string, want map[string]any) check {
		return func(t *testing.T, c *container, r run, sim simulator) {
			if got := sim.Submits(path).LastBody; !reflect.DeepEqual(got, want) {
				t.Errorf("POST %s body %v, want %v", path, got, want)
			}
		}
	}
	tpl := prismsim.TemplatePath
	for _, tc := range []struct {
		name     string
		scenario string // from the module root; e2eScenarios when ""
		with     map[string]string
		code     int
		posts    map[string]int // POSTs the server must have seen, by path; nil: none at all
		checks   []check
	}{
		{name: "template", with: slow(map[string]string{"template_id": "tpl_e2e", "variables": `{"title": "Launch"}`, "download_dir": "videos"}),
			code: 0, posts: map[string]int{tpl("tpl_e2e"): 1}, checks: []check{
				outputsAre(map[string]string{"generation_id": "gen_tpl_e2e_1\ngen_tpl_e2e_2", "credits_charged": "10", "status": "completed",
					"template_id": "tpl_e2e\ntpl_e2e", "video_path": "videos/gen_tpl_e2e_1.mp4\nvideos/gen_tpl_e2e_2.mp4"}),
				bodyIs(tpl("tpl_e2e"), map[string]any{"variables": map[string]any{"title": "Launch"}}),
				logSays("gen_tpl_e2e_1, gen_tpl_e2e_2", "10 credits charged"),
				func(t *testing.T, c *container, r run, sim simulator) {
					for _, id := range []string{"gen_tpl_e2e_1", "gen_tpl_e2e_2"} {
						if fi, err := os.Stat(filepath.Join(c.workspace, "videos", id+".mp4")); err != nil || fi.Size() != 200000 {
							t.Errorf("%s: %v", id, err)
						}
						if sim.Stats(id).Requests == 0 {
							t.Errorf("%s was never read", id)
						}
					}
				},
			}},
		{name: "prompt with count and options", with: slow(map[string]string{"prompt": "A lighthouse at dawn", "model": "veo-3.1", "count": "3", "options": `{"aspectRatio": "16:9"}`}),
			code: 0, posts: map[string]int{prismsim.PromptPath: 1}, checks: []check{
				outputsAre(map[string]string{"generation_id": "gen_prompt_1\ngen_prompt_2\ngen_prompt_3", "credits_charged": "30", "status": "completed"}),
				bodyIs(prismsim.PromptPath, map[string]any{"prompt": "A lighthouse at dawn", "modelName": "veo-3.1", "count": float64(3), "aspectRatio": "16:9"}),
				func(t *testing.T, c *container, r run, sim simulator) {
					for _, id := range []string{"gen_prompt_1", "gen_prompt_2", "gen_prompt_3"} {
						if sim.Stats(id).Requests == 0 || sim.Stats(id).Completed.IsZero() {
							t.Errorf("%s was not waited for to the end: %+v", id, sim.Stats(id))
						}
					}
					if strings.Contains(r.stdout, "lighthouse") {
						t.Error("the log prints the request body's values")
					}
				},
			}},
		{name: "402", with: slow(map[string]string{"template_id": "tpl_402"}), code: 4, posts: map[string]int{tpl("tpl_402"): 1}, checks: []check{
			logSays("::error title=Prism API refused the submission::", "credits"),
			outputsAre(map[string]string{"generation_id": "", "status": "", "credits_charged": ""}),
		}},
		{name: "422", with: slow(map[string]string{"template_id": "tpl_422"}), code: 4, posts: map[string]int{tpl("tpl_422"): 1}, checks: []check{
			logSays("::error title=Prism API refused the submission::", "cannot be generated through the API"),
		}},
		{name: "429 then success", with: slow(map[string]string{"template_id": "tpl_429_then_ok"}), code: 0, posts: map[string]int{tpl("tpl_429_then_ok"): 2}, checks: []check{
			logSays("::warning title=Submit not accepted yet::"),
			outputsAre(map[string]string{"generation_id": "gen_tpl_429_then_ok_1", "status": "completed"}),
		}},
		{name: "500 is not repeated", with: slow(map[string]string{"template_id": "tpl_500"}), code: 4, posts: map[string]int{tpl("tpl_500"): 1}, checks: []check{
			logSays("::error title=Submit outcome unknown::", "check the Prism dashboard"),
		}},
		{name: "reset connection is not repeated", with: slow(map[string]string{"template_id": "tpl_reset"}), code: 4, posts: map[string]int{tpl("tpl_reset"): 1}, checks: []check{
			logSays("::error title=Submit outcome unknown::"),
		}},
		{name: "101 is not repeated", with: slow(map[string]string{"template_id": "tpl_switch"}), code: 4, posts: map[string]int{tpl("tpl_switch"): 1}, checks: []check{
			logSays("::error title=Submit outcome unknown::", "informational status"),
		}},
		{name: "timeout after submission", scenario: hostileScenarios,
			with: slow(map[string]string{"template_id": "tpl_forever", "variables": `{"title": "Launch"}`, "timeout": "5s"}),
			code: 3, posts: map[string]int{tpl("tpl_forever"): 1}, checks: []check{
				outputsAre(map[string]string{"generation_id": "gen_tpl_forever_1\ngen_tpl_forever_2", "status": "generating"}),
				logSays("::error title=No verdict in time::gen_tpl_forever_1"),
			}},
		// Input errors: exit 2 before any request.
		{name: "generation_id and template_id", with: slow(map[string]string{"generation_id": "gen_ok", "template_id": "tpl_e2e"}), code: 2,
			checks: []check{logSays("::error title=Invalid input::")}},
		{name: "prompt without model", with: slow(map[string]string{"prompt": "A cat"}), code: 2,
			checks: []check{logSays("::error title=Invalid input::", "model")}},
		{name: "count 5", with: slow(map[string]string{"prompt": "A cat", "model": "veo-3.1", "count": "5"}), code: 2,
			checks: []check{logSays("::error title=Invalid input::count")}},
		{name: "variables not JSON", with: slow(map[string]string{"template_id": "tpl_e2e", "variables": "{bad json"}), code: 2,
			checks: []check{logSays("::error title=Invalid input::variables")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sim := startSim(t, cmp.Or(tc.scenario, e2eScenarios))
			tc.with["base_url"] = sim.base
			c := newContainer(t)
			r := c.act(t, tc.with)
			checkActionRun(t, r, tc.code)
			paths := []string{prismsim.PromptPath, tpl("tpl_e2e"), tpl("tpl_402"), tpl("tpl_422"), tpl("tpl_429_then_ok"), tpl("tpl_500"), tpl("tpl_reset"), tpl("tpl_switch"), tpl("tpl_forever")}
			for _, p := range paths {
				if got := sim.Submits(p).Posts; got != tc.posts[p] {
					t.Errorf("POST %s: %d, want %d", p, got, tc.posts[p])
				}
			}
			if tc.code == 2 && sim.APIStats().Requests != 0 {
				t.Errorf("%d API requests for invalid input, want none", sim.APIStats().Requests)
			}
			for _, ch := range tc.checks {
				ch(t, c, r, sim)
			}
		})
	}
}
