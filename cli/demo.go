package cli

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

	"github.com/ess-onboard/onboard"
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

func runDemo(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "demo", "demo [--out DIR] [--timeout D] [--serve ADDR]", "")
	serveAddr := fs.String("serve", "127.0.0.1:8080", "address of the dashboard served after the summary; \"\" for none")
	out := fs.String("out", "out/demo", "folder for sample.xlsx and results.xlsx")
	timeout := fs.Duration("timeout", 5*time.Minute, "give up when organizations are not final after this long")
	verbose := fs.Bool("v", false, "show the workers' log")
	if err := parseFlags(env, fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return strayArg(env, "demo", fs.Arg(0))
	}
	if *timeout <= 0 {
		return opsUsage(env, "cli.demo.timeout_positive")
	}
	cfg, err := loadConfig(env.Getenv)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	d := &demoRun{env: env, cfg: cfg, out: *out, timeout: *timeout}
	defer d.close()
	if err := d.prepare(ctx); err != nil {
		return err
	}
	logw := io.Discard
	if *verbose {
		logw = env.Stderr
	}
	p, err := openParts(ctx, d.cfg, shared{queuePrefix: d.prefix, rateScope: "app", printer: env.printer()}, slog.New(slog.NewTextHandler(logw, nil)),
		needRedisUp|needStore|needAPI|needQueue)
	if err != nil {
		return err
	}
	defer p.Close()
	defer d.stopWorkers()
	if err := d.run(ctx, p); err != nil {
		return err
	}
	if *serveAddr == "" {
		return nil
	}
	if env.Getenv("CI") == "true" {
		fmt.Fprintln(env.Stdout, env.printer().T("cli.demo.ci_no_dashboard"))
		return nil
	}
	return serveDemo(ctx, env, p, *serveAddr)
}

// demoRun is one run of the demo: its simulator, the receiver of the
// simulator's callbacks and the workers, all in this process.
type demoRun struct {
	env     *Env
	cfg     Config // pointed at the simulator and an application of the run's own
	out     string
	timeout time.Duration
	prefix  string // of the run's queues and limiter keys
	sim     *esssim.Server
	cbLn    net.Listener // where the simulator sends its callbacks
	closers []func()     // of the simulator
	stops   []func()     // of the workers and the callback receiver
}

func (d *demoRun) close() { runReversed(d.closers) }

func (d *demoRun) stopWorkers() { runReversed(d.stops) }

func runReversed(fns []func()) {
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}

// Callback key and token of the demo's simulator and receiver.
const demoCallbackKey, demoCallbackToken = "demo-callback-key-0123456789abcd", "demo-callback-token"

// prepare starts the simulator, creates the database when missing and
// writes the sample.
func (d *demoRun) prepare(ctx context.Context) error {
	p := d.env.printer()
	if err := d.startSimulator(); err != nil {
		return err
	}
	// 2. The database, created when missing, and its migrations.
	if created, err := repository.CreateDatabase(ctx, d.cfg.DatabaseURL); err != nil {
		return err
	} else if created {
		fmt.Fprintln(d.env.Stdout, p.T("cli.demo.created_database", "DB", redactURL(d.cfg.DatabaseURL)))
	}
	// 3. The sample file.
	samplePath := filepath.Join(d.out, "sample.xlsx")
	sample := func(w io.Writer) error { return importer.WriteSampleIn(w, p.Lang()) }
	if err := writeFile(samplePath, sample); err != nil {
		return fmt.Errorf("demo: %s: %w", p.T("cli.demo.write_sample"), err)
	}
	fmt.Fprintln(d.env.Stdout, p.T("cli.demo.wrote_sample", "Path", samplePath))
	return nil
}

