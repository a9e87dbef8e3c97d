// Package untrusted is the one place where text from the network (API
// fields and messages, storage headers, Go error text that quotes them)
// is made safe to print or write: on one line, without control
// characters, without the API key or URL query strings (presigned URLs'
// signatures), unable to form a workflow command, valid UTF-8, and
// bounded. Every printer in the program (the log, annotations, outputs,
// results, summary) passes its text through a Scrubber.
//
// The runner's command syntax is in docs/runner.md: "::cmd::"
// at the start of a line (after leading spaces), and the legacy "##[cmd]"
// anywhere in a line.
package untrusted

import (
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Redacted stands where a secret or a URL's query was.
const Redacted = "***"

// CutMarker ends text that was clipped.
const CutMarker = "…[cut]"

// Scrubber cleans text for printing. Its zero value redacts no particular
// secret, but still anything shaped like a Prism key.
type Scrubber struct {
	secrets []string
}

// New returns a Scrubber that also redacts each non-empty secret.
func New(secrets ...string) Scrubber {
	var s Scrubber
	for _, v := range secrets {
		if v != "" {
			s.secrets = append(s.secrets, v)
		}
	}
	return s
}

var (
	// keyShape is any Prism key, not only the one in use: an API that
	// echoes a key echoes it whole. It needs key material after the
	// prefix, so that prism-wait's own "prism_sk_…", which names the
	// shape, is printed as written; the key in use is redacted whatever
	// its shape (Scrubber.secrets).
	keyShape = regexp.MustCompile(`prism_sk_[A-Za-z0-9_\-]+`)
	// urlQuery is the query (and fragment) of anything URL-shaped.
	urlQuery = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.\-]*://[^\s?#"'<>]*)[?#][^\s"'<>]*`)
	// amzParam catches signature parameters outside a whole URL.
	amzParam = regexp.MustCompile(`(?i)(X-Amz-(?:Signature|Credential|Security-Token)=)[^\s&"'<>]*`)
)

// unescape decodes every %XX in s, and again in what that gives, until
// none is left (at most maxUnescape times): a secret percent-encoded any
// number of times reads as written.
func unescape(s string) string {
	for range maxUnescape {
		if !strings.Contains(s, "%") {
			break
		}
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			if c, ok := escaped(s[i:]); ok {
				b.WriteByte(c)
				i += 2
				continue
			}
			b.WriteByte(s[i])
		}
		if b.Len() == len(s) {
			break
		}
		s = b.String()
	}
	return s
}

// maxUnescape bounds unescape's rounds: each shortens the text.
const maxUnescape = 8

// escaped decodes the %XX that s starts with.
func escaped(s string) (byte, bool) {
	if len(s) < 3 || s[0] != '%' {
		return 0, false
	}
	hi, ok1 := unhex(s[1])
	lo, ok2 := unhex(s[2])
	return hi<<4 | lo, ok1 && ok2
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// holds reports whether s holds a secret or a Prism key's shape as
// written.
func (sc Scrubber) holds(s string) bool {
	for _, v := range sc.secrets {
		if strings.Contains(s, v) {
			return true
		}
	}
	return keyShape.MatchString(s)
}

// redactEncoded replaces each word (a run of characters between spaces)
// that holds a secret or a key once percent-decoded with Redacted: which
// of its bytes belong to the secret cannot be told without decoding, and
// the word is most likely a URL that carries it.
func (sc Scrubber) redactEncoded(s string) string {
	var b strings.Builder
	for len(s) > 0 {
		i := strings.IndexFunc(s, func(r rune) bool { return !separator(r) })
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		s = s[i:]
		j := strings.IndexFunc(s, separator)
		if j < 0 {
			j = len(s)
		}
		if w := s[:j]; strings.Contains(w, "%") && sc.holds(unescape(w)) {
			b.WriteString(Redacted)
		} else {
			b.WriteString(w)
		}
		s = s[j:]
	}
	return b.String()
}

// separator ends a word for redactEncoded: no secret holds one.
func separator(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }

// Line returns s on one line and safe to print anywhere, at most n bytes
// long (n < len(CutMarker) is taken as len(CutMarker)).
func (sc Scrubber) Line(s string, n int) string {
	// Work on a prefix only: a megabyte from the network costs no more than
	// its first bytes.
	cut := false
	if pre := max(n, len(CutMarker)) + 256 + 2*sc.longest(); len(s) > pre {
		for pre > 0 && !utf8.RuneStart(s[pre]) {
			pre--
		}
		// A copy: a slice would keep the whole megabyte alive.
		s, cut = strings.Clone(s[:pre]), true
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	// Secrets first, on the text as it came, before anything shortens it:
	// a secret that the prefix cut in two leaves its head at the end, which
	// is dropped, so that no later step can slide it into view.
	// Encoded ones first: the literal part of a key followed by escapes
	// of the rest is still one key.
	if strings.Contains(s, "%") {
		s = sc.redactEncoded(s)
	}
	for _, v := range sc.secrets {
		s = strings.ReplaceAll(s, v, Redacted)
	}
	s = keyShape.ReplaceAllString(s, Redacted)
	if cut {
		s = sc.dropSecretHead(s)
	}
	s = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			return ' '
		case hidden(r):
			return '\uFFFD'
		}
		return r
	}, s)
	s = urlQuery.ReplaceAllString(s, "${1}?"+Redacted)
	s = amzParam.ReplaceAllString(s, "${1}"+Redacted)
	return Clip(Neutralize(s), n)
}

