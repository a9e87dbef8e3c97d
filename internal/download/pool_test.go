package download

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prism-wait/prism-wait/internal/prismsim"
)

// held is storage that answers no request until released, and counts the
// requests it holds.
type held struct {
	storage
	release chan struct{}
	mu      sync.Mutex
	now     int // requests being held
	most    int
}

func newHeld() *held {
	h := &held{release: make(chan struct{})}
	h.hook = func(n int, w http.ResponseWriter, r *http.Request, c *prismsim.Content) (http.ResponseWriter, bool) {
		h.mu.Lock()
		h.now++
		h.most = max(h.most, h.now)
		h.mu.Unlock()
		<-h.release
		h.mu.Lock()
		h.now--
		h.mu.Unlock()
		return w, false
	}
	return h
}

func (h *held) holding() (now, most int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.now, h.most
}

func TestPoolDownloadsAtMostMaxDownloadsAtOnce(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHeld()
		d, url := setup(t, h)
		p := NewPool(d)
		ids := make([]string, MaxDownloads+2)
		var wg sync.WaitGroup
		for i := range ids {
			ids[i] = fmt.Sprintf("gen_%d", i)
			wg.Go(func() { p.Fetch(t.Context(), ids[i], url, noRefresh) })
		}
		synctest.Wait()
		if now, _ := h.holding(); now != MaxDownloads {
			t.Errorf("%d downloads at once, want %d", now, MaxDownloads)
		}
		close(h.release)
		wg.Wait()
		if _, most := h.holding(); most != MaxDownloads {
			t.Errorf("at most %d downloads at once, want %d", most, MaxDownloads)
		}
		for _, id := range ids {
			if f, err := p.Result(id); err != nil || f == nil || f.Path != "videos/"+id+".mp4" || f.SHA256 != sum(1) {
				t.Errorf("%s: %+v, %v; want the video saved", id, f, err)
			}
		}
	})
}

func TestPoolGivesUpWhenTheContextEndsBeforeASlot(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		h := newHeld()
		d, url := setup(t, h)
		p := NewPool(d)
		var wg sync.WaitGroup
		for i := range MaxDownloads {
			wg.Go(func() { p.Fetch(t.Context(), fmt.Sprintf("gen_%d", i), url, noRefresh) })
		}
		synctest.Wait()
		ctx, cancel := context.WithCancelCause(t.Context())
		cancel(errors.New("the job was cancelled"))
		p.Fetch(ctx, "gen_late", url, noRefresh)
		f, err := p.Result("gen_late")
		if f != nil || err == nil || err.Error() != "download of gen_late did not start: the job was cancelled" {
			t.Errorf("Result = %+v, %v; want that it did not start, and why", f, err)
		}
		close(h.release)
		wg.Wait()
	})
}

// A download that panics frees its slot: the panic goes on to the caller,
// and later downloads still start.
func TestPoolSlotIsFreedByAPanic(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		d, url := setup(t, &storage{})
		p := NewPool(d)
		d.Logf = func(format string, a ...any) {
			if strings.Contains(format, "saved") {
				panic("logging exploded")
			}
		}
		for i := range MaxDownloads + 1 {
			func() {
				defer func() {
					if r := recover(); r != "logging exploded" {
						t.Errorf("download %d: recovered %v, want the panic", i, r)
					}
				}()
				p.Fetch(t.Context(), fmt.Sprintf("gen_%d", i), url, noRefresh)
			}()
		}
		d.Logf = nil
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		p.Fetch(ctx, "gen_after", url, noRefresh)
		if f, err := p.Result("gen_after"); err != nil || f == nil {
			t.Errorf("Result = %+v, %v; want the video saved in a freed slot", f, err)
		}
	})
}

func TestPoolResultWithoutDownloads(t *testing.T) {
	t.Parallel()
	var p *Pool
	if f, err := p.Result("gen_1"); f != nil || err != nil {
		t.Errorf("nil pool: %+v, %v", f, err)
	}
	p = NewPool(&Downloader{})
	if f, err := p.Result("gen_1"); f != nil || err != nil {
		t.Errorf("no download of gen_1: %+v, %v", f, err)
	}
}
