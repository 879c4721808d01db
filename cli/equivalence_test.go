package cli

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/ess-onboard/onboard/importer"
	"github.com/ess-onboard/onboard/internal/testenv"
	"github.com/ess-onboard/onboard/web"
)

// TestImportPathsStoreTheSame: 'onboard import', the dashboard's upload
// form and the demo store a file alike: the same batch, rows, license
// pictures, organizations, services and due work, row for row, for the
// sample and for a generated file of 10,000 companies.
func TestImportPathsStoreTheSame(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sample := filepath.Join(dir, "sample.xlsx")
	if err := writeFile(sample, importer.WriteSample); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "companies.xlsx")
	if err := importer.GenerateBenchFile(big, 10000); err != nil {
		t.Fatal(err)
	}
	redisURL, _ := testenv.IsolatedRedis(t, importRedisDB)
	for _, c := range []struct {
		path     string
		accepted int
	}{{sample, importer.SampleAccepted}, {big, 10000}} {
		t.Run(filepath.Base(c.path), func(t *testing.T) {
			const app = "app-same"
			byCLI := importByCLI(t, c.path, app, redisURL)
			byUpload := importByUpload(t, c.path, app, redisURL)
			byDemo := importByDemo(t, c.path, app)
			if n := len(byCLI["organizations"]); n != c.accepted {
				t.Fatalf("the command line stored %d organizations, want %d", n, c.accepted)
			}
			if n := len(byCLI["work"]); n != c.accepted {
				t.Fatalf("the command line made %d steps due, want %d", n, c.accepted)
			}
			sameState(t, "the upload form", byCLI, byUpload)
			sameState(t, "the demo", byCLI, byDemo)
		})
	}
}

func importByCLI(t *testing.T, path, app, redisURL string) map[string][]string {
	t.Helper()
	e := &cliEnv{dbURL: testenv.NewDatabase(t)}
	e.vars = map[string]string{"DATABASE_URL": e.dbURL, "REDIS_URL": redisURL}
	if code, out, errOut := e.run(t, "import", path, "--app-id", app); code != exitOK {
		t.Fatalf("onboard import: exit %d\n%s\n%s", code, out, errOut)
	}
	return storedState(t, e.dbURL)
}

func importByUpload(t *testing.T, path, app, redisURL string) map[string][]string {
	t.Helper()
	dbURL := testenv.NewDatabase(t)
	cfg, err := loadConfig(func(k string) string {
		return map[string]string{"DATABASE_URL": dbURL, "REDIS_URL": redisURL}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	d, err := openDashboard(context.Background(), cfg, serveFlags{addr: "127.0.0.1:0", maxUpload: web.DefaultMaxUploadSize}, recQuietLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	hs := httptest.NewServer(d.server.Handler())
	defer hs.Close()
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if resp, body := serveUpload(t, hs.URL, filepath.Base(path), content, app, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("upload: %s\n%.2000s", resp.Status, body)
	}
	return storedState(t, dbURL)
}

func importByDemo(t *testing.T, path, app string) map[string][]string {
	t.Helper()
	dbURL := testenv.NewDatabase(t)
	p, err := openParts(context.Background(), Config{DatabaseURL: dbURL}, shared{}, nil, needStore)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if _, err := demoImport(context.Background(), p, path, app); err != nil {
		t.Fatal(err)
	}
	return storedState(t, dbURL)
}

// storedState is every row of every table of the database at dbURL as
// JSON, sorted, without the columns holding times (each import stamps its
// own).
func storedState(t *testing.T, dbURL string) map[string][]string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT c.table_name, array_agg(c.column_name::text) FILTER (WHERE c.data_type LIKE 'timestamp%' OR c.data_type = 'date')
		FROM information_schema.columns c JOIN information_schema.tables tb ON tb.table_schema = c.table_schema AND tb.table_name = c.table_name
		WHERE c.table_schema = 'public' AND tb.table_type = 'BASE TABLE' GROUP BY c.table_name`)
	if err != nil {
		t.Fatal(err)
	}
	timeCols := map[string][]string{}
	for rows.Next() {
		var table string
		var cols []string
		if err := rows.Scan(&table, &cols); err != nil {
			t.Fatal(err)
		}
		timeCols[table] = cols
	}
	if rows.Err() != nil || len(timeCols) < 5 {
		t.Fatalf("tables of %s: %v (%v)", dbURL, timeCols, rows.Err())
	}
	state := map[string][]string{}
	for table, cols := range timeCols {
		if cols == nil {
			cols = []string{}
		}
		q := fmt.Sprintf(`SELECT (to_jsonb(t) - $1::text[])::text FROM %s t`, pgx.Identifier{table}.Sanitize())
		rs, err := conn.Query(ctx, q, cols)
		if err != nil {
			t.Fatal(err)
		}
		out, err := pgx.CollectRows(rs, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(out)
		state[table] = out
	}
	return state
}

// sameState reports every table whose rows differ between want and got.
func sameState(t *testing.T, what string, want, got map[string][]string) {
	t.Helper()
	tables := make([]string, 0, len(want))
	for table := range want {
		tables = append(tables, table)
	}
	sort.Strings(tables)
	if len(got) != len(want) {
		t.Errorf("%s: %d tables, the command line %d", what, len(got), len(want))
	}
	for _, table := range tables {
		w, g := want[table], got[table]
		if digest(w) == digest(g) {
			continue
		}
		i := 0
		for i < len(w) && i < len(g) && w[i] == g[i] {
			i++
		}
		first := func(rows []string) string {
			if i < len(rows) {
				return rows[i]
			}
			return "(none)"
		}
		t.Errorf("%s stored %d rows in %s, the command line %d; first difference:\n  %.500s\nvs\n  %.500s",
			what, len(g), table, len(w), first(g), first(w))
	}
}

func digest(rows []string) [32]byte { return sha256.Sum256([]byte(strings.Join(rows, "\n"))) }
