package importer

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMaskID(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"44030619851120783X": "4403**********783X",
		"91350100M000100Y43": "9135**********0Y43",
		"110105194912310":    "1101*******2310",
		"12345678":           "12****78",
		"12345":              "*****",
		"":                   "",
	} {
		if got := MaskID(in); got != want {
			t.Errorf("MaskID(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		`"44030619851120783X" is not valid`:                                                  `"4403**********783X" is not valid`,
		"ids 110105194912310021,440524188001010014.":                                         "ids 1101**********0021,4405**********0014.",
		"OpenId bench-0000001 and org-001 stay":                                              "OpenId bench-0000001 and org-001 stay",
		"InvalidParameter.OrganizationName (RequestId 3f2a9c1e-1b2c-4d5e-8f90-123456789abc)": "InvalidParameter.OrganizationName (RequestId 3f2a9c1e-1b2c-4d5e-8f90-123456789abc)",
		"a 21-character run 123456789012345678901 is left":                                   "a 21-character run 123456789012345678901 is left",
		"ABCDEFGHJKLMNPQRTU has too few digits":                                              "ABCDEFGHJKLMNPQRTU has too few digits",
	} {
		if got := MaskIDs(in); got != want {
			t.Errorf("MaskIDs(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSharedStringsStore(t *testing.T) {
	t.Parallel()
	var doc strings.Builder
	doc.WriteString(`<sst xmlns="x" count="3000" uniqueCount="3000">`)
	var want []string
	for i := 0; i < 3000; i++ {
		s := fmt.Sprintf("string %d %s", i, strings.Repeat("x", i%40))
		switch i % 5 {
		case 0:
			fmt.Fprintf(&doc, `<si><t>%s</t></si>`, s)
		case 1: // rich text runs and phonetic text
			fmt.Fprintf(&doc, `<si><r><rPr><b/></rPr><t>%s</t></r><r><t xml:space="preserve"> run</t></r><rPh sb="0" eb="1"><t>ignored</t></rPh></si>`, s)
			s += " run"
		case 2: // escapes and entities
			fmt.Fprintf(&doc, `<si><t>%s_x000D__x005F_x0041_&amp;&#x4e2d;</t></si>`, s)
			s += "\r_x0041_&中"
		case 3:
			fmt.Fprintf(&doc, `<si><t><![CDATA[%s<&>]]></t></si>`, s)
			s += "<&>"
		case 4:
			doc.WriteString(`<si/>`)
			s = ""
		}
		want = append(want, s)
	}
	doc.WriteString(`</sst>`)
	// Held in memory, and moved to a file after 1 KiB.
	for _, inMemory := range []int{0, 1 << 10} {
		st, err := readSST(strings.NewReader(doc.String()), sstLimits{maxStrings: 3000, maxString: 1 << 10, inMemory: inMemory}, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if (st.file != nil) != (inMemory > 0) {
			t.Errorf("inMemory %d: file %v", inMemory, st.file != nil)
		}
		got := make([]string, len(want))
		for _, i := range rand.New(rand.NewSource(1)).Perm(len(want)) {
			if got[i], err = st.get(i); err != nil {
				t.Fatal(err)
			}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("inMemory %d: strings (-want +got):\n%s", inMemory, diff)
		}
		if _, err := st.get(3000); err == nil {
			t.Error("string 3000 of 3000: no error")
		}
		st.Close()
	}
	// One more than allowed is refused, and so is a declared count beyond.
	if _, err := readSST(strings.NewReader(doc.String()), sstLimits{maxStrings: 2999, maxString: 1 << 10}, t.TempDir()); err == nil || !strings.Contains(err.Error(), "declares 3000") {
		t.Errorf("declared count over the limit: %v", err)
	}
	undeclared := strings.Replace(doc.String(), ` count="3000" uniqueCount="3000"`, "", 1)
	if _, err := readSST(strings.NewReader(undeclared), sstLimits{maxStrings: 2999, maxString: 1 << 10}, t.TempDir()); err == nil || !strings.Contains(err.Error(), "holds more than 2999") {
		t.Errorf("strings over the limit: %v", err)
	}
	// A string longer than maxString is cut, and stays longer than
	// maxString - 1 however it shrinks when decoded.
	long := `<sst><si><t>` + strings.Repeat("_x0041_", 5000) + `</t></si><si><t>` + strings.Repeat("b", 5000) + `</t></si></sst>`
	st, err := readSST(strings.NewReader(long), sstLimits{maxStrings: 10, maxString: 1000}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for i := 0; i < 2; i++ {
		if s, _ := st.get(i); len(s) != 1000 {
			t.Errorf("string %d kept %d bytes; want 1000", i, len(s))
		}
	}
}

func TestDecodeEscapes(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"plain":               "plain",
		"_x000D_":             "\r",
		"a_x005F_x0041_b":     "a_x0041_b",
		"_x0041__x0042_":      "AB",
		"_xD800_x":            "x",
		"_x00G1_ _x12_ _x41_": "_x00G1_ _x12_ _x41_",
	} {
		if got := string(decodeEscapes([]byte(in), 100)); got != want {
			t.Errorf("decodeEscapes(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestLimits checks each configurable limit with a small value: a sheet
// with more rows, a header wider, and a row with more text than allowed.
func TestLimits(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rows := [][]any{{"企业标识", "企业名称", "备注"}}
	for i := 0; i < 5; i++ {
		rows = append(rows, []any{fmt.Sprintf("o%d", i), "公司", strings.Repeat("注", i*100)})
	}
	p := writeBook(t, dir, "limits.xlsx", rows, nil)

	opts := testOpts()
	opts.MaxRows = 4
	if got := openErrOrRows(t, p, opts); !strings.Contains(got, "has more than 4 data rows") {
		t.Errorf("MaxRows 4: %s", got)
	}
	opts.MaxRows = 5
	if got := openErrOrRows(t, p, opts); got != "5 rows" {
		t.Errorf("MaxRows 5: %s", got)
	}

	opts = testOpts()
	opts.MaxColumns = 2
	if got := openErr(t, p, opts); !strings.Contains(got, "reaches column C, 3 columns; at most 2 columns (A to B) are read") {
		t.Errorf("MaxColumns 2: %s", got)
	}

	opts = testOpts()
	opts.MaxRowText = 1000 // the note of row 5 is 900 bytes, row 6's 1200
	_, read := readAll(t, p, opts)
	for _, row := range read {
		total := 0
		for _, c := range row.Cells {
			total += len(c)
		}
		over := row.Number == 6
		if got := strings.Join(reasons(row), "; "); over != strings.Contains(got, "cells hold more than 1000 bytes of text") {
			t.Errorf("row %d (%d bytes): %q", row.Number, total, got)
		}
		if total > 1000 {
			t.Errorf("row %d keeps %d bytes", row.Number, total)
		}
	}
}

// openErrOrRows opens and reads a file, describing the refusal or the
// number of rows read.
func openErrOrRows(t *testing.T, path string, opts Options) string {
	t.Helper()
	r, err := Open(path, opts)
	if err != nil {
		return "refused: " + err.Error()
	}
	defer r.Close()
	n := 0
	for {
		_, err := r.Next()
		if err != nil {
			if err.Error() == "EOF" {
				return fmt.Sprintf("%d rows", n)
			}
			return "refused: " + err.Error()
		}
		n++
	}
}

func TestSheetListShortened(t *testing.T) {
	t.Parallel()
	sheets := make([]sheetInfo, 50)
	for i := range sheets {
		sheets[i] = sheetInfo{Name: fmt.Sprintf("S%d", i), Kind: "worksheet"}
	}
	_, err := pickSheet(sheets, "Missing")
	if err == nil || !strings.Contains(err.Error(), `"S19", and 30 more`) || strings.Contains(err.Error(), `"S20"`) {
		t.Errorf("pickSheet: %v", err)
	}
}
