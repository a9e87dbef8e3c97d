// Package testnet serves an http.Handler over in-memory connections, for
// tests that run in a testing/synctest bubble: the bubble's fake clock
// cannot see real sockets, so a request over loopback would stall its
// time, while one over net.Pipe blocks durably, like any channel.
//
// Only tests import it; the product never does.
package testnet

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"testing"
)

// Serve serves h until the test ends and returns a transport whose every
// connection, whatever the URL's host, reaches h. Call it inside the
// bubble, so that the server's goroutines and timers belong to it.
func Serve(t testing.TB, h http.Handler) *http.Transport {
	t.Helper()
	l := &listener{conns: make(chan net.Conn), done: make(chan struct{})}
	srv := &http.Server{Handler: h}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(l)
	}()
	tr := &http.Transport{DialContext: l.dial}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		_ = srv.Close()
		<-served
	})
	return tr
}

// listener hands the server the far ends of the pipes that dial makes.
type listener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

var errClosed = errors.New("testnet: listener closed")

func (l *listener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- server:
		return client, nil
	case <-ctx.Done():
	case <-l.done:
	}
	client.Close()
	server.Close()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return nil, errClosed
}

func (l *listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, errClosed
	}
}

func (l *listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *listener) Addr() net.Addr { return addr{} }

type addr struct{}

func (addr) Network() string { return "pipe" }
func (addr) String() string  { return "pipe" }
