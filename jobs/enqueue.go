package jobs

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/hibiken/asynq"

	"github.com/ess-onboard/onboard"
)

// EnqueueRecorder records which data versions' org:sync tasks are in the
// queue, so the ones a crash left out can be found again.
// *repository.Store satisfies it.
type EnqueueRecorder interface {
	MarkEnqueued(ctx context.Context, items []onboard.OrgVersion) error
}

// Enqueuer puts org:sync tasks into Redis from a small pool of goroutines
// (asynq v0.26 has no batch enqueue) and records each chunk once it is in.
type Enqueuer struct {
	Client   *asynq.Client
	Recorder EnqueueRecorder // nil: record nothing
	// Workers is the number of concurrent enqueue calls; 0 means 16.
	Workers int
	// Queue overrides the task's queue; "" means QueueSync.
	Queue string
	// Progress, when not nil, is called with the number enqueued so far.
	Progress func(n int)
}

// enqueueChunk is how many tasks go in before they are recorded.
const enqueueChunk = 2000

// EnqueueSync enqueues the org:sync task of every item. A task whose TaskID
// already exists counts as enqueued: the same data version is in the queue
// (or was done) already. It returns how many are in the queue; on error that
// many were enqueued and recorded, and the rest are left to the repair that
// looks for unrecorded work.
func (e *Enqueuer) EnqueueSync(ctx context.Context, items []onboard.OrgVersion) (int, error) {
	workers := e.Workers
	if workers <= 0 {
		workers = 16
	}
	var opts []asynq.Option
	if e.Queue != "" {
		opts = append(opts, asynq.Queue(e.Queue))
	}
	total := 0
	for start := 0; start < len(items); start += enqueueChunk {
		chunk := items[start:min(start+enqueueChunk, len(items))]
		done, err := e.enqueueChunk(ctx, chunk, workers, opts)
		if len(done) > 0 && e.Recorder != nil {
			if rerr := e.Recorder.MarkEnqueued(ctx, done); rerr != nil {
				return total, fmt.Errorf("record enqueued tasks: %w", rerr)
			}
		}
		total += len(done)
		if e.Progress != nil {
			e.Progress(total)
		}
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// enqueueChunk enqueues items concurrently and returns the ones that are in
// the queue, in their original order, with the first error met.
func (e *Enqueuer) enqueueChunk(ctx context.Context, items []onboard.OrgVersion, workers int, opts []asynq.Option) ([]onboard.OrgVersion, error) {
	ok := make([]bool, len(items))
	next := make(chan int)
	var (
		mu       sync.Mutex
		firstErr error
		wg       sync.WaitGroup
	)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for range min(workers, len(items)) {
		wg.Go(func() {
			for i := range next {
				it := items[i]
				_, err := e.Client.EnqueueContext(ctx, NewSyncTask(it.OrgID, it.DataVersion), opts...)
				if err == nil || errors.Is(err, asynq.ErrTaskIDConflict) {
					ok[i] = true
					continue
				}
				mu.Lock()
				if firstErr == nil {
					firstErr = fmt.Errorf("enqueue %s: %w", SyncTaskID(it.OrgID, it.DataVersion), err)
					cancel()
				}
				mu.Unlock()
			}
		})
	}
feed:
	for i := range items {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	done := make([]onboard.OrgVersion, 0, len(items))
	for i, it := range items {
		if ok[i] {
			done = append(done, it)
		}
	}
	return done, firstErr
}
