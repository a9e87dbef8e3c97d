package prismsim

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"maps"
	"math"
	"slices"
	"time"
)

// Defaults of a Video's media, for fields left zero.
const (
	DefaultWidth    = 1280
	DefaultHeight   = 720
	DefaultDuration = 8 * time.Second
	DefaultBytes    = 256 << 10
)

// mp4Codecs and webmCodecs are the codecs Video.Codec accepts, by container.
var (
	mp4Codecs  = []string{"avc1", "hvc1", "hev1", "av01", "vp09"}
	webmCodecs = map[string]string{"vp09": "V_VP9", "vp08": "V_VP8", "av01": "V_AV1", "avc1": "V_MPEG4/ISO/AVC", "hvc1": "V_MPEGH/ISO/HEVC"}
)

// container is the kind of file served for a content type: WebM for
// video/webm, Matroska for video/x-matroska, a RIFF AVI for
// video/x-msvideo (a kind prism-wait checks only lightly), MP4 for any other.
func container(contentType string) string {
	switch contentType {
	case "video/webm":
		return "webm"
	case "video/x-matroska":
		return "matroska"
	case "video/x-msvideo":
		return "avi"
	}
	return "mp4"
}

// codec is the video's codec, its container's default when unset.
func (v Video) codec() string {
	switch {
	case v.Codec != "":
		return v.Codec
	case container(v.ContentType) == "mp4":
		return "avc1"
	}
	return "vp09"
}

func (v Video) validate(name string) []error {
	var errs []error
	switch c := v.codec(); container(v.ContentType) {
	case "mp4":
		if !slices.Contains(mp4Codecs, c) {
			errs = append(errs, fmt.Errorf("%s: codec %q for MP4, valid codecs are %q", name, c, mp4Codecs))
		}
	case "webm", "matroska":
		if _, ok := webmCodecs[c]; !ok {
			errs = append(errs, fmt.Errorf("%s: codec %q for WebM, valid codecs are %q", name, c, slices.Sorted(maps.Keys(webmCodecs))))
		}
	}
	if v.Width < 0 || v.Height < 0 || v.Width > math.MaxUint16 || v.Height > math.MaxUint16 {
		errs = append(errs, fmt.Errorf("%s: width and height go from 1 to 65535 (%d and %d when 0)", name, DefaultWidth, DefaultHeight))
	}
	if v.Duration < 0 || time.Duration(v.Duration) > 24*time.Hour {
		errs = append(errs, fmt.Errorf("%s: duration goes up to 24h (%s when 0)", name, DefaultDuration))
	}
	if v.Bytes < 0 || v.Bytes > 1<<40 {
		errs = append(errs, fmt.Errorf("%s: bytes goes up to 1 TiB (%d when 0)", name, DefaultBytes))
	}
	return errs
}

// NewContent returns the bytes served for id's video at version: an MP4
// file of size bytes (or its headers' size, when larger) with the
// default media.
func NewContent(id string, version int, size int64) *Content {
	return Video{Bytes: size}.Content(id, version)
}

// Content returns the bytes served for id's video at version: a valid
// file of the video's container (see container), with its codec, width,
// height and duration in the headers and Bytes in all; the media data
// are made up from id and version, not held in memory, so that any size
// can be served. The faults "no_moov" (an MP4 without its moov box) and
// "png" (a PNG image) serve those instead.
func (v Video) Content(id string, version int) *Content {
	seed := sha256.Sum256(fmt.Appendf(nil, "%s/%d", id, version))
	block := make([]byte, 64<<10)
	for i := range block {
		block[i] = seed[i%len(seed)] ^ byte(i*131+i>>8)
	}
	c := &Content{block: block, etag: fmt.Sprintf("%q", hex.EncodeToString(seed[:8]))}
	size := cmp.Or(v.Bytes, DefaultBytes)
	m := facts{
		width: cmp.Or(v.Width, DefaultWidth), height: cmp.Or(v.Height, DefaultHeight),
		ms: uint64(cmp.Or(time.Duration(v.Duration), DefaultDuration) / time.Millisecond), codec: v.codec(),
	}
	switch {
	case has(v.Faults, "png"):
		c.head = pngImage()
		size = int64(len(c.head))
	case has(v.Faults, "no_moov"):
		ftyp := mp4Ftyp()
		c.head = append(ftyp, mdatHeader(size-int64(len(ftyp)))...)
	default:
		switch container(v.ContentType) {
		case "webm", "matroska":
			c.head = m.webm(container(v.ContentType), &size)
		case "avi":
			c.head = avi(&size)
		default:
			c.head = m.mp4(&size)
		}
	}
	c.size = max(size, int64(len(c.head)))
	return c
}

