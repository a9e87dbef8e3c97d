// Package prismsim is a fake Prism API for tests, the demo and rehearsals:
// an http.Handler that answers GET /api/generations/{id} and both generate
// endpoints (POST /api/templates/{id}/generate, POST /api/generations) as
// the real API does (same JSON, same error bodies, the key checked) and
// serves the videos behind expiring, signed URLs, like S3 presigned URLs.
//
// Each generation follows a scripted lifecycle: a list of steps, each
// answering for some time or some number of requests, the last one for
// ever. See Step for what a step can do, and scenarios/default.json for
// the lifecycles the demo and `prism-sim serve` start with. Submissions
// follow a script of the same kind (see SubmitStep), and generations they
// create follow their template's lifecycle.
package prismsim

import (
	"bytes"
	"cmp"
	"crypto/hmac"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prism-wait/prism-wait/internal/untrusted"
)

// Keys with special meaning. Any other key starting with "prism_sk_" is
// accepted.
const (
	KeyRevoked = "prism_sk_revoked" // answers 401, like a revoked key
	KeyNoScope = "prism_sk_noscope" // answers 403, like a key without templates:read
)

// Scenario is a set of scripted generations, as read from a JSON file.
type Scenario struct {
	Generations map[string]Lifecycle `json:"generations"`
	// Templates answer POST /api/templates/{id}/generate, by template ID;
	// any other template ID answers 404.
	Templates map[string]Template `json:"templates,omitempty"`
	// Prompt answers POST /api/generations. When nil, every POST succeeds,
	// charges 10 credits a video, estimates no latency, and its generations
	// go "generating" for 2s then "completed": every scenario can rehearse
	// a prompt submission.
	Prompt *SubmitConfig `json:"prompt,omitempty"`
	// RateLimit limits every /api request per key; no limit when zero.
	RateLimit RateLimit `json:"rate_limit,omitzero"`
	// Cache scripts the fake Actions cache service; it works without faults
	// when nil.
	Cache *CacheConfig `json:"cache,omitempty"`
}

// Lifecycle is one generation's script.
type Lifecycle struct {
	Steps []Step `json:"steps"`
	// FromStart counts the steps' time from the server's first /api
	// request instead of the generation's own first status request: the
	// generation is done at the same moment however late its first read
	// came, a 429 before it included.
	FromStart  bool   `json:"from_start,omitempty"`
	TemplateID string `json:"template_id,omitempty"`
	Video      Video  `json:"video,omitempty"`
}

// Step is one stage of a lifecycle. It either answers with a status, or
// with a fault (HTTP, Fault). It lasts For, or Times requests, whichever
// is given (one request when neither is); the last step lasts for ever.
type Step struct {
	Status  string `json:"status,omitempty"`   // generating, completed, failed, or any other
	Error   string `json:"error,omitempty"`    // failure reason, with status failed
	NoVideo bool   `json:"no_video,omitempty"` // completed, but without video_url
	// VideoURL and ShareURL, with completed, are answered verbatim instead
	// of a signed URL and the share page, even when empty: they test how a
	// client treats a hostile or broken URL (" \t ", "javascript:alert(1)").
	VideoURL   *string  `json:"video_url,omitempty"`
	ShareURL   *string  `json:"share_url,omitempty"`
	HTTP       int      `json:"http,omitempty"`        // answer with this HTTP error instead
	RetryAfter string   `json:"retry_after,omitempty"` // Retry-After header, with HTTP
	Fault      string   `json:"fault,omitempty"`       // "cut" (close the connection), "hang", "garbage" (200, not JSON), "switch" (101, then silence)
	For        Duration `json:"for,omitempty"`
	Times      int      `json:"times,omitempty"`
}

