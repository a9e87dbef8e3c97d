// Package media checks that a downloaded file is a whole video of a kind
// it knows, and reads what its container says about it: codec, size in
// pixels, duration. It knows ISO base media files (MP4, MOV, M4V) and
// Matroska (WebM, MKV), and, without a check, a few other video formats
// by their first bytes (Unchecked).
//
// It reads box and element headers only, through an io.ReaderAt, and
// seeks past the media data: checking a 1 GiB video reads a few KiB of
// it, and holds no more than that in memory, whatever the file claims.
// Every size in the file is untrusted: nothing is read past the size
// given, and a size that points past its container is an error.
package media

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Info is what a verified file's container says about its first video
// track. A zero field is one the container does not give.
type Info struct {
	Container string        // "mp4" for ISO base media, "webm" or "matroska"
	Codec     string        // the track's sample entry or codec: avc1, hvc1, hev1, av01, vp09 …
	Width     int           // in pixels
	Height    int           // in pixels
	Duration  time.Duration // of the whole file
}

// Kind is a container format this package can check.
type Kind int

const (
	Unknown  Kind = iota // no check exists for it
	ISO                  // ISO base media: MP4, MOV, M4V
	Matroska             // Matroska and its WebM subset
)

func (k Kind) String() string {
	return [...]string{Unknown: "unknown", ISO: "ISO base media (MP4)", Matroska: "Matroska (WebM)"}[k]
}

// SniffLen is how many of a file's first bytes Sniff looks at.
const SniffLen = 64

// Sniff tells from a file's first bytes (SniffLen of them, or all of a
// shorter file) which container it is, or, for a file that is plainly
// something other than a video, what it is instead ("a PNG image", or
// "text": a video's first bytes are binary in every container but Y4M's,
// so words are an error message). Both are zero for a file it does not
// recognise.
func Sniff(head []byte) (kind Kind, other string) {
	switch {
	case bytes.HasPrefix(head, []byte{0x1a, 0x45, 0xdf, 0xa3}):
		return Matroska, ""
	case len(head) >= 8 && isoFirst[string(head[4:8])]:
		return ISO, ""
	}
	for _, s := range signatures {
		if bytes.HasPrefix(head, []byte(s.prefix)) {
			return Unknown, s.what
		}
	}
	if len(head) >= 12 && string(head[:4]) == "RIFF" && string(head[8:12]) == "WEBP" {
		return Unknown, "a WebP image"
	}
	text := bytes.ToLower(bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")), " \t\r\n"))
	for _, s := range textSignatures {
		if bytes.HasPrefix(text, []byte(s.prefix)) {
			return Unknown, s.what
		}
	}
	if len(head) > 0 && Text(head) && !bytes.HasPrefix(head, []byte("YUV4MPEG2 ")) { // Y4M: raw frames, a text header
		return Unknown, "text"
	}
	return Unknown, ""
}

// Text reports whether b reads as text: valid UTF-8 (but for a last
// character cut in two) without control characters other than white
// space.
func Text(b []byte) bool {
	for i, r := range string(b) {
		if r == utf8.RuneError && len(b)-i >= utf8.UTFMax || r < ' ' && !strings.ContainsRune("\t\r\n", r) || r == 0x7f {
			return false
		}
	}
	return true
}

// isoFirst are the box types an ISO base media file may start with. Only
// ftyp passes the check, but a file that starts with another is an ISO
// file that fails it, with that reason.
var isoFirst = map[string]bool{"ftyp": true, "styp": true, "moov": true, "mdat": true, "free": true, "skip": true, "wide": true, "pnot": true}

var signatures = []struct{ prefix, what string }{
	{"\x89PNG\r\n\x1a\n", "a PNG image"},
	{"\xff\xd8\xff", "a JPEG image"},
	{"GIF87a", "a GIF image"},
	{"GIF89a", "a GIF image"},
	{"%PDF-", "a PDF document"},
	{"PK\x03\x04", "a ZIP archive"},
	{"\x1f\x8b", "a gzip archive"},
}

// textSignatures are matched lower-cased, after leading white space.
var textSignatures = []struct{ prefix, what string }{
	{"<?xml", "an XML document"},
	{"<!doctype html", "an HTML page"},
	{"<html", "an HTML page"},
	{"<head", "an HTML page"},
	{"<body", "an HTML page"},
	{"<!--", "an HTML or XML document"},
	{"<", "an HTML or XML document"},
	{"{", "a JSON document"},
	{"[", "a JSON document"},
}

// uncheckedFormats are video formats with no check here, known by their
// first bytes.
var uncheckedFormats = []struct{ prefix, ext, what string }{
	{"YUV4MPEG2 ", ".y4m", "a Y4M video"},
	{"FLV\x01", ".flv", "an FLV video"},
	{"\x00\x00\x01\xba", ".mpg", "an MPEG program stream"},
	{"\x30\x26\xb2\x75\x8e\x66\xcf\x11\xa6\xd9\x00\xaa\x00\x62\xce\x6c", ".asf", "an ASF (WMV) video"},
}

// tsPacket is an MPEG transport stream's packet size; each starts 0x47.
const tsPacket = 188

// Unchecked tells from the first bytes of the file of size bytes in r
// whether it is a video of a format with no check here (AVI, MPEG-TS,
// MPEG-PS, FLV, ASF, Y4M): the extension to save it under and what it
// is, or "" for a file of none of them. A file that is neither of these
// nor of a Kind with a check is no video prism-wait can vouch for.
//
// Beyond the signature it checks what costs nothing, so that an error
// page behind a video's first bytes is no video: err says what does not
// hold together in a file that starts like one.
func Unchecked(r io.ReaderAt, size int64) (ext, what string, err error) {
	head := make([]byte, 256)
	n, _ := r.ReadAt(head, 0)
	head = head[:min(int64(n), max(size, 0))]
	ext, what, err = signature(r, size, head)
	lower := bytes.ToLower(head)
	switch {
	case ext == "" || err != nil:
	case size < MinUnchecked:
		return "", "", fmt.Errorf("the signature of %s, but %d bytes in all, too few for one", what, size)
	case slices.ContainsFunc(errorPage, func(m string) bool { return bytes.Contains(lower, []byte(m)) }):
		return "", "", fmt.Errorf("the signature of %s, then an error page", what)
	}
	return ext, what, err
}

// MinUnchecked is the fewest bytes of a video saved unchecked: Prism's
// videos are megabytes, and a format's headers alone are not one.
const MinUnchecked = 1 << 10

// errorPage are the words, lower-cased, that an error page behind a
// video's signature shows within its first bytes, and no video does.
var errorPage = []string{"<html", "<!doctype", "<?xml", "<head", "<body", "<error", `"error"`}

// signature is Unchecked's reading of a file's first bytes, head.
func signature(r io.ReaderAt, size int64, head []byte) (ext, what string, err error) {
	n := len(head)
	if n >= 12 && string(head[:4]) == "RIFF" && string(head[8:12]) == "AVI " {
		// The RIFF chunk holds "AVI " and a chunk, and fits the file; a
		// writer that could not seek back leaves its size 0 or 0xFFFFFFFF.
		riff := binary.LittleEndian.Uint32(head[4:8])
		switch {
		case n < 16 || !fourCC(head[12:16]):
			return "", "", errors.New("an AVI signature, but no chunk after it")
		case riff != 0 && riff != math.MaxUint32 && (riff < 12 || int64(riff)+8 > size):
			return "", "", fmt.Errorf("an AVI signature, but its RIFF chunk of %d bytes does not fit the file of %d", riff, size)
		}
		return ".avi", "an AVI video", nil
	}
	for _, f := range uncheckedFormats {
		if !bytes.HasPrefix(head, []byte(f.prefix)) {
			continue
		}
		switch f.ext {
		case ".y4m": // a header line, then the first frame's
			if i := bytes.IndexByte(head, '\n'); i < 0 || !bytes.HasPrefix(head[i+1:], []byte("FRAME")) {
				return "", "", errors.New("a Y4M signature, but no frame after its header line")
			}
		case ".flv": // a header of 9 bytes or more, within the file
			if n < 9 {
				return "", "", errors.New("an FLV signature, but no FLV header")
			}
			if off := int64(binary.BigEndian.Uint32(head[5:9])); off < 9 || off > size {
				return "", "", fmt.Errorf("an FLV signature, but a header of %d bytes", off)
			}
		}
		return f.ext, f.what, nil
	}
	// One sync byte proves nothing; two, a packet apart, do.
	sync := make([]byte, 1)
	if n > 0 && head[0] == 0x47 && size > tsPacket {
		if _, err := r.ReadAt(sync, tsPacket); err == nil && sync[0] == 0x47 {
			return ".ts", "an MPEG transport stream", nil
		}
	}
	return "", "", nil
}

// fourCC reports whether b is a chunk's four-character code: letters,
// digits and spaces (LIST, JUNK, idx1), not the start of markup.
func fourCC(b []byte) bool {
	for _, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == ' ') {
			return false
		}
	}
	return true
}

