// Package web is onboard's dashboard: one HTTP server with the batches list,
// the upload form, batch pages, results and template downloads, asynqmon at
// /monitoring, Prometheus metrics at /metrics and health checks at /healthz
// and /readyz.
//
// Bound to a loopback address the server may run without credentials; it
// then answers only requests naming it (the Host header must be its own
// address or localhost), so that a web page a user visits cannot reach it
// through DNS rebinding. Bound to any other address it refuses to start
// unless a bearer token or a basic auth user and password are configured;
// every page, the upload, /metrics and /monitoring then require them, and
// failed attempts are throttled per address. The health endpoints stay open
// for probes and say only ok or not ok (details with credentials). asynqmon
// is read-only unless its destructive actions are asked for, which needs
// credentials. Forms are protected against cross-site requests by net/http's
// CrossOriginProtection; every answer carries security headers (no framing,
// a content security policy, no sniffing, HSTS over TLS); the server has
// read, write and idle timeouts and a limit on concurrent uploads. Whatever
// the server logs is passed through importer.MaskIDs.
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
	"strconv"
	"strings"
	"sync"
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

// DefaultMaxUploads is how many uploads are imported at once unless
// configured; more are answered 503 with Retry-After.
const DefaultMaxUploads = 5

// DefaultAuthFailures is how many failed authentications one address may
// make in a minute before it is refused for the rest of the minute.
const DefaultAuthFailures = 10

// Timeouts bound how long a client may take. A zero field means its default.
type Timeouts struct {
	ReadHeader time.Duration // to send the request headers; default 10s
	Read       time.Duration // to send a whole request; default 1m
	Write      time.Duration // to take a whole answer; default 2m
	Idle       time.Duration // between requests on one connection; default 2m
	// Upload is how long an upload may take to be sent and imported (and a
	// results file to be built and taken); it replaces Read and Write for
	// those. Default 30m.
	Upload time.Duration
}

func (t Timeouts) withDefaults() Timeouts {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.ReadHeader, 10*time.Second)
	def(&t.Read, time.Minute)
	def(&t.Write, 2*time.Minute)
	def(&t.Idle, 2*time.Minute)
	def(&t.Upload, 30*time.Minute)
	return t
}

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
	// TLSCertFile and TLSKeyFile, when both set, make Serve serve HTTPS.
	TLSCertFile, TLSKeyFile string

	// AppID is the application an upload belongs to when the form names none.
	AppID string
	// MaxUploadSize caps an upload's size in bytes; 0 means DefaultMaxUploadSize.
	MaxUploadSize int64
	// MaxUploads caps the uploads imported at once; 0 means DefaultMaxUploads.
	MaxUploads int
	// AuthFailures caps failed authentications per address and minute; 0
	// means DefaultAuthFailures.
	AuthFailures int
	// Timeouts bound slow clients.
	Timeouts Timeouts

	// Redis is the Redis asynq uses; required for /monitoring and the queue
	// metrics.
	Redis asynq.RedisConnOpt
	// MonitoringWrite lets asynqmon delete, archive and run tasks and pause
	// queues; it is read-only otherwise. New refuses it without credentials.
	MonitoringWrite bool

	// Store reads batches, rows, organizations and reconciliation runs.
	Store Store
	// Import stores an uploaded file with its work due.
	Import Importer
	// WriteTemplate writes the empty spreadsheet template with its notes in
	// lang (locale.English or locale.Chinese), the language of the page.
	WriteTemplate func(w io.Writer, lang string) error
	// WriteResults writes the results .xlsx of one batch in lang, the
	// language of the page it is downloaded from.
	WriteResults func(ctx context.Context, w io.Writer, batchID int64, lang string) error
	// RetryFailed queues a batch's failed organizations again and returns how many.
	RetryFailed func(ctx context.Context, batchID int64) (int, error)
	// Resume lifts the pause of an application and re-queues its pending work;
	// it returns how many organizations were queued again.
	Resume func(ctx context.Context, appID string) (int, error)

	// Callbacks, when set, answers the platform's callbacks at
	// CallbackPath, the one path that needs no credentials (and checks no
	// Host: the platform calls a public name).
	Callbacks http.Handler
	// CallbacksOnly serves CallbackPath (and /healthz) alone, so the
	// dashboard need not face the internet; it needs no credentials.
	CallbacksOnly bool

	// Checks are what /readyz verifies.
	Checks []Check
	// Registry receives the queue metrics and the organization state gauge;
	// it is served at /metrics. Nil means a new registry with the Go and
	// process collectors.
	Registry *prometheus.Registry

	// TimeZone is the zone the pages show times in (with UTC in a
	// tooltip); nil means the reader's language's default: Asia/Shanghai
	// for Chinese, UTC for English.
	TimeZone *time.Location

	// Logger receives request errors, masked by MaskLogs; nil means
	// slog.Default().
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
	uploads   chan struct{} // a slot per upload being imported
	timeouts  Timeouts
	throttle  *authThrottle
	hosts     map[string]bool // host names answered to without credentials

	readyMu   sync.Mutex
	readyFail map[string]bool // checks failing at the last /readyz, to log changes only
}

