package main

import (
	"context"
	"fmt"
	"net/url"

	"github.com/ess-onboard/onboard/repository"
)

func init() {
	register(command{name: "migrate", summary: "create the database if needed and apply pending migrations", run: runMigrate})
}

const migrateDescription = `
Creates the Postgres database named in DATABASE_URL when it does not exist
(connecting to the server's "postgres" database with the same credentials),
then applies every pending schema migration, each in its own transaction.
Safe to run from several processes at once: they take turns under an
advisory lock. 'import', 'export', 'serve' and 'worker' also apply pending
migrations themselves, but do not create the database.

With --status, only lists the migrations not yet applied; exits 1 if any are.`

func runMigrate(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "migrate", "migrate [--status]", migrateDescription)
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
	store, err := repository.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer store.Close()
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
