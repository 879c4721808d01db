package jobs_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/ess"
	"github.com/ess-onboard/onboard/esssim"
	"github.com/ess-onboard/onboard/internal/benchrate"
	"github.com/ess-onboard/onboard/internal/testenv"
	"github.com/ess-onboard/onboard/jobs"
	"github.com/ess-onboard/onboard/repository"
)

// The integration tests keep work in Redis for many seconds, while every
// other test of this package (and other people's runs of it) flushes db 2
// as it starts. So they use db 6, which no test flushes, under queue names
// and limiter keys unique to the test, and delete only their own keys:
// those that assert nothing about the rate limit run in parallel.
const redisDB = 6

const appID = esssim.DefaultAppID

// harness is one test's real Postgres database, Redis db and simulator.
type harness struct {
	t        *testing.T
	store    *repository.Store
	sim      *esssim.Server
	simURL   string
	redisURL string
	prefix   string // of this test's queue names and limiter keys
	redisOpt asynq.RedisConnOpt
	client   *asynq.Client
}

func newHarness(t *testing.T, opts esssim.Options) *harness {
	t.Helper()
	ctx := context.Background()
	dbURL := testenv.NewDatabase(t)
	store, err := repository.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	if _, err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	redisURL, prefix := testenv.IsolatedRedis(t, redisDB)
	redisOpt, err := asynq.ParseRedisURI(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	client := asynq.NewClient(redisOpt)
	t.Cleanup(func() { client.Close() })
	if opts.Admins == nil {
		// Admins open their links soon after they are issued.
		opts.Admins = &esssim.Admins{OpenAfter: 300 * time.Millisecond}
	}
	if opts.Lifecycle == nil {
		opts.Lifecycle = &esssim.Lifecycle{Unverified: 100 * time.Millisecond, Verifying: 100 * time.Millisecond, Pending: 100 * time.Millisecond}
	}
	sim := esssim.New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	return &harness{t: t, store: store, sim: sim, simURL: srv.URL, redisURL: redisURL, prefix: prefix, redisOpt: redisOpt, client: client}
}

// workerOpts tune one worker process of a test.
type workerOpts struct {
	secretKey   string // "" is the simulator's
	rate        float64
	concurrency int
	budget      time.Duration // transient errors' budget; default 1 minute
	authTimeout time.Duration
	configure   func(*jobs.Config)
}

// startWorker starts one worker process's worth of servers (with their own
// Redis connections and API client) and returns its workers and a function
// that stops it; the test's cleanup stops it too.
func (h *harness) startWorker(o workerOpts) (*jobs.Workers, func()) {
	h.t.Helper()
	if o.secretKey == "" {
		o.secretKey = esssim.DefaultSecretKey
	}
	if o.rate == 0 {
		o.rate = 20
	}
	if o.budget == 0 {
		o.budget = time.Minute
	}
	opt, err := redis.ParseURL(h.redisURL)
	if err != nil {
		h.t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	lim := jobs.NewLimiter(rdb, jobs.LimiterConfig{Rate: o.rate, Prefix: h.prefix + "onboard:rl"})
	api, err := ess.New(ess.Config{Endpoint: h.simURL, SecretID: esssim.DefaultSecretID, SecretKey: o.secretKey,
		Timeout: 10 * time.Second, Transport: &jobs.LimitedTransport{Limiter: lim, DefaultScope: appID, Base: http.DefaultTransport}})
	if err != nil {
		h.t.Fatal(err)
	}
	enq := asynq.NewClient(h.redisOpt)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(testWriter{h.t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	cfg := jobs.Config{
		QueryIdentities: map[string]jobs.QueryIdentity{appID: {OrgOpenID: esssim.DefaultQueryOrgOpenID, OperatorOpenID: esssim.DefaultQueryOperatorOpenID}},
		AuthTimeout:     o.authTimeout,
		PollMin:         300 * time.Millisecond,
		PollMax:         time.Second,
		Policy:          onboard.RetryPolicy{Budget: o.budget, BaseDelay: 200 * time.Millisecond, MaxDelay: time.Second, InfraDelay: 200 * time.Millisecond},
		Lease:           3 * time.Second,
		Logger:          logger,
		QueuePrefix:     h.prefix,
	}
	if o.configure != nil {
		o.configure(&cfg)
	}
	w := jobs.NewWorkers(h.store, api, lim, enq, cfg)
	conc := jobs.DefaultConcurrency(o.rate)
	if o.concurrency > 0 {
		for q := range conc {
			conc[q] = o.concurrency
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		d := w.NewDispatcher(o.rate, 100*time.Millisecond)
		d.Lease = 3 * time.Second
		done <- w.Run(ctx, jobs.ServerConfig{Redis: h.redisOpt, Concurrency: conc, ShutdownTimeout: 5 * time.Second,
			DelayedTaskCheckInterval: 300 * time.Millisecond, Logger: logger, LogLevel: asynq.ErrorLevel, Dispatcher: d})
	}()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				h.t.Errorf("workers: %v", err)
			}
			enq.Close()
			rdb.Close()
		})
	}
	h.t.Cleanup(stop)
	return w, stop
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// importOrgs stores data as one batch, as 'onboard import' does: the
// workers' dispatcher takes its work from there.
func (h *harness) importOrgs(data []onboard.OrgData) int64 {
	h.t.Helper()
	ctx := context.Background()
	res, err := h.store.Import(ctx, repository.ImportParams{AppID: appID, FileName: "test.xlsx", FileSHA256: "x",
		Sheet: "Sheet1", HeaderRow: 1, Headers: benchrate.Headers}, benchrate.Rows(data), nil)
	if err != nil {
		h.t.Fatal(err)
	}
	return res.BatchID
}

// waitFinal waits until every organization of the batch is in a final state
// and returns the counts per state.
func (h *harness) waitFinal(batchID int64, timeout time.Duration) map[string]int {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	var counts map[string]int
	for {
		var err error
		counts, err = h.store.StateCounts(context.Background(), batchID)
		if err != nil {
			h.t.Fatal(err)
		}
		final := true
		for s, n := range counts {
			if n > 0 && !onboard.IsFinal(s) {
				final = false
			}
		}
		if final {
			return counts
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("batch %d not final after %v: %v", batchID, timeout, counts)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// org returns the test application's organization openID.
func (h *harness) org(openID string) *onboard.Org {
	h.t.Helper()
	ctx := context.Background()
	id, err := h.store.OrgIDByOpenID(ctx, appID, openID)
	if err != nil {
		h.t.Fatal(err)
	}
	o, err := h.store.OnboardingOrg(ctx, id, false)
	if err != nil {
		h.t.Fatal(err)
	}
	return o
}

// checkPollingCost checks every recorded polling round against the rule
// calls ≤ min(waiting, ceil(app_orgs/200)) + 1.
func (h *harness) checkPollingCost() (rounds int) {
	h.t.Helper()
	rs, err := h.store.PollRounds(context.Background(), appID)
	if err != nil {
		h.t.Fatal(err)
	}
	for _, r := range rs {
		bound := min(r.Waiting, (r.AppOrgs+199)/200) + 1
		if r.Calls > bound {
			h.t.Errorf("polling round %d (%s): %d calls for %d waiting of %d companies; bound %d", r.Round, r.Mode, r.Calls, r.Waiting, r.AppOrgs, bound)
		}
	}
	return len(rs)
}

func inspector(t *testing.T, h *harness) *asynq.Inspector {
	in := asynq.NewInspector(h.redisOpt)
	t.Cleanup(func() { in.Close() })
	return in
}
