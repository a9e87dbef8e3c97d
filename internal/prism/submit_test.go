package prism

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

func TestSubmit(t *testing.T) {
	t.Parallel()
	var got *http.Request
	var body map[string]any
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		got = r
		json.NewDecoder(r.Body).Decode(&body)
		io.WriteString(w, `{"generations":[{"generation_id":"gen_a","status":"generating"},{"generation_id":"gen_b"},{"generation_id":"gen_a"}],
			"template_id":"tpl_1","credits_charged":20,"latency_estimate_sec":{"typical":127,"busy":241}}`)
	})
	s, err := c.Submit(context.Background(), SubmitRequest{TemplateID: "tpl_1", Body: map[string]any{"variables": map[string]any{"title": "Hi"}}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(s.IDs, ",") != "gen_a,gen_b" || s.CreditsCharged != "20" || s.Typical != 127 || s.Busy != 241 {
		t.Errorf("submission %+v", s)
	}
	if got.Method != http.MethodPost || got.URL.Path != "/api/templates/tpl_1/generate" || got.Header.Get("Content-Type") != "application/json" ||
		got.Header.Get("Authorization") != "Bearer "+key || body["variables"].(map[string]any)["title"] != "Hi" {
		t.Errorf("request %s %s %v %v", got.Method, got.URL.Path, got.Header, body)
	}

	c = serve(t, func(w http.ResponseWriter, r *http.Request) {
		got = r
		io.WriteString(w, `{"generations":[{"generation_id":"gen_p"}],"latency_estimate_sec":null}`)
	})
	s, err = c.Submit(context.Background(), SubmitRequest{Body: map[string]any{"prompt": "a cat", "modelName": "veo-3.1"}})
	if err != nil || got.URL.Path != "/api/generations" || s.IDs[0] != "gen_p" || s.Typical != 0 || s.CreditsCharged != "" {
		t.Errorf("prompt submit: %+v %v %s", s, err, got.URL.Path)
	}
}

// TestSubmitIsNeverRepeatedUnlessSafe checks the one retry decision for
// POSTs: only a 429 or a connection that never carried the request may be
// sent again; what may have been acted on is Unknown.
func TestSubmitFailures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name               string
		handler            http.HandlerFunc
		transient, unknown bool
		status             int
	}{
		{"429", func(w http.ResponseWriter, r *http.Request) { w.Header().Set("Retry-After", "2"); w.WriteHeader(429) }, true, false, 429},
		// A refusal that lists generations all the same may have created them.
		{"429 listing generations", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(429)
			io.WriteString(w, `{"error":"rate_limited","generations":[{"generation_id":"gen_a"},{"generation_id":"`+key+`"}]}`)
		}, false, true, 429},
		{"402 listing generations", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(402)
			io.WriteString(w, `{"error":"insufficient_credits","Generations":[{}]}`)
		}, false, true, 402},
		{"429 too long to tell whether listing generations", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(429)
			io.WriteString(w, `{"error":"rate_limited","message":"`+strings.Repeat("x", maxErrorBody)+`"}`)
		}, false, true, 429},
		{"429 broken, listing generations", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(429)
			io.WriteString(w, `{"error":"rate_limited","Generations":[{"generation_id":"gen_a"}]} garbage`)
		}, false, true, 429},
		{"429 listing generations not as a list", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(429)
			io.WriteString(w, `{"error":"rate_limited","generations":"gen_a"}`)
		}, false, true, 429},
		{"429 of 64 KiB exactly", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(429)
			io.WriteString(w, strings.Repeat("x", maxErrorBody))
		}, true, false, 429},
		{"429 listing generations, many", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(429)
			list, _ := json.Marshal(map[string]any{"generations": []map[string]string{{"generation_id": "g1"}, {"generation_id": "g2"}, {"generation_id": "g3"},
				{"generation_id": "g4"}, {"generation_id": "g5"}, {"generation_id": "g6"}, {"generation_id": "g7"}, {"generation_id": "g8"},
				{"generation_id": "g9"}, {"generation_id": "g10"}, {"generation_id": "g11"}}})
			w.Write(list)
		}, false, true, 429},
		{"429 web page", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(429)
			io.WriteString(w, "<html>Too many requests: POST /api/generations</html>")
		}, true, false, 429},
		{"400 too long to tell whether listing generations", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(400)
			io.WriteString(w, ` {"error":"validation_error","generations":[{"generation_id":"gen_a"}],"message":"`+strings.Repeat("x", maxErrorBody)+`"}`)
		}, false, true, 400},
		{"402 broken, listing generations", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(402)
			io.WriteString(w, `{"error":"insufficient_credits","generations":[{"generation_id":"gen_a"}]}{}`)
		}, false, true, 402},
		// Keys come in any order: what the first 64 KiB do not name, the rest may.
		{"400 too long to tell whether listing generations, none named early", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(400)
			io.WriteString(w, `{"error":"validation_error","message":"`+strings.Repeat("x", maxErrorBody)+`","generations":[{"generation_id":"gen_a"}]}`)
		}, false, true, 400},
		// A 5xx leaves the outcome unknown as it is: no need to tell.
		{"500 too long to tell", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(500)
			io.WriteString(w, `{"error":"internal","message":"`+strings.Repeat("x", maxErrorBody)+`"}`)
		}, false, true, 500},
		{"402 behind a byte order mark, listing generations", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(402)
			io.WriteString(w, "\ufeff"+`{"error":"insufficient_credits","generations":[{"generation_id":"gen_a"}]}`)
		}, false, true, 402},
		{"402 array listing generations", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(402)
			io.WriteString(w, `[{"generation_id":"gen_a"}]`)
		}, false, true, 402},
		{"404 broken, naming a generation in its message", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(404)
			io.WriteString(w, `{"error":"not_found","message":"Generation not found"`)
		}, false, false, 404},
		{"400 empty", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(400); io.WriteString(w, "  \n") }, false, false, 400},
		{"404 page too long, naming generations", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(404)
			io.WriteString(w, `<html><a href="x" data-x="generations">`+strings.Repeat("x", maxErrorBody))
		}, false, false, 404},
		{"404 page too long", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(404)
			io.WriteString(w, "<html>"+strings.Repeat("x", maxErrorBody))
		}, false, false, 404},
		{"429 listing none", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(429)
			io.WriteString(w, `{"error":"rate_limited","generations":[]}`)
		}, true, false, 429},
		{"500", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(500) }, false, true, 500},
		{"503", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }, false, true, 503},
		{"400", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(400) }, false, false, 400},
		{"402", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(402)
			io.WriteString(w, `{"error":"insufficient_credits","message":"Not enough credits"}`)
		}, false, false, 402},
		{"reset", func(w http.ResponseWriter, r *http.Request) { io.ReadAll(r.Body); panic(http.ErrAbortHandler) }, false, true, 0},
		{"garbage", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<html>") }, false, true, 200},
		{"no generations", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"generations":[]}`) }, false, true, 200},
		{"hostile id", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"generations":[{"generation_id":"../../x"}]}`)
		}, false, true, 200},
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/elsewhere", http.StatusSeeOther) // classically: created, see there
		}, false, true, 303},
		{"the key as an ID", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, `{"generations":[{"generation_id":"`+key+`"}]}`)
		}, false, true, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var posts atomic.Int32
			c := serve(t, func(w http.ResponseWriter, r *http.Request) { posts.Add(1); tc.handler(w, r) })
			_, err := c.Submit(context.Background(), SubmitRequest{TemplateID: "tpl_1", Body: map[string]any{}})
			var pe *Error
			if !errors.As(err, &pe) || pe.Transient != tc.transient || pe.Unknown != tc.unknown || pe.StatusCode != tc.status || pe.Method != "POST" {
				t.Fatalf("err = %#v (%v), want transient %v unknown %v status %d", err, err, tc.transient, tc.unknown, tc.status)
			}
			if posts.Load() != 1 {
				t.Errorf("%d POSTs, want exactly one", posts.Load())
			}
			if strings.Contains(tc.name, "listing generations") != strings.Contains(err.Error(), "yet the answer lists generations") {
				t.Errorf("err = %v", err)
			}
			if want := map[string]string{"429 listing generations": "(2, with IDs gen_a)", "402 listing generations": "(1, with no plain ID)",
				"429 too long to tell whether listing generations":                   "or may: its body is longer than 64 KiB, too long to tell",
				"429 broken, listing generations":                                    "or may: its body is no JSON object, yet names generations",
				"400 too long to tell whether listing generations":                   "or may: its body is longer than 64 KiB, too long to tell",
				"402 broken, listing generations":                                    "or may: its body is no JSON object, yet names generations",
				"402 behind a byte order mark, listing generations":                  "or may: its body is no JSON object, yet names generations",
				"400 too long to tell whether listing generations, none named early": "or may: its body is longer than 64 KiB, too long to tell",
				"429 listing generations not as a list":                              `(not as a list: "gen_a")`,
				"429 listing generations, many":                                      "(11, with IDs g1, g2, g3, g4, g5, g6, g7, g8, g9, g10)"}[tc.name]; want != "" && !strings.HasSuffix(err.Error(), want) {
				t.Errorf("err = %.300v, want it to end %q", err, want)
			}
			if strings.Contains(err.Error(), key) {
				t.Errorf("err = %.300v shows the key", err)
			}
		})
	}
}

