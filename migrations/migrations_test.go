package migrations

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ess-onboard/onboard/internal/testenv"
)

func connect(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), testenv.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func tableExists(t *testing.T, db *pgxpool.Pool, name string) bool {
	t.Helper()
	var ok bool
	if err := db.QueryRow(context.Background(), `SELECT to_regclass($1) IS NOT NULL`, name).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestEmbeddedFiles(t *testing.T) {
	t.Parallel()
	ms, err := All()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || ms[0].Name != "0001_init.up.sql" || ms[0].Version != 1 {
		t.Fatalf("first migration = %+v, want 0001_init.up.sql", ms[0])
	}
	for i := 1; i < len(ms); i++ {
		if ms[i].Version <= ms[i-1].Version {
			t.Errorf("%s does not come after %s", ms[i].Name, ms[i-1].Name)
		}
	}
}

func TestApply(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := connect(t)

	all, _ := All()
	p, err := Pending(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if len(p) != len(all) {
		t.Fatalf("fresh database: %d pending, want all %d", len(p), len(all))
	}
	done, err := Apply(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != len(all) {
		t.Fatalf("applied %d, want %d", len(done), len(all))
	}
	for _, table := range []string{"batches", "license_images", "organizations", "organization_services", "batch_rows", "schema_migrations"} {
		if !tableExists(t, db, table) {
			t.Errorf("table %s missing after Apply", table)
		}
	}
	if p, err = Pending(ctx, db); err != nil || len(p) != 0 {
		t.Fatalf("after Apply: pending %v, %v; want none", p, err)
	}
	done, err = Apply(ctx, db)
	if err != nil || len(done) != 0 {
		t.Fatalf("second Apply applied %d (%v), want 0", len(done), err)
	}
}

// Several processes starting at once: each migration runs exactly once.
func TestApplyConcurrently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := testenv.NewDatabase(t)
	all, _ := All()

	const n = 6
	var wg sync.WaitGroup
	applied := make([]int, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			conn, err := pgx.Connect(ctx, url)
			if err != nil {
				errs[i] = err
				return
			}
			defer conn.Close(ctx)
			done, err := Apply(ctx, conn)
			applied[i], errs[i] = len(done), err
		})
	}
	wg.Wait()
	total := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Apply %d: %v", i, errs[i])
		}
		total += applied[i]
	}
	if total != len(all) {
		t.Fatalf("%d migrations applied in total by %d processes, want %d", total, n, len(all))
	}
}

func TestFailedMigrationLeavesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := connect(t)
	ms, err := load(fstest.MapFS{
		"0001_a.up.sql": {Data: []byte(`CREATE TABLE a (id int)`)},
		"0002_b.up.sql": {Data: []byte(`CREATE TABLE b (id int); SELECT no_such_function()`)},
		"README.md":     {Data: []byte(`ignored`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 {
		t.Fatalf("loaded %d migrations, want 2", len(ms))
	}
	done, err := apply(ctx, db, ms)
	if err == nil || !strings.Contains(err.Error(), "0002_b.up.sql") {
		t.Fatalf("err = %v, want one naming 0002_b.up.sql", err)
	}
	if len(done) != 1 {
		t.Fatalf("applied %d, want 1", len(done))
	}
	if !tableExists(t, db, "a") || tableExists(t, db, "b") {
		t.Fatal("want table a from 0001 and no table b from the failed 0002")
	}
	p, err := pending(ctx, db, ms)
	if err != nil || len(p) != 1 || p[0].Version != 2 {
		t.Fatalf("pending = %v, %v; want 0002 only", p, err)
	}
}

func TestEditedMigrationRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := connect(t)
	orig, _ := load(fstest.MapFS{"0001_a.up.sql": {Data: []byte(`CREATE TABLE a (id int)`)}})
	if _, err := apply(ctx, db, orig); err != nil {
		t.Fatal(err)
	}
	edited, _ := load(fstest.MapFS{"0001_a.up.sql": {Data: []byte(`CREATE TABLE a (id bigint)`)}})
	if _, err := apply(ctx, db, edited); err == nil || !strings.Contains(err.Error(), "edited") {
		t.Fatalf("Apply of an edited file: err = %v, want it refused", err)
	}
	if _, err := pending(ctx, db, edited); err == nil {
		t.Fatal("Pending of an edited file: want an error")
	}
}

func TestDuplicateVersionRefused(t *testing.T) {
	t.Parallel()
	_, err := load(fstest.MapFS{
		"0001_a.up.sql": {Data: []byte(`SELECT 1`)},
		"0001_b.up.sql": {Data: []byte(`SELECT 1`)},
	})
	if err == nil {
		t.Fatal("want an error for two files with version 0001")
	}
}
