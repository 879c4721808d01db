package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/hibiken/asynq"
)

// ServerConfig configures the asynq servers of one worker process.
type ServerConfig struct {
	// Redis is the connection every server uses.
	Redis asynq.RedisConnOpt
	// Concurrency is the number of tasks each queue runs at once in this
	// process; missing queues take DefaultConcurrency(20).
	Concurrency map[string]int
	// ShutdownTimeout is how long in-flight tasks may run on after shutdown
	// begins before they are handed back to the queue; default 20s.
	ShutdownTimeout time.Duration
	// DelayedTaskCheckInterval is how often scheduled and retried tasks are
	// moved to their queue; 0 is asynq's default (5s).
	DelayedTaskCheckInterval time.Duration
	// Reconcile handles the tasks of QueueReconcile; nil: this process runs
	// no reconcile server.
	Reconcile asynq.Handler
	// Logger; nil means slog.Default().
	Logger *slog.Logger
	// LogLevel of asynq's own messages; zero is asynq's default (info).
	LogLevel asynq.LogLevel
}

// DefaultConcurrency returns per-queue concurrency for a rate limit of rate
// calls per second per action: enough tasks waiting their turn to keep the
// limit busy (rate × the time one task holds a slot, with headroom) and a
// few for the queues whose work is light.
func DefaultConcurrency(rate float64) map[string]int {
	busy := int(math.Ceil(rate*0.4)) + 4
	return map[string]int{
		QueueSync:      busy,
		QueueService:   busy,
		QueueAuth:      4,
		QueueReconcile: 2,
	}
}

// Run serves onboard's queues until ctx ends, then shuts down gracefully:
// the servers stop taking tasks, in-flight tasks get ShutdownTimeout to
// finish and are handed back to their queue after that. Each queue has a
// server of its own, so a queue waiting on the rate limiter never takes the
// worker slots of another.
func (w *Workers) Run(ctx context.Context, cfg ServerConfig) error {
	if cfg.Redis == nil {
		return errors.New("workers: no Redis connection")
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 20 * time.Second
	}
	log := cfg.Logger
	if log == nil {
		log = w.log
	}
	defaults := DefaultConcurrency(20)
	type queue struct {
		name    string
		handler asynq.Handler
	}
	mux := asynq.NewServeMux()
	w.Register(mux)
	queues := []queue{{QueueSync, mux}, {QueueAuth, mux}, {QueueService, mux}}
	if cfg.Reconcile != nil {
		queues = append(queues, queue{QueueReconcile, cfg.Reconcile})
	}
	var servers []*asynq.Server
	shutdown := func() {
		var wg sync.WaitGroup
		for _, s := range servers {
			wg.Add(1)
			go func() { defer wg.Done(); s.Shutdown() }()
		}
		wg.Wait()
	}
	for _, q := range queues {
		n := cfg.Concurrency[q.name]
		if n <= 0 {
			n = defaults[q.name]
		}
		srv := asynq.NewServer(cfg.Redis, asynq.Config{
			Concurrency:              n,
			Queues:                   map[string]int{w.Queue(q.name): 1},
			IsFailure:                IsFailure,
			RetryDelayFunc:           RetryDelayFunc(w.cfg.Policy),
			ShutdownTimeout:          cfg.ShutdownTimeout,
			DelayedTaskCheckInterval: cfg.DelayedTaskCheckInterval,
			Logger:                   asynqLogger{log.With("queue", w.Queue(q.name))},
			LogLevel:                 cfg.LogLevel,
		})
		if err := srv.Start(q.handler); err != nil {
			shutdown()
			return fmt.Errorf("start the %s server: %w", q.name, err)
		}
		servers = append(servers, srv)
	}
	<-ctx.Done()
	log.Info("shutting down: no new tasks; in-flight tasks finish or go back to their queue", "timeout", cfg.ShutdownTimeout)
	for _, s := range servers {
		s.Stop()
	}
	shutdown()
	if w.lim != nil {
		st := w.lim.Stats()
		log.Info("rate limiter", "calls", st.Waits, "waited", st.Waited.Round(time.Millisecond),
			"late_slots_given_up", st.LateSlots, "turns_too_far", st.Refusals)
	}
	return nil
}

