package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ess-onboard/onboard/esssim"
)

func init() {
	register(command{
		name:    "simulate",
		summary: "run a local essbasic simulator (for tests, demos and benchmarks)",
		run:     runSimulate,
	})
}

// faultFlags collects repeated --fault values.
type faultFlags []esssim.Fault

func (f *faultFlags) String() string { return fmt.Sprint(len(*f), " faults") }

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
		return fmt.Errorf("want [ACTION:]SHARE:WHAT, got %q", v)
	}
	share, err := strconv.ParseFloat(parts[0], 64)
	if err != nil {
		return fmt.Errorf("share %q: want a number in (0, 1]", parts[0])
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
	*f = append(*f, fault)
	return nil
}

func runSimulate(ctx context.Context, env *Env, args []string) error {
	cfg, err := loadConfig(env.Getenv)
	if err != nil {
		return err
	}
	fs := newFlagSet(env, "simulate", "simulate [flags]", `
Runs a local essbasic that the real SDK can call: TC3 signature check, field
validation, the per-action rate limit, verification on a schedule, extended
services and DescribeExtendedServiceAuthInfo, faults on demand and counters.
With --admin-open-after it plays the admins who open service links; with
--callback-url it posts the platform's callbacks there, encrypted with
--callback-key and signed with --callback-token, a share of them dropped,
duplicated or delayed, resent on any answer but HTTP 200. Credentials are
ESS_SECRET_ID / ESS_SECRET_KEY (defaults: the simulator's fixed test
credentials). The application is ESS_APP_ID with the query identity
ESS_QUERY_ORG_OPENID / ESS_QUERY_OPERATOR_OPENID, created VERIFIED (defaults:
the simulator's own). Admin endpoints (counters, callbacks among them, faults,
status and services by hand) are under /_sim/ and are not signed: keep it on
loopback. Point the client at it with ESS_ENDPOINT=http://ADDR.`)
	addr := fs.String("addr", "127.0.0.1:18090", "address to listen on (port 0: any free port)")
	lenient := fs.Bool("lenient", false, "accept the documentation's placeholder values (no checksum, date or image checks)")
	rate := fs.Int("rate-limit", cfg.ESSRateLimit, "calls per action allowed in any one-second window, negative for no limit; the default comes from ESS_RATE_LIMIT")
	rateKey := fs.String("rate-key", string(esssim.RateKeySecretID), "count the rate limit per action and: secretid or appid")
	offsetMode := fs.String("offset-mode", string(esssim.OffsetRecord), "how DescribeChannelOrganizations reads Offset: record or page")
	unverified := fs.Duration("unverified", esssim.DefaultLifecycle.Unverified, "time a synced company stays UNVERIFIED")
	verifying := fs.Duration("verifying", esssim.DefaultLifecycle.Verifying, "time in VERIFYING")
	pending := fs.Duration("pending", esssim.DefaultLifecycle.Pending, "time in the pending step before VERIFIED")
	never := fs.Float64("never-verify", 0, "share of companies that never verify (0..1)")
	reject := fs.Float64("reject", 0, "share of companies whose letter of authorisation is rejected (0..1)")
	manual := fs.Bool("manual", false, "companies move only when set by hand (POST /_sim/status)")
	overseaAtOnce := fs.Bool("oversea-at-once", false, "open OVERSEA_SIGN without a link")
	keepLinks := fs.Bool("keep-links", false, "a repeated OPEN returns the earlier, still valid link")
	anyAgent := fs.Bool("describe-any-agent", false, "bulk Describe without a verified company and operator in Agent")
	anyApp := fs.Bool("any-app", false, "accept any AppId (register it on first use)")
	adminAfter := fs.Duration("admin-open-after", 0, "an admin opens a service link this long after it was issued, and the service becomes ENABLE (24h or more: never, the link has expired); 0: admins never do by themselves (POST /_sim/services/confirm or /_sim/services/status)")
	adminNever := fs.Float64("admin-never", 0, "share of companies whose admins never open a link (0..1; needs --admin-open-after)")
	cbURL := fs.String("callback-url", "", "post the platform's callbacks (OrgAuth, OrgCertify, OrgOpenTsignBiz, OperateExtendedService) to this http(s) URL; empty: none")
	cbKey := fs.String("callback-key", "", "encrypt callbacks with this key of exactly 32 bytes (AES-256-CBC); empty: plain JSON. Visible in the process list: use test keys")
	cbToken := fs.String("callback-token", "", "sign callbacks with this token (Content-Signature: sha256=HMAC); empty: unsigned")
	cbDrop := fs.Float64("callback-drop", 0, "share of callbacks never sent (0..1)")
	cbDup := fs.Float64("callback-duplicate", 0, "share of callbacks sent twice with the same body and MsgId (0..1)")
	cbDelay := fs.Float64("callback-delay", 0, "share of callbacks held back up to --callback-max-delay, so that later ones overtake them (0..1)")
	cbMaxDelay := fs.Duration("callback-max-delay", esssim.DefaultCallbackMaxDelay, "longest hold of a delayed callback")
	cbAttempts := fs.Int("callback-attempts", esssim.DefaultCallbackAttempts, "attempts per callback: an answer other than HTTP 200 (or none) is resent until this many were made")
	cbRetryWait := fs.Duration("callback-retry-wait", esssim.DefaultCallbackRetryWait, "wait before the first resend, doubling for each further one")
	seed := fs.Uint64("seed", 0, "seed of the random choices of fault and callback shares (0: random)")
	var faults faultFlags
	fs.Var(&faults, "fault", "add a `fault` [ACTION:]SHARE:WHAT (repeatable): a SHARE (0..1] of calls, of ACTION or all, get WHAT: an error code, drop (connection closed) or a latency such as 300ms")
	if err := parseFlags(env, fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("simulate: unexpected argument %q (see 'onboard simulate --help')", fs.Arg(0))
	}
	switch esssim.RateKey(*rateKey) {
	case esssim.RateKeySecretID, esssim.RateKeyAppID:
	default:
		return usagef("simulate: --rate-key must be secretid or appid, got %q", *rateKey)
	}
	switch esssim.OffsetMode(*offsetMode) {
	case esssim.OffsetRecord, esssim.OffsetPage:
	default:
		return usagef("simulate: --offset-mode must be record or page, got %q", *offsetMode)
	}
	if *rate == 0 {
		return usagef("simulate: --rate-limit must not be 0 (negative: no limit)")
	}
	for name, v := range map[string]float64{"--never-verify": *never, "--reject": *reject} {
		if v < 0 || v > 1 {
			return usagef("simulate: %s must be between 0 and 1, got %v", name, v)
		}
	}
	if *never+*reject > 1 {
		return usagef("simulate: --never-verify and --reject add up to more than 1")
	}
	for name, d := range map[string]time.Duration{"--unverified": *unverified, "--verifying": *verifying, "--pending": *pending} {
		if d < 0 {
			return usagef("simulate: %s must not be negative", name)
		}
	}
	var admins *esssim.Admins
	switch {
	case *adminAfter < 0:
		return usagef("simulate: --admin-open-after must not be negative")
	case *adminNever < 0 || *adminNever > 1:
		return usagef("simulate: --admin-never must be between 0 and 1, got %v", *adminNever)
	case *adminNever > 0 && *adminAfter == 0:
		return usagef("simulate: --admin-never needs --admin-open-after")
	case *adminAfter > 0:
		admins = &esssim.Admins{OpenAfter: *adminAfter, NeverShare: *adminNever}
	}
	callbacks := &esssim.Callbacks{
		URL: *cbURL, Key: *cbKey, Token: *cbToken,
		DropShare: *cbDrop, DuplicateShare: *cbDup, DelayShare: *cbDelay,
		MaxDelay: *cbMaxDelay, Attempts: *cbAttempts, RetryWait: *cbRetryWait,
	}
	switch {
	case *cbMaxDelay <= 0 || *cbRetryWait <= 0:
		return usagef("simulate: --callback-max-delay and --callback-retry-wait must be positive")
	case *cbAttempts < 1:
		return usagef("simulate: --callback-attempts must be at least 1, got %d", *cbAttempts)
	case *cbURL == "" && (*cbDrop != 0 || *cbDup != 0 || *cbDelay != 0):
		return usagef("simulate: the --callback-* shares need --callback-url")
	}
	if err := callbacks.Validate(); err != nil {
		return usagef("simulate: --callback-*: %s", strings.TrimPrefix(err.Error(), "esssim: callbacks: "))
	}
	if (cfg.QueryOrgOpenID == "") != (cfg.QueryOperatorOpenID == "") {
		return errors.New("ESS_QUERY_ORG_OPENID and ESS_QUERY_OPERATOR_OPENID: set both or neither")
	}

	app := esssim.App{AppID: esssim.DefaultAppID, QueryOrgOpenID: esssim.DefaultQueryOrgOpenID, QueryOperatorOpenID: esssim.DefaultQueryOperatorOpenID}
	if cfg.AppID != "" {
		app.AppID = cfg.AppID
	}
	if cfg.QueryOrgOpenID != "" {
		app.QueryOrgOpenID, app.QueryOperatorOpenID = cfg.QueryOrgOpenID, cfg.QueryOperatorOpenID
	}
	secretID := cfg.ESSSecretID
	if secretID == "" {
		secretID = esssim.DefaultSecretID
	}
	sim := esssim.New(esssim.Options{
		SecretID:   cfg.ESSSecretID,
		SecretKey:  cfg.ESSSecretKey,
		Lenient:    *lenient,
		RateLimit:  *rate,
		RateKey:    esssim.RateKey(*rateKey),
		OffsetMode: esssim.OffsetMode(*offsetMode),
		Apps:       []esssim.App{app},
		AnyApp:     *anyApp,
		Lifecycle: &esssim.Lifecycle{
			Unverified: *unverified, Verifying: *verifying, Pending: *pending,
			NeverShare: *never, RejectShare: *reject, Manual: *manual,
		},
		OverseaSignAtOnce: *overseaAtOnce,
		KeepEarlierLinks:  *keepLinks,
		DescribeAnyAgent:  *anyAgent,
		Faults:            faults,
		Admins:            admins,
		Callbacks:         callbacks,
		Seed:              *seed,
	})
	defer sim.Close()

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("simulate: %w", err)
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	keyNote := "ESS_SECRET_KEY"
	if cfg.ESSSecretKey == "" {
		keyNote = "the simulator's default test key"
	}
	fmt.Fprintf(env.Stdout, "essbasic simulator listening on http://%s\n", ln.Addr())
	fmt.Fprintf(env.Stdout, "  SecretId %s (key: %s); AppId %s; query identity %s / %s\n",
		secretID, keyNote, app.AppID, app.QueryOrgOpenID, app.QueryOperatorOpenID)
	fmt.Fprintf(env.Stdout, "  admin endpoints: http://%s/_sim/ (unsigned)\n", ln.Addr())
	if *cbURL != "" {
		enc, sig := "plain", "unsigned"
		if *cbKey != "" {
			enc = "encrypted"
		}
		if *cbToken != "" {
			sig = "signed"
		}
		fmt.Fprintf(env.Stdout, "  callbacks to %s (%s, %s)\n", *cbURL, enc, sig)
	}

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("simulate: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	if e := <-errc; e != nil && !errors.Is(e, http.ErrServerClosed) && err == nil {
		err = e
	}
	if err != nil {
		return fmt.Errorf("simulate: shutdown: %w", err)
	}
	fmt.Fprintln(env.Stdout, "essbasic simulator stopped")
	return nil
}

var _ flag.Value = (*faultFlags)(nil)
