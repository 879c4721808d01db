package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/ess"
	"github.com/ess-onboard/onboard/jobs"
	"github.com/ess-onboard/onboard/repository"
	"github.com/ess-onboard/onboard/web"
)

func init() {
	register(command{
		name:    "worker",
		summary: "run the workers: sync companies, poll their verification, open their services",
		run:     runWorker,
	})
}

const workerDescription = `
Runs the workers until interrupted (SIGINT or SIGTERM): each organization is
synced (SyncProxyOrganization with its license), its admin gets a console
link (CreateConsoleLoginUrl) when the row named one, its authorization is
polled (DescribeChannelOrganizations, one call per company when few wait,
the application's whole list 200 a page when many do) and, once verified,
its services are opened (ModifyExtendedService).

Any number of worker processes on any number of machines may share one Redis
and one Postgres. Calls are paced by a rate limiter shared through Redis:
ESS_RATE_LIMIT calls per second per action and per application (or per
credential with --rate-scope credential). Each action has its own queue and
its own worker slots (--concurrency), so a throttled action never starves
the others.

Postgres decides what work is due, Redis only carries it: every step
records in Postgres, with its outcome, the step due next. Each worker runs a
dispatcher (they take turns) that moves due work into the queues, a window
of the next seconds of work per application at a time, and hands out again,
within about --lease, work whose task Redis lost or whose worker died.

Errors are handled by class: transient ones are retried with back-off
(--retry-base doubling up to --retry-max, with jitter) for as long as
--retry-budget from the first of a run of them; a row the platform refuses
fails at once with its code, message and RequestId; an error that would fail
every row (credentials, an unknown or banned application) pauses the
application and marks its batches blocked until 'onboard resume --app-id
ID'. Postgres or Redis being unreachable, a killed worker or a shutdown use
up nothing: the work waits and goes on when the server is back.

Authorization status is queried as a verified company and operator of the
application: ESS_QUERY_ORG_OPENID and ESS_QUERY_OPERATOR_OPENID for
ESS_APP_ID, or per application with 'onboard resume --app-id ID
--query-org-openid O --query-operator-openid P'.

On shutdown the workers stop taking tasks; tasks in flight get
--shutdown-timeout to finish, and those still running then hand their work
back (due at once): a worker started right after repeats no call whose
result was recorded.
Pending database migrations are applied at start.`

// workerFlags are the worker command's flags (also used by demo).
type workerFlags struct {
	concurrency     int
	rateScope       string
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
	queuePrefix     string
	metricsAddr     string
	// dispatchApps limits the dispatcher to these applications (the
	// demo's); nil: every application.
	dispatchApps []string
}

func runWorker(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "worker", "worker [--concurrency N] [flags]", workerDescription)
	var f workerFlags
	fs.IntVar(&f.concurrency, "concurrency", 0, "tasks run at once per queue of the sync and service actions (0: enough for ESS_RATE_LIMIT)")
	fs.StringVar(&f.rateScope, "rate-scope", "app", "what the rate limit counts per, besides the action: app or credential")
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
	fs.StringVar(&f.queuePrefix, "queue-prefix", "", "put this before every queue name and rate limiter key, to keep a separate set of workers apart on one Redis")
	fs.StringVar(&f.metricsAddr, "metrics-addr", "", "serve this process's Prometheus metrics (calls by action and code, latency, limiter waits) at http://ADDR/metrics; empty: none")
	if err := parseFlags(env, fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("worker: unexpected argument %q (see 'onboard worker --help')", fs.Arg(0))
	}
	if err := f.validate(); err != nil {
		return err
	}
	cfg, err := loadConfig(env.Getenv)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(env.Stderr, nil))
	p, err := openWorkers(ctx, cfg, f, log)
	if err != nil {
		return err
	}
	defer p.close()
	names := make([]string, len(jobs.Queues))
	for i, q := range jobs.Queues {
		names[i] = p.workers.Queue(q)
	}
	fmt.Fprintf(env.Stderr, "onboard worker: serving %s (sync and service slots %d, limit %d calls/s per action)\n",
		strings.Join(names, ", "), p.conc[jobs.QueueSync], cfg.ESSRateLimit)
	if f.metricsAddr != "" {
		ln, err := net.Listen("tcp", f.metricsAddr)
		if err != nil {
			return fmt.Errorf("worker: --metrics-addr: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", web.WorkerMetricsHandler(web.WorkerCollector{Snapshot: p.workers.Metrics().Snapshot, Limiter: p.limiter.Stats}))
		hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go hs.Serve(ln) //nolint:errcheck // ends with Close
		defer hs.Close()
		fmt.Fprintf(env.Stderr, "onboard worker: metrics at http://%s/metrics\n", ln.Addr())
	}
	return p.run(ctx)
}

