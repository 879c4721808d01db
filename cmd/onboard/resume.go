package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hibiken/asynq"

	"github.com/ess-onboard/onboard/jobs"
	"github.com/ess-onboard/onboard/repository"
)

func init() {
	register(command{
		name:    "resume",
		summary: "resume a paused application (and set its query identity)",
		run:     runResume,
	})
}

const resumeDescription = `
Resumes an application the workers paused after an error that would have
failed every row (wrong credentials, a banned or unknown application, a
missing feature, no query identity): clears the pause and the blocked reason
of its batches, and queues again every organization with work left, each
from where it stopped. Fix the cause first (for example ESS_SECRET_KEY of the
workers), then resume.

--query-org-openid and --query-operator-openid store the verified company
and operator the application's authorization status is queried as
(DescribeChannelOrganizations); they take precedence over
ESS_QUERY_ORG_OPENID and ESS_QUERY_OPERATOR_OPENID. Resuming an application
that is not paused only queues its pending work again, which is harmless.`

func runResume(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "resume", "resume --app-id ID [--query-org-openid O --query-operator-openid P] [--json]", resumeDescription)
	appID := fs.String("app-id", "", "the application to resume (default ESS_APP_ID)")
	qOrg := fs.String("query-org-openid", "", "verified company OpenId to query authorization status as")
	qOp := fs.String("query-operator-openid", "", "verified operator OpenId of that company")
	asJSON := fs.Bool("json", false, "print what was queued as JSON")
	if err := parseFlags(env, fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("resume: unexpected argument %q (see 'onboard resume --help')", fs.Arg(0))
	}
	if (*qOrg == "") != (*qOp == "") {
		return usagef("resume: give both --query-org-openid and --query-operator-openid, or neither")
	}
	cfg, err := loadConfig(env.Getenv)
	if err != nil {
		return err
	}
	if *appID == "" {
		*appID = cfg.AppID
	}
	if *appID == "" {
		return usagef("resume: no application: give --app-id or set ESS_APP_ID")
	}
	redisOpt, err := asynq.ParseRedisURI(cfg.RedisURL)
	if err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	store, err := repository.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer store.Close()
	if _, err := store.Migrate(ctx); err != nil {
		return fmt.Errorf("apply migrations: %w", err)
	}
	client := asynq.NewClient(redisOpt)
	defer client.Close()
	if err := client.Ping(); err != nil {
		return fmt.Errorf("connect to Redis: %w", err)
	}
	app, err := store.Application(ctx, *appID)
	if err != nil {
		return err
	}
	if *qOrg != "" {
		if err := store.SetQueryIdentity(ctx, *appID, *qOrg, *qOp); err != nil {
			return err
		}
	}
	w := jobs.NewWorkers(store, nil, nil, client, jobs.Config{})
	res, err := w.Resume(ctx, *appID)
	if err != nil {
		return err
	}
	if *asJSON {
		b, _ := json.Marshal(map[string]any{"app_id": *appID, "was_paused": app.Paused(),
			"syncs": res.Syncs, "services": res.Services, "polling": res.Polling})
		fmt.Fprintf(env.Stdout, "%s\n", b)
		return nil
	}
	if app.Paused() {
		fmt.Fprintf(env.Stdout, "application %s resumed (it was paused: %s answered %s: %s)\n",
			*appID, app.PauseAction, app.PauseCode, app.PauseMessage)
	} else {
		fmt.Fprintf(env.Stdout, "application %s was not paused; its pending work is queued again\n", *appID)
	}
	fmt.Fprintf(env.Stdout, "queued: %d syncs, %d service requests", res.Syncs, res.Services)
	if res.Polling {
		fmt.Fprint(env.Stdout, ", authorization polling")
	}
	fmt.Fprintln(env.Stdout)
	return nil
}
