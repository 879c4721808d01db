package cli

import (
	"context"
	"fmt"
	"net/url"

	"github.com/ess-onboard/onboard/repository"
)

func init() {
	register(command{name: "migrate", summary: "create the database if needed and apply pending migrations", run: runMigrate})
}

func runMigrate(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "migrate", "migrate [--status]", help("migrate"))
	status := fs.Bool("status", false, "list pending migrations without applying them")
	if err := parseFlags(env, fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("migrate: unexpected argument %q (see 'onboard migrate --help')", fs.Arg(0))
	}
	cfg, err := loadConfig(env.Getenv)
	if err != nil {
		return err
	}
	where := redactURL(cfg.DatabaseURL)
	if !*status {
		created, err := repository.CreateDatabase(ctx, cfg.DatabaseURL)
		if err != nil {
			return err
		}
		if created {
			fmt.Fprintf(env.Stdout, "created database %s\n", where)
		}
	}
	p, err := openParts(ctx, cfg, shared{}, nil, needDB)
	if err != nil {
		return err
	}
	defer p.Close()
	store := p.store
	if *status {
		pending, err := store.PendingMigrations(ctx)
		if err != nil {
			return err
		}
		if len(pending) == 0 {
			fmt.Fprintf(env.Stdout, "%s is up to date\n", where)
			return nil
		}
		for _, name := range pending {
			fmt.Fprintf(env.Stdout, "pending %s\n", name)
		}
		return exitErr{exitFailure}
	}
	applied, err := store.Migrate(ctx)
	for _, name := range applied {
		fmt.Fprintf(env.Stdout, "applied %s\n", name)
	}
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintf(env.Stdout, "%s is up to date\n", where)
	}
	return nil
}

// redactURL hides a password in a connection URL for printing.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(DATABASE_URL)"
	}
	return u.Redacted()
}
