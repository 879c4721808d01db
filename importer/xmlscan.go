package importer

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// Bounds of the XML tokenizer, whatever a part holds.
const (
	// maxXMLDepth is how deeply elements may nest. Real parts nest fewer
	// than twenty deep.
	maxXMLDepth = 1000
	// maxAttrValue is the longest attribute value a part read with
	// encoding/xml may hold (encoding/xml keeps every attribute in memory).
	maxAttrValue = 64 << 10
	// maxTextRun is the longest text between two tags such a part may hold.
	maxTextRun = 1 << 20
)

var (
	errSyntax      = errors.New("XML syntax error")
	errTooDeep     = fmt.Errorf("elements nest more than %d deep", maxXMLDepth)
	errLongAttr    = errors.New("an attribute value is too long")
	errLongTextRun = errors.New("a text is too long")
)

type xmlAttr struct {
	name  string
	value []byte
}

// xmlScanner is a small streaming XML tokenizer. It looks at tags, keeps
// the attributes its caller wants and collects text on request, and holds
// nothing else: however large a part, its memory is bounded by the limits
// below, and it never expands entities beyond the predefined ones.
//
// It is not a validating parser: like encoding/xml in non-strict mode it
// accepts what it can make sense of, and it does not check that end tags
// match start tags.
type xmlScanner struct {
	br *bufio.Reader

	// The tag just read.
	end, selfClosing bool
	name             []byte    // local name
	attrs            []xmlAttr // the wanted attributes, unescaped
	depth            int       // elements open after this tag

	// wantAttr reports whether an attribute of a tag is wanted, and the
	// name to keep it under (a constant, so that no name is allocated).
	wantAttr func(tag, attr []byte) (string, bool)
	// attrMax caps wanted attribute values: a longer one is an error.
	attrMax int
	// anyAttrMax, when positive, caps every attribute value.
	anyAttrMax int
	// runMax, when positive, caps the text between two tags while not
	// collecting.
	runMax int

	// Text collection: while collect is set, text (including CDATA) is
	// appended to text, up to textMax bytes; textOver records that some
	// was dropped.
	collect  bool
	text     []byte
	textMax  int
	textOver bool

	scratch []byte
}

func newXMLScanner(r io.Reader) *xmlScanner {
	return &xmlScanner{br: bufio.NewReaderSize(r, 64<<10), attrMax: 256}
}

// collectText starts collecting text, keeping at most max bytes.
func (s *xmlScanner) collectText(max int) {
	s.collect, s.text, s.textMax, s.textOver = true, s.text[:0], max, false
}

func (s *xmlScanner) appendText(b []byte) {
	if room := s.textMax - len(s.text); len(b) > room {
		if room > 0 {
			s.text = append(s.text, b[:room]...)
		}
		s.textOver = true
		return
	}
	s.text = append(s.text, b...)
}