// startSimulator starts the simulator on a loopback port, sending its
// callbacks to a receiver of this run (started with the workers), with an
// application of the run's own, and points the configuration at it.
func (d *demoRun) startSimulator() error {
	// 1. The simulator.
	p := d.env.printer()
	cbLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("demo: %s: %w", p.T("cli.demo.start_receiver"), err)
	}
	d.cbLn = cbLn
	d.closers = append(d.closers, func() { cbLn.Close() })
	d.sim = esssim.New(esssim.Options{Admins: &esssim.Admins{OpenAfter: 2 * time.Second}, Lifecycle: &esssim.Lifecycle{
		Unverified: time.Second, Verifying: time.Second, Pending: 2 * time.Second, RejectShare: 0.1},
		Callbacks: &esssim.Callbacks{URL: "http://" + cbLn.Addr().String() + web.CallbackPath, Key: demoCallbackKey, Token: demoCallbackToken}})
	d.closers = append(d.closers, func() { d.sim.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("demo: %s: %w", p.T("cli.demo.start_simulator"), err)
	}
	hs := &http.Server{Handler: d.sim, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln) //nolint:errcheck // ends with Close
	d.closers = append(d.closers, func() { hs.Close() })
	cfg := &d.cfg
	cfg.ESSEndpoint = "http://" + ln.Addr().String()
	cfg.ESSSecretID, cfg.ESSSecretKey, cfg.ESSRegion = esssim.DefaultSecretID, esssim.DefaultSecretKey, ""
	if d.prefix, err = demoPrefix(); err != nil {
		return err
	}
	cfg.AppID = "onboard-" + strings.TrimSuffix(d.prefix, "-")
	cfg.QueryOrgOpenID, cfg.QueryOperatorOpenID = esssim.DefaultQueryOrgOpenID, esssim.DefaultQueryOperatorOpenID
	if err := d.sim.AddApp(esssim.App{AppID: cfg.AppID, QueryOrgOpenID: cfg.QueryOrgOpenID, QueryOperatorOpenID: cfg.QueryOperatorOpenID}); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	fmt.Fprintln(d.env.Stdout, p.T("cli.demo.simulator", "URL", cfg.ESSEndpoint, "App", cfg.AppID))
	return nil
}

// run imports the sample, runs the workers until every organization is
// final, and prints the summary. The workers keep running until ctx ends
// or the run is closed.
func (d *demoRun) run(ctx context.Context, p *parts) error {
	// 4. Import it as 'onboard import' does, but into queues of this run
	// (a random prefix): Redis keeps finished tasks for a day, and their
	// TaskIDs, made of database ids, would collide with this run's when the
	// database was created afresh.
	imp, err := demoImport(ctx, p, filepath.Join(d.out, "sample.xlsx"), d.cfg.AppID)
	if err != nil {
		return err
	}
	printImportIn(d.env.Stdout, d.env.printer(), imp)
	// 5. The workers, in this process, polling often.
	if err := d.startWorkers(ctx, p); err != nil {
		return err
	}
	// 6. Progress until every organization is final.
	fmt.Fprintln(d.env.Stdout)
	wait, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	if err := watchStatus(wait, d.env, p.store, imp.BatchID, true, false, time.Second); err != nil {
		return err
	}
	r, _, err := readStatus(ctx, p.store, imp.BatchID)
	if err != nil {
		return err
	}
	if !r.Done {
		if ctx.Err() != nil {
			return errors.New(d.env.printer().T("cli.demo.interrupted"))
		}
		return errors.New(d.env.printer().T("cli.demo.not_final", "Timeout", d.timeout, "Batch", imp.BatchID))
	}
	return d.summary(ctx, p, imp, r)
}

// demoImport imports a file as 'onboard import' does, into the store the
// demo's workers run on.
func demoImport(ctx context.Context, p *parts, path, appID string) (*intake.Result, error) {
	return p.intake(intake.Limits{}).Import(ctx, intake.Request{Path: path, AppID: appID})
}

