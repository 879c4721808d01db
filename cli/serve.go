package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ess-onboard/onboard/esscallback"
	"github.com/ess-onboard/onboard/importer"
	"github.com/ess-onboard/onboard/jobs"
	"github.com/ess-onboard/onboard/locale"
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

// serveFlags are the serve command's flags.
type serveFlags struct {
	addr      string
	maxUpload int64
	// maxUploads is how many uploads are imported at once.
	maxUploads int
	limits     limitFlags
	// monitoringWrite allows asynqmon's destructive actions; readOnly
	// forbids them whatever else says.
	monitoringWrite, readOnly bool
	tlsCert, tlsKey           string
	// shared's queue prefix keeps this dashboard's queues apart, as the
	// worker's --queue-prefix does.
	shared
	// callbacksOnly serves the platform's callbacks alone.
	callbacksOnly bool
}

func (f *serveFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8080", "address to listen on; a non-loopback address needs credentials")
	fs.Int64Var(&f.maxUpload, "max-upload", web.DefaultMaxUploadSize, "largest upload accepted, in bytes")
	fs.IntVar(&f.maxUploads, "max-uploads", web.DefaultMaxUploads, "uploads imported at once; more are answered 503")
	f.limits.register(fs)
	fs.BoolVar(&f.monitoringWrite, "monitoring-write", false, "let /monitoring delete, archive and run tasks and pause queues (needs credentials; default $ONBOARD_MONITORING_WRITE)")
	fs.BoolVar(&f.readOnly, "monitoring-read-only", false, "make /monitoring view-only (the default; overrides --monitoring-write)")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "serve HTTPS with this certificate (PEM; with --tls-key)")
	fs.StringVar(&f.tlsKey, "tls-key", "", "the certificate's private key (PEM)")
	f.registerQueuePrefix(fs, "put this before every queue name, to match workers started with the same --queue-prefix")
	fs.BoolVar(&f.callbacksOnly, "callbacks-only", false, "serve POST "+web.CallbackPath+" (and /healthz) alone, without the dashboard or credentials, for the platform to reach; needs ESS_CALLBACK_KEY or ESS_CALLBACK_TOKEN")
}

func (f *serveFlags) check(p *locale.Printer) error {
	if f.maxUpload <= 0 {
		return usageT(p, "cli.serve.max_upload")
	}
	if f.maxUploads <= 0 {
		return usageT(p, "cli.serve.max_uploads")
	}
	if err := f.limits.check(p, "serve"); err != nil {
		return err
	}
	if (f.tlsCert == "") != (f.tlsKey == "") {
		return usageT(p, "cli.serve.tls_pair")
	}
	return nil
}

// checkAccess applies ONBOARD_MONITORING_WRITE unless --monitoring-write
// was given, and refuses what would be open to anyone.
func (f *serveFlags) checkAccess(p *locale.Printer, fs *flag.FlagSet, cfg Config) error {
	explicit := map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { explicit[fl.Name] = true })
	if !explicit["monitoring-write"] {
		f.monitoringWrite = cfg.MonitoringWrite
	}
	if f.readOnly {
		f.monitoringWrite = false
	}
	hasCredentials := cfg.DashboardToken != "" || (cfg.DashboardUser != "" && cfg.DashboardPassword != "")
	if f.callbacksOnly && cfg.CallbackKey == "" && cfg.CallbackToken == "" {
		return usageT(p, "cli.serve.callbacks_only")
	}
	if !web.IsLoopback(f.addr) && !hasCredentials && !f.callbacksOnly {
		return &textErr{msg: p.T("cli.serve.credentials_required"), err: web.ErrCredentialsRequired}
	}
	if f.monitoringWrite && !hasCredentials {
		return &textErr{msg: p.T("cli.serve.monitoring_write"), err: web.ErrMonitoringWriteNeedsCredentials}
	}
	return nil
}

