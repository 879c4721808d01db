package importer

import (
	"bufio"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"
)

// xmlSheetScanner reads a worksheet like sheetScanner, with encoding/xml. It
// is the reference the fast scanner is checked against.
type xmlSheetScanner struct {
	rc        io.ReadCloser
	dec       *xml.Decoder
	dimension string     // the <dimension ref>, if it comes before the data
	row       int        // current row number
	hidden    bool       // the current row is hidden
	cells     []cellMeta // cells of the current row that have a type, picture or formula worth knowing
	done      bool
}

func newXMLSheetScanner(rc io.ReadCloser) *xmlSheetScanner {
	dec := xml.NewDecoder(bufio.NewReaderSize(rc, 64<<10))
	dec.Strict = false
	return &xmlSheetScanner{rc: rc, dec: dec}
}

func (s *xmlSheetScanner) Close() error { return s.rc.Close() }

// next advances to the next <row> element and reads its cells. It returns
// false at the end of the sheet data.
func (s *xmlSheetScanner) next() (bool, error) {
	if s.done {
		return false, nil
	}
	for {
		tok, err := s.dec.RawToken()
		if errors.Is(err, io.EOF) {
			s.done = true
			return false, nil
		}
		if err != nil {
			return false, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch t.Name.Local {
			case "dimension":
				s.dimension = attr(t, "ref")
			case "row":
				n := s.row + 1
				if v := attr(t, "r"); v != "" {
					if n, err = strconv.Atoi(v); err != nil || n < 1 || n > excelize.TotalRows {
						return false, fmt.Errorf("bad row number %q", v)
					}
				}
				s.row = n
				h := attr(t, "hidden")
				s.hidden = h == "1" || h == "true"
				return true, s.readRow()
			}
		case xml.EndElement:
			if t.Name.Local == "sheetData" {
				s.done = true
				return false, nil
			}
		}
	}
}

// readRow reads the cells of the current row up to its end tag.
func (s *xmlSheetScanner) readRow() error {
	s.cells = s.cells[:0]
	col := 0
	var cur *cellMeta
	var in string // element whose text is being collected: "f", "v" or "t"
	var text []byte
	var isPath []string // elements open inside <is>; nil outside it
	inIS := false
	for {
		tok, err := s.dec.RawToken()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return io.ErrUnexpectedEOF
			}
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			name := t.Name.Local
			if inIS {
				isPath = append(isPath, name)
				if name == "t" && cur != nil && (len(isPath) == 1 || len(isPath) == 2 && isPath[0] == "r") {
					in, text = "t", text[:0]
				}
				continue
			}
			switch name {
			case "c":
				col++
				if ref := attr(t, "r"); ref != "" {
					c, _, err := excelize.CellNameToCoordinates(ref)
					if err != nil {
						return fmt.Errorf("bad cell reference %q", ref)
					}
					col = c
				}
				s.cells = append(s.cells, cellMeta{col: col, typ: attr(t, "t")})
				cur = &s.cells[len(s.cells)-1]
				if v := attr(t, "s"); v != "" {
					cur.style, _ = strconv.Atoi(v)
				}
				if v := attr(t, "vm"); v != "" {
					cur.vm, _ = strconv.Atoi(v)
				}
			case "f", "v":
				if cur != nil {
					in, text = name, text[:0]
					if name == "f" {
						cur.hasF = true
					} else {
						cur.hasV = true
					}
				}
			case "is":
				if cur != nil {
					cur.hasIS = true
				}
				inIS, isPath = true, isPath[:0]
			}
		case xml.CharData:
			if in != "" {
				text = append(text, t...)
			}
		case xml.EndElement:
			name := t.Name.Local
			if inIS {
				if len(isPath) == 0 {
					inIS = false // </is>
					continue
				}
				isPath = isPath[:len(isPath)-1]
				if name == "t" && in == "t" {
					cur.inline += string(text)
					in = ""
				}
				continue
			}
			switch name {
			case "f":
				if cur != nil && in == "f" {
					cur.formula = string(text)
				}
				in = ""
			case "v":
				if cur != nil && in == "v" {
					cur.value = string(text)
				}
				in = ""
			case "c":
				cur = nil
			case "row":
				return nil
			}
		}
	}
}

