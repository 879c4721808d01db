package cli

import (
	"bytes"
	"context"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/xuri/excelize/v2"

	"github.com/ess-onboard/onboard/internal/testenv"
	"github.com/ess-onboard/onboard/results"
)

// The results file keeps the user's columns, and a person can fix the
// rejected rows in it and import it again.
func TestExportRoundTrip(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t)
	sheet := newOrgSheet(t, 3)
	sheet.rows[1][2] = "91110108000000002X" // wrong check character
	sheet.rows[2][2] = ""                   // no credit code: optional
	code, out, errOut := e.run(t, "import", sheet.write(t, "orgs.xlsx"), "--app-id", "app-1", "--json")
	if code != exitOK {
		t.Fatalf("import exit %d: %s", code, errOut)
	}
	first := decodeImportJSON(t, out)
	if first.Rejected != 1 {
		t.Fatalf("first import %+v, want 1 rejected", first)
	}

	exported := filepath.Join(t.TempDir(), "results.xlsx")
	code, _, errOut = e.run(t, "export", "--batch", "1", "-o", exported)
	if code != exitOK || !strings.Contains(errOut, "wrote "+exported) {
		t.Fatalf("export exit %d, stderr %q", code, errOut)
	}
	f, err := excelize.OpenFile(exported)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := f.GetRows(results.SheetName)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 5 {
		t.Fatalf("results file has %d rows, want note, header and 3 data rows: %q", len(rows), rows)
	}
	if diff := cmp.Diff(append(append([]string{}, sheet.headers...), results.Headers...), rows[1]); diff != "" {
		t.Errorf("header row (-want +got):\n%s", diff)
	}
	for i, r := range sheet.rows {
		got := rows[i+2]
		if len(got) <= len(r) {
			t.Fatalf("row %d has no result columns: %q", i+3, got)
		}
		if diff := cmp.Diff(r, got[:len(r)]); diff != "" {
			t.Errorf("row %d: user's cells changed (-want +got):\n%s", i+3, diff)
		}
		status := got[len(sheet.headers)]
		if want := map[bool]string{true: "rejected", false: "queued"}[i == 1]; status != want {
			t.Errorf("row %d status %q, want %q", i+3, status, want)
		}
	}
	if reasons := rows[3][len(sheet.headers)+1]; !strings.Contains(reasons, "统一社会信用代码: ") {
		t.Errorf("row 4 reasons %q, want the credit code column named", reasons)
	}

	// Fix the rejected row in place and upload the results file again.
	if err := f.SetCellStr(results.SheetName, "C4", creditCode(t, 2)); err != nil {
		t.Fatal(err)
	}
	if err := f.Save(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	code, out, errOut = e.run(t, "import", exported, "--app-id", "app-1", "--json")
	if code != exitOK {
		t.Fatalf("re-import exit %d: %s %s", code, errOut, out)
	}
	second := decodeImportJSON(t, out)
	if second.Rows != 3 || second.Rejected != 0 || second.Enqueued != 1 || second.Unchanged != 2 {
		t.Fatalf("re-import of the fixed results file: %+v, want 3 rows, the fixed one queued, 2 unchanged", second)
	}

	// Its results file has one set of result columns, not two.
	var buf bytes.Buffer
	e2 := *e
	code, _, errOut = e2.runTo(t, &buf, "export", "--batch", "2", "-o", "-")
	if code != exitOK {
		t.Fatalf("export -o - exit %d: %s", code, errOut)
	}
	f2, err := excelize.OpenReader(&buf)
	if err != nil {
		t.Fatalf("export -o - did not write an .xlsx: %v", err)
	}
	defer f2.Close()
	rows2, _ := f2.GetRows(results.SheetName)
	if diff := cmp.Diff(append(append([]string{}, sheet.headers...), results.Headers...), rows2[1]); diff != "" {
		t.Errorf("header row of the re-imported batch (-want +got):\n%s", diff)
	}
	if got := rows2[3][len(sheet.headers)]; got != "queued" {
		t.Errorf("fixed row status %q, want queued", got)
	}
}

// runTo is run with stdout going to w.
func (e *cliEnv) runTo(t *testing.T, w *bytes.Buffer, args ...string) (int, string, string) {
	t.Helper()
	var stderr bytes.Buffer
	env := &Env{Getenv: func(k string) string { return e.vars[k] }, Stdin: strings.NewReader(""), Stdout: w, Stderr: &stderr}
	return run(context.Background(), args, env), "", stderr.String()
}

func TestExportErrors(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t)
	code, _, errOut := e.run(t, "export", "--batch", "42", "-o", filepath.Join(t.TempDir(), "x.xlsx"))
	if code != exitFailure || !strings.Contains(errOut, "no batch 42") {
		t.Errorf("missing batch: exit %d, stderr %q", code, errOut)
	}
	code, _, errOut = e.run(t, "export", "-o", "x.xlsx")
	if code != exitUsage || !strings.Contains(errOut, "--batch") {
		t.Errorf("no --batch: exit %d, stderr %q", code, errOut)
	}
	code, out, _ := e.run(t, "export", "--help")
	if code != exitOK || !strings.Contains(out, "Usage: onboard export --batch ID") {
		t.Errorf("--help: exit %d, %q", code, out)
	}
}

func TestMigrate(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	u, err := url.Parse(testenv.AdminDatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	name := "onboard_test_migrate_" + strings.ReplaceAll(time.Now().Format("150405.000000"), ".", "")
	u.Path = "/" + name
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), testenv.AdminDatabaseURL())
		if err == nil {
			_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
			c.Close(context.Background())
		}
	})
	e := &cliEnv{vars: map[string]string{"DATABASE_URL": u.String()}}

	code, out, errOut := e.run(t, "migrate", "--status")
	if code != exitFailure || !strings.Contains(errOut, "does not exist") {
		t.Errorf("--status of a missing database: exit %d, %q %q", code, out, errOut)
	}
	code, out, errOut = e.run(t, "migrate")
	if code != exitOK || !strings.Contains(out, "created database") || !strings.Contains(out, "applied 0001_init.up.sql") {
		t.Fatalf("first migrate: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, _ = e.run(t, "migrate")
	if code != exitOK || !strings.Contains(out, "up to date") || strings.Contains(out, "created") {
		t.Errorf("second migrate: exit %d, %q", code, out)
	}
	code, out, _ = e.run(t, "migrate", "--status")
	if code != exitOK || !strings.Contains(out, "up to date") {
		t.Errorf("--status after migrate: exit %d, %q", code, out)
	}
	c, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var n int
	if err := c.QueryRow(ctx, `SELECT count(*) FROM batches`).Scan(&n); err != nil {
		t.Errorf("batches table after migrate: %v", err)
	}

	// An empty existing database: everything pending.
	e.vars["DATABASE_URL"] = testenv.NewDatabase(t)
	code, out, _ = e.run(t, "migrate", "--status")
	if code != exitFailure || !strings.Contains(out, "pending 0001_init.up.sql") {
		t.Errorf("--status of an empty database: exit %d, %q", code, out)
	}
	if code, _, errOut := e.run(t, "migrate", "extra"); code != exitUsage {
		t.Errorf("migrate extra: exit %d, %q", code, errOut)
	}
}
