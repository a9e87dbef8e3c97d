package media

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"time"
)

// Matroska element IDs, marker bits kept, as the specification writes them.
const (
	idEBML          = 0x1A45DFA3
	idDocType       = 0x4282
	idSegment       = 0x18538067
	idSeekHead      = 0x114D9B74
	idInfo          = 0x1549A966
	idTimecodeScale = 0x2AD7B1
	idDuration      = 0x4489
	idTracks        = 0x1654AE6B
	idTrackEntry    = 0xAE
	idTrackType     = 0x83
	idCodecID       = 0x86
	idVideo         = 0xE0
	idPixelWidth    = 0xB0
	idPixelHeight   = 0xBA
	idCluster       = 0x1F43B675
	idCues          = 0x1C53BB6B
	idChapters      = 0x1043A770
	idTags          = 0x1254C367
	idAttachments   = 0x1941A469
	idVoid          = 0xEC
	idSimpleBlock   = 0xA3
	idBlockGroup    = 0xA0
	idCRC32         = 0xBF
)

// names are the elements named in messages.
var names = map[uint32]string{
	idEBML: "EBML header", idSegment: "Segment", idSeekHead: "SeekHead", idInfo: "Info", idTracks: "Tracks",
	idTrackEntry: "TrackEntry", idVideo: "Video", idCluster: "Cluster", idCues: "Cues", idChapters: "Chapters",
	idTags: "Tags", idAttachments: "Attachments", idVoid: "Void", idCRC32: "CRC-32",
}

// segmentLevel are the IDs that end a Cluster of unknown size: the next
// element at the Segment's level.
var segmentLevel = map[uint32]bool{
	idSeekHead: true, idInfo: true, idTracks: true, idCluster: true, idCues: true,
	idChapters: true, idTags: true, idAttachments: true,
}

// codecs maps Matroska codec IDs to the ISO sample entry names that the
// outputs use for every container.
var codecs = map[string]string{
	"V_VP8": "vp08", "V_VP9": "vp09", "V_AV1": "av01",
	"V_MPEG4/ISO/AVC": "avc1", "V_MPEGH/ISO/HEVC": "hvc1", "V_MPEG4/ISO/ASP": "mp4v",
}

// element is a Matroska element: its ID, where its data starts, and
// where it ends (-1 for an unknown size).
type element struct {
	id               uint32
	start, data, end int64
}

func (e element) String() string {
	name, ok := names[e.id]
	if !ok {
		name = fmt.Sprintf("element 0x%X", e.id)
	}
	return fmt.Sprintf("%s at byte %d", name, e.start)
}

