package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/esscallback"
	"github.com/ess-onboard/onboard/esssim"
	"github.com/ess-onboard/onboard/importer"
	"github.com/ess-onboard/onboard/intake"
	"github.com/ess-onboard/onboard/jobs"
	"github.com/ess-onboard/onboard/repository"
	"github.com/ess-onboard/onboard/results"
	"github.com/ess-onboard/onboard/web"
)

func init() {
	register(command{
		name:    "demo",
		summary: "the whole story in one process against a local simulator",
		run:     runDemo,
	})
}

const demoDescription = `
Runs the whole story in one process, with no account needed: starts the
essbasic simulator on a loopback port (companies verify themselves within
seconds; one in ten has its authorization letter rejected), applies the
database migrations, writes the sample spreadsheet, imports it (showing the
rows it rejects), runs the workers until every organization is final, then
prints the summary and writes the results file. Then it serves the dashboard
(--serve) with the simulator and the workers still running, so files uploaded
there are onboarded too, until Ctrl-C. With CI=true, or --serve "", it ends
after the summary.

Each run uses an application of its own (onboard-demo-<random>), so every run
shows the whole story, and the dashboard lists every run's batch.

It uses DATABASE_URL and REDIS_URL like every command (the database is
created when missing) and the simulator's own application and credentials,
so it touches no real application. Run it on a development setup: workers of
a real deployment sharing that Redis would pick up the demo's tasks.

Files written to --out: sample.xlsx (the input) and results.xlsx.`

