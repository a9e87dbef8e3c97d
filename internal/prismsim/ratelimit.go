package prismsim

import (
	"math"
	"net/http"
	"strconv"
	"time"
)

// RateLimit is a per-key budget for /api requests. Prism publishes no
// limits (see docs/api.md), but 429s must be expected: this lets a
// rehearsal or a test meet them where a client does not script them.
//
// One Server keeps one budget per key for every client it serves, so
// several processes using the same key against one `prism-sim serve`
// share one limit, as jobs of a matrix share their key's.
type RateLimit struct {
	// PerSecond is the requests per second each key may make, and its
	// burst unless Burst says otherwise; 0 means no limit.
	PerSecond int `json:"per_second"`
	// Burst is how many requests a key may send at once, when it is not
	// PerSecond: a burst smaller than the rate, say, that a client which
	// sends a cadence's requests all at the same instant meets.
	Burst int `json:"burst,omitempty"`
	// Storm refuses every /api request, whatever the key, with 429 for
	// this long after the first one, Retry-After saying when it ends (in
	// whole seconds); then PerSecond applies (no limit when 0). It
	// scripts a storm that passes.
	Storm Duration `json:"storm,omitempty"`
}

// APIStats counts what the simulator answered on /api, for tests that
// check a client's pace.
type APIStats struct {
	Requests    int // every /api request, the rate-limited ones included
	RateLimited int // requests answered 429 by the rate limit or its storm (not by a step's script)
}

// APIStats returns the /api counts so far.
func (s *Server) APIStats() APIStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.api
}

// bucket is one key's budget, kept as the time at which it would be
// spent if every request so far had come at the steady rate (the generic
// cell rate algorithm: a token bucket in whole nanoseconds, with no
// rounding to make a test flaky). It reads time.Now: tests run it in a
// synctest bubble, whose clock they move by sleeping.
type bucket struct {
	tat time.Time // theoretical arrival time of the next request
}

// allow counts an /api request and, when the key has no budget left,
// answers 429 with the whole seconds until it has one again.
func (s *Server) allow(w http.ResponseWriter, r *http.Request) bool {
	rl := s.scenario.RateLimit
	rate := time.Duration(rl.PerSecond)
	now := time.Now()
	s.mu.Lock()
	s.api.Requests++
	if s.api.Requests == 1 {
		s.apiFirst = now
	}
	if left := time.Duration(rl.Storm) - now.Sub(s.apiFirst); left > 0 {
		s.api.RateLimited++
		s.mu.Unlock()
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(left.Seconds()))))
		apiError(w, http.StatusTooManyRequests, "rate_limited", "Too many requests")
		return false
	}
	if rate <= 0 {
		s.mu.Unlock()
		return true
	}
	interval := time.Second / rate
	n := time.Duration(rl.Burst)
	if n <= 0 {
		n = rate
	}
	burst := interval * (n - 1) // how far ahead of the steady rate a key may run
	// By Authorization header: the key, or its absence, as Prism sees it.
	key := r.Header.Get("Authorization")
	b, ok := s.buckets[key]
	if !ok {
		b = &bucket{tat: now}
		s.buckets[key] = b
	}
	tat := b.tat
	if tat.Before(now) {
		tat = now
	}
	if wait := tat.Sub(now) - burst; wait > 0 {
		s.api.RateLimited++
		s.mu.Unlock()
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(wait.Seconds())))))
		apiError(w, http.StatusTooManyRequests, "rate_limited", "Too many requests")
		return false
	}
	b.tat = tat.Add(interval)
	s.mu.Unlock()
	return true
}