// facts is what a synthesised video's headers say.
type facts struct {
	width, height int
	ms            uint64 // duration in milliseconds
	codec         string
}

// box is an ISO base media box of typ holding the parts.
func box(typ string, parts ...[]byte) []byte {
	body := slices.Concat(parts...)
	return slices.Concat(be32(uint32(8+len(body))), []byte(typ), body)
}

// fullBox is a box with a version and flags before its parts.
func fullBox(typ string, version byte, flags uint32, parts ...[]byte) []byte {
	return box(typ, append([]byte{version, byte(flags >> 16), byte(flags >> 8), byte(flags)}, slices.Concat(parts...)...))
}

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func be64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func mp4Ftyp() []byte {
	return box("ftyp", []byte("isom"), be32(0x200), []byte("isomiso2avc1mp41"))
}

// mdatHeader is the header of an mdat box of n bytes in all, with a
// 64-bit size when n needs one.
func mdatHeader(n int64) []byte {
	if n > math.MaxUint32 {
		return slices.Concat(be32(1), []byte("mdat"), be64(uint64(n)))
	}
	return slices.Concat(be32(uint32(max(n, 8))), []byte("mdat"))
}

// unity is the identity transformation matrix of mvhd and tkhd.
var unity = slices.Concat(be32(0x10000), be32(0), be32(0), be32(0), be32(0x10000), be32(0), be32(0), be32(0), be32(0x40000000))

// mp4 is a faststart MP4's ftyp and moov, and the header of an mdat box
// that holds the rest of *size bytes as one sample: a file that a
// player's demuxer reads from end to end (its frame is noise). *size
// grows to the headers' size plus one byte when smaller.
func (m facts) mp4(size *int64) []byte {
	moov := func(offset, sample uint32) []byte {
		const timescale = 1000
		dur := be32(uint32(min(m.ms, math.MaxUint32-1)))
		config := map[string][]byte{
			"avc1": box("avcC", []byte{1, 0x64, 0, 0x28, 0xff, 0xe0, 0}),
			"hvc1": box("hvcC", []byte{1, 1, 0x60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x5d, 0xf0, 0, 0xfc, 0xfd, 0xf8, 0xf8, 0, 0, 0x0f, 0}),
			"hev1": box("hvcC", []byte{1, 1, 0x60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x5d, 0xf0, 0, 0xfc, 0xfd, 0xf8, 0xf8, 0, 0, 0x0f, 0}),
			"av01": box("av1C", []byte{0x81, 0x08, 0x0c, 0}),
			"vp09": fullBox("vpcC", 1, 0, []byte{0, 0x1f, 0x80, 1, 1, 1, 0}, be16(0)),
		}[m.codec]
		entry := box(m.codec, make([]byte, 6), be16(1), make([]byte, 16), be16(uint16(m.width)), be16(uint16(m.height)),
			be32(0x480000), be32(0x480000), be32(0), be16(1), make([]byte, 32), be16(0x18), be16(0xffff), config)
		stbl := box("stbl",
			fullBox("stsd", 0, 0, be32(1), entry),
			fullBox("stts", 0, 0, be32(1), be32(1), dur),
			fullBox("stsc", 0, 0, be32(1), be32(1), be32(1), be32(1)),
			fullBox("stsz", 0, 0, be32(sample), be32(1)),
			fullBox("stco", 0, 0, be32(1), be32(offset)))
		minf := box("minf",
			fullBox("vmhd", 0, 1, make([]byte, 8)),
			box("dinf", fullBox("dref", 0, 0, be32(1), fullBox("url ", 0, 1))),
			stbl)
		mdia := box("mdia",
			fullBox("mdhd", 0, 0, be32(0), be32(0), be32(timescale), dur, be16(0x55c4), be16(0)),
			fullBox("hdlr", 0, 0, be32(0), []byte("vide"), make([]byte, 12), []byte("VideoHandler\x00")),
			minf)
		trak := box("trak",
			fullBox("tkhd", 0, 3, be32(0), be32(0), be32(1), be32(0), dur, make([]byte, 8), be16(0), be16(0), be16(0), be16(0), unity,
				be32(uint32(m.width)<<16), be32(uint32(m.height)<<16)),
			mdia)
		mvhd := fullBox("mvhd", 0, 0, be32(0), be32(0), be32(timescale), dur, be32(0x10000), be16(0x100), make([]byte, 10), unity, make([]byte, 24), be32(2))
		return box("moov", mvhd, trak)
	}
	ftyp := mp4Ftyp()
	mdat := mdatHeader(*size)
	head := len(ftyp) + len(moov(0, 0)) + len(mdat)
	*size = max(*size, int64(head)+1)
	mdat = mdatHeader(*size - int64(head-len(mdat)))
	return slices.Concat(ftyp, moov(uint32(head), uint32(min(*size-int64(head), math.MaxUint32))), mdat)
}

