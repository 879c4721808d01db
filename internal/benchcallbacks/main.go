// Command benchcallbacks measures (make bench-callbacks) how soon a company
// verified on the platform gets its service requested: with the platform's
// callbacks received by 'serve' and with polling alone, in one run. Each
// mode onboards N companies against the simulator, verifies them one by one
// by hand, and reports the p50 and p99 of the time from a company's
// verification to its ModifyExtendedService being recorded. Aim: p99 under
// 2 s with callbacks.
//
// Needs Postgres and Redis (see scripts/services.sh): TEST_DATABASE_URL and
// TEST_REDIS_URL point elsewhere; Redis db 10 is flushed.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/ess"
	"github.com/ess-onboard/onboard/esscallback"
	"github.com/ess-onboard/onboard/esssim"
	"github.com/ess-onboard/onboard/internal/benchrate"
	"github.com/ess-onboard/onboard/internal/testenv"
	"github.com/ess-onboard/onboard/jobs"
	"github.com/ess-onboard/onboard/repository"
	"github.com/ess-onboard/onboard/web"
)

func main() {
	n := flag.Int("n", 40, "companies per mode")
	every := flag.Duration("every", 500*time.Millisecond, "pause between two companies' verifications")
	pollMin := flag.Duration("poll-min", 5*time.Second, "the workers' --poll-min")
	pollMax := flag.Duration("poll-max", 60*time.Second, "the workers' --poll-max")
	flag.Parse()
	for _, withCallbacks := range []bool{true, false} {
		lat, err := run(*n, *every, *pollMin, *pollMax, withCallbacks)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench-callbacks:", err)
			os.Exit(1)
		}
		mode := "polling only   "
		if withCallbacks {
			mode = "with callbacks "
		}
		fmt.Printf("%s verification → service request: p50 %6.2fs  p99 %6.2fs  max %6.2fs  (%d companies, poll %v..%v)\n",
			mode, pct(lat, 0.50).Seconds(), pct(lat, 0.99).Seconds(), pct(lat, 1).Seconds(), len(lat), *pollMin, *pollMax)
	}
}

func pct(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(p*float64(len(s))+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func run(n int, every, pollMin, pollMax time.Duration, withCallbacks bool) ([]time.Duration, error) {
	ctx := context.Background()
	dbURL, drop, err := testenv.CreateDatabase(ctx, "benchcb")
	if err != nil {
		return nil, err
	}
	defer drop()
	store, err := repository.Open(ctx, dbURL)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	if _, err := store.Migrate(ctx); err != nil {
		return nil, err
	}
	redisURL := testenv.RedisURL() + "/10"
	ropt, err := redis.ParseURL(redisURL)
	if err != nil {
		return nil, err
	}
	rdb := redis.NewClient(ropt)
	defer rdb.Close()
	if err := rdb.FlushDB(ctx).Err(); err != nil {
		return nil, err
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	// The receiver, on a port of its own, as 'serve' runs it.
	key, token := strings.Repeat("b", 32), "bench-token"
	rln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	codec, err := esscallback.New(key, token)
	if err != nil {
		return nil, err
	}
	rcv, err := web.NewCallbackReceiver(codec, store, nil, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("POST "+web.CallbackPath, rcv)
	rs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go rs.Serve(rln) //nolint:errcheck // ends with Close
	defer rs.Close()

	opts := esssim.Options{Lifecycle: &esssim.Lifecycle{Manual: true}}
	if withCallbacks {
		opts.Callbacks = &esssim.Callbacks{URL: "http://" + rln.Addr().String() + web.CallbackPath, Key: key, Token: token}
	}
	sim := esssim.New(opts)
	sln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	ss := &http.Server{Handler: sim, ReadHeaderTimeout: 5 * time.Second}
	go ss.Serve(sln) //nolint:errcheck // ends with Close
	defer ss.Close()
	defer sim.Close()

	lim := jobs.NewLimiter(rdb, jobs.LimiterConfig{Rate: 20, Prefix: "benchcb:rl"})
	api, err := ess.New(ess.Config{Endpoint: "http://" + sln.Addr().String(), SecretID: esssim.DefaultSecretID,
		SecretKey: esssim.DefaultSecretKey, Timeout: 10 * time.Second,
		Transport: &jobs.LimitedTransport{Limiter: lim, DefaultScope: esssim.DefaultAppID, Base: http.DefaultTransport}})
	if err != nil {
		return nil, err
	}
	aopt, err := asynq.ParseRedisURI(redisURL)
	if err != nil {
		return nil, err
	}
	client := asynq.NewClient(aopt)
	defer client.Close()
	w := jobs.NewWorkers(store, api, lim, client, jobs.Config{
		QueryIdentities: map[string]jobs.QueryIdentity{esssim.DefaultAppID: {OrgOpenID: esssim.DefaultQueryOrgOpenID, OperatorOpenID: esssim.DefaultQueryOperatorOpenID}},
		PollMin:         pollMin, PollMax: pollMax, Logger: quiet, QueuePrefix: "benchcb-"})
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- w.Run(wctx, jobs.ServerConfig{Redis: aopt, Dispatcher: w.NewDispatcher(20, 100*time.Millisecond),
			DelayedTaskCheckInterval: 500 * time.Millisecond, Logger: quiet, LogLevel: asynq.ErrorLevel})
	}()
	defer func() { stop(); <-done }()

	services := []onboard.ServiceType{onboard.ServiceMobileCheckApprover}
	data := make([]onboard.OrgData, n)
	for i := range data {
		data[i] = benchrate.Org("cb", i, services, false)
	}
	res, err := store.Import(ctx, repository.ImportParams{AppID: esssim.DefaultAppID, FileName: "bench.xlsx",
		FileSHA256: "bench", Sheet: "S", HeaderRow: 1, Headers: benchrate.Headers}, benchrate.Rows(data), nil)
	if err != nil {
		return nil, err
	}
	if err := waitState(ctx, store, res.BatchID, onboard.StateAwaitingAuth, n, 2*time.Minute); err != nil {
		return nil, err
	}
	verified := make([]time.Time, n)
	for i, d := range data {
		verified[i] = time.Now()
		if err := sim.SetStatus(esssim.DefaultAppID, d.OpenID, ess.StatusVerified); err != nil {
			return nil, err
		}
		time.Sleep(every)
	}
	if err := waitState(ctx, store, res.BatchID, onboard.StateDone, n, 5*time.Minute); err != nil {
		return nil, err
	}
	var lat []time.Duration
	for i, d := range data {
		id, err := store.OrgIDByOpenID(ctx, esssim.DefaultAppID, d.OpenID)
		if err != nil {
			return nil, err
		}
		events, err := store.OrgEvents(ctx, id)
		if err != nil {
			return nil, err
		}
		for _, e := range events {
			if strings.HasPrefix(e.Step, "service:") {
				lat = append(lat, e.At.Sub(verified[i]))
				break
			}
		}
	}
	return lat, nil
}

func waitState(ctx context.Context, store *repository.Store, batch int64, state string, n int, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := store.StateCounts(ctx, batch)
		if err != nil {
			return err
		}
		if c[state] == n {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("after %v: %v, want %d %s", timeout, c, n, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