// TestAStatusReadRefusedWithGenerationsIsStillTransient: only a POST is
// suspect when its refusal lists generations.
func TestAStatusReadRefusedWithGenerationsIsStillTransient(t *testing.T) {
	t.Parallel()
	for _, body := range []string{`{"error":"rate_limited","generations":[{"generation_id":"gen_a"}]}`, strings.Repeat("x", maxErrorBody+1)} {
		c := serve(t, func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(429)
			io.WriteString(w, body)
		})
		_, err := c.Get(context.Background(), "gen_a")
		if pe, ok := errors.AsType[*Error](err); !ok || !pe.Transient || pe.Unknown || errors.Is(err, ErrListsGenerations) {
			t.Errorf("err = %.300v", err)
		}
	}
}

func TestSubmitConnectionRefusedMaySendAgain(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = New(mustURL(t, "http://"+addr+"/api"), key, "t", nil).Submit(context.Background(), SubmitRequest{Body: map[string]any{}})
	var pe *Error
	if !errors.As(err, &pe) || !pe.Transient || pe.Unknown {
		t.Fatalf("err = %#v, want a transient error that was never sent", err)
	}
}

func TestRedirectsThatCannotBeFollowedArePermanent(t *testing.T) {
	t.Parallel()
	for name, h := range map[string]http.HandlerFunc{
		"loop": func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, r.URL.Path, http.StatusFound) },
		"bad location": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Location", "http://[::1%zz]/x?X-Amz-Signature=SECRET")
			w.WriteHeader(http.StatusFound)
		},
		"no location": func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusFound) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var n atomic.Int32
			c := serve(t, func(w http.ResponseWriter, r *http.Request) { n.Add(1); h(w, r) })
			_, err := c.Get(context.Background(), "gen_1")
			var pe *Error
			if !errors.As(err, &pe) || pe.Transient || !errors.Is(err, ErrRedirect) || !strings.Contains(err.Error(), "base_url") || pe.Kind() != "redirect" {
				t.Fatalf("err = %v, want a permanent redirect error that names base_url", err)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Errorf("the Location's signature is in the error: %v", err)
			}
			if n.Load() > maxRedirects+1 {
				t.Errorf("%d requests", n.Load())
			}
		})
	}
}