// scanAll reads every row with a scanner's next and returns them with the
// dimension.
func scanAll(next func() (bool, error), row func() (int, bool), cells func() []cellMeta, dim func() string) (string, []string, error) {
	var out []string
	for {
		ok, err := next()
		if err != nil {
			return "", out, err
		}
		if !ok {
			return dim(), out, nil
		}
		n, hidden := row()
		h := ""
		if hidden {
			h = " hidden"
		}
		out = append(out, fmt.Sprintf("%d%s %+v", n, h, cells()))
	}
}

func compareScanners(t *testing.T, doc string) (string, []string, error) {
	t.Helper()
	ref := newXMLSheetScanner(io.NopCloser(strings.NewReader(doc)))
	refDim, refRows, refErr := scanAll(ref.next, func() (int, bool) { return ref.row, ref.hidden }, func() []cellMeta { return ref.cells }, func() string { return ref.dimension })
	fast := newSheetScanner(io.NopCloser(strings.NewReader(doc)))
	dim, rows, err := scanAll(fast.next, func() (int, bool) { return fast.row, fast.hidden }, func() []cellMeta { return fast.cells }, func() string { return fast.dimension })
	if refErr != nil {
		return dim, rows, err
	}
	if err != nil {
		t.Fatalf("the fast scanner fails (%v) where encoding/xml reads %q", err, doc)
	}
	if dim != refDim {
		t.Fatalf("dimension %q; encoding/xml reads %q", dim, refDim)
	}
	if diff := cmp.Diff(refRows, rows); diff != "" {
		t.Fatalf("rows differ from encoding/xml's (-xml +fast):\n%s\nin %q", diff, doc)
	}
	return dim, rows, nil
}