// VerifyMatroska checks a Matroska or WebM file: the EBML header names
// one of the two, and a Segment follows whose declared size ends exactly
// where the file does (or, of unknown size, whose elements do); at least
// one track is a video track. It returns what the first video track says.
func VerifyMatroska(r io.ReaderAt, size int64) (Info, error) {
	f := &file{r: r, size: size}
	if size <= 0 {
		return Info{}, fmt.Errorf("the file is empty")
	}
	head, err := f.element(0, size, nil)
	if err != nil || head.id != idEBML {
		return Info{}, fmt.Errorf("EBML header missing")
	}
	if head.end < 0 {
		return Info{}, fmt.Errorf("the EBML header has an unknown size")
	}
	info := Info{Container: "matroska"}
	err = f.elements(head, func(e element) error {
		if e.id == idDocType {
			s, err := f.text(e, 32)
			info.Container = s
			return err
		}
		return nil
	})
	if err != nil {
		return Info{}, err
	}
	if info.Container != "webm" && info.Container != "matroska" {
		return Info{}, fmt.Errorf("the EBML header's DocType %q is neither webm nor matroska", info.Container)
	}
	var seg element
	for off := head.end; ; off = seg.end {
		if off >= size {
			return Info{}, fmt.Errorf("Segment missing: the file ends after the EBML header")
		}
		if seg, err = f.element(off, size, nil); err != nil {
			return Info{}, err
		}
		if seg.id == idSegment {
			break
		}
		if seg.id != idVoid || seg.end < 0 {
			return Info{}, fmt.Errorf("Segment missing: the EBML header is followed by the %s", seg)
		}
	}
	if seg.end >= 0 && seg.end < size {
		return Info{}, fmt.Errorf("the Segment ends at byte %d, %d bytes before the file does", seg.end, size-seg.end)
	}

	var video *track
	scale := uint64(1_000_000) // TimecodeScale's default: ticks of a millisecond
	var ticks float64
	blocks := false // a Cluster holds a block: there are frames
	err = f.elements(seg, func(e element) error {
		switch e.id {
		case idCluster:
			if blocks {
				return nil
			}
			var err error
			blocks, err = f.holdsBlock(e)
			return err
		case idInfo:
			return f.elements(e, func(c element) error {
				var err error
				switch c.id {
				case idTimecodeScale:
					scale, err = f.uint(c)
				case idDuration:
					ticks, err = f.float(c)
				}
				return err
			})
		case idTracks:
			return f.elements(e, func(c element) error {
				if c.id != idTrackEntry || video != nil {
					return nil
				}
				t, kind, err := f.trackEntry(c)
				if kind == 1 {
					video = &t
				}
				return err
			})
		}
		return nil
	})
	if err != nil {
		return Info{}, err
	}
	if video == nil {
		return Info{}, fmt.Errorf("no video track (no TrackEntry with TrackType 1)")
	}
	if video.codec == "" {
		return Info{}, fmt.Errorf("the video track has no CodecID")
	}
	if !blocks {
		return Info{}, fmt.Errorf("no Cluster with a SimpleBlock or BlockGroup: the file holds no media data")
	}
	info.Codec, info.Width, info.Height = video.codec, video.width, video.height
	if ns := ticks * float64(scale); ns > 0 && ns < float64(math.MaxInt64) {
		info.Duration = time.Duration(ns)
	}
	return info, nil
}

// trackEntry reads a TrackEntry: its TrackType, codec and pixel size.
func (f *file) trackEntry(e element) (t track, kind uint64, err error) {
	err = f.elements(e, func(c element) error {
		var err error
		switch c.id {
		case idTrackType:
			kind, err = f.uint(c)
		case idCodecID:
			var id string
			if id, err = f.text(c, 64); err == nil {
				t.codec = id
				if name, ok := codecs[id]; ok {
					t.codec = name
				}
			}
		case idVideo:
			err = f.elements(c, func(v element) error {
				n, err := f.uint(v)
				switch v.id {
				case idPixelWidth:
					t.width = int(min(n, math.MaxInt32))
				case idPixelHeight:
					t.height = int(min(n, math.MaxInt32))
				}
				return err
			})
		}
		return err
	})
	return t, kind, err
}

// element reads the header of the element at off, which must end by
// limit: the end of parent, or of the file when parent is nil.
func (f *file) element(off, limit int64, parent *element) (element, error) {
	if err := f.header(); err != nil {
		return element{}, err
	}
	h, err := f.read(off, limit, 12)
	if err != nil {
		return element{}, err
	}
	where := func() string { // for a message only: it costs an allocation
		if parent == nil {
			return "the file"
		}
		return "the " + parent.String()
	}
	n, id, ok := vint(h, true)
	if n > 4 {
		ok = false
	}
	m, size, ok2 := 0, uint64(0), false
	if ok {
		m, size, ok2 = vint(h[n:], false)
	}
	switch {
	case !ok && n > len(h), ok && !ok2 && n+m > len(h):
		return element{}, fmt.Errorf("%s ends inside an element header at byte %d", where(), off)
	case !ok:
		return element{}, fmt.Errorf("no element ID at byte %d of %s", off, where())
	case !ok2:
		return element{}, fmt.Errorf("no element size at byte %d of %s", off+int64(n), where())
	}
	e := element{id: uint32(id), start: off, data: off + int64(n+m), end: -1}
	if size == 1<<(7*m)-1 {
		return e, nil // unknown size: the caller finds the end
	}
	if size > uint64(limit-e.data) {
		if parent == nil || (parent.id == idSegment && limit == f.size) {
			return element{}, fmt.Errorf("the %s ends at byte %d of a %d-byte file: the file is cut short", e, uint64(e.data)+size, f.size)
		}
		return element{}, fmt.Errorf("the %s runs past the end of the %s", e, parent)
	}
	e.end = e.data + int64(size)
	return e, nil
}

