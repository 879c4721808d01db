// Package web is onboard's dashboard: one HTTP server with the batches list,
// the upload form, batch pages, results and template downloads, asynqmon at
// /monitoring, Prometheus metrics at /metrics and health checks at /healthz
// and /readyz.
//
// Bound to a loopback address the server may run without credentials. Bound
// to any other address it refuses to start unless a bearer token or a basic
// auth user and password are configured; every page, the upload, /metrics and
// /monitoring then require them (the health endpoints stay open for probes
// and reveal nothing). Forms are protected against cross-site requests by
// net/http's CrossOriginProtection (Sec-Fetch-Site and Origin checks).
package web

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ess-onboard/onboard/importer"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// DefaultMaxUploadSize is the largest upload accepted unless configured: the
// same limit the command line's import applies.
const DefaultMaxUploadSize = importer.DefaultMaxFileSize

// Check is one readiness check, such as a Postgres or Redis ping.
type Check struct {
	Name string
	Ping func(ctx context.Context) error
}

// Options configure a Server. Fields marked required must be set; a nil
// function field turns the feature it provides off (its page says so).
type Options struct {
	// Addr is the address the server listens on, such as 127.0.0.1:8080.
	Addr string
	// Token, when set, is accepted as "Authorization: Bearer <token>" and as
	// the password of basic authentication with any user name.
	Token string
	// User and Password, when both set, are accepted as basic authentication.
	User, Password string

	// AppID is the application an upload belongs to when the form names none.
	AppID string
	// MaxUploadSize caps an upload's size in bytes; 0 means DefaultMaxUploadSize.
	MaxUploadSize int64

	// Redis is the Redis asynq uses; required for /monitoring and the queue
	// metrics.
	Redis asynq.RedisConnOpt
	// MonitoringReadOnly makes asynqmon view-only.
	MonitoringReadOnly bool

	// Store reads batches, rows, organizations and reconciliation runs.
	Store Store
	// Import stores an uploaded file and enqueues its work.
	Import ImportFunc
	// WriteTemplate writes the empty spreadsheet template.
	WriteTemplate func(w io.Writer) error
	// WriteResults writes the results .xlsx of one batch.
	WriteResults func(ctx context.Context, w io.Writer, batchID int64) error
	// RetryFailed queues a batch's failed organizations again and returns how many.
	RetryFailed func(ctx context.Context, batchID int64) (int, error)
	// Resume lifts the pause of an application and re-queues its pending work;
	// it returns how many organizations were queued again.
	Resume func(ctx context.Context, appID string) (int, error)

	// Checks are what /readyz verifies.
	Checks []Check
	// Registry receives the queue metrics and the organization state gauge;
	// it is served at /metrics. Nil means a new registry with the Go and
	// process collectors.
	Registry *prometheus.Registry

	// Logger receives request errors; nil means slog.Default().
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Server is the dashboard. Build it with New, serve it with Serve or use
// Handler in tests; Close releases its Redis connections.
type Server struct {
	opts      Options
	log       *slog.Logger
	pages     map[string]*template.Template
	handler   http.Handler
	closers   []func() error
	registry  *prometheus.Registry
	maxUpload int64
}

// ErrCredentialsRequired means the server was asked to listen on a
// non-loopback address without credentials.
var ErrCredentialsRequired = errors.New("refusing to serve on a non-loopback address without credentials: set ONBOARD_DASHBOARD_TOKEN, or ONBOARD_DASHBOARD_USER and ONBOARD_DASHBOARD_PASSWORD, or bind to 127.0.0.1")

// IsLoopback reports whether addr (host:port) only listens on the loopback
// interface. An empty host or an unspecified address listens everywhere.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	host = strings.Trim(host, "[]")
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// New checks opts and builds a server. It fails with ErrCredentialsRequired
// when opts.Addr is not a loopback address and no credentials are set.
func New(opts Options) (*Server, error) {
	if opts.User != "" && opts.Password == "" || opts.User == "" && opts.Password != "" {
		return nil, errors.New("basic authentication needs both a user and a password")
	}
	if opts.Addr != "" && !IsLoopback(opts.Addr) && !opts.hasCredentials() {
		return nil, ErrCredentialsRequired
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{opts: opts, log: opts.Logger, maxUpload: opts.MaxUploadSize}
	if s.maxUpload <= 0 {
		s.maxUpload = DefaultMaxUploadSize
	}
	var err error
	if s.pages, err = parsePages(); err != nil {
		return nil, err
	}
	s.registry = opts.Registry
	if s.registry == nil {
		s.registry = prometheus.NewRegistry()
		s.registry.MustRegister(prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	}
	if err := s.registerMetrics(); err != nil {
		return nil, err
	}
	s.handler = s.routes()
	return s, nil
}

func (o *Options) hasCredentials() bool {
	return o.Token != "" || (o.User != "" && o.Password != "")
}

// Handler is the server's whole HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Close releases the connections the server opened (asynqmon's, the
// inspector's).
func (s *Server) Close() error {
	var errs []error
	for _, c := range s.closers {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}

// Serve serves on ln until ctx is done, then shuts down gracefully, giving
// requests in flight up to 10 seconds.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	<-errc
	return err
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	// Open endpoints: liveness and readiness probes.
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)

	app := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	app.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	app.HandleFunc("GET /{$}", s.batchesPage)
	app.HandleFunc("GET /upload", s.uploadPage)
	app.HandleFunc("POST /upload", s.upload)
	app.HandleFunc("GET /batches/{id}", s.batchPage)
	app.HandleFunc("GET /batches/{id}/results.xlsx", s.results)
	app.HandleFunc("POST /batches/{id}/retry", s.retry)
	app.HandleFunc("POST /apps/{app}/resume", s.resume)
	app.HandleFunc("GET /template.xlsx", s.template)
	app.Handle("GET /metrics", s.metricsHandler())
	if s.opts.Redis != nil {
		mon := s.monitoring()
		app.Handle(mon.RootPath()+"/", mon)
		app.Handle("GET "+mon.RootPath(), http.RedirectHandler(mon.RootPath()+"/", http.StatusMovedPermanently))
		s.closers = append(s.closers, mon.Close)
	}
	app.HandleFunc("/", s.notFound)

	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.errorPage(w, r, http.StatusForbidden, "This form was sent from another site and was refused. Open the dashboard and submit the form from there.")
	}))
	mux.Handle("/", s.recoverer(s.authenticate(cop.Handler(app))))
	return securityHeaders(mux)
}

