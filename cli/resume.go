package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/jobs"
	"github.com/ess-onboard/onboard/locale"
)

func init() {
	register(command{
		name:    "resume",
		summary: "resume a paused application (and set its query identity)",
		run:     runResume,
	})
}

func runResume(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "resume", "resume --app-id ID [--query-org-openid O --query-operator-openid P] [--json]", "")
	appID := fs.String("app-id", "", "the application to resume (default ESS_APP_ID)")
	qOrg := fs.String("query-org-openid", "", "verified company OpenId to query authorization status as")
	qOp := fs.String("query-operator-openid", "", "verified operator OpenId of that company")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if err := parseFlags(env, fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return strayArg(env, "resume", fs.Arg(0))
	}
	if (*qOrg == "") != (*qOp == "") {
		return opsUsage(env, "cli.resume.half_identity")
	}
	cfg, err := loadConfig(env.Getenv)
	if err != nil {
		return err
	}
	if *appID == "" {
		*appID = cfg.AppID
	}
	if *appID == "" {
		return opsUsage(env, "cli.resume.no_app")
	}
	p, err := openParts(ctx, cfg, shared{printer: env.printer()}, nil, needStore)
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
	printResume(env.Stdout, env.printer(), *appID, app, res.Due)
	return nil
}

// printResume says what resuming appID (paused as app says) did, and how
// much work it made due.
func printResume(w io.Writer, pr *locale.Printer, appID string, app *onboard.Application, due int) {
	if app.Paused() {
		fmt.Fprintln(w, pr.T("cli.resume.resumed", "App", appID, "Action", app.PauseAction, "Code", app.PauseCode,
			"Message", app.PauseMessage))
		if hint := pr.APIError(app.PauseCode); hint != "" {
			fmt.Fprintln(w, "  "+hint)
		}
	} else {
		fmt.Fprintln(w, pr.T("cli.resume.not_paused", "App", appID))
	}
	fmt.Fprintln(w, pr.N("cli.resume.due", due))
}