// tag reads up to and including the next start or end tag, skipping
// declarations, comments and processing instructions. It returns io.EOF at
// the end.
func (s *xmlScanner) tag() error {
	for {
		if s.collect {
			chunk, err := s.br.ReadSlice('<')
			if err == nil {
				s.appendText(chunk[:len(chunk)-1])
			} else {
				s.appendText(chunk)
			}
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if err != nil {
				return eofOr(err)
			}
		} else {
			run := 0
			for {
				chunk, err := s.br.ReadSlice('<')
				run += len(chunk)
				if s.runMax > 0 && run > s.runMax+1 {
					return errLongTextRun
				}
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
			if s.depth > 0 {
				s.depth--
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
			if err := s.readAttrs(); err != nil {
				return err
			}
			if !s.selfClosing {
				s.depth++
				if s.depth > maxXMLDepth {
					return errTooDeep
				}
			}
			return nil
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
func (s *xmlScanner) bang() error {
	head, err := s.br.Peek(2)
	if err == nil && string(head) == "--" {
		s.br.Discard(2)
		return s.skipPast("-->")
	}
	head, err = s.br.Peek(7)
	if err == nil && string(head) == "[CDATA[" {
		s.br.Discard(7)
		return s.cdata()
	}
	// A declaration such as <!DOCTYPE ...>: angle brackets nest, except
	// inside quotes and comments. Like encoding/xml, the first character is
	// taken as it is. Nothing of it is kept: entities it declares are never
	// expanded.
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
			if depth > maxXMLDepth {
				return errTooDeep
			}
		}
	}
}

// cdata reads a CDATA section up to "]]>", streaming: while collecting, its
// text is kept (escaped, since collected text is unescaped as a whole);
// otherwise it is only measured.
func (s *xmlScanner) cdata() error {
	// Up to two trailing ']' of the previous chunk, which may begin the
	// terminator.
	var hold [2]byte
	nh, run := 0, 0
	emit := func(b []byte) {
		run += len(b)
		s.emitCDATA(b)
	}
	for {
		chunk, err := s.br.ReadSlice('>')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return unexpected(err)
		}
		if err == nil && nh+len(chunk) >= 3 {
			// chunk ends in '>': is it the end of "]]>"?
			var last [3]byte
			for i := 0; i < 3; i++ {
				k := nh + len(chunk) - 3 + i // index into hold+chunk
				if k < nh {
					last[i] = hold[k]
				} else {
					last[i] = chunk[k-nh]
				}
			}
			if string(last[:]) == "]]>" {
				total := nh + len(chunk) - 3
				emit(hold[:min(nh, total)])
				if total > nh {
					emit(chunk[:total-nh])
				}
				return nil
			}
		}
		emit(hold[:nh])
		k := 0
		for k < 2 && k < len(chunk) && chunk[len(chunk)-1-k] == ']' {
			k++
		}
		emit(chunk[:len(chunk)-k])
		nh = copy(hold[:], chunk[len(chunk)-k:])
		if !s.collect && s.runMax > 0 && run > s.runMax {
			return errLongTextRun
		}
	}
}

func (s *xmlScanner) emitCDATA(b []byte) {
	if !s.collect || len(b) == 0 {
		return
	}
	for len(b) > 0 {
		i := bytes.IndexByte(b, '&')
		if i < 0 {
			s.appendText(b)
			return
		}
		s.appendText(b[:i])
		s.appendText([]byte("&amp;"))
		b = b[i+1:]
	}
}

// skipPast discards input up to and including the marker.
func (s *xmlScanner) skipPast(marker string) error {
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

func (s *xmlScanner) skipSpace() error {
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

// maxXMLName caps tag and attribute names.
const maxXMLName = 256

// readName reads a tag or attribute name into s.name, keeping its local part.
func (s *xmlScanner) readName() error {
	s.name = s.name[:0]
	n := 0
	for {
		c, err := s.br.ReadByte()
		if err != nil {
			return unexpected(err)
		}
		if isXMLSpace(c) || c == '>' || c == '/' || c == '=' {
			if len(s.name) == 0 {
				return errSyntax
			}
			// The local part as encoding/xml splits it: after the first
			// colon, unless that colon is the first or the last byte.
			if i := bytes.IndexByte(s.name, ':'); i >= 1 && i <= len(s.name)-2 {
				s.name = append(s.name[:0], s.name[i+1:]...)
			}
			return s.br.UnreadByte()
		}
		if n++; n > maxXMLName {
			return errors.New("a tag or attribute name is too long")
		}
		s.name = append(s.name, c)
	}
}

// readAttrs reads the attributes of a start tag up to its '>' or '/>'.
func (s *xmlScanner) readAttrs() error {
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
		keepAs, keep := "", false
		if s.wantAttr != nil {
			keepAs, keep = s.wantAttr(tagName, s.name)
		}
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
		n := 0
		for {
			b, err := s.br.ReadSlice(q)
			n += len(b)
			if keep {
				if n > s.attrMax+1 {
					return errLongAttr
				}
				value = append(value, b...)
			} else if s.anyAttrMax > 0 && n > s.anyAttrMax+1 {
				return errLongAttr
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
			s.attrs = append(s.attrs, xmlAttr{name: keepAs, value: value})
		}
	}
}

// attr returns an attribute of the tag just read.
func (s *xmlScanner) attr(name string) string {
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
		// Entities are short; do not look further for the ';'.
		j := bytes.IndexByte(b[i:min(len(b), i+12)], ';')
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

// checkXMLShape reads a whole part and fails if it nests too deep or holds
// an attribute or a text longer than encoding/xml should be given. Parts
// read with encoding/xml are checked first, so that what it holds in memory
// stays bounded.
func checkXMLShape(r io.Reader) error {
	s := newXMLScanner(r)
	s.anyAttrMax, s.runMax = maxAttrValue, maxTextRun
	for {
		if err := s.tag(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}
