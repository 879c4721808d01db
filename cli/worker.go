package cli

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/jobs"
	"github.com/ess-onboard/onboard/web"
)

func init() {
	register(command{
		name:    "worker",
		summary: "run the workers: sync companies, poll their verification, open their services",
		run:     runWorker,
	})
}

// workerFlags are the worker command's flags (also used by demo).
type workerFlags struct {
	shared
	concurrency     int
	loginEndpoint   string
	serviceEndpoint string
	authTimeout     time.Duration
	adminTimeout    time.Duration
	pollCallbacks   time.Duration
	pollMin         time.Duration
	pollMax         time.Duration
	shutdownTimeout time.Duration
	retryBudget     time.Duration
	retryBase       time.Duration
	retryMax        time.Duration
	checkInterval   time.Duration
	lease           time.Duration
	dispatchEvery   time.Duration
	metricsAddr     string
	// dispatchApps limits the dispatcher to these applications (the
	// demo's); nil: every application.
	dispatchApps []string
}

func (f *workerFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&f.concurrency, "concurrency", 0, "tasks run at once per queue of the sync and service actions (0: enough for ESS_RATE_LIMIT)")
	f.registerRateScope(fs)
	fs.StringVar(&f.loginEndpoint, "login-endpoint", "H5", "CreateConsoleLoginUrl Endpoint of admins' console links (H5, SHORT_URL, APP, PC, ...; PC links live 5 minutes, mobile ones 30 days)")
	fs.StringVar(&f.serviceEndpoint, "service-endpoint", "", "ModifyExtendedService Endpoint (empty: the platform's default, WEIXINAPP)")
	fs.DurationVar(&f.authTimeout, "auth-timeout", 30*24*time.Hour, "how long a company may take to verify itself before it is timed_out")
	fs.DurationVar(&f.adminTimeout, "admin-timeout", 30*24*time.Hour, "how long an admin may take to open the service links (they are renewed while the service is not open) before the company is timed_out")
	fs.DurationVar(&f.pollCallbacks, "poll-with-callbacks", 30*time.Minute, "shortest pause between polling rounds while the platform's callbacks arrive for the application ('serve' receives them; polling then only finds callbacks that were lost)")
	fs.DurationVar(&f.pollMin, "poll-min", time.Minute, "pause between authorization polling rounds while things change")
	fs.DurationVar(&f.pollMax, "poll-max", time.Hour, "longest pause between polling rounds (it doubles every round nothing changes)")
	fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 20*time.Second, "how long tasks in flight may finish after SIGTERM before they go back to the queue")
	fs.DurationVar(&f.retryBudget, "retry-budget", 24*time.Hour, "how long transient errors of a company may go on, from the first of a run of them, before it fails")
	fs.DurationVar(&f.retryBase, "retry-base", 5*time.Second, "back-off after the first transient failure (doubles per try, with jitter)")
	fs.DurationVar(&f.retryMax, "retry-max", 5*time.Minute, "longest back-off between tries")
	fs.DurationVar(&f.checkInterval, "check-interval", 0, "how often asynq moves retried tasks to their queue (0: asynq's 5s)")
	fs.DurationVar(&f.lease, "lease", 30*time.Second, "how long dispatched work may wait in the queue, and a running task may go without a heartbeat, before the work is handed out again")
	fs.DurationVar(&f.dispatchEvery, "dispatch-interval", time.Second, "how often the dispatcher moves due work into the queues")
	f.registerQueuePrefix(fs, "put this before every queue name and rate limiter key, to keep a separate set of workers apart on one Redis")
	fs.StringVar(&f.metricsAddr, "metrics-addr", "", "serve this process's Prometheus metrics (calls by action and code, latency, limiter waits) at http://ADDR/metrics; empty: none")
}

