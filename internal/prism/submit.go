package prism

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// MaxIDs bounds how many generations one step waits for: outputs hold a
// line per ID, and GitHub caps a job's outputs at 1 MB.
const MaxIDs = 100

// SubmitRequest is one request that creates generations: from a template
// (POST /templates/{TemplateID}/generate) when TemplateID is set, else
// from a prompt (POST /generations). Body is the JSON object sent as is.
type SubmitRequest struct {
	TemplateID string
	Body       map[string]any
}

// Submission is what the API answered to a submit.
type Submission struct {
	IDs            []string    // in the API's order
	CreditsCharged json.Number // "" when absent
	// Typical and Busy are latency_estimate_sec's figures; 0 when absent.
	Typical, Busy float64
}

// Submit sends req once. It is repeated only where the API certainly did
// not act (see retryable); any other failure is an *Error with Unknown
// set when the generations may have been created and charged anyway, so
// the caller must not send it again.
func (c *Client) Submit(ctx context.Context, req SubmitRequest) (Submission, error) {
	var u *url.URL
	if req.TemplateID != "" {
		u = c.base.JoinPath("templates", req.TemplateID, "generate")
	} else {
		u = c.base.JoinPath("generations")
	}
	body, err := json.Marshal(req.Body)
	if err != nil {
		return Submission{}, &Error{Method: http.MethodPost, Message: "cannot encode the request", Err: err}
	}
	var out struct {
		Generations []struct {
			ID string `json:"generation_id"`
		} `json:"generations"`
		CreditsCharged json.Number `json:"credits_charged"`
		Latency        *struct {
			Typical float64 `json:"typical"`
			Busy    float64 `json:"busy"`
		} `json:"latency_estimate_sec"`
	}
	if err := c.do(ctx, "", http.MethodPost, u, body, &out); err != nil {
		return Submission{}, err
	}
	s := Submission{CreditsCharged: out.CreditsCharged}
	if out.Latency != nil {
		s.Typical, s.Busy = out.Latency.Typical, out.Latency.Busy
	}
	// The IDs are written out unscrubbed, polled and used as file names:
	// plain, not the key, without duplicates, and no more than one step
	// can wait for. Anything else is an answer not understood: the
	// generations may exist all the same.
	invalid := func(format string, a ...any) (Submission, error) {
		return Submission{}, c.fail(http.MethodPost, &Error{StatusCode: http.StatusOK, Message: fmt.Sprintf(format, a...)}, true)
	}
	seen := map[string]bool{}
	for _, g := range out.Generations {
		switch {
		case !ValidID(g.ID) || c.scrubber().Secret(g.ID):
			return invalid("generation_id %q is not a plain ID", c.scrubber().Line(g.ID, 80))
		case !seen[g.ID]:
			seen[g.ID] = true
			s.IDs = append(s.IDs, g.ID)
		}
	}
	switch {
	case len(s.IDs) == 0:
		return invalid("no generations in the answer")
	case len(s.IDs) > MaxIDs:
		return invalid("%d generations in the answer, more than the %d one step can wait for: %s …", len(s.IDs), MaxIDs, strings.Join(s.IDs[:10], ", "))
	}
	return s, nil
}

// ValidID reports whether id is a plain ID (letters, digits, _ and -, at
// most 128 bytes), which cannot steer a request to another path.
func ValidID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for _, r := range id {
		if !(r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}
