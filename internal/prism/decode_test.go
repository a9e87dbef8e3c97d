package prism

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestGetTakesTheVerdictFromStatusAlone: an optional field of another type
// than documented is shown as best it can be, never a reason to retry.
func TestGetTakesTheVerdictFromStatusAlone(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body string
		want       Generation
	}{
		{"error as an object", `{"status":"failed","error":{"code":"x", "n": [1, 2]}}`,
			Generation{Status: "failed", Error: `{"code":"x","n":[1,2]}`}},
		{"error as a number", `{"status":"failed","error":123}`, Generation{Status: "failed", Error: "123"}},
		{"error as true", `{"status":"failed","error":true}`, Generation{Status: "failed", Error: "true"}},
		{"error null", `{"status":"failed","error":null}`, Generation{Status: "failed"}},
		{"completed_at as a Unix time", `{"id":"gen_1","status":"completed","video_url":"https://s3/v.mp4","completed_at":1767225600}`,
			Generation{ID: "gen_1", Status: "completed", VideoURL: "https://s3/v.mp4", CompletedAt: "1767225600"}},
		{"created_at and template_id of other types", `{"status":"generating","created_at":{"t":1},"template_id":["tpl_1"]}`,
			Generation{Status: "generating", CreatedAt: `{"t":1}`, TemplateID: `["tpl_1"]`}},
		{"video_url not a string", `{"status":"completed","video_url":{"url":"https://s3/v.mp4"},"share_url":7}`,
			Generation{Status: "completed"}},
		{"id not a string", `{"id":42,"status":"generating"}`, Generation{Status: "generating"}},
		{"the key inside an object", `{"status":"failed","error":{"m":"` + key + `"}}`, Generation{Status: "failed", Error: `{"m":"***"}`}},
		{"the key inside an object, \\u-escaped", `{"status":"failed","error":{"m":"bad ` + strings.ReplaceAll(key, "_", `\u005f`) + `"}}`,
			Generation{Status: "failed", Error: `{"m":"bad ***"}`}},
		{"a workflow command inside an object", `{"status":"failed","error":{"m":"##[error]x"}}`, Generation{Status: "failed", Error: `{"m":"## [error]x"}`}},
		// Only the documented names, as written: encoding/json's struct
		// decoding would let the last of any case win.
		{"names in other cases beside the documented ones", `{"status":"failed","STATUS":"completed","error":"real","Error":"fake"}`, Generation{Status: "failed", Error: "real"}},
		{"a name in another case alone", `{"Status":"failed","ERROR":"e"}`, Generation{Status: "failed", Error: "e"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := serve(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, tc.body) })
			g, err := c.Get(context.Background(), "gen_1")
			if err != nil || g != tc.want {
				t.Errorf("got %+v, %v; want %+v", g, err, tc.want)
			}
		})
	}
}

func TestGetBoundsFieldsOfOtherTypes(t *testing.T) {
	t.Parallel()
	big := `{"a":"` + strings.Repeat("x", 100<<10) + `"}`
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"status":"failed","error":`+big+`,"created_at":`+big+`}`)
	})
	g, err := c.Get(context.Background(), "gen_1")
	if err != nil || g.Status != StatusFailed || len(g.Error) > maxText || len(g.CreatedAt) > maxText || !strings.HasPrefix(g.Error, `{"a":"xxx`) {
		t.Errorf("got %d and %d bytes, %v", len(g.Error), len(g.CreatedAt), err)
	}
}

// TestGetWithoutAStringStatusIsTransient: the verdict needs a string
// status; anything else is an answer not understood, read again.
func TestGetWithoutAStringStatusIsTransient(t *testing.T) {
	t.Parallel()
	for _, body := range []string{
		`{"status":42,"video_url":"https://s3/v.mp4"}`,
		`{"status":{"value":"completed"}}`,
		`{"status":null,"error":"x"}`,
		`{"id":"gen_1"}`,
		`[{"status":"completed"}]`,
		`"completed"`,
		`null`,
		`{"status":"completed"`,
		``,
	} {
		c := serve(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) })
		_, err := c.Get(context.Background(), "gen_1")
		var pe *Error
		if !errors.As(err, &pe) || !pe.Transient || pe.StatusCode != 200 || pe.Message != "not the expected JSON" {
			t.Errorf("%s: err = %#v, want a transient 'not the expected JSON'", body, err)
		}
	}
}

