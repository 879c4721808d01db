package jobs

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"time"

	"github.com/ess-onboard/onboard"
)

// DispatchStore is what the dispatcher reads and writes.
type DispatchStore interface {
	// Dispatch leases the due work of every running application within
	// lim and calls put with it; nothing is recorded when put fails. ok is
	// false when another process's dispatch was running.
	Dispatch(ctx context.Context, now time.Time, lim onboard.DispatchLimits, put func(context.Context, []onboard.Work) error) (out []onboard.AppDispatch, ok bool, err error)
	RecordDispatchError(ctx context.Context, err error, now time.Time) error
}

// Dispatcher moves due work from Postgres into the queue. Run one in every
// worker process: the dispatches take turns (a transaction-level advisory
// lock), so any number of them is safe and one is enough.
//
// Per application and kind it keeps a window of work in the queue: about
// Window of work at the rate limit (QueueWindow seconds, so Redis holds
// the next few seconds of work, not the whole batch, and applications share
// the workers), and one polling round. Work handed out and not finished
// within its lease (the time it may wait in the queue, then the heartbeat
// of its handler) is handed out again under its next attempt: that is how
// a task Redis lost, or a killed worker's, comes back.
type Dispatcher struct {
	Store DispatchStore
	Queue *Queue
	// Rate is the calls per second per action the workers may make;
	// default 20.
	Rate float64
	// Interval between dispatches; default 1s.
	Interval time.Duration
	// Window is how many seconds of work at Rate one application keeps in
	// the queue per kind; default 15s.
	Window time.Duration
	// Lease is how long dispatched work may wait in the queue before it is
	// handed out again, beyond the time its place in the window needs at
	// Rate; default 30s.
	Lease time.Duration
	// AppIDs limits dispatching to these applications; nil: every one.
	AppIDs []string
	Now    func() time.Time
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

func (d *Dispatcher) limits() onboard.DispatchLimits {
	rate := d.Rate
	if rate <= 0 {
		rate = 20
	}
	window := d.Window
	if window <= 0 {
		window = 15 * time.Second
	}
	lease := d.Lease
	if lease <= 0 {
		lease = 30 * time.Second
	}
	n := int(math.Ceil(rate * window.Seconds()))
	return onboard.DispatchLimits{
		AppIDs: d.AppIDs,
		Window: map[string]int{onboard.WorkSync: n, onboard.WorkLogin: n, onboard.WorkService: n, onboard.WorkCheck: n, onboard.WorkVerify: n, onboard.WorkPoll: 1},
		Lease: func(kind string, i int) time.Duration {
			return lease + time.Duration(float64(i)/rate*float64(time.Second))
		},
	}
}

// Tick dispatches once and returns how many tasks it put in the queue.
func (d *Dispatcher) Tick(ctx context.Context) (int, error) {
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	at := now()
	out, _, err := d.Store.Dispatch(ctx, at, d.limits(), d.Queue.PutWork)
	if err != nil {
		if rerr := d.Store.RecordDispatchError(context.WithoutCancel(ctx), err, at); rerr != nil && !errors.Is(err, context.Canceled) {
			d.log().Warn("record dispatch error", "err", rerr)
		}
		return 0, err
	}
	n := 0
	for _, a := range out {
		n += len(a.Work)
	}
	return n, nil
}

func (d *Dispatcher) log() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.Default()
}

// Run dispatches every Interval until ctx ends. Errors (Postgres or Redis
// unreachable) are logged and the next tick tries again.
func (d *Dispatcher) Run(ctx context.Context) {
	interval := d.Interval
	if interval <= 0 {
		interval = time.Second
	}
	failing := false
	for {
		n, err := d.Tick(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && !failing:
			d.log().Warn("dispatch failed; trying again every interval", "err", err, "interval", interval)
			failing = true
		case err == nil && failing:
			d.log().Info("dispatching again", "tasks", n)
			failing = false
		}
		if n > 0 && err == nil {
			d.log().Debug("dispatched", "tasks", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}