// ErrCredentialsRequired means the server was asked to listen on a
// non-loopback address without credentials.
var ErrCredentialsRequired = errors.New("refusing to serve on a non-loopback address without credentials: set ONBOARD_DASHBOARD_TOKEN, or ONBOARD_DASHBOARD_USER and ONBOARD_DASHBOARD_PASSWORD, or bind to 127.0.0.1")

// ErrMonitoringWriteNeedsCredentials means asynqmon's destructive actions
// were asked for on a server anyone on the machine may use.
var ErrMonitoringWriteNeedsCredentials = errors.New("refusing to let /monitoring delete, archive or run tasks without credentials: set ONBOARD_DASHBOARD_TOKEN, or ONBOARD_DASHBOARD_USER and ONBOARD_DASHBOARD_PASSWORD, or leave it read-only")

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
// when opts.Addr is not a loopback address and no credentials are set, and
// with ErrMonitoringWriteNeedsCredentials when asynqmon may write and no
// credentials are set.
func New(opts Options) (*Server, error) {
	if opts.User != "" && opts.Password == "" || opts.User == "" && opts.Password != "" {
		return nil, errors.New("basic authentication needs both a user and a password")
	}
	if (opts.TLSCertFile == "") != (opts.TLSKeyFile == "") {
		return nil, errors.New("TLS needs both a certificate and a key file")
	}
	if opts.CallbacksOnly && opts.Callbacks == nil {
		return nil, errors.New("serving callbacks only, but callbacks are not configured: set ESS_CALLBACK_KEY or ESS_CALLBACK_TOKEN")
	}
	if opts.Addr != "" && !IsLoopback(opts.Addr) && !opts.hasCredentials() && !opts.CallbacksOnly {
		return nil, ErrCredentialsRequired
	}
	if opts.MonitoringWrite && !opts.hasCredentials() {
		return nil, ErrMonitoringWriteNeedsCredentials
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	opts.Logger = slog.New(MaskLogs(opts.Logger.Handler()))
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxUploads <= 0 {
		opts.MaxUploads = DefaultMaxUploads
	}
	if opts.AuthFailures <= 0 {
		opts.AuthFailures = DefaultAuthFailures
	}
	s := &Server{opts: opts, log: opts.Logger, maxUpload: opts.MaxUploadSize, timeouts: opts.Timeouts.withDefaults(),
		uploads: make(chan struct{}, opts.MaxUploads), throttle: newAuthThrottle(opts.AuthFailures, time.Minute, opts.Now),
		hosts: loopbackHosts(opts.Addr), readyFail: map[string]bool{}}
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

// loopbackHosts are the host names a server bound to addr answers to
// without credentials: the address it is bound to, and localhost with its
// loopback addresses.
func loopbackHosts(addr string) map[string]bool {
	hosts := map[string]bool{"localhost": true, "127.0.0.1": true, "::1": true}
	if h, _, err := net.SplitHostPort(addr); err == nil && h != "" {
		hosts[strings.ToLower(strings.Trim(h, "[]"))] = true
	}
	return hosts
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
// requests in flight up to 10 seconds. With a certificate and key it serves
// HTTPS.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	t := s.timeouts
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: t.ReadHeader,
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() {
		if s.opts.TLSCertFile != "" {
			errc <- srv.ServeTLS(ln, s.opts.TLSCertFile, s.opts.TLSKeyFile)
			return
		}
		errc <- srv.Serve(ln)
	}()
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
		app.Handle(mon.RootPath()+"/", s.monitoringGuard(mon))
		app.Handle("GET "+mon.RootPath(), http.RedirectHandler(mon.RootPath()+"/", http.StatusMovedPermanently))
		s.closers = append(s.closers, mon.Close)
	}
	app.HandleFunc("/", s.notFound)

	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.errorPage(w, r, http.StatusForbidden, s.printer(r).T("web.err.cross_site"))
	}))
	mux.Handle("/", s.recoverer(s.authenticate(cop.Handler(s.language(app)))))
	if s.opts.Callbacks == nil {
		return securityHeaders(s.checkHost(mux))
	}
	root := http.NewServeMux()
	root.Handle("POST "+CallbackPath, securityHeaders(s.recoverer(s.opts.Callbacks)))
	if s.opts.CallbacksOnly {
		root.HandleFunc("GET /healthz", s.healthz)
		root.Handle("/", securityHeaders(http.NotFoundHandler()))
		return root
	}
	root.Handle("/", securityHeaders(s.checkHost(mux)))
	return root
}

