package importer

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ess-onboard/onboard"
	"github.com/xuri/excelize/v2"
)

// warningsOf lists the fields and messages of a row's warnings.
func warningsOf(row *onboard.Row) []string {
	var out []string
	for _, w := range row.Warnings {
		out = append(out, w.Field+": "+w.Message)
	}
	return out
}

// rowsByNumber indexes rows by their sheet row number.
func rowsByNumber(rows []*onboard.Row) map[int]*onboard.Row {
	m := map[int]*onboard.Row{}
	for _, r := range rows {
		m[r.Number] = r
	}
	return m
}

func TestMergedCells(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := writeBook(t, dir, "merged.xlsx", [][]any{
		{"Companies of the east group"},
		stdHeaders,
		{"m1", "甲公司", "", "", "", "", "厦门市思明区", "", "", "AUTO_SIGN，MOBILE_CHECK_APPROVER"},
		{"m2", "乙公司"},
		{"m3", "丙公司"},
		{"m4", "丁公司", "", "", "", "", "", "", "", "PAGING_SEAL"},
		{"m5", "戊公司"},
		{nil, "己公司"},
		{"m7", "庚公司"},
		{"m8", nil},
		{"m9", "辛公司"},
	}, func(f *excelize.File) {
		for _, rng := range [][2]string{
			{"A1", "J1"},  // a title above the header
			{"J3", "J5"},  // services of a group
			{"G3", "G4"},  // their address
			{"A7", "A8"},  // an OpenId merged down: a mistake
			{"B9", "B10"}, // a name merged down: a mistake (row 8 has none)
			{"J6", "K6"},  // across one row only
		} {
			if err := f.MergeCell("Sheet1", rng[0], rng[1]); err != nil {
				t.Fatal(err)
			}
		}
	})
	_, rows := readAll(t, path, testOpts())
	byNum := rowsByNumber(rows)
	if len(rows) != 9 {
		t.Fatalf("got %d rows; want 9", len(rows))
	}
	for _, n := range []int{3, 4, 5} {
		row := byNum[n]
		if !row.Accepted() {
			t.Fatalf("row %d rejected: %v", n, reasons(row))
		}
		if got := fmt.Sprint(row.Data.Services); got != "[AUTO_SIGN MOBILE_CHECK_APPROVER]" {
			t.Errorf("row %d services %s", n, got)
		}
	}
	if byNum[4].Data.Address != "厦门市思明区" || byNum[5].Data.Address != "" {
		t.Errorf("addresses %q, %q; want the merged one on row 4 only", byNum[4].Data.Address, byNum[5].Data.Address)
	}
	if len(byNum[3].Warnings) != 0 {
		t.Errorf("row 3, the top of the ranges, warned: %v", warningsOf(byNum[3]))
	}
	w := strings.Join(warningsOf(byNum[5]), "\n")
	if !strings.Contains(w, WarnMergedCells+": column J (扩展服务) is part of the merged range J3:J5, so this row was given the value of row 3") {
		t.Errorf("row 5 warnings: %s", w)
	}
	if got := byNum[6].Data.Services; len(got) != 1 || got[0] != "PAGING_SEAL" || !byNum[6].Accepted() {
		t.Errorf("row 6 (merged across): %v %v", got, reasons(byNum[6]))
	}
	for _, n := range []int{7, 9, 11} {
		if !byNum[n].Accepted() {
			t.Errorf("row %d, the top of a merged range, rejected: %v", n, reasons(byNum[n]))
		}
	}
	for n, want := range map[int]string{
		8:  "ProxyOrganizationOpenId: the cell is part of the merged range A7:A8, so it repeats the value of row 7: this row was rejected as a duplicate of row 7",
		10: "ProxyOrganizationName: the cell is part of the merged range B9:B10, so it repeats the value of row 9: this row was rejected as a duplicate of row 9",
	} {
		row := byNum[n]
		got := reasons(row)
		if row.Accepted() || len(got) != 1 || !strings.HasPrefix(got[0], want) {
			t.Errorf("row %d reasons %q; want one starting %q", n, got, want)
		}
		if row.Errors[0].Row != n || row.Errors[0].Column == "" {
			t.Errorf("row %d error names row %d column %q", n, row.Errors[0].Row, row.Errors[0].Column)
		}
	}
	// The cells kept for the results file show the merged value too.
	if byNum[8].Cells[0] != "m5" {
		t.Errorf("row 8 cells %q", byNum[8].Cells)
	}
}