// Video describes the file served for a completed generation: a real
// video file (see Content) of the container its content type names, with
// the codec, size in pixels and duration given here.
type Video struct {
	Bytes       int64    `json:"bytes,omitempty"`        // size; 256 KiB when 0, at least the headers' size
	ContentType string   `json:"content_type,omitempty"` // video/mp4 when ""
	ExpiresIn   Duration `json:"expires_in,omitempty"`   // URL lifetime; 1h when 0
	Width       int      `json:"width,omitempty"`        // in pixels; DefaultWidth when 0
	Height      int      `json:"height,omitempty"`       // in pixels; DefaultHeight when 0
	Duration    Duration `json:"duration,omitempty"`     // DefaultDuration when 0
	// Codec is the video track's sample entry: avc1 (the default), hvc1,
	// hev1, av01 or vp09 for MP4; vp09 (the default), vp08, av01, avc1 or
	// hvc1 for WebM and Matroska.
	Codec string `json:"codec,omitempty"`
	// Faults: "cut_first" cuts the first transfer halfway; "cut_always"
	// cuts every transfer halfway; "no_range" ignores Range; "expired_first"
	// signs the first URL handed out already expired; "etag_change" serves
	// a new version after the first transfer; "missing" answers 404;
	// "stall" sends half of the file, then nothing more.
	//
	// Faults that no download can survive, for soak tests: "short_always"
	// sends half of what each response's Content-Length declares, then
	// closes, and answers a Range request starting in the file's last
	// quarter with an impossible Content-Range; "etag_always" serves a new
	// version (ETag and bytes) on every transfer, so no resume matches;
	// "slow_headers" never sends the headers; "endless" answers 200 with no
	// Content-Length and a body that never ends.
	//
	// Faults of storage that answers 200 with something other than the
	// whole video, which a download must refuse: "html_200" an HTML error
	// page (Content-Type text/html); "xml_200" an S3 XML error document
	// (application/xml); "empty_200" an empty body (Content-Length: 0);
	// "cut_no_length" no Content-Length, and the connection closed after
	// 300,000 bytes (or half the video when smaller), so that only the
	// file's own structure shows it is cut short (over HTTP/1.x: over
	// HTTP/2 the abort resets the stream, which a client sees); "no_moov" an MP4 without
	// its moov box; "png" a valid PNG image under the video's content type.
	Faults []string `json:"faults,omitempty"`
}

// videoFaults are the names Video.Faults accepts.
var videoFaults = []string{"cut_first", "cut_always", "no_range", "expired_first", "etag_change", "missing", "stall",
	"short_always", "etag_always", "slow_headers", "endless",
	"html_200", "xml_200", "empty_200", "cut_no_length", "no_moov", "png"}

// stepFaults are the names Step.Fault accepts.
var stepFaults = []string{"cut", "hang", "garbage", "switch"}

// Duration is a time.Duration written as "1.5s" in JSON.
type Duration time.Duration

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("durations are strings like \"3s\", not %s", untrusted.Clip(string(b), 40))
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

//go:embed scenarios/default.json
var defaultScenario []byte

// Default is the scenario the demo and `prism-sim serve` start with.
func Default() Scenario {
	s, err := ParseScenario(defaultScenario)
	if err != nil {
		panic(err) // the embedded file is tested
	}
	return s
}

// ParseScenario reads a scenario file's content and checks it.
func ParseScenario(b []byte) (Scenario, error) {
	var s Scenario
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return Scenario{}, fmt.Errorf("invalid scenario: %s%w", locate(b, err), err)
	}
	if err := s.validate(); err != nil {
		return Scenario{}, fmt.Errorf("invalid scenario: %w", err)
	}
	return s, nil
}

// locate names the generation, and its step, or the template where err,
// the error decoding scenario b, comes from, as "generation "gen_a" step
// 2: "; "" when it is none of them. The decoder reports the first error
// in the file's order, so the parts are tried in that order too.
func locate(b []byte, err error) string {
	for _, p := range parts(b) {
		if p.kind == "template" {
			if same(strict(p.raw, &Template{}), err) {
				return fmt.Sprintf("template %q: ", p.id)
			}
			continue
		}
		if !same(strict(p.raw, &Lifecycle{}), err) {
			continue
		}
		var steps struct{ Steps []json.RawMessage }
		if json.Unmarshal(p.raw, &steps) == nil {
			for i, raw := range steps.Steps {
				if same(strict(raw, &Step{}), err) {
					return fmt.Sprintf("generation %q step %d: ", p.id, i+1)
				}
			}
		}
		return fmt.Sprintf("generation %q: ", p.id)
	}
	return ""
}

