package results

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/importer"
	"github.com/ess-onboard/onboard/internal/testenv"
	"github.com/ess-onboard/onboard/repository"
)

// newStore is a store on a fresh, migrated database of the test's own.
func newStore(t *testing.T) *repository.Store {
	t.Helper()
	ctx := context.Background()
	store, err := repository.Open(ctx, testenv.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	if _, err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return store
}

// importFile imports an upload as 'onboard import' does and reads back its
// batch and rows from the database, as the results file is written.
func importFile(t *testing.T, store *repository.Store, path string) (*repository.Batch, []repository.ResultRow) {
	t.Helper()
	ctx := context.Background()
	r, err := importer.Open(path, importer.Options{Now: func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	res, err := store.Import(ctx, repository.ImportParams{AppID: "app", FileName: r.FileName(), FileSHA256: r.SHA256(),
		Sheet: r.Sheet(), HeaderRow: r.HeaderRow(), Headers: r.Headers()}, r, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := store.Batch(ctx, res.BatchID)
	if err != nil {
		t.Fatal(err)
	}
	var rows []repository.ResultRow
	if err := store.BatchRows(ctx, b.ID, func(rr repository.ResultRow) error {
		rows = append(rows, rr)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return b, rows
}

// export writes the results file of a batch to dir/name.
func export(t *testing.T, store *repository.Store, b *repository.Batch, dir, name string) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, b, func(fn func(repository.ResultRow) error) error {
		return store.BatchRows(context.Background(), b.ID, fn)
	}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, name)
	if err := os.WriteFile(out, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return out, buf.Bytes()
}

// sheetLayout is what Excel shows of a sheet's layout: its merged ranges,
// sorted, and its hidden rows.
func sheetLayout(t *testing.T, path, sheet string) (merges []string, hidden []int) {
	t.Helper()
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	mc, err := f.GetMergeCells(sheet)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range mc {
		merges = append(merges, m.GetStartAxis()+":"+m.GetEndAxis())
	}
	slices.Sort(merges)
	rows, err := f.Rows(sheet)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for n := 1; rows.Next(); n++ {
		if rows.GetRowOpts().Hidden {
			hidden = append(hidden, n)
		}
	}
	if err := rows.Error(); err != nil {
		t.Fatal(err)
	}
	return merges, hidden
}

// buildBook writes rows from row 1 of Sheet1, merges the ranges and hides
// the rows.
func buildBook(t *testing.T, path string, rows [][]any, merges [][2]string, hidden []int) {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	for i, row := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow("Sheet1", cell, &row); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range merges {
		if err := f.MergeCell("Sheet1", m[0], m[1]); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range hidden {
		if err := f.SetRowVisible("Sheet1", n, false); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
}

func TestResultsKeepMergesAndHiddenRows(t *testing.T) {
	t.Parallel()
	store := newStore(t)
	dir := t.TempDir()
	upload := filepath.Join(dir, "group.xlsx")
	buildBook(t, upload, [][]any{
		{"东区子公司名单"},
		{"企业标识", "企业名称", "企业地址", "扩展服务"},
		{"g1", "甲公司", "厦门市", "AUTO_SIGN"},
		{"g2", "乙公司"},
		{"g3", "丙公司"},
		{"g4", "丁公司", "福州市"},
		{nil, "戊公司"},
	}, [][2]string{{"D3", "D5"}, {"C3", "C4"}, {"A6", "A7"}}, []int{4, 7})

	b, _ := importFile(t, store, upload)
	out, data := export(t, store, b, dir, "results.xlsx")
	wantMerges := []string{"A6:A7", "C3:C4", "D3:D5"}
	merges, hidden := sheetLayout(t, out, SheetName)
	if !slices.Equal(merges, wantMerges) || !slices.Equal(hidden, []int{4, 7}) {
		t.Fatalf("results file merges %v, hidden rows %v; want %v, [4 7]", merges, hidden, wantMerges)
	}
	_, got := readBack(t, data)
	if h := got[1]; len(h) != 4+len(Headers) || h[4] != "Status" {
		t.Fatalf("results header %q", h)
	}
	if got[6][4] != "rejected" || !strings.Contains(got[6][5], "merged range A6:A7") {
		t.Errorf("row 7 in the results file: %q", got[6])
	}

	// The rejected row fixed in place: unmerged and given its own OpenId;
	// uploaded again, every row is read as before and the fixed one passes.
	rf, err := excelize.OpenFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := rf.UnmergeCell(SheetName, "A6", "A7"); err != nil {
		t.Fatal(err)
	}
	rf.SetCellStr(SheetName, "A7", "g5")
	fixed := filepath.Join(dir, "fixed.xlsx")
	if err := rf.SaveAs(fixed); err != nil {
		t.Fatal(err)
	}
	rf.Close()
	b2, rows2 := importFile(t, store, fixed)
	if !slices.Equal(b2.Headers, append(append([]string{}, b.Headers...), Headers...)) {
		t.Errorf("headers of the re-upload %q", b2.Headers)
	}
	if len(rows2) != 5 {
		t.Fatalf("re-upload: %d rows", len(rows2))
	}
	for _, r := range rows2 {
		if r.Status != "accepted" {
			t.Errorf("re-upload row %d rejected: %v", r.Number, r.Reasons)
		}
	}
	if s := rows2[2]; s.Number != 5 || !hasService(s.Warnings) {
		t.Errorf("re-upload row 5 lost its merged services: %+v", s)
	}
	if !slices.Equal(b2.HiddenRows, []int{4, 7}) {
		t.Errorf("re-upload: hidden rows %v, want [4 7]", b2.HiddenRows)
	}
	out2, _ := export(t, store, b2, dir, "results2.xlsx")
	merges, hidden = sheetLayout(t, out2, SheetName)
	if !slices.Equal(merges, []string{"C3:C4", "D3:D5"}) || !slices.Equal(hidden, []int{4, 7}) {
		t.Errorf("second results file merges %v, hidden %v", merges, hidden)
	}
}

// Every merged range and hidden row of the upload is laid out again, also
// those no row is warned about: a merge within one row, a merged title row
// and a hidden row above the header, a merged header cell, a merge in a
// column the importer does not read and a hidden blank row; the added
// columns come after the user's, and a merge beyond the header moves past
// them.
func TestResultsKeepEveryMergeAndHiddenRow(t *testing.T) {
	t.Parallel()
	store := newStore(t)
	dir := t.TempDir()
	upload := filepath.Join(dir, "layout.xlsx")
	buildBook(t, upload, [][]any{
		{"东区子公司名单"},
		{"内部：已核对"},
		{"企业标识", "企业名称", "企业地址", nil, "扩展服务", "备注"},
		{"g1", "甲公司", "厦门市思明区", nil, "AUTO_SIGN", "集团", nil, "not read"},
		{"g2", "乙公司"},
		{"g3", "丙公司", "泉州市"},
		{"g4", "丁公司", "福州市"},
		{nil, "戊公司"},
		{},
		{"g6", "己公司"},
	}, [][2]string{
		{"A1", "G1"}, // a title wider than the header
		{"C3", "D3"}, // the address heading over two columns
		{"C4", "D4"}, // within one row: no row is given its value
		{"E4", "E6"}, // services of a group
		{"F4", "F5"}, // a note of the user's own
		{"H4", "I5"}, // beyond the header: not read
		{"A7", "A8"}, // the OpenId: row 8 is rejected
	}, []int{2, 5, 8, 9})

	b, rows := importFile(t, store, upload)
	if b.HeaderRow != 3 {
		t.Fatalf("header row %d", b.HeaderRow)
	}
	// The import records the sheet's layout, not what the rows say of it.
	wantStored := []string{"A1:G1", "C3:D3", "C4:D4", "E4:E6", "F4:F5", "H4:I5", "A7:A8"}
	if !slices.Equal(b.Merges, wantStored) || !slices.Equal(b.HiddenRows, []int{2, 5, 8, 9}) {
		t.Fatalf("batch layout: merges %v, hidden rows %v", b.Merges, b.HiddenRows)
	}
	status := map[int]string{}
	for _, r := range rows {
		status[r.Number] = r.Status
	}
	if diff := cmp.Diff(map[int]string{4: "accepted", 5: "accepted", 6: "accepted", 7: "accepted", 8: "rejected", 10: "accepted"}, status); diff != "" {
		t.Fatalf("row statuses (-want +got):\n%s", diff)
	}

	out, data := export(t, store, b, dir, "results.xlsx")
	// Beyond the header's six columns come the added ones: H:I moves past
	// them, to P:Q.
	wantMerges := []string{"A1:G1", "A7:A8", "C3:D3", "C4:D4", "E4:E6", "F4:F5", "Q4:R5"}
	merges, hidden := sheetLayout(t, out, SheetName)
	if !slices.Equal(merges, wantMerges) || !slices.Equal(hidden, []int{2, 5, 8, 9}) {
		t.Fatalf("results file merges %v, hidden rows %v; want %v, [2 5 8 9]", merges, hidden, wantMerges)
	}
	_, got := readBack(t, data)
	if !strings.HasPrefix(got[0][0], "Results of batch ") {
		t.Errorf("row 1, the merged title, shows %q; want the results file's note", got[0])
	}
	wantHeader := append([]string{"企业标识", "企业名称", "企业地址", "", "扩展服务", "备注"}, Headers...)
	if diff := cmp.Diff(wantHeader, got[2]); diff != "" {
		t.Errorf("header row (-want +got):\n%s", diff)
	}
	if got[3][5] != "集团" || got[3][6] != onboard.StateQueued || got[4][6] != onboard.StateQueued {
		t.Errorf("rows 4 and 5: %q, %q", got[3], got[4])
	}
	if got[7][6] != "rejected" {
		t.Errorf("row 8: %q", got[7])
	}

	// Row 8 fixed in place and uploaded again: every row is accepted, and
	// the layout is the same but for the range that was undone.
	rf, err := excelize.OpenFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := rf.UnmergeCell(SheetName, "A7", "A8"); err != nil {
		t.Fatal(err)
	}
	rf.SetCellStr(SheetName, "A8", "g5")
	fixed := filepath.Join(dir, "fixed.xlsx")
	if err := rf.SaveAs(fixed); err != nil {
		t.Fatal(err)
	}
	rf.Close()
	b2, rows2 := importFile(t, store, fixed)
	if len(rows2) != 6 {
		t.Fatalf("re-upload: %d rows", len(rows2))
	}
	for _, r := range rows2 {
		if r.Status != "accepted" {
			t.Errorf("re-upload row %d rejected: %v", r.Number, r.Reasons)
		}
		if (r.Number == 5 || r.Number == 6) && (len(r.Services) != 1 || r.Services[0].Service != onboard.ServiceAutoSign) {
			t.Errorf("re-upload row %d lost its merged services: %+v", r.Number, r.Services)
		}
	}
	out2, _ := export(t, store, b2, dir, "results2.xlsx")
	merges, hidden = sheetLayout(t, out2, SheetName)
	wantMerges = slices.DeleteFunc(wantMerges, func(s string) bool { return s == "A7:A8" })
	if !slices.Equal(merges, wantMerges) || !slices.Equal(hidden, []int{2, 5, 8, 9}) {
		t.Errorf("second results file merges %v, hidden rows %v; want %v, [2 5 8 9]", merges, hidden, wantMerges)
	}
}

func hasService(ws []onboard.RowWarning) bool {
	for _, w := range ws {
		if w.Field == importer.WarnMergedCells && strings.Contains(w.Message, "D3:D5") {
			return true
		}
	}
	return false
}

// The stored layout is placed in the results file's columns: ranges above
// the header stay, ranges below follow the user's columns, move past the
// added ones beyond the header, and are left out where they would cover an
// added column or overlap a range already placed; hidden rows stay hidden,
// and the note goes in the first title row that shows it.
func TestWriteLayout(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name       string
		headers    []string
		merges     []string
		hidden     []int
		wantMerges []string
		wantHidden []int
		noteRow    int
	}{
		{name: "upload", headers: []string{"企业标识", "企业名称"},
			merges: []string{"A1:D1", "A3:B3", "A4:A5", "A5:A6", "B4:C4", "C5:D6", "D9:C8", "bad", "E1"},
			hidden: []int{1, 5, 7, 5, 0},
			// B4:C4 reaches from the user's column B past the header, over
			// the added columns; A5:A6 overlaps A4:A5.
			wantMerges: []string{"A1:D1", "A3:B3", "A4:A5", "L5:M6", "L8:M9"},
			wantHidden: []int{1, 5, 7}, noteRow: 2},
		{name: "results file uploaded again", headers: append([]string{"企业标识", "企业名称"}, Headers...),
			// C4:C5 is in the earlier export's Status column; L to N are
			// beyond its added columns, where the new ones end too.
			merges:     []string{"C1:D1", "C4:C5", "A4:B4", "M4:N4", "L6:M6"},
			hidden:     []int{2},
			wantMerges: []string{"A4:B4", "C1:D1", "L6:M6", "M4:N4"},
			wantHidden: []int{2}, noteRow: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := &repository.Batch{ID: 3, HeaderRow: 3, Headers: tc.headers, Merges: tc.merges, HiddenRows: tc.hidden}
			cells := make([]string, len(tc.headers))
			cells[0], cells[1] = "org-a", "甲"
			rows := []repository.ResultRow{{Number: 4, Cells: cells, Status: "accepted"},
				{Number: 5, Cells: cells, Status: "accepted"}}
			var buf bytes.Buffer
			if err := Write(&buf, b, fromSlice(rows)); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "results.xlsx")
			if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
			merges, hidden := sheetLayout(t, path, SheetName)
			want := slices.Sorted(slices.Values(tc.wantMerges))
			if !slices.Equal(merges, want) || !slices.Equal(hidden, tc.wantHidden) {
				t.Errorf("merges %v, hidden rows %v; want %v, %v", merges, hidden, want, tc.wantHidden)
			}
			_, got := readBack(t, buf.Bytes())
			if n := tc.noteRow; len(got) < n || len(got[n-1]) == 0 || !strings.HasPrefix(got[n-1][0], "Results of batch 3") {
				t.Errorf("the note is not in row %d: %q", n, got)
			}
		})
	}
}
