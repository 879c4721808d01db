// Package repository is onboard's store: every SQL statement lives here. It
// speaks to Postgres through pgx v5 and hands out the project's own types,
// never pgx ones.
package repository

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/migrations"
)

// Errors callers test with errors.Is.
var (
	// ErrNotFound means the thing asked for does not exist. It is
	// onboard.ErrNotFound, which the workers test for too.
	ErrNotFound = onboard.ErrNotFound
	// ErrConflict means a uniqueness rule or a concurrent change refused the write.
	ErrConflict = errors.New("conflict")
	// ErrNoDatabase means the database named in the URL does not exist.
	ErrNoDatabase = errors.New("database does not exist")
)

// DB is what the store's helpers run statements on: both *pgxpool.Pool and
// pgx.Tx satisfy it, so a helper works inside or outside a transaction.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error)
}

var (
	_ DB = (*pgxpool.Pool)(nil)
	_ DB = pgx.Tx(nil)
)

// Store is onboard's Postgres store. It is safe for concurrent use.
type Store struct {
	pool *pgxpool.Pool
}

// Open connects to the Postgres database at url and checks that it answers.
// It does not migrate; see Migrate.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to Postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to Postgres database %q on %s: %w", cfg.ConnConfig.Database, cfg.ConnConfig.Host, mapErr(err))
	}
	return &Store{pool: pool}, nil
}

// Close closes every connection.
func (s *Store) Close() { s.pool.Close() }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return mapErr(s.pool.Ping(ctx)) }

// Migrate applies every pending migration (safe to call from any number of
// processes at once) and returns the names of those it applied.
func (s *Store) Migrate(ctx context.Context) ([]string, error) {
	done, err := migrations.Apply(ctx, s.pool)
	return names(done), err
}

// PendingMigrations returns the names of migrations not yet applied.
func (s *Store) PendingMigrations(ctx context.Context) ([]string, error) {
	p, err := migrations.Pending(ctx, s.pool)
	return names(p), err
}

func names(ms []migrations.Migration) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Name
	}
	return out
}

// withTx runs fn in a transaction, committing when fn returns nil and rolling
// back otherwise.
func (s *Store) withTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return mapErr(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	if err := fn(tx); err != nil {
		return err
	}
	return mapErr(tx.Commit(ctx))
}

// mapErr turns driver errors into the package's own: no rows becomes
// ErrNotFound, a unique violation ErrConflict, an unknown database
// ErrNoDatabase. Other errors pass through.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505", "40001": // unique_violation, serialization_failure
			return fmt.Errorf("%w: %s", ErrConflict, pe.Message)
		case "3D000": // invalid_catalog_name
			return fmt.Errorf("%w (%s): run 'onboard migrate' to create it", ErrNoDatabase, pe.Message)
		}
	}
	return err
}

// CreateDatabase creates the database named in url when it does not exist,
// connecting to the server's "postgres" database with the same credentials.
// It reports whether it created it.
func CreateDatabase(ctx context.Context, url string) (bool, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return false, fmt.Errorf("DATABASE_URL: %w", err)
	}
	name := cfg.Database
	if name == "" {
		return false, errors.New("DATABASE_URL names no database")
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		return false, conn.Close(ctx)
	}
	if !errors.Is(mapErr(err), ErrNoDatabase) {
		return false, fmt.Errorf("connect to Postgres database %q on %s: %w", name, cfg.Host, err)
	}
	admin := cfg.Copy()
	admin.Database = "postgres"
	conn, err = pgx.ConnectConfig(ctx, admin)
	if err != nil {
		return false, fmt.Errorf("database %q does not exist, and connecting to database \"postgres\" on %s to create it failed: %w", name, cfg.Host, err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "42P04" { // duplicate_database: created meanwhile
			return false, nil
		}
		return false, fmt.Errorf("create database %q: %w", name, err)
	}
	return true, nil
}
