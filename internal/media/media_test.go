package media

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestSniff(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		head  string
		kind  Kind
		other string
	}{
		{"\x1a\x45\xdf\xa3\x01", Matroska, ""},
		{"\x00\x00\x00\x20ftypisom", ISO, ""},
		{"\x00\x00\x00\x08wide", ISO, ""},
		{"\x00\x00\x00\x08moov", ISO, ""},
		{"\x00\x00\x00\x08mdat", ISO, ""},
		{"\x00\x00\x00\x08free", ISO, ""},
		{"\x00\x00\x00\x08skip", ISO, ""},
		{"\x00\x00\x00\x08pnot", ISO, ""},
		{"\x00\x00\x00\x08styp", ISO, ""},
		{"\x00\x00\x00\x08junk", Unknown, ""},
		{"\x89PNG\r\n\x1a\n\x00", Unknown, "a PNG image"},
		{"\xff\xd8\xff\xe0", Unknown, "a JPEG image"},
		{"GIF87a", Unknown, "a GIF image"},
		{"GIF89a", Unknown, "a GIF image"},
		{"RIFF\x00\x00\x00\x00WEBPVP8 ", Unknown, "a WebP image"},
		{"RIFF\x00\x00\x00\x00WEBP", Unknown, "a WebP image"},
		{"RIFF\x00\x00\x00\x00AVI LIST", Unknown, ""},
		{"RIFF\x00\x00\x00\x00WEB", Unknown, ""},
		{"%PDF-1.7", Unknown, "a PDF document"},
		{"PK\x03\x04", Unknown, "a ZIP archive"},
		{"\x1f\x8b\x08", Unknown, "a gzip archive"},
		{"\xef\xbb\xbf  <?xml version", Unknown, "an XML document"},
		{"\n<!DOCTYPE HTML>", Unknown, "an HTML page"},
		{"<HTML><body>", Unknown, "an HTML page"},
		{"<head>", Unknown, "an HTML page"},
		{"<body>", Unknown, "an HTML page"},
		{"<!-- x -->", Unknown, "an HTML or XML document"},
		{"<Error><Code>", Unknown, "an HTML or XML document"},
		{"\t{\"error\":1}", Unknown, "a JSON document"},
		{"[1]", Unknown, "a JSON document"},
		{"G@\x00\x10", Unknown, ""}, // MPEG-TS: a video, of a kind without a check
		{"Service Unavailable: retry later\n", Unknown, "text"},
		{"AccessDenied", Unknown, "text"},
		{"YUV4MPEG2 W1280 H720 F25:1\nFRAME\n", Unknown, ""}, // Y4M: a video whose header is text
		{"YUV4MPEG2", Unknown, "text"},
		{"", Unknown, ""},
		{"\x1a\x45\xdf", Unknown, ""},
	} {
		kind, other := Sniff([]byte(tc.head))
		if kind != tc.kind || other != tc.other {
			t.Errorf("Sniff(%q) = %v, %q; want %v, %q", tc.head, kind, other, tc.kind, tc.other)
		}
	}
}

func TestKindString(t *testing.T) {
	t.Parallel()
	for k, want := range map[Kind]string{Unknown: "unknown", ISO: "ISO base media (MP4)", Matroska: "Matroska (WebM)"} {
		if k.String() != want {
			t.Errorf("%d.String() = %q, want %q", k, k.String(), want)
		}
	}
}

func TestVerifyPicksTheCheck(t *testing.T) {
	t.Parallel()
	mp4 := mp4(10, mvhd0(1, 1), videoTrak)
	wm := webm(info(1_000_000, 8000), webmTracks, cluster)
	for _, tc := range []struct {
		file      []byte
		kind      Kind
		container string
		err       string
	}{
		{mp4, ISO, "mp4", ""},
		{wm, Matroska, "webm", ""},
		{mp4, Matroska, "", "EBML header missing"},
		{wm, ISO, "", "ftyp box missing"},
		{mp4, Unknown, "", "no check for the unknown kind"},
	} {
		info, err := Verify(bytes.NewReader(tc.file), int64(len(tc.file)), tc.kind)
		if info.Container != tc.container || (err == nil) != (tc.err == "") || err != nil && !strings.HasPrefix(err.Error(), tc.err) {
			t.Errorf("Verify(%v) = %+v, %v; want %q, %q", tc.kind, info, err, tc.container, tc.err)
		}
	}
}

