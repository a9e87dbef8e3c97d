package prism

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"
)

// oneShot is a request body that no layer below prism can send twice.
// net/http sets Request.GetBody for a *bytes.Reader, and its HTTP/2
// transport then replays a request on its own after RST_STREAM
// (PROTOCOL_ERROR or REFUSED_STREAM) or GOAWAY, even after the server has
// read it all: a submit would be created, and charged, again, unseen. With
// no GetBody and a body that is not a known reader type, neither transport
// can rewind it: every repeat of a POST is prism's own decision
// (retryable). A request without a body (a status read) is http.NoBody,
// which the transports may repeat.
func oneShot(body []byte) io.Reader {
	if body == nil {
		return http.NoBody
	}
	return struct{ io.Reader }{bytes.NewReader(body)}
}

// smallBody is how much of a 200's body is read without waiting for a
// turn: a status or submit body is a few hundred bytes.
const smallBody = 64 << 10

// largeBodies bounds how many bodies larger than smallBody are read and
// decoded at once, in the whole process: 100 IDs answered at once with
// bodies near maxBody would otherwise hold 100 of them, and what decoding
// makes of them, in memory together.
var largeBodies = make(chan struct{}, 2)

// errTooLarge ends a body read past maxBody.
var errTooLarge = errors.New("body larger than 1 MiB")

// readError is a body read that failed (the connection, the context, a
// turn not given, errTooLarge), as opposed to bytes that are not the
// expected JSON.
type readError struct{ err error }

func (e *readError) Error() string { return e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// decodeBody decodes the first JSON value of a 200's body into out. It
// returns as soon as that value is complete: a body that goes on after it,
// or never ends, does not hold back an answer already given (a submit's
// IDs, paid for). It reads at most maxBody bytes; past smallBody it
// waits for one of the largeBodies turns, until ctx ends. Any failure to
// read is a *readError.
func decodeBody(ctx context.Context, r io.Reader, out any) error {
	b := &turnReader{ctx: ctx, r: r}
	defer b.release()
	err := json.NewDecoder(b).Decode(out)
	if b.err != nil {
		return &readError{b.err}
	}
	return err
}

// turnReader counts what it reads and stops at maxBody bytes, taking a
// largeBodies turn before reading past smallBody. err is the first read
// failure other than the end of the body.
type turnReader struct {
	ctx  context.Context
	r    io.Reader
	n    int64
	turn bool
	err  error
}

func (b *turnReader) Read(p []byte) (int, error) {
	switch {
	case b.err != nil:
		return 0, b.err
	case b.n >= maxBody:
		b.err = errTooLarge
		return 0, b.err
	case b.n >= smallBody && !b.turn:
		select {
		case largeBodies <- struct{}{}:
			b.turn = true
		case <-b.ctx.Done():
			b.err = context.Cause(b.ctx)
			return 0, b.err
		}
	}
	limit := int64(maxBody)
	if !b.turn {
		limit = smallBody
	}
	if int64(len(p)) > limit-b.n {
		p = p[:limit-b.n]
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

func (b *turnReader) release() {
	if b.turn {
		<-largeBodies
	}
}

// What may follow a decoded answer's JSON (a newline, usually) is read,
// at most maxTail bytes for at most tailWait, so that the connection can
// serve the next request; a tail that does not come at once, or is
// longer, ends the request instead (stop), and its connection with it.
const (
	maxTail  = 4 << 10
	tailWait = 50 * time.Millisecond
)

func readTail(body io.Reader, stop context.CancelFunc) {
	t := time.AfterFunc(tailWait, stop)
	defer t.Stop()
	_, _ = io.CopyN(io.Discard, body, maxTail)
}