// securityHeaders adds headers every answer should carry.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, "/monitoring") {
			// asynqmon renders its own pages in frames it controls; ours
			// are never framed.
			h.Set("X-Frame-Options", "DENY")
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v))
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// authenticate lets a request through when no credentials are configured
// (loopback only, checked in New) or when it carries a valid bearer token or
// basic authentication.
func (s *Server) authenticate(next http.Handler) http.Handler {
	if !s.opts.hasCredentials() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.authorized(r) {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="onboard", charset="UTF-8"`)
		http.Error(w, "Authentication required. Send the dashboard token as a bearer token, or sign in with basic authentication (any user name and the token as password, or the configured user and password).", http.StatusUnauthorized)
	})
}

func (s *Server) authorized(r *http.Request) bool {
	o := &s.opts
	if auth := r.Header.Get("Authorization"); o.Token != "" && len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
		return secretEqual(strings.TrimSpace(auth[7:]), o.Token)
	}
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	okToken := o.Token != "" && secretEqual(pass, o.Token)
	okUser := o.User != "" && secretEqual(user, o.User) && secretEqual(pass, o.Password)
	return okToken || okUser
}

// secretEqual compares in constant time (hashing first so that lengths leak
// nothing either).
func secretEqual(a, b string) bool {
	ha, hb := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ok\n")
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	var b strings.Builder
	status := http.StatusOK
	for _, c := range s.opts.Checks {
		if err := c.Ping(ctx); err != nil {
			status = http.StatusServiceUnavailable
			fmt.Fprintf(&b, "%s: unreachable: %v\n", c.Name, err)
			continue
		}
		fmt.Fprintf(&b, "%s: ok\n", c.Name)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	io.WriteString(w, b.String())
}
