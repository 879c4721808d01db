package results

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/importer"
	"github.com/ess-onboard/onboard/repository"
)

// importFile reads every row of an upload, as the import job stores them.
func importFile(t *testing.T, path string) (*repository.Batch, []repository.ResultRow) {
	t.Helper()
	r, err := importer.Open(path, importer.Options{Now: func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b := &repository.Batch{ID: 1, AppID: "app", FileName: filepath.Base(path), HeaderRow: r.HeaderRow(), Headers: r.Headers()}
	var out []repository.ResultRow
	for {
		row, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		rr := repository.ResultRow{Number: row.Number, Cells: row.Cells, Status: "accepted", Reasons: row.Errors, Warnings: row.Warnings, OpenID: row.Data.OpenID}
		if !row.Accepted() {
			rr.Status = "rejected"
		}
		out = append(out, rr)
	}
	return b, out
}

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
	for n := 1; n <= 7; n++ {
		if v, err := f.GetRowVisible(sheet, n); err == nil && !v {
			hidden = append(hidden, n)
		}
	}
	return merges, hidden
}

func TestResultsKeepMergesAndHiddenRows(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	upload := filepath.Join(dir, "group.xlsx")
	f := excelize.NewFile()
	for i, row := range [][]any{
		{"东区子公司名单"},
		{"企业标识", "企业名称", "企业地址", "扩展服务"},
		{"g1", "甲公司", "厦门市", "AUTO_SIGN"},
		{"g2", "乙公司"},
		{"g3", "丙公司"},
		{"g4", "丁公司", "福州市"},
		{nil, "戊公司"},
	} {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		f.SetSheetRow("Sheet1", cell, &row)
	}
	for _, m := range [][2]string{{"D3", "D5"}, {"C3", "C4"}, {"A6", "A7"}} {
		if err := f.MergeCell("Sheet1", m[0], m[1]); err != nil {
			t.Fatal(err)
		}
	}
	f.SetRowVisible("Sheet1", 4, false)
	f.SetRowVisible("Sheet1", 7, false)
	if err := f.SaveAs(upload); err != nil {
		t.Fatal(err)
	}
	f.Close()

	b, rows := importFile(t, upload)
	var buf bytes.Buffer
	if err := Write(&buf, b, fromSlice(rows)); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "results.xlsx")
	if err := os.WriteFile(out, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	wantMerges := []string{"A6:A7", "C3:C4", "D3:D5"}
	merges, hidden := sheetLayout(t, out, SheetName)
	if !slices.Equal(merges, wantMerges) || !slices.Equal(hidden, []int{4, 7}) {
		t.Fatalf("results file merges %v, hidden rows %v; want %v, [4 7]", merges, hidden, wantMerges)
	}
	_, got := readBack(t, buf.Bytes())
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
	b2, rows2 := importFile(t, fixed)
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
	if !importer.HiddenRow(rows2[1].Warnings) || !importer.HiddenRow(rows2[4].Warnings) {
		t.Errorf("re-upload: hidden rows not seen again")
	}
	var buf2 bytes.Buffer
	if err := Write(&buf2, b2, fromSlice(rows2)); err != nil {
		t.Fatal(err)
	}
	out2 := filepath.Join(dir, "results2.xlsx")
	os.WriteFile(out2, buf2.Bytes(), 0o600)
	merges, hidden = sheetLayout(t, out2, SheetName)
	if !slices.Equal(merges, []string{"C3:C4", "D3:D5"}) || !slices.Equal(hidden, []int{4, 7}) {
		t.Errorf("second results file merges %v, hidden %v", merges, hidden)
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
