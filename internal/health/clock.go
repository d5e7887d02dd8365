package health

import (
	"context"
	"time"
)

// clock is the gate's time: the machine's for Wait. The unit tests give the gate a scripted
// one, so that what they assert about time does not depend on how fast the machine is.
type clock interface {
	Now() time.Time
	// Sleep returns after d, or ctx.Err() when ctx ends first.
	Sleep(ctx context.Context, d time.Duration) error
}

// machineClock is this machine's clock.
type machineClock struct{}

func (machineClock) Now() time.Time { return time.Now() }

func (machineClock) Sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
