package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"sort"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/internal/testenv"
)

// enqueueRedisDB is the Redis database of the enqueue tests. These tests do
// not run in parallel with each other: each flushes it.
const enqueueRedisDB = 1

// recorder is an EnqueueRecorder that remembers what it was told.
type recorder struct {
	mu    sync.Mutex
	calls [][]onboard.OrgVersion
	err   error
}

func (r *recorder) MarkEnqueued(_ context.Context, items []onboard.OrgVersion) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, append([]onboard.OrgVersion(nil), items...))
	return r.err
}

func (r *recorder) all() []onboard.OrgVersion {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []onboard.OrgVersion
	for _, c := range r.calls {
		out = append(out, c...)
	}
	return out
}

func enqueueClient(t *testing.T) (*asynq.Client, *asynq.Inspector) {
	t.Helper()
	_, url := testenv.Redis(t, enqueueRedisDB)
	opt, err := asynq.ParseRedisURI(url)
	if err != nil {
		t.Fatal(err)
	}
	c := asynq.NewClient(opt)
	in := asynq.NewInspector(opt)
	t.Cleanup(func() { c.Close(); in.Close() })
	return c, in
}

func versions(n int, dataVersion int) []onboard.OrgVersion {
	out := make([]onboard.OrgVersion, n)
	for i := range out {
		out[i] = onboard.OrgVersion{OrgID: int64(1000 + i), DataVersion: dataVersion}
	}
	return out
}

func TestEnqueueSync(t *testing.T) {
	ctx := context.Background()
	client, inspector := enqueueClient(t)
	queue := "test-enqueue-sync"
	items := versions(2500, 1) // more than one chunk
	rec := &recorder{}
	e := &Enqueuer{Client: client, Recorder: rec, Queue: queue, Workers: 8}

	n, err := e.EnqueueSync(ctx, items)
	if err != nil || n != len(items) {
		t.Fatalf("EnqueueSync = %d, %v; want %d, nil", n, err, len(items))
	}
	recorded := rec.all()
	sort.Slice(recorded, func(i, j int) bool { return recorded[i].OrgID < recorded[j].OrgID })
	if diff := cmp.Diff(items, recorded); diff != "" {
		t.Fatalf("recorded (-want +got):\n%s", diff)
	}

	tasks, err := inspector.ListPendingTasks(queue, asynq.PageSize(5000))
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != len(items) {
		t.Fatalf("%d pending tasks in Redis, want %d", len(tasks), len(items))
	}
	byID := map[string]*asynq.TaskInfo{}
	for _, ti := range tasks {
		byID[ti.ID] = ti
	}
	for _, it := range items {
		ti := byID[SyncTaskID(it.OrgID, it.DataVersion)]
		if ti == nil {
			t.Fatalf("no task %s in Redis", SyncTaskID(it.OrgID, it.DataVersion))
		}
		if ti.Type != TypeOrgSync {
			t.Errorf("task %s has type %s", ti.ID, ti.Type)
		}
		// Only ids in the payload: decode into a map so any extra key shows.
		var payload map[string]any
		if err := json.Unmarshal(ti.Payload, &payload); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{"org_id": float64(it.OrgID), "data_version": float64(it.DataVersion)}
		if diff := cmp.Diff(want, payload); diff != "" {
			t.Fatalf("payload of %s (-want +got):\n%s", ti.ID, diff)
		}
	}

	// The same versions again: already there, counted as enqueued, no duplicates.
	rec2 := &recorder{}
	e.Recorder = rec2
	n, err = e.EnqueueSync(ctx, items[:10])
	if err != nil || n != 10 || len(rec2.all()) != 10 {
		t.Fatalf("second EnqueueSync = %d, %v (recorded %d); want 10 enqueued and recorded", n, err, len(rec2.all()))
	}
	q, err := inspector.GetQueueInfo(queue)
	if err != nil {
		t.Fatal(err)
	}
	if q.Size != len(items) {
		t.Fatalf("queue holds %d tasks after a repeated enqueue, want %d", q.Size, len(items))
	}
}

func TestEnqueueSyncDefaultQueue(t *testing.T) {
	client, inspector := enqueueClient(t)
	e := &Enqueuer{Client: client}
	if n, err := e.EnqueueSync(context.Background(), versions(3, 4)); err != nil || n != 3 {
		t.Fatalf("EnqueueSync = %d, %v", n, err)
	}
	ti, err := inspector.GetTaskInfo(QueueSync, SyncTaskID(1001, 4))
	if err != nil {
		t.Fatalf("task in %s: %v", QueueSync, err)
	}
	if ti.MaxRetry == 0 || ti.Retention == 0 {
		t.Errorf("task options lost: max retry %d, retention %v", ti.MaxRetry, ti.Retention)
	}
}

func TestEnqueueSyncRedisDown(t *testing.T) {
	// Nothing listens on port 1.
	client := asynq.NewClient(asynq.RedisClientOpt{Addr: "127.0.0.1:1"})
	defer client.Close()
	rec := &recorder{}
	e := &Enqueuer{Client: client, Recorder: rec}
	n, err := e.EnqueueSync(context.Background(), versions(50, 1))
	if err == nil || n != 0 {
		t.Fatalf("EnqueueSync with Redis down = %d, %v; want 0 and an error", n, err)
	}
	if got := rec.all(); len(got) != 0 {
		t.Fatalf("recorded %d items that were never enqueued", len(got))
	}
}

func TestEnqueueSyncRecorderFails(t *testing.T) {
	client, _ := enqueueClient(t)
	rec := &recorder{err: errors.New("database gone")}
	e := &Enqueuer{Client: client, Recorder: rec, Queue: "test-enqueue-recorder"}
	items := versions(3*enqueueChunk, 1)
	n, err := e.EnqueueSync(context.Background(), items)
	if err == nil || !errors.Is(err, rec.err) {
		t.Fatalf("err = %v, want the recorder's error", err)
	}
	// Recording runs one chunk behind enqueueing; it stops both.
	if n >= len(items) || len(rec.calls) != 1 {
		t.Fatalf("enqueued %d of %d with %d record calls; want a stop after the first failed record", n, len(items), len(rec.calls))
	}
}

func TestEnqueueSyncCanceled(t *testing.T) {
	client, _ := enqueueClient(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	e := &Enqueuer{Client: client, Queue: "test-enqueue-canceled"}
	n, err := e.EnqueueSync(ctx, versions(100, 1))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if n == 100 {
		t.Fatalf("all %d enqueued despite a canceled context", n)
	}
}
