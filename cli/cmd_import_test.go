package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hibiken/asynq"
	"github.com/xuri/excelize/v2"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/importer"
	"github.com/ess-onboard/onboard/internal/testenv"
	"github.com/ess-onboard/onboard/jobs"
	"github.com/ess-onboard/onboard/repository"
)

// The import, export and migrate tests use Redis db 3, each under a key
// prefix of its own that no other test flushes, so they run in parallel.
const importRedisDB = 3

// cliEnv is what one command run sees: a fresh database, Redis keys of its
// own (under prefix) and buffers for its output.
type cliEnv struct {
	dbURL, redisURL string
	prefix          string // of the test's queue names and limiter keys
	vars            map[string]string
	inspector       *asynq.Inspector
}

func newCLIEnv(t *testing.T) *cliEnv {
	t.Helper()
	e := &cliEnv{dbURL: testenv.NewDatabase(t)}
	e.redisURL, e.prefix = testenv.IsolatedRedis(t, importRedisDB)
	e.vars = map[string]string{"DATABASE_URL": e.dbURL, "REDIS_URL": e.redisURL}
	opt, err := asynq.ParseRedisURI(e.redisURL)
	if err != nil {
		t.Fatal(err)
	}
	e.inspector = asynq.NewInspector(opt)
	t.Cleanup(func() { e.inspector.Close() })
	return e
}

// run runs onboard with args and returns its exit code, stdout and stderr.
func (e *cliEnv) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	env := &Env{
		Getenv: func(k string) string { return e.vars[k] },
		Stdin:  strings.NewReader(""),
		Stdout: &stdout, Stderr: &stderr,
	}
	code := run(context.Background(), args, env)
	return code, stdout.String(), stderr.String()
}

func (e *cliEnv) store(t *testing.T) *repository.Store {
	t.Helper()
	s, err := repository.Open(context.Background(), e.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// creditCode returns a valid unified social credit code ending in n.
func creditCode(t *testing.T, n int) string {
	t.Helper()
	first := fmt.Sprintf("91110108%09d", n)
	c, err := importer.CreditCodeCheckChar(first)
	if err != nil {
		t.Fatal(err)
	}
	return first + string(c)
}

// orgSheet is a spreadsheet of organizations with a title row above the
// header, as people make them.
type orgSheet struct {
	headers []string
	rows    [][]string
}

func newOrgSheet(t *testing.T, n int) *orgSheet {
	s := &orgSheet{headers: []string{"企业标识", "企业名称", "统一社会信用代码", "扩展服务", "备注"}}
	for i := 1; i <= n; i++ {
		s.rows = append(s.rows, []string{fmt.Sprintf("org-%03d", i), fmt.Sprintf("测试公司%d", i),
			creditCode(t, i), "AUTO_SIGN,DOWNLOAD_FLOW", fmt.Sprintf("note %d", i)})
	}
	return s
}

// write saves the sheet as an .xlsx in t's temp folder; the header is on row
// 2, data from row 3.
func (s *orgSheet) write(t *testing.T, name string) string {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(f.SetCellValue("Sheet1", "A1", "子客企业信息"))
	must(f.SetSheetRow("Sheet1", "A2", &s.headers))
	for i, r := range s.rows {
		row := make([]any, len(r))
		for j, v := range r {
			row[j] = v
		}
		must(f.SetSheetRow("Sheet1", fmt.Sprintf("A%d", i+3), &row))
	}
	path := filepath.Join(t.TempDir(), name)
	must(f.SaveAs(path))
	return path
}

// decodeImportJSON decodes the --json output, refusing unknown keys.
func decodeImportJSON(t *testing.T, out string) importJSON {
	t.Helper()
	var j importJSON
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		t.Fatalf("--json output %q: %v", out, err)
	}
	if dec.More() {
		t.Fatalf("--json printed more than one value: %q", out)
	}
	return j
}

// syncWork lists the sync work due for app-1, by organization id and data
// version.
func (e *cliEnv) syncWork(t *testing.T) map[[2]int64]onboard.Work {
	t.Helper()
	ws, err := e.store(t).DueWork(context.Background(), "app-1", 1000)
	if err != nil {
		t.Fatal(err)
	}
	out := map[[2]int64]onboard.Work{}
	for _, w := range ws {
		if w.Kind == onboard.WorkSync {
			out[[2]int64{w.OrgID, int64(w.DataVersion)}] = w
		}
	}
	return out
}

// dispatchTasks hands app-1's due work to Redis as the workers' dispatcher
// does and returns the tasks it put there, by TaskID.
func (e *cliEnv) dispatchTasks(t *testing.T) map[string]*asynq.TaskInfo {
	t.Helper()
	opt, _ := asynq.ParseRedisURI(e.redisURL)
	client := asynq.NewClient(opt)
	defer client.Close()
	d := &jobs.Dispatcher{Store: e.store(t), Queue: &jobs.Queue{Client: client, Prefix: e.prefix}, AppIDs: []string{"app-1"}}
	if _, err := d.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	tasks, err := e.inspector.ListPendingTasks(e.prefix+jobs.QueueSync, asynq.PageSize(1000))
	if err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
		t.Fatal(err)
	}
	out := map[string]*asynq.TaskInfo{}
	for _, ti := range tasks {
		out[ti.ID] = ti
	}
	return out
}