func runServe(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "serve", "serve [--addr 127.0.0.1:8080] [--max-upload BYTES] [--monitoring-write] [--tls-cert FILE --tls-key FILE] [--queue-prefix P]", "")
	var f serveFlags
	f.register(fs)
	if err := parseFlags(env, fs, args); err != nil {
		return err
	}
	pr := env.printer()
	if fs.NArg() > 0 {
		return unexpectedArg(pr, "serve", fs.Arg(0))
	}
	if err := f.check(pr); err != nil {
		return err
	}
	cfg, err := loadConfig(env.Getenv)
	if err != nil {
		return err
	}
	if err := f.checkAccess(pr, fs, cfg); err != nil {
		return err
	}
	d, err := openDashboard(ctx, cfg, f, slog.New(web.MaskLogs(slog.NewTextHandler(env.Stderr, nil))))
	if err != nil {
		return err
	}
	defer d.close()
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return errorT(pr, err, "cli.serve.listen")
	}
	scheme := "http"
	if f.tlsCert != "" {
		scheme = "https"
	}
	fmt.Fprintln(env.Stdout, pr.T("cli.serve.listening", "URL", fmt.Sprintf("%s://%s/", scheme, ln.Addr())))
	return d.server.Serve(ctx, ln)
}

// dashboard is the web server with the parts it was built on.
type dashboard struct {
	server *web.Server
	parts  *parts
}

func (d *dashboard) close() {
	d.server.Close()
	d.parts.Close()
}

// openDashboard connects to Postgres and Redis, applies pending migrations
// and builds the web server.
func openDashboard(ctx context.Context, cfg Config, f serveFlags, log *slog.Logger) (*dashboard, error) {
	p, err := openParts(ctx, cfg, f.shared, log, needStore|needRedis)
	if err != nil {
		return nil, err
	}
	srv, err := newDashboard(p, f)
	if err != nil {
		p.Close()
		return nil, err
	}
	return &dashboard{server: srv, parts: p}, nil
}

// newDashboard builds the web server on p: its store, Redis and queue
// prefix. Closing the server leaves p open.
func newDashboard(p *parts, f serveFlags) (*web.Server, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	callbacks, err := callbackReceiver(p.cfg.CallbackKey, p.cfg.CallbackToken, p.store, reg, p.log)
	if err != nil {
		return nil, err
	}
	// Retrying and resuming need only the store: the workers are built
	// without an API client, limiter or queue.
	workers := p.workers(jobs.Config{})
	store, cfg := p.store, p.cfg
	return web.New(web.Options{
		Addr:            f.addr,
		Token:           cfg.DashboardToken,
		User:            cfg.DashboardUser,
		Password:        cfg.DashboardPassword,
		AppID:           cfg.AppID,
		MaxUploadSize:   f.maxUpload,
		MaxUploads:      f.maxUploads,
		TLSCertFile:     f.tlsCert,
		TLSKeyFile:      f.tlsKey,
		Redis:           p.redis,
		MonitoringWrite: f.monitoringWrite,
		Store:           store,
		Import:          p.intake(f.limits.of(0)),
		WriteTemplate:   importer.WriteTemplateIn,
		TimeZone:        cfg.TimeZone,
		RetryFailed:     workers.RetryFailed,
		Resume: func(ctx context.Context, appID string) (int, error) {
			r, err := workers.Resume(ctx, appID)
			return r.Due, err
		},
		WriteResults: func(ctx context.Context, w io.Writer, batchID int64, lang string) error {
			return writeBatchResults(ctx, store, w, batchID, results.Options{Lang: lang, Zone: cfg.zoneFor(lang)})
		},
		Checks: []web.Check{
			{Name: "postgres", Ping: store.Ping},
			{Name: "redis", Ping: func(ctx context.Context) error { return p.rdb.Ping(ctx).Err() }},
		},
		Callbacks:     callbacks,
		CallbacksOnly: f.callbacksOnly,
		Registry:      reg,
		Logger:        p.log,
	})
}

// callbackReceiver answers the platform's callbacks, decrypted with key
// and checked with token, when either is set; nil otherwise. reg may be nil.
func callbackReceiver(key, token string, store *repository.Store, reg prometheus.Registerer, log *slog.Logger) (http.Handler, error) {
	if key == "" && token == "" {
		return nil, nil
	}
	codec, err := esscallback.New(key, token)
	if err != nil {
		return nil, fmt.Errorf("ESS_CALLBACK_KEY: %w", err)
	}
	return web.NewCallbackReceiver(codec, store, reg, log)
}
