package cli

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/ess-onboard/onboard/jobs"
)

func init() {
	register(command{
		name:    "scheduler",
		summary: "enqueue the reconciliation sweep on a schedule (ONBOARD_RECONCILE_CRON)",
		run:     runScheduler,
	})
}

func runScheduler(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "scheduler", "scheduler [--cron SPEC] [--queue-prefix P]", "")
	spec := fs.String("cron", "", "schedule to use instead of $ONBOARD_RECONCILE_CRON")
	sh := shared{printer: env.printer()}
	sh.registerQueuePrefix(fs, "put this before the reconcile queue's name (as the workers' --queue-prefix)")
	if err := parseFlags(env, fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return strayArg(env, "scheduler", fs.Arg(0))
	}
	cfg, err := loadConfig(env.Getenv)
	if err != nil {
		return err
	}
	if *spec == "" {
		*spec = cfg.ReconcileCron
	}
	sched, err := cron.ParseStandard(*spec)
	if err != nil {
		return opsUsage(env, "cli.scheduler.bad_cron", "Spec", fmt.Sprintf("%q", *spec), "Err", err)
	}
	p, err := openParts(ctx, cfg, sh, slog.New(slog.NewTextHandler(env.Stderr, nil)), needQueue)
	if err != nil {
		return err
	}
	defer p.Close()
	q := &jobs.Queue{Client: p.queue, Prefix: p.shared.queuePrefix}
	s := &jobs.Scheduler{Queue: q, Next: func(t time.Time) time.Time { return sched.Next(t.UTC()) }, Logger: p.log}
	fmt.Fprintln(env.Stdout, env.printer().T("cli.scheduler.scheduling", "Task", jobs.TypeReconcileSweep,
		"Queue", q.Name(jobs.QueueReconcile), "Spec", fmt.Sprintf("%q", *spec)))
	s.Run(ctx)
	return nil
}
