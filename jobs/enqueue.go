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
// (asynq v0.26 has no batch enqueue) and records each chunk once it is in,
// while the next chunk is being enqueued.
type Enqueuer struct {
	Client   *asynq.Client
	Recorder EnqueueRecorder // nil: record nothing
	// Workers is the number of concurrent enqueue calls; 0 means 32.
	Workers int
	// Queue overrides the task's queue; "" means QueueSync.
	Queue string
	// Progress, when not nil, is called with the number enqueued so far.
	Progress func(n int)
}

// enqueueChunk is how many tasks go in before they are recorded.
const enqueueChunk = 5000

// EnqueueSync enqueues the org:sync task of every item. A task whose TaskID
// already exists counts as enqueued: the same data version is in the queue
// (or was done) already. It returns how many it put in the queue; on error,
// the ones recorded are a subset of those, and whatever is not recorded is
// left to the repair that looks for unrecorded work.
func (e *Enqueuer) EnqueueSync(ctx context.Context, items []onboard.OrgVersion) (int, error) {
	workers := e.Workers
	if workers <= 0 {
		workers = 32
	}
	var opts []asynq.Option
	if e.Queue != "" {
		opts = append(opts, asynq.Queue(e.Queue))
	}

	// Recording runs beside enqueueing: chunk k is written to the store
	// while chunk k+1 goes to Redis.
	var (
		recMu  sync.Mutex
		recErr error
	)
	recordErr := func() error {
		recMu.Lock()
		defer recMu.Unlock()
		return recErr
	}
	toRecord := make(chan []onboard.OrgVersion, 1)
	recDone := make(chan struct{})
	go func() {
		defer close(recDone)
		for done := range toRecord {
			if e.Recorder == nil {
				continue
			}
			if err := e.Recorder.MarkEnqueued(ctx, done); err != nil {
				recMu.Lock()
				recErr = fmt.Errorf("record enqueued tasks: %w", err)
				recMu.Unlock()
				for range toRecord { // stop recording; let the sender finish
				}
				return
			}
		}
	}()

	total := 0
	var enqErr error
	for start := 0; start < len(items) && enqErr == nil && recordErr() == nil; start += enqueueChunk {
		chunk := items[start:min(start+enqueueChunk, len(items))]
		var done []onboard.OrgVersion
		done, enqErr = e.enqueueChunk(ctx, chunk, workers, opts)
		total += len(done)
		if len(done) > 0 {
			toRecord <- done
		}
		if e.Progress != nil {
			e.Progress(total)
		}
	}
	close(toRecord)
	<-recDone
	if err := recordErr(); err != nil {
		return total, err
	}
	return total, enqErr
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