// part is a generation's or a template's entry in a scenario file.
type part struct {
	kind, id string // "generation" or "template", and its ID
	raw      json.RawMessage
}

// parts lists a scenario's generations and templates in the file's
// order, as far as the file is well formed.
func parts(b []byte) []part {
	var out []part
	each(b, func(key string, v json.RawMessage) {
		if kind := map[string]string{"generations": "generation", "templates": "template"}[key]; kind != "" {
			each(v, func(id string, raw json.RawMessage) { out = append(out, part{kind, id, raw}) })
		}
	})
	return out
}

// each calls f for each key of the JSON object b and its value, in order,
// as far as b is well formed.
func each(b []byte, f func(key string, v json.RawMessage)) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return
	}
	for dec.More() {
		k, err := dec.Token()
		var v json.RawMessage
		if err != nil || dec.Decode(&v) != nil {
			return
		}
		f(fmt.Sprint(k), v)
	}
}

// same reports whether part, the error decoding a part of a scenario, is
// whole, the error decoding all of it: a type error names its field from
// the outermost type decoded.
func same(part, whole error) bool {
	if part == nil {
		return false
	}
	p, ok1 := errors.AsType[*json.UnmarshalTypeError](part)
	w, ok2 := errors.AsType[*json.UnmarshalTypeError](whole)
	if ok1 && ok2 {
		return p.Value == w.Value && p.Type == w.Type && strings.HasSuffix(w.Field, p.Field)
	}
	return part.Error() == whole.Error()
}

// strict decodes b into v, refusing unknown fields, as ParseScenario does.
func strict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// validate reports every mistake at once, so that a scenario file is
// fixed in one go.
func (s Scenario) validate() error {
	var errs []error
	for _, id := range slices.Sorted(maps.Keys(s.Generations)) {
		lc := s.Generations[id]
		if len(lc.Steps) == 0 {
			errs = append(errs, fmt.Errorf("generation %q has no steps", id))
		}
		errs = append(errs, lc.validate(id))
	}
	for _, id := range slices.Sorted(maps.Keys(s.Templates)) {
		t := s.Templates[id]
		name := fmt.Sprintf("template %q", id)
		if id == "" || strings.Contains(id, "/") {
			errs = append(errs, fmt.Errorf("%s: a template ID is one non-empty path segment", name))
		}
		if t.Videos < 0 {
			errs = append(errs, fmt.Errorf("%s: videos is %d, want 1 or more (1 when omitted)", name, t.Videos))
		}
		for _, v := range t.Variables {
			if v == "" {
				errs = append(errs, fmt.Errorf("%s: a variable name is empty", name))
			}
		}
		errs = append(errs, t.SubmitConfig.validate(name))
	}
	if s.Prompt != nil {
		errs = append(errs, s.Prompt.validate("prompt"))
	}
	if s.Cache != nil {
		for _, f := range s.Cache.Faults {
			if !slices.Contains(cacheFaults, f) {
				errs = append(errs, fmt.Errorf("cache: unknown fault %q, valid faults are %q", f, cacheFaults))
			}
		}
	}
	if s.RateLimit.PerSecond < 0 {
		errs = append(errs, fmt.Errorf("rate_limit: per_second is %d, want 0 (no limit) or more", s.RateLimit.PerSecond))
	}
	if s.RateLimit.Burst < 0 {
		errs = append(errs, fmt.Errorf("rate_limit: burst is %d, want 0 (per_second) or more", s.RateLimit.Burst))
	}
	if s.RateLimit.Storm < 0 {
		errs = append(errs, fmt.Errorf("rate_limit: storm is %s, want a duration of 0 or more", time.Duration(s.RateLimit.Storm)))
	}
	return errors.Join(errs...)
}

