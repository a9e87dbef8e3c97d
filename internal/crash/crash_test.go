package crash

import (
	"errors"
	"strings"
	"testing"
)

func TestRecover(t *testing.T) {
	t.Parallel()
	var got *Panic
	func() {
		defer Recover(func(p *Panic) { got = p })
		panic("boom")
	}()
	if got == nil || got.Value != "boom" || got.Error() != "internal error: boom" || !strings.Contains(string(got.Stack), "crash_test.go") {
		t.Fatalf("recovered %+v", got)
	}
	var err error = got
	var p *Panic
	if !errors.As(err, &p) {
		t.Error("a *Panic is an error that errors.As finds")
	}
	called := false
	func() { defer Recover(func(*Panic) { called = true }) }()
	if called {
		t.Error("Recover reported a panic that did not happen")
	}
}
