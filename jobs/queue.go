package jobs

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/ess-onboard/onboard"
)

// TaskEnqueuer enqueues tasks (*asynq.Client).
type TaskEnqueuer interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// Queue is the one way onboard puts tasks into Redis: it alone knows the
// task options, TaskIDs, queue names and what a TaskID conflict means (the
// task is there already: done). The dispatcher puts work through it, the
// scheduler its sweeps.
type Queue struct {
	Client TaskEnqueuer
	// Prefix goes before every queue name, to keep separate sets of
	// workers apart on one Redis database.
	Prefix string
	// Retention keeps finished tasks, with their results, visible in the
	// dashboard for this long; default 10 minutes, so what Redis holds
	// grows with the rate of work, not with the size of a batch.
	Retention time.Duration
	// Workers is the number of concurrent enqueue calls; default 16.
	Workers int
}

// DefaultRetention is how long finished tasks stay in Redis by default.
const DefaultRetention = 10 * time.Minute

// TaskTimeout bounds one run of a work task (its calls, waits and writes).
const TaskTimeout = 2 * time.Minute

// Name returns the queue name this process uses for base (QueueSync...).
func (q *Queue) Name(base string) string { return q.Prefix + base }

func (q *Queue) retention() time.Duration {
	if q.Retention > 0 {
		return q.Retention
	}
	return DefaultRetention
}

// task builds the task of one dispatch of work.
func (q *Queue) task(w onboard.Work) (*asynq.Task, error) {
	kt, ok := kindTask[w.Kind]
	if !ok {
		return nil, fmt.Errorf("work %d: unknown kind %q", w.ID, w.Kind)
	}
	return asynq.NewTask(kt.typ, workPayload(w),
		asynq.TaskID(WorkTaskID(w)),
		asynq.Queue(q.Name(kt.queue)),
		// The dispatcher hands work out again when its task is lost or
		// overruns its lease: asynq's own retries only cover a handler
		// that cannot reach Postgres.
		asynq.MaxRetry(10),
		asynq.Timeout(TaskTimeout),
		asynq.Retention(q.retention()),
	), nil
}

// PutWork enqueues one task per work, from a few goroutines (asynq v0.26
// has no batch enqueue). A TaskID already taken counts as enqueued. It
// returns the first error, after trying every task.
func (q *Queue) PutWork(ctx context.Context, ws []onboard.Work) error {
	n := q.Workers
	if n <= 0 {
		n = 16
	}
	next := make(chan onboard.Work)
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	for range min(n, len(ws)) {
		wg.Go(func() {
			for w := range next {
				t, err := q.task(w)
				if err == nil {
					_, err = q.Client.EnqueueContext(ctx, t)
				}
				if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("enqueue %s: %w", WorkTaskID(w), err)
					}
					mu.Unlock()
				}
			}
		})
	}
	for _, w := range ws {
		next <- w
	}
	close(next)
	wg.Wait()
	return first
}

// SweepTaskID is the TaskID of the sweep of appID ("" for all) that the
// schedule's tick at tick asks for: every scheduler enqueues the same one.
func SweepTaskID(appID string, tick time.Time) string {
	if appID == "" {
		appID = "all"
	}
	return fmt.Sprintf("%s:%s:%d", TypeReconcileSweep, appID, tick.Unix())
}

// PutSweep enqueues the sweep of appID ("" for every application) for the
// tick at tick. Any number of schedulers may ask for the same tick: one
// task runs. A sweep that fails is retried a few times and then kept in the
// archive, but it takes no lock or uniqueness key with it: the next tick
// has a TaskID of its own. It reports whether this call enqueued it.
func (q *Queue) PutSweep(ctx context.Context, appID string, tick time.Time) (bool, error) {
	t := asynq.NewTask(TypeReconcileSweep, mustJSON(ReconcilePayload{AppID: appID}),
		asynq.TaskID(SweepTaskID(appID, tick)),
		asynq.Queue(q.Name(QueueReconcile)),
		asynq.MaxRetry(3),
		asynq.Timeout(30*time.Minute),
		asynq.Retention(24*time.Hour),
	)
	_, err := q.Client.EnqueueContext(ctx, t)
	switch {
	case errors.Is(err, asynq.ErrTaskIDConflict):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("enqueue %s: %w", SweepTaskID(appID, tick), err)
	}
	return true, nil
}

// DropQueues removes from Redis everything of the processes started with
// prefix: their queues (asynq's keys and its list of queues), their tasks
// and their limiter keys. Nothing else is touched. For a run whose queues
// are its own, such as the demo's; prefix must not be empty.
func DropQueues(ctx context.Context, rc redis.UniversalClient, prefix string) {
	if prefix == "" {
		return
	}
	for _, pattern := range []string{"asynq:{" + prefix + "*", prefix + "*"} {
		iter := rc.Scan(ctx, 0, pattern, 500).Iterator()
		for iter.Next(ctx) {
			rc.Del(ctx, iter.Val())
		}
	}
	for _, q := range Queues {
		rc.SRem(ctx, "asynq:queues", prefix+q)
	}
}
