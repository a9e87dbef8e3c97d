package wait

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prism-wait/prism-wait/internal/prism"
)

// TestPastDeadlineTable uses deadlines far from now, in the past or the
// future, so that the wall clock cannot tip any case.
func TestPastDeadlineTable(t *testing.T) {
	t.Parallel()
	past, cancelPast := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancelPast()
	future, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	for _, tc := range []struct {
		name       string
		ctx        context.Context
		retryAfter time.Duration
		want       string // "" for nil
	}{
		{"no deadline", context.Background(), prism.Forever, ""},
		{"no Retry-After, deadline passed", past, 0, ""},
		{"Retry-After within the deadline", future, time.Minute, ""},
		{"Retry-After past the deadline", future, 2 * time.Hour, "timeout reached before the API would answer again (Retry-After 2h0m0s); last problem: HTTP 429"},
		{"Retry-After forever", future, prism.Forever, "(Retry-After longer than can be represented)"},
		{"Retry-After after a passed deadline", past, time.Second, "(Retry-After 1s)"},
	} {
		err := PastDeadline(tc.ctx, &prism.Error{StatusCode: 429, RetryAfter: tc.retryAfter, Transient: true})
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v, want nil", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrDeadline)):
			t.Errorf("%s: %v, want ErrDeadline with %q", tc.name, err, tc.want)
		}
	}
}
