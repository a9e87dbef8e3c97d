package prism

import (
	"bytes"
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
