package media

import (
	"bytes"
	"encoding/binary"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// Builders of ISO base media files for the tests: each part is written
// out in full, so that a test can break any one of them.

func bx(typ string, parts ...[]byte) []byte {
	body := slices.Concat(parts...)
	return slices.Concat(u32(uint32(8+len(body))), []byte(typ), body)
}

func fullBox(typ string, version byte, parts ...[]byte) []byte {
	return bx(typ, append([]byte{version, 0, 0, 0}, slices.Concat(parts...)...))
}

func u16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }
func zeros(n int) []byte  { return make([]byte, n) }

var ftyp = bx("ftyp", []byte("isom"), u32(0x200), []byte("isomavc1"))

// mvhd0 and mvhd1 are movie headers of version 0 and 1.
func mvhd0(timescale, duration uint32) []byte {
	return fullBox("mvhd", 0, zeros(8), u32(timescale), u32(duration), zeros(80))
}

func mvhd1(timescale uint32, duration uint64) []byte {
	return fullBox("mvhd", 1, zeros(16), u32(timescale), u64(duration), zeros(80))
}

// tkhd0 and tkhd1 are track headers with a display size.
func tkhd0(w, h uint32) []byte {
	return fullBox("tkhd", 0, zeros(20), zeros(52), u32(w<<16), u32(h<<16))
}

func tkhd1(w, h uint32) []byte {
	return fullBox("tkhd", 1, zeros(32), zeros(52), u32(w<<16), u32(h<<16))
}

// entry is a visual sample entry of the codec.
func entry(codec string, w, h uint16) []byte {
	return bx(codec, zeros(6), u16(1), zeros(16), u16(w), u16(h), zeros(50))
}

func trak(tkhd []byte, handler string, entries ...[]byte) []byte {
	return bx("trak", tkhd, bx("mdia",
		fullBox("mdhd", 0, zeros(20)),
		fullBox("hdlr", 0, u32(0), []byte(handler), zeros(12), []byte("handler\x00")),
		bx("minf", bx("dinf"), bx("stbl", fullBox("stsd", 0, u32(uint32(len(entries))), slices.Concat(entries...)), fullBox("stts", 0, u32(0))))))
}

var videoTrak = trak(tkhd0(1920, 1080), "vide", entry("avc1", 1920, 1080))

// soundChunks is a sound track whose last chunk starts at last.
func soundChunks(last uint32) []byte {
	return bx("trak", tkhd0(0, 0), bx("mdia",
		fullBox("hdlr", 0, u32(0), []byte("soun"), zeros(12), []byte("handler\x00")),
		bx("minf", bx("stbl", fullBox("stsd", 0, u32(1), entry("mp4a", 0, 0)), fullBox("stco", 0, u32(1), u32(last))))))
}

// chunkTrak is a video track whose chunk table (stco or co64) lists two
// chunks, the last at last.
func chunkTrak(table string, last uint64) []byte {
	offsets := slices.Concat(u32(50), u32(uint32(last)))
	if table == "co64" {
		offsets = slices.Concat(u64(50), u64(last))
	}
	return bx("trak", tkhd0(1920, 1080), bx("mdia",
		fullBox("hdlr", 0, u32(0), []byte("vide"), zeros(12), []byte("handler\x00")),
		bx("minf", bx("stbl", fullBox("stsd", 0, u32(1), entry("avc1", 1920, 1080)), fullBox(table, 0, u32(2), offsets)))))
}

// mp4 is a file of ftyp, a moov holding the parts, and an mdat of n bytes.
func mp4(n int, parts ...[]byte) []byte {
	return slices.Concat(ftyp, bx("moov", parts...), bx("mdat", zeros(n)))
}

