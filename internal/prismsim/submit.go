package prismsim

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"
)

// PromptPath is the path of the prompt-to-video endpoint, as SubmitStats
// are keyed.
const PromptPath = "/api/generations"

// TemplatePath returns the path of template id's generate endpoint, as
// SubmitStats are keyed.
func TemplatePath(id string) string { return "/api/templates/" + id + "/generate" }

// maxBody bounds a submission's body; file variables may be data URIs.
const maxBody = 4 << 20

// Template scripts POST /api/templates/{id}/generate for one template.
type Template struct {
	// Variables are the required variable names: a POST whose variables
	// lack one, or give it as null or "", answers 400 validation_error.
	Variables []string `json:"variables,omitempty"`
	// Videos is how many generations one POST creates; 1 when 0.
	Videos int `json:"videos,omitempty"`
	SubmitConfig
}

// SubmitConfig scripts a generate endpoint: what it charges and
// estimates, the answers to successive POSTs, and the lifecycle of the
// generations it creates.
type SubmitConfig struct {
	// Credits is credits_charged: per POST for a template (its videos are
	// fixed), per video for a prompt (count varies); 10 when 0.
	Credits int `json:"credits,omitempty"`
	// Latency is latency_estimate_sec; null when nil, as in the older docs.
	Latency *Latency `json:"latency,omitempty"`
	// Lifecycle is what each new generation follows, its clock starting at
	// its creation; "generating" for 2s then "completed" when it has no
	// steps. A template's generations carry its ID as template_id. The
	// answer lists them "generating", or "failed" (with the error) when
	// the first step is failed.
	Lifecycle Lifecycle `json:"lifecycle,omitzero"`
	// Submit scripts the answers to successive valid POSTs; every POST
	// succeeds when it is empty.
	Submit []SubmitStep `json:"submit,omitempty"`
	// Unlisted adds to each successful answer this many entries marked
	// failed with no generation_id: videos that never started, which no
	// one can wait for.
	Unlisted int `json:"unlisted,omitempty"`
}

// Latency is a submission's latency_estimate_sec, in seconds.
type Latency struct {
	Typical float64 `json:"typical"`
	Busy    float64 `json:"busy"`
}

// SubmitStep is one stage of a submission script, with the rule of
// lifecycle steps: it answers Times POSTs (one when 0), and the last step
// answers for ever. It succeeds (OK), or answers an HTTP error, or a
// fault; a step that does not succeed creates no generation, as a refused
// POST at Prism charges nothing.
//
// Only POSTs that pass the rate limit, the key, the Content-Type and the
// body checks reach the script: a script describes what the API does with
// a valid request.
type SubmitStep struct {
	OK bool `json:"ok,omitempty"` // create the generations and answer 200
	// HTTP answers this error, with the documented code and message for
	// it (400 validation_error, 402 insufficient_credits, 404 not_found,
	// 422 invalid_template, 429 rate_limited, 500 server_error) unless
	// Code or Message say otherwise (e.g. 400 pricing_error, 500
	// generation_error).
	HTTP       int    `json:"http,omitempty"`
	Code       string `json:"code,omitempty"`
	Message    string `json:"message,omitempty"`
	RetryAfter string `json:"retry_after,omitempty"` // Retry-After header, with HTTP
	// Fault: "reset" reads the body, then closes the connection without an
	// answer (did Prism act on it? the client cannot know); "hang" never
	// answers; "garbage" answers 200 with an HTML body; "switch" answers
	// 101 Switching Protocols, then nothing.
	Fault string `json:"fault,omitempty"`
	Times int    `json:"times,omitempty"`
}

// submitFaults are the names SubmitStep.Fault accepts.
var submitFaults = []string{"reset", "hang", "garbage", "switch"}

// errorCodes and errorMessages are the documented error bodies, which
// scripted errors answer.
var (
	errorCodes = map[int]string{400: "validation_error", 401: "unauthorized", 402: "insufficient_credits", 403: "forbidden",
		404: "not_found", 422: "invalid_template", 429: "rate_limited", 500: "server_error"}
	errorMessages = map[string]string{
		"validation_error":     "Invalid request",
		"pricing_error":        "Could not price this generation",
		"unauthorized":         "Invalid or missing API key",
		"insufficient_credits": "Insufficient credits",
		"forbidden":            "API key lacks the templates:read scope",
		"not_found":            "Template not found",
		"invalid_template":     "This template cannot be generated through the API",
		"rate_limited":         "Too many requests",
		"server_error":         "Internal server error",
		"generation_error":     "Generation failed",
	}
)

// defaultLifecycle is what a submitted generation follows when its
// config gives no steps.
var defaultLifecycle = []Step{{Status: "generating", For: Duration(2 * time.Second)}, {Status: "completed"}}

