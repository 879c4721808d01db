package importer

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ess-onboard/onboard"
	"github.com/xuri/excelize/v2"
)

func TestImagesInFolder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	imgs := filepath.Join(dir, "imgs")
	os.MkdirAll(filepath.Join(imgs, "a"), 0o755)
	os.MkdirAll(filepath.Join(imgs, "b", "deep"), 0o755)
	one, two := testPNG(t, 1), testPNG(t, 2)
	os.WriteFile(filepath.Join(imgs, "a", "one.png"), one, 0o644)
	os.WriteFile(filepath.Join(imgs, "b", "deep", "two.jpg"), two, 0o644) // a PNG named .jpg
	os.WriteFile(filepath.Join(imgs, "a", "same.png"), one, 0o644)
	os.WriteFile(filepath.Join(imgs, "b", "same.png"), two, 0o644)
	path := writeBook(t, dir, "names.xlsx", [][]any{
		stdHeaders,
		{"o1", "A", "", "", "", "", "", "a/one.png"},
		{"o2", "B", "", "", "", "", "", "two.jpg"},
		{"o3", "C", "", "", "", "", "", `C:\Users\me\Desktop\one.png`},
		{"o4", "D", "", "", "", "", "", "same.png"},
		{"o5", "E", "", "", "", "", "", "b/same.png"},
		{"o6", "F", "", "", "", "", "", "missing.png"},
		{"o7", "G", "", "", "", "", "", "../names.xlsx"},
	}, nil)
	_, rows := readAll(t, path, Options{ImagesDir: imgs, Now: testOpts().Now})
	if len(rows) != 7 {
		t.Fatalf("got %d rows", len(rows))
	}
	wantImg := map[int][]byte{2: one, 3: two, 4: one, 6: two}
	wantErr := map[int]string{5: `matches 2 files in the images folder (a/same.png, b/same.png)`, 7: `"missing.png" is not in the images folder`, 8: "not in the images folder"}
	for _, row := range rows {
		got := strings.Join(reasons(row), "; ")
		if w, ok := wantErr[row.Number]; ok {
			if !strings.Contains(got, w) {
				t.Errorf("row %d: %q; want %q", row.Number, got, w)
			}
			continue
		}
		if !row.Accepted() {
			t.Errorf("row %d rejected: %s", row.Number, got)
			continue
		}
		if lic := row.Data.License; lic == nil || !bytes.Equal(lic.Data, wantImg[row.Number]) || lic.MIME != "image/png" {
			t.Errorf("row %d: license %s", row.Number, describe(lic))
		}
	}
	// Without an images folder a bare .xlsx cannot name files.
	_, rows = readAll(t, path, testOpts())
	if got := strings.Join(reasons(rows[0]), ""); !strings.Contains(got, "upload a .zip") {
		t.Errorf("no folder: %q", got)
	}
}

// writeUploadZip writes a zip holding a workbook and other files.
func writeUploadZip(t *testing.T, path string, files map[string][]byte) {
	t.Helper()
	writeZip(t, path, files)
}

func TestZipUpload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	one, two := testPNG(t, 1), testJPEG(t)
	book := writeBook(t, dir, "book.xlsx", [][]any{
		{"批量开通"},
		stdHeaders,
		{"o1", "A", "", "", "", "", "", "images/one.png"},
		{"o2", "B", "", "", "", "", "", "two.jpeg"},
		{"o3", "C", "", "", "", "", "", "pics/one.png"},
	}, nil)
	bookBytes, _ := os.ReadFile(book)
	zipPath := filepath.Join(dir, "upload.zip")
	writeUploadZip(t, zipPath, map[string][]byte{
		"batch/book.xlsx":                  bookBytes,
		"batch/images/one.png":             one,
		"batch/images/scans/2025/two.jpeg": two,
		"other/pics/one.png":               one,
		"__MACOSX/batch/._book.xlsx":       []byte("junk"),
		"batch/~$book.xlsx":                []byte("lock"),
	})
	r, rows := readAll(t, zipPath, testOpts())
	if r.FileName() != "upload.zip" || r.HeaderRow() != 2 {
		t.Errorf("file %q header %d", r.FileName(), r.HeaderRow())
	}
	want := [][]byte{one, two, one}
	if len(rows) != 3 {
		t.Fatalf("got %d rows", len(rows))
	}
	for i, row := range rows {
		if !row.Accepted() || row.Data.License == nil || !bytes.Equal(row.Data.License.Data, want[i]) {
			t.Errorf("row %d: %v %s", row.Number, reasons(row), describe(row.Data.License))
		}
	}
}

func TestRefusedFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := writeBook(t, dir, "good.xlsx", [][]any{{"企业标识", "企业名称"}, {"a", "A"}}, nil)
	goodBytes, _ := os.ReadFile(good)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	zipOf := func(name string, files map[string][]byte) string {
		p := filepath.Join(dir, name)
		writeZip(t, p, files)
		return p
	}
	// A zip bomb: 8 MiB of zeros compress to a few KiB.
	bomb := filepath.Join(dir, "bomb.xlsx")
	{
		parts := readZip(t, good)
		parts["xl/media/padding.bin"] = make([]byte, 8<<20)
		writeZip(t, bomb, parts)
	}
	// A workbook declaring a part of 4 GiB.
	huge := filepath.Join(dir, "huge.xlsx")
	writeRawZip(t, huge, good, "xl/media/huge.bin", 4<<30, make([]byte, 1<<10))
	// A workbook whose sheet inflates beyond the size it declares.
	liar := filepath.Join(dir, "liar.xlsx")
	{
		parts := readZip(t, good)
		sheet := parts["xl/worksheets/sheet1.xml"]
		delete(parts, "xl/worksheets/sheet1.xml")
		writeZip(t, liar, parts)
		padded := append(bytes.Replace(sheet, []byte("<sheetData>"), append([]byte("<sheetData>"), bytes.Repeat([]byte("<!-- -->"), 1<<17)...), 1), ' ')
		writeRawZip(t, liar, liar, "xl/worksheets/sheet1.xml", uint64(len(sheet)), padded)
	}
	encrypted := func() string {
		f, _ := excelize.OpenFile(good)
		defer f.Close()
		p := filepath.Join(dir, "secret.xlsx")
		if err := f.SaveAs(p, excelize.Options{Password: "pw"}); err != nil {
			t.Fatal(err)
		}
		return p
	}()
	noHeader := writeBook(t, dir, "noheader.xlsx", [][]any{
		{"title"}, nil, nil, nil, nil, nil, nil, nil, nil, nil, {"企业标识", "企业名称"}, {"a", "A"},
	}, nil)
	halfHeader := writeBook(t, dir, "half.xlsx", [][]any{{"企业标识", "名称"}, {"a", "A"}}, nil)
	twoNames := writeBook(t, dir, "two.xlsx", [][]any{{"企业标识", "企业名称", "OrganizationName"}}, nil)
	docx := zipOf("letter.xlsx", map[string][]byte{"[Content_Types].xml": []byte("<Types/>"), "word/document.xml": []byte("<w/>")})

	for _, tc := range []struct {
		name   string
		path   string
		opts   Options
		reason string
	}{
		{"OverSize", good, Options{MaxFileSize: 1000}, "more than the 0.0 MiB allowed"},
		{"Empty", write("empty.xlsx", nil), Options{}, "is empty"},
		{"NotZip", write("table.xlsx", []byte("name,id\na,b\n")), Options{}, "not an .xlsx workbook or a .zip"},
		{"Encrypted", encrypted, Options{}, "password-protected"},
		{"Corrupt", write("cut.xlsx", goodBytes[:len(goodBytes)/2]), Options{}, "damaged"},
		{"ZipBomb", bomb, Options{MaxUnzipSize: 4 << 20}, "would expand to more than 4.0 MiB"},
		{"ZipBombDefaultLimit", huge, Options{}, "would expand to more than 1024 MiB"},
		{"SizeLie", liar, Options{}, "damaged"},
		{"ZipNoBook", zipOf("none.zip", map[string][]byte{"a.png": testPNG(t, 1)}), Options{}, "holds no .xlsx workbook"},
		{"ZipTwoBooks", zipOf("twobooks.zip", map[string][]byte{"a.xlsx": goodBytes, "b/b.xlsx": goodBytes}), Options{}, "holds 2 .xlsx workbooks (a.xlsx, b/b.xlsx)"},
		{"ZipBadBook", zipOf("badbook.zip", map[string][]byte{"a.xlsx": []byte("nope")}), Options{}, "not a valid .xlsx"},
		{"NoSuchSheet", good, Options{Sheet: "Companies"}, `no sheet named "Companies" in the workbook; its sheets are "Sheet1"`},
		{"NoHeader", noHeader, Options{}, "none of the first 10 rows"},
		{"HalfHeader", halfHeader, Options{}, "row 1 looks like the header row but has no 企业名称 (ProxyOrganizationName) column"},
		{"TwoNameColumns", twoNames, Options{}, "two columns for ProxyOrganizationName: B"},
		{"Word", docx, Options{}, "Word document"},
		{"Folder", dir, Options{}, "is a folder"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := openErr(t, tc.path, tc.opts)
			if !strings.Contains(got, tc.reason) {
				t.Errorf("reason %q; want %q", got, tc.reason)
			}
		})
	}
	// The default unzip limit lets the bomb's 8 MiB through; it is the
	// limit, not the content, that refuses it.
	if _, rows := readAll(t, bomb, testOpts()); len(rows) != 1 {
		t.Errorf("bomb under the default limit: %d rows", len(rows))
	}
}

