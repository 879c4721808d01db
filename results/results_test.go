package results

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/repository"
)

func fromSlice(rows []repository.ResultRow) Rows {
	return func(fn func(repository.ResultRow) error) error {
		for _, r := range rows {
			if err := fn(r); err != nil {
				return err
			}
		}
		return nil
	}
}

func readBack(t *testing.T, data []byte) (*excelize.File, [][]string) {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("the results file does not open: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	if got := f.GetSheetList(); len(got) != 1 || got[0] != SheetName {
		t.Fatalf("sheets %v, want [%s]", got, SheetName)
	}
	rows, err := f.GetRows(SheetName)
	if err != nil {
		t.Fatal(err)
	}
	return f, rows
}

func TestWrite(t *testing.T) {
	t.Parallel()
	batch := &repository.Batch{ID: 7, AppID: "app-1", FileName: "orgs.xlsx", HeaderRow: 2,
		Headers:   []string{"企业标识", "企业名称", "法定代表人证件号码", "Note"},
		CreatedAt: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	expires := time.Date(2026, 11, 24, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))
	rows := []repository.ResultRow{
		{Number: 3, Cells: []string{"org-a", "甲公司（北京）", "11010519491231002X", "first"}, Status: "accepted",
			Warnings: []onboard.RowWarning{{Row: 3, Field: onboard.FieldName, Message: "half-width brackets converted"}},
			OrgID:    1, State: onboard.StateOpeningServices, RequestID: "req-1",
			Services: []repository.ServiceStatus{
				{Service: onboard.ServiceAutoSign, State: onboard.ServiceLinked, URL: "https://e.example/a", ExpiresAt: expires},
				{Service: onboard.ServiceMobileCheckApprover, State: onboard.ServiceOpened},
				{Service: onboard.ServicePagingSeal, State: onboard.ServiceFailed, ErrorCode: "InvalidParameter", ErrorMessage: "no"},
			}},
		{Number: 5, Cells: []string{"org-b", "", "110105194912310021", ""}, Status: "rejected",
			Reasons: []onboard.RowError{
				{Row: 5, Column: "企业名称", Field: onboard.FieldName, Reason: "is empty"},
				{Row: 5, Column: "法定代表人证件号码", Field: onboard.FieldLegalIDCardNumber, Reason: "wrong check digit"},
			}},
		{Number: 6, Cells: []string{"org-c", "丙公司", "", ""}, Status: "accepted", OrgID: 3,
			State: onboard.StateFailed, ErrorCode: "FailedOperation.OrganizationNameInvalid", ErrorMessage: "name differs", RequestID: "req-3"},
	}
	var buf bytes.Buffer
	if err := Write(&buf, batch, fromSlice(rows)); err != nil {
		t.Fatal(err)
	}
	f, got := readBack(t, buf.Bytes())

	header := append(append([]string{}, batch.Headers...), Headers...)
	want := [][]string{
		{"Results of batch 7: orgs.xlsx (application app-1), imported 2026-11-23 09:00 UTC. Fix rejected rows here and upload this file again."},
		header,
		{"org-a", "甲公司（北京）", "11010519491231002X", "first", "opening_services", "",
			"ProxyOrganizationName: half-width brackets converted", "verified", "", "", "", "",
			"AUTO_SIGN: linked https://e.example/a (expires 2026-11-24 02:00 UTC); MOBILE_CHECK_APPROVER: opened; PAGING_SEAL: failed (InvalidParameter: no)"},
		nil, // row 4 was blank in the upload
		{"org-b", "", "110105194912310021", "", "rejected", "企业名称: is empty; 法定代表人证件号码: wrong check digit"},
		{"org-c", "丙公司", "", "", "failed", "", "", "", "FailedOperation.OrganizationNameInvalid", "name differs (RequestId req-3)"},
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b []string) bool { return cmp.Equal(a, b) || len(a) == 0 && len(b) == 0 })); diff != "" {
		t.Errorf("results sheet (-want +got):\n%s", diff)
	}

	// ID numbers are text cells in a text-formatted column.
	typ, err := f.GetCellType(SheetName, "C3")
	if err != nil {
		t.Fatal(err)
	}
	if typ != excelize.CellTypeInlineString && typ != excelize.CellTypeSharedString {
		t.Errorf("ID number cell type %v, want a string", typ)
	}
	styleID, err := f.GetCellStyle(SheetName, "C5")
	if err != nil {
		t.Fatal(err)
	}
	style, err := f.GetStyle(styleID)
	if err != nil {
		t.Fatal(err)
	}
	if style.NumFmt != 49 {
		t.Errorf("ID number column number format %d, want 49 (text)", style.NumFmt)
	}
}

// A results file uploaded again and exported again keeps one set of result
// columns, after the user's own.
func TestWriteReplacesEarlierResultColumns(t *testing.T) {
	t.Parallel()
	batch := &repository.Batch{ID: 8, HeaderRow: 1,
		Headers: append([]string{"企业标识", "企业名称"}, Headers...)}
	rows := []repository.ResultRow{{Number: 2, Status: "accepted", State: onboard.StateDone,
		Cells: []string{"org-a", "甲", "awaiting_auth", "", "", "waiting", "", "", "", ""}}}
	var buf bytes.Buffer
	if err := Write(&buf, batch, fromSlice(rows)); err != nil {
		t.Fatal(err)
	}
	_, got := readBack(t, buf.Bytes())
	want := [][]string{
		append([]string{"企业标识", "企业名称"}, Headers...),
		{"org-a", "甲", "done", "", "", "verified"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("results sheet (-want +got):\n%s", diff)
	}
}

func TestWriteStopsOnRowsError(t *testing.T) {
	t.Parallel()
	boom := errors.New("database went away")
	err := Write(&bytes.Buffer{}, &repository.Batch{HeaderRow: 1, Headers: []string{"a"}},
		func(func(repository.ResultRow) error) error { return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the rows error", err)
	}
}

func TestAuthorization(t *testing.T) {
	t.Parallel()
	for state, want := range map[string]string{
		onboard.StateQueued: "", onboard.StateAwaitingAuth: "waiting", onboard.StateOpeningServices: "verified",
		onboard.StateDone: "verified", onboard.StateAuthRejected: "rejected", onboard.StateTimedOut: "not verified in time",
		onboard.StateFailed: "", "": "",
	} {
		if got := Authorization(state); got != want {
			t.Errorf("Authorization(%q) = %q, want %q", state, got, want)
		}
	}
}
