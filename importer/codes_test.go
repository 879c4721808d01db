package importer

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/internal/hostile"
	"github.com/ess-onboard/onboard/locale"
)

// Every code docs/reason-codes.md lists is produced by a row or a file of
// TestReasonCodes, every code the importer's source can produce is listed
// there and in both catalogues, and every reason produced renders in
// Chinese without a missing parameter or an English sentence.

var updateDocs = flag.Bool("update-docs", false, "rewrite docs/reason-codes.md and docs/reason-codes.zh-CN.md from the codes produced")

// produced is one reason a file came to.
type produced struct {
	kind   string // refusal, rejection or warning
	code   string
	params map[string]string
	text   string // the English text
}

// collect opens and reads a file and returns every refusal, rejection and
// warning it comes to.
func collect(t *testing.T, path string, opts Options) []produced {
	t.Helper()
	if opts.Now == nil {
		opts.Now = testOpts().Now
	}
	var out []produced
	refusal := func(err error) {
		var fe *FileError
		if !errors.As(err, &fe) {
			t.Fatalf("%s: %v; want a refusal or rows", filepath.Base(path), err)
		}
		out = append(out, produced{"refusal", fe.Code, fe.Params, fe.Reason})
	}
	r, err := Open(path, opts)
	if err != nil {
		refusal(err)
		return out
	}
	defer r.Close()
	for {
		row, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			refusal(err)
			return out
		}
		out = append(out, rowReasons(row)...)
	}
}

func rowReasons(row *onboard.Row) []produced {
	var out []produced
	for _, e := range row.Errors {
		out = append(out, produced{"rejection", e.Code, e.Params, e.Reason})
	}
	for _, w := range row.Warnings {
		out = append(out, produced{"warning", w.Code, w.Params, w.Message})
	}
	return out
}

// book writes a workbook of stdHeaders and rows, edited by edit.
func book(rows [][]any, edit func(f *excelize.File)) func(t *testing.T, dir string) (string, Options) {
	return func(t *testing.T, dir string) (string, Options) {
		return writeBook(t, dir, "book.xlsx", append([][]any{stdHeaders}, rows...), edit), Options{}
	}
}

// file writes data as the upload.
func file(name string, data []byte) func(t *testing.T, dir string) (string, Options) {
	return func(t *testing.T, dir string) (string, Options) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p, Options{}
	}
}

