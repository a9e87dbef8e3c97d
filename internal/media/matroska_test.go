package media

import (
	"bytes"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// el is a Matroska element with a known size, written in the fewest bytes.
func el(id uint32, parts ...[]byte) []byte {
	body := slices.Concat(parts...)
	return slices.Concat(idBytes(id), size(uint64(len(body)), 0), body)
}

func idBytes(id uint32) []byte {
	b := u32(id)
	for len(b) > 1 && b[0] == 0 {
		b = b[1:]
	}
	return b
}

// size is an EBML size in n bytes, or the fewest when n is 0.
func size(v uint64, n int) []byte {
	if n == 0 {
		for n = 1; n < 8 && v >= 1<<(7*n)-1; n++ {
		}
	}
	return u64(v | 1<<(7*n))[8-n:]
}

func uel(id uint32, v uint64) []byte {
	b := u64(v)
	for len(b) > 1 && b[0] == 0 {
		b = b[1:]
	}
	return el(id, b)
}

// unknown is the header of an element of unknown size.
func unknown(id uint32) []byte {
	return append(idBytes(id), 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
}

func ebmlHeader(docType string) []byte {
	return el(idEBML, uel(0x4286, 1), el(idDocType, []byte(docType)))
}

func info(scale uint64, duration float64) []byte {
	return el(idInfo, uel(idTimecodeScale, scale), el(idDuration, u64(math.Float64bits(duration))))
}

func trackEntry(kind uint64, codec string, w, h uint64) []byte {
	return el(idTrackEntry, uel(0xD7, 1), uel(idTrackType, kind), el(idCodecID, []byte(codec)), el(idVideo, uel(idPixelWidth, w), uel(idPixelHeight, h)))
}

var (
	webmTracks = el(idTracks, trackEntry(1, "V_VP9", 1920, 1080))
	cluster    = el(idCluster, uel(0xE7, 0), el(0xA3, []byte{0x81, 0, 0, 0x80}, zeros(100)))
)

func webm(parts ...[]byte) []byte {
	return slices.Concat(ebmlHeader("webm"), el(idSegment, parts...))
}

func TestVerifyMatroska(t *testing.T) {
	t.Parallel()
	vp9 := Info{Container: "webm", Codec: "vp09", Width: 1920, Height: 1080, Duration: 8 * time.Second}
	good := webm(info(1_000_000, 8000), webmTracks, cluster)
	seg := slices.Concat(info(1_000_000, 8000), webmTracks, cluster)
	for _, tc := range []struct {
		name string
		file []byte
		want Info
		err  string
	}{
		{"webm", good, vp9, ""},
		{"matroska, AV1, a float32 duration, a void before the segment",
			slices.Concat(ebmlHeader("matroska"), el(idVoid, zeros(3)), el(idSegment,
				el(idInfo, uel(idTimecodeScale, 1000), el(idDuration, u32(math.Float32bits(2.5e6)))), el(idTracks, trackEntry(1, "V_AV1", 640, 360)), cluster)),
			Info{Container: "matroska", Codec: "av01", Width: 640, Height: 360, Duration: 2500 * time.Millisecond}, ""},
		{"the default DocType and TimecodeScale", slices.Concat(el(idEBML, uel(0x4286, 1)), el(idSegment, el(idInfo, el(idDuration, u64(math.Float64bits(1500)))), webmTracks, cluster)),
			Info{Container: "matroska", Codec: "vp09", Width: 1920, Height: 1080, Duration: 1500 * time.Millisecond}, ""},
		{"a padded DocType", slices.Concat(el(idEBML, el(idDocType, []byte("webm\x00\x00"))), el(idSegment, info(1_000_000, 8000), webmTracks, cluster)), vp9, ""},
		{"the first video track after an audio track", webm(info(1_000_000, 8000), el(idTracks, trackEntry(2, "A_OPUS", 0, 0), trackEntry(1, "V_MPEG4/ISO/AVC", 1920, 1080), trackEntry(1, "V_VP8", 1, 1)), cluster),
			Info{Container: "webm", Codec: "avc1", Width: 1920, Height: 1080, Duration: 8 * time.Second}, ""},
		{"HEVC", webm(el(idTracks, trackEntry(1, "V_MPEGH/ISO/HEVC", 3, 4)), cluster), Info{Container: "webm", Codec: "hvc1", Width: 3, Height: 4}, ""},
		{"a codec without an ISO name", webm(el(idTracks, trackEntry(1, "V_THEORA", 3, 4)), cluster), Info{Container: "webm", Codec: "V_THEORA", Width: 3, Height: 4}, ""},
		{"no duration", webm(el(idInfo, uel(idTimecodeScale, 1_000_000)), webmTracks, cluster), Info{Container: "webm", Codec: "vp09", Width: 1920, Height: 1080}, ""},
		{"an empty duration", webm(el(idInfo, el(idDuration)), webmTracks, cluster), Info{Container: "webm", Codec: "vp09", Width: 1920, Height: 1080}, ""},
		{"a negative duration", webm(info(1, -5), webmTracks, cluster), Info{Container: "webm", Codec: "vp09", Width: 1920, Height: 1080}, ""},
		{"an endless duration", webm(info(1, math.Inf(1)), webmTracks, cluster), Info{Container: "webm", Codec: "vp09", Width: 1920, Height: 1080}, ""},
		{"a duration of 2^63 ns, one past the longest", webm(info(1, 1<<63), webmTracks, cluster), Info{Container: "webm", Codec: "vp09", Width: 1920, Height: 1080}, ""},
		{"a segment of unknown size", slices.Concat(ebmlHeader("webm"), unknown(idSegment), seg), vp9, ""},
		{"clusters of unknown size", slices.Concat(ebmlHeader("webm"), unknown(idSegment), info(1_000_000, 8000), webmTracks,
			unknown(idCluster), uel(0xE7, 0), el(0xA3, zeros(10)), unknown(idCluster), el(0xA3, zeros(5)), el(idCues)), vp9, ""},
		{"a BlockGroup in the second cluster", webm(info(1_000_000, 8000), webmTracks, el(idCluster, uel(0xE7, 0)), el(idCluster, uel(0xE7, 0), el(0xA0, el(0xA1, zeros(5))))), vp9, ""},
		{"a cluster of unknown size in a segment of known size", webm(info(1_000_000, 8000), webmTracks, unknown(idCluster), el(0xA3, zeros(10))), vp9, ""},
		{"an enormous pixel width", webm(el(idTracks, trackEntry(1, "V_VP9", 1<<40, 1<<40)), cluster), Info{Container: "webm", Codec: "vp09", Width: math.MaxInt32, Height: math.MaxInt32}, ""},

		{"empty", nil, Info{}, "the file is empty"},
		{"not EBML", []byte("not a webm file"), Info{}, "EBML header missing"},
		{"another element first", slices.Concat(el(idSegment), ebmlHeader("webm")), Info{}, "EBML header missing"},
		{"an EBML header of unknown size", slices.Concat(unknown(idEBML), el(idSegment)), Info{}, "the EBML header has an unknown size"},
		{"another DocType", slices.Concat(ebmlHeader("mka2"), el(idSegment, webmTracks)), Info{}, `the EBML header's DocType "mka2" is neither webm nor matroska`},
		{"a DocType too long", slices.Concat(ebmlHeader(strings.Repeat("w", 33)), el(idSegment, webmTracks)), Info{}, "the element 0x4282 at byte 9 holds 33 bytes, more than the 32 expected"},
		{"segment missing", ebmlHeader("webm"), Info{}, "Segment missing: the file ends after the EBML header"},
		{"another element after the header", slices.Concat(ebmlHeader("webm"), el(idCluster)), Info{}, "Segment missing: the EBML header is followed by the Cluster at byte 16"},
		{"a void of unknown size", slices.Concat(ebmlHeader("webm"), unknown(idVoid)), Info{}, "Segment missing: the EBML header is followed by the Void at byte 16"},
		{"cut short", good[:len(good)-1], Info{}, "the Segment at byte 16 ends at byte 189 of a 188-byte file: the file is cut short"},
		{"bytes after the segment", slices.Concat(good, zeros(3)), Info{}, "the Segment ends at byte 189, 3 bytes before the file does"},
		{"an unknown-size segment cut short", slices.Concat(ebmlHeader("webm"), unknown(idSegment), seg[:len(seg)-1]), Info{}, "the Cluster at byte 81 ends at byte 195 of a 194-byte file: the file is cut short"},
		{"an unknown-size cluster cut short", slices.Concat(ebmlHeader("webm"), unknown(idSegment), info(1, 1), webmTracks, unknown(idCluster), el(0xA3, zeros(10))[:5]), Info{}, "the element 0xA3 at byte "},
		{"a header cut short", slices.Concat(ebmlHeader("webm"), unknown(idSegment), info(1, 1), webmTracks, idBytes(idCluster)), Info{}, "the Segment at byte 16 ends inside an element header at byte"},
		{"an ID cut short", slices.Concat(ebmlHeader("webm"), unknown(idSegment), info(1, 1), webmTracks, []byte{0x1f, 0x43}), Info{}, "the Segment at byte 16 ends inside an element header at byte"},
		{"no ID", webm(webmTracks, []byte{0, 0x81}), Info{}, "no element ID at byte "},
		{"an ID of 5 bytes", webm(webmTracks, []byte{0x08, 1, 2, 3, 4, 0x80}), Info{}, "no element ID at byte "},
		{"no size", webm(webmTracks, []byte{0xEC, 0}), Info{}, "no element size at byte 52 of the Segment at byte 16"},
		{"a child past its parent", webm(el(idInfo, []byte{0x2A, 0xD7, 0xB1, 0x88, 1})), Info{}, "the element 0x2AD7B1 at byte "},
		{"unknown size outside a cluster", slices.Concat(ebmlHeader("webm"), unknown(idSegment), unknown(idTracks)), Info{}, "the Tracks at byte 28 has an unknown size, which only a Cluster may have"},
		{"unknown size inside a cluster", slices.Concat(ebmlHeader("webm"), unknown(idSegment), webmTracks, unknown(idCluster), unknown(0xA0)), Info{}, "inside the Cluster at byte"},
		{"no video track", webm(info(1, 1), el(idTracks, trackEntry(2, "A_OPUS", 0, 0)), cluster), Info{}, "no video track (no TrackEntry with TrackType 1)"},
		{"no tracks", webm(info(1, 1), cluster), Info{}, "no video track (no TrackEntry with TrackType 1)"},
		// Headers only, as an init segment, or a file cut after Tracks.
		{"no cluster", webm(info(1_000_000, 8000), webmTracks), Info{}, "no Cluster with a SimpleBlock or BlockGroup: the file holds no media data"},
		{"clusters without blocks", webm(info(1_000_000, 8000), webmTracks, el(idCluster, uel(0xE7, 0)), el(idCluster)), Info{}, "no Cluster with a SimpleBlock or BlockGroup"},
		{"an unknown-size segment cut after its tracks", slices.Concat(ebmlHeader("webm"), unknown(idSegment), info(1_000_000, 8000), webmTracks), Info{}, "no Cluster with a SimpleBlock"},
		{"an 8-byte integer", webm(el(idInfo, el(idTimecodeScale, u64(1)), el(idDuration, u64(math.Float64bits(2e9)))), webmTracks, cluster),
			Info{Container: "webm", Codec: "vp09", Width: 1920, Height: 1080, Duration: 2 * time.Second}, ""},
		{"a DocType of 32 bytes", slices.Concat(ebmlHeader(strings.Repeat("w", 32)), el(idSegment, webmTracks)), Info{}, `the EBML header's DocType "wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww" is neither`},
		{"a DocType of zeros", slices.Concat(ebmlHeader("\x00\x00"), el(idSegment, webmTracks)), Info{}, `the EBML header's DocType "" is neither`},
		{"an integer too long", webm(el(idInfo, el(idTimecodeScale, zeros(9))), webmTracks), Info{}, "the element 0x2AD7B1 at byte 26 holds 9 bytes, too many for an integer"},
		{"a float of 3 bytes", webm(el(idInfo, el(idDuration, zeros(3))), webmTracks), Info{}, "the element 0x4489 at byte 26 holds 3 bytes, not a float"},
		{"a codec ID too long", webm(el(idTracks, el(idTrackEntry, el(idCodecID, zeros(65))))), Info{}, "holds 65 bytes, more than the 64 expected"},
		{"a pixel width too long", webm(el(idTracks, el(idTrackEntry, el(idVideo, el(idPixelWidth, zeros(9)))))), Info{}, "holds 9 bytes, too many for an integer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := VerifyMatroska(bytes.NewReader(tc.file), int64(len(tc.file)))
			if tc.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.err) && !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

// TestSegmentCutShortNamesBothSizes: a WebM file cut short at 300,000 of
// its 1,048,576 bytes says so in those numbers.
func TestSegmentCutShortNamesBothSizes(t *testing.T) {
	t.Parallel()
	build := func(n int) []byte { return webm(info(1_000_000, 8000), webmTracks, el(idCluster, el(0xA3, zeros(n)))) }
	n := 1<<20 - len(build(1<<20)) + 1<<20
	whole := build(n)
	if len(whole) != 1<<20 {
		t.Fatalf("the fixture is %d bytes", len(whole))
	}
	_, err := VerifyMatroska(bytes.NewReader(whole), 300_000)
	if err == nil || err.Error() != "the Segment at byte 16 ends at byte 1048576 of a 300000-byte file: the file is cut short" {
		t.Errorf("err = %v", err)
	}
}