func (lc Lifecycle) validate(name string) error {
	var errs []error
	for i, st := range lc.Steps {
		where := fmt.Sprintf("%s step %d", name, i+1)
		if (st.Status == "") == (st.HTTP == 0 && st.Fault == "") {
			errs = append(errs, fmt.Errorf("%s needs either a status or an http/fault", where))
		}
		if st.Fault != "" && !slices.Contains(stepFaults, st.Fault) {
			errs = append(errs, fmt.Errorf("%s: unknown fault %q, valid faults are %q", where, st.Fault, stepFaults))
		}
		if (st.VideoURL != nil || st.ShareURL != nil) && st.Status != "completed" {
			errs = append(errs, fmt.Errorf("%s: video_url and share_url go with status completed", where))
		}
		if st.VideoURL != nil && st.NoVideo {
			errs = append(errs, fmt.Errorf("%s: video_url and no_video contradict each other", where))
		}
		if st.Times < 0 || st.For < 0 {
			errs = append(errs, fmt.Errorf("%s: times and for cannot be negative", where))
		}
	}
	for _, f := range lc.Video.Faults {
		if !slices.Contains(videoFaults, f) {
			errs = append(errs, fmt.Errorf("%s: unknown video fault %q, valid faults are %q", name, f, videoFaults))
		}
	}
	errs = append(errs, lc.Video.validate(name+" video")...)
	return errors.Join(errs...)
}

// LoadScenario reads a scenario file.
func LoadScenario(path string) (Scenario, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Scenario{}, err
	}
	return ParseScenario(b)
}

// Server is the simulator. Build it with New; it is an http.Handler.
type Server struct {
	scenario Scenario
	secret   []byte
	closing  chan struct{}
	once     sync.Once

	mu       sync.Mutex
	state    map[string]*genState
	created  map[string]Lifecycle    // generations created by submissions
	nextID   int                     // of the latest created generation
	submits  map[string]*submitState // by request path
	buckets  map[string]*bucket      // rate-limit budgets, by Authorization header
	api      APIStats
	apiFirst time.Time // the first /api request

	cache cacheSim // the fake Actions cache service, with its own lock
}

type genState struct {
	requests   int       // status requests answered
	first      time.Time // first status request
	last       time.Time // latest status request
	userAgent  string    // of the latest status request
	created    time.Time // when a submission created it; zero for scenario generations
	step       int       // current step
	stepStart  time.Time
	stepCount  int       // requests answered by the current step
	completed  time.Time // when it first answered completed
	urls       int       // video URLs handed out
	transfers  int       // video transfers started
	authorized []string  // Authorization headers seen on video requests
}

// New returns a simulator playing scenario.
func New(scenario Scenario) *Server {
	return &Server{
		scenario: scenario, secret: []byte("prism-sim"), closing: make(chan struct{}),
		state: map[string]*genState{}, created: map[string]Lifecycle{}, submits: map[string]*submitState{}, buckets: map[string]*bucket{},
	}
}

// Close releases hanging requests, so that an http.Server can shut down.
func (s *Server) Close() { s.once.Do(func() { close(s.closing) }) }

// switchProtocols answers 101 Switching Protocols and then nothing, on a
// connection taken from net/http, until the client closes it or the
// server closes: a client that reads the switched connection as a body
// hangs. Over HTTP/2, which has no 101, the stream is reset.
func (s *Server) switchProtocols(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	c, buf, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	defer c.Close()
	buf.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: Upgrade\r\n\r\n")
	if buf.Flush() != nil {
		return
	}
	gone := make(chan struct{})
	go func() {
		io.Copy(io.Discard, c) // until the client closes
		close(gone)
	}()
	select {
	case <-gone:
	case <-s.closing:
	}
}

// wait blocks until r's client goes away or the server closes.
func (s *Server) wait(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-s.closing:
	}
}

