package importer

import (
	"archive/zip"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/ess-onboard/onboard/internal/hostile"
)

// smallHostile holds the entries of each hostile case, written small.
type hostileEntry struct {
	name string
	data []byte
}

func smallHostile(f *testing.F) [][]hostileEntry {
	f.Helper()
	var out [][]hostileEntry
	for _, c := range hostile.Cases() {
		var buf bytes.Buffer
		if err := c.WriteSmall(&buf); err != nil {
			f.Fatalf("%s: %v", c.Name, err)
		}
		zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			f.Fatalf("%s: %v", c.Name, err)
		}
		var entries []hostileEntry
		for _, e := range zr.File {
			rc, err := e.Open()
			if err != nil {
				f.Fatal(err)
			}
			b, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				f.Fatal(err)
			}
			entries = append(entries, hostileEntry{e.Name, b})
		}
		out = append(out, entries)
	}
	return out
}

// FuzzWorkbook starts from the hostile files (written small) and replaces
// one entry of one of them, its name and its bytes, or adds one: Open and
// Next must read rows or refuse the file with a *FileError, never panic or
// fail otherwise, and rows come in order with a cell per header.
func FuzzWorkbook(f *testing.F) {
	cases := smallHostile(f)
	for i, entries := range cases {
		// The first entries of each case (the package's own parts: types,
		// relationships, workbook, first sheet, shared strings), and a sheet
		// added.
		for j, e := range entries {
			if j < 8 && len(e.data) <= 64<<10 {
				f.Add(uint8(i), uint8(j), e.name, e.data)
			}
		}
		f.Add(uint8(i), uint8(len(entries)), "xl/worksheets/sheet1.xml", []byte(`<worksheet><sheetData><row r="1"><c t="s"><v>0</v></c></row></sheetData></worksheet>`))
	}
	dir := f.TempDir()
	n := 0
	f.Fuzz(func(t *testing.T, ci, ei uint8, name string, data []byte) {
		entries := cases[int(ci)%len(cases)]
		var parts []hostileEntry
		replaced := false
		for j, e := range entries {
			if j == int(ei) {
				if name == "" {
					name = e.name
				}
				parts = append(parts, hostileEntry{name, data})
				replaced = true
				continue
			}
			parts = append(parts, e)
		}
		if !replaced {
			if name == "" {
				name = "xl/extra.xml"
			}
			parts = append(parts, hostileEntry{name, data})
		}
		sort.SliceStable(parts, func(a, b int) bool {
			return parts[a].name == "[Content_Types].xml" && parts[b].name != "[Content_Types].xml"
		})
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for _, p := range parts {
			w, err := zw.CreateHeader(&zip.FileHeader{Name: p.name, Method: zip.Store})
			if err != nil {
				return // a name the zip writer refuses
			}
			w.Write(p.data)
		}
		if err := zw.Close(); err != nil {
			return
		}
		n++
		p := filepath.Join(dir, "fuzz.xlsx")
		if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		r, err := Open(p, Options{Now: testOpts().Now})
		var fe *FileError
		if err != nil {
			if !errors.As(err, &fe) {
				t.Fatalf("Open: %T %v", err, err)
			}
			return
		}
		defer r.Close()
		if len(r.Headers()) > DefaultMaxColumns {
			t.Fatalf("%d headers", len(r.Headers()))
		}
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
			total := 0
			for _, c := range row.Cells {
				total += len(c)
			}
			if total > DefaultMaxRowText {
				t.Fatalf("row %d keeps %d bytes of text", row.Number, total)
			}
			last = row.Number
		}
	})
}