// hidden says whether r is an invisible format character, which can make
// text read as what it is not: a bidirectional control ("\u202edetelpmoc"
// shows as "completed"), a soft hyphen or zero-width space inside a word, a
// byte order mark. It is shown as U+FFFD. The joiners stay (emoji and
// some scripts need them), and so do tags (flag emoji).
func hidden(r rune) bool {
	return unicode.Is(unicode.Cf, r) && r != '\u200c' && r != '\u200d' && (r < '\U000e0020' || r > '\U000e007f')
}

// dropSecretHead removes from the end of s the longest proper prefix of
// a secret, as written or with bytes percent-encoded once or twice, the
// last escape maybe cut short (%2, %257).
func (sc Scrubber) dropSecretHead(s string) string {
	for p := max(0, len(s)-sc.longest()); p < len(s); p++ { // a head is shorter than longest
		for _, v := range sc.secrets {
			if isHead(s[p:], v) {
				return s[:p]
			}
		}
	}
	return s
}

// longest is the most bytes a secret can take, percent-encoded twice.
func (sc Scrubber) longest() int {
	n := 64 // a Prism key's shape, matched without knowing the key
	for _, v := range sc.secrets {
		n = max(n, len(v))
	}
	return len("%25XX") * n
}

// isHead reports whether all of s reads as a proper prefix of secret,
// each byte as written or percent-encoded once or twice, the last escape
// maybe cut short.
func isHead(s, secret string) bool {
	n := 0 // bytes of secret read
next:
	for i := 0; i < len(s); {
		if n == len(secret) {
			return false // all of it: redacted already, or not this secret
		}
		for _, k := range []int{5, 3, 1} { // %25XX, %XX, as written
			if c, ok := byteAt(s[i:], k); ok && c == secret[n] {
				i, n = i+k, n+1
				continue next
			}
		}
		return cutEscape(s[i:])
	}
	return n > 0
}

// byteAt decodes the first k bytes of s: one written as it is (k = 1),
// or percent-encoded once (%XX, k = 3) or twice (%25XX, k = 5).
func byteAt(s string, k int) (byte, bool) {
	switch {
	case len(s) < k:
		return 0, false
	case k == 1:
		return s[0], true
	case k == 5 && !strings.HasPrefix(s, "%25"):
		return 0, false
	}
	return escaped("%" + s[k-2:k])
}

// cutEscape reports whether s is the start of an escape that the end of
// the text cut short: %, %X, %2, %25 or %25X.
func cutEscape(s string) bool {
	if s == "" || s[0] != '%' || len(s) > 4 {
		return false
	}
	for i := 1; i < len(s); i++ {
		if _, ok := unhex(s[i]); !ok {
			return false
		}
	}
	return len(s) <= 2 || s[1:3] == "25"
}

// Secret reports whether s holds a secret, or anything shaped like a
// Prism key, as written or percent-encoded: text that must not be written
// where it is not scrubbed.
func (sc Scrubber) Secret(s string) bool {
	return sc.holds(s) || strings.Contains(s, "%") && sc.holds(unescape(s))
}

// Neutralize breaks up workflow commands in one line of text: "##[" is
// honoured anywhere in a line, "::" at its start (after spaces). The
// result keeps its meaning for a reader.
func Neutralize(s string) string {
	s = strings.ReplaceAll(s, "##[", "## [")
	if t := strings.TrimLeftFunc(s, unicode.IsSpace); strings.HasPrefix(t, "::") {
		s = s[:len(s)-len(t)] + ": :" + t[2:]
	}
	return s
}

// Clip bounds s to n bytes without cutting a UTF-8 character, ending it
// with CutMarker when anything was cut. With ClipMiddle, it is the one
// clipping function of the program.
func Clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	n = max(n-len(CutMarker), 0)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + CutMarker
}

// ClipMiddle bounds s to n bytes as Clip does, but cuts its middle: the
// end of a message, where it says what to do, outlives a long quote from
// the network before it.
func ClipMiddle(s string, n int) string {
	if len(s) <= n {
		return s
	}
	tail := len(s) - max(n-len(CutMarker), 0)/2
	for tail < len(s) && !utf8.RuneStart(s[tail]) {
		tail++
	}
	return Clip(s[:tail], n-(len(s)-tail)) + s[tail:]
}