// Stats is what the simulator saw of one generation.
type Stats struct {
	Requests   int       // status requests
	First      time.Time // time of the first status request
	Last       time.Time // time of the latest status request
	UserAgent  string    // of the latest status request
	Completed  time.Time // when it first answered completed; zero if not yet
	VideoAuthz int       // video requests that carried an Authorization header
}

// Stats returns what the simulator saw of generation id.
func (s *Server) Stats(id string) Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.gen(id)
	return Stats{Requests: st.requests, First: st.first, Last: st.last, UserAgent: st.userAgent, Completed: st.completed, VideoAuthz: len(st.authorized)}
}

func (s *Server) gen(id string) *genState {
	st, ok := s.state[id]
	if !ok {
		st = &genState{}
		s.state[id] = st
	}
	return st
}

// lifecycle finds generation id's script, in the scenario or among the
// generations submissions created. Call it with s.mu held.
func (s *Server) lifecycle(id string) (Lifecycle, bool) {
	if lc, ok := s.scenario.Generations[id]; ok {
		return lc, true
	}
	lc, ok := s.created[id]
	return lc, ok
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if isSubmit(r) {
		// Counted before the rate limit: a test may check that a client
		// never repeated a POST, even one the limit refused.
		s.mu.Lock()
		s.submit(r.URL.Path).posts++
		s.mu.Unlock()
	}
	if strings.HasPrefix(r.URL.Path, "/api/") && !s.allow(w, r) {
		return
	}
	switch {
	case strings.HasPrefix(r.URL.Path, cacheService):
		s.twirp(w, r)
	case strings.HasPrefix(r.URL.Path, "/cache-blob/"):
		s.blob(w, r)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/api/generations/"):
		s.status(w, r, strings.TrimPrefix(r.URL.Path, "/api/generations/"))
	case r.Method == http.MethodPost && r.URL.Path == "/api/generations":
		s.submitPrompt(w, r)
	case r.Method == http.MethodPost && isTemplateGenerate(r.URL.Path):
		s.submitTemplate(w, r)
	case (r.Method == http.MethodGet || r.Method == http.MethodHead) && strings.HasPrefix(r.URL.Path, "/videos/"):
		s.video(w, r, strings.TrimPrefix(r.URL.Path, "/videos/"))
	case strings.HasPrefix(r.URL.Path, "/api/"):
		apiError(w, http.StatusNotFound, "not_found", "No such endpoint; the simulator serves GET /api/generations/:id, POST /api/generations and POST /api/templates/:id/generate")
	default:
		// Outside the API, the website's page, as a base_url without
		// /api meets it.
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, "<!doctype html><title>Page not found</title><p>This page does not exist.</p>\n")
	}
}

func apiError(w http.ResponseWriter, code int, errCode, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": errCode, "message": msg})
}

// authorize answers 401 or 403 as the API does for r's key, and reports
// whether the key may go on.
func authorize(w http.ResponseWriter, r *http.Request) bool {
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	switch {
	case !ok || !strings.HasPrefix(key, "prism_sk_") || key == KeyRevoked:
		apiError(w, http.StatusUnauthorized, "unauthorized", "Invalid or missing API key")
		return false
	case key == KeyNoScope:
		apiError(w, http.StatusForbidden, "forbidden", "API key lacks the templates:read scope")
		return false
	}
	return true
}