func TestMergedRangeOverBlankRowsAndTitle(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := writeBook(t, dir, "tail.xlsx", [][]any{
		{"title", nil, "note"},
		{"企业标识", "企业名称", "扩展服务"},
		{"t1", "甲", "AUTO_SIGN"},
	}, func(f *excelize.File) {
		// A title merged down into the header, and services merged down
		// over rows that hold nothing else.
		for _, rng := range [][2]string{{"C1", "C3"}, {"C3", "C9"}} {
			if err := f.MergeCell("Sheet1", rng[0], rng[1]); err != nil {
				t.Fatal(err)
			}
		}
	})
	_, rows := readAll(t, path, testOpts())
	if len(rows) != 1 || !rows[0].Accepted() {
		t.Fatalf("rows %d: %v", len(rows), rows)
	}
}

func TestHiddenRows(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := writeBook(t, dir, "hidden.xlsx", [][]any{
		{"企业标识", "企业名称", "企业地址"},
		{"h1", "甲", "a"},
		{"h2", "乙", "b"},
		{"h3", "丙", "c"},
		{"h4", "丁", "d"},
	}, func(f *excelize.File) {
		if err := f.SetRowVisible("Sheet1", 3, false); err != nil {
			t.Fatal(err)
		}
		// A filter that hides row 5, as Excel saves it, and a hidden column.
		if err := f.AutoFilter("Sheet1", "A1:C5", []excelize.AutoFilterOptions{{Column: "C", Expression: "x != d"}}); err != nil {
			t.Fatal(err)
		}
		if err := f.SetRowVisible("Sheet1", 5, false); err != nil {
			t.Fatal(err)
		}
		if err := f.SetColVisible("Sheet1", "C", false); err != nil {
			t.Fatal(err)
		}
	})
	_, rows := readAll(t, path, testOpts())
	if len(rows) != 4 {
		t.Fatalf("got %d rows", len(rows))
	}
	for _, row := range rows {
		if !row.Accepted() || row.Data.Address == "" {
			t.Errorf("row %d: %v, address %q", row.Number, reasons(row), row.Data.Address)
		}
		hidden := row.Number == 3 || row.Number == 5
		w := strings.Join(warningsOf(row), "\n")
		want := fmt.Sprintf("%s: row %d is hidden in the sheet (by hand or by a filter); it was read like any other row", WarnHiddenRow, row.Number)
		if hidden != strings.Contains(w, want) {
			t.Errorf("row %d (hidden %v) warnings: %q", row.Number, hidden, w)
		}
	}
}

func TestFormulas(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := writeBook(t, dir, "formulas.xlsx", [][]any{
		{"企业标识", "企业名称", "统一社会信用代码", "企业地址"},
		{"f1", "甲", "", "x"},
		{"f2", "乙", "", "x"},
		{"f3", "丙", "", "x"},
		{"f4", "丁", "", "x"},
		{"f5", "戊", "", "x"},
	}, nil)
	rewriteBook(t, path, func(parts map[string][]byte) {
		// Written by a program that never calculates: no cached values.
		replaceCell(t, parts, "A4", `<c r="A4" t="str"><f>"f"&amp;ROW()</f></c>`)
		replaceCell(t, parts, "D5", `<c r="D5"><f>1+1</f></c>`)
		// As Excel saves them: the formula with the value it shows.
		replaceCell(t, parts, "A2", `<c r="A2" t="str"><f>"org-"&amp;ROW()</f><v>org-2</v></c>`)
		replaceCell(t, parts, "C3", `<c r="C3" t="str"><f>UPPER("`+strings.ToLower(uscc1)+`")</f><v>`+uscc1+`</v></c>`)
		replaceCell(t, parts, "D2", `<c r="D2"><f>1+1</f><v>2</v></c>`)
		// A shared formula without a value, and one that shows an empty string.
		replaceCell(t, parts, "D6", `<c r="D6"><f t="shared" si="0"/></c>`)
		// Formula cells below the data, all without values, make no rows.
		parts["xl/worksheets/sheet1.xml"] = bytes.Replace(parts["xl/worksheets/sheet1.xml"], []byte("</sheetData>"), []byte(`<row r="9"><c r="A9"><f>A8</f></c><c r="B9" t="str"><f>B8</f></c></row></sheetData>`), 1)
		replaceCell(t, parts, "C6", `<c r="C6" t="str"><f>""</f><v></v></c>`)
	})
	_, rows := readAll(t, path, testOpts())
	byNum := rowsByNumber(rows)
	if len(rows) != 5 {
		t.Errorf("got %d rows; want 5", len(rows))
	}
	if r := byNum[2]; !r.Accepted() || r.Data.OpenID != "org-2" || r.Data.Address != "2" {
		t.Errorf("row 2: %q %q %v", r.Data.OpenID, r.Data.Address, reasons(r))
	}
	if r := byNum[3]; !r.Accepted() || r.Data.CreditCode != uscc1 {
		t.Errorf("row 3: %q %v", r.Data.CreditCode, reasons(r))
	}
	const want = "holds a formula whose value was never calculated (the file was saved by a program that does not calculate formulas); open the file in Excel or WPS and save it again, or copy the column and paste it as values"
	for n, field := range map[int]string{4: onboard.FieldOpenID, 5: onboard.FieldAddress, 6: onboard.FieldAddress} {
		r := byNum[n]
		if r == nil || len(r.Errors) != 1 || r.Errors[0].Field != field || !strings.HasPrefix(r.Errors[0].Reason, want) || r.Errors[0].Row != n {
			t.Errorf("row %d: %v; want one %s error %q", n, r, field, want)
		}
	}
}

