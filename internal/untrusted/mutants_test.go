package untrusted

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestLineLongSecretWholeInPrefix pins the prefix bound: it is longer than
// n by more than twice the longest secret, so a long secret that starts
// within the first n bytes is redacted whole, never clipped into view.
func TestLineLongSecretWholeInPrefix(t *testing.T) {
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

// TestLineBoundaryLengths runs Line on inputs around the length at which it
// starts to work on a prefix, and on inputs with no rune start at all.
func TestLineBoundaryLengths(t *testing.T) {
	t.Parallel()
	const n = 10
	pre := n + 256 + 2*64 // the prefix length with no secret longer than a key
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

// TestLinePrefixCutKeepsRunesWhole checks that the prefix cut backs up to a
// rune start: valid input must not gain a replacement character. Line
// separators shrink from three bytes to one, so the end of the prefix is
// in view.
func TestLinePrefixCutKeepsRunesWhole(t *testing.T) {
	t.Parallel()
	const n = 200
	pre := n + 256 + 2*64               // 584 = 3*194 + 2: the cut falls inside a separator
	in := strings.Repeat("\u2028", pre) // longer than the prefix
	got := Scrubber{}.Line(in, n)
	if want := strings.Repeat(" ", pre/3); got != want {
		t.Errorf("Line(%d separators, %d) = %q, want %d spaces", pre, n, got, pre/3)
	}
}

func TestClipInvalidUTF8(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{strings.Repeat("\x80", 20), 10, CutMarker},
		{"ab" + strings.Repeat("\x80", 20), 12, "a" + CutMarker},
	} {
		if got := Clip(tc.in, tc.n); got != tc.want {
			t.Errorf("Clip(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
