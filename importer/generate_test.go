package importer

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/locale"
	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"
)

func writeTo(t testing.TB, name string, write func(io.Writer) error) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := write(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSampleReadsBack(t *testing.T) {
	t.Parallel()
	for _, lang := range locale.Langs {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			testSample(t, lang)
		})
	}
}

func testSample(t *testing.T, lang string) {
	p := writeTo(t, "sample.xlsx", func(w io.Writer) error { return WriteSampleIn(w, lang) })
	// The sample is checked against the real clock: it must stay valid.
	r, rows := readAll(t, p, Options{})
	if r.HeaderRow() != 2 {
		t.Errorf("header row %d", r.HeaderRow())
	}
	accepted, rejected, pictures, warned := 0, 0, 0, 0
	got := map[int]string{}
	warnedBy := map[int]string{}
	services := map[onboard.ServiceType]bool{}
	for _, row := range rows {
		if row.Accepted() {
			accepted++
			if row.Data.License != nil {
				pictures++
			}
			if row.Data.AdminOpenID == "" && row.Number < 11 {
				t.Errorf("row %d has no admin OpenId", row.Number)
			}
			for _, s := range row.Data.Services {
				services[s] = true
			}
		} else {
			rejected++
			got[row.Number] = row.Errors[0].Field
			if len(row.Errors) != 1 {
				t.Errorf("row %d has %d errors; each mistake row shows one: %v", row.Number, len(row.Errors), reasons(row))
			}
		}
		if len(row.Warnings) > 0 {
			warned++
			warnedBy[row.Number] = row.Warnings[0].Field
		}
	}
	if accepted != SampleAccepted || rejected != SampleRejected {
		t.Errorf("accepted %d, rejected %d; want %d and %d", accepted, rejected, SampleAccepted, SampleRejected)
	}
	if pictures < 2 || warned != 3 {
		t.Errorf("%d rows with pictures, %d with warnings", pictures, warned)
	}
	// The group's services are merged down over row 19; row 20 is hidden.
	if warnedBy[19] != WarnMergedCells || warnedBy[20] != WarnHiddenRow {
		t.Errorf("warnings by row %v; want merged cells on row 19 and a hidden row 20", warnedBy)
	}
	for _, row := range rows {
		if row.Number == 19 && fmt.Sprint(row.Data.Services) != "[AUTO_SIGN MOBILE_CHECK_APPROVER]" {
			t.Errorf("row 19 services %v; want those of the merged cell", row.Data.Services)
		}
	}
	for _, s := range []onboard.ServiceType{onboard.ServiceAutoSign, onboard.ServiceDownloadFlow, onboard.ServiceMobileCheckApprover} {
		if !services[s] {
			t.Errorf("no sample row requests %s", s)
		}
	}
	want := map[int]string{
		12: onboard.FieldCreditCode,
		13: onboard.FieldLegalIDCardNumber,
		14: onboard.FieldExtendedServices,
		15: onboard.FieldOpenID,
		16: onboard.FieldName,
		17: onboard.FieldLegalIDCardType,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rejected rows and fields (-want +got):\n%s", diff)
	}
	for _, row := range rows {
		if row.Number == 13 && !strings.Contains(row.Errors[0].Reason, "format the column as Text") {
			t.Errorf("numeric ID reason: %q", row.Errors[0].Reason)
		}
	}
	// The title, the note column and the notes are in the sample's language.
	f, err := excelize.OpenFile(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sheet := TemplateSheetIn(lang)
	title, _ := f.GetCellValue(sheet, "A1")
	noteHead, _ := f.GetCellValue(sheet, "K2")
	note12, _ := f.GetCellValue(sheet, "K12")
	want12 := map[string][3]string{
		locale.English: {"onboard sample: a list of companies", "Note", "Mistake: the check character of the unified social credit code is wrong"},
		locale.Chinese: {"onboard 示例：子企业批量开通名单", "说明", "错误：统一社会信用代码校验位不对"},
	}[lang]
	if !strings.HasPrefix(title, want12[0]) || noteHead != want12[1] || note12 != want12[2] {
		t.Errorf("%s sample: title %q, note column %q, note of row 12 %q", lang, title, noteHead, note12)
	}
}

func TestTemplateImportsCleanly(t *testing.T) {
	t.Parallel()
	for _, lang := range locale.Langs {
		t.Run(lang, func(t *testing.T) {
			t.Parallel()
			testTemplate(t, lang)
		})
	}
}

func testTemplate(t *testing.T, lang string) {
	TemplateSheet := TemplateSheetIn(lang)
	p := writeTo(t, "template.xlsx", func(w io.Writer) error { return WriteTemplateIn(w, lang) })
	r, rows := readAll(t, p, Options{})
	if r.Sheet() != TemplateSheet || r.HeaderRow() != 2 {
		t.Errorf("sheet %q header row %d", r.Sheet(), r.HeaderRow())
	}
	for i, h := range r.Headers() {
		if f, _ := MatchHeader(h); f != templateColumns[i].field {
			t.Errorf("header %q matches %q; want %q", h, f, templateColumns[i].field)
		}
	}
	if len(rows) != 1 || !rows[0].Accepted() || len(rows[0].Warnings) != 0 {
		t.Fatalf("rows: %d; first: %v", len(rows), reasons(rows[0]))
	}
	if d := rows[0].Data; d.OpenID != "demo-org-001" || len(d.Services) != 2 || d.LegalIDCardNumber == "" || d.CreditCode == "" {
		t.Errorf("example row data %+v", d)
	}

	f, err := excelize.OpenFile(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Identifier columns are text, so Excel keeps what is typed.
	for _, cell := range []string{"A3", "C3", "F3", "I3", "C500", "F500"} {
		style, err := f.GetCellStyle(TemplateSheet, cell)
		if err != nil {
			t.Fatal(err)
		}
		st, err := f.GetStyle(style)
		if err != nil {
			t.Fatal(err)
		}
		if st.NumFmt != 49 {
			t.Errorf("%s has number format %d; want 49 (@, text)", cell, st.NumFmt)
		}
	}
	dvs, err := f.GetDataValidations(TemplateSheet)
	if err != nil {
		t.Fatal(err)
	}
	lists := map[string]string{}
	for _, dv := range dvs {
		lists[dv.Sqref[:1]] = dv.Formula1
	}
	if !strings.Contains(lists["E"], "ID_CARD") || !strings.Contains(lists["J"], "AUTO_SIGN") || !strings.Contains(lists["J"], "HIDE_OPERATOR_DISPLAY") {
		t.Errorf("drop-down lists: %v", lists)
	}
	comments, err := f.GetComments(TemplateSheet)
	if err != nil {
		t.Fatal(err)
	}
	if len(comments) != len(templateColumns) {
		t.Errorf("%d notes; want one per column (%d)", len(comments), len(templateColumns))
	}
	// The notes and the instructions are in the template's language; the
	// services note lists every service.
	required := map[string]string{locale.English: "Required.", locale.Chinese: "必填。"}[lang]
	for _, c := range comments {
		text := ""
		for _, run := range c.Paragraph {
			text += run.Text
		}
		if c.Cell == "A2" && !strings.Contains(text, required) {
			t.Errorf("%s note of A2: %q", lang, text)
		}
		if c.Cell == "J2" && !strings.Contains(text, "HIDE_OPERATOR_DISPLAY") {
			t.Errorf("%s services note lists no services: %q", lang, text)
		}
	}
	howTo := map[string]string{locale.English: "How to fill in:", locale.Chinese: "填写说明："}[lang]
	if a1, _ := f.GetCellValue(TemplateSheet, "A1"); !strings.HasPrefix(a1, howTo) {
		t.Errorf("%s instructions %q", lang, a1)
	}
	// Every service option of the drop-down list reads as that service.
	for _, s := range onboard.ServiceTypes {
		got, unknown := ParseServices(string(s) + " " + ServiceChineseName(s))
		if len(unknown) > 0 || len(got) != 1 || got[0] != s {
			t.Errorf("option for %s reads as %v %v", s, got, unknown)
		}
	}
}

func TestGenerateBenchFile(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "bench.xlsx")
	if err := GenerateBenchFile(p, 500); err != nil {
		t.Fatal(err)
	}
	r, rows := readAll(t, p, testOpts())
	if len(rows) != 500 || r.EstimatedRows() != 500 {
		t.Fatalf("%d rows, estimated %d", len(rows), r.EstimatedRows())
	}
	for _, row := range rows {
		if !row.Accepted() {
			t.Fatalf("row %d rejected: %v", row.Number, reasons(row))
		}
	}
}

// readRows reads every row of a file and reports the peak heap in use, sampled
// every 1000 rows after a collection.
func readRows(b testing.TB, path string) (n int, peak uint64) {
	r, err := Open(path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	var ms runtime.MemStats
	for {
		_, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		n++
		if n%1000 == 0 {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}
	}
	return n, peak
}

// benchRows is the size of the benchmark file; BENCH_ROWS overrides it.
func benchRows() int {
	n := 100000
	if s := os.Getenv("BENCH_ROWS"); s != "" {
		var v int
		for _, c := range s {
			if c < '0' || c > '9' {
				return n
			}
			v = v*10 + int(c-'0')
		}
		n = v
	}
	return n
}

var benchFile struct {
	dir  string
	path string
	rows int
}

func TestMain(m *testing.M) {
	code := m.Run()
	if toolsDir != "" {
		os.RemoveAll(toolsDir)
	}
	if benchFile.dir != "" {
		os.RemoveAll(benchFile.dir)
	}
	os.Exit(code)
}

func benchPath(b *testing.B) string {
	b.Helper()
	if benchFile.path == "" {
		dir, err := os.MkdirTemp("", "importer-bench-")
		if err != nil {
			b.Fatal(err)
		}
		benchFile.dir = dir
		benchFile.rows = benchRows()
		benchFile.path = filepath.Join(dir, "bench.xlsx")
		start := time.Now()
		if err := GenerateBenchFile(benchFile.path, benchFile.rows); err != nil {
			b.Fatal(err)
		}
		b.Logf("generated %d rows in %v", benchFile.rows, time.Since(start))
	}
	return benchFile.path
}

// BenchmarkExcelizeRows is the floor: excelize's streaming iterator alone.
func BenchmarkExcelizeRows(b *testing.B) {
	path := benchPath(b)
	b.ResetTimer()
	for b.Loop() {
		f, err := excelize.OpenFile(path)
		if err != nil {
			b.Fatal(err)
		}
		rows, err := f.Rows("Sheet1")
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for rows.Next() {
			if _, err := rows.Columns(); err != nil {
				b.Fatal(err)
			}
			n++
		}
		rows.Close()
		f.Close()
		if n < benchFile.rows {
			b.Fatalf("read %d rows", n)
		}
	}
	b.ReportMetric(float64(benchFile.rows), "rows/op")
}

// BenchmarkImport is Open and Next over the whole file, with every rule.
func BenchmarkImport(b *testing.B) {
	path := benchPath(b)
	b.ResetTimer()
	var peak uint64
	for b.Loop() {
		n, p := readRows(b, path)
		if n != benchFile.rows {
			b.Fatalf("read %d rows", n)
		}
		peak = max(peak, p)
	}
	b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(benchFile.rows), "rows/op")
}