func TestKeyIsRedactedFromAPITextBeforeClipping(t *testing.T) {
	t.Parallel()
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "gen_err") {
			w.WriteHeader(400)
			io.WriteString(w, `{"error":"bad","message":"`+strings.Repeat("x", maxText-10)+key+`"}`)
			return
		}
		io.WriteString(w, `{"status":"failed","error":"echo `+key+` `+strings.Repeat("y", 5000)+`"}`)
	})
	_, err := c.Get(context.Background(), "gen_err")
	g, _ := c.Get(context.Background(), "gen_failed")
	for _, s := range []string{err.Error(), g.Error} {
		if strings.Contains(s, key[:12]) {
			t.Errorf("a part of the key survived: %q", s[max(0, len(s)-80):])
		}
		if len(s) > maxText+100 {
			t.Errorf("%d bytes kept", len(s))
		}
	}
}

// TestSubmitCutShortByTheCallerIsUnknown: the step's deadline or a cancel
// that ends a POST after it was written leaves its outcome unknown.
func TestSubmitCutShortByTheCallerIsUnknown(t *testing.T) {
	t.Parallel()
	cause := errors.New("timeout reached")
	ctx, cancel := context.WithCancelCause(context.Background())
	c := serve(t, func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body)
		cancel(cause)
		<-r.Context().Done()
	})
	_, err := c.Submit(ctx, SubmitRequest{Body: map[string]any{}})
	var pe *Error
	if !errors.As(err, &pe) || !pe.Unknown || pe.Transient || !errors.Is(err, cause) {
		t.Fatalf("err = %#v, want an Unknown *Error wrapping the cause", err)
	}
	// The same cut on a status read is just the cause.
	ctx, cancel = context.WithCancelCause(context.Background())
	defer cancel(nil)
	if _, err := c.Get(ctx, "gen_1"); !errors.Is(err, cause) || errors.As(err, &pe) {
		t.Fatalf("Get: err = %#v, want the bare cause", err)
	}
}