// rawZip writes a zip of the entries in order; an entry whose name starts
// with "stored:" is stored with an unknown compression method, so that
// opening it fails.
func rawZip(t *testing.T, path string, entries ...[2]string) {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, e := range entries {
		if name, ok := strings.CutPrefix(e[0], "stored:"); ok {
			w, err := zw.CreateRaw(&zip.FileHeader{Name: name, Method: 99, CompressedSize64: uint64(len(e[1])), UncompressedSize64: uint64(len(e[1]))})
			if err != nil {
				t.Fatal(err)
			}
			w.Write([]byte(e[1]))
			continue
		}
		w, err := zw.Create(e[0])
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, e[1])
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// small is a workbook of one valid row.
func small(t *testing.T, dir, name string) string {
	return writeBook(t, dir, name, [][]any{stdHeaders, {"org-1", "甲公司"}}, nil)
}

// edited writes a small workbook and lets edit change its parts.
func edited(edit func(t *testing.T, parts map[string][]byte)) func(t *testing.T, dir string) (string, Options) {
	return func(t *testing.T, dir string) (string, Options) {
		p := small(t, dir, "book.xlsx")
		rewriteBook(t, p, func(parts map[string][]byte) { edit(t, parts) })
		return p, Options{}
	}
}

// withPicture writes a workbook whose row 2 has a picture in the license
// column, and lets edit change its parts.
func withPicture(edit func(t *testing.T, parts map[string][]byte)) func(t *testing.T, dir string) (string, Options) {
	return func(t *testing.T, dir string) (string, Options) {
		p := writeBook(t, dir, "pic.xlsx", [][]any{stdHeaders, {"org-1", "甲公司"}}, func(f *excelize.File) {
			if err := f.AddPictureFromBytes("Sheet1", "H2", &excelize.Picture{Extension: ".png", File: testPNG(t, 1)}); err != nil {
				t.Fatal(err)
			}
		})
		if edit != nil {
			rewriteBook(t, p, func(parts map[string][]byte) { edit(t, parts) })
		}
		return p, Options{}
	}
}

// replacePart replaces old by new in a part, which must hold it.
func replacePart(t *testing.T, parts map[string][]byte, part, old, new string) {
	t.Helper()
	if !bytes.Contains(parts[part], []byte(old)) {
		t.Fatalf("%s holds no %q", part, old)
	}
	parts[part] = bytes.Replace(parts[part], []byte(old), []byte(new), 1)
}

// sheetXML is a worksheet holding the given rows XML.
func sheetXML(rows string) []byte {
	return []byte(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>` + rows + `</sheetData></worksheet>`)
}

const headerRowXML = `<row r="1"><c r="A1" t="inlineStr"><is><t>子客企业标识</t></is></c><c r="B1" t="inlineStr"><is><t>企业名称</t></is></c></row>`

// folder writes files into an images folder and a workbook naming them.
func folder(files map[string][]byte, names ...string) func(t *testing.T, dir string) (string, Options) {
	return func(t *testing.T, dir string) (string, Options) {
		imgs := filepath.Join(dir, "imgs")
		for n, b := range files {
			p := filepath.Join(imgs, filepath.FromSlash(n))
			os.MkdirAll(filepath.Dir(p), 0o755)
			if b == nil {
				// A sparse file larger than a license picture may be.
				f, err := os.Create(p)
				if err != nil {
					t.Fatal(err)
				}
				f.Truncate(MaxImageSize + 1)
				f.Close()
				continue
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		rows := [][]any{stdHeaders}
		for i, n := range names {
			rows = append(rows, []any{fmt.Sprintf("org-%d", i), "甲公司", "", "", "", "", "", n})
		}
		return writeBook(t, dir, "names.xlsx", rows, nil), Options{ImagesDir: imgs}
	}
}

// zipEOCD is a file that starts as a zip and ends with an end record
// declaring entries entries and a directory of dirSize bytes (zip64 when
// entries do not fit 16 bits).
func zipEOCD(entries, dirSize uint64) []byte {
	le := binary.LittleEndian
	b := append([]byte("PK\x03\x04"), make([]byte, 60)...)
	if entries > 0xFFFF {
		rec := make([]byte, 56)
		le.PutUint32(rec, 0x06064b50)
		le.PutUint64(rec[4:], 44)
		le.PutUint64(rec[24:], entries)
		le.PutUint64(rec[32:], entries)
		le.PutUint64(rec[40:], dirSize)
		at := uint64(len(b))
		b = append(b, rec...)
		loc := make([]byte, 20)
		le.PutUint32(loc, 0x07064b50)
		le.PutUint64(loc[8:], at)
		le.PutUint32(loc[16:], 1)
		b = append(b, loc...)
		entries, dirSize = 0xFFFF, 0xFFFFFFFF
	}
	end := make([]byte, 22)
	le.PutUint32(end, 0x06054b50)
	le.PutUint16(end[8:], uint16(entries))
	le.PutUint16(end[10:], uint16(entries))
	le.PutUint32(end[12:], uint32(dirSize))
	if dirSize == 0xFFFFFFFF {
		le.PutUint32(end[16:], 0xFFFFFFFF)
	}
	return append(b, end...)
}

type codeCase struct {
	name  string
	codes []string // the codes the case must produce (it may produce others)
	build func(t *testing.T, dir string) (string, Options)
	// direct, instead of build, produces reasons by calling the check itself,
	// for reasons a file cannot be made to come to on demand.
	direct func(t *testing.T) []produced
}

func codeCases(t *testing.T) []codeCase {
	long := func(n int) string { return strings.Repeat("长", n) }
	fullWidth := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' {
				return r + 0xFEE0
			}
			return r
		}, s)
	}
	row := func(vals ...any) []any { return vals }
	return []codeCase{
		{name: "values", codes: []string{
			"open_id.empty", "open_id.stored_as_number", "open_id.too_long", "open_id.invisible_char", "open_id.duplicate",
			"name.empty", "name.too_long", "name.line_breaks", "name.half_width_brackets",
			"credit_code.full_width", "credit_code.stored_as_number", "credit_code.length", "credit_code.bad_char", "credit_code.check_char",
			"legal_name.line_breaks", "id_card_type.unknown",
			"id_number.full_width", "id_number.stored_as_number", "id_number.length", "id_number.last_char", "id_number.bad_char",
			"id_number.birth_date", "id_number.birth_range", "id_number.check_char",
			"address.line_breaks", "address.too_long",
			"admin_open_id.stored_as_number", "admin_open_id.too_long", "admin_open_id.invisible_char",
			"services.unknown", "row.invisible_chars",
		}, build: book([][]any{
			row("", "甲公司"),
			row(1234567890123456789.0, "乙公司"),
			row(strings.Repeat("x", 65), "丙公司"),
			row("a b", "丁公司"),
			row("dup", "戊公司"),
			row("dup", "己公司"),
			row("n1", ""),
			row("n2", long(201)),
			row("n3", "甲\n公司(北京)"),
			row("c1", "甲公司", fullWidth(uscc1)),
			row("c2", "甲公司", 913501001000100.0),
			row("c3", "甲公司", "123"),
			row("c4", "甲公司", "91350100M000100YO3"),
			row("c5", "甲公司", uscc1[:17]+"4"),
			row("l1", "甲公司", "", "张\n三", "护照"),
			row("i1", "甲公司", "", "", "", fullWidth(id1)),
			row("i2", "甲公司", "", "", "", 110105194912310000.0),
			row("i3", "甲公司", "", "", "", "123"),
			row("i4", "甲公司", "", "", "", "11010519491231002Y"),
			row("i5", "甲公司", "", "", "", "1101051949123100AX"),
			row("i6", "甲公司", "", "", "", "110105194913310021"),
			row("i7", "甲公司", "", "", "", "110105170001010010"),
			row("i8", "甲公司", "", "", "", "110105194912310021"),
			row("a1", "甲公司", "", "", "", "", "厦门市\n思明区"),
			row("a2", "甲公司", "", "", "", "", long(501)),
			row("m1", "甲公司", "", "", "", "", "", "", 1234567890123456789.0),
			row("m2", "甲公司", "", "", "", "", "", "", strings.Repeat("m", 65)),
			row("m3", "甲公司", "", "", "", "", "", "", "a\tb"),
			row("s1", "甲公司", "", "", "", "", "", "", "", "FLY_TO_MOON"),
			row("z1", "甲\u200b公司"),
		}, nil)},
		{name: "control characters", codes: []string{"name.control_char", "legal_name.control_char", "address.control_char"},
			direct: func(t *testing.T) []produced {
				row := checkRow(2, []string{"企业标识", "企业名称", "法定代表人", "企业地址"},
					[]string{onboard.FieldOpenID, onboard.FieldName, onboard.FieldLegalName, onboard.FieldAddress},
					[]cellValue{{text: "o"}, {text: "甲\x01公司"}, {text: "张\x02三"}, {text: "厦门\x03市"}}, testNow)
				return rowReasons(row)
			}},
		{name: "cells", codes: []string{"cell.excel_error", "cell.formula_not_calculated", "cell.date", "license.excel_error"},
			build: func(t *testing.T, dir string) (string, Options) {
				p := writeBook(t, dir, "cells.xlsx", [][]any{stdHeaders,
					{"e1", "x"}, {"e2", "甲公司", "", "", "", "", "", "x"}, {"e3", "甲公司", "", "", "", "", "x"},
				}, nil)
				rewriteBook(t, p, func(parts map[string][]byte) {
					replaceCell(t, parts, "B2", `<c r="B2" t="e"><v>#N/A</v></c>`)
					replaceCell(t, parts, "H3", `<c r="H3" t="e"><v>#REF!</v></c>`)
					replaceCell(t, parts, "G4", `<c r="G4" t="d"><v>2025-01-02T00:00:00</v></c><c r="I4"><f>A1&amp;B1</f></c>`)
				})
				return p, Options{}
			}},
		{name: "merges, hidden rows, long rows", codes: []string{"open_id.merged", "name.merged", "row.merged_cells", "row.hidden", "row.too_much_text"},
			build: func(t *testing.T, dir string) (string, Options) {
				return writeBook(t, dir, "merges.xlsx", [][]any{stdHeaders,
					{"g1", "甲公司", "", "", "", "", "", "", "", "AUTO_SIGN"},
					{"", "乙公司"},
					{"g3", "丙公司"},
					{"g4", ""},
					{"g5", "丁公司", "", "", "", "", strings.Repeat("长", 200)},
				}, func(f *excelize.File) {
					f.MergeCell("Sheet1", "J2", "J3")
					f.MergeCell("Sheet1", "A2", "A3")
					f.MergeCell("Sheet1", "B4", "B5")
					f.SetRowVisible("Sheet1", 6, false)
				}), Options{MaxRowText: 300}
			}},
		{name: "two pictures", codes: []string{"license.many_pictures"},
			build: func(t *testing.T, dir string) (string, Options) {
				return writeBook(t, dir, "two.xlsx", [][]any{stdHeaders, {"org-1", "甲公司"}}, func(f *excelize.File) {
					f.AddPictureFromBytes("Sheet1", "H2", &excelize.Picture{Extension: ".png", File: testPNG(t, 1)})
					f.AddPictureFromBytes("Sheet1", "H2", &excelize.Picture{Extension: ".png", File: testPNG(t, 2)})
				}), Options{}
			}},
		{name: "linked picture", codes: []string{"license.linked_picture"},
			build: withPicture(func(t *testing.T, parts map[string][]byte) {
				replacePart(t, parts, "xl/drawings/_rels/drawing1.xml.rels", `Target="../media/image1.png"`, `Target="file:///C:/scans/license.png" TargetMode="External"`)
			})},
		{name: "missing picture", codes: []string{"license.picture_missing"},
			build: withPicture(func(t *testing.T, parts map[string][]byte) { delete(parts, "xl/media/image1.png") })},
		{name: "unreadable picture", codes: []string{"license.picture_unreadable"},
			build: func(t *testing.T, dir string) (string, Options) {
				p, _ := withPicture(nil)(t, dir)
				parts := readZip(t, p)
				var entries [][2]string
				for n, b := range parts {
					if n == "xl/media/image1.png" {
						n = "stored:" + n
					}
					entries = append(entries, [2]string{n, string(b)})
				}
				sort.Slice(entries, func(i, j int) bool { return entries[i][0] == "[Content_Types].xml" })
				rawZip(t, p, entries...)
				return p, Options{}
			}},
		{name: "pictures by name", codes: []string{"license.not_file_name", "license.file_not_in_folder", "license.ambiguous_name",
			"license.too_large", "license.not_image", "license.wrong_format"},
			build: folder(map[string][]byte{"a/same.png": testPNG(t, 1), "b/same.png": testPNG(t, 2), "big.png": nil,
				"notes.png": []byte("not a picture at all"), "anim.gif": []byte("GIF89a\x01\x00\x01\x00")},
				".", "missing.png", "same.png", "big.png", "notes.png", "anim.gif")},
		{name: "unreadable images folder", codes: []string{"license.folder_unreadable"},
			build: func(t *testing.T, dir string) (string, Options) {
				p := writeBook(t, dir, "names.xlsx", [][]any{stdHeaders, {"o", "甲公司", "", "", "", "", "", "x.png"}}, nil)
				return p, Options{ImagesDir: filepath.Join(dir, "no-such-folder")}
			}},
		{name: "bare workbook naming pictures", codes: []string{"license.no_pictures_beside"},
			build: book([][]any{{"o", "甲公司", "", "", "", "", "", "license.png"}}, nil)},
		{name: "upload with pictures", codes: []string{"license.file_not_in_zip", "license.file_unreadable"},
			build: func(t *testing.T, dir string) (string, Options) {
				b := writeBook(t, dir, "book.xlsx", [][]any{stdHeaders,
					{"o1", "甲公司", "", "", "", "", "", "missing.png"}, {"o2", "乙公司", "", "", "", "", "", "broken.png"}}, nil)
				data, _ := os.ReadFile(b)
				p := filepath.Join(dir, "upload.zip")
				rawZip(t, p, [2]string{"book.xlsx", string(data)}, [2]string{"stored:broken.png", string(testPNG(t, 1))})
				return p, Options{}
			}},
		{name: "upload and images folder", codes: []string{"license.file_not_in_zip_or_folder"},
			build: func(t *testing.T, dir string) (string, Options) {
				b := writeBook(t, dir, "book.xlsx", [][]any{stdHeaders, {"o1", "甲公司", "", "", "", "", "", "missing.png"}}, nil)
				data, _ := os.ReadFile(b)
				p := filepath.Join(dir, "upload.zip")
				rawZip(t, p, [2]string{"book.xlsx", string(data)})
				os.MkdirAll(filepath.Join(dir, "imgs"), 0o755)
				return p, Options{ImagesDir: filepath.Join(dir, "imgs")}
			}},
		{name: "pictures read part-way", codes: []string{"license.unreadable", "license.larger_than"},
			direct: func(t *testing.T) []produced {
				var out []produced
				// A picture whose reading fails, and one larger than its
				// declared size: neither can be put in a file on demand.
				if _, e := readImage(iotestErr{}, 10, imageSource{name: "a.png", in: "zip"}); e != nil {
					out = append(out, produced{"rejection", e.code, e.params, e.text})
				}
				if _, e := readImage(bytes.NewReader(make([]byte, MaxImageSize+10)), -1, imageSource{}); e != nil {
					out = append(out, produced{"rejection", e.code, e.params, e.text})
				}
				return out
			}},

		// Refusals of the file as a whole.
		{name: "upload of another type", codes: []string{CodeUploadType},
			direct: func(t *testing.T) []produced {
				e := NewFileError(CodeUploadType)
				return []produced{{"refusal", e.Code, e.Params, e.Reason}}
			}},
		{name: "folder", codes: []string{"file.folder"}, build: func(t *testing.T, dir string) (string, Options) { return dir, Options{} }},
		{name: "too large", codes: []string{"file.too_large"}, build: func(t *testing.T, dir string) (string, Options) {
			return small(t, dir, "big.xlsx"), Options{MaxFileSize: 1000}
		}},
		{name: "empty", codes: []string{"file.empty"}, build: file("empty.xlsx", nil)},
		{name: "encrypted", codes: []string{"file.encrypted"}, build: file("secret.xlsx", oleFile("EncryptionInfo", "EncryptedPackage"))},
		{name: "xls", codes: []string{"file.ole2_xls"}, build: file("old.xls", oleFile("Workbook"))},
		{name: "et", codes: []string{"file.ole2_et"}, build: file("wps.et", oleFile("Workbook"))},
		{name: "doc", codes: []string{"file.ole2_other"}, build: file("letter.xls", oleFile("WordDocument"))},
		{name: "empty zip", codes: []string{"file.empty_zip"}, build: file("empty.zip", append([]byte("PK\x05\x06"), make([]byte, 18)...))},
		{name: "text", codes: []string{"file.not_xlsx"}, build: file("orgs.csv", []byte("子客企业标识,企业名称\n"))},
		{name: "word", codes: []string{"file.office_document"}, build: func(t *testing.T, dir string) (string, Options) {
			p := filepath.Join(dir, "letter.docx")
			rawZip(t, p, [2]string{"[Content_Types].xml", "<Types/>"}, [2]string{"word/document.xml", "<document/>"})
			return p, Options{}
		}},
		{name: "docx in zip", codes: []string{"file.inner_not_workbook"}, build: func(t *testing.T, dir string) (string, Options) {
			inner := filepath.Join(dir, "letter.docx")
			rawZip(t, inner, [2]string{"[Content_Types].xml", "<Types/>"}, [2]string{"word/document.xml", "<document/>"})
			data, _ := os.ReadFile(inner)
			p := filepath.Join(dir, "upload.zip")
			rawZip(t, p, [2]string{"book.xlsx", string(data)})
			return p, Options{}
		}},
		{name: "damaged workbook part", codes: []string{"file.workbook_damaged"}, build: edited(func(t *testing.T, parts map[string][]byte) {
			parts["xl/workbook.xml"] = []byte(`<workbook><sheets><sheet name="a" r:id="rId1"`)
		})},
		{name: "sheet missing", codes: []string{"file.sheet_missing"}, build: edited(func(t *testing.T, parts map[string][]byte) {
			delete(parts, "xl/worksheets/sheet1.xml")
		})},
		{name: "sheet unreadable", codes: []string{"file.sheet_unreadable"}, build: func(t *testing.T, dir string) (string, Options) {
			p := small(t, dir, "book.xlsx")
			parts := readZip(t, p)
			var entries [][2]string
			for n, b := range parts {
				if n == "xl/worksheets/sheet1.xml" {
					n = "stored:" + n
				}
				entries = append(entries, [2]string{n, string(b)})
			}
			sort.Slice(entries, func(i, j int) bool { return entries[i][0] == "[Content_Types].xml" })
			rawZip(t, p, entries...)
			return p, Options{}
		}},
		{name: "many merges", codes: []string{"file.too_many_merges"}, build: edited(func(t *testing.T, parts map[string][]byte) {
			var b strings.Builder
			b.WriteString("<mergeCells>")
			for i := 0; i <= maxMerges; i++ {
				fmt.Fprintf(&b, `<mergeCell ref="K%d:L%d"/>`, i+3, i+3)
			}
			b.WriteString("</mergeCells>")
			replacePart(t, parts, "xl/worksheets/sheet1.xml", "</sheetData>", "</sheetData>"+b.String())
		})},
		{name: "bad merge", codes: []string{"file.merges_unreadable"}, build: edited(func(t *testing.T, parts map[string][]byte) {
			replacePart(t, parts, "xl/worksheets/sheet1.xml", "</sheetData>", `</sheetData><mergeCells><mergeCell ref="A:ZZZZZZ"/></mergeCells>`)
		})},
		{name: "bad drawing", codes: []string{"file.pictures_unreadable"}, build: withPicture(func(t *testing.T, parts map[string][]byte) {
			parts["xl/drawings/drawing1.xml"] = []byte(`<wsDr>` + strings.Repeat("<a>", 5000))
		})},
		{name: "many rows", codes: []string{"file.too_many_rows"}, build: func(t *testing.T, dir string) (string, Options) {
			return writeBook(t, dir, "rows.xlsx", [][]any{stdHeaders, {"a", "A"}, {"b", "B"}}, nil), Options{MaxRows: 1}
		}},
		{name: "strings unopenable", codes: []string{"file.text_unopenable"}, build: func(t *testing.T, dir string) (string, Options) {
			p := small(t, dir, "book.xlsx")
			parts := readZip(t, p)
			if _, ok := parts["xl/sharedStrings.xml"]; !ok {
				t.Fatal("the workbook has no shared strings")
			}
			var entries [][2]string
			for n, b := range parts {
				if n == "xl/sharedStrings.xml" {
					n = "stored:" + n
				}
				entries = append(entries, [2]string{n, string(b)})
			}
			sort.Slice(entries, func(i, j int) bool { return entries[i][0] == "[Content_Types].xml" })
			rawZip(t, p, entries...)
			return p, Options{}
		}},
		{name: "strings declared", codes: []string{"file.strings_declared"}, build: edited(func(t *testing.T, parts map[string][]byte) {
			parts["xl/sharedStrings.xml"] = []byte(`<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="4000000000" uniqueCount="4000000000"><si><t>子客企业标识</t></si></sst>`)
		})},
		{name: "too many strings", codes: []string{"file.too_many_strings"}, build: edited(func(t *testing.T, parts map[string][]byte) {
			parts["xl/sharedStrings.xml"] = []byte(`<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">` + strings.Repeat("<si/>", 100_000) + `</sst>`)
		})},
		{name: "strings damaged", codes: []string{"file.text_unreadable"}, build: edited(func(t *testing.T, parts map[string][]byte) {
			parts["xl/sharedStrings.xml"] = []byte(`<sst><si><t>子客企业标识</t></si><si><t>` + strings.Repeat("<b>", 2000))
		})},
		{name: "zip in zip", codes: []string{"file.zip_in_zip"}, build: func(t *testing.T, dir string) (string, Options) {
			p := filepath.Join(dir, "upload.zip")
			rawZip(t, p, [2]string{"inner.zip", "PK\x05\x06" + strings.Repeat("\x00", 18)})
			return p, Options{}
		}},
		{name: "no workbook", codes: []string{"file.no_workbook"}, build: func(t *testing.T, dir string) (string, Options) {
			p := filepath.Join(dir, "upload.zip")
			rawZip(t, p, [2]string{"license.png", string(testPNG(t, 1))})
			return p, Options{}
		}},
		{name: "two workbooks", codes: []string{"file.many_workbooks"}, build: func(t *testing.T, dir string) (string, Options) {
			data, _ := os.ReadFile(small(t, dir, "a.xlsx"))
			p := filepath.Join(dir, "upload.zip")
			entries := [][2]string{}
			for i := 0; i < 22; i++ {
				entries = append(entries, [2]string{fmt.Sprintf("book%02d.xlsx", i), string(data)})
			}
			rawZip(t, p, entries...)
			return p, Options{}
		}},
		{name: "large workbook in zip", codes: []string{"file.inner_too_large"}, build: func(t *testing.T, dir string) (string, Options) {
			data, _ := os.ReadFile(small(t, dir, "a.xlsx"))
			p := filepath.Join(dir, "upload.zip")
			rawZip(t, p, [2]string{"book.xlsx", strings.Repeat("\x00", 200_000) + string(data)})
			return p, Options{MaxFileSize: 100_000}
		}},
		{name: "workbook in zip unpacks badly", codes: []string{"file.inner_unpack"}, build: func(t *testing.T, dir string) (string, Options) {
			data, _ := os.ReadFile(small(t, dir, "a.xlsx"))
			p := filepath.Join(dir, "upload.zip")
			rawZip(t, p, [2]string{"stored:book.xlsx", string(data)})
			return p, Options{}
		}},
		{name: "not a workbook in zip", codes: []string{"file.inner_invalid"}, build: func(t *testing.T, dir string) (string, Options) {
			p := filepath.Join(dir, "upload.zip")
			rawZip(t, p, [2]string{"book.xlsx", "子客企业标识,企业名称"})
			return p, Options{}
		}},
		{name: "damaged workbook in zip", codes: []string{"file.inner_invalid"}, build: func(t *testing.T, dir string) (string, Options) {
			p := filepath.Join(dir, "upload.zip")
			rawZip(t, p, [2]string{"book.xlsx", "PK\x03\x04 and nothing a zip needs"})
			return p, Options{}
		}},
		{name: "chart sheet named", codes: []string{"file.not_worksheet"}, build: func(t *testing.T, dir string) (string, Options) {
			p := writeBook(t, dir, "chart.xlsx", [][]any{stdHeaders, {"a", "A"}}, func(f *excelize.File) {
				if err := f.AddChartSheet("Chart1", &excelize.Chart{Type: excelize.Line,
					Series: []excelize.ChartSeries{{Name: "Sheet1!$A$1", Values: "Sheet1!$A$2:$A$2"}}}); err != nil {
					t.Fatal(err)
				}
			})
			return p, Options{Sheet: "Chart1"}
		}},
		{name: "no worksheets", codes: []string{"file.no_worksheets"}, build: func(t *testing.T, dir string) (string, Options) {
			p, _ := edited(func(t *testing.T, parts map[string][]byte) {
				replacePart(t, parts, "xl/_rels/workbook.xml.rels", "relationships/worksheet", "relationships/chartsheet")
			})(t, dir)
			return p, Options{Sheet: "Companies"}
		}},
		{name: "no such sheet", codes: []string{"file.no_such_sheet"}, build: func(t *testing.T, dir string) (string, Options) {
			return small(t, dir, "book.xlsx"), Options{Sheet: "Companies"}
		}},
		{name: "hidden sheet", codes: []string{"file.no_visible_sheet"}, build: edited(func(t *testing.T, parts map[string][]byte) {
			replacePart(t, parts, "xl/workbook.xml", `<sheet name="Sheet1"`, `<sheet state="hidden" name="Sheet1"`)
		})},
		{name: "half a header", codes: []string{"file.header_incomplete"}, build: func(t *testing.T, dir string) (string, Options) {
			return writeBook(t, dir, "half.xlsx", [][]any{{"子客企业标识", "公司"}, {"a", "A"}}, nil), Options{}
		}},
		{name: "no header", codes: []string{"file.no_header"}, build: func(t *testing.T, dir string) (string, Options) {
			return writeBook(t, dir, "none.xlsx", [][]any{{"编号", "公司"}, {"a", "A"}}, nil), Options{}
		}},
		{name: "two name columns", codes: []string{"file.duplicate_header"}, build: func(t *testing.T, dir string) (string, Options) {
			return writeBook(t, dir, "dup.xlsx", [][]any{{"子客企业标识", "企业名称", "子客企业名称"}, {"a", "A", "A"}}, nil), Options{}
		}},
		{name: "long header", codes: []string{"file.header_too_long"}, build: edited(func(t *testing.T, parts map[string][]byte) {
			parts["xl/worksheets/sheet1.xml"] = sheetXML(strings.Replace(headerRowXML, "</row>",
				`<c r="C1" t="inlineStr"><is><t>`+strings.Repeat("x", headerRowText+10)+`</t></is></c></row>`, 1))
		})},
		{name: "wide header", codes: []string{"file.too_many_columns"}, build: func(t *testing.T, dir string) (string, Options) {
			return small(t, dir, "wide.xlsx"), Options{MaxColumns: 3}
		}},
		{name: "damaged sheet", codes: []string{"file.sheet_damaged"}, build: edited(func(t *testing.T, parts map[string][]byte) {
			parts["xl/worksheets/sheet1.xml"] = sheetXML(`<row r="one">`)
		})},
		{name: "rows out of order", codes: []string{"file.sheet_damaged_after"}, build: edited(func(t *testing.T, parts map[string][]byte) {
			parts["xl/worksheets/sheet1.xml"] = sheetXML(headerRowXML +
				`<row r="3"><c r="A3" t="inlineStr"><is><t>a</t></is></c><c r="B3" t="inlineStr"><is><t>A</t></is></c></row>` +
				`<row r="2"><c r="A2" t="inlineStr"><is><t>b</t></is></c></row>`)
		})},
		{name: "many entries", codes: []string{"file.too_many_entries"}, build: file("entries.xlsx", zipEOCD(MaxZipEntries+1, 1000))},
		{name: "huge directory", codes: []string{"file.zip_directory_too_large"}, build: file("dir.xlsx", zipEOCD(10, maxZipDirectory+1))},
		{name: "not a zip after all", codes: []string{"file.zip_damaged"}, build: file("damaged.xlsx", []byte("PK\x03\x04 and nothing a zip needs"))},
		{name: "entry outside", codes: []string{"file.entry_outside"}, build: func(t *testing.T, dir string) (string, Options) {
			p := filepath.Join(dir, "upload.zip")
			rawZip(t, p, [2]string{"../../outside.png", "x"})
			return p, Options{}
		}},
		{name: "entry twice", codes: []string{"file.duplicate_entry"}, build: func(t *testing.T, dir string) (string, Options) {
			p := filepath.Join(dir, "upload.zip")
			rawZip(t, p, [2]string{"a.png", "x"}, [2]string{"a.png", "y"})
			return p, Options{}
		}},
		{name: "entries differing in case", codes: []string{"file.entry_case_clash"}, build: func(t *testing.T, dir string) (string, Options) {
			p := filepath.Join(dir, "upload.zip")
			rawZip(t, p, [2]string{"a.png", "x"}, [2]string{"A.PNG", "y"})
			return p, Options{}
		}},
		{name: "expands too much", codes: []string{"file.expands_too_much"}, build: func(t *testing.T, dir string) (string, Options) {
			return small(t, dir, "book.xlsx"), Options{MaxUnzipSize: 1000}
		}},
		{name: "hostile many entries", codes: []string{"file.too_many_entries"}, build: func(t *testing.T, dir string) (string, Options) {
			c, ok := hostile.Lookup("many-entries")
			if !ok {
				t.Fatal("no hostile case many-entries")
			}
			var b bytes.Buffer
			if err := c.Write(&b); err != nil {
				t.Fatal(err)
			}
			return file(c.FileName(), b.Bytes())(t, dir)
		}},
	}
}

