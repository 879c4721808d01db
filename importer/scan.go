package importer

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/xuri/excelize/v2"
)

// cellMeta is one cell of a row as the worksheet XML writes it.
type cellMeta struct {
	col     int    // 1-based column
	typ     string // the cell's t attribute: "" or "n" for numbers, "s", "str", "inlineStr", "b", "e", "d"
	style   int    // the cell's s attribute: an index into the workbook's cell formats
	vm      int    // value metadata index (Excel's in-cell pictures), 0 if none
	formula string // formula text, if any (its first maxFormula bytes)
	value   string // the raw <v> text
	inline  string // the text of an inline string (<is>), its _xHHHH_ escapes not yet decoded
	hasIS   bool   // the cell has an <is> element
	hasF    bool   // the cell has a formula (<f>), possibly a shared one with no text
	hasV    bool   // the cell has a cached value (<v>)
}

// numeric reports whether the cell holds a number.
func (c *cellMeta) numeric() bool { return c.typ == "" || c.typ == "n" }

// maxFormula is how much of a formula is kept: enough to recognise WPS's
// DISPIMG formulas, which are all that formulas are read for.
const maxFormula = 1 << 10

// attr returns the value of an attribute by local name.
func attr(se xml.StartElement, name string) string {
	for _, a := range se.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// sheetScanner walks a worksheet part row by row, reading each cell's
// attributes, formula and value. It holds one row at a time, and of that
// row only the cells up to maxCol and at most budget bytes of their text:
// the rest is read past, so that neither a row as wide as Excel allows nor
// a cell of a gigabyte costs memory.
type sheetScanner struct {
	rc        io.ReadCloser
	x         *xmlScanner
	dimension string     // the <dimension ref>, if it comes before the data
	row       int        // current row number
	hidden    bool       // the current row is hidden (by hand or by a filter)
	cells     []cellMeta // the cells of the current row, up to maxCol
	truncated bool       // text of the current row beyond budget was dropped
	done      bool

	maxCol int // cells of later columns are skipped
	budget int // bytes of cell text kept per row
}

func newSheetScanner(rc io.ReadCloser) *sheetScanner {
	s := &sheetScanner{rc: rc, x: newXMLScanner(rc), maxCol: excelize.MaxColumns, budget: 1 << 20}
	s.x.wantAttr = sheetAttr
	return s
}

// sheetAttr names the attributes the scanner keeps.
func sheetAttr(tag, a []byte) (string, bool) {
	switch string(tag) {
	case "c":
		switch string(a) {
		case "r":
			return "r", true
		case "t":
			return "t", true
		case "s":
			return "s", true
		case "vm":
			return "vm", true
		}
	case "row":
		switch string(a) {
		case "r":
			return "r", true
		case "hidden":
			return "hidden", true
		}
	case "dimension":
		if string(a) == "ref" {
			return "ref", true
		}
	}
	return "", false
}

func (s *sheetScanner) Close() error { return s.rc.Close() }

// next advances to the next <row> element and reads its cells. It returns
// false at the end of the sheet data.
func (s *sheetScanner) next() (bool, error) {
	if s.done {
		return false, nil
	}
	x := s.x
	for {
		err := x.tag()
		if errors.Is(err, io.EOF) {
			s.done = true
			return false, nil
		}
		if err != nil {
			return false, err
		}
		switch {
		case !x.end && string(x.name) == "dimension":
			s.dimension = x.attr("ref")
		case !x.end && string(x.name) == "row":
			n := s.row + 1
			if v := x.attr("r"); v != "" {
				if n, err = strconv.Atoi(v); err != nil || n < 1 || n > excelize.TotalRows {
					return false, fmt.Errorf("bad row number %q", v)
				}
			}
			s.row = n
			h := x.attr("hidden")
			s.hidden = h == "1" || h == "true"
			s.cells = s.cells[:0]
			s.truncated = false
			if x.selfClosing {
				return true, nil
			}
			return true, s.readRow()
		case x.end && string(x.name) == "sheetData":
			s.done = true
			return false, nil
		}
	}
}

// readRow reads the cells of the current row up to its end tag.
func (s *sheetScanner) readRow() error {
	x := s.x
	col := 0
	var cur *cellMeta // nil outside a cell, and in a cell that is skipped
	in := ""          // element whose text is being collected: "f", "v" or "t"
	used := 0         // bytes of text kept in this row
	// Inside <is>: how deep below it, and whether in a rich text run (<r>).
	inIS, isDepth, inRun := false, 0, false
	for {
		err := x.tag()
		if err != nil {
			return unexpected(err)
		}
		name := string(x.name)
		if !x.end {
			if inIS {
				// An inline string's text is that of its <t> and of its
				// runs' <t>; phonetic runs (<rPh>) are not shown.
				switch {
				case name == "t" && (isDepth == 0 || isDepth == 1 && inRun) && cur != nil && !x.selfClosing:
					in = "t"
					x.collectText(max(0, s.budget-used))
				case name == "r" && isDepth == 0:
					inRun = true
				}
				if !x.selfClosing {
					isDepth++
				}
				continue
			}
			switch name {
			case "c":
				col++
				if ref := x.attr("r"); ref != "" {
					c, _, err := excelize.CellNameToCoordinates(ref)
					if err != nil {
						return fmt.Errorf("bad cell reference %q", ref)
					}
					col = c
				}
				cur = nil
				if col > s.maxCol {
					continue
				}
				if len(s.cells) >= s.maxCol {
					return fmt.Errorf("row %d has more cells than columns", s.row)
				}
				s.cells = append(s.cells, cellMeta{col: col, typ: x.attr("t")})
				c := &s.cells[len(s.cells)-1]
				if v := x.attr("s"); v != "" {
					c.style, _ = strconv.Atoi(v)
				}
				if v := x.attr("vm"); v != "" {
					c.vm, _ = strconv.Atoi(v)
				}
				if !x.selfClosing {
					cur = c
				}
			case "f":
				if cur != nil {
					cur.hasF = true
				}
				if cur != nil && !x.selfClosing {
					in = "f"
					x.collectText(maxFormula)
				}
			case "v":
				if cur != nil {
					cur.hasV = true
				}
				if cur != nil && !x.selfClosing {
					in = "v"
					x.collectText(max(0, s.budget-used))
				}
			case "is":
				if cur != nil {
					cur.hasIS = true
				}
				if !x.selfClosing {
					inIS, isDepth, inRun = true, 0, false
				}
			}
			continue
		}
		if inIS {
			if isDepth == 0 {
				if name == "is" {
					inIS = false
				}
				continue
			}
			isDepth--
			switch {
			case name == "t" && in == "t":
				if cur != nil {
					cur.inline += string(unescapeXML(x.text))
					used += len(x.text)
					s.truncated = s.truncated || x.textOver
				}
				in, x.collect = "", false
			case name == "r" && isDepth == 0:
				inRun = false
			}
			continue
		}
		switch name {
		case "f":
			if cur != nil && in == "f" {
				cur.formula = string(unescapeXML(x.text))
			}
			in, x.collect = "", false
		case "v":
			if cur != nil && in == "v" {
				cur.value = string(unescapeXML(x.text))
				used += len(x.text)
				s.truncated = s.truncated || x.textOver
			}
			in, x.collect = "", false
		case "c":
			cur = nil
		case "row":
			return nil
		}
	}
}
