package cli

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/prism-wait/prism-wait/internal/outcome"
)

// A submit refused again and again warns once, at the first refusal; the
// later ones are debug lines, so the job's annotations are not flooded.
func TestSubmitRefusalsWarnOnce(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		refusals  int
		wantDebug int
	}{
		{"once", 1, 0},
		{"three times", 3, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, base := sim(t, `{"generations": {}, "templates": {"tpl_busy": {"submit": [{"http": 429, "retry_after": "0", "times": `+strconv.Itoa(tt.refusals)+`}, {"ok": true}],
				"lifecycle": {"steps": [{"status": "completed"}], "video": {"bytes": 100}}}}}`)
			r := action(t, context.Background(), base, map[string]string{"template_id": "tpl_busy"})
			if r.code != outcome.ExitOK {
				t.Fatalf("code %d, want %d:\n%s", r.code, outcome.ExitOK, r.stdout)
			}
			if n := strings.Count(r.stdout, "::warning title=Submit not accepted yet::"); n != 1 {
				t.Errorf("%d warnings of the refused submit, want 1:\n%s", n, r.stdout)
			}
			if n := strings.Count(r.stdout, "::debug::submit: HTTP 429"); n != tt.wantDebug {
				t.Errorf("%d debug lines of later refusals, want %d:\n%s", n, tt.wantDebug, r.stdout)
			}
		})
	}
}
