// Package prismsim is a fake Prism API for tests, the demo and rehearsals:
// an http.Handler that answers GET /api/generations/{id} as the real API
// does (same JSON, same error bodies, the key checked) and serves the
// videos behind expiring, signed URLs, like S3 presigned URLs.
//
// Each generation follows a scripted lifecycle: a list of steps, each
// answering for some time or some number of requests, the last one for
// ever. See Step for what a step can do, and scenarios/default.json for
// the lifecycles the demo and `prism-sim serve` start with.
package prismsim

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
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
}

// Lifecycle is one generation's script.
type Lifecycle struct {
	Steps      []Step `json:"steps"`
	TemplateID string `json:"template_id,omitempty"`
	Video      Video  `json:"video,omitempty"`
}

// Step is one stage of a lifecycle. It either answers with a status, or
// with a fault (HTTP, Fault). It lasts For, or Times requests, whichever
// is given (one request when neither is); the last step lasts for ever.
type Step struct {
	Status     string   `json:"status,omitempty"`      // generating, completed, failed, or any other
	Error      string   `json:"error,omitempty"`       // failure reason, with status failed
	NoVideo    bool     `json:"no_video,omitempty"`    // completed, but without video_url
	HTTP       int      `json:"http,omitempty"`        // answer with this HTTP error instead
	RetryAfter string   `json:"retry_after,omitempty"` // Retry-After header, with HTTP
	Fault      string   `json:"fault,omitempty"`       // "cut" (close the connection), "hang", "garbage" (200, not JSON)
	For        Duration `json:"for,omitempty"`
	Times      int      `json:"times,omitempty"`
}

// Video describes the file served for a completed generation.
type Video struct {
	Bytes       int64    `json:"bytes,omitempty"`        // size; 256 KiB when 0
	ContentType string   `json:"content_type,omitempty"` // video/mp4 when ""
	ExpiresIn   Duration `json:"expires_in,omitempty"`   // URL lifetime; 1h when 0
	// Faults: "cut_first" cuts the first transfer halfway; "cut_always"
	// cuts every transfer halfway; "no_range" ignores Range; "expired_first"
	// signs the first URL handed out already expired; "etag_change" serves
	// a new version after the first transfer; "missing" answers 404;
	// "stall" sends half of the file, then nothing more.
	Faults []string `json:"faults,omitempty"`
}

// Duration is a time.Duration written as "1.5s" in JSON.
type Duration time.Duration

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("durations are strings like \"3s\": %w", err)
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
		return Scenario{}, fmt.Errorf("invalid scenario: %w", err)
	}
	for id, lc := range s.Generations {
		if len(lc.Steps) == 0 {
			return Scenario{}, fmt.Errorf("invalid scenario: generation %q has no steps", id)
		}
		for i, st := range lc.Steps {
			if (st.Status == "") == (st.HTTP == 0 && st.Fault == "") {
				return Scenario{}, fmt.Errorf("invalid scenario: %s step %d needs either a status or an http/fault", id, i+1)
			}
		}
	}
	return s, nil
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
	now      func() time.Time
	mu       sync.Mutex
	state    map[string]*genState
	closing  chan struct{}
	once     sync.Once
}

type genState struct {
	requests   int       // status requests answered
	first      time.Time // first status request
	last       time.Time // latest status request
	userAgent  string    // of the latest status request
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
	return &Server{scenario: scenario, secret: []byte("prism-sim"), now: time.Now, state: map[string]*genState{}, closing: make(chan struct{})}
}

// Close releases hanging requests, so that an http.Server can shut down.
func (s *Server) Close() { s.once.Do(func() { close(s.closing) }) }

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

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/api/generations/"):
		s.status(w, r, strings.TrimPrefix(r.URL.Path, "/api/generations/"))
	case (r.Method == http.MethodGet || r.Method == http.MethodHead) && strings.HasPrefix(r.URL.Path, "/videos/"):
		s.video(w, r, strings.TrimPrefix(r.URL.Path, "/videos/"))
	default:
		apiError(w, http.StatusNotFound, "not_found", "No such endpoint; the simulator serves GET /api/generations/:id")
	}
}

func apiError(w http.ResponseWriter, code int, errCode, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": errCode, "message": msg})
}

