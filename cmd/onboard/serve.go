package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/ess-onboard/onboard/esscallback"
	"github.com/ess-onboard/onboard/importer"
	"github.com/ess-onboard/onboard/intake"
	"github.com/ess-onboard/onboard/jobs"
	"github.com/ess-onboard/onboard/repository"
	"github.com/ess-onboard/onboard/results"
	"github.com/ess-onboard/onboard/web"
)

func init() {
	register(command{
		name:    "serve",
		summary: "run the dashboard: upload files, follow batches, queues at /monitoring, /metrics",
		run:     runServe,
	})
}

const serveDescription = `
Runs the web dashboard: the batches with their progress, an upload form for
.xlsx/.zip files (stored and queued exactly as 'onboard import' does), batch
pages with rejected rows, failed organizations, service links and
reconciliation runs, results and template downloads, asynqmon at /monitoring/,
Prometheus metrics at /metrics, and /healthz and /readyz for probes.

On a loopback address (the default) the dashboard is open to anyone on this
machine, and answers only requests addressed to it by its own address or
localhost (so that no web page can reach it through DNS rebinding). On any
other address it refuses to start unless ONBOARD_DASHBOARD_TOKEN (sent as a
bearer token, or as the password of basic authentication) or
ONBOARD_DASHBOARD_USER and ONBOARD_DASHBOARD_PASSWORD are set; every page, the
upload, /metrics and /monitoring then require them, and an address that fails
to sign in 10 times in a minute is refused for the rest of it. /readyz says
only "ok" or "not ok" unless asked with credentials.

/monitoring is read-only unless --monitoring-write (or
ONBOARD_MONITORING_WRITE=1) is given, which needs credentials. With
--tls-cert and --tls-key the dashboard serves HTTPS (and HSTS). Uploads
beyond --max-uploads at once are answered 503 with Retry-After; the file
limits are those of 'onboard import' (README.md, "Limits"). Pending
database migrations are applied at start.

With ESS_CALLBACK_KEY (exactly 32 bytes) or ESS_CALLBACK_TOKEN set, POST
/callbacks/essbasic receives the platform's callbacks: the signature is
checked (401 when wrong), the body decrypted (400 when it cannot be), each
callback stored once per MsgId with the check of its company made due, and
200 answered at once; the workers ask the platform about that company, and
only its answer moves it. That path needs no dashboard credentials and
checks no Host; --callbacks-only serves it (and /healthz) alone, so the
dashboard need not face the internet.`

// serveFlags are the serve command's flags.
type serveFlags struct {
	addr      string
	maxUpload int64
	// maxUploads is how many uploads are imported at once.
	maxUploads int
	limits     limitFlags
	// monitoringWrite allows asynqmon's destructive actions.
	monitoringWrite bool
	tlsCert, tlsKey string
	// queuePrefix keeps this dashboard's queues apart, as the worker's
	// --queue-prefix does.
	queuePrefix string
	// callbacksOnly serves the platform's callbacks alone.
	callbacksOnly bool
}

func runServe(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "serve", "serve [--addr 127.0.0.1:8080] [--max-upload BYTES] [--monitoring-write] [--tls-cert FILE --tls-key FILE] [--queue-prefix P]", serveDescription)
	var f serveFlags
	var readOnly bool
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8080", "address to listen on; a non-loopback address needs credentials")
	fs.Int64Var(&f.maxUpload, "max-upload", web.DefaultMaxUploadSize, "largest upload accepted, in bytes")
	fs.IntVar(&f.maxUploads, "max-uploads", web.DefaultMaxUploads, "uploads imported at once; more are answered 503")
	f.limits.register(fs)
	fs.BoolVar(&f.monitoringWrite, "monitoring-write", false, "let /monitoring delete, archive and run tasks and pause queues (needs credentials; default $ONBOARD_MONITORING_WRITE)")
	fs.BoolVar(&readOnly, "monitoring-read-only", false, "make /monitoring view-only (the default; overrides --monitoring-write)")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "serve HTTPS with this certificate (PEM; with --tls-key)")
	fs.StringVar(&f.tlsKey, "tls-key", "", "the certificate's private key (PEM)")
	fs.StringVar(&f.queuePrefix, "queue-prefix", "", "put this before every queue name, to match workers started with the same --queue-prefix")
	fs.BoolVar(&f.callbacksOnly, "callbacks-only", false, "serve POST "+web.CallbackPath+" (and /healthz) alone, without the dashboard or credentials, for the platform to reach; needs ESS_CALLBACK_KEY or ESS_CALLBACK_TOKEN")
	if err := parseFlags(env, fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("serve: unexpected argument %q (see 'onboard serve --help')", fs.Arg(0))
	}
	if f.maxUpload <= 0 {
		return usagef("serve: --max-upload must be a positive number of bytes")
	}
	if f.maxUploads <= 0 {
		return usagef("serve: --max-uploads must be a positive number")
	}
	if err := f.limits.check("serve"); err != nil {
		return err
	}
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return usagef("serve: --tls-cert and --tls-key go together")
	}
	cfg, err := loadConfig(env.Getenv)
	if err != nil {
		return err
	}
	explicit := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { explicit[fl.Name] = true })
	if !explicit["monitoring-write"] {
		f.monitoringWrite = cfg.MonitoringWrite
	}
	if readOnly {
		f.monitoringWrite = false
	}
	hasCredentials := cfg.DashboardToken != "" || (cfg.DashboardUser != "" && cfg.DashboardPassword != "")
	if f.callbacksOnly && cfg.CallbackKey == "" && cfg.CallbackToken == "" {
		return usagef("serve: --callbacks-only needs ESS_CALLBACK_KEY or ESS_CALLBACK_TOKEN")
	}
	if !web.IsLoopback(f.addr) && !hasCredentials && !f.callbacksOnly {
		return web.ErrCredentialsRequired
	}
	if f.monitoringWrite && !hasCredentials {
		return web.ErrMonitoringWriteNeedsCredentials
	}
	log := slog.New(web.MaskLogs(slog.NewTextHandler(env.Stderr, nil)))

	d, err := openDashboard(ctx, cfg, f, log)
	if err != nil {
		return err
	}
	defer d.close()
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	scheme := "http"
	if f.tlsCert != "" {
		scheme = "https"
	}
	fmt.Fprintf(env.Stdout, "onboard dashboard on %s://%s/ (queues at /monitoring/, metrics at /metrics)\n", scheme, ln.Addr())
	return d.server.Serve(ctx, ln)
}