// writeRawZip writes dst as a copy of the zip src plus one deflated entry
// whose header declares size bytes, whatever data really holds.
func writeRawZip(t *testing.T, dst, src, name string, size uint64, data []byte) {
	t.Helper()
	parts := readZip(t, src)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for n, b := range parts {
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(b)
	}
	var deflated bytes.Buffer
	fw, _ := flate.NewWriter(&deflated, flate.BestCompression)
	fw.Write(data)
	fw.Close()
	w, err := zw.CreateRaw(&zip.FileHeader{Name: name, Method: zip.Deflate, CRC32: crc32.ChecksumIEEE(data),
		CompressedSize64: uint64(deflated.Len()), UncompressedSize64: size})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(deflated.Bytes())
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestZipBombInsideUpload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := writeBook(t, dir, "good.xlsx", [][]any{{"企业标识", "企业名称"}, {"a", "A"}}, nil)
	b, _ := os.ReadFile(good)
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("book.xlsx")
	w.Write(b)
	w, _ = zw.Create("zeros.png")
	w.Write(make([]byte, 8<<20))
	zw.Close()
	p := filepath.Join(dir, "bomb.zip")
	os.WriteFile(p, buf.Bytes(), 0o644)
	if got := openErr(t, p, Options{MaxUnzipSize: 4 << 20}); !strings.Contains(got, "would expand") {
		t.Errorf("reason %q", got)
	}
}

func TestSheetChoice(t *testing.T) {
	t.Parallel()
	path := writeBook(t, t.TempDir(), "sheets.xlsx", [][]any{{"说明"}}, func(f *excelize.File) {
		f.NewSheet("Hidden")
		f.SetSheetRow("Hidden", "A1", &[]any{"企业标识", "企业名称"})
		f.SetSheetRow("Hidden", "A2", &[]any{"h", "H"})
		f.SetSheetVisible("Hidden", false)
		f.NewSheet("Data")
		f.SetSheetRow("Data", "A1", &[]any{"企业标识", "企业名称"})
		f.SetSheetRow("Data", "A2", &[]any{"d", "D"})
		idx, _ := f.GetSheetIndex("Data")
		f.SetActiveSheet(idx)
		if err := f.SetSheetVisible("Sheet1", false); err != nil {
			t.Fatal(err)
		}
	})
	r, rows := readAll(t, path, testOpts())
	if r.Sheet() != "Data" || len(rows) != 1 || rows[0].Data.OpenID != "d" {
		t.Errorf("default sheet %q, rows %d", r.Sheet(), len(rows))
	}
	r, rows = readAll(t, path, Options{Sheet: "hidden", Now: testOpts().Now})
	if r.Sheet() != "Hidden" || len(rows) != 1 || rows[0].Data.OpenID != "h" {
		t.Errorf("named sheet %q, rows %d", r.Sheet(), len(rows))
	}
}

