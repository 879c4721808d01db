package main

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/ess-onboard/onboard/jobs"
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
of its batches; the workers then take up its work, each organization from
where it stopped (nothing of it was lost while it was paused). Fix the cause first (for example ESS_SECRET_KEY of the
workers), then resume.

--query-org-openid and --query-operator-openid store the verified company
and operator the application's authorization status is queried as
(DescribeChannelOrganizations); they take precedence over
ESS_QUERY_ORG_OPENID and ESS_QUERY_OPERATOR_OPENID. Resuming an application
that is not paused changes nothing else.`

func runResume(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "resume", "resume --app-id ID [--query-org-openid O --query-operator-openid P] [--json]", resumeDescription)
	appID := fs.String("app-id", "", "the application to resume (default ESS_APP_ID)")
	qOrg := fs.String("query-org-openid", "", "verified company OpenId to query authorization status as")
	qOp := fs.String("query-operator-openid", "", "verified operator OpenId of that company")
	asJSON := fs.Bool("json", false, "print the result as JSON")
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
	store, err := openMigratedStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	app, err := store.Application(ctx, *appID)
	if err != nil {
		return err
	}
	if *qOrg != "" {
		if err := store.SetQueryIdentity(ctx, *appID, *qOrg, *qOp); err != nil {
			return err
		}
	}
	w := jobs.NewWorkers(store, nil, nil, nil, jobs.Config{})
	res, err := w.Resume(ctx, *appID)
	if err != nil {
		return err
	}
	if *asJSON {
		b, _ := json.Marshal(map[string]any{"app_id": *appID, "was_paused": app.Paused(), "due": res.Due})
		fmt.Fprintf(env.Stdout, "%s\n", b)
		return nil
	}
	if app.Paused() {
		fmt.Fprintf(env.Stdout, "application %s resumed (it was paused: %s answered %s: %s)\n",
			*appID, app.PauseAction, app.PauseCode, app.PauseMessage)
	} else {
		fmt.Fprintf(env.Stdout, "application %s was not paused\n", *appID)
	}
	fmt.Fprintf(env.Stdout, "work due now: %d steps; the workers take them from where they stopped\n", res.Due)
	return nil
}
