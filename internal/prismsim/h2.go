package prismsim

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// H2Abort is how an H2Server aborts a POST's stream after it has read the
// whole request: the ways that make net/http's HTTP/2 transport send a
// request again on its own when it can rewind the body.
type H2Abort int

const (
	// H2ResetOnce resets the first POST's stream with
	// RST_STREAM(PROTOCOL_ERROR), and answers every later one.
	H2ResetOnce H2Abort = iota
	// H2ResetAlways resets every POST's stream with RST_STREAM(PROTOCOL_ERROR).
	H2ResetAlways
	// H2GoAwayOnce answers the first POST with GOAWAY (last stream 0), and
	// answers every later one.
	H2GoAwayOnce
	// H2RefusedOnce resets the first POST's stream with
	// RST_STREAM(REFUSED_STREAM), and answers every later one.
	H2RefusedOnce
	// H2PingFlood answers a generation's GET with its headers and part of
	// its body, then sends PINGs and reads nothing more, until the client
	// closes the connection: the client's answers to the PINGs fill the
	// socket, and its read loop blocks writing them.
	H2PingFlood
)

// H2Server is a minimal HTTP/2 server over TLS (ALPN "h2") that counts
// the submits it read whole and aborts them as told, which net/http's server
// cannot do. It answers a POST it does not abort with one generation,
// gen_h2_1, and every GET of a generation with "completed". Its
// certificate is self-signed for 127.0.0.1: trust CertPEM (a client's
// RootCAs, or the file SSL_CERT_FILE names).
type H2Server struct {
	URL     string // https://127.0.0.1:port/api
	CertPEM []byte
	abort   H2Abort
	ln      net.Listener
	posts   atomic.Int64
	conns   sync.WaitGroup
	// Flooding is closed once an H2PingFlood server stopped reading.
	Flooding chan struct{}
	flood    sync.Once
}

// NewH2 starts an H2Server on a loopback port.
func NewH2(abort H2Abort) (*H2Server, error) {
	cert, certPEM, err := selfSigned()
	if err != nil {
		return nil, err
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2"}})
	if err != nil {
		return nil, err
	}
	s := &H2Server{URL: "https://" + ln.Addr().String() + "/api", CertPEM: certPEM, abort: abort, ln: ln, Flooding: make(chan struct{})}
	go s.accept()
	return s, nil
}

// Posts is the number of submits (POSTs to a generate endpoint) that
// reached the server whole; any other POST answers 404.
func (s *H2Server) Posts() int { return int(s.posts.Load()) }

// CertPool holds the server's certificate.
func (s *H2Server) CertPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(s.CertPEM)
	return p
}

// Close stops the server and waits for its connections to end.
func (s *H2Server) Close() {
	s.ln.Close()
	s.conns.Wait()
}

func (s *H2Server) accept() {
	var open sync.Map
	for {
		c, err := s.ln.Accept()
		if err != nil {
			open.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
			return
		}
		open.Store(c, true)
		s.conns.Add(1)
		go func() {
			defer s.conns.Done()
			defer open.Delete(c)
			defer c.Close()
			s.serve(c.(*tls.Conn))
		}()
	}
}

// h2Stream is a request as far as it has arrived.
type h2Stream struct{ method, path string }

func (s *H2Server) serve(c *tls.Conn) {
	if err := c.Handshake(); err != nil || c.ConnectionState().NegotiatedProtocol != "h2" {
		return
	}
	preface := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(c, preface); err != nil || string(preface) != http2.ClientPreface {
		return
	}
	fr := http2.NewFramer(c, c)
	fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	if fr.WriteSettings() != nil {
		return
	}
	streams := map[uint32]*h2Stream{}
	for {
		f, err := fr.ReadFrame()
		if err != nil {
			return
		}
		var ended uint32
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				err = fr.WriteSettingsAck()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				err = fr.WritePing(true, f.Data)
			}
		case *http2.MetaHeadersFrame:
			streams[f.StreamID] = &h2Stream{method: f.PseudoValue("method"), path: f.PseudoValue("path")}
			if f.StreamEnded() {
				ended = f.StreamID
			}
		case *http2.DataFrame:
			if f.StreamEnded() {
				ended = f.StreamID
			}
		}
		if st := streams[ended]; err == nil && st != nil {
			delete(streams, ended)
			err = s.answer(fr, ended, st)
		}
		if err != nil {
			return
		}
	}
}

// answer answers one request read whole, or aborts it.
func (s *H2Server) answer(fr *http2.Framer, id uint32, st *h2Stream) error {
	submit := st.path == PromptPath || strings.HasPrefix(st.path, "/api/templates/") && strings.HasSuffix(st.path, "/generate")
	if st.method == "POST" && submit {
		n := s.posts.Add(1)
		switch {
		case s.abort == H2ResetAlways, s.abort == H2ResetOnce && n == 1:
			return fr.WriteRSTStream(id, http2.ErrCodeProtocol)
		case s.abort == H2RefusedOnce && n == 1:
			return fr.WriteRSTStream(id, http2.ErrCodeRefusedStream)
		case s.abort == H2GoAwayOnce && n == 1:
			return fr.WriteGoAway(0, http2.ErrCodeNo, nil)
		}
		return s.respond(fr, id, 200, `{"generations":[{"generation_id":"gen_h2_1","status":"generating"}],"credits_charged":10}`)
	}
	if gen, ok := strings.CutPrefix(st.path, "/api/generations/"); ok && st.method == "GET" && s.abort == H2PingFlood {
		if err := s.head(fr, id, 200, 1000); err != nil {
			return err
		}
		if err := fr.WriteData(id, false, []byte(`{"id":"`+gen+`","status":"gene`)); err != nil {
			return err
		}
		s.flood.Do(func() { close(s.Flooding) })
		for {
			if err := fr.WritePing(false, [8]byte{1}); err != nil {
				return err // the client closed the connection
			}
		}
	}
	if gen, ok := strings.CutPrefix(st.path, "/api/generations/"); ok && st.method == "GET" {
		self := strings.TrimSuffix(s.URL, "/api")
		return s.respond(fr, id, 200, fmt.Sprintf(`{"id":%q,"status":"completed","video_url":"%s/videos/%s.mp4"}`, gen, self, gen))
	}
	return s.respond(fr, id, 404, `{"error":"not_found","message":"no such endpoint"}`)
}

func (s *H2Server) respond(fr *http2.Framer, id uint32, status int, body string) error {
	if err := s.head(fr, id, status, len(body)); err != nil {
		return err
	}
	return fr.WriteData(id, true, []byte(body))
}

// head writes a JSON answer's headers.
func (s *H2Server) head(fr *http2.Framer, id uint32, status, length int) error {
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, f := range [][2]string{{":status", fmt.Sprint(status)}, {"content-type", "application/json"}, {"content-length", fmt.Sprint(length)}} {
		if err := enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]}); err != nil {
			return err
		}
	}
	return fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block.Bytes(), EndHeaders: true})
}

// selfSigned makes a certificate for 127.0.0.1 that is its own root.
func selfSigned() (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "prismsim h2"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}