// iotestErr is a reader that fails.
type iotestErr struct{}

func (iotestErr) Read([]byte) (int, error) { return 0, errors.New("unexpected EOF") }

func TestReasonCodes(t *testing.T) {
	t.Parallel()
	seen := map[string]produced{}
	for _, c := range codeCases(t) {
		var got []produced
		if c.direct != nil {
			got = c.direct(t)
		} else {
			p, opts := c.build(t, t.TempDir())
			got = collect(t, p, opts)
		}
		have := map[string]bool{}
		for _, g := range got {
			if g.code == "" {
				t.Errorf("%s: a %s without a code: %q", c.name, g.kind, g.text)
				continue
			}
			have[g.code] = true
			if prev, ok := seen[g.code]; ok && prev.kind != g.kind {
				t.Errorf("code %s is a %s and a %s", g.code, prev.kind, g.kind)
			}
			if _, ok := seen[g.code]; !ok {
				seen[g.code] = g
			}
			// The text kept beside the code is its English rendering.
			if want := MaskIDs(Render(g.code, g.params)); g.text != want {
				t.Errorf("%s: %s text %q; rendered again from its parameters %q", c.name, g.code, g.text, want)
			}
			checkChinese(t, g)
			for k := range g.params {
				if _, ok := paramDocs[k]; !ok {
					t.Errorf("%s has the parameter %s, which the docs do not explain", g.code, k)
				}
			}
		}
		for _, want := range c.codes {
			if !have[want] {
				var list []string
				for _, g := range got {
					list = append(list, g.code+": "+g.text)
				}
				t.Errorf("%s: no %s; got:\n  %s", c.name, want, strings.Join(list, "\n  "))
			}
		}
	}

	documented := docCodes(t, "../docs/reason-codes.md")
	documentedZh := docCodes(t, "../docs/reason-codes.zh-CN.md")
	source := sourceCodes(t)
	if *updateDocs {
		writeDocs(t, seen)
		documented, documentedZh = docCodes(t, "../docs/reason-codes.md"), docCodes(t, "../docs/reason-codes.zh-CN.md")
	}
	// (a) every documented code is produced by a case above.
	for code := range documented {
		if _, ok := seen[code]; !ok {
			t.Errorf("docs/reason-codes.md lists %s, which no test row or file produces", code)
		}
	}
	// (b) every code the source can produce is produced, documented in both
	// languages and in both catalogues.
	en, zh := locale.New(locale.English), locale.New(locale.Chinese)
	for code := range source {
		if _, ok := seen[code]; !ok {
			t.Errorf("the importer can produce %s, but no test row or file does", code)
		}
		if !documented[code] || !documentedZh[code] {
			t.Errorf("%s is missing from docs/reason-codes.md or docs/reason-codes.zh-CN.md", code)
		}
		if !en.Has("reason."+code) || !zh.Has("reason."+code) {
			t.Errorf("%s has no message reason.%s in both catalogues", code, code)
		}
	}
	for code := range seen {
		if !source[code] {
			t.Errorf("%s is produced but not found as a literal in the source (the source scan misses it)", code)
		}
	}
	if len(documented) != len(documentedZh) {
		t.Errorf("the English docs list %d codes, the Chinese %d", len(documented), len(documentedZh))
	}
}