// A submit whose answer is cut short because the caller's context ended
// may have created generations: it is an Unknown *Error that names the
// context's cause, not the read error the cut left behind.
func TestSubmitBodyCutByTheCallerIsUnknown(t *testing.T) {
	t.Parallel()
	cause := errors.New("timeout reached")
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	body := &failingBody{before: func() { cancel(cause) }}
	c := New(mustURL(t, "https://api.example/api"), key, "t", roundTrip(func(r *http.Request) (*http.Response, error) {
		io.Copy(io.Discard, r.Body)
		return &http.Response{StatusCode: http.StatusOK, Header: http.Header{}, Body: body, Request: r}, nil
	}))
	_, err := c.Submit(ctx, SubmitRequest{Body: map[string]any{}})
	var pe *Error
	if !errors.As(err, &pe) || !pe.Unknown || pe.Transient || pe.StatusCode != http.StatusOK || !errors.Is(err, cause) {
		t.Fatalf("err = %#v, want an Unknown invalid-body *Error wrapping the cause", err)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("err = %v names the read error, want the cause", err)
	}
}

func TestValidID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{"gen_1-A", true},
		{"0", true}, {"9", true}, {"a", true}, {"z", true}, {"A", true}, {"Z", true},
		{"_", true}, {"-", true},
		{strings.Repeat("a", 127), true},
		{strings.Repeat("a", 128), true},
		{strings.Repeat("a", 129), false},
		{"", false},
		// The neighbours of each accepted range.
		{"/", false}, {":", false}, {"`", false}, {"{", false}, {"@", false}, {"[", false},
		{"gen/1", false}, {"gen.1", false}, {"gen 1", false}, {"gén", false},
	} {
		if got := ValidID(tc.id); got != tc.want {
			t.Errorf("ValidID(%q) = %v, want %v", tc.id, got, tc.want)
		}
	}
}