func TestRowNumbersCountTitleRows(t *testing.T) {
	t.Parallel()
	path := writeBook(t, t.TempDir(), "titles.xlsx", [][]any{
		{"2025 年子企业开通名单"}, {"请勿修改表头"}, nil, {"", "子客企业标识*", "企业名称＊"}, nil, {"", "x", ""},
	}, func(f *excelize.File) {
		f.MergeCell("Sheet1", "A1", "D1")
		f.SetSheetDimension("Sheet1", "A1:D6")
	})
	r, rows := readAll(t, path, testOpts())
	if r.HeaderRow() != 4 || len(rows) != 1 {
		t.Fatalf("header %d rows %d", r.HeaderRow(), len(rows))
	}
	want := onboard.RowError{Row: 6, Column: "企业名称＊", Field: onboard.FieldName, Code: "name.empty"}
	got := rows[0].Errors[0]
	got.Reason = ""
	if !reflect.DeepEqual(got, want) {
		t.Errorf("error %+v; want %+v", got, want)
	}
	if r.EstimatedRows() != 2 {
		t.Errorf("EstimatedRows = %d; want 2", r.EstimatedRows())
	}
}

// FuzzSheetXML puts arbitrary worksheet XML into a valid workbook: Open and
// Next must either read rows or refuse the file with a *FileError, never
// panic or return another kind of error.
func FuzzSheetXML(f *testing.F) {
	dir := f.TempDir()
	good := writeBook(f, dir, "good.xlsx", [][]any{{"企业标识", "企业名称", "营业执照"}, {"a", "A", "x.png"}, {"b", "B", 12}}, nil)
	parts := readZip(f, good)
	f.Add(string(parts["xl/worksheets/sheet1.xml"]))
	f.Add(`<worksheet><sheetData><row r="1"><c t="inlineStr"><is><t>企业标识</t></is></c><c t="inlineStr"><is><t>企业名称</t></is></c></row><row r="3"><c r="A3" t="str"><v>x</v></c><c r="B3" t="e" vm="7"><v>#VALUE!</v></c></row></sheetData></worksheet>`)
	f.Add(`<worksheet><sheetData><row r="2"/><row r="1"></row></sheetData></worksheet>`)
	f.Add(`<worksheet><dimension ref="A1:C99999999"/><sheetData><row><c r="ZZZZ1"/></row></sheetData>`)
	f.Add(`<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><x:sheetData><x:row r="1"><x:c t="inlineStr"><x:is><x:t>企业标识</x:t></x:is></x:c><x:c t="inlineStr"><x:is><x:t>企业名称</x:t></x:is></x:c><x:c t="inlineStr"><x:is><x:t>营业执照</x:t></x:is></x:c></x:row><x:row r="2"><x:c t="str"><x:f>_xlfn.DISPIMG("ID_1",1)</x:f></x:c></x:row></x:sheetData></x:worksheet>`)
	n := 0
	f.Fuzz(func(t *testing.T, sheet string) {
		n++
		p := filepath.Join(t.TempDir(), fmt.Sprintf("f%d.xlsx", n))
		parts["xl/worksheets/sheet1.xml"] = []byte(sheet)
		writeZip(t, p, parts)
		r, err := Open(p, Options{Now: testOpts().Now})
		var fe *FileError
		if err != nil {
			if !errors.As(err, &fe) {
				t.Fatalf("Open: %T %v", err, err)
			}
			return
		}
		defer r.Close()
		last := r.HeaderRow()
		for {
			row, err := r.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				if !errors.As(err, &fe) {
					t.Fatalf("Next: %T %v", err, err)
				}
				return
			}
			if row.Number <= last || len(row.Cells) != len(r.Headers()) {
				t.Fatalf("row %d after %d with %d cells for %d headers", row.Number, last, len(row.Cells), len(r.Headers()))
			}
			last = row.Number
		}
	})
}

func TestCloseRemovesTemporaryFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	book := writeBook(t, dir, "b.xlsx", [][]any{{"企业标识", "企业名称"}, {"a", "A"}}, nil)
	b, _ := os.ReadFile(book)
	zipPath := filepath.Join(dir, "b.zip")
	writeZip(t, zipPath, map[string][]byte{"b.xlsx": b})
	for _, p := range []string{book, zipPath} {
		r, err := Open(p, testOpts())
		if err != nil {
			t.Fatal(err)
		}
		tmp := r.tmpDir
		if _, err := os.Stat(tmp); err != nil {
			t.Fatalf("temporary folder: %v", err)
		}
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if _, err := os.Stat(tmp); !os.IsNotExist(err) {
			t.Errorf("%s still exists after Close (%v)", tmp, err)
		}
		if _, err := r.Next(); err == nil {
			t.Errorf("Next after Close succeeded")
		}
	}
}