// checkChinese renders a reason in Chinese: every parameter is filled in,
// and what is left once the parameters are taken out has no English
// sentence, only the names of products, formats and fields.
func checkChinese(t *testing.T, g produced) {
	t.Helper()
	zh := locale.New(locale.Chinese).Reason(g.code, g.params, "")
	if zh == "" || zh == g.code || strings.Contains(zh, "<no value>") || strings.Contains(zh, "%!") {
		t.Errorf("%s in Chinese: %q", g.code, zh)
		return
	}
	rest := zh
	vals := make([]string, 0, len(g.params))
	for _, v := range g.params {
		vals = append(vals, v)
	}
	sort.Slice(vals, func(i, j int) bool { return len(vals[i]) > len(vals[j]) })
	for _, v := range vals {
		if v != "" {
			rest = strings.ReplaceAll(rest, v, " ")
		}
	}
	for _, w := range englishWord.FindAllString(rest, -1) {
		if !allowedWords[strings.ToLower(w)] {
			t.Errorf("%s in Chinese holds the English word %q: %q", g.code, w, zh)
			return
		}
	}
}

var englishWord = regexp.MustCompile(`[A-Za-z][A-Za-z_]*[A-Za-z]`)

// allowedWords may appear in Chinese texts: products, formats, field and
// service names of the contract and the platform, units.
var allowedWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`excel wps office word powerpoint xlsx xls et zip png jpeg gif base
		mib kib bytes id_card proxyorganizationopenid proxyorganizationname uniformsocialcreditcode
		onboard xfd bl`) {
		m[w] = true
	}
	for _, s := range onboard.ServiceTypes {
		m[strings.ToLower(string(s))] = true
	}
	return m
}()

