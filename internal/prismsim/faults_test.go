package prismsim

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestStepURLOverrides(t *testing.T) {
	t.Parallel()
	_, base := start(t, `{"generations": {
		"gen_blank": {"steps": [{"status": "completed", "video_url": " \t ", "share_url": ""}]},
		"gen_js": {"steps": [{"status": "completed", "video_url": "javascript:alert(1)", "share_url": "javascript:alert(2)"}]},
		"gen_share_only": {"steps": [{"status": "completed", "share_url": "http://evil.example/share"}]}}}`)
	for _, tc := range []struct {
		id           string
		video, share any // want; "signed" for a signed URL
	}{
		{"gen_blank", " \t ", ""},
		{"gen_js", "javascript:alert(1)", "javascript:alert(2)"},
		{"gen_share_only", "signed", "http://evil.example/share"},
	} {
		g := status(t, base, tc.id)
		if tc.video == "signed" {
			if u, _ := g["video_url"].(string); !strings.Contains(u, "X-Amz-Signature=") {
				t.Errorf("%s: video_url %v, want a signed URL", tc.id, g["video_url"])
			}
		} else if g["video_url"] != tc.video {
			t.Errorf("%s: video_url %q, want %q", tc.id, g["video_url"], tc.video)
		}
		if g["share_url"] != tc.share || g["status"] != "completed" || g["completed_at"] == nil {
			t.Errorf("%s: %v", tc.id, g)
		}
	}
}

// fetchVideo fetches a URL with optional headers and returns the
// response, the body read until it ended, and how it ended.
func fetchVideo(t *testing.T, url string, header ...string) (*http.Response, []byte, error) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp, b, err
}

func TestShortAlways(t *testing.T) {
	t.Parallel()
	_, base := start(t, `{"generations": {"gen_1": {"steps": [{"status": "completed"}], "video": {"bytes": 1000, "faults": ["short_always"]}}}}`)
	u := videoURL(t, base, "gen_1")
	full, _ := io.ReadAll(NewContent("gen_1", 1, 1000))
	for _, tc := range []struct {
		rng          string
		code         int
		length       int64 // declared
		first, got   int   // first byte served, bytes received
		contentRange string
	}{
		{"", 200, 1000, 0, 500, ""},
		{"bytes=500-", 206, 500, 500, 250, "bytes 500-999/1000"},
		{"bytes=0-99", 206, 100, 0, 50, "bytes 0-99/1000"},
		{"bytes=749-", 206, 251, 749, 125, "bytes 749-999/1000"},
		// The last quarter: a range no client may accept.
		{"bytes=750-", 206, 250, 750, 250, "bytes 751-750/1000"},
		{"bytes=-10", 206, 10, 990, 10, "bytes 991-990/1000"},
	} {
		var header []string
		if tc.rng != "" {
			header = []string{"Range", tc.rng}
		}
		resp, body, err := fetchVideo(t, u, header...)
		if resp == nil {
			t.Fatalf("%q: %v", tc.rng, err)
		}
		short := tc.got < int(tc.length)
		if resp.StatusCode != tc.code || resp.ContentLength != tc.length || resp.Header.Get("Content-Range") != tc.contentRange ||
			len(body) != tc.got || !bytes.Equal(body, full[tc.first:tc.first+tc.got]) || short != errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%q: %d, Content-Length %d, Content-Range %q, %d bytes, %v; want %+v", tc.rng, resp.StatusCode, resp.ContentLength,
				resp.Header.Get("Content-Range"), len(body), err, tc)
		}
	}
}

func TestEtagAlways(t *testing.T) {
	t.Parallel()
	_, base := start(t, `{"generations": {"gen_1": {"steps": [{"status": "completed"}], "video": {"bytes": 1000, "faults": ["etag_always"]}}}}`)
	u := videoURL(t, base, "gen_1")
	seen := map[string]bool{}
	var bodies [][]byte
	var firstETag string
	for range 3 {
		resp, body, err := fetchVideo(t, u)
		if err != nil || resp.StatusCode != 200 || seen[resp.Header.Get("ETag")] {
			t.Fatalf("%v %v: every transfer must carry a new ETag", resp, err)
		}
		seen[resp.Header.Get("ETag")] = true
		firstETag = or(firstETag, resp.Header.Get("ETag"))
		bodies = append(bodies, body)
	}
	if bytes.Equal(bodies[0], bodies[1]) || bytes.Equal(bodies[1], bodies[2]) {
		t.Error("every transfer must serve new bytes")
	}
	// A resume with the ETag seen before gets the whole, new file.
	resp, body, _ := fetchVideo(t, u, "Range", "bytes=500-", "If-Range", firstETag)
	if resp.StatusCode != 200 || len(body) != 1000 {
		t.Errorf("resume: %d, %d bytes; want 200 and the whole file", resp.StatusCode, len(body))
	}
}

func TestSlowHeaders(t *testing.T) {
	t.Parallel()
	s, base := start(t, `{"generations": {"gen_1": {"steps": [{"status": "completed"}], "video": {"faults": ["slow_headers"]}}}}`)
	u := videoURL(t, base, "gen_1")
	// Until the client gives up: its deadline, not a closed connection,
	// must end the request.
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if resp, err := http.DefaultClient.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow_headers: %v %v, want the client's deadline", resp, err)
	}
	// Or until the server closes, without an answer.
	done := make(chan error, 1)
	go func() {
		resp, _, err := fetchVideo(t, u)
		if resp != nil {
			err = nil // an answer, whatever it is, is the failure
		}
		done <- err
	}()
	s.Close()
	if err := <-done; err == nil {
		t.Error("slow_headers answered")
	}
}

func TestEndless(t *testing.T) {
	t.Parallel()
	_, base := start(t, `{"generations": {"gen_1": {"steps": [{"status": "completed"}], "video": {"bytes": 1000, "faults": ["endless"]}}}}`)
	req, _ := http.NewRequest(http.MethodGet, videoURL(t, base, "gen_1"), nil)
	req.Header.Set("Range", "bytes=0-9")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// Far more than the file's 1000 bytes, and still going.
	got, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	full, _ := io.ReadAll(NewContent("gen_1", 1, 1000))
	if resp.StatusCode != 200 || resp.ContentLength != -1 || err != nil || len(got) != 1<<20 ||
		!bytes.Equal(got[:1000], full) || !bytes.Equal(got[1000:2000], full) {
		t.Errorf("%d, Content-Length %d, %d bytes, %v", resp.StatusCode, resp.ContentLength, len(got), err)
	}
}