// TestGetOfAnotherGenerationIsNotTrusted: an answer naming another
// generation is read again, and each generation's such trouble is a kind
// of its own, so that each is warned about once.
func TestGetOfAnotherGenerationIsNotTrusted(t *testing.T) {
	t.Parallel()
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"id":"gen_other`+key+`","status":"completed","video_url":"https://s3/v.mp4"}`)
	})
	kinds := map[string]bool{}
	for _, id := range []string{"gen_1", "gen_2", "gen_1"} {
		g, err := c.Get(context.Background(), id)
		var pe *Error
		var other *OtherGenerationError
		if !errors.As(err, &pe) || !pe.Transient || !errors.As(err, &other) || other.Asked != id || g.Done() {
			t.Fatalf("%s: got %+v, %#v; want a transient error", id, g, err)
		}
		if msg := err.Error(); !strings.Contains(msg, `the API answered for generation "gen_other***", not for `+id) || strings.Contains(msg, key) {
			t.Errorf("message %q", msg)
		}
		if !strings.Contains(pe.Kind(), id) {
			t.Errorf("kind %q does not name %s", pe.Kind(), id)
		}
		kinds[pe.Kind()] = true
	}
	if len(kinds) != 2 {
		t.Errorf("kinds %v, want one per generation", kinds)
	}
	// The same answer for the ID asked is trusted.
	c = serve(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"id":"gen_1","status":"completed","video_url":"https://s3/v.mp4"}`)
	})
	if g, err := c.Get(context.Background(), "gen_1"); err != nil || !g.Done() {
		t.Errorf("got %+v, %v", g, err)
	}
}

func genList(n int) string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf(`{"generation_id":"gen_%d","status":"generating"}`, i+1)
	}
	return `[` + strings.Join(ids, ",") + `]`
}

