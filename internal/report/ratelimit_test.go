package report

import (
	"bytes"
	"testing"
)

func TestRateLimitedWarnsWithTheFirstRate(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	RateLimited(NewLog(&b, true))(0.5)
	want := "::warning title=Prism API rate limit::the API answered 429 Too Many Requests: every request paused (for its Retry-After, or a backoff step without one), and all requests now share a budget of one request every 2s, which grows back while the API accepts them.\n"
	if b.String() != want {
		t.Errorf("logged\n%s\nwant\n%s", b.String(), want)
	}
}
