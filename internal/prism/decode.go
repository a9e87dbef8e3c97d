package prism

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The API's answers are decoded leniently, as its documentation asks: new
// fields may appear at any time, and a field of an unexpected type must
// not cost the user what the answer does say. Each body is first split
// into its fields as raw JSON (any value fits), then each field is read
// on its own: only what the verdict rests on is required.

// statusBody is a status read's body. Only status decides: it must be a
// string, or the answer is not understood (and the read is tried again).
// Every other field is optional; one of another type than documented is
// kept as best it can be, never a reason to retry.
type statusBody struct {
	Generation
	// HasID says the answer names a generation (a string id), which must
	// be the one asked for.
	HasID bool
}

// errNoStatus is the decode error of a JSON body without a string status.
var errNoStatus = errors.New(`no "status" string in the answer`)

func (b *statusBody) UnmarshalJSON(data []byte) error {
	f, err := fields(data)
	if err != nil {
		return err
	}
	status, ok := jsonString(f.get("status"))
	if !ok {
		return errNoStatus
	}
	id, hasID := jsonString(f.get("id"))
	// A URL of another type is no URL: treated as missing, like any
	// unusable URL.
	video, _ := jsonString(f.get("video_url"))
	share, _ := jsonString(f.get("share_url"))
	*b = statusBody{HasID: hasID, Generation: Generation{
		ID: id, Status: status, VideoURL: video, ShareURL: share,
		TemplateID: jsonText(f.get("template_id")), CreatedAt: jsonText(f.get("created_at")),
		CompletedAt: jsonText(f.get("completed_at")), Error: jsonText(f.get("error")),
	}}
	return nil
}

// object is a JSON object's fields, raw.
type object map[string]json.RawMessage

// fields splits a JSON object into its fields. It is a map, not a struct:
// encoding/json gives a struct field the last of the keys that match its
// name in any case, so "STATUS": "completed" after "status": "failed"
// would decide a verdict.
func fields(data []byte) (object, error) {
	var o object
	err := json.Unmarshal(data, &o)
	return o, err
}

// listed describes the entries of o's "generations" array, as a submit's
// success lists them: the first plain IDs and how many entries in all;
// "" when there is none or it is empty. A "generations" that is no list
// is described too: it may be one.
func (c *Client) listed(o object) string {
	var gens []json.RawMessage
	switch raw := o.get("generations"); {
	case null(raw):
		return ""
	case json.Unmarshal(raw, &gens) != nil:
		return "not as a list: " + c.scrubber().Line(compact(raw), 80)
	case len(gens) == 0:
		return ""
	}
	sc := c.scrubber()
	var ids []string
	for _, raw := range gens {
		if e, err := fields(raw); err == nil && len(ids) < maxUnusable {
			if id, ok := jsonString(e.get("generation_id")); ok && ValidID(id) && !sc.Secret(id) {
				ids = append(ids, id)
			}
		}
	}
	if len(ids) == 0 {
		return fmt.Sprintf("%d, with no plain ID", len(gens))
	}
	return fmt.Sprintf("%d, with IDs %s", len(gens), strings.Join(ids, ", "))
}

// get is the field named name: the key written so, else the one key that
// matches it but for case (encoding/json's leniency, kept), else nil:
// two such keys and neither exact are no answer.
func (o object) get(name string) json.RawMessage {
	if v, ok := o[name]; ok {
		return v
	}
	var found json.RawMessage
	n := 0
	for k, v := range o {
		if strings.EqualFold(k, name) {
			found, n = v, n+1
		}
	}
	if n != 1 {
		return nil
	}
	return found
}

// OtherGenerationError says a status read answered for another generation
// than the one asked for: the answer is not trusted, and the read is tried
// again.
type OtherGenerationError struct {
	Asked  string // the ID asked for, a plain ID
	Answer string // the ID in the answer, scrubbed and bounded
}

func (e *OtherGenerationError) Error() string {
	return fmt.Sprintf("the API answered for generation %q, not for %s", e.Answer, e.Asked)
}

// submitBody is a submit's body, each field raw: see Client.submission.
type submitBody struct {
	Generations, CreditsCharged, Latency json.RawMessage
}

// Like a status body's, its fields are read as object.get reads them.
func (b *submitBody) UnmarshalJSON(data []byte) error {
	f, err := fields(data)
	if err != nil {
		return err
	}
	*b = submitBody{Generations: f.get("generations"), CreditsCharged: f.get("credits_charged"), Latency: f.get("latency_estimate_sec")}
	return nil
}

// maxUnusable bounds how many unusable entries a Submission describes.
const maxUnusable = 10