// ebml is a Matroska element with a known size, the size written in as
// many bytes as n (1 to 8; 0 for the fewest).
func ebml(id uint32, n int, parts ...[]byte) []byte {
	body := slices.Concat(parts...)
	return slices.Concat(ebmlID(id), ebmlSize(uint64(len(body)), n), body)
}

func ebmlID(id uint32) []byte {
	b := be32(id)
	for len(b) > 1 && b[0] == 0 {
		b = b[1:]
	}
	return b
}

// ebmlSize writes v as an EBML variable-length size in n bytes, or the
// fewest when n is 0.
func ebmlSize(v uint64, n int) []byte {
	if n == 0 {
		for n = 1; n < 8 && v >= 1<<(7*n)-1; n++ {
		}
	}
	b := be64(v | 1<<(7*n))
	return b[8-n:]
}

func ebmlUint(id uint32, v uint64) []byte {
	b := be64(v)
	for len(b) > 1 && b[0] == 0 {
		b = b[1:]
	}
	return ebml(id, 0, b)
}

// webm is a WebM (or Matroska) file's EBML header, Segment header, Info,
// Tracks and the headers of one Cluster and its one SimpleBlock, which
// holds the rest of *size bytes. *size grows to the headers' size plus
// one byte when smaller.
func (m facts) webm(docType string, size *int64) []byte {
	header := ebml(0x1A45DFA3, 0,
		ebmlUint(0x4286, 1), ebmlUint(0x42F7, 1), ebmlUint(0x42F2, 4), ebmlUint(0x42F3, 8),
		ebml(0x4282, 0, []byte(docType)), ebmlUint(0x4287, 4), ebmlUint(0x4285, 2))
	info := ebml(0x1549A966, 0, ebmlUint(0x2AD7B1, 1_000_000), ebml(0x4D80, 0, []byte("prism-sim")), ebml(0x5741, 0, []byte("prism-sim")),
		ebml(0x4489, 0, be64(math.Float64bits(float64(m.ms)))))
	tracks := ebml(0x1654AE6B, 0, ebml(0xAE, 0,
		ebmlUint(0xD7, 1), ebmlUint(0x73C5, 1), ebmlUint(0x83, 1), ebml(0x86, 0, []byte(webmCodecs[m.codec])),
		ebml(0xE0, 0, ebmlUint(0xB0, uint64(m.width)), ebmlUint(0xBA, uint64(m.height)))))
	timecode := ebmlUint(0xE7, 0)
	block := []byte{0x81, 0, 0, 0x80} // track 1, at 0, a keyframe
	const sizeLen = 8
	head := len(header) + 4 + sizeLen + len(info) + len(tracks) + 4 + sizeLen + len(timecode) + 1 + sizeLen + len(block)
	*size = max(*size, int64(head)+1)
	rest := uint64(*size - int64(head)) // the frame's bytes
	blockSize := uint64(len(block)) + rest
	clusterSize := uint64(len(timecode)+1+sizeLen) + blockSize
	segmentSize := uint64(len(info)+len(tracks)+4+sizeLen) + clusterSize
	return slices.Concat(header,
		ebmlID(0x18538067), ebmlSize(segmentSize, sizeLen), info, tracks,
		ebmlID(0x1F43B675), ebmlSize(clusterSize, sizeLen), timecode,
		ebmlID(0xA3), ebmlSize(blockSize, sizeLen), block)
}

// avi is the start of a RIFF AVI file whose one JUNK chunk holds the rest
// of *size bytes: a container prism-wait has no check for.
func avi(size *int64) []byte {
	const head = 20
	*size = min(max(*size, head+1), math.MaxUint32)
	le := binary.LittleEndian
	return slices.Concat([]byte("RIFF"), le.AppendUint32(nil, uint32(*size-8)), []byte("AVI JUNK"), le.AppendUint32(nil, uint32(*size-head)))
}

// pngImage is a small valid PNG image: what storage sends when a
// thumbnail was stored as the video.
func pngImage() []byte {
	img := image.NewRGBA(image.Rect(0, 0, 64, 36))
	for i := range img.Pix {
		img.Pix[i] = byte(i)
	}
	img.Set(0, 0, color.White)
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err) // an in-memory image always encodes
	}
	return b.Bytes()
}
