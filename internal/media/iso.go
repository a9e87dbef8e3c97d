package media

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// box is an ISO base media box: its type, where its payload starts, and
// where it ends.
type box struct {
	typ        string
	start, end int64 // the header's first byte, the byte after the box
	data       int64 // the payload's first byte
	toEnd      bool  // its size was 0: it runs to the end of the file or parent
}

func (b box) String() string { return fmt.Sprintf("%q box at byte %d", b.typ, b.start) }

// VerifyISO checks an ISO base media file (MP4, MOV, M4V): its top-level
// boxes parse and end exactly where the file does, ftyp comes first, an
// mdat box holds media data, and moov holds a movie header with a
// duration and at least one video track. A file cut short shows as boxes
// that do not add up to its size, unless its last box declared no size
// (it runs to the end of the file): then the last chunk of every track
// must start inside the file. It returns what the first video track says;
// a fragmented file whose movie header and mehd give no duration is whole
// all the same, with its duration unknown (0).
func VerifyISO(r io.ReaderAt, size int64) (Info, error) {
	f := &file{r: r, size: size}
	if size <= 0 {
		return Info{}, fmt.Errorf("the file is empty")
	}
	h, err := f.read(0, size, 8)
	switch {
	case err != nil:
		return Info{}, err
	case len(h) < 8:
		return Info{}, fmt.Errorf("ftyp box missing: the file holds only %d bytes", size)
	case string(h[4:8]) != "ftyp":
		return Info{}, fmt.Errorf("ftyp box missing: the file starts with a %q box (its first bytes: % x)", h[4:8], h)
	}
	var moov *box
	var media int64
	var open, fragmented bool
	for off := int64(0); off < size; {
		b, err := f.box(off, size, nil)
		if err != nil {
			return Info{}, err
		}
		switch {
		case b.typ == "moov" && moov == nil:
			moov = &b
		case b.typ == "mdat":
			media += b.end - b.data
			open = open || b.toEnd
		case b.typ == "moof":
			fragmented = true
		}
		off = b.end
	}
	if moov == nil {
		return Info{}, fmt.Errorf("moov box missing")
	}
	info, last, err := f.movie(*moov, fragmented)
	switch {
	case err != nil:
		return Info{}, err
	case media == 0:
		return Info{}, fmt.Errorf("mdat box missing or empty: the file holds no media data")
	case open && !fragmented && last >= size:
		return Info{}, fmt.Errorf("the last chunk starts at byte %d, past the end of the file (%d bytes): the file is cut short inside its mdat box", last, size)
	}
	return info, nil
}

// box reads the header of the box at off, which must end by limit: the
// end of its parent, or of the file for a top-level box (parent nil).
func (f *file) box(off, limit int64, parent *box) (box, error) {
	if err := f.header(); err != nil {
		return box{}, err
	}
	h, err := f.read(off, limit, 16)
	if err != nil {
		return box{}, err
	}
	if len(h) < 8 {
		if parent == nil {
			return box{}, fmt.Errorf("top-level boxes end at byte %d, and %d bytes follow that are too few for a box", off, limit-off)
		}
		return box{}, fmt.Errorf("the %s ends with %d bytes that are too few for a box", parent, limit-off)
	}
	b := box{typ: string(h[4:8]), start: off, data: off + 8}
	n := uint64(binary.BigEndian.Uint32(h))
	switch n {
	case 0: // to the end of the file, or of the parent
		n, b.toEnd = uint64(limit-off), true
	case 1: // the size follows as 64 bits
		if len(h) < 16 {
			return box{}, fmt.Errorf("the %s is cut short inside its header", b)
		}
		n, b.data = binary.BigEndian.Uint64(h[8:]), off+16
	}
	if n < uint64(b.data-off) {
		return box{}, fmt.Errorf("the %s declares %d bytes, less than its header", b, n)
	}
	if n > uint64(limit-off) {
		if parent == nil {
			end := "more than that"
			if n <= math.MaxInt64-uint64(off) {
				end = fmt.Sprint(off + int64(n))
			}
			return box{}, fmt.Errorf("top-level boxes end at %d bytes of %s: the file is cut short inside its %s", limit, end, b)
		}
		return box{}, fmt.Errorf("the %s runs past the end of the %s", b, parent)
	}
	b.end = off + int64(n)
	return b, nil
}

