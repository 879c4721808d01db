package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
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

const schedulerDescription = `
Enqueues a reconcile:sweep task on the onboard-reconcile queue on the schedule
ONBOARD_RECONCILE_CRON (standard 5-field cron, in UTC; default every 10
minutes, "*/10 * * * *"; "@every 5m" works too). 'onboard worker' processes
run the sweeps: each sweeps every application onboard knows (see 'onboard
reconcile --help').

Each tick's sweep has a task id of its own (the tick's time), so any number
of schedulers may run for availability and each tick is swept once; a sweep
that fails is retried a few times and never holds back the next tick. A
sweep finding another sweep of the same application running skips it
(Postgres advisory lock, released when the sweep ends or its process dies).
Stops on SIGINT/SIGTERM.`

func runScheduler(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "scheduler", "scheduler [--cron SPEC] [--queue-prefix P]", schedulerDescription)
	spec := fs.String("cron", "", "schedule to use instead of $ONBOARD_RECONCILE_CRON")
	prefix := fs.String("queue-prefix", "", "put this before the reconcile queue's name (as the workers' --queue-prefix)")
	if err := parseFlags(env, fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("scheduler: unexpected argument %q (see 'onboard scheduler --help')", fs.Arg(0))
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
		return usagef("scheduler: ONBOARD_RECONCILE_CRON (or --cron) %q is not a cron schedule: %v", *spec, err)
	}
	redisOpt, err := asynq.ParseRedisURI(cfg.RedisURL)
	if err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	client := asynq.NewClient(redisOpt)
	defer client.Close()
	log := slog.New(slog.NewTextHandler(env.Stderr, nil))
	q := &jobs.Queue{Client: client, Prefix: *prefix}
	s := &jobs.Scheduler{Queue: q, Next: func(t time.Time) time.Time { return sched.Next(t.UTC()) }, Logger: log}
	fmt.Fprintf(env.Stdout, "scheduling %s on queue %s at %q (UTC)\n", jobs.TypeReconcileSweep, q.Name(jobs.QueueReconcile), *spec)
	s.Run(ctx)
	return nil
}