// submission reads a submit's answer. Every valid generation ID in it is
// kept, whatever else is wrong with the body: the generations exist and
// were charged. Entries that cannot be waited for, and side fields that
// do not parse, are described (scrubbed, bounded) beside the IDs. It
// returns a reason, and no IDs, only when there is no generations array or
// no usable ID in it.
func (c *Client) submission(b submitBody) (Submission, string) {
	var s Submission
	sc := c.scrubber()
	show := func(raw json.RawMessage) string { return sc.Line(compact(raw), 80) }

	if n, ok := jsonNumber(b.CreditsCharged); ok {
		s.CreditsCharged = n
	} else if !null(b.CreditsCharged) {
		s.Ignored = append(s.Ignored, "credits_charged is not a number: "+show(b.CreditsCharged))
	}
	var latency object
	switch {
	case null(b.Latency):
	case json.Unmarshal(b.Latency, &latency) != nil:
		s.Ignored = append(s.Ignored, "latency_estimate_sec is not an object: "+show(b.Latency))
	default:
		for _, f := range []struct {
			name string
			raw  json.RawMessage
			to   *float64
		}{{"typical", latency.get("typical"), &s.Typical}, {"busy", latency.get("busy"), &s.Busy}} {
			raw := f.raw
			n, ok := jsonNumber(raw)
			v, err := n.Float64()
			switch {
			case ok && err == nil:
				*f.to = v
			case !null(raw):
				s.Ignored = append(s.Ignored, "latency_estimate_sec."+f.name+" is not a number: "+show(raw))
			}
		}
	}

	var entries []json.RawMessage
	switch {
	case null(b.Generations):
		return s, "no generations in the answer"
	case json.Unmarshal(b.Generations, &entries) != nil:
		return s, "generations is not a list: " + show(b.Generations)
	}
	// The IDs are written out unscrubbed, polled and used as file names:
	// plain, not the key, and each once.
	seen := map[string]bool{}
	for i, raw := range entries {
		why := ""
		id, ok, failed, reason := "", false, false, ""
		if e, err := fields(raw); err == nil {
			id, ok = jsonString(e.get("generation_id"))
			status, _ := jsonString(e.get("status"))
			failed, reason = status == StatusFailed, sc.Line(jsonText(e.get("error")), maxText)
		}
		switch {
		case !ok:
			why = "no generation_id string in " + show(raw)
		case !ValidID(id) || sc.Secret(id):
			why = fmt.Sprintf("generation_id %q is not a plain ID", sc.Line(id, 80))
		case seen[id]:
			why = id + " is listed again"
		default:
			seen[id] = true
			s.IDs = append(s.IDs, id)
		}
		// Failed in any of its entries is failed.
		if ok && seen[id] && failed && FailedOf(s.Failed, id) == nil {
			s.Failed = append(s.Failed, Failed{ID: id, Error: reason})
		}
		if why == "" {
			continue
		}
		what := "entry " + strconv.Itoa(i+1) + ": " + why
		if s.UnusableCount++; len(s.Unusable) < maxUnusable {
			s.Unusable = append(s.Unusable, what)
		}
		if !seen[id] { // not one listed again
			if s.Lost++; len(s.LostWhat) < maxUnusable {
				s.LostWhat = append(s.LostWhat, what)
			}
			if failed {
				s.LostFailed++
			}
		}
	}
	switch {
	case len(entries) == 0:
		return s, "no generations in the answer"
	case len(s.IDs) == 0:
		return s, "no usable generation ID in the answer: " + s.UnusableText()
	}
	return s, ""
}

// UnusableText lists the unusable entries on one line, "" when none.
func (s Submission) UnusableText() string { return listed(s.Unusable, s.UnusableCount) }

// LostText lists the lost entries on one line, "" when none.
func (s Submission) LostText() string { return listed(s.LostWhat, s.Lost) }

// listed joins the first of count descriptions, saying how many more.
func listed(first []string, count int) string {
	var b bytes.Buffer
	for i, u := range first {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(u)
	}
	if more := count - len(first); more > 0 {
		fmt.Fprintf(&b, "; and %d more", more)
	}
	return b.String()
}

// null reports whether raw is absent or JSON null.
func null(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// jsonString is raw's value when it is a JSON string.
func jsonString(raw json.RawMessage) (string, bool) {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// jsonNumber is raw's value when it is a JSON number.
func jsonNumber(raw json.RawMessage) (json.Number, bool) {
	if null(raw) || raw[0] == '"' {
		return "", false
	}
	var n json.Number
	if json.Unmarshal(raw, &n) != nil {
		return "", false
	}
	return n, true
}

// jsonText shows raw as text: a string as itself, null (or nothing) as
// "", any other value as compact JSON. The caller scrubs and bounds it.
func jsonText(raw json.RawMessage) string {
	if s, ok := jsonString(raw); ok {
		return s
	}
	if null(raw) {
		return ""
	}
	return compact(raw)
}

// compact is raw as compact JSON text, "null" when absent. It is decoded
// and encoded again, not only compacted: a string's \u escapes, as in
// "prism\u005fsk_…", would otherwise hide a key from the scrubbing.
func compact(raw json.RawMessage) string {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // numbers as written
	var v any
	if dec.Decode(&v) != nil {
		return "null"
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if enc.Encode(v) != nil {
		return "null"
	}
	return strings.TrimSuffix(b.String(), "\n")
}