func runDemo(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "demo", "demo [--out DIR] [--timeout D] [--serve ADDR]", demoDescription)
	serveAddr := fs.String("serve", "127.0.0.1:8080", "address of the dashboard served after the summary; \"\" for none")
	out := fs.String("out", "out/demo", "folder for sample.xlsx and results.xlsx")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up when organizations are not final after this long")
	verbose := fs.Bool("v", false, "show the workers' log")
	if err := parseFlags(env, fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("demo: unexpected argument %q (see 'onboard demo --help')", fs.Arg(0))
	}
	if *timeout <= 0 {
		return usagef("demo: --timeout must be positive")
	}
	cfg, err := loadConfig(env.Getenv)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fmt.Errorf("demo: %w", err)
	}

	// 1. The simulator on a loopback port, sending its callbacks to a
	// receiver of this run (started with the workers, below).
	cbLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("demo: start the callback receiver: %w", err)
	}
	defer cbLn.Close()
	cbKey, cbToken := "demo-callback-key-0123456789abcd", "demo-callback-token"
	sim := esssim.New(esssim.Options{Admins: &esssim.Admins{OpenAfter: 2 * time.Second}, Lifecycle: &esssim.Lifecycle{
		Unverified: time.Second, Verifying: time.Second, Pending: 2 * time.Second, RejectShare: 0.1},
		Callbacks: &esssim.Callbacks{URL: "http://" + cbLn.Addr().String() + web.CallbackPath, Key: cbKey, Token: cbToken}})
	defer sim.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("demo: start the simulator: %w", err)
	}
	hs := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln) //nolint:errcheck // ends with Close
	defer hs.Close()
	cfg.ESSEndpoint = "http://" + ln.Addr().String()
	cfg.ESSSecretID, cfg.ESSSecretKey, cfg.ESSRegion = esssim.DefaultSecretID, esssim.DefaultSecretKey, ""
	prefix, err := demoPrefix()
	if err != nil {
		return err
	}
	cfg.AppID = "onboard-" + strings.TrimSuffix(prefix, "-")
	cfg.QueryOrgOpenID, cfg.QueryOperatorOpenID = esssim.DefaultQueryOrgOpenID, esssim.DefaultQueryOperatorOpenID
	if err := sim.AddApp(esssim.App{AppID: cfg.AppID, QueryOrgOpenID: cfg.QueryOrgOpenID, QueryOperatorOpenID: cfg.QueryOperatorOpenID}); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	fmt.Fprintf(env.Stdout, "simulator on %s (application %s)\n", cfg.ESSEndpoint, cfg.AppID)

	// 2. The database, created when missing, and its migrations.
	if created, err := repository.CreateDatabase(ctx, cfg.DatabaseURL); err != nil {
		return err
	} else if created {
		fmt.Fprintf(env.Stdout, "created database %s\n", redactURL(cfg.DatabaseURL))
	}

	// 3. The sample file.
	samplePath := filepath.Join(*out, "sample.xlsx")
	if err := writeFile(samplePath, importer.WriteSample); err != nil {
		return fmt.Errorf("demo: write the sample: %w", err)
	}
	fmt.Fprintf(env.Stdout, "wrote the sample spreadsheet to %s\n", samplePath)

	// 4. Import it as 'onboard import' does, but into queues of this run
	// (a random prefix): Redis keeps finished tasks for a day, and their
	// TaskIDs, made of database ids, would collide with this run's when the
	// database was created afresh.
	imp, err := demoImport(ctx, cfg, samplePath)
	if err != nil {
		return err
	}
	printImport(env.Stdout, imp)
	batch := imp.BatchID

	// 5. The workers, in this process, polling often.
	logw := io.Discard
	if *verbose {
		logw = env.Stderr
	}
	log := slog.New(slog.NewTextHandler(logw, nil))
	wf := workerFlags{rateScope: "app", loginEndpoint: "H5", authTimeout: *timeout, adminTimeout: *timeout, pollMin: 500 * time.Millisecond,
		pollMax: 2 * time.Second, shutdownTimeout: 5 * time.Second, retryBudget: *timeout, retryBase: time.Second,
		retryMax: 5 * time.Second, checkInterval: 500 * time.Millisecond, lease: 30 * time.Second, pollCallbacks: 5 * time.Second,
		dispatchEvery: 200 * time.Millisecond, queuePrefix: prefix, dispatchApps: []string{cfg.AppID}}
	p, err := openWorkers(ctx, cfg, wf, log)
	if err != nil {
		return err
	}
	defer p.close()
	codec, err := esscallback.New(cbKey, cbToken)
	if err != nil {
		return err
	}
	rcv, err := web.NewCallbackReceiver(codec, p.store, nil, log)
	if err != nil {
		return err
	}
	cbMux := http.NewServeMux()
	cbMux.Handle("POST "+web.CallbackPath, rcv)
	cbSrv := &http.Server{Handler: cbMux, ReadHeaderTimeout: 10 * time.Second}
	go cbSrv.Serve(cbLn) //nolint:errcheck // ends with Close
	defer cbSrv.Close()
	fmt.Fprintf(env.Stdout, "callbacks from the platform arrive at http://%s%s\n", cbLn.Addr(), web.CallbackPath)
	wctx, stopWorkers := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- p.run(wctx) }()
	stop := func() error {
		stopWorkers()
		return <-done
	}

	// 6. Progress until every organization is final.
	fmt.Fprintln(env.Stdout)
	wait, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	defer dropDemoQueues(cfg, prefix) // after the workers stop
	defer stop()
	if err := watchStatus(wait, env, p.store, batch, true, false, time.Second); err != nil {
		return err
	}
	r, _, err := readStatus(ctx, p.store, batch)
	if err != nil {
		return err
	}
	if !r.Done {
		if ctx.Err() != nil {
			return errors.New("demo: interrupted")
		}
		return fmt.Errorf("demo: organizations not final after %v (see 'onboard status --batch %d')", *timeout, batch)
	}

	// 7. Summary and results file.
	resultsPath := filepath.Join(*out, "results.xlsx")
	b, err := p.store.Batch(ctx, batch)
	if err != nil {
		return err
	}
	err = writeFile(resultsPath, func(w io.Writer) error {
		return results.Write(w, b, func(fn func(repository.ResultRow) error) error { return p.store.BatchRows(ctx, batch, fn) })
	})
	if err != nil {
		return fmt.Errorf("demo: write the results: %w", err)
	}
	st := sim.Stats()
	rejected := 0
	for _, n := range st.RateLimited {
		rejected += n
	}
	fmt.Fprintf(env.Stdout, "\nbatch %d finished: %d organizations", batch, r.Total)
	for _, s := range stateOrder {
		if n := r.States[s]; n > 0 {
			fmt.Fprintf(env.Stdout, ", %d %s", n, s)
		}
	}
	fmt.Fprintf(env.Stdout, "; %d rows rejected at import\n", imp.Rejected)
	fmt.Fprintf(env.Stdout, "the simulator answered %d calls; %d were refused for the rate limit\n", totalCalls(st), rejected)
	if cc, err := p.store.CallbackCounts(ctx, cfg.AppID); err == nil {
		total := 0
		for _, n := range cc {
			total += n
		}
		fmt.Fprintf(env.Stdout, "the platform sent %d callbacks; %d made a check of their company due at once\n",
			total, cc[onboard.CallbackVerifyDue]+cc[onboard.CallbackCheckDue])
	}
	fmt.Fprintf(env.Stdout, "results file: %s\n", resultsPath)

	if *serveAddr == "" {
		return nil
	}
	if env.Getenv("CI") == "true" {
		fmt.Fprintln(env.Stdout, "CI=true: not starting the dashboard (run 'onboard serve' to see it)")
		return nil
	}
	return serveDemo(ctx, env, cfg, *serveAddr, prefix, log)
}

