package report

import (
	"bytes"
	"log"
	"strings"
	"testing"
)

// TestStdLogBecomesScrubbedDebugLines: what Go's standard library logs on
// its own reaches the output only as debug lines of the Log, scrubbed,
// one per line, and nowhere once routing stops. Not parallel: the log
// package is the process's.
func TestStdLogBecomesScrubbedDebugLines(t *testing.T) {
	var out bytes.Buffer
	l := NewLog(&out, true)
	l.Mask("prism_sk_stdlog_secret")
	out.Reset()
	stop := RouteStdLog(l)
	log.Printf("Unsolicited response received on idle HTTP channel starting with %q", "##[error title=PWN]x\n::error::x")
	log.Print("http2: Transport encoding header \"authorization\" = \"Bearer prism_sk_stdlog_secret\"\n::stop-commands::tok")
	stop()
	log.Print("after stop")
	want := "::debug::Unsolicited response received on idle HTTP channel starting with \"## [error title=PWN]x\\n::error::x\"\n" +
		"::debug::http2: Transport encoding header \"authorization\" = \"Bearer ***\"\n" +
		"::debug::: :stop-commands::tok\n"
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
	if strings.Contains(out.String(), "after stop") {
		t.Error("a line after stop reached the Log")
	}
	// Outside GitHub Actions, debug lines are dropped: nothing at all.
	out.Reset()
	stop = RouteStdLog(NewLog(&out, false))
	log.Print("##[error]x")
	stop()
	if out.Len() != 0 {
		t.Errorf("outside Actions: %q", out.String())
	}
}
