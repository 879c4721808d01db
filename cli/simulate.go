package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ess-onboard/onboard/esssim"
	"github.com/ess-onboard/onboard/locale"
)

func init() {
	register(command{
		name:    "simulate",
		summary: "run a local essbasic simulator (for tests, demos and benchmarks)",
		run:     runSimulate,
	})
}

// faultFlags collects repeated --fault values.
type faultFlags struct {
	list []esssim.Fault
	p    *locale.Printer // of the errors; nil: English
}

func (f *faultFlags) String() string { return fmt.Sprint(len(f.list), " faults") }

func (f *faultFlags) t(id string, args ...any) string {
	if f.p == nil {
		f.p = locale.New(locale.English)
	}
	return f.p.T(id, args...)
}

// Set parses "[ACTION:]SHARE:WHAT" where WHAT is an error code, "drop" or a
// latency such as 300ms.
func (f *faultFlags) Set(v string) error {
	parts := strings.Split(v, ":")
	var fault esssim.Fault
	switch len(parts) {
	case 2:
	case 3:
		fault.Action, parts = parts[0], parts[1:]
	default:
		return errors.New(f.t("cli.simulate.fault_form", "Value", fmt.Sprintf("%q", v)))
	}
	share, err := strconv.ParseFloat(parts[0], 64)
	if err != nil {
		return errors.New(f.t("cli.simulate.fault_share", "Share", fmt.Sprintf("%q", parts[0])))
	}
	fault.Share = share
	what := parts[1]
	if d, err := time.ParseDuration(what); err == nil {
		fault.Latency = d
	} else if what == "drop" {
		fault.Drop = true
	} else {
		fault.Code = what
	}
	// Validate through the simulator's own rules.
	if err := esssim.New(esssim.Options{Apps: []esssim.App{}}).SetFaults([]esssim.Fault{fault}); err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "esssim: "))
	}
	f.list = append(f.list, fault)
	return nil
}

// simFlags are the simulate command's flags, bound to the simulator's
// options.
type simFlags struct {
	addr   string
	o      esssim.Options
	life   esssim.Lifecycle
	admins esssim.Admins
	cb     esssim.Callbacks
	faults faultFlags
	p      *locale.Printer // of the errors
}

// usage is a usage error of simulate with message id.
func (f *simFlags) usage(id string, args ...any) error {
	return usagef("simulate: %s", f.p.T(id, args...))
}