// sparse is a file of size bytes that holds head, then zeros, then tail
// at its end, without being in memory. It counts the bytes read.
type sparse struct {
	head, tail []byte
	size       int64
	block      int64 // when not 0, SimpleBlocks of this size follow head
	read       atomic.Int64
	calls      atomic.Int64
}

func (s *sparse) ReadAt(p []byte, off int64) (int, error) {
	s.read.Add(int64(len(p)))
	s.calls.Add(1)
	if off < 0 || off+int64(len(p)) > s.size {
		return 0, fmt.Errorf("read of %d bytes at %d, past the end at %d", len(p), off, s.size)
	}
	for i := range p {
		at := off + int64(i)
		switch {
		case at < int64(len(s.head)):
			p[i] = s.head[at]
		case at >= s.size-int64(len(s.tail)):
			p[i] = s.tail[at-(s.size-int64(len(s.tail)))]
		case s.block > 0:
			rel := at - int64(len(s.head))
			start := rel / s.block * s.block
			n := min(s.block, s.size-int64(len(s.head))-start) // this block's size
			hdr := [9]byte{0xA3}
			binary.BigEndian.PutUint64(hdr[1:], uint64(n-9)|1<<56) // an 8-byte EBML size
			if w := rel - start; w < int64(len(hdr)) {
				p[i] = hdr[w]
			} else {
				p[i] = 0
			}
		default:
			p[i] = 0
		}
	}
	return len(p), nil
}

// TestOnlyHeadersAreRead: checking a 1 GiB video reads a few KiB of it.
func TestOnlyHeadersAreRead(t *testing.T) {
	t.Parallel()
	const size = 1 << 30
	moov := bx("moov", mvhd0(1000, 8000), videoTrak)
	iso := slices.Concat(ftyp, moov, u32(size-uint32(len(ftyp)+len(moov))), []byte("mdat"))
	// WebM with its clusters of unknown size, so that every block's
	// header is walked: 1023 blocks of 1 MiB.
	wm := slices.Concat(ebmlHeader("webm"), unknown(idSegment), info(1_000_000, 8000), webmTracks, unknown(idCluster))
	for _, tc := range []struct {
		name string
		file *sparse
		kind Kind
	}{
		{"mp4", &sparse{head: iso, size: size}, ISO},
		{"mp4 with its moov at the end", &sparse{head: slices.Concat(ftyp, u32(size-uint32(len(ftyp)+len(moov))), []byte("mdat")), tail: moov, size: size}, ISO},
		{"webm", blocks(wm, size), Matroska},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			info, err := Verify(tc.file, tc.file.size, tc.kind)
			if err != nil || info.Duration != 8*time.Second {
				t.Fatalf("got %+v, %v", info, err)
			}
			if n := tc.file.read.Load(); n > 200<<10 {
				t.Errorf("read %d bytes of a 1 GiB file; only headers should be read", n)
			}
		})
	}
}

// blocks is a WebM file that starts with head and holds SimpleBlocks of
// 1 MiB (the last one shorter) up to size, read without being in memory.
func blocks(head []byte, size int64) *sparse {
	return &sparse{head: head, size: size, tail: nil, block: 1 << 20}
}

func TestReadErrorsAreReported(t *testing.T) {
	t.Parallel()
	broken := errors.New("disk on fire")
	for _, kind := range []Kind{ISO, Matroska} {
		_, err := Verify(failing{broken}, 1000, kind)
		if kind == ISO && !errors.Is(err, broken) {
			t.Errorf("%v: err = %v, want the read error", kind, err)
		}
		if kind == Matroska && err == nil {
			t.Errorf("%v: no error", kind)
		}
	}
	// A file shorter than it said: the read comes back short without an error.
	_, err := VerifyISO(bytes.NewReader(ftyp), int64(len(ftyp))+100)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("err = %v, want io.ErrUnexpectedEOF", err)
	}
}

type failing struct{ err error }

func (f failing) ReadAt([]byte, int64) (int, error) { return 0, f.err }