// TestSubmitKeepsEveryValidID: whatever else is wrong with the answer,
// each valid ID it lists is returned, since those generations exist and
// were charged; what is wrong is described beside them.
func TestSubmitKeepsEveryValidID(t *testing.T) {
	t.Parallel()
	ok := `"generations":[{"generation_id":"gen_a"},{"generation_id":"gen_b"}]`
	for _, tc := range []struct {
		name     string
		status   int
		body     string
		ids      string
		credits  string
		typical  float64
		busy     float64
		unusable []string
		more     int
		ignored  []string
		// lost and lostFailed: unusable entries that are not an ID listed
		// again, and those of them marked failed.
		lost, lostFailed int
		lostText         string // when set
		failed           string // the IDs marked failed
	}{
		{name: "201", status: 201, body: `{` + ok + `,"credits_charged":20}`, ids: "gen_a gen_b", credits: "20"},
		{name: "202", status: 202, body: `{` + ok + `,"latency_estimate_sec":{"typical":127,"busy":241}}`, ids: "gen_a gen_b", typical: 127, busy: 241},
		{name: "credits as a string", status: 200, body: `{` + ok + `,"credits_charged":"twenty"}`, ids: "gen_a gen_b",
			ignored: []string{`credits_charged is not a number: "twenty"`}},
		{name: "credits as an object with the key", status: 200, body: `{` + ok + `,"credits_charged":{"k":"` + key + `"}}`, ids: "gen_a gen_b",
			ignored: []string{`credits_charged is not a number: {"k":"***"}`}},
		{name: "credits as an object with the key, \\u-escaped", status: 200, body: `{` + ok + `,"credits_charged":{"k":"` + strings.ReplaceAll(key, "s", `\u0073`) + `"}}`, ids: "gen_a gen_b",
			ignored: []string{`credits_charged is not a number: {"k":"***"}`}},
		{name: "latency as a number", status: 200, body: `{` + ok + `,"latency_estimate_sec":127}`, ids: "gen_a gen_b",
			ignored: []string{"latency_estimate_sec is not an object: 127"}},
		{name: "latency with string fields", status: 200, body: `{` + ok + `,"latency_estimate_sec":{"typical":"127","busy":241}}`, ids: "gen_a gen_b", busy: 241,
			ignored: []string{`latency_estimate_sec.typical is not a number: "127"`}},
		{name: "the documented name beside another case", status: 200, body: `{"generations":[{"GENERATION_ID":"gen_b","generation_id":"gen_a"}],"CREDITS_CHARGED":1,"credits_charged":2}`,
			ids: "gen_a", credits: "2"},
		{name: "latency keys in another case", status: 200, body: `{` + ok + `,"latency_estimate_sec":{"Typical":127,"BUSY":241}}`, ids: "gen_a gen_b", typical: 127, busy: 241},
		{name: "latency as a list", status: 200, body: `{` + ok + `,"latency_estimate_sec":[127,241]}`, ids: "gen_a gen_b",
			ignored: []string{"latency_estimate_sec is not an object: [127,241]"}},
		{name: "latency fields null", status: 200, body: `{` + ok + `,"latency_estimate_sec":{"typical":null}}`, ids: "gen_a gen_b"},
		{name: "one entry not a plain ID", status: 200, body: `{"generations":[{"generation_id":"gen_a"},{"generation_id":"../x"},{"generation_id":"gen_b"}]}`,
			ids: "gen_a gen_b", unusable: []string{`entry 2: generation_id "../x" is not a plain ID`}, lost: 1},
		{name: "the key as an entry", status: 200, body: `{"generations":[{"generation_id":"` + key + `"},{"generation_id":"gen_b"}]}`,
			ids: "gen_b", unusable: []string{`entry 1: generation_id "***" is not a plain ID`}, lost: 1},
		{name: "listed twice", status: 200, body: `{"generations":[{"generation_id":"gen_a"},{"generation_id":"gen_b"},{"generation_id":"gen_a"}]}`,
			ids: "gen_a gen_b", unusable: []string{"entry 3: gen_a is listed again"}},
		{name: "entries of other shapes", status: 200, body: `{"generations":["gen_x",{"generation_id":7},null,{"id":"gen_y"},{"generation_id":"gen_a"}]}`,
			ids: "gen_a", unusable: []string{`entry 1: no generation_id string in "gen_x"`, `entry 2: no generation_id string in {"generation_id":7}`,
				"entry 3: no generation_id string in null", `entry 4: no generation_id string in {"id":"gen_y"}`}, lost: 4},
		{name: "more than one step waits for", status: 200, body: `{"generations":` + genList(MaxIDs+1) + `}`,
			ids: idList(MaxIDs + 1)},
		{name: "many unusable", status: 200, body: `{"generations":[` + strings.Repeat(`{"generation_id":""},`, 15) + `{"generation_id":"gen_a"}]}`,
			ids: "gen_a", more: 5, lost: 15},
		{name: "entries with an ID marked failed", status: 200, body: `{"generations":[{"generation_id":"gen_a","status":"failed","error":"policy"},{"generation_id":"gen_b","status":"generating"},{"generation_id":"gen_c","status":"Failed"},{"generation_id":"gen_d","status":"failed"},{"generation_id":"gen_a","status":"failed"},{"generation_id":"gen_b","status":"failed","error":"late"}]}`,
			ids: "gen_a gen_b gen_c gen_d", unusable: []string{"entry 5: gen_a is listed again", "entry 6: gen_b is listed again"}, failed: "[{gen_a policy} {gen_d } {gen_b late}]"},
		{name: "a failed entry's error, scrubbed", status: 200, body: `{"generations":[{"generation_id":"gen_a","status":"failed","error":"` + key + ` ::error::x\u001b"}]}`,
			ids: "gen_a", failed: "[{gen_a *** ::error::x }]"},
		{name: "failed entries without an ID", status: 200, body: `{"generations":[{"generation_id":"gen_a","status":"generating"},{"generation_id":null,"status":"failed","error":"policy"},{"status":"failed"},{"generation_id":"gen_a","status":"failed"},{"generation_id":"","status":"FAILED"}]}`,
			ids: "gen_a", unusable: []string{`entry 2: no generation_id string in {"error":"policy","generation_id":null,"status":"failed"}`, `entry 3: no generation_id string in {"status":"failed"}`, "entry 4: gen_a is listed again", `entry 5: generation_id "" is not a plain ID`},
			lost: 3, lostFailed: 2, failed: "[{gen_a }]", lostText: `entry 2: no generation_id string in {"error":"policy","generation_id":null,"status":"failed"}; entry 3: no generation_id string in {"status":"failed"}; entry 5: generation_id "" is not a plain ID`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := serve(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(tc.status); io.WriteString(w, tc.body) })
			s, err := c.Submit(context.Background(), SubmitRequest{TemplateID: "tpl_1", Body: map[string]any{}})
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(s.IDs, " "); got != tc.ids {
				t.Errorf("IDs %q, want %q", got, tc.ids)
			}
			if string(s.CreditsCharged) != tc.credits || s.Typical != tc.typical || s.Busy != tc.busy {
				t.Errorf("credits %q, latency %v/%v", s.CreditsCharged, s.Typical, s.Busy)
			}
			if tc.more > 0 {
				if len(s.Unusable) != maxUnusable || s.UnusableCount != maxUnusable+tc.more || !strings.HasSuffix(s.UnusableText(), fmt.Sprintf("; and %d more", tc.more)) {
					t.Errorf("unusable %d of %d: %s", len(s.Unusable), s.UnusableCount, s.UnusableText())
				}
			} else if fmt.Sprint(s.Unusable) != fmt.Sprint(tc.unusable) || s.UnusableCount != len(tc.unusable) || strings.Contains(s.UnusableText(), "more") {
				t.Errorf("unusable %d: %q, want %q", s.UnusableCount, s.Unusable, tc.unusable)
			}
			if fmt.Sprint(s.Ignored) != fmt.Sprint(tc.ignored) {
				t.Errorf("ignored %q, want %q", s.Ignored, tc.ignored)
			}
			if s.Lost != tc.lost || s.LostFailed != tc.lostFailed || strings.Contains(s.LostText(), "listed again") || (s.Lost == 0) != (s.LostText() == "") {
				t.Errorf("lost %d (%d failed): %q, want %d (%d failed)", s.Lost, s.LostFailed, s.LostText(), tc.lost, tc.lostFailed)
			}
			if len(s.LostWhat) > maxUnusable || tc.lost > maxUnusable && !strings.HasSuffix(s.LostText(), fmt.Sprintf("; and %d more", tc.lost-maxUnusable)) {
				t.Errorf("lost: %d described, %q", len(s.LostWhat), s.LostText())
			}
			if got := fmt.Sprint(s.Failed); got != cmp.Or(tc.failed, "[]") {
				t.Errorf("failed %q, want %q", got, tc.failed)
			}
			if tc.lostText != "" && s.LostText() != tc.lostText {
				t.Errorf("lost: %q, want %q", s.LostText(), tc.lostText)
			}
		})
	}
}

