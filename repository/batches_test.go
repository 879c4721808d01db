package repository

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/locale"
)

func TestBatchRows(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	app := newAppID(t)
	ok := acceptedRow(2, "org-a", "甲公司", onboard.ServiceDownloadFlow, onboard.ServiceAutoSign)
	ok.Warnings = []onboard.RowWarning{{Row: 2, Field: onboard.FieldName, Message: "brackets converted"}}
	res := mustImport(t, params(app), source(ok, rejectedRow(3, "org-b"), acceptedRow(5, "org-c", "丙公司")))
	a := org(t, app, "org-a")

	expires := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	if _, err := testStore.pool.Exec(ctx, `UPDATE organizations SET state = 'opening_services', last_request_id = 'req-9' WHERE id = $1`, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := testStore.pool.Exec(ctx, `UPDATE organization_services SET state = 'linked', operate_url = 'https://e.example/x',
		url_expires_at = $2 WHERE org_id = $1 AND service = 'AUTO_SIGN'`, a.ID, expires); err != nil {
		t.Fatal(err)
	}

	var got []ResultRow
	if err := testStore.BatchRows(ctx, res.BatchID, func(r ResultRow) error {
		r.StateChangedAt = time.Time{} // set by the server's clock
		got = append(got, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	c := org(t, app, "org-c")
	want := []ResultRow{
		{Number: 2, Cells: ok.Cells, Status: "accepted", Warnings: ok.Warnings, OpenID: "org-a",
			OrgID: a.ID, DataVersion: 1, State: onboard.StateOpeningServices, RequestID: "req-9",
			Services: []ServiceStatus{
				{Service: onboard.ServiceAutoSign, State: onboard.ServiceLinked, URL: "https://e.example/x", ExpiresAt: expires},
				{Service: onboard.ServiceDownloadFlow, State: onboard.ServiceRequested},
			}},
		{Number: 3, Cells: []string{"org-b", "", "", ""}, Status: "rejected", OpenID: "org-b",
			Reasons: []onboard.RowError{{Row: 3, Column: "企业名称", Field: onboard.FieldName, Reason: "is empty"}}},
		{Number: 5, Cells: []string{"org-c", "丙公司", "note org-c", ""}, Status: "accepted", OpenID: "org-c",
			OrgID: c.ID, DataVersion: 1, State: onboard.StateQueued},
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(x, y time.Time) bool { return x.Equal(y) })); diff != "" {
		t.Errorf("BatchRows (-want +got):\n%s", diff)
	}

	stop := errors.New("stop")
	n := 0
	if err := testStore.BatchRows(ctx, res.BatchID, func(ResultRow) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
		t.Errorf("BatchRows with fn failing: err %v after %d calls; want fn's error after 1", err, n)
	}
	if err := testStore.BatchRows(ctx, -1, func(ResultRow) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Errorf("BatchRows of a missing batch: %v, want ErrNotFound", err)
	}
}

func TestBatches(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	app := newAppID(t)
	first := mustImport(t, params(app), source(acceptedRow(2, "org-a", "甲")))
	second := mustImport(t, params(app), source(acceptedRow(2, "org-a", "甲"), rejectedRow(3, "x")))

	b, err := testStore.Batch(ctx, second.BatchID)
	if err != nil {
		t.Fatal(err)
	}
	if b.Rows != 2 || b.Unchanged != 1 || b.Rejected != 1 || b.Enqueued != 0 || b.AppID != app {
		t.Errorf("batch %+v: want 2 rows, 1 unchanged, 1 rejected, 0 enqueued", b)
	}
	if _, err := testStore.Batch(ctx, -1); !errors.Is(err, ErrNotFound) {
		t.Errorf("Batch(-1): %v, want ErrNotFound", err)
	}

	list, err := testStore.Batches(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	pos := map[int64]int{}
	for i, b := range list {
		pos[b.ID] = i
		if i > 0 && list[i-1].ID < b.ID {
			t.Fatalf("Batches not newest first: %d before %d", list[i-1].ID, b.ID)
		}
	}
	if _, ok := pos[first.BatchID]; !ok {
		t.Fatalf("Batches lacks batch %d", first.BatchID)
	}
	if pos[second.BatchID] > pos[first.BatchID] {
		t.Errorf("batch %d listed after the older %d", second.BatchID, first.BatchID)
	}
	if limited, err := testStore.Batches(ctx, 1); err != nil || len(limited) != 1 {
		t.Errorf("Batches(1) = %d batches, %v; want 1", len(limited), err)
	}
}

func TestOpenErrors(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := testStore.pool.Config().ConnConfig
	_, err := Open(ctx, fmt.Sprintf("postgres://%s@%s:%d/onboard_no_such_database?sslmode=disable", cfg.User, cfg.Host, cfg.Port))
	if !errors.Is(err, ErrNoDatabase) {
		t.Errorf("Open of a missing database: %v, want ErrNoDatabase", err)
	}
	if _, err := Open(ctx, "postgres://%zz"); err == nil {
		t.Error("Open of a malformed URL: want an error")
	}
}

// Reasons and warnings are stored as codes with their parameters, so that
// they can be read in either language; what was stored before codes existed
// (the English text alone) still reads.
func TestReasonsStoredAsCodes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	app := newAppID(t)
	bad := rejectedRow(3, "org-b")
	bad.Errors = []onboard.RowError{{Row: 3, Column: "统一社会信用代码", Field: onboard.FieldCreditCode, Code: "credit_code.check_char",
		Params: map[string]string{"Value": "9135**********0Y44", "Expected": "3"},
		Reason: `"9135**********0Y44" is not a valid unified social credit code: the check character (the last one) is wrong: with these first 17 characters it must be 3; check the code for a typo`}}
	ok := acceptedRow(2, "org-a", "甲公司")
	ok.Warnings = []onboard.RowWarning{{Row: 2, Field: "hidden row", Code: "row.hidden", Params: map[string]string{"Row": "2"},
		Message: "row 2 is hidden in the sheet (by hand or by a filter); it was read like any other row, because hiding a row does not delete it. If it should not be imported, delete the row and upload the file again"}}
	res := mustImport(t, params(app), source(ok, bad))

	var stored []byte
	if err := testStore.pool.QueryRow(ctx, `SELECT reasons FROM batch_rows WHERE batch_id = $1 AND row_number = 3`, res.BatchID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	var js []map[string]any
	if err := json.Unmarshal(stored, &js); err != nil {
		t.Fatal(err)
	}
	if len(js) != 1 || js[0]["code"] != "credit_code.check_char" || fmt.Sprint(js[0]["params"]) != "map[Expected:3 Value:9135**********0Y44]" {
		t.Errorf("stored reasons %s; want the code and its parameters", stored)
	}

	// A row stored before codes existed.
	if _, err := testStore.pool.Exec(ctx, `UPDATE batch_rows SET warnings = '[{"field": "ProxyOrganizationName", "message": "brackets converted"}]'
		WHERE batch_id = $1 AND row_number = 2`, res.BatchID); err != nil {
		t.Fatal(err)
	}
	got := map[int]ResultRow{}
	if err := testStore.BatchRows(ctx, res.BatchID, func(r ResultRow) error { got[r.Number] = r; return nil }); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(bad.Errors, got[3].Reasons); diff != "" {
		t.Errorf("reasons read back (-want +got):\n%s", diff)
	}
	want := []onboard.RowWarning{{Row: 2, Field: onboard.FieldName, Message: "brackets converted"}}
	if diff := cmp.Diff(want, got[2].Warnings); diff != "" {
		t.Errorf("a warning stored as text alone (-want +got):\n%s", diff)
	}
	// The same rows in Chinese.
	zh := locale.New(locale.Chinese)
	r := got[3].Reasons[0]
	if s := zh.Reason(r.Code, r.Params, r.Reason); !strings.Contains(s, "校验码") || !strings.Contains(s, "应为 3") {
		t.Errorf("zh-CN rendering of the stored reason: %q", s)
	}
	if w := got[2].Warnings[0]; zh.Reason(w.Code, w.Params, w.Message) != "brackets converted" {
		t.Errorf("a warning without a code renders as its stored text in any language")
	}
}
