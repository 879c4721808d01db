// Package migrations holds onboard's versioned SQL schema and applies it.
//
// Each change is a file NNNN_name.up.sql in this folder, embedded in the
// binary and applied in version order, each in its own transaction, recorded
// in the schema_migrations table. Every transaction first takes a Postgres
// advisory lock, so any number of processes may call Apply at start: one
// applies a file, the others wait and then see it recorded.
//
// A file is never edited once applied anywhere: Apply refuses to run when a
// recorded file's checksum no longer matches. Add a new file instead.
package migrations

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"

	"github.com/jackc/pgx/v5"
)

//go:embed *.up.sql
var files embed.FS

// lockKey is the advisory lock taken by every migration transaction
// (the bytes of "onboard!" read as a big-endian integer).
const lockKey int64 = 0x6f6e626f61726421

// Migration is one versioned schema change.
type Migration struct {
	Version  int    // the NNNN prefix
	Name     string // the file name, e.g. "0001_init.up.sql"
	SQL      string
	Checksum string // hex SHA-256 of SQL
}

// DB is what Apply and Pending need: *pgx.Conn, *pgxpool.Pool and
// *pgxpool.Conn all satisfy it. All work happens inside transactions, so a
// pool is fine.
type DB interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

var fileName = regexp.MustCompile(`^(\d{4})_[a-z0-9_]+\.up\.sql$`)

// All returns the embedded migrations in version order.
func All() ([]Migration, error) { return load(files) }

func load(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	var ms []Migration
	seen := map[int]string{}
	for _, e := range entries {
		m := fileName.FindStringSubmatch(e.Name())
		if e.IsDir() || m == nil {
			continue
		}
		v, _ := strconv.Atoi(m[1])
		if prev, dup := seen[v]; dup {
			return nil, fmt.Errorf("migrations: %s and %s have the same version %d", prev, e.Name(), v)
		}
		seen[v] = e.Name()
		b, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("migrations: %w", err)
		}
		sum := sha256.Sum256(b)
		ms = append(ms, Migration{Version: v, Name: e.Name(), SQL: string(b), Checksum: hex.EncodeToString(sum[:])})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	return ms, nil
}

// Apply applies every pending migration in version order, each in its own
// transaction under the advisory lock, and returns the ones it applied.
func Apply(ctx context.Context, db DB) ([]Migration, error) {
	ms, err := All()
	if err != nil {
		return nil, err
	}
	return apply(ctx, db, ms)
}

// Pending returns the embedded migrations not yet recorded in db, in
// version order. A database never migrated has all of them pending.
func Pending(ctx context.Context, db DB) ([]Migration, error) {
	ms, err := All()
	if err != nil {
		return nil, err
	}
	return pending(ctx, db, ms)
}

const createTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    integer PRIMARY KEY,
	name       text        NOT NULL,
	checksum   text        NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`

func apply(ctx context.Context, db DB, ms []Migration) ([]Migration, error) {
	var done []Migration
	for _, m := range ms {
		ran, err := applyOne(ctx, db, m)
		if err != nil {
			return done, err
		}
		if ran {
			done = append(done, m)
		}
	}
	return done, nil
}

// applyOne applies m unless it is already recorded; it reports whether it ran.
func applyOne(ctx context.Context, db DB, m Migration) (bool, error) {
	tx, err := db.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("migrations: begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey); err != nil {
		return false, fmt.Errorf("migrations: lock: %w", err)
	}
	if _, err := tx.Exec(ctx, createTable); err != nil {
		return false, fmt.Errorf("migrations: create schema_migrations: %w", err)
	}
	var checksum string
	err = tx.QueryRow(ctx, `SELECT checksum FROM schema_migrations WHERE version = $1`, m.Version).Scan(&checksum)
	switch {
	case err == nil:
		if checksum != m.Checksum {
			return false, fmt.Errorf("migrations: %s was edited after it was applied (checksum %.12s…, recorded %.12s…); restore it and add a new migration instead", m.Name, m.Checksum, checksum)
		}
		return false, nil
	case !errors.Is(err, pgx.ErrNoRows):
		return false, fmt.Errorf("migrations: read schema_migrations: %w", err)
	}
	if _, err := tx.Exec(ctx, m.SQL); err != nil {
		return false, fmt.Errorf("migrations: %s: %w", m.Name, err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)`,
		m.Version, m.Name, m.Checksum); err != nil {
		return false, fmt.Errorf("migrations: record %s: %w", m.Name, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("migrations: commit %s: %w", m.Name, err)
	}
	return true, nil
}

func pending(ctx context.Context, db DB, ms []Migration) ([]Migration, error) {
	tx, err := db.Begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrations: begin: %w", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read-only
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	if !exists {
		return ms, nil
	}
	rows, err := tx.Query(ctx, `SELECT version, checksum FROM schema_migrations`)
	if err != nil {
		return nil, fmt.Errorf("migrations: read schema_migrations: %w", err)
	}
	applied := map[int]string{}
	for rows.Next() {
		var v int
		var sum string
		if err := rows.Scan(&v, &sum); err != nil {
			return nil, fmt.Errorf("migrations: read schema_migrations: %w", err)
		}
		applied[v] = sum
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("migrations: read schema_migrations: %w", err)
	}
	var out []Migration
	for _, m := range ms {
		sum, ok := applied[m.Version]
		if !ok {
			out = append(out, m)
			continue
		}
		if sum != m.Checksum {
			return nil, fmt.Errorf("migrations: %s was edited after it was applied; restore it and add a new migration instead", m.Name)
		}
	}
	return out, nil
}
