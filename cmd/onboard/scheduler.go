package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

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

Any number of schedulers may run for availability: a tick whose sweep is
still waiting or running adds no second task, and a sweep finding another
sweep of the same application running skips it (Postgres advisory lock).
Stops on SIGINT/SIGTERM.`

// reconcileUnique keeps a scheduler tick from adding a sweep while the one
// before is still waiting or running.
const reconcileUnique = time.Hour

func runScheduler(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "scheduler", "scheduler [--cron SPEC]", schedulerDescription)
	spec := fs.String("cron", "", "schedule to use instead of $ONBOARD_RECONCILE_CRON")
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
	redisOpt, err := asynq.ParseRedisURI(cfg.RedisURL)
	if err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	log := slog.New(slog.NewTextHandler(env.Stderr, nil))
	s := asynq.NewScheduler(redisOpt, &asynq.SchedulerOpts{
		Location: time.UTC,
		Logger:   asynqSlog{log},
		PostEnqueueFunc: func(info *asynq.TaskInfo, err error) {
			if err != nil {
				log.Info("reconcile sweep not enqueued", "reason", err)
				return
			}
			log.Info("reconcile sweep enqueued", "task", info.ID, "queue", info.Queue)
		},
	})
	if _, err := s.Register(*spec, jobs.NewReconcileTask(""), asynq.Unique(reconcileUnique)); err != nil {
		return usagef("scheduler: ONBOARD_RECONCILE_CRON (or --cron) %q is not a cron schedule: %v", *spec, err)
	}
	if err := s.Start(); err != nil {
		return fmt.Errorf("scheduler: %w", err)
	}
	fmt.Fprintf(env.Stdout, "scheduling %s on queue %s at %q (UTC)\n", jobs.TypeReconcileSweep, jobs.QueueReconcile, *spec)
	<-ctx.Done()
	s.Shutdown()
	return nil
}

// asynqSlog passes asynq's messages to slog.
type asynqSlog struct{ l *slog.Logger }

func (a asynqSlog) Debug(args ...any) { a.l.Debug(fmt.Sprint(args...)) }
func (a asynqSlog) Info(args ...any)  { a.l.Info(fmt.Sprint(args...)) }
func (a asynqSlog) Warn(args ...any)  { a.l.Warn(fmt.Sprint(args...)) }
func (a asynqSlog) Error(args ...any) { a.l.Error(fmt.Sprint(args...)) }
func (a asynqSlog) Fatal(args ...any) { a.l.Error(fmt.Sprint(args...)) }