func TestNumberAndDateFormats(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := writeBook(t, dir, "formats.xlsx", [][]any{
		{"企业标识", "企业名称", "企业地址", "超管标识"},
		{100234, "甲", 12.5, "admin"},
		{"d2", "乙", time.Date(2024, 3, 5, 0, 0, 0, 0, time.UTC), "admin"},
		{"d3", "丙", 45356, "admin"},
		{"d4", "丁", 7, "admin"},
	}, func(f *excelize.File) {
		money, _ := f.NewStyle(&excelize.Style{NumFmt: 4}) // #,##0.00
		custom := "yyyy\"年\"m\"月\"d\"日\""
		cn, _ := f.NewStyle(&excelize.Style{CustomNumFmt: &custom})
		pad := "000"
		padded, _ := f.NewStyle(&excelize.Style{CustomNumFmt: &pad})
		f.SetCellStyle("Sheet1", "C2", "C2", money)
		f.SetCellStyle("Sheet1", "C4", "C4", cn)
		f.SetCellStyle("Sheet1", "C5", "C5", padded)
	})
	_, rows := readAll(t, path, testOpts())
	byNum := rowsByNumber(rows)
	if r := byNum[2]; !r.Accepted() || r.Data.OpenID != "100234" || r.Data.Address != "12.50" {
		t.Errorf("row 2: %q %q %v", r.Data.OpenID, r.Data.Address, reasons(r))
	}
	if r := byNum[5]; !r.Accepted() || r.Data.Address != "007" {
		t.Errorf("row 5: %q %v", r.Data.Address, reasons(r))
	}
	for _, n := range []int{3, 4} {
		r := byNum[n]
		if len(r.Errors) != 1 || r.Errors[0].Column != "企业地址" || !strings.HasPrefix(r.Errors[0].Reason, "holds a date (") {
			t.Errorf("row %d: %v; want a date rejected in 企业地址", n, reasons(r))
		}
	}
}

func TestCharacters(t *testing.T) {
	t.Parallel()
	full := func(s string) string {
		return strings.Map(func(c rune) rune {
			if c >= '0' && c <= '9' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' {
				return c + 0xFEE0
			}
			return c
		}, s)
	}
	dir := t.TempDir()
	path := writeBook(t, dir, "chars.xlsx", [][]any{
		stdHeaders,
		{"c1", "厦门（思明）公司", full(uscc1), "张三", "", full(strings.ToLower(id1))},
		{"c2\u200b", "乙\u00ad公司\u200b", uscc2},
		{"c3", "丙公司", full(uscc2)[:6] + "Ｘ"},
	}, nil)
	_, rows := readAll(t, path, testOpts())
	byNum := rowsByNumber(rows)
	r := byNum[2]
	if !r.Accepted() || r.Data.CreditCode != uscc1 || r.Data.LegalIDCardNumber != id1 || r.Data.Name != "厦门（思明）公司" {
		t.Fatalf("row 2: %+v %v", r.Data, reasons(r))
	}
	w := strings.Join(warningsOf(r), "\n")
	for _, want := range []string{
		onboard.FieldCreditCode + ": the credit code was typed in full-width characters",
		onboard.FieldLegalIDCardNumber + ": the ID number was typed in full-width characters",
	} {
		if !strings.Contains(w, want) {
			t.Errorf("row 2 warnings %q; want %q", w, want)
		}
	}
	r = byNum[3]
	if !r.Accepted() || r.Data.OpenID != "c2" || r.Data.Name != "乙公司" {
		t.Fatalf("row 3: %q %q %v", r.Data.OpenID, r.Data.Name, reasons(r))
	}
	if w := strings.Join(warningsOf(r), "\n"); !strings.Contains(w, "invisible characters (zero-width spaces or soft hyphens, often copied from a web page) were removed from column A (子客企业标识), B (企业名称)") {
		t.Errorf("row 3 warnings %q", w)
	}
	if r.Cells[0] != "c2\u200b" {
		t.Errorf("row 3 cells %q: the results file keeps the user's text", r.Cells)
	}
	// Half-width or not, a wrong code is still wrong.
	if r := byNum[4]; r.Accepted() || !strings.Contains(strings.Join(reasons(r), ""), "is not a valid unified social credit code") {
		t.Errorf("row 4: %v", reasons(r))
	}
}

