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
	"fmt"
	"regexp"
	"strings"
	"sync"
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
	// encodedKeyShape is keyShape with any of its bytes percent-encoded.
	encodedKeyShape = regexp.MustCompile(encoded("prism_sk_") + `(?:[A-Za-z0-9_\-]|` + escape + `)+`)
	// urlQuery is the query (and fragment) of anything URL-shaped.
	urlQuery = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.\-]*://[^\s?#"'<>]*)[?#][^\s"'<>]*`)
	// amzParam catches signature parameters outside a whole URL.
	amzParam = regexp.MustCompile(`(?i)(X-Amz-(?:Signature|Credential|Security-Token)=)[^\s&"'<>]*`)
)

// escape is one percent-encoded byte, encoded once or twice (%70, %2570).
const escape = `%(?:25)?[0-9A-Fa-f]{2}`

// encoded is a pattern for s with any of its bytes percent-encoded, once
// or twice: a URL can carry a key that way, and the runner masks only the
// key as written.
func encoded(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteString("(?:" + regexp.QuoteMeta(string(r)) + "|")
		for _, c := range []byte(string(r)) {
			fmt.Fprintf(&b, "%%(?:25)?(?i:%02x)", c)
		}
		b.WriteString(")")
	}
	return b.String()
}

// encodedForms caches each secret's encoded pattern, compiled on the
// first text with a '%' in it.
var encodedForms sync.Map // secret → *regexp.Regexp

func encodedForm(secret string) *regexp.Regexp {
	if re, ok := encodedForms.Load(secret); ok {
		return re.(*regexp.Regexp)
	}
	re := regexp.MustCompile(encoded(secret))
	encodedForms.Store(secret, re)
	return re
}

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
	for _, v := range sc.secrets {
		s = strings.ReplaceAll(s, v, Redacted)
		if strings.Contains(s, "%") {
			s = encodedForm(v).ReplaceAllString(s, Redacted)
		}
	}
	s = keyShape.ReplaceAllString(s, Redacted)
	if strings.Contains(s, "%") {
		s = encodedKeyShape.ReplaceAllString(s, Redacted)
	}
	if cut {
		s = sc.dropSecretHead(s)
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	s = urlQuery.ReplaceAllString(s, "${1}?"+Redacted)
	s = amzParam.ReplaceAllString(s, "${1}"+Redacted)
	return Clip(Neutralize(s), n)
}

// dropSecretHead removes a proper prefix of a secret, as written or
// percent-encoded, from the end of s.
func (sc Scrubber) dropSecretHead(s string) string {
	tail := max(0, len(s)-sc.longest()) // a head is shorter than this
	for _, v := range sc.secrets {
		if i := headForm(v).FindStringIndex(s[tail:]); i != nil && tail+i[0] < len(s) {
			return s[:tail+i[0]]
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
	return len("%25xx") * n
}

// headForms caches, for each secret, a pattern for a proper prefix of
// it at the end of a text, any of its bytes encoded or the last escape
// cut short (%2, %257).
var headForms sync.Map // secret → *regexp.Regexp

func headForm(secret string) *regexp.Regexp {
	if re, ok := headForms.Load(secret); ok {
		return re.(*regexp.Regexp)
	}
	runes := []rune(secret)
	head := ""
	for i := len(runes) - 2; i >= 0; i-- {
		head = "(?:" + encoded(string(runes[i])) + head + ")?"
	}
	re := regexp.MustCompile(head + `(?:%(?:2(?:5[0-9A-Fa-f]?)?|[0-9A-Fa-f])?)?$`)
	headForms.Store(secret, re)
	return re
}

// Secret reports whether s holds a secret, or anything shaped like a
// Prism key, as written or percent-encoded: text that must not be written
// where it is not scrubbed.
func (sc Scrubber) Secret(s string) bool {
	pct := strings.Contains(s, "%")
	for _, v := range sc.secrets {
		if strings.Contains(s, v) || pct && encodedForm(v).MatchString(s) {
			return true
		}
	}
	return keyShape.MatchString(s) || pct && encodedKeyShape.MatchString(s)
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
// with CutMarker when anything was cut. It is the one clipping function
// of the program.
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