// children calls each for every box inside parent, in order, until it
// returns an error.
func (f *file) children(parent box, each func(box) error) error {
	for off := parent.data; off < parent.end; {
		b, err := f.box(off, parent.end, &parent)
		if err != nil {
			return err
		}
		if err := each(b); err != nil {
			return err
		}
		off = b.end
	}
	return nil
}

// payload reads up to n bytes of b's payload.
func (f *file) payload(b box, n int) ([]byte, error) { return f.read(b.data, b.end, n) }

// track is what one trak box says.
type track struct {
	handler       string
	codec         string
	width, height int   // from the visual sample entry
	dispW, dispH  int   // from tkhd, rounded down
	lastChunk     int64 // where its last chunk starts (stco, co64); -1 when none
}

// movie reads moov: the duration from mvhd (or, for a fragmented file
// whose mvhd gives none, from mvex/mehd) and the first video track, and
// where the last chunk of any track starts (-1 when none lists one; 0
// with an error).
func (f *file) movie(moov box, fragmented bool) (Info, int64, error) {
	var timescale, duration, fragments uint64
	var haveMvhd bool
	last := int64(-1)
	var video *track
	err := f.children(moov, func(b box) error {
		switch b.typ {
		case "mvhd":
			if haveMvhd {
				return nil
			}
			p, err := f.payload(b, 32)
			if err != nil {
				return err
			}
			switch {
			case len(p) >= 20 && p[0] == 0:
				timescale, duration = uint64(binary.BigEndian.Uint32(p[12:])), uint64(binary.BigEndian.Uint32(p[16:]))
				if duration == math.MaxUint32 {
					duration = 0 // unknown
				}
			case len(p) >= 32 && p[0] == 1:
				timescale, duration = uint64(binary.BigEndian.Uint32(p[20:])), binary.BigEndian.Uint64(p[24:])
				if duration == math.MaxUint64 {
					duration = 0
				}
			default:
				return fmt.Errorf("the mvhd box is too short for its version (%d bytes)", b.end-b.data)
			}
			haveMvhd = true
		case "mvex":
			return f.children(b, func(c box) error {
				if c.typ != "mehd" {
					return nil
				}
				p, err := f.payload(c, 12)
				switch {
				case err != nil:
					return err
				case len(p) >= 8 && p[0] == 0:
					fragments = uint64(binary.BigEndian.Uint32(p[4:]))
				case len(p) >= 12 && p[0] == 1:
					fragments = binary.BigEndian.Uint64(p[4:])
				}
				return nil
			})
		case "trak":
			// Every track's chunk table counts (the last chunk in the file
			// may be sound); the first video track is the one described.
			t, err := f.track(b)
			if err != nil {
				return err
			}
			last = max(last, t.lastChunk)
			if t.handler == "vide" && video == nil {
				video = &t
			}
		}
		return nil
	})
	if err != nil {
		return Info{}, 0, err
	}
	switch {
	case !haveMvhd:
		return Info{}, 0, fmt.Errorf("mvhd box missing from the moov box")
	case timescale == 0:
		return Info{}, 0, fmt.Errorf("mvhd timescale is 0")
	}
	if duration == 0 {
		duration = fragments
	}
	if duration == 0 && !fragmented {
		return Info{}, 0, fmt.Errorf("mvhd duration is 0")
	}
	d, ok := durationOf(duration, timescale) // 0 for a fragmented file that says none
	if !ok {
		return Info{}, 0, fmt.Errorf("mvhd duration of %d at %d a second is longer than any video", duration, timescale)
	}
	if video == nil {
		return Info{}, 0, fmt.Errorf("no video track (no trak box with a 'vide' handler)")
	}
	if video.codec == "" {
		return Info{}, 0, fmt.Errorf("the video track's stsd box has no sample entry")
	}
	info := Info{Container: "mp4", Codec: video.codec, Width: video.width, Height: video.height, Duration: d}
	if info.Width == 0 || info.Height == 0 {
		info.Width, info.Height = video.dispW, video.dispH
	}
	return info, last, nil
}

