package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/jobs"
	"github.com/ess-onboard/onboard/locale"
)

func init() {
	register(command{
		name:    "reconcile",
		summary: "run one reconciliation sweep now and print what changed",
		run:     runReconcile,
	})
}

func runReconcile(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "reconcile", "reconcile [--app-id ID | --all] [--json] [--queue-prefix P] [--rate-scope S]", "")
	appID := fs.String("app-id", "", "application to sweep (default $ESS_APP_ID)")
	all := fs.Bool("all", false, "sweep every application onboard has organizations of")
	asJSON := fs.Bool("json", false, "print JSON instead of text")
	var sh shared
	sh.registerQueuePrefix(fs, "the workers' --queue-prefix: the sweep's calls wait in their rate limiter")
	sh.registerRateScope(fs)
	if err := parseFlags(env, fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return strayArg(env, "reconcile", fs.Arg(0))
	}
	if err := sh.check(env, "reconcile"); err != nil {
		return err
	}
	cfg, err := loadConfig(env.Getenv)
	if err != nil {
		return err
	}
	if *appID == "" && !*all {
		*appID = cfg.AppID
	}
	if *appID == "" && !*all {
		return opsUsage(env, "cli.reconcile.no_app")
	}
	if *appID != "" && *all {
		return opsUsage(env, "cli.reconcile.app_and_all")
	}
	p, err := openParts(ctx, cfg, sh, slog.New(slog.NewTextHandler(env.Stderr, nil)), needStore|needAPI)
	if err != nil {
		return err
	}
	defer p.Close()
	reports, err := sweep(ctx, p.reconciler(p.workers(jobs.Config{})), *appID)
	if encErr := printSweeps(env.Stdout, env.printer(), reports, *asJSON); encErr != nil {
		return encErr
	}
	if errors.Is(err, jobs.ErrSweepRunning) {
		return fmt.Errorf("reconcile %s: %w; %s", *appID, err, env.printer().T("cli.reconcile.was_skipped"))
	}
	return err
}

// sweep sweeps appID, or every application for "".
func sweep(ctx context.Context, rec *jobs.Reconciler, appID string) ([]jobs.SweepReport, error) {
	if appID == "" {
		return rec.SweepAll(ctx, "cli")
	}
	rep, err := rec.Sweep(ctx, appID, "cli")
	if rep == nil {
		return nil, err
	}
	return []jobs.SweepReport{*rep}, err
}

func printSweeps(w io.Writer, p *locale.Printer, reports []jobs.SweepReport, asJSON bool) error {
	if !asJSON {
		for _, r := range reports {
			printSweep(w, p, r)
		}
		return nil
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	for _, r := range reports {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}

func printSweep(w io.Writer, p *locale.Printer, r jobs.SweepReport) {
	if r.Skipped {
		fmt.Fprintln(w, p.T("cli.reconcile.skipped", "App", r.AppID))
		return
	}
	fmt.Fprintln(w, p.T("cli.reconcile.run", "App", r.AppID, "Run", r.ID, "Took", r.FinishedAt.Sub(r.StartedAt).Round(time.Millisecond)))
	fmt.Fprintln(w, p.T("cli.reconcile.pages", "Pages", p.Int(r.Pages), "Orgs", p.Int(r.PlatformOrgs)))
	fmt.Fprintln(w, p.T("cli.reconcile.updates", "Updates", p.Int(r.StatusUpdates), "Verified", p.Int(r.Verified), "Rejected", p.Int(r.Rejected)))
	fmt.Fprintln(w, p.T("cli.reconcile.requeued", "Count", p.Int(r.Requeued)))
	fmt.Fprintln(w, p.T("cli.reconcile.links", "Count", p.Int(r.LinksRenewed)))
	fmt.Fprintln(w, p.T("cli.reconcile.drift", "Unknown", p.Int(r.UnknownOrgs), "Mismatched", p.Int(r.Mismatched)))
	for _, d := range r.Drift {
		switch d.Kind {
		case onboard.DriftUnknown:
			fmt.Fprintln(w, p.T("cli.reconcile.drift_unknown", "OpenID", d.OpenID, "Platform", d.Platform))
		default:
			kind := d.Kind
			if id := "cli.reconcile.kind." + d.Kind; p.Has(id) {
				kind = p.T(id)
			}
			fmt.Fprintln(w, p.T("cli.reconcile.drift_differs", "OpenID", d.OpenID, "Kind", kind,
				"Ours", fmt.Sprintf("%q", d.Ours), "Platform", fmt.Sprintf("%q", d.Platform)))
		}
	}
	if r.Error != "" {
		fmt.Fprintln(w, p.T("cli.reconcile.error", "Error", r.Error))
	}
}