// Content security policies: the project's own pages load nothing but their
// style sheet; asynqmon's single-page application needs its inline
// bootstrap script, inline styles and Google's fonts.
const (
	pageCSP       = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
	monitoringCSP = "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline' https://fonts.googleapis.com; font-src 'self' https://fonts.gstatic.com data:; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)

// securityHeaders adds the headers every answer carries, whatever answers.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if r.URL.Path == monitoringPath || strings.HasPrefix(r.URL.Path, monitoringPath+"/") {
			h.Set("Content-Security-Policy", monitoringCSP)
		} else {
			h.Set("Content-Security-Policy", pageCSP)
		}
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}

// checkHost refuses, on a server without credentials, a request whose Host
// header is not the server's own address or localhost: a page on another
// site whose name has been made to point at 127.0.0.1 (DNS rebinding) sees
// the dashboard as its own origin, so only the name tells it apart.
func (s *Server) checkHost(next http.Handler) http.Handler {
	if s.opts.hasCredentials() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
		if !s.hosts[host] {
			s.plainError(w, r, http.StatusMisdirectedRequest, "web.err.host")
			return
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
				s.plainError(w, r, http.StatusInternalServerError, "web.err.internal")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// authenticate lets a request through when no credentials are configured
// (loopback only, checked in New) or when it carries a valid bearer token or
// basic authentication. An address that failed too often is refused for a
// while without its credentials being looked at.
func (s *Server) authenticate(next http.Handler) http.Handler {
	if !s.opts.hasCredentials() {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch s.checkCredentials(w, r) {
		case credOK:
			next.ServeHTTP(w, r)
		case credThrottled:
		default:
			w.Header().Set("WWW-Authenticate", `Basic realm="onboard", charset="UTF-8"`)
			s.plainError(w, r, http.StatusUnauthorized, "web.err.auth")
		}
	})
}

type credResult int

const (
	credMissing   credResult = iota // none sent, or wrong (and counted)
	credOK                          // valid
	credThrottled                   // the address failed too often; answered 429
)

// checkCredentials checks a request's credentials, counting failures per
// address; a throttled address is answered 429 here.
func (s *Server) checkCredentials(w http.ResponseWriter, r *http.Request) credResult {
	ip := clientIP(r)
	if wait := s.throttle.blocked(ip); wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Round(time.Second)/time.Second)+1))
		s.plainError(w, r, http.StatusTooManyRequests, "web.err.throttled")
		return credThrottled
	}
	if s.authorized(r) {
		return credOK
	}
	if r.Header.Get("Authorization") != "" {
		s.throttle.fail(ip)
	}
	return credMissing
}

// clientIP is the address a request came from (the connection's peer;
// forwarding headers are not trusted).
func clientIP(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}

func (s *Server) authorized(r *http.Request) bool {
	o := &s.opts
	if !o.hasCredentials() {
		return false
	}
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

// readyz answers 200 "ok" when every check passes and 503 "not ok"
// otherwise; only a request with valid credentials is told which check
// failed and why (the errors name hosts, users and databases). Changes are
// logged.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	var b strings.Builder
	status := http.StatusOK
	failed := map[string]bool{}
	for _, c := range s.opts.Checks {
		if err := c.Ping(ctx); err != nil {
			status = http.StatusServiceUnavailable
			failed[c.Name] = true
			s.logReadiness(c.Name, err)
			fmt.Fprintf(&b, "%s: unreachable: %v\n", c.Name, err)
			continue
		}
		s.logReadiness(c.Name, nil)
		fmt.Fprintf(&b, "%s: ok\n", c.Name)
	}
	details := false
	if r.Header.Get("Authorization") != "" && s.opts.hasCredentials() {
		switch s.checkCredentials(w, r) {
		case credThrottled:
			return
		case credOK:
			details = true
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	switch {
	case details:
		io.WriteString(w, importer.MaskIDs(b.String()))
	case status == http.StatusOK:
		io.WriteString(w, "ok\n")
	default:
		io.WriteString(w, "not ok\n")
	}
}

// logReadiness logs a check that starts or stops failing.
func (s *Server) logReadiness(name string, err error) {
	s.readyMu.Lock()
	was := s.readyFail[name]
	s.readyFail[name] = err != nil
	s.readyMu.Unlock()
	switch {
	case err != nil && !was:
		s.log.Warn("not ready", "check", name, "error", err)
	case err == nil && was:
		s.log.Info("ready again", "check", name)
	}
}