// Verify checks the file of size bytes in r as a container of kind k, and
// returns what it says about its first video track. Its errors say in a
// few words what is wrong: "moov box missing".
func Verify(r io.ReaderAt, size int64, k Kind) (Info, error) {
	switch k {
	case ISO:
		return VerifyISO(r, size)
	case Matroska:
		return VerifyMatroska(r, size)
	}
	return Info{}, fmt.Errorf("no check for the %s kind", k)
}

// maxHeaders bounds the headers one check reads: a file of nothing but
// empty boxes would otherwise cost a read per eight bytes.
const maxHeaders = 1 << 20

// errTooMany ends a check that met more than maxHeaders headers.
var errTooMany = fmt.Errorf("more than %d boxes or elements: not a video file this can check", maxHeaders)

// file reads small pieces of an untrusted file, never past its size.
type file struct {
	r       io.ReaderAt
	size    int64
	headers int
	buf     [96]byte
}

// read returns the n <= len(f.buf) bytes at off, or fewer where the file
// (or limit, when smaller) ends first: none at or past the end. The
// slice is valid until the next read.
func (f *file) read(off, limit int64, n int) ([]byte, error) {
	limit = min(limit, f.size)
	if off < 0 || off >= limit {
		return nil, nil
	}
	b := f.buf[:min(int64(n), limit-off)]
	if got, err := f.r.ReadAt(b, off); got < len(b) {
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF // the file is shorter than its size
		}
		return nil, fmt.Errorf("cannot read the file at byte %d: %w", off, err)
	}
	return b, nil
}

// header counts one more header read, and fails past maxHeaders.
func (f *file) header() error {
	if f.headers++; f.headers > maxHeaders {
		return errTooMany
	}
	return nil
}

// durationOf is ticks at perSecond ticks a second, and false when that
// is not a time.Duration.
func durationOf(ticks, perSecond uint64) (time.Duration, bool) {
	if perSecond == 0 {
		return 0, false
	}
	secs, rem := ticks/perSecond, ticks%perSecond
	if secs > math.MaxInt64/uint64(time.Second)-1 {
		return 0, false
	}
	// rem < perSecond < 2^64, so the product is split to stay exact.
	frac := float64(rem) / float64(perSecond) * float64(time.Second)
	return time.Duration(secs)*time.Second + time.Duration(frac), true
}