func TestMacroEnabledWorkbook(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := writeBook(t, dir, "macros.xlsm", [][]any{{"企业标识", "企业名称"}, {"x1", "甲"}}, nil)
	rewriteBook(t, path, func(parts map[string][]byte) {
		parts["xl/vbaProject.bin"] = append([]byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}, make([]byte, 504)...)
	})
	if ct := string(readZip(t, path)["[Content_Types].xml"]); !strings.Contains(ct, "macroEnabled") {
		t.Fatalf("not a macro-enabled workbook: %s", ct)
	}
	_, rows := readAll(t, path, testOpts())
	if len(rows) != 1 || !rows[0].Accepted() || rows[0].Data.OpenID != "x1" {
		t.Fatalf("rows %v", rows)
	}
}

// oleFile is the start of an OLE2 compound file whose directory names the
// given streams, as Excel 97–2003, WPS and encrypted Office files are.
func oleFile(streams ...string) []byte {
	b := append([]byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}, make([]byte, 504)...)
	for _, s := range append([]string{"Root Entry"}, streams...) {
		entry := make([]byte, 128)
		for i, c := range []byte(s) {
			entry[2*i] = c
		}
		entry[64] = byte(2*len(s) + 2)
		b = append(b, entry...)
	}
	return b
}

func TestOtherWorkbookKinds(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		// Named by what the person thought it was: the content decides.
		{"old.xlsx", oleFile("Workbook", "\x05SummaryInformation"), "old.xlsx is an Excel 97–2003 workbook (.xls), an old binary format that is not read; open it in Excel or WPS, choose File > Save As, pick Excel Workbook (*.xlsx) as the type"},
		{"old95.xls", oleFile("Book"), "is an Excel 97–2003 workbook (.xls)"},
		{"wps.et", oleFile("Workbook", "WpsCustomData"), "wps.et is a WPS spreadsheet (.et), an old binary format that is not read"},
		{"secret.xlsx", oleFile("EncryptionInfo", "EncryptedPackage"), "secret.xlsx is a password-protected workbook; open it in Excel or WPS, remove the password"},
		{"letter.xls", oleFile("WordDocument"), "is an old binary Office file (of Excel 97–2003, WPS or Word), not an .xlsx workbook"},
	} {
		p := filepath.Join(dir, tc.name)
		if err := os.WriteFile(p, tc.data, 0o644); err != nil {
			t.Fatal(err)
		}
		if got := openErr(t, p, testOpts()); !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q; want %q", tc.name, got, tc.want)
		}
	}
}

// strictBook is a Strict Open XML workbook, as Excel saves one with "Strict
// Open XML Spreadsheet (*.xlsx)": other namespaces, and dates as ISO text.
func strictBook(t *testing.T, path string) {
	const (
		main = "http://purl.oclc.org/ooxml/spreadsheetml/main"
		rel  = "http://purl.oclc.org/ooxml/officeDocument/relationships"
		pkg  = "http://schemas.openxmlformats.org/package/2006/relationships"
		decl = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`
	)
	writeZip(t, path, map[string][]byte{
		"[Content_Types].xml":        []byte(decl + `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>`),
		"_rels/.rels":                []byte(decl + `<Relationships xmlns="` + pkg + `"><Relationship Id="rId1" Type="` + rel + `/officeDocument" Target="xl/workbook.xml"/></Relationships>`),
		"xl/workbook.xml":            []byte(decl + `<workbook xmlns="` + main + `" xmlns:r="` + rel + `" conformance="strict"><workbookPr dateCompatibility="0"/><sheets><sheet name="名单" sheetId="1" r:id="rId1"/></sheets></workbook>`),
		"xl/_rels/workbook.xml.rels": []byte(decl + `<Relationships xmlns="` + pkg + `"><Relationship Id="rId1" Type="` + rel + `/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="` + rel + `/sharedStrings" Target="sharedStrings.xml"/><Relationship Id="rId3" Type="` + rel + `/styles" Target="styles.xml"/></Relationships>`),
		"xl/sharedStrings.xml":       []byte(decl + `<sst xmlns="` + main + `" count="4" uniqueCount="4"><si><t>企业标识</t></si><si><t>企业名称</t></si><si><t>s1</t></si><si><t>严格公司</t></si></sst>`),
		"xl/styles.xml":              []byte(decl + `<styleSheet xmlns="` + main + `"><cellXfs count="1"><xf numFmtId="0"/></cellXfs></styleSheet>`),
		"xl/worksheets/sheet1.xml":   []byte(decl + `<worksheet xmlns="` + main + `" xmlns:r="` + rel + `"><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row><row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2" t="s"><v>3</v></c></row><row r="3" hidden="1"><c r="A3"><v>100234</v></c><c r="B3" t="inlineStr"><is><t>数字公司</t></is></c></row></sheetData></worksheet>`),
	})
}