// status answers GET /api/generations/{id} from the generation's script.
func (s *Server) status(w http.ResponseWriter, r *http.Request, id string) {
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	switch {
	case !ok || !strings.HasPrefix(key, "prism_sk_") || key == KeyRevoked:
		apiError(w, http.StatusUnauthorized, "unauthorized", "Invalid or missing API key")
		return
	case key == KeyNoScope:
		apiError(w, http.StatusForbidden, "forbidden", "API key lacks the templates:read scope")
		return
	}
	lc, ok := s.scenario.Generations[id]
	if !ok {
		apiError(w, http.StatusNotFound, "not_found", "Generation not found")
		return
	}

	now := s.now()
	s.mu.Lock()
	st := s.gen(id)
	if st.requests == 0 {
		st.first, st.stepStart = now, now
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
		if !step.NoVideo {
			st.urls++
			videoURL = s.sign(r, id, lc.Video, st.urls == 1 && has(lc.Video.Faults, "expired_first"))
		}
	}
	completed, first := st.completed, st.first
	s.mu.Unlock()

	switch {
	case step.Fault == "cut":
		panic(http.ErrAbortHandler) // closes the connection without an answer
	case step.Fault == "hang":
		select {
		case <-r.Context().Done():
		case <-s.closing:
		}
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
		"created_at": first.UTC().Format(time.RFC3339), "completed_at": nil, "error": nil,
	}
	if lc.TemplateID != "" {
		body["template_id"] = lc.TemplateID
	}
	switch step.Status {
	case "completed":
		body["completed_at"] = completed.UTC().Format(time.RFC3339)
		body["share_url"] = "https://prismvideos.com/share/" + id
		if videoURL != "" {
			body["video_url"] = videoURL
		}
	case "failed":
		body["error"] = step.Error
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(body)
}

// sign makes a presigned-style URL for id's video on this server.
func (s *Server) sign(r *http.Request, id string, v Video, expired bool) string {
	signed := s.now().UTC()
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
	lc, ok := s.scenario.Generations[id]
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
	case s.now().After(signed.Add(time.Duration(expires) * time.Second)):
		s3Error(w, http.StatusForbidden, "AccessDenied", "Request has expired")
		return
	case has(lc.Video.Faults, "missing"):
		s3Error(w, http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
		return
	}

	s.mu.Lock()
	st := s.gen(id)
	st.transfers++
	transfer := st.transfers
	s.mu.Unlock()

	version := 1
	if has(lc.Video.Faults, "etag_change") && transfer > 1 {
		version = 2
	}
	content := NewContent(id, version, or(lc.Video.Bytes, 256<<10))
	if has(lc.Video.Faults, "no_range") {
		r.Header.Del("Range")
	}
	w.Header().Set("Content-Type", or(lc.Video.ContentType, "video/mp4"))
	w.Header().Set("ETag", content.ETag())
	switch {
	case (transfer == 1 && has(lc.Video.Faults, "cut_first")) || has(lc.Video.Faults, "cut_always"):
		w = &cutter{ResponseWriter: w, left: content.Size() / 2}
	case has(lc.Video.Faults, "stall"):
		w = &cutter{ResponseWriter: w, left: content.Size() / 2, stall: func() {
			select {
			case <-r.Context().Done():
			case <-s.closing:
			}
		}}
	}
	http.ServeContent(w, r, "", time.Time{}, content)
}

// cutter aborts the connection after `left` more body bytes, after
// calling stall, if set.
type cutter struct {
	http.ResponseWriter
	left  int64
	stall func()
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

// Content is a video's bytes, made up from its ID and version without
// being held in memory, so that any size can be served.
type Content struct {
	block []byte
	size  int64
	pos   int64
	etag  string
}

// NewContent returns the bytes served for id's video.
func NewContent(id string, version int, size int64) *Content {
	seed := sha256.Sum256([]byte(fmt.Sprintf("%s/%d", id, version)))
	block := make([]byte, 64<<10)
	for i := range block {
		block[i] = seed[i%len(seed)] ^ byte(i*131+i>>8)
	}
	return &Content{block: block, size: size, etag: fmt.Sprintf("%q", hex.EncodeToString(seed[:8]))}
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
	for n := 0; n < len(p); {
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

func or[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}