func (f *workerFlags) validate() error {
	switch {
	case f.concurrency < 0:
		return usagef("worker: --concurrency must not be negative")
	case f.rateScope != "app" && f.rateScope != "credential":
		return usagef("worker: --rate-scope must be app or credential, not %q", f.rateScope)
	case f.authTimeout <= 0 || f.adminTimeout <= 0 || f.pollMin <= 0 || f.pollMax < f.pollMin:
		return usagef("worker: --auth-timeout, --admin-timeout and --poll-min must be positive and --poll-max at least --poll-min")
	case f.retryBudget <= 0:
		return usagef("worker: --retry-budget must be a positive duration such as 24h")
	case f.shutdownTimeout <= 0 || f.retryBase <= 0 || f.retryMax < f.retryBase:
		return usagef("worker: --shutdown-timeout and --retry-base must be positive and --retry-max at least --retry-base")
	case f.lease < 3*time.Second || f.dispatchEvery <= 0:
		return usagef("worker: --lease must be at least 3s and --dispatch-interval positive")
	}
	return nil
}

// workerProcess is everything one worker process runs on.
type workerProcess struct {
	workers *jobs.Workers
	limiter *jobs.Limiter
	store   *repository.Store
	conc    map[string]int
	run     func(ctx context.Context) error
	closers []func()
}

func (p *workerProcess) close() {
	for i := len(p.closers) - 1; i >= 0; i-- {
		p.closers[i]()
	}
}

