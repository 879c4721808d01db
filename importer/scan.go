package importer

import (
	"bufio"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/xuri/excelize/v2"
)

// cellMeta is what the displayed text of a cell does not tell: its type,
// whether it holds an in-cell picture, and its formula.
type cellMeta struct {
	col     int    // 1-based column
	typ     string // the cell's t attribute: "" or "n" for numbers, "s", "str", "inlineStr", "b", "e", "d"
	vm      int    // value metadata index (Excel's in-cell pictures), 0 if none
	formula string // formula text, if any
	value   string // the raw <v> text, kept only for formula and "str" cells
}

// numeric reports whether the cell holds a number.
func (c *cellMeta) numeric() bool { return c.typ == "" || c.typ == "n" }

// sheetScanner walks a worksheet part row by row beside excelize's row
// iterator, reading the cell attributes that the iterator does not expose.
// It holds one row at a time.
type sheetScanner struct {
	rc        io.ReadCloser
	dec       *xml.Decoder
	dimension string     // the <dimension ref>, if it comes before the data
	row       int        // current row number
	cells     []cellMeta // cells of the current row that have a type, picture or formula worth knowing
	done      bool
}

func newSheetScanner(rc io.ReadCloser) *sheetScanner {
	dec := xml.NewDecoder(bufio.NewReaderSize(rc, 64<<10))
	dec.Strict = false
	return &sheetScanner{rc: rc, dec: dec}
}

func (s *sheetScanner) Close() error { return s.rc.Close() }

func attr(se xml.StartElement, name string) string {
	for _, a := range se.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// next advances to the next <row> element and reads its cells. It returns
// false at the end of the sheet data.
func (s *sheetScanner) next() (bool, error) {
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
func (s *sheetScanner) readRow() error {
	s.cells = s.cells[:0]
	col := 0
	var cur *cellMeta
	var in string // element whose text is being collected: "f" or "v"
	var text []byte
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
			switch t.Name.Local {
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
				if v := attr(t, "vm"); v != "" {
					cur.vm, _ = strconv.Atoi(v)
				}
			case "f", "v":
				if cur != nil {
					in, text = t.Name.Local, text[:0]
				}
			}
		case xml.CharData:
			if in != "" {
				text = append(text, t...)
			}
		case xml.EndElement:
			switch t.Name.Local {
			case "f":
				if cur != nil && in == "f" {
					cur.formula = string(text)
				}
				in = ""
			case "v":
				if cur != nil && in == "v" && (cur.formula != "" || cur.typ == "str") {
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

// meta returns the metadata of the cell in the given 1-based column of the
// current row, or nil if the row has no such cell.
func (s *sheetScanner) meta(col int) *cellMeta {
	for i := range s.cells {
		if s.cells[i].col == col {
			return &s.cells[i]
		}
	}
	return nil
}
