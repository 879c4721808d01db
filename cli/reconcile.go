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
)

func init() {
	register(command{
		name:    "reconcile",
		summary: "run one reconciliation sweep now and print what changed",
		run:     runReconcile,
	})
}

func runReconcile(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "reconcile", "reconcile [--app-id ID | --all] [--json] [--queue-prefix P] [--rate-scope S]", help("reconcile"))
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
		return usagef("reconcile: unexpected argument %q (see 'onboard reconcile --help')", fs.Arg(0))
	}
	if err := sh.check("reconcile"); err != nil {
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
		return usagef("reconcile: no application id: give --app-id, --all, or set ESS_APP_ID")
	}
	if *appID != "" && *all {
		return usagef("reconcile: give --app-id or --all, not both")
	}
	p, err := openParts(ctx, cfg, sh, slog.New(slog.NewTextHandler(env.Stderr, nil)), needStore|needAPI)
	if err != nil {
		return err
	}
	defer p.Close()
	reports, err := sweep(ctx, p.reconciler(p.workers(jobs.Config{})), *appID)
	if encErr := printSweeps(env.Stdout, reports, *asJSON); encErr != nil {
		return encErr
	}
	if errors.Is(err, jobs.ErrSweepRunning) {
		return fmt.Errorf("reconcile %s: %w; it was skipped", *appID, err)
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

func printSweeps(w io.Writer, reports []jobs.SweepReport, asJSON bool) error {
	if !asJSON {
		for _, r := range reports {
			printSweep(w, r)
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

func printSweep(w io.Writer, r jobs.SweepReport) {
	if r.Skipped {
		fmt.Fprintf(w, "application %s: skipped, another sweep is running\n", r.AppID)
		return
	}
	fmt.Fprintf(w, "application %s (run %d, %s)\n", r.AppID, r.ID, r.FinishedAt.Sub(r.StartedAt).Round(time.Millisecond))
	fmt.Fprintf(w, "  pages read:       %d (%d companies on the platform)\n", r.Pages, r.PlatformOrgs)
	fmt.Fprintf(w, "  status updates:   %d (%d newly verified, %d rejected)\n", r.StatusUpdates, r.Verified, r.Rejected)
	fmt.Fprintf(w, "  work re-queued:   %d\n", r.Requeued)
	fmt.Fprintf(w, "  links renewed:    %d\n", r.LinksRenewed)
	fmt.Fprintf(w, "  drift:            %d unknown to onboard, %d mismatched\n", r.UnknownOrgs, r.Mismatched)
	for _, d := range r.Drift {
		switch d.Kind {
		case onboard.DriftUnknown:
			fmt.Fprintf(w, "    %s: on the platform (%s), not in onboard\n", d.OpenID, d.Platform)
		default:
			fmt.Fprintf(w, "    %s: %s differs: onboard %q, platform %q\n", d.OpenID, d.Kind, d.Ours, d.Platform)
		}
	}
	if r.Error != "" {
		fmt.Fprintf(w, "  error:            %s\n", r.Error)
	}
}
