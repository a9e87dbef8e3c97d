package prism

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
)

// MaxIDs bounds how many generations one step waits for: outputs hold a
// line per ID, and GitHub caps a job's outputs at 1 MB. A submit may
// answer with more; the caller says which it waits for.
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
	// IDs are every usable generation ID of the answer, in the API's
	// order, each once; there may be more than MaxIDs.
	IDs            []string
	CreditsCharged json.Number // "" when absent or not a number
	// Typical and Busy are latency_estimate_sec's figures; 0 when absent.
	Typical, Busy float64
	// Unusable describes the first entries of generations that are not
	// waited for (no plain generation_id, the key, listed again),
	// scrubbed; UnusableCount counts them all.
	Unusable      []string
	UnusableCount int
	// Lost counts the unusable entries that may be generations no one
	// waits for: all but IDs listed again. LostFailed counts those of
	// them whose status is failed; LostWhat describes the first of them.
	Lost, LostFailed int
	LostWhat         []string
	// Failed are the IDs whose entry the answer marks failed already,
	// each with the entry's error (scrubbed, bounded; "" when none).
	Failed []Failed
	// Ignored describes the side fields that did not parse and were left
	// empty, scrubbed.
	Ignored []string
}

// Failed is a submitted ID whose entry in the answer says failed.
type Failed struct{ ID, Error string }

// FailedOf is the entry of fs for id, nil when id is not among them.
func FailedOf(fs []Failed, id string) *Failed {
	for i := range fs {
		if fs[i].ID == id {
			return &fs[i]
		}
	}
	return nil
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
	var out submitBody
	if err := c.do(ctx, "", http.MethodPost, u, body, &out); err != nil {
		return Submission{}, err
	}
	// An answer without a usable ID is not understood: the generations
	// may exist all the same.
	s, why := c.submission(out)
	if why != "" {
		return Submission{}, c.fail(http.MethodPost, &Error{StatusCode: http.StatusOK, Message: why}, true)
	}
	return s, nil
}

// MaxIDLen bounds the length of a plain ID, in bytes.
const MaxIDLen = 128

// ValidID reports whether id is a plain ID (letters, digits, _ and -, at
// most MaxIDLen bytes), which cannot steer a request to another path.
func ValidID(id string) bool {
	if id == "" || len(id) > MaxIDLen {
		return false
	}
	for _, r := range id {
		if !(r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}
