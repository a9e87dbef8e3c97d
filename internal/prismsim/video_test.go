package prismsim

import (
	"bytes"
	"image/png"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/prism-wait/prism-wait/internal/media"
)

// verify checks c as a downloader would, sniffing its kind.
func verify(t *testing.T, c *Content) (media.Info, error) {
	t.Helper()
	head := make([]byte, media.SniffLen)
	n, _ := c.ReadAt(head, 0)
	kind, other := media.Sniff(head[:n])
	if other != "" {
		t.Fatalf("the content is %s", other)
	}
	return media.Verify(c, c.Size(), kind)
}

func TestVideosAreRealFiles(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		video Video
		want  media.Info
		bytes int64
	}{
		{"defaults", Video{}, media.Info{Container: "mp4", Codec: "avc1", Width: DefaultWidth, Height: DefaultHeight, Duration: DefaultDuration}, DefaultBytes},
		{"HEVC 1080p", Video{Bytes: 1 << 20, Codec: "hvc1", Width: 1920, Height: 1080, Duration: Duration(12500 * time.Millisecond)},
			media.Info{Container: "mp4", Codec: "hvc1", Width: 1920, Height: 1080, Duration: 12500 * time.Millisecond}, 1 << 20},
		{"every MP4 codec: hev1", Video{Codec: "hev1"}, media.Info{Container: "mp4", Codec: "hev1", Width: 1280, Height: 720, Duration: 8 * time.Second}, DefaultBytes},
		{"every MP4 codec: av01", Video{Codec: "av01"}, media.Info{Container: "mp4", Codec: "av01", Width: 1280, Height: 720, Duration: 8 * time.Second}, DefaultBytes},
		{"every MP4 codec: vp09", Video{Codec: "vp09"}, media.Info{Container: "mp4", Codec: "vp09", Width: 1280, Height: 720, Duration: 8 * time.Second}, DefaultBytes},
		{"smaller than its headers", Video{Bytes: 100}, media.Info{Container: "mp4", Codec: "avc1", Width: 1280, Height: 720, Duration: 8 * time.Second}, 623},
		{"over 4 GiB: a 64-bit mdat", Video{Bytes: 5 << 30}, media.Info{Container: "mp4", Codec: "avc1", Width: 1280, Height: 720, Duration: 8 * time.Second}, 5 << 30},
		{"webm", Video{ContentType: "video/webm", Width: 640, Height: 360, Duration: Duration(4 * time.Second)},
			media.Info{Container: "webm", Codec: "vp09", Width: 640, Height: 360, Duration: 4 * time.Second}, DefaultBytes},
		{"matroska with AV1", Video{ContentType: "video/x-matroska", Codec: "av01", Bytes: 5000},
			media.Info{Container: "matroska", Codec: "av01", Width: 1280, Height: 720, Duration: 8 * time.Second}, 5000},
		{"webm smaller than its headers", Video{ContentType: "video/webm", Bytes: 1},
			media.Info{Container: "webm", Codec: "vp09", Width: 1280, Height: 720, Duration: 8 * time.Second}, 158},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := tc.video.Content("gen_1", 1)
			got, err := verify(t, c)
			if err != nil || got != tc.want || c.Size() != tc.bytes {
				t.Errorf("got %+v, %v in %d bytes; want %+v in %d", got, err, c.Size(), tc.want, tc.bytes)
			}
		})
	}
}

func TestBrokenVideos(t *testing.T) {
	t.Parallel()
	c := Video{Faults: []string{"no_moov"}}.Content("gen_1", 1)
	if _, err := verify(t, c); err == nil || err.Error() != "moov box missing" || c.Size() != DefaultBytes {
		t.Errorf("no_moov: %v in %d bytes", err, c.Size())
	}
	c = Video{Faults: []string{"png"}}.Content("gen_1", 1)
	b, _ := io.ReadAll(c)
	if img, err := png.Decode(bytes.NewReader(b)); err != nil || img.Bounds().Dx() != 64 || int64(len(b)) != c.Size() {
		t.Errorf("png: not a PNG image: %v", err)
	}
	c = Video{ContentType: "video/x-msvideo"}.Content("gen_1", 1)
	head := make([]byte, 12)
	c.ReadAt(head, 0)
	if kind, other := media.Sniff(head); kind != media.Unknown || other != "" || string(head[8:]) != "AVI " || c.Size() != DefaultBytes {
		t.Errorf("avi: %q is %v %q", head, kind, other)
	}
}