func runWorker(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "worker", "worker [--concurrency N] [flags]", "")
	var f workerFlags
	f.register(fs)
	if err := parseFlags(env, fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return strayArg(env, "worker", fs.Arg(0))
	}
	if err := f.validate(env); err != nil {
		return err
	}
	cfg, err := loadConfig(env.Getenv)
	if err != nil {
		return err
	}
	p, err := openParts(ctx, cfg, f.shared, slog.New(slog.NewTextHandler(env.Stderr, nil)), needRedisUp|needStore|needAPI|needQueue)
	if err != nil {
		return err
	}
	defer p.Close()
	w, sc := f.process(p)
	names := make([]string, len(jobs.Queues))
	for i, q := range jobs.Queues {
		names[i] = w.Queue(q)
	}
	pr := env.printer()
	fmt.Fprintln(env.Stderr, pr.T("cli.worker.serving", "Queues", strings.Join(names, ", "),
		"Slots", sc.Concurrency[jobs.QueueSync], "Rate", cfg.ESSRateLimit))
	if f.metricsAddr != "" {
		ln, err := net.Listen("tcp", f.metricsAddr)
		if err != nil {
			return fmt.Errorf("worker: --metrics-addr: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", web.WorkerMetricsHandler(web.WorkerCollector{Snapshot: w.Metrics().Snapshot, Limiter: p.limiter.Stats}))
		hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go hs.Serve(ln) //nolint:errcheck // ends with Close
		defer hs.Close()
		fmt.Fprintln(env.Stderr, pr.T("cli.worker.metrics", "URL", "http://"+ln.Addr().String()+"/metrics"))
	}
	return w.Run(ctx, sc)
}

func (f *workerFlags) validate(env *Env) error {
	if err := f.check(env, "worker"); err != nil {
		return err
	}
	switch {
	case f.concurrency < 0:
		return opsUsage(env, "cli.worker.concurrency_negative")
	case f.authTimeout <= 0 || f.adminTimeout <= 0 || f.pollMin <= 0 || f.pollMax < f.pollMin:
		return opsUsage(env, "cli.worker.bad_timeouts")
	case f.retryBudget <= 0:
		return opsUsage(env, "cli.worker.bad_retry_budget")
	case f.shutdownTimeout <= 0 || f.retryBase <= 0 || f.retryMax < f.retryBase:
		return opsUsage(env, "cli.worker.bad_retry")
	case f.lease < 3*time.Second || f.dispatchEvery <= 0:
		return opsUsage(env, "cli.worker.bad_lease")
	}
	return nil
}

// process builds one worker process on p: the workers, and the servers'
// configuration with the dispatcher and the reconciliation sweeps the
// scheduler enqueues (on their own queue and server).
func (f *workerFlags) process(p *parts) (*jobs.Workers, jobs.ServerConfig) {
	w := p.workers(jobs.Config{
		LoginEndpoint:     f.loginEndpoint,
		ServiceEndpoint:   f.serviceEndpoint,
		AuthTimeout:       f.authTimeout,
		AdminTimeout:      f.adminTimeout,
		PollWithCallbacks: f.pollCallbacks,
		PollMin:           f.pollMin,
		PollMax:           f.pollMax,
		Policy:            onboard.RetryPolicy{Budget: f.retryBudget, BaseDelay: f.retryBase, MaxDelay: f.retryMax},
		Lease:             f.lease,
	})
	rate := float64(p.cfg.ESSRateLimit)
	conc := jobs.DefaultConcurrency(rate)
	if f.concurrency > 0 {
		conc[jobs.QueueSync] = f.concurrency
		conc[jobs.QueueService] = f.concurrency
	}
	recMux := asynq.NewServeMux()
	jobs.RegisterReconcile(recMux, p.reconciler(w))
	disp := w.NewDispatcher(rate, f.dispatchEvery)
	disp.Lease = f.lease
	disp.AppIDs = f.dispatchApps
	return w, jobs.ServerConfig{
		Reconcile:                recMux,
		Dispatcher:               disp,
		Redis:                    p.redis,
		Concurrency:              conc,
		ShutdownTimeout:          f.shutdownTimeout,
		DelayedTaskCheckInterval: f.checkInterval,
		Logger:                   p.log,
		LogLevel:                 asynq.WarnLevel,
	}
}
