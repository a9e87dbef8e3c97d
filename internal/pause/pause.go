// Package pause is the one way prism-wait waits: for a duration, or until
// its context ends, whichever comes first. Every wait of the program
// (between reads, after a 429, between download attempts) goes through it,
// so none can outlive a cancelled job.
package pause

import (
	"context"
	"time"
)

// For waits for d. It returns nil when d has passed, and ctx's cause when
// ctx ends first; for d of zero or less it returns at once (ctx's cause if
// it has ended).
func For(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return context.Cause(ctx)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return context.Cause(ctx)
	case <-t.C:
		return nil
	}
}
