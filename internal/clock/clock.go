// Package clock holds the one way keywarden's steps wait: a sleep that ends
// early when the invocation's context does, so a Lambda near its timeout
// returns its own error instead of being killed mid-wait.
package clock

import (
	"context"
	"time"
)

// Sleep waits d, or less if ctx ends first (then it returns ctx's error). A
// d of zero or less does not wait.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