// startWorkers starts the workers and the receiver of the simulator's
// callbacks; closing the run stops them and drops the run's queues.
func (d *demoRun) startWorkers(ctx context.Context, p *parts) error {
	wf := workerFlags{shared: p.shared, loginEndpoint: "H5", authTimeout: d.timeout, adminTimeout: d.timeout, pollMin: 500 * time.Millisecond,
		pollMax: 2 * time.Second, shutdownTimeout: 5 * time.Second, retryBudget: d.timeout, retryBase: time.Second,
		retryMax: 5 * time.Second, checkInterval: 500 * time.Millisecond, lease: 30 * time.Second, pollCallbacks: 5 * time.Second,
		dispatchEvery: 200 * time.Millisecond, dispatchApps: []string{d.cfg.AppID}}
	w, sc := wf.process(p)
	rcv, err := callbackReceiver(demoCallbackKey, demoCallbackToken, p.store, nil, p.log)
	if err != nil {
		return err
	}
	cbMux := http.NewServeMux()
	cbMux.Handle("POST "+web.CallbackPath, rcv)
	cbSrv := &http.Server{Handler: cbMux, ReadHeaderTimeout: 10 * time.Second}
	go cbSrv.Serve(d.cbLn) //nolint:errcheck // ends with Close
	d.stops = append(d.stops, func() { cbSrv.Close() })
	fmt.Fprintln(d.env.Stdout, d.env.printer().T("cli.demo.callbacks_at", "URL", "http://"+d.cbLn.Addr().String()+web.CallbackPath))
	wctx, stopWorkers := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx, sc) }()
	d.stops = append(d.stops,
		func() { jobs.DropQueues(context.Background(), p.rdb, d.prefix) }, // after the workers stop
		func() { stopWorkers(); <-done })
	return nil
}

// summary writes the results file and prints what the run did.
func (d *demoRun) summary(ctx context.Context, p *parts, imp *intake.Result, r statusReport) error {
	// 7. Summary and results file.
	out, pr := d.env.Stdout, d.env.printer()
	resultsPath := filepath.Join(d.out, "results.xlsx")
	err := writeFile(resultsPath, func(w io.Writer) error {
		return writeBatchResults(ctx, p.store, w, imp.BatchID, results.Options{Lang: pr.Lang()})
	})
	if err != nil {
		return fmt.Errorf("demo: %s: %w", pr.T("cli.demo.write_results"), err)
	}
	st := d.sim.Stats()
	rejected := 0
	for _, n := range st.RateLimited {
		rejected += n
	}
	fmt.Fprint(out, "\n"+pr.N("cli.demo.finished", r.Total, "Batch", imp.BatchID))
	for _, s := range stateOrder {
		if n := r.States[s]; n > 0 {
			fmt.Fprint(out, pr.T("cli.demo.state", "Count", pr.Int(n), "State", pr.T("results.state."+s)))
		}
	}
	fmt.Fprintln(out, pr.N("cli.demo.rejected_at_import", imp.Rejected))
	fmt.Fprintln(out, pr.T("cli.demo.calls", "Calls", pr.Int(totalCalls(st)), "Refused", pr.Int(rejected)))
	if cc, err := p.store.CallbackCounts(ctx, d.cfg.AppID); err == nil {
		total := 0
		for _, n := range cc {
			total += n
		}
		fmt.Fprintln(out, pr.T("cli.demo.callbacks", "Total", pr.Int(total), "Due", pr.Int(cc[onboard.CallbackVerifyDue]+cc[onboard.CallbackCheckDue])))
	}
	fmt.Fprintln(out, pr.T("cli.demo.results_file", "Path", resultsPath))
	return nil
}

// serveDemo serves the dashboard on the demo's data and queues until ctx
// ends. A busy address falls back to a free port.
func serveDemo(ctx context.Context, env *Env, p *parts, addr string) error {
	pr := env.printer()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(env.Stdout, pr.T("cli.demo.busy", "Addr", addr, "Err", err))
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return fmt.Errorf("demo: %s: %w", pr.T("cli.demo.dashboard_failed"), err)
		}
	}
	srv, err := newDashboard(p, serveFlags{addr: ln.Addr().String(), maxUpload: web.DefaultMaxUploadSize, shared: p.shared})
	if err != nil {
		ln.Close()
		return err
	}
	defer srv.Close()
	fmt.Fprintf(env.Stdout, "\n%s\n", pr.T("cli.demo.dashboard", "URL", "http://"+ln.Addr().String()+"/"))
	if err := srv.Serve(ctx, ln); err != nil && ctx.Err() == nil {
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
