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
	// TaskCheckInterval is how often an idle server looks for a new task;
	// default 250ms, so a step handed out on a callback starts at once
	// (asynq's own default is a second; each idle server then asks Redis
	// four times a second).
	TaskCheckInterval time.Duration
	// DelayedTaskCheckInterval is how often scheduled and retried tasks are
	// moved to their queue; 0 is asynq's default (5s).
	DelayedTaskCheckInterval time.Duration
	// Reconcile handles the tasks of QueueReconcile; nil: this process runs
	// no reconcile server.
	Reconcile asynq.Handler
	// Dispatcher moves due work into the queue while the servers run; nil:
	// this process dispatches nothing (another must).
	Dispatcher *Dispatcher
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
		QueueLogin:     busy,
		QueueService:   busy,
		QueueAuth:      4,
		QueueReconcile: 2,
	}
}

// Run serves onboard's queues (and runs the dispatcher) until ctx ends,
// then shuts down gracefully: the dispatcher stops, the servers stop taking
// tasks, in-flight tasks get ShutdownTimeout to finish; one still running
// then has its context canceled and hands its work back (due at once, no
// try used), so a worker started right after loses nothing and repeats no
// call whose result was recorded. Each queue has a server of its own, so a
// queue waiting on the rate limiter never takes the worker slots of
// another.
func (w *Workers) Run(ctx context.Context, cfg ServerConfig) error {
	if cfg.Redis == nil {
		return errors.New("workers: no Redis connection")
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 20 * time.Second
	}
	if cfg.TaskCheckInterval <= 0 {
		cfg.TaskCheckInterval = 250 * time.Millisecond
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
	queues := []queue{{QueueSync, mux}, {QueueLogin, mux}, {QueueAuth, mux}, {QueueService, mux}}
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
			TaskCheckInterval:        cfg.TaskCheckInterval,
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
	dctx, stopDispatch := context.WithCancel(context.WithoutCancel(ctx))
	dispatched := make(chan struct{})
	go func() {
		defer close(dispatched)
		if cfg.Dispatcher != nil {
			cfg.Dispatcher.Run(dctx)
		}
	}()
	<-ctx.Done()
	stopDispatch()
	<-dispatched
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
