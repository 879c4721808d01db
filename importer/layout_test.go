package importer

import (
	"bytes"
	"slices"
	"testing"
)

// The reader tells the sheet's layout as the file declares it: every merged
// range, in order of first rows, corners put in order, ranges of one cell
// (A9, B3:B3) left out; every hidden row, those above the header known once
// the file is open, and a blank hidden row written by hand among them.
func TestReaderLayout(t *testing.T) {
	t.Parallel()
	path := writeBook(t, t.TempDir(), "layout.xlsx", [][]any{
		{"名单"},
		{"备注"},
		{"企业标识", "企业名称", "企业地址"},
		{"o1", "甲", "厦门市"},
		{"o2", "乙"},
		{"o3", "丙"},
	}, nil)
	rewriteBook(t, path, func(parts map[string][]byte) {
		const sheet = "xl/worksheets/sheet1.xml"
		s := parts[sheet]
		s = bytes.Replace(s, []byte(`<row r="2">`), []byte(`<row r="2" hidden="1">`), 1)
		s = bytes.Replace(s, []byte(`<row r="5">`), []byte(`<row r="5" hidden="true">`), 1)
		s = bytes.Replace(s, []byte(`</sheetData>`), []byte(`<row r="9" hidden="1"/></sheetData>`+
			`<mergeCells count="5"><mergeCell ref="C4:C6"/><mergeCell ref="E5:D4"/><mergeCell ref="A1:C1"/>`+
			`<mergeCell ref="A9"/><mergeCell ref="B3:B3"/></mergeCells>`), 1)
		parts[sheet] = s
	})
	r, err := Open(path, testOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	wantMerges := []string{"A1:C1", "C4:C6", "D4:E5"}
	if got := r.Merges(); !slices.Equal(got, wantMerges) {
		t.Errorf("Merges() once open = %v; want %v", got, wantMerges)
	}
	if got := r.HiddenRows(); !slices.Equal(got, []int{2}) {
		t.Errorf("HiddenRows() once open = %v; want [2]", got)
	}
	n := 0
	for {
		if _, err := r.Next(); err != nil {
			break
		}
		n++
	}
	if n != 3 {
		t.Fatalf("%d rows", n)
	}
	if got := r.HiddenRows(); !slices.Equal(got, []int{2, 5, 9}) {
		t.Errorf("HiddenRows() after the last row = %v; want [2 5 9]", got)
	}
	if got := r.Merges(); !slices.Equal(got, wantMerges) {
		t.Errorf("Merges() after the last row = %v; want %v", got, wantMerges)
	}
}