// status answers GET /api/generations/{id} from the generation's script.
func (s *Server) status(w http.ResponseWriter, r *http.Request, id string) {
	if !authorize(w, r) {
		return
	}
	now := time.Now()
	s.mu.Lock()
	lc, ok := s.lifecycle(id)
	if !ok {
		s.mu.Unlock()
		apiError(w, http.StatusNotFound, "not_found", "Generation not found")
		return
	}
	st := s.gen(id)
	if st.requests == 0 {
		st.first = now
		if st.created.IsZero() {
			// A scenario generation starts when it is first asked about
			// (or with the first /api request); a submitted one started
			// when it was created.
			st.stepStart = now
			if lc.FromStart {
				st.stepStart = s.apiFirst
			}
		}
	}
	st.requests++
	st.last, st.userAgent = now, r.UserAgent()
	// Advance past steps that are over.
	for st.step < len(lc.Steps)-1 {
		cur := lc.Steps[st.step]
		over := st.stepCount >= max(cur.Times, 1)
		if cur.For > 0 {
			over = now.Sub(st.stepStart) >= time.Duration(cur.For)
		}
		if !over {
			break
		}
		// A timed step ends at its deadline, not at the next request.
		end := now
		if cur.For > 0 {
			end = st.stepStart.Add(time.Duration(cur.For))
		}
		st.step, st.stepStart, st.stepCount = st.step+1, end, 0
	}
	st.stepCount++
	step := lc.Steps[st.step]
	var videoURL string
	if step.Status == "completed" {
		if st.completed.IsZero() {
			st.completed = st.stepStart
		}
		if !step.NoVideo && step.VideoURL == nil {
			st.urls++
			videoURL = s.sign(r, id, lc.Video, st.urls == 1 && has(lc.Video.Faults, "expired_first"))
		}
	}
	completed, createdAt := st.completed, cmp.Or(st.created, st.first)
	s.mu.Unlock()

	switch {
	case step.Fault == "cut":
		panic(http.ErrAbortHandler) // closes the connection without an answer
	case step.Fault == "hang":
		s.wait(r)
		return
	case step.Fault == "switch":
		s.switchProtocols(w)
		return
	case step.Fault == "garbage":
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<html><body>502 Bad Gateway</body>")
		return
	case step.HTTP != 0:
		if step.RetryAfter != "" {
			w.Header().Set("Retry-After", step.RetryAfter)
		}
		code := map[int]string{401: "unauthorized", 403: "forbidden", 404: "not_found", 500: "server_error"}[step.HTTP]
		apiError(w, step.HTTP, code, http.StatusText(step.HTTP))
		return
	}

	body := map[string]any{
		"id": id, "status": step.Status, "template_id": nil, "video_url": nil, "share_url": nil,
		"created_at": createdAt.UTC().Format(time.RFC3339), "completed_at": nil, "error": nil,
	}
	if lc.TemplateID != "" {
		body["template_id"] = lc.TemplateID
	}
	switch step.Status {
	case "completed":
		body["completed_at"] = completed.UTC().Format(time.RFC3339)
		body["share_url"] = "https://prismvideos.com/share/" + id
		if step.ShareURL != nil {
			body["share_url"] = *step.ShareURL
		}
		if videoURL != "" {
			body["video_url"] = videoURL
		}
		if step.VideoURL != nil {
			body["video_url"] = *step.VideoURL
		}
	case "failed":
		body["error"] = step.Error
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(body)
}

// sign makes a presigned-style URL for id's video on this server.
func (s *Server) sign(r *http.Request, id string, v Video, expired bool) string {
	signed := time.Now().UTC()
	if expired {
		signed = signed.Add(-2 * time.Hour)
	}
	expires := int64(time.Duration(v.ExpiresIn) / time.Second)
	if v.ExpiresIn == 0 {
		expires = 3600
	}
	date := signed.Format("20060102T150405Z")
	q := url.Values{
		"X-Amz-Algorithm": {"AWS4-HMAC-SHA256"},
		"X-Amz-Date":      {date},
		"X-Amz-Expires":   {strconv.FormatInt(expires, 10)},
	}
	q.Set("X-Amz-Signature", s.signature(id, date, q.Get("X-Amz-Expires")))
	return (&url.URL{Scheme: "http", Host: r.Host, Path: "/videos/" + id + ".mp4", RawQuery: q.Encode()}).String()
}

func (s *Server) signature(id, date, expires string) string {
	m := hmac.New(sha256.New, s.secret)
	fmt.Fprintf(m, "%s\n%s\n%s", id, date, expires)
	return hex.EncodeToString(m.Sum(nil))
}

// video serves /videos/{id}.mp4 like S3 serves a presigned GET.
func (s *Server) video(w http.ResponseWriter, r *http.Request, name string) {
	id := strings.TrimSuffix(name, ".mp4")
	s.mu.Lock()
	lc, ok := s.lifecycle(id)
	s.mu.Unlock()
	q := r.URL.Query()
	signed, err := time.Parse("20060102T150405Z", q.Get("X-Amz-Date"))
	expires, err2 := strconv.ParseInt(q.Get("X-Amz-Expires"), 10, 64)
	switch {
	case r.Header.Get("Authorization") != "":
		s.mu.Lock()
		st := s.gen(id)
		st.authorized = append(st.authorized, r.Header.Get("Authorization"))
		s.mu.Unlock()
		s3Error(w, http.StatusBadRequest, "InvalidArgument", "Only one auth mechanism allowed")
		return
	case !ok || err != nil || err2 != nil || !hmac.Equal([]byte(q.Get("X-Amz-Signature")), []byte(s.signature(id, q.Get("X-Amz-Date"), q.Get("X-Amz-Expires")))):
		s3Error(w, http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match")
		return
	case time.Now().After(signed.Add(time.Duration(expires) * time.Second)):
		s3Error(w, http.StatusForbidden, "AccessDenied", "Request has expired")
		return
	case has(lc.Video.Faults, "missing"):
		s3Error(w, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
		return
	case has(lc.Video.Faults, "slow_headers"):
		s.wait(r)
		panic(http.ErrAbortHandler) // never an answer, not even an empty one
	}

	s.mu.Lock()
	st := s.gen(id)
	st.transfers++
	transfer := st.transfers
	s.mu.Unlock()

	version := 1
	switch {
	case has(lc.Video.Faults, "etag_always"):
		version = transfer
	case has(lc.Video.Faults, "etag_change") && transfer > 1:
		version = 2
	}
	content := lc.Video.Content(id, version)
	if has(lc.Video.Faults, "no_range") {
		r.Header.Del("Range")
	}
	w.Header().Set("Content-Type", cmp.Or(lc.Video.ContentType, "video/mp4"))
	w.Header().Set("ETag", content.ETag())
	switch {
	case has(lc.Video.Faults, "html_200"):
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, "<html><body><h1>502 Bad Gateway</h1><p>upstream storage</p></body></html>\n")
		return
	case has(lc.Video.Faults, "xml_200"):
		w.Header().Set("Content-Type", "application/xml")
		io.WriteString(w, "<?xml version=\"1.0\"?><Error><Code>SlowDown</Code></Error>\n")
		return
	case has(lc.Video.Faults, "empty_200"):
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return
	case has(lc.Video.Faults, "cut_no_length"):
		// No Content-Length and no chunking: the body ends when the
		// connection closes, as an HTTP/1.0 server or a proxy sends it.
		w.Header().Set("Transfer-Encoding", "identity")
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			io.CopyN(w, content, min(300_000, content.Size()/2))
		}
		panic(http.ErrAbortHandler)
	case has(lc.Video.Faults, "endless"):
		s.endless(w, r, content)
		return
	case has(lc.Video.Faults, "short_always"):
		if start, ok := rangeStart(r.Header.Get("Range"), content.Size()); ok && start >= content.Size()-content.Size()/4 {
			// first > last: no client may trust these bytes.
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start+1, start, content.Size()))
			w.Header().Set("Content-Length", strconv.FormatInt(content.Size()-start, 10))
			w.WriteHeader(http.StatusPartialContent)
			if r.Method != http.MethodHead {
				io.Copy(w, io.NewSectionReader(content, start, content.Size()-start))
			}
			return
		}
		w = &cutter{ResponseWriter: w, half: true}
	case (transfer == 1 && has(lc.Video.Faults, "cut_first")) || has(lc.Video.Faults, "cut_always"):
		w = &cutter{ResponseWriter: w, left: content.Size() / 2}
	case has(lc.Video.Faults, "stall"):
		w = &cutter{ResponseWriter: w, left: content.Size() / 2, stall: func() { s.wait(r) }}
	}
	http.ServeContent(w, r, "", time.Time{}, content)
}