func (c SubmitConfig) validate(name string) error {
	var errs []error
	if c.Credits < 0 {
		errs = append(errs, fmt.Errorf("%s: credits is %d, want 0 or more", name, c.Credits))
	}
	if c.Latency != nil && (c.Latency.Typical < 0 || c.Latency.Busy < 0) {
		errs = append(errs, fmt.Errorf("%s: latency cannot be negative", name))
	}
	if c.Unlisted < 0 {
		errs = append(errs, fmt.Errorf("%s: unlisted is %d, want 0 or more", name, c.Unlisted))
	}
	errs = append(errs, c.Lifecycle.validate(name+" lifecycle"))
	for i, st := range c.Submit {
		where := fmt.Sprintf("%s submit step %d", name, i+1)
		kinds := 0
		for _, set := range []bool{st.OK, st.HTTP != 0, st.Fault != ""} {
			if set {
				kinds++
			}
		}
		if kinds != 1 {
			errs = append(errs, fmt.Errorf("%s needs exactly one of ok, http or fault", where))
		}
		if st.HTTP != 0 && (st.HTTP < 400 || st.HTTP > 599) {
			errs = append(errs, fmt.Errorf("%s: http is %d, want an error from 400 to 599", where, st.HTTP))
		}
		if st.HTTP == 0 && (st.Code != "" || st.Message != "" || st.RetryAfter != "") {
			errs = append(errs, fmt.Errorf("%s: code, message and retry_after go with http", where))
		}
		if st.Fault != "" && !slices.Contains(submitFaults, st.Fault) {
			errs = append(errs, fmt.Errorf("%s: unknown fault %q, valid faults are %q", where, st.Fault, submitFaults))
		}
		if st.Times < 0 {
			errs = append(errs, fmt.Errorf("%s: times cannot be negative", where))
		}
	}
	return errors.Join(errs...)
}

// SubmitStats is what the simulator saw on one generate endpoint.
type SubmitStats struct {
	Posts    int            // every POST to the path, refused ones included
	LastBody map[string]any // the latest body that decoded as a JSON object; nil if none did
	Created  []string       // IDs of the generations created, in order
}

// Submits returns what the simulator saw on the generate endpoint at
// path: PromptPath or TemplatePath(id).
func (s *Server) Submits(path string) SubmitStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.submits[path]
	if !ok {
		return SubmitStats{}
	}
	return SubmitStats{Posts: st.posts, LastBody: maps.Clone(st.lastBody), Created: slices.Clone(st.created)}
}

type submitState struct {
	posts     int
	lastBody  map[string]any
	created   []string
	step      int // current submit step
	stepCount int // POSTs answered by the current step
}

// submit returns path's state. Call it with s.mu held.
func (s *Server) submit(path string) *submitState {
	st, ok := s.submits[path]
	if !ok {
		st = &submitState{}
		s.submits[path] = st
	}
	return st
}

// isSubmit reports whether r is a POST to a generate endpoint.
func isSubmit(r *http.Request) bool {
	return r.Method == http.MethodPost && (r.URL.Path == PromptPath || isTemplateGenerate(r.URL.Path))
}

func isTemplateGenerate(path string) bool {
	_, ok := templateID(path)
	return ok
}

func templateID(path string) (string, bool) {
	rest, ok := strings.CutPrefix(path, "/api/templates/")
	if !ok {
		return "", false
	}
	id, ok := strings.CutSuffix(rest, "/generate")
	return id, ok && id != "" && !strings.Contains(id, "/")
}

// submitTemplate answers POST /api/templates/{id}/generate.
func (s *Server) submitTemplate(w http.ResponseWriter, r *http.Request) {
	id, _ := templateID(r.URL.Path)
	body, ok := s.readSubmission(w, r)
	if !ok {
		return
	}
	t, ok := s.scenario.Templates[id]
	if !ok {
		apiError(w, http.StatusNotFound, "not_found", "Template not found")
		return
	}
	vars, present := body["variables"]
	m, isObject := vars.(map[string]any)
	switch {
	case !present:
		apiError(w, http.StatusBadRequest, "validation_error", "Missing required field: variables")
		return
	case !isObject:
		apiError(w, http.StatusBadRequest, "validation_error", "variables must be an object")
		return
	}
	for _, name := range t.Variables {
		if v := m[name]; v == nil || v == "" {
			apiError(w, http.StatusBadRequest, "validation_error", "Missing required variable: "+name)
			return
		}
	}
	lc := t.Lifecycle
	lc.TemplateID = id
	s.answerSubmission(w, r, t.SubmitConfig, lc, max(t.Videos, 1), cmp.Or(t.Credits, 10), id)
}

