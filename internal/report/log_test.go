package report

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

func TestLogEscapesUntrustedText(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	l := NewLog(&b, true)
	l.Mask("prism_sk_secret")
	l.Infof("status %s", "x\n::add-mask::y\r\n::stop-commands::z")
	l.Errorf("Generation gen_1 failed", "reason: %s", "100%\n::error::fake")
	l.Warningf("a:b,c", "w")
	l.Debugf("d\nx")
	l.Infof("echo %s ##[set-output name=x;]y", "prism_sk_secret")
	l.Infof("%s", "::stop-commands::tok")
	want := "::add-mask::prism_sk_secret\n" +
		"status x ::add-mask::y  ::stop-commands::z\n" +
		"::error title=Generation gen_1 failed::reason: 100%25 ::error::fake\n" +
		"::warning title=a%3Ab%2Cc::w\n" +
		"::debug::d x\n" +
		"echo *** ## [set-output name=x;]y\n" +
		": :stop-commands::tok\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n")[1:] {
		if strings.HasPrefix(line, "::") && !strings.HasPrefix(line, "::error ") && !strings.HasPrefix(line, "::warning ") && !strings.HasPrefix(line, "::debug::") {
			t.Errorf("unexpected command line %q", line)
		}
	}
}

func TestPlainLog(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	l := NewLog(&b, false)
	l.Mask("prism_sk_secret")
	l.Debugf("hidden")
	l.Errorf("Timeout", "gen_1\nstill going")
	if b.String() != "error: Timeout: gen_1 still going\n" {
		t.Errorf("got %q", b.String())
	}
}

func TestLogLinesAreBounded(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	l := NewLog(&b, true)
	l.Infof("%s", strings.Repeat("x", 1<<20))
	l.Errorf("T", "%s", strings.Repeat("y", 1<<20))
	for _, line := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		if len(line) > MaxLine+100 {
			t.Errorf("a line of %d bytes", len(line))
		}
	}
}

// failingWriter fails every write with a new error.
type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	w.n++
	return 0, fmt.Errorf("write %d failed", w.n)
}

func TestABrokenLogIsIgnored(t *testing.T) {
	t.Parallel()
	w := &failingWriter{}
	l := NewLog(w, true)
	l.Infof("one")
	l.Errorf("T", "two")
	if w.n != 2 {
		t.Errorf("%d writes tried, want 2: each line is tried, and a failure changes nothing", w.n)
	}
}