// docRow matches a row of a docs table: | `code` | ...
var docRow = regexp.MustCompile("(?m)^\\| `([a-z_]+\\.[a-z0-9_]+)` \\|")

// docCodes lists the codes of the docs' tables.
func docCodes(t *testing.T, path string) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		if *updateDocs && errors.Is(err, os.ErrNotExist) {
			return nil
		}
		t.Fatal(err)
	}
	m := map[string]bool{}
	for _, s := range docRow.FindAllStringSubmatch(string(b), -1) {
		m[s[1]] = true
	}
	if len(m) == 0 {
		t.Errorf("%s lists no codes", path)
	}
	return m
}

// sourceCodes lists the string literals of the importer's source that are
// codes: a subject, a dot and a lowercase name.
func sourceCodes(t *testing.T) map[string]bool {
	t.Helper()
	re := regexp.MustCompile(`^(` + strings.Join(Subjects, "|") + `)\.[a-z][a-z0-9_]*$`)
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]bool{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil && re.MatchString(s) {
					m[s] = true
				}
			}
			return true
		})
	}
	return m
}

// paramDocs explains each parameter, in English and Chinese.
var paramDocs = map[string][2]string{
	"Char":      {"the character, as Go quotes it without the quotes", "该字符"},
	"Column":    {"a column letter (B)", "列字母（如 B）"},
	"Column2":   {"the second column's letter", "第二列的列字母"},
	"Columns":   {"the columns, as letter (header)", "各列，格式为 列字母 (表头)"},
	"Count":     {"how many", "数量"},
	"Detail":    {"what the reader reported (technical, in English)", "读取程序报告的详细信息（技术信息，英文）"},
	"Entry":     {"an entry name of the zip", "压缩包中的文件名"},
	"Entry2":    {"the other entry name", "另一个文件名"},
	"Example":   {"a name with its folder", "带文件夹的文件名示例"},
	"Expected":  {"the check character the first 17 characters call for", "按前 17 位计算出的校验码"},
	"Field":     {"the API field name", "接口字段名"},
	"File":      {"the file's name (of the upload, or of a picture)", "文件名（上传文件或图片文件）"},
	"Format":    {"the picture's real format (GIF, BMP, WebP, …)", "图片的实际格式（GIF、BMP、WebP 等）"},
	"Header":    {"a header as written", "原样的表头"},
	"Header2":   {"the second header", "第二个表头"},
	"In":        {"where a picture file is: zip or folder (empty: in the cell)", "图片文件所在位置：zip 或 folder（为空表示在单元格中）"},
	"InFolder":  {"the matches in the images folder", "图片文件夹中的匹配文件"},
	"InZip":     {"the matches in the zip", "压缩包中的匹配文件"},
	"Inner":     {"the workbook's name inside the uploaded zip", "上传的压缩包中工作簿的文件名"},
	"Kind":      {"what the file or sheet is (Word, PowerPoint, chartsheet, …)", "文件或工作表的类型（Word、PowerPoint、chartsheet 等）"},
	"Length":    {"the length found, in characters", "实际长度（字符数）"},
	"Limit":     {"the limit (16 KiB, 1024 MiB)", "上限（如 16 KiB、1024 MiB）"},
	"Max":       {"the most allowed", "允许的最大值"},
	"MaxColumn": {"the letter of the last column read", "读取的最后一列的列字母"},
	"Missing":   {"the API name of the missing column", "缺少的列的接口字段名"},
	"More":      {"how many names are not listed (empty: none)", "未列出的名称数量（为空表示没有）"},
	"Names":     {"names, quoted and separated by commas", "名称，带引号，逗号分隔"},
	"Position":  {"the character's position, from 1", "字符位置（从 1 开始）"},
	"Range":     {"a merged range (J3:J5)", "合并区域（如 J3:J5）"},
	"Row":       {"a row number as Excel shows it", "行号（与 Excel 显示的一致）"},
	"Rows":      {"how many rows are searched", "查找的行数"},
	"Sheet":     {"the sheet's name", "工作表名称"},
	"Size":      {"the size found", "实际大小"},
	"Target":    {"where the picture links to", "图片链接到的位置"},
	"Zip":       {"the name of the zip inside the upload", "上传的压缩包中另一个压缩包的文件名"},
	"Value":     {"the value, identifiers masked (4403**********123X)", "单元格的值，证件号码等已打码（如 4403**********123X）"},
}

