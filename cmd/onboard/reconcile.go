package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/ess"
	"github.com/ess-onboard/onboard/jobs"
	"github.com/ess-onboard/onboard/repository"
)

func init() {
	register(command{
		name:    "reconcile",
		summary: "run one reconciliation sweep now and print what changed",
		run:     runReconcile,
	})
}

const reconcileDescription = `
Runs one reconciliation sweep of an application (--app-id, default ESS_APP_ID;
--all for every application onboard knows) and prints what it changed:

  - pages through the platform's list of the application's companies (200 a
    page) and brings every organization's authorization status, admin and
    legal representative OpenIds up to date; companies newly verified get
    their service requests queued;
  - reports drift: companies the platform lists that onboard does not know,
    and names or credit codes that differ;
  - asks again for service links that expired while the service is not open.

Work whose task Redis lost, or whose worker died, is not the sweep's to find:
the workers' dispatcher hands it out again within a minute.

One sweep per application runs at a time, however many processes try
(a Postgres advisory lock); a second one is skipped. Every sweep is recorded
and shown on the dashboard's batch pages. 'onboard scheduler' runs sweeps on
a schedule.

With --json, prints one JSON object per application:
  {"app_id": "...", "pages": 3, "platform_orgs": 450, "status_updates": 12,
   "verified": 10, "rejected": 0, "requeued": 2, "links_renewed": 1,
   "unknown_orgs": 1, "mismatched": 0, "skipped": false, "drift": [...], ...}

Exit status: 0 when the sweep ran (even if the listing failed: see "error"),
1 when it could not run or was skipped because another sweep was running,
2 for a wrong command line.`

func runReconcile(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "reconcile", "reconcile [--app-id ID | --all] [--json]", reconcileDescription)
	appID := fs.String("app-id", "", "application to sweep (default $ESS_APP_ID)")
	all := fs.Bool("all", false, "sweep every application onboard has organizations of")
	asJSON := fs.Bool("json", false, "print JSON instead of text")
	if err := parseFlags(env, fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("reconcile: unexpected argument %q (see 'onboard reconcile --help')", fs.Arg(0))
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
	deps, err := openReconcileDeps(ctx, cfg, jobs.Config{Logger: slog.New(slog.NewTextHandler(env.Stderr, nil))})
	if err != nil {
		return err
	}
	defer deps.close()
	rec := deps.rec

	var reports []jobs.SweepReport
	if *all {
		reports, err = rec.SweepAll(ctx, "cli")
	} else {
		var rep *jobs.SweepReport
		rep, err = rec.Sweep(ctx, *appID, "cli")
		if rep != nil {
			reports = append(reports, *rep)
		}
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		for _, r := range reports {
			if encErr := enc.Encode(r); encErr != nil {
				return encErr
			}
		}
	} else {
		for _, r := range reports {
			printSweep(env.Stdout, r)
		}
	}
	if errors.Is(err, jobs.ErrSweepRunning) {
		return fmt.Errorf("reconcile %s: %w; it was skipped", *appID, err)
	}
	return err
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

// reconcileDeps are a Reconciler and what it was built on.
type reconcileDeps struct {
	rec     *jobs.Reconciler
	workers *jobs.Workers
	store   *repository.Store
	redis   asynq.RedisConnOpt
	closers []func()
}

func (d *reconcileDeps) close() {
	for i := len(d.closers) - 1; i >= 0; i-- {
		d.closers[i]()
	}
}

// openReconcileDeps builds a Reconciler, and the workers it applies
// statuses with, from the configuration and the workers' settings wcfg
// (its query identities default to the configured one of ESS_APP_ID).
func openReconcileDeps(ctx context.Context, cfg Config, wcfg jobs.Config) (_ *reconcileDeps, err error) {
	d := &reconcileDeps{}
	defer func() {
		if err != nil {
			d.close()
		}
	}()
	if d.redis, err = asynq.ParseRedisURI(cfg.RedisURL); err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	if d.store, err = openMigratedStore(ctx, cfg); err != nil {
		return nil, err
	}
	d.closers = append(d.closers, d.store.Close)
	rc, ok := d.redis.MakeRedisClient().(redis.UniversalClient)
	if !ok {
		return nil, errors.New("REDIS_URL: unsupported Redis connection type")
	}
	d.closers = append(d.closers, func() { rc.Close() })
	lim := jobs.NewLimiter(rc, jobs.LimiterConfig{Rate: float64(cfg.ESSRateLimit)})
	api, err := ess.New(ess.Config{Endpoint: cfg.ESSEndpoint, SecretID: cfg.ESSSecretID, SecretKey: cfg.ESSSecretKey,
		Region: cfg.ESSRegion, Timeout: cfg.ESSTimeout, Transport: &jobs.LimitedTransport{Limiter: lim, DefaultScope: cfg.AppID}})
	if err != nil {
		return nil, err
	}
	client := asynq.NewClient(d.redis)
	d.closers = append(d.closers, func() { client.Close() })
	if wcfg.QueryIdentities == nil && cfg.AppID != "" {
		wcfg.QueryIdentities = map[string]jobs.QueryIdentity{cfg.AppID: {OrgOpenID: cfg.QueryOrgOpenID, OperatorOpenID: cfg.QueryOperatorOpenID}}
	}
	d.workers = jobs.NewWorkers(d.store, api, lim, client, wcfg)
	d.rec = &jobs.Reconciler{Workers: d.workers, Store: d.store, Logger: wcfg.Logger}
	return d, nil
}