func idList(n int) string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("gen_%d", i+1)
	}
	return strings.Join(ids, " ")
}

// TestSubmitWithoutAUsableIDIsUnknown: a 2xx that lists no usable ID is
// an answer not understood; the POST may have created generations all the
// same, so it is not sent again.
func TestSubmitWithoutAUsableIDIsUnknown(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		status int
		body   string
		says   string
	}{
		{"202 without generations", 202, `{"credits_charged":10}`, "no generations in the answer"},
		{"generations null", 200, `{"generations":null}`, "no generations in the answer"},
		{"generations empty", 201, `{"generations":[]}`, "no generations in the answer"},
		{"generations an object", 200, `{"generations":{"generation_id":"gen_a"}}`, `generations is not a list: {"generation_id":"gen_a"}`},
		{"none usable", 200, `{"generations":[{"generation_id":"../x"},{"generation_id":"` + key + `"}]}`,
			`no usable generation ID in the answer: entry 1: generation_id "../x" is not a plain ID; entry 2: generation_id "***" is not a plain ID`},
		{"204", 204, ``, "not the expected JSON"},
		{"a list", 200, `[{"generation_id":"gen_a"}]`, "not the expected JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := serve(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(tc.status); io.WriteString(w, tc.body) })
			s, err := c.Submit(context.Background(), SubmitRequest{TemplateID: "tpl_1", Body: map[string]any{}})
			var pe *Error
			if !errors.As(err, &pe) || !pe.Unknown || pe.Transient || len(s.IDs) != 0 || !strings.Contains(err.Error(), tc.says) || strings.Contains(err.Error(), key) {
				t.Errorf("got %+v, %v; want an Unknown error saying %q", s, err, tc.says)
			}
		})
	}
}

