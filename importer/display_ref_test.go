package importer

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"
)

// The importer reads cells itself; excelize's row iterator, which it used
// before, is the reference for the text each cell shows.

// ourRows reads every row of a workbook's first sheet the way the Reader
// does, with every column, and returns the shown text by row number.
func ourRows(t *testing.T, path string) map[int][]string {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	r := &Reader{opts: Options{MaxRowText: DefaultMaxRowText}, book: newPkg(zr), tmpDir: t.TempDir(), fileName: filepath.Base(path)}
	defer r.close()
	wb, err := r.book.readWorkbook()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.readSharedStrings(wb); err != nil {
		t.Fatal(err)
	}
	r.format = &formatter{book: r.book, stylesPart: wb.styles, date1904: wb.date1904}
	rc, err := r.book.open(wb.sheets[0].Part)
	if err != nil {
		t.Fatal(err)
	}
	r.scan = newSheetScanner(rc)
	out := map[int][]string{}
	for {
		raw, err := r.readRaw()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[raw.num] = trimTrailing(raw.vals)
	}
}

// excelizeRows reads the same with excelize's row iterator.
func excelizeRows(t *testing.T, path string) map[int][]string {
	t.Helper()
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := f.Rows(f.GetSheetName(0))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int][]string{}
	n := 0
	for rows.Next() {
		n++
		cols, err := rows.Columns()
		if err != nil {
			t.Fatal(err)
		}
		if cols = trimTrailing(cols); len(cols) > 0 {
			out[n] = cols
		}
	}
	return out
}

func trimTrailing(v []string) []string {
	for len(v) > 0 && v[len(v)-1] == "" {
		v = v[:len(v)-1]
	}
	return v
}

func compareWithExcelize(t *testing.T, path string) {
	t.Helper()
	want, got := excelizeRows(t, path), ourRows(t, path)
	for n, v := range got {
		if len(v) == 0 {
			delete(got, n)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s: shown text differs from excelize's (-excelize +importer):\n%s", filepath.Base(path), diff)
	}
}

// writeFormatsBook writes cells of every kind with number formats of every
// kind: built-in and custom, dates, percentages, text sections, booleans,
// errors, rich text, escapes and formulas with cached values.
func writeFormatsBook(t *testing.T, path string, date1904 bool) {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	if date1904 {
		if err := f.SetWorkbookProps(&excelize.WorkbookPropsOptions{Date1904: &date1904}); err != nil {
			t.Fatal(err)
		}
	}
	const sh = "Sheet1"
	style := func(s *excelize.Style) int {
		id, err := f.NewStyle(s)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	custom := func(code string) int { return style(&excelize.Style{CustomNumFmt: &code}) }
	formats := []int{
		0, style(&excelize.Style{NumFmt: 1}), style(&excelize.Style{NumFmt: 2}), style(&excelize.Style{NumFmt: 4}),
		style(&excelize.Style{NumFmt: 9}), style(&excelize.Style{NumFmt: 10}), style(&excelize.Style{NumFmt: 11}),
		style(&excelize.Style{NumFmt: 14}), style(&excelize.Style{NumFmt: 22}), style(&excelize.Style{NumFmt: 49}),
		custom("yyyy-mm-dd"), custom("0.000"), custom(`"ID "@`), custom(`#,##0;[Red]-#,##0;"zero";"text: "@`),
		custom("000000"), custom("[$-804]yyyy\"年\"m\"月\"d\"日\""),
	}
	values := []any{0, 1, -1, 3.14159, 1234567.891, 0.25, 45678, 45678.75, 110101200001010010, 1.2345678901234567e17,
		"text", "123", "007", "_x000D_line", "a_x005F_x0041_b", "", true, false, time.Date(2024, 2, 29, 13, 30, 0, 0, time.UTC)}
	for r, fmtID := range formats {
		for c, v := range values {
			cell, _ := excelize.CoordinatesToCellName(c+1, r+1)
			if err := f.SetCellValue(sh, cell, v); err != nil {
				t.Fatal(err)
			}
			if err := f.SetCellStyle(sh, cell, cell, fmtID); err != nil {
				t.Fatal(err)
			}
		}
	}
	n := len(formats) + 1
	cell := func(c int) string { s, _ := excelize.CoordinatesToCellName(c, n); return s }
	if err := f.SetCellRichText(sh, cell(1), []excelize.RichTextRun{{Text: "rich "}, {Text: "text", Font: &excelize.Font{Bold: true}}}); err != nil {
		t.Fatal(err)
	}
	f.SetCellFormula(sh, cell(2), "1+1")
	f.SetCellFormula(sh, cell(3), `"a"&"b"`)
	f.SetCellInt(sh, cell(4), 42)
	f.SetCellBool(sh, cell(5), true)
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
	// Cells as other programs write them: inline strings with runs and
	// phonetic text, t="d" dates, errors, booleans, a "str" formula.
	rewriteBook(t, path, func(parts map[string][]byte) {
		const sheet = "xl/worksheets/sheet1.xml"
		extra := fmt.Sprintf(`<row r="%d"><c r="A%d" t="inlineStr"><is><r><t>in</t></r><rPh><t>ignored</t></rPh><r><t xml:space="preserve">line _x0041_</t></r></is></c>`+
			`<c r="B%d" t="d"><v>2024-03-01T00:00:00Z</v></c><c r="C%d" t="d" s="%d"><v>2024-03-01T12:00:00Z</v></c><c r="D%d" t="e"><v>#N/A</v></c>`+
			`<c r="E%d" t="b"><v>0</v></c><c r="F%d" t="str"><f>A1</f><v>cached _x0041_</v></c><c r="G%d" t="n" s="%d"><v>12.5</v></c><c r="H%d" t="inlineStr" s="%d"><is><t>12</t></is></c></row></sheetData>`,
			n+1, n+1, n+1, n+1, formats[7], n+1, n+1, n+1, n+1, formats[2], n+1, formats[12])
		parts[sheet] = []byte(strings.Replace(string(parts[sheet]), "</sheetData>", extra, 1))
	})
}

func TestShownTextMatchesExcelize(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct {
		name  string
		write func(path string)
	}{
		{"sample", func(p string) { writeFile(t, p, WriteSample) }},
		{"template", func(p string) { writeFile(t, p, WriteTemplate) }},
		{"bench", func(p string) {
			if err := GenerateBenchFile(p, 300); err != nil {
				t.Fatal(err)
			}
		}},
		{"formats", func(p string) { writeFormatsBook(t, p, false) }},
		{"formats1904", func(p string) { writeFormatsBook(t, p, true) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, tc.name+".xlsx")
			tc.write(p)
			compareWithExcelize(t, p)
		})
	}
}

func writeFile(t *testing.T, path string, write func(io.Writer) error) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := write(f); err != nil {
		t.Fatal(err)
	}
}