func TestSheetScanner(t *testing.T) {
	t.Parallel()
	doc := `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<!-- made by hand -->
<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><x:dimension ref = 'A1:K9'/>
<x:sheetData>
<x:row r="2" spans="1:3"><x:c r="B2" s="3" t="s"><x:v>7</x:v></x:c><x:c r="D2"/><x:c t="inlineStr"><x:is><x:t>a &lt;b&gt;</x:t></x:is></x:c></x:row>
<x:row><x:c r="H3" t="str"><x:f>_xlfn.DISPIMG(&quot;ID_1&quot;,1)</x:f><x:v>=DISPIMG("ID_1",1)</x:v></x:c><x:c r="I3" t="e" vm="2"><x:v>#VALUE!</x:v></x:c></x:row>
<x:row r="5" hidden="1"/>
<x:row r="6"><x:c r="A6"><x:f><![CDATA[SUM(A1:A5)&"x"]]></x:f><x:v>1<!-- c -->2</x:v></x:c><x:c r="B6" t="str"><x:v>line&#13;&#10;two&#x4e2d;</x:v></x:c></x:row>
<x:row r="7"><x:c t="inlineStr"><x:is><x:r><x:rPr/><x:t>a</x:t></x:r><x:rPh><x:t>phonetic</x:t></x:rPh><x:r><x:t>b</x:t></x:r></x:is></x:c></x:row>
<x:row r="8" hidden="true"><x:c r="A8"><x:f t="shared" si="0"/></x:c><x:c r="B8" t="str"><x:f>A1&amp;"x"</x:f></x:c></x:row>
</x:sheetData><x:mergeCells count="1"><x:mergeCell ref="A6:A8"/></x:mergeCells></x:worksheet>`
	dim, rows, err := compareScanners(t, doc)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`2 [{col:2 typ:s style:3 vm:0 formula: value:7 inline: hasIS:false hasF:false hasV:true} {col:4 typ: style:0 vm:0 formula: value: inline: hasIS:false hasF:false hasV:false} {col:5 typ:inlineStr style:0 vm:0 formula: value: inline:a <b> hasIS:true hasF:false hasV:false}]`,
		`3 [{col:8 typ:str style:0 vm:0 formula:_xlfn.DISPIMG("ID_1",1) value:=DISPIMG("ID_1",1) inline: hasIS:false hasF:true hasV:true} {col:9 typ:e style:0 vm:2 formula: value:#VALUE! inline: hasIS:false hasF:false hasV:true}]`,
		`5 hidden []`,
		"6 [{col:1 typ: style:0 vm:0 formula:SUM(A1:A5)&\"x\" value:12 inline: hasIS:false hasF:true hasV:true} {col:2 typ:str style:0 vm:0 formula: value:line\r\ntwo中 inline: hasIS:false hasF:false hasV:true}]",
		`7 [{col:1 typ:inlineStr style:0 vm:0 formula: value: inline:ab hasIS:true hasF:false hasV:false}]`,
		`8 hidden [{col:1 typ: style:0 vm:0 formula: value: inline: hasIS:false hasF:true hasV:false} {col:2 typ:str style:0 vm:0 formula:A1&"x" value: inline: hasIS:false hasF:true hasV:false}]`,
	}
	if dim != "A1:K9" {
		t.Errorf("dimension %q", dim)
	}
	if diff := cmp.Diff(want, rows); diff != "" {
		t.Errorf("rows (-want +got):\n%s", diff)
	}
	for _, bad := range []string{
		`<worksheet><sheetData><row r="x"></row></sheetData></worksheet>`,
		`<worksheet><sheetData><row><c r="1A"/></row></sheetData></worksheet>`,
		`<worksheet><sheetData><row><c r="A1"><v>1</v>`,
		`<worksheet><sheetData><row r="1048577"/></sheetData></worksheet>`,
	} {
		s := newSheetScanner(io.NopCloser(strings.NewReader(bad)))
		if _, _, err := scanAll(s.next, func() (int, bool) { return s.row, s.hidden }, func() []cellMeta { return s.cells }, func() string { return s.dimension }); err == nil {
			t.Errorf("no error for %q", bad)
		}
	}
}

// FuzzSheetScanner checks the fast scanner against encoding/xml on every
// well-formed document.
func FuzzSheetScanner(f *testing.F) {
	f.Add(`<worksheet><dimension ref="A1:B2"/><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row><row><c t="e" vm="1"><v>#VALUE!</v></c><c r="C2" t="str"><f>_xlfn.DISPIMG("ID_A",1)</f><v>=DISPIMG("ID_A",1)</v></c></row></sheetData></worksheet>`)
	f.Add(`<a:worksheet xmlns:a="u"><a:sheetData><a:row r='3' ><a:c r = "B3"><a:f><![CDATA[1&2]]></a:f><a:v>&#65;&amp;</a:v></a:c></a:row></a:sheetData></a:worksheet>`)
	f.Add(`<worksheet><sheetData><row r="2" hidden="1"><c r="A2"><f t="shared" si="0"/></c></row><row hidden="true"><c><f>A1</f></c><c t="str"><v/></c></row><row hidden="0"/></sheetData><mergeCells><mergeCell ref="A2:B3"/></mergeCells></worksheet>`)
	f.Add(`<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "x">]><worksheet><!-- --><sheetData><row/><row><c/></row></sheetData></worksheet>`)
	f.Fuzz(func(t *testing.T, doc string) {
		// Only well-formed documents are compared.
		dec := xml.NewDecoder(strings.NewReader(doc))
		for {
			_, err := dec.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return
			}
		}
		compareScanners(t, doc)
	})
}