// serveDemo serves the dashboard on the demo's data and queues until ctx
// ends. A busy address falls back to a free port.
func serveDemo(ctx context.Context, env *Env, cfg Config, addr, prefix string, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(env.Stdout, "%s is busy (%v); using a free port\n", addr, err)
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return fmt.Errorf("demo: dashboard: %w", err)
		}
	}
	d, err := openDashboard(ctx, cfg, serveFlags{addr: ln.Addr().String(), maxUpload: web.DefaultMaxUploadSize, queuePrefix: prefix}, log)
	if err != nil {
		ln.Close()
		return err
	}
	defer d.close()
	fmt.Fprintf(env.Stdout, "\ndashboard: http://%s/  (queues at /monitoring/; upload more files there,\n"+
		"the simulator and the workers keep running; press Ctrl-C to stop)\n", ln.Addr())
	if err := d.server.Serve(ctx, ln); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}

func totalCalls(st esssim.Stats) int {
	n := 0
	for _, m := range st.Calls {
		for _, k := range m {
			n += k
		}
	}
	return n
}

// writeFile writes a file through fn, removing it when fn fails.
func writeFile(path string, fn func(io.Writer) error) error {
	// 0600: the results file carries the rows' personal data.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := fn(f); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

func demoPrefix() (string, error) {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "demo-" + hex.EncodeToString(b) + "-", nil
}

// demoImport imports the sample as 'onboard import' does; the demo's
// workers take its work.
func demoImport(ctx context.Context, cfg Config, path string) (*intake.Result, error) {
	store, err := openMigratedStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	return intake.New(store, intake.Limits{}).Import(ctx, intake.Request{Path: path, AppID: cfg.AppID})
}

// dropDemoQueues removes the demo's queues, tasks and limiter keys from
// Redis.
func dropDemoQueues(cfg Config, prefix string) {
	redisOpt, err := asynq.ParseRedisURI(cfg.RedisURL)
	if err != nil {
		return
	}
	rc, ok := redisOpt.MakeRedisClient().(redis.UniversalClient)
	if !ok {
		return
	}
	defer rc.Close()
	ctx := context.Background()
	for _, pattern := range []string{"asynq:{" + prefix + "*", prefix + "*"} {
		iter := rc.Scan(ctx, 0, pattern, 500).Iterator()
		for iter.Next(ctx) {
			rc.Del(ctx, iter.Val())
		}
	}
	for _, q := range jobs.Queues {
		rc.SRem(ctx, "asynq:queues", prefix+q)
	}
}
