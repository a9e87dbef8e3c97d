package pause

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

func TestForWaitsItsDurationOrUntilTheContextEnds(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		if err := For(context.Background(), 3*time.Second); err != nil || time.Since(start) != 3*time.Second {
			t.Errorf("For(3s) = %v after %s, want nil after 3s", err, time.Since(start))
		}
		stop := errors.New("stop")
		ctx, cancel := context.WithCancelCause(context.Background())
		time.AfterFunc(time.Second, func() { cancel(stop) })
		start = time.Now()
		if err := For(ctx, time.Hour); !errors.Is(err, stop) || time.Since(start) != time.Second {
			t.Errorf("For(1h) cancelled at 1s = %v after %s, want the cause at 1s", err, time.Since(start))
		}
		if err := For(ctx, time.Hour); !errors.Is(err, stop) || time.Since(start) != time.Second {
			t.Errorf("For on an ended context = %v, want its cause at once", err)
		}
		if err := For(context.Background(), 0); err != nil {
			t.Errorf("For(0) = %v, want nil", err)
		}
		if err := For(ctx, -time.Second); !errors.Is(err, stop) {
			t.Errorf("For(-1s) on an ended context = %v, want its cause", err)
		}
	})
}