func TestStrictOpenXML(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "strict.xlsx")
	strictBook(t, path)
	r, rows := readAll(t, path, testOpts())
	if r.Sheet() != "名单" || len(rows) != 2 {
		t.Fatalf("sheet %q, %d rows", r.Sheet(), len(rows))
	}
	if !rows[0].Accepted() || rows[0].Data.OpenID != "s1" || rows[0].Data.Name != "严格公司" {
		t.Errorf("row 2: %+v %v", rows[0].Data, reasons(rows[0]))
	}
	if !rows[1].Accepted() || rows[1].Data.OpenID != "100234" || len(rows[1].Warnings) != 1 {
		t.Errorf("row 3: %+v %v %v", rows[1].Data, reasons(rows[1]), warningsOf(rows[1]))
	}
}

func TestContainsStream(t *testing.T) {
	t.Parallel()
	pat := []byte("mergeCell")
	for _, size := range []int{0, 5, 64<<10 - 4, 64 << 10, 64<<10 + 3, 200 << 10} {
		for _, at := range []int{0, size / 2, size - 4, size} {
			if at < 0 {
				continue
			}
			b := bytes.Repeat([]byte("x"), size)
			with := append(append(append([]byte{}, b[:at]...), pat...), b[at:]...)
			if ok, err := containsStream(bytes.NewReader(with), pat); !ok || err != nil {
				t.Errorf("size %d at %d: %v %v", size, at, ok, err)
			}
			if ok, _ := containsStream(bytes.NewReader(append(b, pat[:8]...)), pat); ok {
				t.Errorf("size %d: found a cut pattern", size)
			}
		}
	}
}

func TestMergedRangesHostile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := writeBook(t, dir, "overlap.xlsx", [][]any{
		{"企业标识", "企业名称", "企业地址"},
		{"o1", "甲", "first"},
		{"o2", "乙", "second"},
		{"o3", "丙"},
	}, nil)
	var b strings.Builder
	b.WriteString(`<mergeCells>`)
	// Ranges Excel never writes: overlapping, reaching to the last row,
	// and many of them.
	b.WriteString(`<mergeCell ref="C2:C1048576"/><mergeCell ref="C3:C4"/>`)
	for i := 0; i < maxMerges-2; i++ {
		fmt.Fprintf(&b, `<mergeCell ref="D%d:E%d"/>`, i+2, i+3)
	}
	b.WriteString(`</mergeCells>`)
	rewriteBook(t, path, func(parts map[string][]byte) {
		const sheet = "xl/worksheets/sheet1.xml"
		parts[sheet] = bytes.Replace(parts[sheet], []byte("</sheetData>"), []byte("</sheetData>"+b.String()), 1)
	})
	start := time.Now()
	_, rows := readAll(t, path, testOpts())
	if len(rows) != 3 || rows[1].Data.Address != "second" || rows[2].Data.Address != "second" {
		t.Fatalf("rows %d: %+v", len(rows), rows)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
	// One range more is refused.
	rewriteBook(t, path, func(parts map[string][]byte) {
		const sheet = "xl/worksheets/sheet1.xml"
		parts[sheet] = bytes.Replace(parts[sheet], []byte("</mergeCells>"), []byte(`<mergeCell ref="Z1:Z2"/></mergeCells>`), 1)
	})
	if got := openErr(t, path, testOpts()); !strings.Contains(got, fmt.Sprintf("has more than %d merged ranges; unmerge the cells", maxMerges)) {
		t.Errorf("refusal %q", got)
	}
}
