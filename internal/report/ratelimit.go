package report

// RateLimited is the request budget's Shrunk callback: it warns that the
// API answered 429 and that every request now shares a budget, with its
// first rate.
func RateLimited(log *Log) func(perSecond float64) {
	return func(perSecond float64) {
		log.Warningf("Prism API rate limit", "the API answered 429 Too Many Requests: every request paused (for its Retry-After, or a backoff step without one), and all requests now share a budget of %s, which grows back while the API accepts them.", PerSecond(perSecond))
	}
}