// endless answers 200 with no Content-Length and streams content over and
// over until the client goes away or the server closes: only a client's
// own size or time bound ends it.
func (s *Server) endless(w http.ResponseWriter, r *http.Request, content *Content) {
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	rc := http.NewResponseController(w)
	buf := make([]byte, 32<<10)
	for off := int64(0); ; {
		select {
		case <-r.Context().Done():
			return
		case <-s.closing:
			panic(http.ErrAbortHandler)
		default:
		}
		n, _ := content.ReadAt(buf, off)
		off = (off + int64(n)) % content.Size()
		if _, err := w.Write(buf[:n]); err != nil {
			return
		}
		rc.Flush()
	}
}

// rangeStart returns the first byte a single-range Range header asks for
// ("bytes=N-", "bytes=N-M" or "bytes=-N"), and false for none or another
// form.
func rangeStart(h string, size int64) (int64, bool) {
	spec, ok := strings.CutPrefix(h, "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return 0, false
	}
	first, _, ok := strings.Cut(spec, "-")
	if !ok {
		return 0, false
	}
	if first == "" { // suffix: the last N bytes
		n, err := strconv.ParseInt(strings.TrimPrefix(spec, "-"), 10, 64)
		if err != nil || n <= 0 {
			return 0, false
		}
		return max(size-n, 0), true
	}
	n, err := strconv.ParseInt(first, 10, 64)
	if err != nil || n < 0 || n >= size {
		return 0, false
	}
	return n, true
}