func TestManyHeadersEndTheCheck(t *testing.T) {
	t.Parallel()
	// A file of nothing but empty boxes, each a header to read.
	free := bx("free")
	file := &sparse{size: int64(len(ftyp)) + (maxHeaders+10)*int64(len(free))}
	file.head = ftyp
	repeat := &repeating{sparse: file, unit: free, from: int64(len(ftyp))}
	_, err := VerifyISO(repeat, file.size)
	if !errors.Is(err, errTooMany) {
		t.Errorf("err = %v, want errTooMany", err)
	}
	if calls := file.calls.Load(); calls > maxHeaders+1 {
		t.Errorf("%d reads, more than the bound", calls)
	}
}

// repeating is a file of head, then unit over and over.
type repeating struct {
	*sparse
	unit []byte
	from int64
}

func (r *repeating) ReadAt(p []byte, off int64) (int, error) {
	r.calls.Add(1)
	if off+int64(len(p)) > r.size {
		return 0, fmt.Errorf("read past the end")
	}
	for i := range p {
		at := off + int64(i)
		if at < r.from {
			p[i] = r.head[at]
		} else {
			p[i] = r.unit[(at-r.from)%int64(len(r.unit))]
		}
	}
	return len(p), nil
}

func TestDurationOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ticks, perSecond uint64
		want             time.Duration
		ok               bool
	}{
		{8000, 1000, 8 * time.Second, true},
		{1, 3, 333333333, true},
		{90000*3600 + 45000, 90000, time.Hour + 500*time.Millisecond, true},
		{1, 0, 0, false},
		{1<<64 - 1, 1, 0, false},
		{9223372035, 1, 9223372035 * time.Second, true},
		{9223372036, 1, 0, false},
	} {
		got, ok := durationOf(tc.ticks, tc.perSecond)
		if got != tc.want || ok != tc.ok {
			t.Errorf("durationOf(%d, %d) = %v, %t; want %v, %t", tc.ticks, tc.perSecond, got, ok, tc.want, tc.ok)
		}
	}
}

// bounded is a file that fails the test on any read outside it.
type bounded struct {
	t    *testing.T
	data []byte
}

func (b bounded) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > int64(len(b.data)) {
		b.t.Fatalf("read of %d bytes at %d of a %d-byte file", len(p), off, len(b.data))
	}
	if len(p) > len(file{}.buf) {
		b.t.Fatalf("read of %d bytes at once", len(p))
	}
	return copy(p, b.data[off:]), nil
}

// FuzzVerify: any bytes, checked as either kind, end in an Info or an
// error, without a panic, a read outside the file, or a large read.
func FuzzVerify(f *testing.F) {
	f.Add(mp4(10, mvhd0(1000, 8000), videoTrak), true)
	f.Add(mp4(10, mvhd1(1000, 8000), box2(), videoTrak), true)
	f.Add(webm(info(1_000_000, 8000), webmTracks, cluster), false)
	f.Add(slices.Concat(ebmlHeader("webm"), unknown(idSegment), info(1, 1), webmTracks, unknown(idCluster), el(0xA3, zeros(3))), false)
	f.Fuzz(func(t *testing.T, data []byte, iso bool) {
		kind := Matroska
		if iso {
			kind = ISO
		}
		info, err := Verify(bounded{t, data}, int64(len(data)), kind)
		if err != nil && info != (Info{}) {
			t.Errorf("an error (%v) with facts %+v", err, info)
		}
		if err == nil && (info.Codec == "" || info.Width < 0 || info.Height < 0 || info.Duration < 0) {
			t.Errorf("verified, with facts %+v", info)
		}
		Sniff(data)
	})
}

// box2 is a mvex holding a mehd, for the fuzzer to start from.
func box2() []byte { return bx("mvex", fullBox("mehd", 0, u32(5))) }

// BenchmarkVerify1GiB: the check of a 1 GiB file, in time, reads and
// memory (B/op), for an MP4 and for a WebM whose 1023 blocks are walked.
func BenchmarkVerify1GiB(b *testing.B) {
	const size = 1 << 30
	moov := bx("moov", mvhd0(1000, 8000), videoTrak)
	iso := slices.Concat(ftyp, moov, u32(size-uint32(len(ftyp)+len(moov))), []byte("mdat"))
	wm := slices.Concat(ebmlHeader("webm"), unknown(idSegment), info(1_000_000, 8000), webmTracks, unknown(idCluster))
	for _, bc := range []struct {
		name string
		file *sparse
		kind Kind
	}{{"mp4", &sparse{head: iso, size: size}, ISO}, {"webm", blocks(wm, size), Matroska}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Verify(bc.file, size, bc.kind); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(bc.file.read.Load())/float64(b.N), "bytes-read/op")
		})
	}
}

