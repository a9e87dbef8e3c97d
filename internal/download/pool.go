package download

import (
	"context"
	"fmt"
	"sync"
)

// MaxDownloads bounds how many videos download at once.
const MaxDownloads = 4

// Pool downloads videos through one Downloader, at most MaxDownloads at
// once, and keeps each outcome by ID. It is safe for concurrent use.
type Pool struct {
	d     *Downloader
	slots chan struct{}
	mu    sync.Mutex
	done  map[string]outcome
}

type outcome struct {
	file *File
	err  error
}

// NewPool returns a pool that downloads through d.
func NewPool(d *Downloader) *Pool {
	return &Pool{d: d, slots: make(chan struct{}, MaxDownloads), done: map[string]outcome{}}
}

// Fetch downloads id's video from rawURL once a slot is free, or gives up
// when ctx ends first; refresh asks for a fresh URL when storage says the
// signed one expired. The outcome is kept for Result.
func (p *Pool) Fetch(ctx context.Context, id, rawURL string, refresh Refresh) {
	var out outcome
	select {
	case p.slots <- struct{}{}:
		func() {
			defer func() { <-p.slots }() // a panic too: the slot is free again
			f, err := p.d.Fetch(ctx, id, rawURL, refresh)
			if err != nil {
				out.err = err
			} else {
				out.file = &f
			}
		}()
	case <-ctx.Done():
		out.err = fmt.Errorf("download of %s did not start: %w", id, context.Cause(ctx))
	}
	p.mu.Lock()
	p.done[id] = out
	p.mu.Unlock()
}

// Result is the outcome of id's download: the file saved, or why there is
// none. Both are nil when no download of id ended, or p is nil.
func (p *Pool) Result(id string) (*File, error) {
	if p == nil {
		return nil, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	o := p.done[id]
	return o.file, o.err
}
