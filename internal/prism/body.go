package prism

import (
	"bytes"
	"context"
	"io"
	"net/http"
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

// readBody reads a 200's body, at most maxBody+1 bytes. A body larger
// than smallBody waits for one of the largeBodies turns, until ctx ends;
// release gives the turn back once the caller has decoded the body.
func readBody(ctx context.Context, r io.Reader) (body []byte, release func(), err error) {
	release = func() {}
	body, err = io.ReadAll(io.LimitReader(r, smallBody+1))
	if err != nil || len(body) <= smallBody {
		return body, release, err
	}
	select {
	case largeBodies <- struct{}{}:
		release = func() { <-largeBodies }
	case <-ctx.Done():
		return nil, release, context.Cause(ctx)
	}
	buf := bytes.NewBuffer(body)
	_, err = buf.ReadFrom(io.LimitReader(r, maxBody+1-int64(len(body))))
	return buf.Bytes(), release, err
}
