package clock

import (
	"context"
	"errors"
	"testing"
	"time"
)

var epoch = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func TestFakeTimersFireInOrderAtTheirDeadlines(t *testing.T) {
	t.Parallel()
	f := NewFake(epoch)
	late, early := f.NewTimer(3*time.Second), f.NewTimer(time.Second)
	fired := make(chan time.Time, 1)
	f.AfterFunc(2*time.Second, func() { fired <- f.Now() })
	if f.Pending() != 3 {
		t.Fatalf("pending %d, want 3", f.Pending())
	}
	f.Advance(999 * time.Millisecond)
	select {
	case <-early.C():
		t.Fatal("fired before its deadline")
	default:
	}
	f.Advance(time.Second + time.Millisecond) // now epoch+2s
	if got := <-early.C(); !got.Equal(epoch.Add(time.Second)) {
		t.Errorf("early fired at %v, want its deadline", got)
	}
	if got := <-fired; !got.Before(epoch.Add(3 * time.Second)) {
		t.Errorf("AfterFunc ran at %v", got)
	}
	select {
	case <-late.C():
		t.Fatal("late fired early")
	default:
	}
	if !f.Now().Equal(epoch.Add(2 * time.Second)) {
		t.Errorf("now %v", f.Now())
	}
	f.Advance(time.Hour)
	<-late.C()
	if f.Pending() != 0 {
		t.Errorf("pending %d after all fired", f.Pending())
	}
}

func TestFakeStopAndReset(t *testing.T) {
	t.Parallel()
	f := NewFake(epoch)
	tm := f.NewTimer(time.Second)
	if !tm.Stop() || tm.Stop() {
		t.Error("Stop should report true once, then false")
	}
	f.Advance(2 * time.Second)
	select {
	case <-tm.C():
		t.Fatal("a stopped timer fired")
	default:
	}
	if tm.Reset(time.Second) {
		t.Error("Reset of a stopped timer reports it was active")
	}
	f.Advance(time.Second)
	if got := <-tm.C(); !got.Equal(epoch.Add(3 * time.Second)) {
		t.Errorf("reset timer fired at %v", got)
	}
	// A fired, unread value is dropped by Reset.
	tm.Reset(0)
	tm.Reset(time.Minute)
	select {
	case <-tm.C():
		t.Fatal("stale value after Reset")
	default:
	}
}

func TestSleep(t *testing.T) {
	t.Parallel()
	f := NewFake(epoch)
	done := make(chan error)
	go func() { done <- Sleep(context.Background(), f, time.Minute) }()
	if err := f.BlockUntil(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	f.Advance(time.Minute)
	if err := <-done; err != nil {
		t.Errorf("Sleep = %v", err)
	}
	cause := errors.New("why")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(cause)
	if err := Sleep(ctx, f, time.Minute); !errors.Is(err, cause) {
		t.Errorf("Sleep after cancel = %v, want the cause", err)
	}
	if f.Pending() != 0 {
		t.Error("Sleep left its timer armed")
	}
	if err := Sleep(context.Background(), Real, time.Nanosecond); err != nil {
		t.Errorf("real Sleep = %v", err)
	}
}

func TestBlockUntilEndsWithContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := NewFake(epoch).BlockUntil(ctx, 1); !errors.Is(err, context.Canceled) {
		t.Errorf("BlockUntil = %v", err)
	}
}

func TestOr(t *testing.T) {
	t.Parallel()
	f := NewFake(epoch)
	if Or(nil) != Real || Or(f) != f {
		t.Error("Or")
	}
	if d := time.Since(Real.Now()); d < 0 || d > time.Hour {
		t.Errorf("Real.Now is off by %v", d)
	}
	r := Real.AfterFunc(time.Hour, func() {})
	if !r.Stop() || r.C() != nil {
		t.Error("real AfterFunc timer")
	}
}

func TestAutoFiresAtOnceAndKeepsTime(t *testing.T) {
	t.Parallel()
	f := NewAuto(epoch)
	if err := Sleep(context.Background(), f, time.Hour); err != nil {
		t.Fatal(err)
	}
	tm := f.NewTimer(time.Minute)
	if got := <-tm.C(); !got.Equal(epoch.Add(time.Hour + time.Minute)) {
		t.Errorf("fired at %v", got)
	}
	if !f.Now().Equal(epoch.Add(time.Hour+time.Minute)) || f.Pending() != 0 {
		t.Errorf("now %v, pending %d", f.Now(), f.Pending())
	}
	fired := make(chan bool, 1)
	f.AfterFunc(time.Second, func() { fired <- true })
	f.NewTimer(time.Minute) // jumps past the AfterFunc, which waits for Advance
	f.NewTimer(0)
	if f.Pending() != 1 {
		t.Fatalf("pending %d, want the AfterFunc timer", f.Pending())
	}
	f.Advance(0)
	<-fired
}