// cutter aborts the connection after `left` more body bytes, after
// calling stall, if set. With half, left is half the Content-Length the
// response declares, whatever range it serves.
type cutter struct {
	http.ResponseWriter
	left  int64
	half  bool
	stall func()
}

func (c *cutter) WriteHeader(code int) {
	if c.half {
		n, _ := strconv.ParseInt(c.Header().Get("Content-Length"), 10, 64)
		c.left = n / 2
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *cutter) Write(b []byte) (int, error) {
	if int64(len(b)) > c.left {
		c.ResponseWriter.Write(b[:c.left])
		c.left = 0
		if f, ok := c.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		if c.stall != nil {
			c.stall()
		}
		panic(http.ErrAbortHandler)
	}
	c.left -= int64(len(b))
	return c.ResponseWriter.Write(b)
}

func s3Error(w http.ResponseWriter, code int, s3code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(code)
	fmt.Fprintf(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>%s</Message></Error>", s3code, msg)
}

// Content is a video's bytes: headers held in memory, then media data
// made up from its ID and version without being held in memory, so that
// any size can be served. Build it with NewContent or Video.Content.
type Content struct {
	head  []byte // the container's headers: the file's first bytes
	block []byte // the media data repeat this block
	size  int64
	pos   int64
	etag  string
}

func (c *Content) Size() int64  { return c.size }
func (c *Content) ETag() string { return c.etag }

func (c *Content) Read(p []byte) (int, error) {
	n, err := c.ReadAt(p, c.pos)
	c.pos += int64(n)
	return n, err
}

func (c *Content) ReadAt(p []byte, off int64) (int, error) {
	if off >= c.size {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), c.size-off)]
	n := 0
	if off < int64(len(c.head)) {
		n = copy(p, c.head[off:])
	}
	for n < len(p) {
		i := (off + int64(n)) % int64(len(c.block))
		n += copy(p[n:], c.block[i:])
	}
	return len(p), nil
}

func (c *Content) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += c.pos
	case io.SeekEnd:
		offset += c.size
	}
	if offset < 0 {
		return 0, errors.New("negative position")
	}
	c.pos = offset
	return offset, nil
}

func has(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
