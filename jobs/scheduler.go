package jobs

import (
	"context"
	"log/slog"
	"time"
)

// Scheduler asks for a sweep of every application on each tick of a
// schedule. Each tick's sweep has a TaskID of its own (SweepTaskID), so any
// number of schedulers enqueue it once, and a sweep that failed, or is
// still running, holds nothing that delays the next tick.
type Scheduler struct {
	Queue *Queue
	// Next returns the first tick after t (a cron schedule's Next).
	Next func(t time.Time) time.Time
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger; nil means slog.Default().
	Logger *slog.Logger
}

// Run enqueues a sweep at every tick until ctx ends. While Redis cannot be
// reached it keeps trying, until the tick after has come.
func (s *Scheduler) Run(ctx context.Context) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	log := s.Logger
	if log == nil {
		log = slog.Default()
	}
	for {
		tick := s.Next(now())
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(tick)):
		}
		following := s.Next(tick)
		for {
			added, err := s.Queue.PutSweep(ctx, "", tick)
			if err == nil {
				if added {
					log.Info("reconcile sweep enqueued", "task", SweepTaskID("", tick))
				} else {
					log.Info("reconcile sweep of this tick already enqueued by another scheduler", "task", SweepTaskID("", tick))
				}
				break
			}
			log.Warn("reconcile sweep not enqueued yet", "tick", tick, "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(2 * time.Second):
			}
			if !now().Before(following) {
				log.Error("reconcile sweep of a tick given up: Redis unreachable until the next tick", "tick", tick)
				break
			}
		}
	}
}