func TestText(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]bool{
		"<html>\r\n\t<body>": true, "{\"é\": 1}": true, "caf\xc3": true, "": true,
		"\x89PNG\r\n\x1a\n": false, "a\x00b": false, "a\x7fb": false, "\xff\xfeabcd": false,
		"\xffabc": false, // a bad byte with a whole character's room after it is no cut character
	} {
		if got := Text([]byte(in)); got != want {
			t.Errorf("Text(%q) = %t, want %t", in, got, want)
		}
	}
}

func TestUnchecked(t *testing.T) {
	t.Parallel()
	// pad makes a file of MinUnchecked bytes from its start.
	pad := func(head string) string { return head + strings.Repeat("\x00", max(MinUnchecked-len(head), 0)) }
	riff := func(size int) string { return "RIFF" + string(binary.LittleEndian.AppendUint32(nil, uint32(size))) }
	ts := "\x47\x40\x00\x10" + strings.Repeat("\xff", tsPacket-4) + "\x47"
	const xmlTS = "\x47\x40\x00\x10<?xml version=\"1.0\"?><Error>"
	for _, tc := range []struct{ file, ext, what, err string }{
		{pad(riff(MinUnchecked-8) + "AVI LIST"), ".avi", "an AVI video", ""},
		{pad(riff(12)+"AVI JUNK") + "more", ".avi", "an AVI video", ""}, // a RIFF-AVIX may follow
		// Streamed, the size never written back.
		{pad(riff(0) + "AVI LIST"), ".avi", "an AVI video", ""},
		{pad(riff(math.MaxUint32) + "AVI LIST"), ".avi", "an AVI video", ""},
		{pad(riff(MinUnchecked-7) + "AVI LIST"), "", "", "an AVI signature, but its RIFF chunk of 1017 bytes does not fit the file of 1024"},
		{pad(riff(11) + "AVI LIST"), "", "", "an AVI signature, but its RIFF chunk of 11 bytes does not fit the file of 1024"},
		{pad(riff(12) + "AVI <Err>"), "", "", "an AVI signature, but no chunk after it"}, // an error page behind the signature
		{pad(riff(12) + "AVI Li\x00T"), "", "", "an AVI signature, but no chunk after it"},
		{riff(0) + "AVI <Error>AccessDenied</Error>", "", "", "an AVI signature, but no chunk after it"},
		{riff(0) + "AVI ", "", "", "an AVI signature, but no chunk after it"},
		{riff(0) + "AVI LIS", "", "", "an AVI signature, but no chunk after it"},
		{riff(0) + "AVI", "", "", ""},
		{pad(riff(12) + "WAVELIST"), "", "", ""},
		{pad("YUV4MPEG2 W1280 H720\nFRAME\n"), ".y4m", "a Y4M video", ""},
		{pad("YUV4MPEG2 W1280 H720\n"), "", "", "a Y4M signature, but no frame after its header line"},
		{pad("YUV4MPEG2 <Error><Code>AccessDenied</Code></Error>"), "", "", "a Y4M signature, but no frame after its header line"},
		{pad("FLV\x01\x05\x00\x00\x00\x09"), ".flv", "an FLV video", ""},
		{pad("FLV\x01\x05\x00\x00\x00\x0b"), ".flv", "an FLV video", ""}, // a longer header, as the spec allows
		{"FLV\x01\x05\x00\x00\x00\x0c\x00\x00", "", "", "an FLV signature, but a header of 12 bytes"},
		{pad("FLV\x01\x05\x00\x00\x00\x08"), "", "", "an FLV signature, but a header of 8 bytes"},
		{"FLV\x01\x05", "", "", "an FLV signature, but no FLV header"},
		{"FLV\x01\x05\x00\x00\x00\x09", "", "", "the signature of an FLV video, but 9 bytes in all"},
		{pad("FLV\x01\x05\x00\x00\x04\x00"), ".flv", "an FLV video", ""}, // a header as long as the file
		{pad("FLV\x01\x05\x00\x00\x04\x01"), "", "", "an FLV signature, but a header of 1025 bytes"},
		{"FLV\x02", "", "", ""},
		{pad("\x00\x00\x01\xba\x44"), ".mpg", "an MPEG program stream", ""},
		{"\x00\x00\x01\xb3", "", "", ""},
		{pad("\x30\x26\xb2\x75\x8e\x66\xcf\x11\xa6\xd9\x00\xaa\x00\x62\xce\x6c"), ".asf", "an ASF (WMV) video", ""},
		{"\x30\x26\xb2\x75\x8e\x66\xcf\x11\xa6\xd9\x00\xaa\x00\x62\xce", "", "", ""},
		{pad(ts), ".ts", "an MPEG transport stream", ""},
		{ts[:tsPacket], "", "", ""},          // the second sync byte missing
		{ts[:tsPacket] + "\x48", "", "", ""}, // and wrong
		{"\x48" + ts[1:], "", "", ""},        // the first wrong
		{"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00", "", "", ""},
		{"", "", "", ""},
		// A signature alone, or one an error page follows.
		{"\x00\x00\x01\xba", "", "", "the signature of an MPEG program stream, but 4 bytes in all, too few for one"},
		{pad("\x00\x00\x01\xba")[:MinUnchecked-1], "", "", "the signature of an MPEG program stream, but 1023 bytes in all, too few for one"},
		{ts, "", "", "the signature of an MPEG transport stream, but 189 bytes in all"},
		{pad("\x00\x00\x01\xba<HTML><body>oops"), "", "", "the signature of an MPEG program stream, then an error page"},
		{pad("\x30\x26\xb2\x75\x8e\x66\xcf\x11\xa6\xd9\x00\xaa\x00\x62\xce\x6c" + `{"error":"AccessDenied"}`), "", "", "the signature of an ASF (WMV) video, then an error page"},
		{pad(xmlTS + strings.Repeat(" ", tsPacket-len(xmlTS)) + "\x47"), "", "", "the signature of an MPEG transport stream, then an error page"},
		{pad("FLV\x01\x05\x00\x00\x00\x09<!DOCTYPE html>"), "", "", "the signature of an FLV video, then an error page"},
		{pad("YUV4MPEG2 W1 H1\nFRAME\n<html>oops</html>"), "", "", "the signature of a Y4M video, then an error page"},
	} {
		ext, what, err := Unchecked(strings.NewReader(tc.file), int64(len(tc.file)))
		if ext != tc.ext || what != tc.what || !strings.HasPrefix(fmt.Sprint(err), cmp.Or(tc.err, "<nil>")) {
			t.Errorf("Unchecked(%.40q) = %q, %q, %v; want %q, %q, %q", tc.file, ext, what, err, tc.ext, tc.what, tc.err)
		}
	}
	// The size given bounds what is read: a file of one packet, whatever
	// the reader holds past it, is no stream.
	if ext, _, _ := Unchecked(strings.NewReader(pad(ts)), tsPacket); ext != "" {
		t.Errorf("a %d-byte file read as %q", tsPacket, ext)
	}
	if ext, _, _ := Unchecked(strings.NewReader(pad("FLV\x01\x05\x00\x00\x00\x09")), 3); ext != "" {
		t.Errorf("3 bytes of FLV's signature read as %q", ext)
	}
	if ext, _, _ := Unchecked(strings.NewReader(pad(riff(MinUnchecked-8)+"AVI LIST")), MinUnchecked-1); ext != "" {
		t.Errorf("an AVI a byte shorter than its RIFF chunk read as %q", ext)
	}
}

func TestFourCC(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"azAZ", "09 a", "LIST", "idx1"} {
		if !fourCC([]byte(ok)) {
			t.Errorf("%q is refused", ok)
		}
	}
	// Each byte just outside a range: ` { @ [ / : and a control byte.
	for _, c := range "`{@[/:\x1f!" {
		if b := []byte("LIS" + string(c)); fourCC(b) {
			t.Errorf("%q is taken", b)
		}
	}
}
