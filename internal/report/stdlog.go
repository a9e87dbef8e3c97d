package report

import (
	"log"
	"strings"
	"sync/atomic"
)

// stdTarget is the Log that the standard log package writes to; nil
// drops its lines.
var stdTarget atomic.Pointer[Log]

// RouteStdLog makes l the only place where Go's standard log package
// prints: net/http and its HTTP/2 transport write there on their own
// (an unsolicited response from a server, quoted; with GODEBUG=http2debug
// every header, the key's included). Each line becomes a debug line of
// l, scrubbed like every other. The log package is the process's, so the
// latest Log routed wins; stop routes its lines nowhere, unless another
// Log was routed since.
func RouteStdLog(l *Log) (stop func()) {
	stdTarget.Store(l)
	log.SetFlags(0)
	log.SetPrefix("")
	log.SetOutput(stdWriter{})
	return func() { stdTarget.CompareAndSwap(l, nil) }
}

// stdWriter turns each line the log package writes into a debug line.
type stdWriter struct{}

func (stdWriter) Write(p []byte) (int, error) {
	if l := stdTarget.Load(); l != nil {
		for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
			l.Debugf("%s", line)
		}
	}
	return len(p), nil
}
