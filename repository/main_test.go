package repository

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/internal/testenv"
)

// testStore is one store on a fresh database migrated once for the package.
// Tests isolate themselves by using their own application id.
var testStore *Store

// TestMain runs the tests on one migrated database and fails them when a
// goroutine (the import's row feed, the pool's) outlives them.
func TestMain(m *testing.M) {
	code := runMain(m)
	if err := goleak.Find(); err != nil && code == 0 {
		fmt.Fprintln(os.Stderr, "goroutines outlived the tests:", err)
		code = 1
	}
	os.Exit(code)
}

func runMain(m *testing.M) int {
	ctx := context.Background()
	url, drop, err := testenv.CreateDatabase(ctx, "repository")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer drop()
	testStore, err = Open(ctx, url)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer testStore.Close()
	if _, err := testStore.Migrate(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// newAppID returns an application id no other test uses.
func newAppID(t *testing.T) string {
	t.Helper()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "app-" + strings.ReplaceAll(t.Name(), "/", "-") + "-" + hex.EncodeToString(b)
}

// testHeaders are the columns of the rows acceptedRow builds.
var testHeaders = []string{"企业标识", "企业名称", "Note", "扩展服务"}

// acceptedRow builds an accepted row for org openID.
func acceptedRow(number int, openID, name string, services ...onboard.ServiceType) *onboard.Row {
	svc := make([]string, len(services))
	for i, s := range services {
		svc[i] = string(s)
	}
	return &onboard.Row{
		Number: number,
		Cells:  []string{openID, name, "note " + openID, strings.Join(svc, ",")},
		Data: onboard.OrgData{
			OpenID:            openID,
			Name:              name,
			LegalName:         "张三",
			LegalIDCardType:   "ID_CARD",
			LegalIDCardNumber: "11010519491231002X",
			Address:           "北京市海淀区",
			AdminOpenID:       "admin-" + openID,
			Services:          services,
		},
	}
}

// rejectedRow builds a row with one error in column "企业名称".
func rejectedRow(number int, openID string) *onboard.Row {
	return &onboard.Row{
		Number: number,
		Cells:  []string{openID, "", "", ""},
		Data:   onboard.OrgData{OpenID: openID},
		Errors: []onboard.RowError{{Row: number, Column: "企业名称", Field: onboard.FieldName, Reason: "is empty"}},
	}
}

// rows is a RowSource over a slice; err, when set, is returned after the
// rows instead of io.EOF.
type rows struct {
	list []*onboard.Row
	err  error
	i    int
}

func (r *rows) Next() (*onboard.Row, error) {
	if r.i < len(r.list) {
		r.i++
		return r.list[r.i-1], nil
	}
	if r.err != nil {
		return nil, r.err
	}
	return nil, io.EOF
}

func source(list ...*onboard.Row) *rows { return &rows{list: list} }

func params(appID string) ImportParams {
	return ImportParams{AppID: appID, FileName: "orgs.xlsx", FileSHA256: strings.Repeat("ab", 32),
		Sheet: "Sheet1", HeaderRow: 2, Headers: testHeaders}
}

func mustImport(t *testing.T, p ImportParams, src RowSource) *ImportResult {
	t.Helper()
	res, err := testStore.Import(context.Background(), p, src, nil)
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	return res
}

// orgRow is what the tests read back about an organization.
type orgRow struct {
	ID          int64
	Name        string
	DataVersion int
	State       string
	ErrorCode   string
	License     string
	LastBatch   int64
}

func org(t *testing.T, appID, openID string) orgRow {
	t.Helper()
	var o orgRow
	err := testStore.pool.QueryRow(context.Background(), `SELECT id, name, data_version, state,
		coalesce(last_error_code, ''), coalesce(license_sha256, ''), coalesce(last_batch_id, 0)
		FROM organizations WHERE app_id = $1 AND open_id = $2`, appID, openID).
		Scan(&o.ID, &o.Name, &o.DataVersion, &o.State, &o.ErrorCode, &o.License, &o.LastBatch)
	if err != nil {
		t.Fatalf("organization %s: %v", openID, err)
	}
	return o
}

func count(t *testing.T, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := testStore.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func services(t *testing.T, orgID int64) []string {
	t.Helper()
	q, err := testStore.pool.Query(context.Background(),
		`SELECT service || ':' || state FROM organization_services WHERE org_id = $1 ORDER BY service`, orgID)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for q.Next() {
		var s string
		if err := q.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}