// FuzzStatusBody: any bytes decode without panic, and a body decodes
// only when it holds a string status, which is the status returned.
func FuzzStatusBody(f *testing.F) {
	for _, s := range []string{
		`{"id":"gen_1","status":"completed","video_url":"https://x","completed_at":1767225600}`,
		`{"status":"failed","error":{"code":"x"}}`,
		`{"status":42}`, `{"Status":"failed","status":"completed"}`, `{"status":"a","STATUS":7}`,
		`null`, `[]`, `{"status":"\ud800"}`, `{"error":1e999,"status":""}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var b statusBody
		err := json.Unmarshal(data, &b)
		// What the answer says status is: the values of its keys that
		// encoding/json matches to status (any case).
		var fields map[string]json.RawMessage
		var statuses []json.RawMessage
		if json.Unmarshal(data, &fields) == nil {
			for k, v := range fields {
				if strings.EqualFold(k, "status") {
					statuses = append(statuses, v)
				}
			}
		}
		isString := func(v json.RawMessage) bool {
			var s string
			return len(v) > 0 && v[0] == '"' && json.Unmarshal(v, &s) == nil
		}
		if err != nil {
			if len(statuses) > 0 && !slices.ContainsFunc(statuses, func(v json.RawMessage) bool { return !isString(v) }) {
				t.Fatalf("%s has a string status, yet: %v", data, err)
			}
			return
		}
		found := false
		for _, v := range statuses {
			var s string
			if len(v) > 0 && v[0] == '"' && json.Unmarshal(v, &s) == nil && s == b.Status {
				found = true
			}
		}
		if !found {
			t.Fatalf("decoded status %q from %s, which has no such string status", b.Status, data)
		}
		// And through the client: bounded, scrubbed, no panic.
		c := New(mustURL(t, "https://prism.test/api"), key, "t", roundTrip(func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader(data)), Request: r}, nil
		}))
		g, err := c.Get(context.Background(), "gen_1")
		if err == nil {
			for _, s := range []string{g.ID, g.Status, g.TemplateID, g.CreatedAt, g.CompletedAt, g.Error} {
				if len(s) > maxText || strings.Contains(s, key) {
					t.Fatalf("unbounded or unscrubbed field %q", s)
				}
			}
		}
	})
}

// FuzzSubmission: any answer decodes without panic, and every ID kept is
// plain, not the key, and listed once.
func FuzzSubmission(f *testing.F) {
	f.Add([]byte(`{"generations":[{"generation_id":"gen_a"},{"generation_id":"gen_a"},{"generation_id":"../x"}],"credits_charged":"twenty","latency_estimate_sec":127}`))
	f.Add([]byte(`{"generations":[{"generation_id":"` + key + `"}],"latency_estimate_sec":{"typical":"1","busy":1e999}}`))
	f.Add([]byte(`{"generations":{}}`))
	c := New(mustURL(f, "https://prism.test/api"), key, "t", nil)
	f.Fuzz(func(t *testing.T, data []byte) {
		var b submitBody
		if json.Unmarshal(data, &b) != nil {
			return
		}
		s, why := c.submission(b)
		if (why == "") != (len(s.IDs) > 0) {
			t.Fatalf("reason %q with %d IDs", why, len(s.IDs))
		}
		seen := map[string]bool{}
		for _, id := range s.IDs {
			if !ValidID(id) || strings.Contains(id, key) || seen[id] {
				t.Fatalf("ID %q kept", id)
			}
			seen[id] = true
		}
		for _, text := range append(append([]string{why}, s.Unusable...), s.Ignored...) {
			if len(text) > 4<<10 || strings.Contains(text, key) {
				t.Fatalf("unbounded or unscrubbed text %q", text)
			}
		}
	})
}

// TestTwoStatusesInOtherCasesAreNoStatus: neither "Status" nor "STATUS"
// is the documented name, and they disagree: no verdict, read again.
func TestTwoStatusesInOtherCasesAreNoStatus(t *testing.T) {
	t.Parallel()
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"Status":"completed","STATUS":"failed","video_url":"https://s3/v.mp4"}`)
	})
	_, err := c.Get(context.Background(), "gen_1")
	var pe *Error
	if !errors.As(err, &pe) || !pe.Transient || !errors.Is(err, errNoStatus) {
		t.Errorf("err = %v, want a transient error without a status", err)
	}
}
