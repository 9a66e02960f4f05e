// Package heappeak measures a benchmark's peak heap: it samples the heap
// occupied by objects every millisecond between Start and Stop and keeps
// the highest value. Sampling through runtime/metrics does not stop the
// world, so the measured code runs as it would unobserved; a peak shorter
// than a millisecond can be missed, which is why benchmarks also report
// the testing package's allocation counts.
package heappeak

import (
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
)

// Peak is one measurement; reuse it with Start again.
type Peak struct {
	max  atomic.Uint64
	done chan struct{}
	wg   sync.WaitGroup
}

// Start resets the peak and starts sampling.
func (p *Peak) Start() {
	p.max.Store(0)
	p.done = make(chan struct{})
	p.wg.Go(func() {
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			p.observe()
			select {
			case <-p.done:
				return
			case <-t.C:
			}
		}
	})
}

// Stop stops sampling, after one last sample.
func (p *Peak) Stop() {
	close(p.done)
	p.wg.Wait()
	p.observe()
}

// Max is the highest heap seen, in bytes.
func (p *Peak) Max() uint64 { return p.max.Load() }

func (p *Peak) observe() {
	v := Heap()
	for cur := p.max.Load(); v > cur && !p.max.CompareAndSwap(cur, v); cur = p.max.Load() {
	}
}

// Heap is the heap occupied by objects, live or not yet swept (what
// runtime.MemStats calls HeapAlloc), read without stopping the world.
func Heap() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