// orgIDs maps OpenIds to organization ids through a batch's rows.
func orgIDs(t *testing.T, s *repository.Store, batchID int64) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	if err := s.BatchRows(context.Background(), batchID, func(r repository.ResultRow) error {
		if r.OrgID != 0 {
			out[r.OpenID] = r.OrgID
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestImportQueuesNewAndChangedOrganizationsOnly(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t)
	sheet := newOrgSheet(t, 4)
	sheet.rows[2][2] = "91110108000000003X" // wrong check character: rejected
	path := sheet.write(t, "orgs.xlsx")

	code, out, errOut := e.run(t, "import", path, "--app-id", "app-1", "--json")
	if code != exitOK {
		t.Fatalf("import exit %d, stderr %s, stdout %s", code, errOut, out)
	}
	j := decodeImportJSON(t, out)
	if j.BatchID == nil || j.Rows != 4 || j.Accepted != 3 || j.Rejected != 1 || j.Enqueued != 3 || j.Unchanged != 0 {
		t.Fatalf("first import: %+v", j)
	}
	if len(j.Rejections) != 1 || j.Rejections[0].Row != 5 || j.Rejections[0].Column != "统一社会信用代码" ||
		j.Rejections[0].Field != onboard.FieldCreditCode || j.Rejections[0].Reason == "" {
		t.Fatalf("rejections %+v, want row 5, column 统一社会信用代码", j.Rejections)
	}
	// The keys are exactly the documented ones.
	var keys map[string]json.RawMessage
	_ = json.Unmarshal([]byte(out), &keys)
	var names []string
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	if diff := cmp.Diff([]string{"accepted", "batch_id", "enqueued", "rejected", "rejections", "rows", "unchanged", "warnings"}, names); diff != "" {
		t.Errorf("--json keys (-want +got):\n%s", diff)
	}

	store := e.store(t)
	ids := orgIDs(t, store, *j.BatchID)
	if work := e.syncWork(t); len(work) != 3 {
		t.Fatalf("%d organizations due for sync, want 3", len(work))
	}
	tasks := e.dispatchTasks(t)
	if len(tasks) != 3 {
		t.Fatalf("%d org:sync tasks dispatched, want 3", len(tasks))
	}
	for _, openID := range []string{"org-001", "org-002", "org-004"} {
		id := ids[openID]
		w, ok := e.syncWork(t)[[2]int64{id, 1}]
		if !ok {
			t.Fatalf("no sync work for %s", openID)
		}
		ti := tasks[jobs.WorkTaskID(w)]
		if ti == nil {
			t.Fatalf("no task %s for %s", jobs.WorkTaskID(w), openID)
		}
		var payload map[string]any
		_ = json.Unmarshal(ti.Payload, &payload)
		if diff := cmp.Diff(map[string]any{"work_id": float64(w.ID), "attempt": float64(1), "app_id": "app-1", "org_id": float64(id)}, payload); diff != "" {
			t.Errorf("payload of %s carries more than ids (-want +got):\n%s", ti.ID, diff)
		}
		for _, personal := range []string{openID, "测试公司", "91110108"} {
			if bytes.Contains(ti.Payload, []byte(personal)) {
				t.Errorf("payload %s contains %q", ti.Payload, personal)
			}
		}
	}

	// The same file again: nothing queued.
	code, out, errOut = e.run(t, "import", "--app-id", "app-1", "--json", path)
	if code != exitOK {
		t.Fatalf("second import exit %d: %s", code, errOut)
	}
	j2 := decodeImportJSON(t, out)
	if j2.Enqueued != 0 || j2.Unchanged != 3 || *j2.BatchID == *j.BatchID {
		t.Fatalf("second import: %+v, want nothing queued and 3 unchanged in a new batch", j2)
	}
	if n := len(e.syncWork(t)); n != 3 {
		t.Fatalf("%d organizations due for sync after importing the same file again, want still 3", n)
	}

	// One row changed: exactly that one is queued, at data version 2.
	sheet.rows[1][1] = "测试公司2（北京）"
	changed := sheet.write(t, "orgs-changed.xlsx")
	code, out, errOut = e.run(t, "import", changed, "--app-id", "app-1", "--json")
	if code != exitOK {
		t.Fatalf("third import exit %d: %s", code, errOut)
	}
	j3 := decodeImportJSON(t, out)
	if j3.Enqueued != 1 || j3.Unchanged != 2 {
		t.Fatalf("import with one changed row: %+v, want 1 queued, 2 unchanged", j3)
	}
	work := e.syncWork(t)
	if _, ok := work[[2]int64{ids["org-002"], 2}]; len(work) != 3 || !ok {
		t.Fatalf("sync work %v, want org-002 at data version 2 beside the 2 others", work)
	}
}

func TestImportTextOutput(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t)
	sheet := newOrgSheet(t, 2)
	sheet.rows[1][3] = "AUTO_SIGN, FLY_TO_MOON"
	sheet.rows[0][1] = "测试公司(上海)"
	path := sheet.write(t, "orgs.xlsx")
	e.vars["ESS_APP_ID"] = "app-env"

	code, out, errOut := e.run(t, "import", path)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	for _, want := range []string{"batch:     1\n", "rows:      2\n", "accepted:  1\n", "rejected:  1\n",
		"enqueued:  1\n", "unchanged: 0\n", "row 4, column 扩展服务: ", "FLY_TO_MOON", "warnings:\n  row 3, ProxyOrganizationName: "} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	b, err := e.store(t).Batch(context.Background(), 1)
	if err != nil || b.AppID != "app-env" {
		t.Fatalf("batch 1: %+v, %v; want application app-env from ESS_APP_ID", b, err)
	}
}

func TestImportUsageErrors(t *testing.T) {
	t.Parallel()
	e := &cliEnv{vars: map[string]string{"DATABASE_URL": "postgres://127.0.0.1:1/none", "REDIS_URL": "redis://127.0.0.1:1"}}
	path := newOrgSheet(t, 1).write(t, "orgs.xlsx")
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"NoFile", []string{"import", "--app-id", "a"}, "no FILE"},
		{"TwoFiles", []string{"import", path, path, "--app-id", "a"}, "one FILE"},
		{"NoAppID", []string{"import", path}, "--app-id or set ESS_APP_ID"},
		{"UnknownFlag", []string{"import", path, "--app-id", "a", "--frobnicate"}, "frobnicate"},
		{"BadMaxSize", []string{"import", path, "--app-id", "a", "--max-size", "-1"}, "--max-size"},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, out, errOut := e.run(t, c.args...)
			if code != exitUsage || !strings.Contains(errOut, c.want) || out != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 2 and %q", code, out, errOut, c.want)
			}
		})
	}

	code, out, _ := e.run(t, "import", "--help")
	if code != exitOK || !strings.Contains(out, "Usage: onboard import FILE") || !strings.Contains(out, "--dry-run") {
		t.Errorf("--help: exit %d, %q", code, out)
	}
}