func TestVersionsDiffer(t *testing.T) {
	t.Parallel()
	for _, v := range []Video{{}, {ContentType: "video/webm"}} {
		a, _ := io.ReadAll(v.Content("gen_1", 1))
		b, _ := io.ReadAll(v.Content("gen_1", 2))
		if bytes.Equal(a, b) || len(a) != len(b) {
			t.Errorf("%+v: two versions are the same bytes", v)
		}
	}
}

func TestVideoValidation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		video, says string
	}{
		{`{"codec": "vp08"}`, `codec "vp08" for MP4, valid codecs are ["avc1" "hvc1" "hev1" "av01" "vp09"]`},
		{`{"content_type": "video/webm", "codec": "hev1"}`, `codec "hev1" for WebM, valid codecs are ["av01" "avc1" "hvc1" "vp08" "vp09"]`},
		{`{"width": -1}`, "width and height go from 1 to 65535 (1280 and 720 when 0)"},
		{`{"height": 65536}`, "width and height go from 1 to 65535"},
		{`{"duration": "25h"}`, "duration goes up to 24h (8s when 0)"},
		{`{"duration": "-1s"}`, "duration goes up to 24h"},
		{`{"bytes": -1}`, "bytes goes up to 1 TiB (262144 when 0)"},
		{`{"faults": ["html_201"]}`, `unknown video fault "html_201"`},
	} {
		_, err := ParseScenario([]byte(`{"generations": {"gen_1": {"steps": [{"status": "completed"}], "video": ` + tc.video + `}}}`))
		if err == nil || !strings.Contains(err.Error(), `generation "gen_1" video: `+tc.says) && !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: err = %v, want %q", tc.video, err, tc.says)
		}
	}
	if _, err := ParseScenario([]byte(`{"generations": {"gen_1": {"steps": [{"status": "completed"}], "video": {"content_type": "video/x-msvideo", "codec": "anything"}}}}`)); err != nil {
		t.Errorf("a codec for AVI, which has no headers: %v", err)
	}
}

func TestStorageFaultsOfA200(t *testing.T) {
	t.Parallel()
	_, base := start(t, `{"generations": {
		"gen_html": {"steps": [{"status": "completed"}], "video": {"faults": ["html_200"]}},
		"gen_xml": {"steps": [{"status": "completed"}], "video": {"faults": ["xml_200"]}},
		"gen_empty": {"steps": [{"status": "completed"}], "video": {"faults": ["empty_200"]}},
		"gen_cut": {"steps": [{"status": "completed"}], "video": {"bytes": 1048576, "faults": ["cut_no_length"]}},
		"gen_small_cut": {"steps": [{"status": "completed"}], "video": {"bytes": 10000, "faults": ["cut_no_length"]}}}}`)
	whole, _ := io.ReadAll(NewContent("gen_cut", 1, 1<<20))
	for _, tc := range []struct {
		id, contentType string
		length          int64
		body            string // prefix
		got             int
	}{
		{"gen_html", "text/html; charset=utf-8", 74, "<html><body><h1>502 Bad Gateway</h1>", 74},
		{"gen_xml", "application/xml", 58, `<?xml version="1.0"?><Error><Code>SlowDown</Code></Error>`, 58},
		{"gen_empty", "video/mp4", 0, "", 0},
		{"gen_cut", "video/mp4", -1, string(whole[:1000]), 300_000},
		{"gen_small_cut", "video/mp4", -1, "", 5000},
	} {
		resp, body, err := fetchVideo(t, videoURL(t, base, tc.id))
		if resp == nil {
			t.Fatalf("%s: %v", tc.id, err)
		}
		// The cut without a length ends as a whole body would: only its
		// structure shows that it is short.
		if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != tc.contentType || resp.ContentLength != tc.length ||
			len(body) != tc.got || !strings.HasPrefix(string(body), tc.body) || len(resp.TransferEncoding) > 0 {
			t.Errorf("%s: %d %q, Content-Length %d, %v, %d bytes %.80q, %v", tc.id, resp.StatusCode, resp.Header.Get("Content-Type"),
				resp.ContentLength, resp.TransferEncoding, len(body), body, err)
		}
	}
	if !bytes.Equal(whole[:300_000], func() []byte { _, b, _ := fetchVideo(t, videoURL(t, base, "gen_cut")); return b }()) {
		t.Error("the cut body is not the start of the video")
	}
}
