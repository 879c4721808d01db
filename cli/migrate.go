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
	fs := newFlagSet(env, "migrate", "migrate [--status]", "")
	status := fs.Bool("status", false, "list pending migrations without applying them")
	if err := parseFlags(env, fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return strayArg(env, "migrate", fs.Arg(0))
	}
	cfg, err := loadConfig(env.Getenv)
	if err != nil {
		return err
	}
	where, pr := redactURL(cfg.DatabaseURL), env.printer()
	if !*status {
		created, err := repository.CreateDatabase(ctx, cfg.DatabaseURL)
		if err != nil {
			return err
		}
		if created {
			fmt.Fprintln(env.Stdout, pr.T("cli.migrate.created_database", "DB", where))
		}
	}
	p, err := openParts(ctx, cfg, shared{printer: pr}, nil, needDB)
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
			fmt.Fprintln(env.Stdout, pr.T("cli.migrate.up_to_date", "DB", where))
			return nil
		}
		for _, name := range pending {
			fmt.Fprintln(env.Stdout, pr.T("cli.migrate.pending", "Name", name))
		}
		return exitErr{exitFailure}
	}
	applied, err := store.Migrate(ctx)
	for _, name := range applied {
		fmt.Fprintln(env.Stdout, pr.T("cli.migrate.applied", "Name", name))
	}
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintln(env.Stdout, pr.T("cli.migrate.up_to_date", "DB", where))
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

// strayArg is the usage error of command cmd given an argument it takes none of.
func strayArg(env *Env, cmd, arg string) error {
	return opsUsage(env, "cli."+cmd+".unexpected_argument", "Arg", fmt.Sprintf("%q", arg))
}

// opsUsage is a usage error with message id in the reader's language.
func opsUsage(env *Env, id string, args ...any) error {
	return usagef("%s", env.printer().T(id, args...))
}