// dashboard is the web server with everything it was built on.
type dashboard struct {
	server  *web.Server
	store   *repository.Store
	client  *asynq.Client
	closers []func()
}

func (d *dashboard) close() {
	for i := len(d.closers) - 1; i >= 0; i-- {
		d.closers[i]()
	}
}

// openDashboard connects to Postgres and Redis, applies pending migrations
// and builds the web server.
func openDashboard(ctx context.Context, cfg Config, f serveFlags, log *slog.Logger) (_ *dashboard, err error) {
	d := &dashboard{}
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	redisOpt, err := asynq.ParseRedisURI(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	d.store, err = repository.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	d.closers = append(d.closers, d.store.Close)
	if _, err := d.store.Migrate(ctx); err != nil {
		return nil, fmt.Errorf("apply migrations: %w", err)
	}
	d.client = asynq.NewClient(redisOpt)
	d.closers = append(d.closers, func() { d.client.Close() })
	rc, ok := redisOpt.MakeRedisClient().(redis.UniversalClient)
	if !ok {
		return nil, errors.New("REDIS_URL: unsupported Redis connection type")
	}
	d.closers = append(d.closers, func() { rc.Close() })

	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	var callbacks http.Handler
	if cfg.CallbackKey != "" || cfg.CallbackToken != "" {
		codec, err := esscallback.New(cfg.CallbackKey, cfg.CallbackToken)
		if err != nil {
			return nil, fmt.Errorf("ESS_CALLBACK_KEY: %w", err)
		}
		rcv, err := web.NewCallbackReceiver(codec, d.store, reg, log)
		if err != nil {
			return nil, err
		}
		callbacks = rcv
	}

	// Resume needs only the store and the queue: the workers are built
	// without an API client or limiter.
	workers := jobs.NewWorkers(d.store, nil, nil, d.client, jobs.Config{Logger: log, QueuePrefix: f.queuePrefix})
	d.server, err = web.New(web.Options{
		Addr:            f.addr,
		Token:           cfg.DashboardToken,
		User:            cfg.DashboardUser,
		Password:        cfg.DashboardPassword,
		AppID:           cfg.AppID,
		MaxUploadSize:   f.maxUpload,
		MaxUploads:      f.maxUploads,
		TLSCertFile:     f.tlsCert,
		TLSKeyFile:      f.tlsKey,
		Redis:           redisOpt,
		MonitoringWrite: f.monitoringWrite,
		Store:           d.store,
		Import:          intake.New(d.store, f.limits.of(0)),
		WriteTemplate:   importer.WriteTemplate,
		RetryFailed: func(ctx context.Context, batchID int64) (int, error) {
			return workers.RetryFailed(ctx, batchID)
		},
		Resume: func(ctx context.Context, appID string) (int, error) {
			r, err := workers.Resume(ctx, appID)
			return r.Due, err
		},
		WriteResults: func(ctx context.Context, w io.Writer, batchID int64) error {
			b, err := d.store.Batch(ctx, batchID)
			if err != nil {
				return err
			}
			return results.Write(w, b, func(fn func(repository.ResultRow) error) error {
				return d.store.BatchRows(ctx, batchID, fn)
			})
		},
		Checks: []web.Check{
			{Name: "postgres", Ping: d.store.Ping},
			{Name: "redis", Ping: func(ctx context.Context) error { return rc.Ping(ctx).Err() }},
		},
		Callbacks:     callbacks,
		CallbacksOnly: f.callbacksOnly,
		Registry:      reg,
		Logger:        log,
	})
	if err != nil {
		return nil, err
	}
	d.closers = append(d.closers, func() { d.server.Close() })
	return d, nil
}