func (f *simFlags) register(fs *flag.FlagSet, rate int) {
	fs.StringVar(&f.addr, "addr", "127.0.0.1:18090", "address to listen on (port 0: any free port)")
	fs.BoolVar(&f.o.Lenient, "lenient", false, "accept the documentation's placeholder values (no checksum, date or image checks)")
	fs.IntVar(&f.o.RateLimit, "rate-limit", rate, "calls per action allowed in any one-second window, negative for no limit; the default comes from ESS_RATE_LIMIT")
	fs.StringVar((*string)(&f.o.RateKey), "rate-key", string(esssim.RateKeySecretID), "count the rate limit per action and: secretid or appid")
	fs.StringVar((*string)(&f.o.OffsetMode), "offset-mode", string(esssim.OffsetRecord), "how DescribeChannelOrganizations reads Offset: record or page")
	fs.DurationVar(&f.life.Unverified, "unverified", esssim.DefaultLifecycle.Unverified, "time a synced company stays UNVERIFIED")
	fs.DurationVar(&f.life.Verifying, "verifying", esssim.DefaultLifecycle.Verifying, "time in VERIFYING")
	fs.DurationVar(&f.life.Pending, "pending", esssim.DefaultLifecycle.Pending, "time in the pending step before VERIFIED")
	fs.Float64Var(&f.life.NeverShare, "never-verify", 0, "share of companies that never verify (0..1)")
	fs.Float64Var(&f.life.RejectShare, "reject", 0, "share of companies whose letter of authorisation is rejected (0..1)")
	fs.BoolVar(&f.life.Manual, "manual", false, "companies move only when set by hand (POST /_sim/status)")
	fs.BoolVar(&f.o.OverseaSignAtOnce, "oversea-at-once", false, "open OVERSEA_SIGN without a link")
	fs.BoolVar(&f.o.KeepEarlierLinks, "keep-links", false, "a repeated OPEN returns the earlier, still valid link")
	fs.BoolVar(&f.o.DescribeAnyAgent, "describe-any-agent", false, "bulk Describe without a verified company and operator in Agent")
	fs.BoolVar(&f.o.AnyApp, "any-app", false, "accept any AppId (register it on first use)")
	fs.DurationVar(&f.admins.OpenAfter, "admin-open-after", 0, "an admin opens a service link this long after it was issued, and the service becomes ENABLE (24h or more: never, the link has expired); 0: admins never do by themselves (POST /_sim/services/confirm or /_sim/services/status)")
	fs.Float64Var(&f.admins.NeverShare, "admin-never", 0, "share of companies whose admins never open a link (0..1; needs --admin-open-after)")
	fs.StringVar(&f.cb.URL, "callback-url", "", "post the platform's callbacks (OrgAuth, OrgCertify, OrgOpenTsignBiz, OperateExtendedService) to this http(s) URL; empty: none")
	fs.StringVar(&f.cb.Key, "callback-key", "", "encrypt callbacks with this key of exactly 32 bytes (AES-256-CBC); empty: plain JSON. Visible in the process list: use test keys")
	fs.StringVar(&f.cb.Token, "callback-token", "", "sign callbacks with this token (Content-Signature: sha256=HMAC); empty: unsigned")
	fs.Float64Var(&f.cb.DropShare, "callback-drop", 0, "share of callbacks never sent (0..1)")
	fs.Float64Var(&f.cb.DuplicateShare, "callback-duplicate", 0, "share of callbacks sent twice with the same body and MsgId (0..1)")
	fs.Float64Var(&f.cb.DelayShare, "callback-delay", 0, "share of callbacks held back up to --callback-max-delay, so that later ones overtake them (0..1)")
	fs.DurationVar(&f.cb.MaxDelay, "callback-max-delay", esssim.DefaultCallbackMaxDelay, "longest hold of a delayed callback")
	fs.IntVar(&f.cb.Attempts, "callback-attempts", esssim.DefaultCallbackAttempts, "attempts per callback: an answer other than HTTP 200 (or none) is resent until this many were made")
	fs.DurationVar(&f.cb.RetryWait, "callback-retry-wait", esssim.DefaultCallbackRetryWait, "wait before the first resend, doubling for each further one")
	fs.Uint64Var(&f.o.Seed, "seed", 0, "seed of the random choices of fault and callback shares (0: random)")
	f.faults.p = f.p
	fs.Var(&f.faults, "fault", "add a `fault` [ACTION:]SHARE:WHAT (repeatable): a SHARE (0..1] of calls, of ACTION or all, get WHAT: an error code, drop (connection closed) or a latency such as 300ms")
}

// check reports a flag out of its range.
func (f *simFlags) check() error {
	switch f.o.RateKey {
	case esssim.RateKeySecretID, esssim.RateKeyAppID:
	default:
		return f.usage("cli.simulate.rate_key", "Value", fmt.Sprintf("%q", f.o.RateKey))
	}
	switch f.o.OffsetMode {
	case esssim.OffsetRecord, esssim.OffsetPage:
	default:
		return f.usage("cli.simulate.offset_mode", "Value", fmt.Sprintf("%q", f.o.OffsetMode))
	}
	if f.o.RateLimit == 0 {
		return f.usage("cli.simulate.rate_limit")
	}
	for name, v := range map[string]float64{"--never-verify": f.life.NeverShare, "--reject": f.life.RejectShare} {
		if v < 0 || v > 1 {
			return f.usage("cli.simulate.share", "Flag", name, "Value", v)
		}
	}
	if f.life.NeverShare+f.life.RejectShare > 1 {
		return f.usage("cli.simulate.shares_sum")
	}
	for name, d := range map[string]time.Duration{"--unverified": f.life.Unverified, "--verifying": f.life.Verifying, "--pending": f.life.Pending} {
		if d < 0 {
			return f.usage("cli.simulate.negative", "Flag", name)
		}
	}
	return f.checkAdminsAndCallbacks()
}

func (f *simFlags) checkAdminsAndCallbacks() error {
	a, cb := f.admins, f.cb
	switch {
	case a.OpenAfter < 0:
		return f.usage("cli.simulate.negative", "Flag", "--admin-open-after")
	case a.NeverShare < 0 || a.NeverShare > 1:
		return f.usage("cli.simulate.share", "Flag", "--admin-never", "Value", a.NeverShare)
	case a.NeverShare > 0 && a.OpenAfter == 0:
		return f.usage("cli.simulate.admin_never")
	}
	switch {
	case cb.MaxDelay <= 0 || cb.RetryWait <= 0:
		return f.usage("cli.simulate.callback_waits")
	case cb.Attempts < 1:
		return f.usage("cli.simulate.callback_attempts", "Value", cb.Attempts)
	case cb.URL == "" && (cb.DropShare != 0 || cb.DuplicateShare != 0 || cb.DelayShare != 0):
		return f.usage("cli.simulate.callback_shares")
	}
	if err := cb.Validate(); err != nil {
		return usagef("simulate: --callback-*: %s", strings.TrimPrefix(err.Error(), "esssim: callbacks: "))
	}
	return nil
}

