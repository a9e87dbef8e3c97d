package actionscache

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"
)

// A deadline that ends the retries says what the last try met, once: the
// try that failed for the same deadline is not quoted again after it.
func TestRetrySaysTheDeadlineOnce(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		c := &Client{}
		err := c.retry(ctx, func() (bool, error) {
			<-ctx.Done()
			return true, fmt.Errorf("cache service GetCacheEntryDownloadURL: %w", ctx.Err())
		})
		if want := "cache service GetCacheEntryDownloadURL: context deadline exceeded"; err == nil || err.Error() != want {
			t.Errorf("err = %v, want %q", err, want)
		}
		// Another failure before the deadline is quoted after it.
		ctx2, cancel2 := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel2()
		err = c.retry(ctx2, func() (bool, error) { return true, errors.New("cache service: HTTP 503") })
		if want := "context deadline exceeded (last: cache service: HTTP 503)"; err == nil || err.Error() != want {
			t.Errorf("err = %v, want %q", err, want)
		}
	})
}