func TestVerifyISO(t *testing.T) {
	t.Parallel()
	soundTrak := trak(tkhd0(0, 0), "soun", entry("mp4a", 0, 0))
	good := mp4(1000, mvhd0(1000, 8000), videoTrak)
	for _, tc := range []struct {
		name string
		file []byte
		want Info
		err  string
	}{
		{"mp4", good, Info{Container: "mp4", Codec: "avc1", Width: 1920, Height: 1080, Duration: 8 * time.Second}, ""},
		{"version 1 headers", mp4(10, mvhd1(90000, 90000*5/2), trak(tkhd1(640, 360), "vide", entry("hvc1", 0, 0))),
			Info{Container: "mp4", Codec: "hvc1", Width: 640, Height: 360, Duration: 2500 * time.Millisecond}, ""},
		{"the sample entry's size wins over the display size", mp4(10, mvhd0(1, 8), trak(tkhd0(1280, 720), "vide", entry("av01", 1440, 1080))),
			Info{Container: "mp4", Codec: "av01", Width: 1440, Height: 1080, Duration: 8 * time.Second}, ""},
		{"the first video track after a sound track", mp4(10, mvhd0(10, 15), soundTrak, videoTrak, trak(tkhd0(1, 1), "vide", entry("vp09", 1, 1))),
			Info{Container: "mp4", Codec: "avc1", Width: 1920, Height: 1080, Duration: 1500 * time.Millisecond}, ""},
		{"moov after mdat", slices.Concat(ftyp, bx("mdat", zeros(10)), bx("moov", mvhd0(1000, 1), videoTrak), bx("free")),
			Info{Container: "mp4", Codec: "avc1", Width: 1920, Height: 1080, Duration: time.Millisecond}, ""},
		{"the first of two moov boxes", slices.Concat(good, bx("moov", mvhd0(1, 1), soundTrak)),
			Info{Container: "mp4", Codec: "avc1", Width: 1920, Height: 1080, Duration: 8 * time.Second}, ""},
		{"the first of two mvhd boxes", mp4(1, mvhd0(1, 4), mvhd0(1, 0), videoTrak),
			Info{Container: "mp4", Codec: "avc1", Width: 1920, Height: 1080, Duration: 4 * time.Second}, ""},
		{"fragmented: the duration from mehd", mp4(1, mvhd0(1000, 0), videoTrak, bx("mvex", bx("trex"), fullBox("mehd", 0, u32(3000)))),
			Info{Container: "mp4", Codec: "avc1", Width: 1920, Height: 1080, Duration: 3 * time.Second}, ""},
		{"fragmented: a 64-bit mehd", mp4(1, mvhd0(1000, math32), videoTrak, bx("mvex", fullBox("mehd", 1, u64(1500)))),
			Info{Container: "mp4", Codec: "avc1", Width: 1920, Height: 1080, Duration: 1500 * time.Millisecond}, ""},
		{"an mdat of 64-bit size", slices.Concat(ftyp, bx("moov", mvhd0(1, 1), videoTrak), u32(1), []byte("mdat"), u64(16+3), zeros(3)),
			Info{Container: "mp4", Codec: "avc1", Width: 1920, Height: 1080, Duration: time.Second}, ""},
		{"an mdat to the end of the file", slices.Concat(ftyp, bx("moov", mvhd0(1, 1), videoTrak), u32(0), []byte("mdat"), zeros(99)),
			Info{Container: "mp4", Codec: "avc1", Width: 1920, Height: 1080, Duration: time.Second}, ""},
		{"no size anywhere", mp4(1, mvhd0(1, 1), trak(tkhd0(0, 0), "vide", entry("avc1", 0, 0))),
			Info{Container: "mp4", Codec: "avc1", Duration: time.Second}, ""},
		{"a tkhd of an unknown version", mp4(1, mvhd0(1, 1), trak(fullBox("tkhd", 2, zeros(96)), "vide", entry("avc1", 0, 0))),
			Info{Container: "mp4", Codec: "avc1", Duration: time.Second}, ""},
		{"a short tkhd", mp4(1, mvhd0(1, 1), trak(fullBox("tkhd", 0, zeros(10)), "vide", entry("avc1", 0, 0))),
			Info{Container: "mp4", Codec: "avc1", Duration: time.Second}, ""},
		{"a tkhd too short for its size", mp4(1, mvhd0(1, 1), trak(fullBox("tkhd", 0, zeros(76)), "vide", entry("avc1", 0, 0))),
			Info{Container: "mp4", Codec: "avc1", Duration: time.Second}, ""},
		{"a short sample entry", mp4(1, mvhd0(1, 1), trak(tkhd0(2, 3), "vide", bx("avc1", zeros(27)))),
			Info{Container: "mp4", Codec: "avc1", Width: 2, Height: 3, Duration: time.Second}, ""},

		{"fragmented, its duration given nowhere", slices.Concat(ftyp, bx("moov", mvhd0(1000, 0), videoTrak, bx("mvex", bx("trex"))), bx("moof"), bx("mdat", zeros(5)), bx("moof"), bx("mdat", zeros(5))),
			Info{Container: "mp4", Codec: "avc1", Width: 1920, Height: 1080}, ""},
		{"an mdat to the end, its last chunk inside", slices.Concat(ftyp, bx("moov", mvhd0(1, 1), chunkTrak("stco", 200)), u32(0), []byte("mdat"), zeros(400)),
			Info{Container: "mp4", Codec: "avc1", Width: 1920, Height: 1080, Duration: time.Second}, ""},

		{"no media data", slices.Concat(ftyp, bx("moov", mvhd0(1, 1), videoTrak)), Info{}, "mdat box missing or empty: the file holds no media data"},
		{"an empty mdat", mp4(0, mvhd0(1, 1), videoTrak), Info{}, "mdat box missing or empty: the file holds no media data"},
		{"an mdat to the end, cut before its last chunk", slices.Concat(ftyp, bx("moov", mvhd0(1, 1), chunkTrak("stco", 100000)), u32(0), []byte("mdat"), zeros(400)),
			Info{}, "the last chunk starts at byte 100000, past the end of the file"},
		{"an mdat to the end, cut before the sound track's last chunk", slices.Concat(ftyp, bx("moov", mvhd0(1, 1), chunkTrak("stco", 200), soundChunks(100000)), u32(0), []byte("mdat"), zeros(400)),
			Info{}, "the last chunk starts at byte 100000, past the end of the file"},
		{"an mdat to the end, cut before its last 64-bit chunk", slices.Concat(ftyp, bx("moov", mvhd0(1, 1), chunkTrak("co64", 1<<40)), u32(0), []byte("mdat"), zeros(400)),
			Info{}, "the last chunk starts at byte 1099511627776, past the end of the file"},
		{"a chunk table longer than its box", slices.Concat(ftyp, bx("moov", mvhd0(1, 1), bx("trak", bx("mdia", fullBox("hdlr", 0, u32(0), []byte("vide"), zeros(12)),
			bx("minf", bx("stbl", fullBox("stco", 0, u32(5), u32(1))))))), bx("mdat", zeros(1))),
			Info{}, `the "stco" box at byte `},
		{"empty", nil, Info{}, "the file is empty"},
		{"shorter than a box header", []byte("\x00\x00\x00"), Info{}, "ftyp box missing: the file holds only 3 bytes"},
		{"cut short", good[:len(good)-1], Info{}, `top-level boxes end at 1469 bytes of 1470: the file is cut short inside its "mdat" box at byte 462`},
		{"cut short inside a header", slices.Concat(good, []byte("abc")), Info{}, "top-level boxes end at byte 1470, and 3 bytes follow that are too few for a box"},
		{"cut short inside a 64-bit header", slices.Concat(good, u32(1), []byte("mdat"), u32(0)), Info{}, `the "mdat" box at byte 1470 is cut short inside its header`},
		{"an impossible 64-bit size", slices.Concat(ftyp, u32(1), []byte("mdat"), u64(1<<63+5)), Info{}, `top-level boxes end at 40 bytes of more than that: the file is cut short inside its "mdat" box at byte 24`},
		{"the largest 64-bit size there is", slices.Concat(ftyp, u32(1), []byte("mdat"), u64(math.MaxInt64-24)), Info{},
			`top-level boxes end at 40 bytes of 9223372036854775807: the file is cut short inside its "mdat" box at byte 24`},
		{"ftyp not first", slices.Concat(bx("moov", mvhd0(1, 1), videoTrak), ftyp), Info{}, `ftyp box missing: the file starts with a "moov" box (its first bytes: 00 00 01 b6 6d 6f 6f 76)`},
		{"moov missing", slices.Concat(ftyp, bx("mdat", zeros(100))), Info{}, "moov box missing"},
		{"mvhd missing", mp4(0, videoTrak), Info{}, "mvhd box missing from the moov box"},
		{"mvhd duration 0", mp4(0, mvhd0(1000, 0), videoTrak), Info{}, "mvhd duration is 0"},
		{"mvhd duration unknown", mp4(0, mvhd0(1000, math32), videoTrak), Info{}, "mvhd duration is 0"},
		{"mvhd duration 0, version 1", mp4(0, mvhd1(1000, 0), videoTrak), Info{}, "mvhd duration is 0"},
		{"mvhd duration unknown, version 1", mp4(0, mvhd1(1000, 1<<64-1), videoTrak), Info{}, "mvhd duration is 0"},
		{"mvhd timescale 0", mp4(0, mvhd0(0, 1), videoTrak), Info{}, "mvhd timescale is 0"},
		{"mvhd too long", mp4(0, mvhd1(1, 1<<63), videoTrak), Info{}, "mvhd duration of 9223372036854775808 at 1 a second is longer than any video"},
		{"mvhd too short", mp4(0, fullBox("mvhd", 0, zeros(15)), videoTrak), Info{}, "the mvhd box is too short for its version (19 bytes)"},
		{"mvhd of version 1 too short", mp4(0, fullBox("mvhd", 1, zeros(27)), videoTrak), Info{}, "the mvhd box is too short for its version (31 bytes)"},
		{"mvhd of an unknown version", mp4(0, fullBox("mvhd", 2, zeros(100)), videoTrak), Info{}, "the mvhd box is too short for its version (104 bytes)"},
		{"no video track", mp4(0, mvhd0(1, 1), soundTrak), Info{}, "no video track (no trak box with a 'vide' handler)"},
		{"no sample entry", mp4(0, mvhd0(1, 1), trak(tkhd0(1, 1), "vide")), Info{}, "the video track's stsd box has no sample entry"},
		{"a sample entry counted but absent", mp4(0, mvhd0(1, 1), bx("trak", bx("mdia", fullBox("hdlr", 0, u32(0), []byte("vide"), zeros(4)), bx("minf", bx("stbl", fullBox("stsd", 0, u32(1))))))),
			Info{}, "the video track's stsd box has no sample entry"},
		{"a short hdlr", mp4(0, mvhd0(1, 1), bx("trak", bx("mdia", fullBox("hdlr", 0, u32(0), []byte("vid"))))), Info{}, `the "hdlr" box at byte `},
		{"a box smaller than its header", slices.Concat(ftyp, u32(7), []byte("free")), Info{}, `the "free" box at byte 24 declares 7 bytes, less than its header`},
		{"a 64-bit box smaller than its header", slices.Concat(ftyp, u32(1), []byte("free"), u64(15)), Info{}, `the "free" box at byte 24 declares 15 bytes, less than its header`},
		{"a child past its parent", slices.Concat(ftyp, bx("moov", u32(100), []byte("mvhd"))), Info{}, `the "mvhd" box at byte 32 runs past the end of the "moov" box at byte 24`},
		{"stray bytes in a parent", slices.Concat(ftyp, bx("moov", mvhd0(1, 1), []byte{0, 0})), Info{}, `the "moov" box at byte 24 ends with 2 bytes that are too few for a box`},
		{"a sample entry past its stsd", mp4(0, mvhd0(1, 1), bx("trak", bx("mdia", bx("minf", bx("stbl", fullBox("stsd", 0, u32(1), u32(99), []byte("avc1"))))))),
			Info{}, `the "avc1" box at byte `},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := VerifyISO(bytes.NewReader(tc.file), int64(len(tc.file)))
			if tc.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
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

const math32 = 1<<32 - 1

// TestTruncationNamesBothSizes: a file cut short at 300,000 of its 1,048,576 bytes
// says so in those numbers.
func TestTruncationNamesBothSizes(t *testing.T) {
	t.Parallel()
	whole := mp4(1<<20-len(mp4(0, mvhd0(1, 1), videoTrak)), mvhd0(1, 1), videoTrak)
	if len(whole) != 1<<20 {
		t.Fatalf("the fixture is %d bytes", len(whole))
	}
	_, err := VerifyISO(bytes.NewReader(whole), 300_000)
	if err == nil || !strings.HasPrefix(err.Error(), "top-level boxes end at 300000 bytes of 1048576") {
		t.Errorf("err = %v", err)
	}
}

// TestHeadersUpToTheBoundAreRead: a file of exactly maxHeaders boxes is
// walked to its end.
func TestHeadersUpToTheBoundAreRead(t *testing.T) {
	t.Parallel()
	free := bx("free")
	file := &sparse{size: int64(len(ftyp)) + (maxHeaders-1)*int64(len(free)), head: ftyp}
	_, err := VerifyISO(&repeating{sparse: file, unit: free, from: int64(len(ftyp))}, file.size)
	if err == nil || err.Error() != "moov box missing" {
		t.Errorf("err = %v, want moov box missing", err)
	}
}