// options are the simulator's options: the flags', the credentials and
// the application of the configuration.
func (f *simFlags) options(cfg Config) esssim.Options {
	o := f.o
	app := esssim.App{AppID: esssim.DefaultAppID, QueryOrgOpenID: esssim.DefaultQueryOrgOpenID, QueryOperatorOpenID: esssim.DefaultQueryOperatorOpenID}
	if cfg.AppID != "" {
		app.AppID = cfg.AppID
	}
	if cfg.QueryOrgOpenID != "" {
		app.QueryOrgOpenID, app.QueryOperatorOpenID = cfg.QueryOrgOpenID, cfg.QueryOperatorOpenID
	}
	o.SecretID, o.SecretKey, o.Apps = cfg.ESSSecretID, cfg.ESSSecretKey, []esssim.App{app}
	life, cb := f.life, f.cb
	o.Lifecycle, o.Callbacks, o.Faults = &life, &cb, f.faults.list
	if f.admins.OpenAfter > 0 {
		admins := f.admins
		o.Admins = &admins
	}
	return o
}

func runSimulate(ctx context.Context, env *Env, args []string) error {
	cfg, err := loadConfig(env.Getenv)
	if err != nil {
		return err
	}
	fs := newFlagSet(env, "simulate", "simulate [flags]", "")
	f := simFlags{p: env.printer()}
	f.register(fs, cfg.ESSRateLimit)
	if err := parseFlags(env, fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return strayArg(env, "simulate", fs.Arg(0))
	}
	if err := f.check(); err != nil {
		return err
	}
	if (cfg.QueryOrgOpenID == "") != (cfg.QueryOperatorOpenID == "") {
		return errors.New(f.p.T("cli.simulate.half_identity"))
	}
	opts := f.options(cfg)
	sim := esssim.New(opts)
	defer sim.Close()
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return fmt.Errorf("simulate: %w", err)
	}
	printSimulator(env.Stdout, f.p, ln.Addr(), cfg, opts)
	return serveSimulator(ctx, env, sim, ln)
}

// printSimulator says where the simulator listens and as what.
func printSimulator(w io.Writer, p *locale.Printer, addr net.Addr, cfg Config, o esssim.Options) {
	secretID, app := cfg.ESSSecretID, o.Apps[0]
	if secretID == "" {
		secretID = esssim.DefaultSecretID
	}
	keyNote := "ESS_SECRET_KEY"
	if cfg.ESSSecretKey == "" {
		keyNote = p.T("cli.simulate.default_key")
	}
	fmt.Fprintln(w, p.T("cli.simulate.listening", "URL", "http://"+addr.String()))
	fmt.Fprintln(w, p.T("cli.simulate.identity", "SecretID", secretID, "Key", keyNote, "App", app.AppID,
		"Org", app.QueryOrgOpenID, "Operator", app.QueryOperatorOpenID))
	fmt.Fprintln(w, p.T("cli.simulate.admin", "URL", "http://"+addr.String()+"/_sim/"))
	if cb := o.Callbacks; cb.URL != "" {
		enc, sig := p.T("cli.simulate.plain"), p.T("cli.simulate.unsigned")
		if cb.Key != "" {
			enc = p.T("cli.simulate.encrypted")
		}
		if cb.Token != "" {
			sig = p.T("cli.simulate.signed")
		}
		fmt.Fprintln(w, p.T("cli.simulate.callbacks", "URL", cb.URL, "Enc", enc, "Sig", sig))
	}
}

// serveSimulator serves sim on ln until ctx ends, then shuts it down.
func serveSimulator(ctx context.Context, env *Env, sim *esssim.Server, ln net.Listener) error {
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("simulate: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if e := <-errc; e != nil && !errors.Is(e, http.ErrServerClosed) && err == nil {
		err = e
	}
	if err != nil {
		return fmt.Errorf("simulate: %s: %w", env.printer().T("cli.simulate.shutdown"), err)
	}
	fmt.Fprintln(env.Stdout, env.printer().T("cli.simulate.stopped"))
	return nil
}

var _ flag.Value = (*faultFlags)(nil)