// elements calls each for every element inside parent, in order, until
// it returns an error. Only a Cluster may have an unknown size: it ends
// where the next element at the Segment's level starts, or with parent.
func (f *file) elements(parent element, each func(element) error) error {
	limit := parent.end
	if limit < 0 {
		limit = f.size // a Segment of unknown size
	}
	for off := parent.data; off < limit; {
		e, err := f.element(off, limit, &parent)
		if err != nil {
			return err
		}
		if e.end < 0 {
			if e.id != idCluster {
				return fmt.Errorf("the %s has an unknown size, which only a Cluster may have", e)
			}
			if e.end, err = f.clusterEnd(e, limit); err != nil {
				return err
			}
		}
		if err := each(e); err != nil {
			return err
		}
		off = e.end
	}
	return nil
}

// errFound stops a walk that found what it looked for.
var errFound = errors.New("found")

// holdsBlock reports whether the Cluster c holds a SimpleBlock or a
// BlockGroup, reading its elements' headers up to the first block.
func (f *file) holdsBlock(c element) (bool, error) {
	err := f.elements(c, func(e element) error {
		if e.id == idSimpleBlock || e.id == idBlockGroup {
			return errFound
		}
		return nil
	})
	if errors.Is(err, errFound) {
		return true, nil
	}
	return false, err
}

// clusterEnd finds where a Cluster of unknown size ends, walking its
// blocks' headers.
func (f *file) clusterEnd(c element, limit int64) (int64, error) {
	off := c.data
	for off < limit {
		e, err := f.element(off, limit, &c)
		if err != nil {
			return 0, err
		}
		if segmentLevel[e.id] {
			break
		}
		if e.end < 0 {
			return 0, fmt.Errorf("the %s inside the %s has an unknown size", e, c)
		}
		off = e.end
	}
	return off, nil
}

// uint reads an unsigned integer element.
func (f *file) uint(e element) (uint64, error) {
	if e.end-e.data > 8 {
		return 0, fmt.Errorf("the %s holds %d bytes, too many for an integer", e, e.end-e.data)
	}
	b, err := f.read(e.data, e.end, 8)
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v, err
}

// float reads a float element: 0, 4 or 8 bytes.
func (f *file) float(e element) (float64, error) {
	b, err := f.read(e.data, e.end, 8)
	switch {
	case err != nil:
		return 0, err
	case e.end-e.data == 4:
		return float64(math.Float32frombits(binary.BigEndian.Uint32(b))), nil
	case e.end-e.data == 8:
		return math.Float64frombits(binary.BigEndian.Uint64(b)), nil
	case e.end == e.data:
		return 0, nil
	}
	return 0, fmt.Errorf("the %s holds %d bytes, not a float", e, e.end-e.data)
}

// text reads a string element of at most n bytes, without the zero bytes
// that may pad it.
func (f *file) text(e element, n int) (string, error) {
	if e.end-e.data > int64(n) {
		return "", fmt.Errorf("the %s holds %d bytes, more than the %d expected", e, e.end-e.data, n)
	}
	b, err := f.read(e.data, e.end, n)
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return string(b), err
}

// vint reads an EBML variable-length integer at the start of b: its
// length and value, with the length marker kept (for an ID) or removed
// (for a size). When b is too short, ok is false and n is the length
// that was needed; n is 0 for a first byte that starts no integer.
func vint(b []byte, marker bool) (n int, v uint64, ok bool) {
	switch {
	case len(b) == 0:
		return 1, 0, false
	case b[0] == 0:
		return 0, 0, false
	}
	n = bits.LeadingZeros8(b[0]) + 1
	if len(b) < n {
		return n, 0, false
	}
	v = uint64(b[0])
	if !marker {
		v &= 0xff >> n
	}
	for _, c := range b[1:n] {
		v = v<<8 | uint64(c)
	}
	return n, v, true
}