// writeDocs writes the docs tables from the codes produced, with each
// code's text rendered with its parameters' names in their place.
func writeDocs(t *testing.T, seen map[string]produced) {
	t.Helper()
	codes := make([]string, 0, len(seen))
	for c := range seen {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	apiIDs, err := locale.IDs(locale.English)
	if err != nil {
		t.Fatal(err)
	}
	var apiCodes []string
	for _, id := range apiIDs {
		if c, ok := strings.CutPrefix(id, "apierr."); ok {
			apiCodes = append(apiCodes, c)
		}
	}
	raw, err := os.ReadFile("../locale/catalog/reasons.en.json")
	if err != nil {
		t.Fatal(err)
	}
	var templates map[string]string
	if err := json.Unmarshal(raw, &templates); err != nil {
		t.Fatal(err)
	}
	kinds := map[string][2]string{"refusal": {"refusal", "拒收文件"}, "rejection": {"rejection", "拒绝该行"}, "warning": {"warning", "提示"}}
	for li, lang := range []string{locale.English, locale.Chinese} {
		p := locale.New(lang)
		var b strings.Builder
		b.WriteString(docIntro[li])
		b.WriteString(docTableHead[li])
		for _, c := range codes {
			g := seen[c]
			names := make([]string, 0, len(g.params))
			placeholders := map[string]string{}
			for k := range g.params {
				names = append(names, k)
				placeholders[k] = "{" + k + "}"
			}
			// Optional parts are shown in their common form: a file of its
			// own (not one inside an upload), a list in full, a picture
			// file in the zip.
			for k, v := range map[string]string{"Inner": "", "More": "", "In": "zip"} {
				if _, ok := placeholders[k]; ok && strings.Contains(templates["reason."+c], "{{if ."+k+"}}") || k == "In" {
					if _, ok := placeholders[k]; ok {
						placeholders[k] = v
					}
				}
			}
			sort.Strings(names)
			for i, n := range names {
				names[i] = "`" + n + "`"
			}
			text := p.Reason(c, placeholders, "")
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", c, kinds[g.kind][li], strings.Join(names, ", "), strings.ReplaceAll(text, "|", `\|`))
		}
		b.WriteString(docParamsHead[li])
		var params []string
		for k := range paramDocs {
			params = append(params, k)
		}
		sort.Strings(params)
		for _, k := range params {
			fmt.Fprintf(&b, "| `%s` | %s |\n", k, paramDocs[k][li])
		}
		b.WriteString(docAPIHead[li])
		for _, c := range apiCodes {
			fmt.Fprintf(&b, "| %s | %s |\n", c, p.APIError(c))
		}
		path := []string{"../docs/reason-codes.md", "../docs/reason-codes.zh-CN.md"}[li]
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

var docIntro = [2]string{
	`# Reason codes

[简体中文](reason-codes.zh-CN.md)

Every refusal of a file, rejection of a row and warning about a row has a
stable **code** and **parameters**. Postgres stores them (the ` + "`reasons`" + ` and
` + "`warnings`" + ` of ` + "`batch_rows`" + `), ` + "`onboard import --json`" + ` reports them
(` + "`code`, `params`" + ` and ` + "`reason`" + `, the text in the chosen language), and the
text is rendered in the reader's language when it is shown, so one batch
reads in English and in Chinese. Codes are ` + "`<subject>.<what>`" + `: the subject
is the file, the row, a cell, or the field the reason is about. A code never
changes meaning; a new reason gets a new code. Reasons stored before codes
existed have their English text only, and are shown as stored.

The text below is the English message with its parameters in braces.
Identifiers in parameters (ID numbers, credit codes) are masked as in the
text. This file is written by ` + "`go test ./importer -run TestReasonCodes -update-docs`" + `
from the reasons the tests produce; every code listed is produced by a test.

`,
	`# 原因代码

[English](reason-codes.md)

每一次拒收文件、拒绝某一行以及对某一行的提示，都有一个固定的**代码**和若干**参数**。
Postgres 中保存的是代码和参数（` + "`batch_rows`" + ` 的 ` + "`reasons`" + ` 和 ` + "`warnings`" + `），
` + "`onboard import --json`" + ` 会输出它们（` + "`code`、`params`" + ` 以及所选语言的文字 ` + "`reason`" + `），
显示时再按读者的语言生成文字，因此同一批次既可以用中文查看，也可以用英文查看。
代码的格式为 ` + "`<对象>.<问题>`" + `：对象是文件（file）、行（row）、单元格（cell）或原因所涉及的字段。
代码的含义永远不变；新的原因使用新的代码。在引入代码之前保存的原因只有英文文字，按原样显示。

下表中的文字是中文消息，参数以花括号表示。参数中的证件号码、统一社会信用代码等标识与文字中一样已打码。
本文件由 ` + "`go test ./importer -run TestReasonCodes -update-docs`" + ` 根据测试产生的原因生成；
表中的每个代码都由测试产生过。

`,
}

var docTableHead = [2]string{
	"## Codes\n\n| Code | Kind | Parameters | Text |\n|---|---|---|---|\n",
	"## 代码\n\n| 代码 | 类别 | 参数 | 文字 |\n|---|---|---|---|\n",
}

var docParamsHead = [2]string{
	"\n## Parameters\n\n| Parameter | Meaning |\n|---|---|\n",
	"\n## 参数\n\n| 参数 | 含义 |\n|---|---|\n",
}

var docAPIHead = [2]string{
	`
## Platform error codes

When the platform (Tencent e-sign's essbasic API) refuses a call, onboard keeps
its code, message and RequestId, and shows this explanation beside them (on
the dashboard, in ` + "`onboard status`" + ` and in the results file's "Error explanation"
column). Codes starting with ` + "`ClientError.`" + ` come from the client side (network,
proxy); codes starting with ` + "`onboard.`" + ` are onboard's own.

| Platform code | Explanation |
|---|---|
`,
	`
## 平台错误码

当电子签平台（腾讯电子签 essbasic 接口）拒绝调用时，onboard 会保存平台返回的错误码、错误信息和 RequestId，
并在旁边显示下面的说明（控制台页面、` + "`onboard status`" + ` 以及结果文件的“错误说明”列）。
以 ` + "`ClientError.`" + ` 开头的错误码来自调用端（网络、代理）；以 ` + "`onboard.`" + ` 开头的是 onboard 自身的错误码。

| 平台错误码 | 说明 |
|---|---|
`,
}