func TestImportRefusedFileStoresNothing(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t)
	dir := t.TempDir()
	notXLSX := filepath.Join(dir, "orgs.xlsx")
	if err := os.WriteFile(notXLSX, []byte("name,open id\nA,1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	noHeader := (&orgSheet{headers: []string{"名字", "编号"}, rows: [][]string{{"a", "b"}}}).write(t, "noheader.xlsx")

	// The file's own faults carry their code and parameters; a file that
	// cannot be read at all has none.
	codes := map[string]string{notXLSX: "file.not_xlsx", noHeader: "file.no_header", filepath.Join(dir, "missing.xlsx"): ""}
	for _, path := range []string{notXLSX, noHeader, filepath.Join(dir, "missing.xlsx")} {
		code, out, errOut := e.run(t, "import", path, "--app-id", "app-1", "--json")
		if code != exitFailure {
			t.Errorf("%s: exit %d, want 1 (stderr %s)", filepath.Base(path), code, errOut)
		}
		var obj struct {
			Error  string            `json:"error"`
			Code   string            `json:"code"`
			Params map[string]string `json:"params"`
		}
		dec := json.NewDecoder(strings.NewReader(out))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&obj); err != nil || !strings.Contains(obj.Error, "refused") || obj.Code != codes[path] ||
			(obj.Code != "" && len(obj.Params) == 0) {
			t.Errorf("%s: --json printed %q, want only {\"error\": \"... refused: ...\", \"code\": %q, \"params\": {...}}", filepath.Base(path), out, codes[path])
		}
		code, _, errOut = e.run(t, "import", path, "--app-id", "app-1")
		if code != exitFailure || !strings.Contains(errOut, "refused") {
			t.Errorf("%s: text mode exit %d, stderr %q", filepath.Base(path), code, errOut)
		}
	}
	store := e.store(t)
	if _, err := store.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if bs, err := store.Batches(context.Background(), 0); err != nil || len(bs) != 0 {
		t.Errorf("refused files stored %d batches (%v)", len(bs), err)
	}
	if n := len(e.syncWork(t)); n != 0 {
		t.Errorf("refused files made %d organizations due", n)
	}
}

