// Package crash turns a panic in one of the program's goroutines into an
// error that the report shows as an internal error, with exit code 1 and
// the stack in a debug line: unrecovered, a panic would end the process
// with Go's exit code 2, which means invalid input here, and without
// outputs.
package crash

import (
	"fmt"
	"runtime/debug"
)

// Panic is a recovered panic.
type Panic struct {
	Value any
	Stack []byte
}

func (p *Panic) Error() string { return fmt.Sprintf("internal error: %v", p.Value) }

// Recover hands a panic to report, when deferred at the top of a
// goroutine: `defer crash.Recover(func(p *crash.Panic) { … })`.
func Recover(report func(*Panic)) {
	if v := recover(); v != nil {
		report(&Panic{Value: v, Stack: debug.Stack()})
	}
}