// asynqLogger passes asynq's messages to slog.
type asynqLogger struct{ l *slog.Logger }

func (a asynqLogger) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...)) }
func (a asynqLogger) Info(args ...any)  { a.l.Info(fmt.Sprint(args...)) }
func (a asynqLogger) Warn(args ...any)  { a.l.Warn(fmt.Sprint(args...)) }
func (a asynqLogger) Error(args ...any) { a.l.Error(fmt.Sprint(args...)) }
func (a asynqLogger) Fatal(args ...any) { a.l.Error(fmt.Sprint(args...)); panic(fmt.Sprint(args...)) }

// ResumeResult says what a resume enqueued again.
type ResumeResult struct {
	Generation int
	Syncs      int // org:sync tasks
	Services   int // org:open_service tasks
	Polling    bool
}

// Resume clears appID's pause (and its batches' blocked reasons) and
// enqueues again every organization with work left: queued ones for sync,
// those opening services for their requested services, and a polling round
// for those awaiting authorization. TaskIDs carry the resume generation, so
// they never collide with the tasks of before. Resuming an application that
// is not paused only re-enqueues what is pending, which is harmless.
func (w *Workers) Resume(ctx context.Context, appID string) (ResumeResult, error) {
	gen, pending, err := w.store.ResumeApplication(ctx, appID)
	if err != nil {
		return ResumeResult{}, err
	}
	res := ResumeResult{Generation: gen}
	var tasks []queued
	awaiting := false
	for _, p := range pending {
		switch p.State {
		case "queued":
			tasks = append(tasks, queued{NewResyncTask(p.ID, p.DataVersion, gen), w.Queue(QueueSync)})
			res.Syncs++
		case "opening_services":
			for _, s := range p.Services {
				tasks = append(tasks, queued{NewOpenServiceTask(p.ID, p.DataVersion, s, gen), w.Queue(QueueService)})
				res.Services++
			}
		case "awaiting_auth":
			awaiting = true
		}
	}
	if err := enqueueAll(ctx, w.enq, tasks); err != nil {
		return res, err
	}
	if awaiting {
		t, err := w.store.EnsureAuthPoll(ctx, appID, 0, 0)
		if err != nil {
			return res, err
		}
		if err := w.enqueuePoll(ctx, t); err != nil {
			return res, err
		}
		res.Polling = true
	}
	return res, nil
}

// RetryFailed queues the failed organizations of a batch again from sync,
// with the TaskIDs of a new generation so they never collide with the
// finished tasks. It returns how many it queued.
func (w *Workers) RetryFailed(ctx context.Context, batchID int64) (int, error) {
	gen, orgs, err := w.store.RetryFailed(ctx, batchID)
	if err != nil {
		return 0, err
	}
	tasks := make([]queued, len(orgs))
	for i, o := range orgs {
		tasks[i] = queued{NewResyncTask(o.OrgID, o.DataVersion, gen), w.Queue(QueueSync)}
	}
	if err := enqueueAll(ctx, w.enq, tasks); err != nil {
		return 0, fmt.Errorf("%d organizations are queued again in the store, but enqueueing failed (the reconciliation sweep will enqueue the rest): %w", len(orgs), err)
	}
	return len(orgs), nil
}

// queued is a task and the queue it goes to.
type queued struct {
	task  *asynq.Task
	queue string
}

// enqueueAll enqueues tasks from a few goroutines; a TaskID already taken
// counts as enqueued.
func enqueueAll(ctx context.Context, enq TaskEnqueuer, tasks []queued) error {
	ch := make(chan queued)
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range ch {
				if _, err := enq.EnqueueContext(ctx, t.task, asynq.Queue(t.queue)); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("enqueue %s: %w", t.task.Type(), err)
					}
					mu.Unlock()
				}
			}
		}()
	}
	for _, t := range tasks {
		ch <- t
	}
	close(ch)
	wg.Wait()
	return first
}
