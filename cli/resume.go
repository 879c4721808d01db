package cli

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

func runResume(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "resume", "resume --app-id ID [--query-org-openid O --query-operator-openid P] [--json]", help("resume"))
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
	p, err := openParts(ctx, cfg, shared{}, nil, needStore)
	if err != nil {
		return err
	}
	defer p.Close()
	app, err := p.store.Application(ctx, *appID)
	if err != nil {
		return err
	}
	if *qOrg != "" {
		if err := p.store.SetQueryIdentity(ctx, *appID, *qOrg, *qOp); err != nil {
			return err
		}
	}
	res, err := p.workers(jobs.Config{}).Resume(ctx, *appID)
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