func TestImportDryRun(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t)
	e.vars["REDIS_URL"] = "redis://127.0.0.1:1" // not needed for a dry run
	path := newOrgSheet(t, 3).write(t, "orgs.xlsx")
	code, out, errOut := e.run(t, "import", path, "--app-id", "app-1", "--dry-run", "--json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, `"batch_id": null`) {
		t.Errorf("dry run JSON %s: want batch_id null", out)
	}
	if j := decodeImportJSON(t, out); j.Rows != 3 || j.Enqueued != 3 {
		t.Errorf("dry run: %+v", j)
	}
	if bs, err := e.store(t).Batches(context.Background(), 0); err != nil || len(bs) != 0 {
		t.Errorf("dry run stored %d batches (%v)", len(bs), err)
	}
}

func TestImportServersUnreachable(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t)
	path := newOrgSheet(t, 2).write(t, "orgs.xlsx")

	store := e.store(t)
	if _, err := store.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Redis is not needed: the work is due in Postgres, and the workers
	// take it from there once Redis is back.
	e.vars["REDIS_URL"] = "redis://127.0.0.1:1/3"
	code, _, errOut := e.run(t, "import", path, "--app-id", "app-1")
	if code != exitOK {
		t.Errorf("Redis down: exit %d, stderr %q; want the import done", code, errOut)
	}
	if work := e.syncWork(t); len(work) != 2 {
		t.Errorf("with Redis down, %d organizations due for sync, want 2", len(work))
	}

	e.vars["REDIS_URL"] = e.redisURL
	e.vars["DATABASE_URL"] = "postgres://postgres@127.0.0.1:1/onboard?sslmode=disable&connect_timeout=5"
	code, out, errOut := e.run(t, "import", path, "--app-id", "app-1", "--json")
	if code != exitFailure || !strings.Contains(out, `"error"`) || errOut != "" {
		t.Errorf("Postgres down: exit %d, stdout %q, stderr %q; want 1 and a JSON error", code, out, errOut)
	}
}

// On a terminal the import shows progress on stderr and the same summary on
// stdout.
func TestImportProgressOnTerminal(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t)
	path := newOrgSheet(t, 3).write(t, "orgs.xlsx")
	var stdout, stderr bytes.Buffer
	env := &Env{Getenv: func(k string) string { return e.vars[k] }, Stdin: strings.NewReader(""),
		Stdout: &stdout, Stderr: &stderr, IsTerminal: true}
	if code := run(context.Background(), []string{"import", path, "--app-id", "app-1"}, env); code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "reading orgs.xlsx") {
		t.Errorf("no progress on stderr: %q", stderr.String())
	}
	if !strings.Contains(stdout.String(), "enqueued:  3\n") {
		t.Errorf("summary on stdout: %q", stdout.String())
	}
}
