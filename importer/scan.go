package importer

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

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

// attr returns the value of an attribute by local name.
func attr(se xml.StartElement, name string) string {
	for _, a := range se.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// sheetScanner walks a worksheet part row by row beside excelize's row
// iterator, reading the cell attributes that the iterator does not expose.
// It holds one row at a time. It is a small tokenizer of its own rather
// than encoding/xml, which would double the cost of reading a sheet: it
// looks only at tags, their attributes and the text of <f> and <v>.
type sheetScanner struct {
	rc        io.ReadCloser
	br        *bufio.Reader
	dimension string     // the <dimension ref>, if it comes before the data
	row       int        // current row number
	cells     []cellMeta // the cells of the current row
	done      bool

	// The tag just read.
	end, selfClosing bool
	name             []byte    // local name
	attrs            []xmlAttr // local names and unescaped values
	text             []byte    // text collected while collecting
	collect          bool
	scratch          []byte
}

type xmlAttr struct {
	name  string
	value []byte
}

func newSheetScanner(rc io.ReadCloser) *sheetScanner {
	return &sheetScanner{rc: rc, br: bufio.NewReaderSize(rc, 64<<10)}
}

func (s *sheetScanner) Close() error { return s.rc.Close() }

var errSyntax = errors.New("XML syntax error")

// tag reads up to and including the next start or end tag, skipping
// declarations, comments and processing instructions, and collecting text
// (including CDATA) when s.collect is set. It returns io.EOF at the end.
func (s *sheetScanner) tag() error {
	for {
		if s.collect {
			chunk, err := s.br.ReadSlice('<')
			if len(chunk) > 0 && chunk[len(chunk)-1] == '<' {
				s.text = append(s.text, chunk[:len(chunk)-1]...)
			} else {
				s.text = append(s.text, chunk...)
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if err != nil {
				return eofOr(err)
			}
		} else {
			for {
				_, err := s.br.ReadSlice('<')
				if err == nil {
					break
				}
				if !errors.Is(err, bufio.ErrBufferFull) {
					return eofOr(err)
				}
			}
		}
		c, err := s.br.ReadByte()
		if err != nil {
			return unexpected(err)
		}
		switch c {
		case '?':
			if err := s.skipPast("?>"); err != nil {
				return err
			}
			continue
		case '!':
			if err := s.bang(); err != nil {
				return err
			}
			continue
		case '/':
			s.end, s.selfClosing = true, false
			if err := s.readName(); err != nil {
				return err
			}
			if err := s.skipSpace(); err != nil {
				return err
			}
			if c, err := s.br.ReadByte(); err != nil || c != '>' {
				return syntaxOr(err)
			}
			return nil
		default:
			if err := s.br.UnreadByte(); err != nil {
				return err
			}
			s.end, s.selfClosing = false, false
			if err := s.readName(); err != nil {
				return err
			}
			return s.readAttrs()
		}
	}
}

func eofOr(err error) error {
	if errors.Is(err, io.EOF) {
		return io.EOF
	}
	return err
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

func syntaxOr(err error) error {
	if err != nil {
		return unexpected(err)
	}
	return errSyntax
}

// bang handles what follows "<!": a comment, a CDATA section or a
// declaration.
func (s *sheetScanner) bang() error {
	head, err := s.br.Peek(2)
	if err == nil && string(head) == "--" {
		s.br.Discard(2)
		return s.skipPast("-->")
	}
	head, err = s.br.Peek(7)
	if err == nil && string(head) == "[CDATA[" {
		s.br.Discard(7)
		var cdata []byte
		for {
			b, err := s.br.ReadSlice('>')
			cdata = append(cdata, b...)
			if err == nil && bytes.HasSuffix(cdata, []byte("]]>")) {
				break
			}
			if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
				return unexpected(err)
			}
		}
		if s.collect {
			// The collected text is unescaped as a whole; CDATA is literal.
			cdata = bytes.ReplaceAll(cdata[:len(cdata)-3], []byte("&"), []byte("&amp;"))
			s.text = append(s.text, cdata...)
		}
		return nil
	}
	// A declaration such as <!DOCTYPE ...>: angle brackets nest, except
	// inside quotes and comments. Like encoding/xml, the first character is
	// taken as it is.
	if _, err := s.br.ReadByte(); err != nil {
		return unexpected(err)
	}
	var quote byte
	depth := 0
	for {
		c, err := s.br.ReadByte()
		if err != nil {
			return unexpected(err)
		}
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '>':
			if depth == 0 {
				return nil
			}
			depth--
		case c == '<':
			if head, err := s.br.Peek(3); err == nil && string(head) == "!--" {
				s.br.Discard(3)
				if err := s.skipPast("-->"); err != nil {
					return err
				}
				continue
			}
			depth++
		}
	}
}

// skipPast discards input up to and including the marker.
func (s *sheetScanner) skipPast(marker string) error {
	last := marker[len(marker)-1]
	window := make([]byte, 0, len(marker))
	for {
		c, err := s.br.ReadByte()
		if err != nil {
			return unexpected(err)
		}
		if len(window) == len(marker) {
			copy(window, window[1:])
			window = window[:len(marker)-1]
		}
		window = append(window, c)
		if c == last && string(window) == marker {
			return nil
		}
	}
}

func isXMLSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

func (s *sheetScanner) skipSpace() error {
	for {
		c, err := s.br.ReadByte()
		if err != nil {
			return unexpected(err)
		}
		if !isXMLSpace(c) {
			return s.br.UnreadByte()
		}
	}
}

// readName reads a tag or attribute name into s.name, keeping its local part.
func (s *sheetScanner) readName() error {
	s.name = s.name[:0]
	for {
		c, err := s.br.ReadByte()
		if err != nil {
			return unexpected(err)
		}
		if isXMLSpace(c) || c == '>' || c == '/' || c == '=' {
			if len(s.name) == 0 {
				return errSyntax
			}
			return s.br.UnreadByte()
		}
		if c == ':' {
			s.name = s.name[:0]
			continue
		}
		s.name = append(s.name, c)
	}
}

// interesting reports whether the attributes of the tag just named matter.
func (s *sheetScanner) interesting() bool {
	switch string(s.name) {
	case "c", "row", "dimension":
		return true
	}
	return false
}

// readAttrs reads the attributes of a start tag up to its '>' or '/>'.
func (s *sheetScanner) readAttrs() error {
	keep := s.interesting()
	s.attrs = s.attrs[:0]
	for {
		if err := s.skipSpace(); err != nil {
			return err
		}
		c, err := s.br.ReadByte()
		if err != nil {
			return unexpected(err)
		}
		switch c {
		case '>':
			return nil
		case '/':
			if c, err := s.br.ReadByte(); err != nil || c != '>' {
				return syntaxOr(err)
			}
			s.selfClosing = true
			return nil
		}
		s.br.UnreadByte()
		tagName := s.name
		s.name = s.scratch[:0]
		if err := s.readName(); err != nil {
			return err
		}
		attrName := string(s.name)
		s.scratch, s.name = s.name, tagName
		if err := s.skipSpace(); err != nil {
			return err
		}
		if c, err := s.br.ReadByte(); err != nil || c != '=' {
			return syntaxOr(err)
		}
		if err := s.skipSpace(); err != nil {
			return err
		}
		q, err := s.br.ReadByte()
		if err != nil {
			return unexpected(err)
		}
		if q != '"' && q != '\'' {
			return errSyntax
		}
		var value []byte
		for {
			b, err := s.br.ReadSlice(q)
			if keep {
				value = append(value, b...)
			}
			if err == nil {
				break
			}
			if !errors.Is(err, bufio.ErrBufferFull) {
				return unexpected(err)
			}
		}
		if keep {
			value = unescapeXML(value[:len(value)-1])
			s.attrs = append(s.attrs, xmlAttr{name: attrName, value: value})
		}
	}
}

// attr returns an attribute of the tag just read.
func (s *sheetScanner) attr(name string) string {
	for _, a := range s.attrs {
		if a.name == name {
			return string(a.value)
		}
	}
	return ""
}

// unescapeXML replaces the predefined entities and character references;
// anything else is left as written.
func unescapeXML(b []byte) []byte {
	if bytes.IndexByte(b, '&') < 0 && bytes.IndexByte(b, '\r') < 0 {
		return b
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c == '\r' {
			// XML normalises line ends to \n.
			out = append(out, '\n')
			if i+1 < len(b) && b[i+1] == '\n' {
				i++
			}
			continue
		}
		if c != '&' {
			out = append(out, c)
			continue
		}
		j := bytes.IndexByte(b[i:], ';')
		if j < 0 {
			out = append(out, c)
			continue
		}
		ent := string(b[i+1 : i+j])
		switch ent {
		case "lt":
			out = append(out, '<')
		case "gt":
			out = append(out, '>')
		case "amp":
			out = append(out, '&')
		case "quot":
			out = append(out, '"')
		case "apos":
			out = append(out, '\'')
		default:
			var n uint64
			var err error = errSyntax
			if len(ent) > 2 && (ent[:2] == "#x" || ent[:2] == "#X") {
				n, err = strconv.ParseUint(ent[2:], 16, 32)
			} else if len(ent) > 1 && ent[0] == '#' {
				n, err = strconv.ParseUint(ent[1:], 10, 32)
			}
			if err != nil || !utf8.ValidRune(rune(n)) {
				out = append(out, c)
				continue
			}
			out = utf8.AppendRune(out, rune(n))
		}
		i += j
	}
	return out
}

// next advances to the next <row> element and reads its cells. It returns
// false at the end of the sheet data.
func (s *sheetScanner) next() (bool, error) {
	if s.done {
		return false, nil
	}
	for {
		err := s.tag()
		if errors.Is(err, io.EOF) {
			s.done = true
			return false, nil
		}
		if err != nil {
			return false, err
		}
		switch {
		case !s.end && string(s.name) == "dimension":
			s.dimension = s.attr("ref")
		case !s.end && string(s.name) == "row":
			n := s.row + 1
			if v := s.attr("r"); v != "" {
				if n, err = strconv.Atoi(v); err != nil || n < 1 || n > excelize.TotalRows {
					return false, fmt.Errorf("bad row number %q", v)
				}
			}
			s.row = n
			s.cells = s.cells[:0]
			if s.selfClosing {
				return true, nil
			}
			return true, s.readRow()
		case s.end && string(s.name) == "sheetData":
			s.done = true
			return false, nil
		}
	}
}

// readRow reads the cells of the current row up to its end tag.
func (s *sheetScanner) readRow() error {
	col := 0
	var cur *cellMeta
	in := "" // element whose text is being collected: "f" or "v"
	for {
		err := s.tag()
		if err != nil {
			return unexpected(err)
		}
		name := string(s.name)
		if !s.end {
			switch name {
			case "c":
				col++
				if ref := s.attr("r"); ref != "" {
					c, _, err := excelize.CellNameToCoordinates(ref)
					if err != nil {
						return fmt.Errorf("bad cell reference %q", ref)
					}
					col = c
				}
				s.cells = append(s.cells, cellMeta{col: col, typ: s.attr("t")})
				cur = &s.cells[len(s.cells)-1]
				if v := s.attr("vm"); v != "" {
					cur.vm, _ = strconv.Atoi(v)
				}
				if s.selfClosing {
					cur = nil
				}
			case "f", "v":
				if cur != nil && !s.selfClosing {
					in, s.text, s.collect = name, s.text[:0], true
				}
			}
			continue
		}
		switch name {
		case "f":
			if cur != nil && in == "f" {
				cur.formula = string(unescapeXML(s.text))
			}
			in, s.collect = "", false
		case "v":
			if cur != nil && in == "v" && (cur.formula != "" || cur.typ == "str") {
				cur.value = string(unescapeXML(s.text))
			}
			in, s.collect = "", false
		case "c":
			cur = nil
		case "row":
			return nil
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
