package e2e

// A job re-run, as the runner runs it: the same run ID, a higher attempt,
// the Actions cache service (the simulator's fake) keeping what the first
// attempt recorded.

import (
	"strings"
	"testing"
)

// attemptEnv is env as the runner passes it to attempt n of run id.
func attemptEnv(env []string, id, n string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		switch {
		case strings.HasPrefix(kv, "GITHUB_RUN_ID="):
			kv = "GITHUB_RUN_ID=" + id
		case strings.HasPrefix(kv, "GITHUB_RUN_ATTEMPT="):
			kv = "GITHUB_RUN_ATTEMPT=" + n
		}
		out = append(out, kv)
	}
	return out
}

func TestAReRunOfTheJobWaitsInsteadOfPayingAgain(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	t.Parallel()
	sim := startSim(t, e2eScenarios)
	with := fast(map[string]string{"template_id": "tpl_e2e", "variables": `{"title": "Launch"}`, "base_url": sim.base, "timeout": "20s"})
	first := newContainer(t)
	one := first.start(t, attemptEnv(first.env(t, with), "424242", "1")).wait(t)
	second := newContainer(t)
	two := second.start(t, attemptEnv(second.env(t, with), "424242", "2")).wait(t)

	if posts := sim.Submits("/api/templates/tpl_e2e/generate").Posts; posts != 1 {
		t.Errorf("%d POSTs across two attempts, want 1", posts)
	}
	if one.code != 0 || one.outputs["resumed"] != "false" || one.outputs["credits_charged"] != "10" {
		t.Errorf("attempt 1: exit %d, outputs %v\n%s", one.code, one.outputs, one.stdout)
	}
	if two.code != 0 || two.outputs["resumed"] != "true" || two.outputs["generation_id"] != one.outputs["generation_id"] ||
		two.outputs["credits_charged"] != "" || two.outputs["status"] != "completed" {
		t.Errorf("attempt 2: exit %d, outputs %v\n%s", two.code, two.outputs, two.stdout)
	}
	if !strings.Contains(two.stdout, "attempt 1 of this run submitted this request already") {
		t.Errorf("attempt 2's log does not say which attempt submitted:\n%s", two.stdout)
	}
}