// xmlMerges reads the merged ranges of a worksheet with encoding/xml: the
// reference scanMerges is checked against.
func xmlMerges(doc string) ([]string, error) {
	dec := xml.NewDecoder(strings.NewReader(doc))
	dec.Strict = false
	var out []string
	for {
		tok, err := dec.RawToken()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if t, ok := tok.(xml.StartElement); ok && t.Name.Local == "mergeCell" {
			ref := attr(t, "ref")
			if !strings.Contains(ref, ":") {
				continue
			}
			m, ok := parseRange(ref)
			if !ok {
				return nil, fmt.Errorf("bad merged range %q", ref)
			}
			if m.c1 == m.c2 && m.r1 == m.r2 {
				continue // a range of one cell merges nothing
			}
			out = append(out, fmt.Sprint(m))
		}
	}
}

func compareMerges(t *testing.T, doc string) []string {
	t.Helper()
	want, refErr := xmlMerges(doc)
	got, err := scanMerges(strings.NewReader(doc))
	if refErr != nil {
		return nil
	}
	if err != nil {
		t.Fatalf("scanMerges fails (%v) where encoding/xml reads %q", err, doc)
	}
	// scanMerges orders ranges by first row, keeping the order of the
	// document among ranges that start on the same row.
	sort.SliceStable(want, func(i, j int) bool { return firstRow(want[i]) < firstRow(want[j]) })
	var gotS []string
	for _, m := range got {
		gotS = append(gotS, fmt.Sprint(m))
	}
	if diff := cmp.Diff(want, gotS); diff != "" {
		t.Fatalf("merged ranges differ from encoding/xml's (-xml +fast):\n%s\nin %q", diff, doc)
	}
	if found, _ := containsStream(strings.NewReader(doc), mergeTag); len(got) > 0 && !found {
		t.Fatalf("ranges found in a part the byte search passes over: %q", doc)
	}
	return gotS
}

func firstRow(s string) int {
	var m mergedRange
	fmt.Sscan(strings.Trim(s, "{}"), &m.c1, &m.r1)
	return m.r1
}

func TestScanMerges(t *testing.T) {
	t.Parallel()
	got := compareMerges(t, `<x:worksheet xmlns:x="u"><x:sheetData><x:row r="1"><x:c r="A1"><x:v>mergeCell</x:v></x:c></x:row></x:sheetData>`+
		`<x:mergeCells count="4"><x:mergeCell ref="C5:B9"/><x:mergeCell ref = 'A2:A3'/><x:mergeCell ref="D4"/><x:mergeCell ref="E2:F2"/></x:mergeCells></x:worksheet>`)
	if want := []string{"{1 2 1 3}", "{5 2 6 2}", "{2 5 3 9}"}; !cmp.Equal(got, want) {
		t.Errorf("ranges %v; want %v", got, want)
	}
	if _, err := scanMerges(strings.NewReader(`<worksheet><mergeCells><mergeCell ref="A1:1A"/></mergeCells></worksheet>`)); err == nil {
		t.Error("no error for a bad range")
	}
}

// FuzzMergeScanner checks the merged ranges read while streaming against
// encoding/xml on every well-formed document.
func FuzzMergeScanner(f *testing.F) {
	f.Add(`<worksheet><sheetData><row r="2" hidden="1"/></sheetData><mergeCells count="2"><mergeCell ref="J3:J5"/><mergeCell ref="A1:K1"/></mergeCells></worksheet>`)
	f.Add(`<a:worksheet xmlns:a="u"><a:mergeCells><a:mergeCell ref="B2:A1"/><a:mergeCell/><a:mergeCell ref="&#65;1:B2"/></a:mergeCells></a:worksheet>`)
	f.Add(`<?xml version="1.0"?><worksheet><!-- <mergeCell ref="A1:B2"/> --><mergeCells><![CDATA[<mergeCell ref="A1:B2"/>]]></mergeCells></worksheet>`)
	f.Fuzz(func(t *testing.T, doc string) {
		dec := xml.NewDecoder(strings.NewReader(doc))
		for {
			_, err := dec.Token()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return
			}
		}
		compareMerges(t, doc)
	})
}
