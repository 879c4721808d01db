package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/xuri/excelize/v2"

	"github.com/ess-onboard/onboard/importer"
	"github.com/ess-onboard/onboard/internal/hostile"
	"github.com/ess-onboard/onboard/results"
)

// writeSmallHostile writes a hostile case, in its small form, into dir.
func writeSmallHostile(t *testing.T, dir, name string) string {
	t.Helper()
	c, ok := hostile.Lookup(name)
	if !ok {
		t.Fatalf("no hostile case %s", name)
	}
	p := filepath.Join(dir, c.FileName())
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WriteSmall(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// refusalOf is the refusal the importer gives a file.
func refusalOf(t *testing.T, path string) string {
	t.Helper()
	return importer.Refusal(filepath.Base(path), fileErrorOf(t, path))
}

// fileErrorOf is the error the importer refuses a file with.
func fileErrorOf(t *testing.T, path string) *importer.FileError {
	t.Helper()
	rd, err := importer.Open(path, importer.Options{})
	if err == nil {
		for err == nil {
			_, err = rd.Next()
		}
		rd.Close()
		if errors.Is(err, io.EOF) {
			t.Fatalf("%s is not refused", filepath.Base(path))
		}
	}
	var fe *importer.FileError
	if !errors.As(err, &fe) {
		t.Fatalf("%s: %v, not a refusal", filepath.Base(path), err)
	}
	return fe
}

// refusedCases are hostile cases refused even when written small.
var refusedCases = []string{"shared-strings-bomb", "shared-strings-count", "wide-header", "deep-nesting", "name-collision", "name-escape", "zip-in-zip"}

// TestRefusalSameWordsEverywhere imports refused files on the command line,
// with --json and through the upload form: each says why in the same words,
// and nothing is stored.
func TestRefusalSameWordsEverywhere(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t)
	dir := t.TempDir()
	var files []string
	for _, name := range refusedCases {
		files = append(files, writeSmallHostile(t, dir, name))
	}
	for _, p := range files {
		want := refusalOf(t, p)
		code, _, errOut := e.run(t, "import", p, "--app-id", "app-1")
		if code != exitFailure || strings.TrimSpace(errOut) != "onboard: "+want {
			t.Errorf("%s: exit %d, stderr %q; want %q", filepath.Base(p), code, errOut, want)
		}
		code, out, _ := e.run(t, "import", p, "--app-id", "app-1", "--json")
		var obj errorJSON
		dec := json.NewDecoder(strings.NewReader(out))
		dec.DisallowUnknownFields()
		fe := fileErrorOf(t, p)
		if err := dec.Decode(&obj); err != nil || code != exitFailure || obj.Error != want || obj.Code != fe.Code || !maps.Equal(obj.Params, fe.Params) {
			t.Errorf("%s: --json exit %d printed %q; want {\"error\": %q, \"code\": %q, \"params\": %v}", filepath.Base(p), code, out, want, fe.Code, fe.Params)
		}
	}
	store := e.store(t)
	if bs, err := store.Batches(context.Background(), 0); err != nil || len(bs) != 0 {
		t.Errorf("refused files stored %d batches (%v)", len(bs), err)
	}

	se := startServe(t, nil, "--addr", "127.0.0.1:0")
	for _, p := range files {
		want := refusalOf(t, p)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		resp, body := serveUpload(t, se.url, filepath.Base(p), b, se.appID, nil)
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(html.UnescapeString(body), want) {
			t.Errorf("upload %s: %d; page lacks %q", filepath.Base(p), resp.StatusCode, want)
		}
	}
	if n := se.count(t, `SELECT count(*) FROM batches`); n != 0 {
		t.Errorf("refused uploads stored %d batches", n)
	}
}

// fullIDNumber matches a whole 18-character ID card number.
var fullIDNumber = regexp.MustCompile(`(^|[^0-9A-Za-z])[0-9]{17}[0-9Xx]($|[^0-9A-Za-z])`)

// TestNoFullIDNumberLeaks uploads the sample and the hostile files that are
// read (and imports them on the command line), records a platform error
// that repeats an ID number, and checks that no whole ID number appears in
// any reason (printed, in JSON, stored), any line the dashboard logged, any
// dashboard page or any column the results file adds.
func TestNoFullIDNumberLeaks(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	sample := filepath.Join(dir, "sample.xlsx")
	f, err := os.Create(sample)
	if err != nil {
		t.Fatal(err)
	}
	if err := importer.WriteSample(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	files := []string{sample}
	for _, name := range []string{"formulas-links", "wide-rows", "huge-attribute", "many-sheets", "gigabyte-image", "long-row-text", "shared-string-huge"} {
		files = append(files, writeSmallHostile(t, dir, name))
	}
	for _, name := range refusedCases {
		files = append(files, writeSmallHostile(t, dir, name))
	}
	leak := func(where, text string) {
		t.Helper()
		if m := fullIDNumber.FindString(text); m != "" {
			t.Errorf("%s holds a whole ID number %q", where, strings.TrimSpace(m))
		}
	}

	// The command line, in text and JSON.
	e := newCLIEnv(t)
	for _, p := range files {
		_, out, errOut := e.run(t, "import", p, "--app-id", "app-cli", "--dry-run")
		leak("import "+filepath.Base(p), out+errOut)
		_, out, errOut = e.run(t, "import", p, "--app-id", "app-cli", "--dry-run", "--json")
		leak("import --json "+filepath.Base(p), out+errOut)
	}

	// The dashboard.
	se := startServe(t, nil, "--addr", "127.0.0.1:0")
	var batches []string
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		resp, body := serveUpload(t, se.url, filepath.Base(p), b, se.appID, nil)
		leak("upload page of "+filepath.Base(p), body)
		if resp.StatusCode == http.StatusSeeOther {
			batches = append(batches, strings.TrimSuffix(resp.Header.Get("Location"), "?imported=1"))
		}
	}
	if len(batches) < 8 {
		t.Fatalf("%d files imported, want the sample and 7 hostile files", len(batches))
	}
	// A platform message repeating the ID number, as the workers record it.
	se.exec(t, `UPDATE organizations SET state = 'failed', last_error_code = 'InvalidParameter.LegalIdCardNumber',
		last_error_message = 'ProxyLegalIdCardNumber 11010519491231002X does not match ProxyLegalName'`)
	pages := []string{"/", "/upload"}
	for _, b := range batches {
		pages = append(pages, b, b+"?imported=1")
	}
	for _, p := range pages {
		leak("page "+p, se.page(t, p))
	}
	// The results files: the columns onboard adds (the user's own columns
	// are the file as uploaded, to be fixed and uploaded again).
	for _, b := range batches {
		resp, err := http.Get(se.url + b + "/results.xlsx")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		wb, err := excelize.OpenReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("%s results: %v", b, err)
		}
		rows, _ := wb.GetRows(results.SheetName)
		wb.Close()
		header := -1
		for i, r := range rows {
			for j, c := range r {
				if c == results.Headers[0] && header < 0 {
					header = j
				}
			}
			if header >= 0 && i > 0 && len(r) > header {
				leak(fmt.Sprintf("results of %s, row %d", b, i+1), strings.Join(r[header:], " | "))
			}
		}
		if header < 0 {
			t.Errorf("%s results: no %q column", b, results.Headers[0])
		}
	}
	// What is stored.
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, se.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT row_number, reasons::text, warnings::text FROM batch_rows`)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		var num int
		var reasons, warnings string
		if err := rows.Scan(&num, &reasons, &warnings); err != nil {
			t.Fatal(err)
		}
		leak(fmt.Sprintf("batch_rows row %d", num), reasons+warnings)
		n++
	}
	if rows.Err() != nil || n == 0 {
		t.Fatalf("batch_rows: %d rows (%v)", n, rows.Err())
	}
	leak("the dashboard's log", se.stderr.String())
}

// TestExportWritesOwnerOnly: the results file is readable by its owner only.
func TestExportWritesOwnerOnly(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t)
	if code, _, errOut := e.run(t, "import", newOrgSheet(t, 2).write(t, "orgs.xlsx"), "--app-id", "app-1"); code != exitOK {
		t.Fatalf("import: %s", errOut)
	}
	out := filepath.Join(t.TempDir(), "results.xlsx")
	// An older file there, readable by everyone, is replaced.
	if err := os.WriteFile(out, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := e.run(t, "export", "--batch", "1", "-o", out); code != exitOK {
		t.Fatalf("export: %s", errOut)
	}
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("results file mode %v, want 0600", fi.Mode().Perm())
	}
}

// TestServeHardeningFlags: destructive monitoring needs credentials, TLS
// needs both files, limits must be positive.
func TestServeHardeningFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		vars map[string]string
		args []string
		code int
		want string
	}{
		{"MonitoringWriteOpen", nil, []string{"serve", "--addr", "127.0.0.1:0", "--monitoring-write"}, exitFailure, "refusing to let /monitoring delete"},
		{"MonitoringWriteEnvOpen", map[string]string{"ONBOARD_MONITORING_WRITE": "1"}, []string{"serve", "--addr", "127.0.0.1:0"}, exitFailure, "refusing to let /monitoring delete"},
		{"MonitoringWriteEnvBad", map[string]string{"ONBOARD_MONITORING_WRITE": "yes"}, []string{"serve", "--addr", "127.0.0.1:0"}, exitFailure, "ONBOARD_MONITORING_WRITE"},
		{"CertWithoutKey", nil, []string{"serve", "--tls-cert", "c.pem"}, exitUsage, "--tls-cert and --tls-key"},
		{"BadMaxUploads", nil, []string{"serve", "--max-uploads", "0"}, exitUsage, "--max-uploads"},
		{"BadMaxRows", nil, []string{"serve", "--max-rows", "-5"}, exitUsage, "--max-rows"},
		{"BadMaxColumns", nil, []string{"import", "x.xlsx", "--app-id", "a", "--max-columns", "20000"}, exitUsage, "--max-columns"},
		{"BadMaxRowText", nil, []string{"import", "x.xlsx", "--app-id", "a", "--max-row-text", "0"}, exitUsage, "--max-row-text"},
		{"BadMaxExpanded", nil, []string{"import", "x.xlsx", "--app-id", "a", "--max-expanded", "0"}, exitUsage, "--max-expanded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			env := &Env{Getenv: func(k string) string { return tc.vars[k] }, Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}
			code := run(context.Background(), tc.args, env)
			if code != tc.code || !strings.Contains(errb.String(), tc.want) || out.Len() != 0 {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d and %q", code, out.String(), errb.String(), tc.code, tc.want)
			}
		})
	}
}

// TestImportMaxRows: --max-rows refuses a file with more rows, and nothing
// is stored.
func TestImportMaxRows(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t)
	p := newOrgSheet(t, 3).write(t, "orgs.xlsx")
	code, out, _ := e.run(t, "import", p, "--app-id", "app-1", "--max-rows", "2", "--json")
	if code != exitFailure || !strings.Contains(out, "has more than 2 data rows") {
		t.Errorf("--max-rows 2: exit %d, %s", code, out)
	}
	if code, out, errOut := e.run(t, "import", p, "--app-id", "app-1", "--max-rows", "3", "--json"); code != exitOK || decodeImportJSON(t, out).Rows != 3 {
		t.Errorf("--max-rows 3: exit %d, %s %s", code, out, errOut)
	}
	store := e.store(t)
	if bs, err := store.Batches(context.Background(), 0); err != nil || len(bs) != 1 {
		t.Errorf("%d batches (%v), want the one within the limit", len(bs), err)
	}
}