// track reads a trak box: tkhd's display size, and mdia's handler and
// first sample entry.
func (f *file) track(trak box) (track, error) {
	t := track{lastChunk: -1}
	err := f.children(trak, func(b box) error {
		switch b.typ {
		case "tkhd":
			p, err := f.payload(b, 96)
			if err != nil {
				return err
			}
			at := map[byte]int{0: 76, 1: 88}[p0(p)]
			if at > 0 && len(p) >= at+8 {
				t.dispW, t.dispH = int(binary.BigEndian.Uint32(p[at:])>>16), int(binary.BigEndian.Uint32(p[at+4:])>>16)
			}
		case "mdia":
			return f.children(b, func(c box) error {
				switch c.typ {
				case "hdlr":
					p, err := f.payload(c, 12)
					if err != nil {
						return err
					}
					if len(p) < 12 {
						return fmt.Errorf("the %s is too short for a handler", c)
					}
					t.handler = string(p[8:12])
				case "minf":
					if err := f.descend(c, []string{"stbl"}, func(stbl box) error { return f.chunks(stbl, &t) }); err != nil {
						return err
					}
					return f.descend(c, []string{"stbl", "stsd"}, func(stsd box) error { return f.sampleEntry(stsd, &t) })
				}
				return nil
			})
		}
		return nil
	})
	return t, err
}

// descend follows the first box of each type in path below b, then
// calls found with the last.
func (f *file) descend(b box, path []string, found func(box) error) error {
	if len(path) == 0 {
		return found(b)
	}
	done := false
	return f.children(b, func(c box) error {
		if c.typ != path[0] || done {
			return nil
		}
		done = true
		return f.descend(c, path[1:], found)
	})
}

// sampleEntry reads the first entry of an stsd box: its type is the
// codec, and a visual sample entry holds the coded width and height.
func (f *file) sampleEntry(stsd box, t *track) error {
	p, err := f.payload(stsd, 8)
	if err != nil {
		return err
	}
	if len(p) < 8 || binary.BigEndian.Uint32(p[4:]) == 0 || stsd.data+8 >= stsd.end {
		return nil
	}
	entry, err := f.box(stsd.data+8, stsd.end, &stsd)
	if err != nil {
		return err
	}
	t.codec = entry.typ
	if e, err := f.payload(entry, 28); err != nil {
		return err
	} else if len(e) >= 28 {
		t.width, t.height = int(binary.BigEndian.Uint16(e[24:])), int(binary.BigEndian.Uint16(e[26:]))
	}
	return nil
}

// chunks reads where the track's last chunk starts, from stco (32-bit
// offsets) or co64 (64-bit): one entry read, wherever the table ends.
func (f *file) chunks(stbl box, t *track) error {
	return f.children(stbl, func(b box) error {
		width := map[string]int64{"stco": 4, "co64": 8}[b.typ]
		if width == 0 {
			return nil
		}
		p, err := f.payload(b, 8)
		if err != nil {
			return err
		}
		if len(p) < 8 {
			return fmt.Errorf("the %s is too short for its entry count", b)
		}
		n := int64(binary.BigEndian.Uint32(p[4:]))
		if n == 0 {
			return nil
		}
		at := b.data + 8 + (n-1)*width
		if n > (b.end-b.data-8)/width {
			return fmt.Errorf("the %s lists %d chunks, more than it holds", b, n)
		}
		e, err := f.read(at, b.end, int(width))
		if err != nil {
			return err
		}
		if width == 4 {
			t.lastChunk = int64(binary.BigEndian.Uint32(e))
		} else if v := binary.BigEndian.Uint64(e); v <= math.MaxInt64 {
			t.lastChunk = int64(v)
		} else {
			t.lastChunk = math.MaxInt64
		}
		return nil
	})
}

// p0 is the first byte of p (a full box's version), 0xff when p is empty.
func p0(p []byte) byte {
	if len(p) == 0 {
		return 0xff
	}
	return p[0]
}
