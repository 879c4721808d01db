package importer

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/ess-onboard/onboard"
	"github.com/xuri/excelize/v2"
)

// testNow is the clock of the tests: ID birth dates are checked against it.
var testNow = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func testOpts() Options { return Options{Now: func() time.Time { return testNow }} }

// Valid values from the checksum reference.
const (
	uscc1 = "91350100M000100Y43"
	uscc2 = "914403001234567810"
	uscc3 = "91110108MA01C2D3EG"
	id1   = "11010519491231002X"
	id2   = "440524188001010014"
	id3   = "440306198511207832"
	id4   = "110101200001010010"
)

// stdHeaders is a header row with every column of the contract.
var stdHeaders = []any{"子客企业标识", "企业名称", "统一社会信用代码", "法定代表人", "法定代表人证件类型", "法定代表人证件号码", "企业详细住所", "营业执照", "超管标识", "扩展服务"}

// writeBook writes a workbook whose first sheet holds rows from A1 down; edit
// may change the file before it is saved.
func writeBook(t testing.TB, dir, name string, rows [][]any, edit func(f *excelize.File)) string {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	for i, row := range rows {
		if row == nil {
			continue
		}
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow("Sheet1", cell, &row); err != nil {
			t.Fatal(err)
		}
	}
	if edit != nil {
		edit(f)
	}
	p := filepath.Join(dir, name)
	if err := f.SaveAs(p); err != nil {
		t.Fatal(err)
	}
	return p
}

// readAll opens a file and reads every row.
func readAll(t testing.TB, path string, opts Options) (*Reader, []*onboard.Row) {
	t.Helper()
	r, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	var rows []*onboard.Row
	for {
		row, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		rows = append(rows, row)
	}
	return r, rows
}

// openErr opens a file that must be refused and returns the reason.
func openErr(t testing.TB, path string, opts Options) string {
	t.Helper()
	r, err := Open(path, opts)
	if err == nil {
		r.Close()
		t.Fatalf("Open(%s) succeeded; want a refusal", filepath.Base(path))
	}
	var fe *FileError
	if !errors.As(err, &fe) {
		t.Fatalf("Open(%s) = %T %v; want *FileError", filepath.Base(path), err, err)
	}
	return fe.Reason
}

// testPNG is a small PNG whose colour makes it unique.
func testPNG(t testing.TB, shade uint8) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 6))
	for x := 0; x < 8; x++ {
		for y := 0; y < 6; y++ {
			img.Set(x, y, color.RGBA{shade, 100, 200, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// testJPEG is a small JPEG.
func testJPEG(t testing.TB) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// reasons lists the fields and reasons of a row's errors.
func reasons(row *onboard.Row) []string {
	var out []string
	for _, e := range row.Errors {
		out = append(out, e.Field+": "+e.Reason)
	}
	return out
}
