package untrusted

import (
	"fmt"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

const key = "prism_sk_live_0123456789abcdef"

// otherKey is a key of another shape, which only its exact value redacts.
const otherKey = "sk-live-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefgh"

func TestLine(t *testing.T) {
	t.Parallel()
	sc := New(key, "")
	for _, tc := range []struct{ in, want string }{
		{"plain text", "plain text"},
		{"render failed ##[set-output name=injected;]x ##[error]fake", "render failed ## [set-output name=injected;]x ## [error]fake"},
		{"###[x", "### [x"},
		{"::stop-commands::tok", ": :stop-commands::tok"},
		{"  ::error::x", "  : :error::x"},
		{"a\n::error::x", "a ::error::x"},
		{"esc\x1b[31mred\x00nul\u0085c1\u2028ls", "esc [31mred nul c1 ls"},
		// What hides or reorders text is shown; a joiner stays.
		{"\u202edetelpmoc \u2066x\u2069 a\u200bb \ufeff\u200f\u061c\u2060\u200e \u202a\u2069 \U0001F469\u200d\U0001F4BB", "\ufffddetelpmoc \ufffdx\ufffd a\ufffdb \ufffd\ufffd\ufffd\ufffd\ufffd \ufffd\ufffd \U0001F469\u200d\U0001F4BB"},
		{"com\u00adpleted \u2061\u206a\u180e\U000e0001 \u2029\u202f\u2065", "com\ufffdpleted \ufffd\ufffd\ufffd\ufffd  \u202f\u2065"},
		{"\u200c \U0001F3F4\U000E0020\U000E0067\U000E007F \u200d", "\u200c \U0001F3F4\U000E0020\U000E0067\U000E007F \u200d"}, // joiners and a flag's tags stay
		{"key " + key + " again" + key, "key *** again***"},
		{"other prism_sk_abc-DEF_1 key", "other *** key"},
		{`Get "https://s3.example/v.mp4?X-Amz-Signature=abc&b=1": bad`, `Get "https://s3.example/v.mp4?***": bad`},
		{"see http://h/p#frag and ftp://x/y?z", "see http://h/p?*** and ftp://x/y?***"},
		{"X-Amz-Signature=deadbeef&X-Amz-Credential=AK/1", "X-Amz-Signature=***&X-Amz-Credential=***"},
		{"bad \xff utf8", "bad \uFFFD utf8"},
		// Percent-encoded, in part or whole, any number of times: the
		// word that holds it goes.
		{"at /v/%70rism_sk_live_0123456789abcdef.mp4 now", "at *** now"},
		{"k=%2570rism%5Fsk%5flive_0123456789abcde%66 end", "*** end"},
		{"x %25252570rism_sk_live_0123456789abcdef", "x ***"},
		{"other %70rism%5Fsk_x1 key", "other *** key"},
		{"a key's tail prism_sk_live_0123%41%42%43 end", "a key's tail *** end"},
		{"100% done, %7 and %zz %41", "100% done, %7 and %zz %41"},
		{" %70rism_sk_x\t", " *** "},
	} {
		if got := sc.Line(tc.in, 1000); got != tc.want {
			t.Errorf("Line(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestKeyRedactedBeforeClipping(t *testing.T) {
	t.Parallel()
	got := New(key).Line(strings.Repeat("x", 20)+key, 30)
	if strings.Contains(got, key[:12]) {
		t.Errorf("a prefix of the key survived clipping: %q", got)
	}
}

func TestLineReadsOnlyAPrefix(t *testing.T) {
	t.Parallel()
	sc := New(key)
	head := strings.Repeat("a", 90) + key // the key starts within the bound
	got := sc.Line(head+strings.Repeat("z", 10<<20), 100)
	if strings.Contains(got, "prism_sk") || !strings.HasPrefix(got, strings.Repeat("a", 90)+"*") || !strings.HasSuffix(got, CutMarker) {
		t.Errorf("got %q", got)
	}
	if len(got) > 100 {
		t.Errorf("%d bytes", len(got))
	}
}

// TestASecretCutByThePrefixNeverSlidesIntoView: characters that shrink
// when cleaned (U+2028 is 3 bytes, then a space) must not pull the head of
// a secret, cut where the prefix ends, into the visible part.
func TestASecretCutByThePrefixNeverSlidesIntoView(t *testing.T) {
	t.Parallel()
	secret := "sk-live-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefgh"
	sc := New(secret)
	for pad := 400; pad < 700; pad++ {
		got := sc.Line(strings.Repeat("\u2028", pad)+secret+strings.Repeat("z", 5000), 700)
		if strings.Contains(got, secret[:8]) {
			t.Fatalf("pad %d: a head of the secret is shown: %q", pad, got)
		}
	}
}

// TestAnEncodedSecretCutByThePrefixNeverSlidesIntoView: the same, with
// the secret percent-encoded, and the cut anywhere in it, escapes too.
func TestAnEncodedSecretCutByThePrefixNeverSlidesIntoView(t *testing.T) {
	t.Parallel()
	secret := "sk-live-ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefgh"
	var enc strings.Builder
	for i := range len(secret) {
		fmt.Fprintf(&enc, "%%25%02X", secret[i])
	}
	sc := New(secret)
	for pad := 400; pad < 700; pad++ {
		got := sc.Line(strings.Repeat("\u2028", pad)+enc.String()+strings.Repeat("z", 5000), 700)
		if strings.Contains(got, "%2573%256B%252D") {
			t.Fatalf("pad %d: a head of the secret is shown: %q", pad, got)
		}
	}
}

// TestLongSecretsAndTheirHeads: a secret of any length (a runtime token
// of kilobytes) is found at the cut, as written or encoded, and of two
// secrets' heads at the end the longer goes.
func TestLongSecretsAndTheirHeads(t *testing.T) {
	t.Parallel()
	long := "L" + strings.Repeat("t", 2999)
	sc := New(long, "zz-second-secret")
	twice := ""
	for i := range len(long) {
		twice += fmt.Sprintf("%%25%02X", long[i])
	}
	// The prefix Line reads is 20000 + 256 + 2 × 5 × 3000 bytes: the
	// secret starts at byte 48000, in view once the separators shrink, and
	// the cut falls inside it.
	for _, form := range []string{long, "%4C" + long[1:], twice} {
		got := sc.Line(strings.Repeat("\u2028", 16000)+form+strings.Repeat("z", 60000), 20000)
		if strings.Contains(got, "Ltt") || strings.Contains(got, "%4C") || strings.Contains(got, "tttt") || strings.Contains(got, "%2574%2574") {
			t.Errorf("a head of a %d-byte form survived: %.60q…", len(form), got[max(0, len(got)-60):])
		}
	}
	for in, want := range map[string]string{
		"x zz-sec":            "x ",        // the head of the second secret
		"x Lt%74zq":           "x Lt%74zq", // no head: zq follows
		"x zz-second-secr%":   "x ",
		"x %":                 "x ", // a cut escape, which might have been one
		"x 5%2":               "x 5",
		"x 5%25":              "x 5",
		"x 5%257":             "x 5",
		"x 5%2A":              "x 5%2A",              // a whole escape, of no secret
		"x zz-second-secret!": "x zz-second-secret!", // all of it, then more: no head
		"x 5%41414":           "x 5%41414",
		"x 5%g":               "x 5%g",
	} {
		if got := sc.dropSecretHead(in); got != want {
			t.Errorf("dropSecretHead(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestALongSecretStartingInViewIsRedactedWhole: the prefix Line reads is
// longer than n by more than twice the longest secret, so a long secret
// that starts within the first n bytes is redacted whole, never clipped
// into view.
func TestALongSecretStartingInViewIsRedactedWhole(t *testing.T) {
	t.Parallel()
	for _, size := range []int{100, 300, 1000} {
		secret := "S" + strings.Repeat("s", size-1)
		in := strings.Repeat("x", 10) + secret + strings.Repeat("y", 4096)
		got := New(secret).Line(in, 40)
		if strings.Contains(got, "Ss") {
			t.Errorf("secret of %d bytes: a prefix of it survived: %q", size, got)
		}
		if want := strings.Repeat("x", 10) + Redacted; !strings.HasPrefix(got, want) {
			t.Errorf("secret of %d bytes: got %q, want prefix %q", size, got, want)
		}
	}
}

// TestLineStaysBoundedAroundThePrefixLength runs Line on inputs around the
// length at which it starts to work on a prefix, and on inputs with no rune
// start at all: the result is never longer than n, and valid UTF-8.
func TestLineStaysBoundedAroundThePrefixLength(t *testing.T) {
	t.Parallel()
	const n = 10
	pre := n + 256 + 2*5*64 // the prefix length with no secret longer than a key, encoded twice
	for _, tc := range []struct {
		name string
		in   string
	}{
		{"one short of the prefix", strings.Repeat("a", pre-1)},
		{"exactly the prefix", strings.Repeat("a", pre)},
		{"one past the prefix", strings.Repeat("a", pre+1)},
		{"continuation bytes only", strings.Repeat("\x80", 4*pre)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Scrubber{}.Line(tc.in, n)
			if len(got) > n || !utf8.ValidString(got) {
				t.Errorf("Line(%d bytes, %d) = %q", len(tc.in), n, got)
			}
		})
	}
}

// TestThePrefixCutKeepsRunesWhole checks that the prefix cut backs up to a
// rune start: valid input must not gain a replacement character. Line
// separators shrink from three bytes to one, so the end of the prefix is
// in view.
func TestThePrefixCutKeepsRunesWhole(t *testing.T) {
	t.Parallel()
	const n = 450
	pre := n + 256 + 2*5*64             // 1346 = 3*448 + 2: the cut falls inside a separator
	in := strings.Repeat("\u2028", pre) // longer than the prefix
	got := Scrubber{}.Line(in, n)
	if want := strings.Repeat(" ", pre/3); got != want {
		t.Errorf("Line(%d separators, %d) = %q, want %d spaces", pre, n, got, pre/3)
	}
}

func FuzzLine(f *testing.F) {
	for _, s := range []string{"##[error]x", "::add-mask::y", key, "u=%70" + key[1:] + "%41", "%2570" + key[1:10] + "%", "\x1b\x00\r\n", "https://a/b?X-Amz-Signature=s", "ééé##[", " ::x", "#\u2028#[", "prism_sk_"} {
		f.Add(s, 40)
	}
	sc := New(key)
	other := New(otherKey)
	f.Add(strings.Repeat("\u2028", 480)+otherKey+strings.Repeat("z", 600), 700)
	f.Fuzz(func(t *testing.T, s string, n int) {
		n = max(n%4096, 0)
		got := sc.Line(s, n)
		switch {
		case strings.Contains(got, "##["):
			t.Fatalf("legacy command in %q", got)
		case strings.HasPrefix(strings.TrimLeftFunc(got, unicode.IsSpace), "::"):
			t.Fatalf("command at line start in %q", got)
		case strings.Contains(got, key), strings.Contains(got, "prism_sk_") && !strings.Contains(s, "prism_sk_"), keyShape.MatchString(got),
			strings.Contains(unescape(got), key):
			t.Fatalf("key in %q", got)
		case strings.Count(s, otherKey[:10]) == strings.Count(s, otherKey) && strings.Contains(other.Line(s, n), otherKey[:10]):
			t.Fatalf("a head of a key not shaped like Prism's in %q", other.Line(s, n))
		case strings.Contains(got, "X-Amz-Signature=") && !strings.Contains(got, "X-Amz-Signature=***"):
			t.Fatalf("signature in %q", got)
		case !utf8.ValidString(got):
			t.Fatalf("invalid UTF-8 %q", got)
		case len(got) > max(n, len(CutMarker)):
			t.Fatalf("%d bytes, bound %d", len(got), n)
		}
		for _, r := range got {
			if unicode.IsControl(r) {
				t.Fatalf("control %U in %q", r, got)
			}
		}
	})
}

func BenchmarkLineMegabyte(b *testing.B) {
	sc := New(key)
	s := strings.Repeat("é##[x\x00 https://h/p?X-Amz-Signature=s ", 1<<15)
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		sc.Line(s, 2048)
	}
}

func TestClip(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		clip func(string, int) string
		in   string
		n    int
		want string
	}{
		{Clip, "short", 10, "short"},
		{Clip, "exactly10!", 10, "exactly10!"},
		{Clip, "0123456789abcdef", 12, "0123" + CutMarker},
		{Clip, "éééééé", 11, "é" + CutMarker}, // 2-byte runes: never half of one
		{Clip, "abcdef", 2, CutMarker},
		// Invalid UTF-8: no rune start to back up to.
		{Clip, strings.Repeat("\x80", 20), 10, CutMarker},
		{Clip, "ab" + strings.Repeat("\x80", 20), 12, "a" + CutMarker},
		// ClipMiddle keeps the end too.
		{ClipMiddle, "short", 10, "short"},
		{ClipMiddle, "exactly10!", 10, "exactly10!"},
		{ClipMiddle, "0123456789abcdefghij", 16, "0123" + CutMarker + "ghij"},
		{ClipMiddle, "0123456789abcdefghij", 17, "01234" + CutMarker + "ghij"},
		{ClipMiddle, "ééééééééé", 14, "éé" + CutMarker + "é"}, // never half of a rune at either end
		{ClipMiddle, "abcdef", 2, CutMarker},
	} {
		got := tc.clip(tc.in, tc.n)
		if got != tc.want || !utf8.ValidString(got) || len(got) > max(tc.n, len(CutMarker)) {
			t.Errorf("clipping %q to %d = %q, want %q, valid UTF-8", tc.in, tc.n, got, tc.want)
		}
	}
}

func TestSecret(t *testing.T) {
	t.Parallel()
	sc := New("custom-secret")
	for in, want := range map[string]bool{"a custom-secret b": true, "x?k=prism_sk_abc": true, "https://h/v.mp4?sig=1": false, "": false,
		"https://h/custom%2Dsecret.mp4": true, "a%2563ustom-secret": true, "x?k=%70rism_sk_abc": true, "custom%2Dsecre": false, "50% custom": false,
		"https://s3/%252570rism_sk_x.mp4": true, "%25%37%30rism_sk_x": true} {
		if got := sc.Secret(in); got != want {
			t.Errorf("Secret(%q) = %v, want %v", in, got, want)
		}
	}
}

// TestKeyShapeNeedsKeyMaterial: "prism_sk_…", as prism-wait's own messages
// name the shape, is no key and prints as written; the prefix followed by
// any one character a key is made of is redacted, and the key in use is
// redacted whatever surrounds it.
func TestKeyShapeNeedsKeyMaterial(t *testing.T) {
	t.Parallel()
	sc := New(key)
	for _, own := range []string{"required: the Prism API key (prism_sk_…), from a secret", "a key prism_sk_ alone", "prism_sk_"} {
		if got := sc.Line(own, 1000); got != own {
			t.Errorf("Line(%q) = %q, want it as written", own, got)
		}
		if sc.Secret(own) {
			t.Errorf("Secret(%q) = true for text with no key material", own)
		}
	}
	const material = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
	for _, c := range material {
		for _, in := range []string{"prism_sk_" + string(c), "x prism_sk_" + string(c) + "… y", "(prism_sk_" + string(c) + ")"} {
			got := sc.Line(in, 1000)
			if strings.Contains(got, "prism_sk_") {
				t.Errorf("Line(%q) = %q: a key shape survived", in, got)
			}
			if !sc.Secret(in) {
				t.Errorf("Secret(%q) = false", in)
			}
		}
	}
	for _, in := range []string{"prism_sk_" + key, key + "…", "(" + key + ")", "prism_sk_…" + key} {
		if got := sc.Line(in, 1000); strings.Contains(got, key[len("prism_sk_"):]) {
			t.Errorf("Line(%q) = %q: the key's material shows", in, got)
		}
	}
	if got := New("sk-other").Line("use sk-other or prism_sk_…", 100); got != "use *** or prism_sk_…" {
		t.Errorf("a key of another shape: %q", got)
	}
}