// submitPrompt answers POST /api/generations.
func (s *Server) submitPrompt(w http.ResponseWriter, r *http.Request) {
	body, ok := s.readSubmission(w, r)
	if !ok {
		return
	}
	for _, field := range []string{"prompt", "modelName"} {
		if v, _ := body[field].(string); v == "" {
			apiError(w, http.StatusBadRequest, "validation_error", "Missing required field: "+field)
			return
		}
	}
	count := 1
	if v, present := body["count"]; present {
		n, isNumber := v.(float64)
		if !isNumber || n != math.Trunc(n) || n < 1 || n > 4 {
			apiError(w, http.StatusBadRequest, "validation_error", "count must be an integer from 1 to 4")
			return
		}
		count = int(n)
	}
	c := SubmitConfig{}
	if s.scenario.Prompt != nil {
		c = *s.scenario.Prompt
	}
	s.answerSubmission(w, r, c, c.Lifecycle, count, cmp.Or(c.Credits, 10)*count, "")
}

// readSubmission checks a POST's key, Content-Type and body,
// and returns the body, answering the error itself when one is wrong.
func (s *Server) readSubmission(w http.ResponseWriter, r *http.Request) (map[string]any, bool) {
	if !authorize(w, r) {
		return nil, false
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		apiError(w, http.StatusBadRequest, "validation_error", "Content-Type must be application/json")
		return nil, false
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if maxErr := (*http.MaxBytesError)(nil); errors.As(err, &maxErr) {
		apiError(w, http.StatusBadRequest, "validation_error", fmt.Sprintf("Request body is larger than %d MiB", maxBody>>20))
		return nil, false
	} else if err != nil {
		panic(http.ErrAbortHandler) // the client went away mid-body
	}
	var body map[string]any
	if err := json.Unmarshal(b, &body); err != nil || body == nil {
		apiError(w, http.StatusBadRequest, "validation_error", "The request body must be a JSON object")
		return nil, false
	}
	s.mu.Lock()
	s.submit(r.URL.Path).lastBody = body
	s.mu.Unlock()
	return body, true
}

// answerSubmission plays the next step of c's script for a valid POST:
// on success it creates videos generations following lc and answers
// their IDs; otherwise it creates nothing.
func (s *Server) answerSubmission(w http.ResponseWriter, r *http.Request, c SubmitConfig, lc Lifecycle, videos, credits int, template string) {
	if len(lc.Steps) == 0 {
		lc.Steps = defaultLifecycle
	}
	now := time.Now()
	s.mu.Lock()
	st := s.submit(r.URL.Path)
	step := SubmitStep{OK: true}
	if len(c.Submit) > 0 {
		for st.step < len(c.Submit)-1 && st.stepCount >= max(c.Submit[st.step].Times, 1) {
			st.step, st.stepCount = st.step+1, 0
		}
		st.stepCount++
		step = c.Submit[st.step]
	}
	var gens []map[string]any
	// A generation that fails at once is failed in the answer already.
	status, reason := "generating", ""
	if first := lc.Steps[0]; first.Status == "failed" {
		status, reason = "failed", first.Error
	}
	if step.OK {
		source := cmp.Or(template, "prompt")
		for range videos {
			id := s.newID(source)
			s.created[id] = lc
			g := s.gen(id)
			g.created, g.stepStart = now, now
			st.created = append(st.created, id)
			entry := map[string]any{"generation_id": id, "status": status}
			if reason != "" {
				entry["error"] = reason
			}
			gens = append(gens, entry)
		}
		for range c.Unlisted {
			gens = append(gens, map[string]any{"generation_id": nil, "status": "failed", "error": "Generation could not start"})
		}
	}
	s.mu.Unlock()

	switch {
	case step.Fault == "reset":
		panic(http.ErrAbortHandler) // the body was read: the client cannot tell whether it was acted on
	case step.Fault == "hang":
		s.wait(r)
		panic(http.ErrAbortHandler)
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
		code := cmp.Or(step.Code, errorCodes[step.HTTP])
		apiError(w, step.HTTP, code, cmp.Or(step.Message, cmp.Or(errorMessages[code], http.StatusText(step.HTTP))))
		return
	}
	resp := map[string]any{"generations": gens, "template_id": nil, "credits_charged": credits, "latency_estimate_sec": c.Latency}
	if template != "" {
		resp["template_id"] = template
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(resp)
}

// newID returns the next generation ID, gen_<source>_<n>: source is the
// template ID with only letters, digits and underscores kept ("prompt"
// for a prompt), and n counts every generation the server created, from
// 1, so IDs never repeat. An ID the scenario already uses is skipped.
// Call it with s.mu held.
func (s *Server) newID(source string) string {
	clean := strings.Map(func(r rune) rune {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, source)
	for {
		s.nextID++
		id := fmt.Sprintf("gen_%s_%d", cmp.Or(clean, "sim"), s.nextID)
		if _, taken := s.scenario.Generations[id]; !taken {
			return id
		}
	}
}