// openWorkers connects to Redis, Postgres and the platform, applies pending
// migrations and builds the workers.
func openWorkers(ctx context.Context, cfg Config, f workerFlags, log *slog.Logger) (_ *workerProcess, err error) {
	p := &workerProcess{}
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	redisOpt, err := asynq.ParseRedisURI(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	rc, ok := limiterRedisOpt(redisOpt, cfg.ESSRateLimit).MakeRedisClient().(redis.UniversalClient)
	if !ok {
		return nil, errors.New("REDIS_URL: unsupported Redis connection type")
	}
	p.closers = append(p.closers, func() { rc.Close() })
	if err := rc.Ping(ctx).Err(); err != nil {
		return nil, fmt.Errorf("connect to Redis: %w", err)
	}
	warnEviction(ctx, rc, log)

	p.store, err = repository.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	p.closers = append(p.closers, p.store.Close)
	if _, err := p.store.Migrate(ctx); err != nil {
		return nil, fmt.Errorf("apply migrations: %w", err)
	}

	lim := jobs.NewLimiter(rc, jobs.LimiterConfig{Rate: float64(cfg.ESSRateLimit), Prefix: f.queuePrefix + "onboard:rl"})
	p.limiter = lim
	api, err := ess.New(ess.Config{
		Endpoint: cfg.ESSEndpoint, SecretID: cfg.ESSSecretID, SecretKey: cfg.ESSSecretKey,
		Region: cfg.ESSRegion, Timeout: cfg.ESSTimeout,
		Transport: &jobs.LimitedTransport{Limiter: lim, DefaultScope: cfg.AppID, Base: http.DefaultTransport.(*http.Transport).Clone()},
	})
	if err != nil {
		return nil, err
	}
	client := asynq.NewClient(redisOpt)
	p.closers = append(p.closers, func() { client.Close() })

	jc := jobs.Config{
		LoginEndpoint:     f.loginEndpoint,
		ServiceEndpoint:   f.serviceEndpoint,
		AuthTimeout:       f.authTimeout,
		AdminTimeout:      f.adminTimeout,
		PollWithCallbacks: f.pollCallbacks,
		PollMin:           f.pollMin,
		PollMax:           f.pollMax,
		Policy:            onboard.RetryPolicy{Budget: f.retryBudget, BaseDelay: f.retryBase, MaxDelay: f.retryMax},
		Lease:             f.lease,
		Logger:            log,
		QueuePrefix:       f.queuePrefix,
	}
	if f.rateScope == "credential" {
		scope := jobs.CredentialScope(cfg.ESSSecretID)
		jc.RateScope = func(string) string { return scope }
	}
	if cfg.AppID != "" && cfg.QueryOrgOpenID != "" && cfg.QueryOperatorOpenID != "" {
		jc.QueryIdentities = map[string]jobs.QueryIdentity{cfg.AppID: {OrgOpenID: cfg.QueryOrgOpenID, OperatorOpenID: cfg.QueryOperatorOpenID}}
	}
	p.workers = jobs.NewWorkers(p.store, api, lim, client, jc)
	p.conc = jobs.DefaultConcurrency(float64(cfg.ESSRateLimit))
	if f.concurrency > 0 {
		p.conc[jobs.QueueSync] = f.concurrency
		p.conc[jobs.QueueService] = f.concurrency
	}
	// The reconciliation sweeps the scheduler enqueues run here too, on
	// their own queue and server.
	rec := &jobs.Reconciler{Workers: p.workers, Store: p.store, Logger: log}
	recMux := asynq.NewServeMux()
	jobs.RegisterReconcile(recMux, rec)
	disp := p.workers.NewDispatcher(float64(cfg.ESSRateLimit), f.dispatchEvery)
	disp.Lease = f.lease
	disp.AppIDs = f.dispatchApps
	sc := jobs.ServerConfig{
		Reconcile:                recMux,
		Dispatcher:               disp,
		Redis:                    redisOpt,
		Concurrency:              p.conc,
		ShutdownTimeout:          f.shutdownTimeout,
		DelayedTaskCheckInterval: f.checkInterval,
		Logger:                   log,
		LogLevel:                 asynq.WarnLevel,
	}
	p.run = func(ctx context.Context) error { return p.workers.Run(ctx, sc) }
	return p, nil
}

// warnEviction warns when Redis may evict keys: asynq's tasks would vanish.
func warnEviction(ctx context.Context, rc redis.UniversalClient, log *slog.Logger) {
	v, err := rc.ConfigGet(ctx, "maxmemory-policy").Result()
	if err != nil {
		log.Warn("could not read Redis maxmemory-policy; it must be noeviction or queued tasks may be lost", "err", err)
		return
	}
	if p := v["maxmemory-policy"]; p != "noeviction" {
		log.Warn("Redis maxmemory-policy is not noeviction: under memory pressure Redis may drop queued tasks", "maxmemory-policy", p)
	}
}

// limiterRedisOpt is redisOpt with a connection pool large enough that the
// rate limiter's callers never queue for a connection: a caller that waits
// for one would learn its turn late and give the turn up.
func limiterRedisOpt(opt asynq.RedisConnOpt, rate int) asynq.RedisConnOpt {
	size := 2*(int(float64(rate)*0.4)+4)*2 + 20
	switch o := opt.(type) {
	case asynq.RedisClientOpt:
		o.PoolSize = max(o.PoolSize, size)
		return o
	case asynq.RedisFailoverClientOpt:
		o.PoolSize = max(o.PoolSize, size)
		return o
	case asynq.RedisClusterClientOpt:
		return o
	}
	return opt
}

// The store the workers run on is the repository's.
var _ jobs.Store = (*repository.Store)(nil)
