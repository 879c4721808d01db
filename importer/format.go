package importer

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"
)

// A numeric cell is read as the text Excel shows: its value through its
// cell format's number format. excelize knows Excel's number formats; the
// formatter hands it one cell at a time in a workbook of its own, which
// holds nothing of the uploaded file but its number formats and its cell
// formats' choice among them. It is built on the first cell that needs it.

const (
	// maxCellFormats is how many cell formats are read (Excel allows
	// 64,000); later ones show their cells as General.
	maxCellFormats = 1 << 16
	// maxNumberFormats is how many custom number formats are read.
	maxNumberFormats = 1 << 12
	// formatterRenew is after how many formatted text cells the formatter's
	// workbook is built again (excelize keeps each text in its own shared
	// strings table).
	formatterRenew = 4096
)

// formatter formats cell values as excelize would.
type formatter struct {
	book       *pkg
	stylesPart string
	date1904   bool

	ready  bool
	err    error
	styles []byte // the formatter workbook's styles.xml
	xfs    int    // cell formats read
	f      *excelize.File
	texts  int          // text cells formatted by f
	plain  map[int]bool // cell format -> text is shown as written
	xfFmt  []int        // number format of each cell format read
	dates  map[int]bool // custom number formats that show a date or time
}

const fmtSheet = "Sheet1"

// init reads the number formats of the workbook's styles part.
func (fm *formatter) init() error {
	if fm.ready {
		return fm.err
	}
	fm.ready = true
	fm.plain = map[int]bool{}
	fm.dates = map[int]bool{}
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?><styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">`)
	if f := fm.book.file(fm.stylesPart); f != nil {
		rc, err := f.Open()
		if err != nil {
			fm.err = err
			return err
		}
		defer rc.Close()
		if fm.err = fm.readStyles(rc, &b); fm.err != nil {
			return fm.err
		}
	} else {
		b.WriteString(`<cellXfs count="1"><xf numFmtId="0"/></cellXfs>`)
		fm.xfs = 1
	}
	b.WriteString(`</styleSheet>`)
	fm.styles = []byte(b.String())
	return nil
}

// readStyles copies the <numFmts> and the number format of each <cellXfs>
// entry of a styles part to out.
func (fm *formatter) readStyles(r io.Reader, out *strings.Builder) error {
	x := newXMLScanner(r)
	x.attrMax = 4 << 10
	x.wantAttr = func(tag, a []byte) (string, bool) {
		switch string(tag) {
		case "numFmt":
			switch string(a) {
			case "numFmtId":
				return "numFmtId", true
			case "formatCode":
				return "formatCode", true
			}
		case "xf":
			if string(a) == "numFmtId" {
				return "numFmtId", true
			}
		}
		return "", false
	}
	var fmts, xfs strings.Builder
	nFmts := 0
	section, sectionDepth := "", 0 // "numFmts" or "cellXfs", and its depth
	for {
		err := x.tag()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		name := string(x.name)
		switch {
		case !x.end && section == "" && (name == "numFmts" || name == "cellXfs") && !x.selfClosing:
			section, sectionDepth = name, x.depth
		case x.end && section != "" && x.depth < sectionDepth:
			section = ""
		case !x.end && section == "numFmts" && name == "numFmt" && x.depth <= sectionDepth+1:
			id, err := strconv.Atoi(strings.TrimSpace(x.attr("numFmtId")))
			if err == nil && nFmts < maxNumberFormats {
				nFmts++
				if isDateFormat(x.attr("formatCode")) {
					fm.dates[id] = true
				}
				fmt.Fprintf(&fmts, `<numFmt numFmtId="%d" formatCode="%s"/>`, id, xmlEscape(x.attr("formatCode")))
			}
		case !x.end && section == "cellXfs" && name == "xf" && x.depth <= sectionDepth+1:
			if fm.xfs < maxCellFormats {
				id, err := strconv.Atoi(strings.TrimSpace(x.attr("numFmtId")))
				if err != nil || id < 0 {
					id = 0
				}
				fm.xfs++
				fm.xfFmt = append(fm.xfFmt, id)
				fmt.Fprintf(&xfs, `<xf numFmtId="%d"/>`, id)
			}
		}
	}
	if nFmts > 0 {
		fmt.Fprintf(out, `<numFmts count="%d">%s</numFmts>`, nFmts, fmts.String())
	}
	if fm.xfs == 0 {
		xfs.WriteString(`<xf numFmtId="0"/>`)
		fm.xfs = 1
	}
	fmt.Fprintf(out, `<cellXfs count="%d">%s</cellXfs>`, fm.xfs, xfs.String())
	return nil
}

func xmlEscape(s string) string {
	var b bytes.Buffer
	if err := xmlEscapeTo(&b, s); err != nil {
		return ""
	}
	return b.String()
}

func xmlEscapeTo(w io.Writer, s string) error {
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;", "\r", "&#13;", "\n", "&#10;", "\t", "&#9;")
	_, err := r.WriteString(w, s)
	return err
}

// file returns the formatter's workbook, building it if needed.
func (fm *formatter) file() (*excelize.File, error) {
	if err := fm.init(); err != nil {
		return nil, err
	}
	if fm.f != nil && fm.texts < formatterRenew {
		return fm.f, nil
	}
	if fm.f != nil {
		fm.f.Close()
		fm.f = nil
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	pr := ""
	if fm.date1904 {
		pr = `<workbookPr date1904="1"/>`
	}
	for _, p := range [][2]string{
		{"[Content_Types].xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>`},
		{"_rels/.rels", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`},
		{"xl/workbook.xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">` + pr + `<sheets><sheet name="` + fmtSheet + `" sheetId="1" r:id="rId1"/></sheets></workbook>`},
		{"xl/_rels/workbook.xml.rels", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>`},
		{"xl/worksheets/sheet1.xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData/></worksheet>`},
		{"xl/styles.xml", string(fm.styles)},
	} {
		w, err := zw.Create(p[0])
		if err != nil {
			return nil, err
		}
		io.WriteString(w, p[1])
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	f, err := excelize.OpenReader(&buf)
	if err != nil {
		return nil, err
	}
	fm.f, fm.texts = f, 0
	return f, nil
}

// value shows a cell that is not text (a number, a boolean, a date or an
// error) as excelize would.
func (fm *formatter) value(typ string, style int, v string) (string, error) {
	switch typ {
	case "e", "str":
		return v, nil
	case "b":
		switch v {
		case "1":
			return "TRUE", nil
		case "0":
			return "FALSE", nil
		}
	case "d":
		v = dateSerial(v)
	}
	if v == "" {
		return "", nil
	}
	f, err := fm.file()
	if err != nil {
		return "", err
	}
	if err := f.SetCellDefault(fmtSheet, "A1", v); err != nil {
		return "", err
	}
	return fm.styled(f, style)
}

// text shows a text cell through its cell format, which changes it only
// when the format has a text section such as "ID "@.
func (fm *formatter) text(style int, v string) (string, error) {
	if style <= 0 {
		return v, nil
	}
	if err := fm.init(); err != nil {
		return "", err
	}
	if style >= fm.xfs {
		return v, nil
	}
	plain, known := fm.plain[style]
	if !known {
		const probe = "onboard text probe"
		got, err := fm.formatText(style, probe)
		if err != nil {
			return "", err
		}
		plain = got == probe
		fm.plain[style] = plain
	}
	if plain {
		return v, nil
	}
	return fm.formatText(style, v)
}

func (fm *formatter) formatText(style int, v string) (string, error) {
	f, err := fm.file()
	if err != nil {
		return "", err
	}
	fm.texts++
	// excelize decodes _xHHHH_ escapes of what it is given; v is decoded
	// already, so its underscores are escaped.
	if err := f.SetCellStr(fmtSheet, "A1", strings.ReplaceAll(v, "_x", "_x005F_x")); err != nil {
		return "", err
	}
	return fm.styled(f, style)
}

func (fm *formatter) styled(f *excelize.File, style int) (string, error) {
	if style < 0 || style >= fm.xfs {
		style = 0
	}
	if err := f.SetCellStyle(fmtSheet, "A1", "A1", style); err != nil {
		return "", err
	}
	return f.GetCellValue(fmtSheet, "A1")
}

func (fm *formatter) Close() error {
	if fm.f != nil {
		err := fm.f.Close()
		fm.f = nil
		return err
	}
	return nil
}

// dateSerial turns an ISO 8601 date cell (t="d") into Excel's serial day
// number, as excelize reads such cells; anything else is left as it is.
func dateSerial(v string) string {
	layout := "20060102T150405.999"
	if strings.HasSuffix(v, "Z") {
		layout = "20060102T150405Z"
		if strings.Contains(v, "-") {
			layout = "2006-01-02T15:04:05Z"
		}
	} else if strings.Contains(v, "-") {
		layout = "2006-01-02 15:04:05Z"
	}
	t, err := time.Parse(layout, strings.ReplaceAll(v, ",", "."))
	if err != nil {
		return v
	}
	epoch := time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC)
	days := t.Sub(epoch).Hours() / 24
	if t.Before(time.Date(1900, 3, 1, 0, 0, 0, 0, time.UTC)) {
		days-- // Excel counts a 29 February 1900 that never was
	}
	return strconv.FormatFloat(days, 'G', 15, 64)
}

// isDate reports whether a cell format shows numbers as dates or times.
func (fm *formatter) isDate(style int) bool {
	if fm.init() != nil || style < 0 || style >= len(fm.xfFmt) {
		return false
	}
	id := fm.xfFmt[style]
	switch {
	case id >= 14 && id <= 22, id >= 27 && id <= 36, id >= 45 && id <= 47, id >= 50 && id <= 58:
		return true
	}
	return fm.dates[id]
}

// isDateFormat reports whether a number format code shows a date or a
// time: whether, outside quoted text, escapes and bracketed colours or
// conditions, it uses a year, month, day, hour or second.
func isDateFormat(code string) bool {
	in := code
	for len(in) > 0 {
		c := in[0]
		switch {
		case c == '"':
			if i := strings.IndexByte(in[1:], '"'); i >= 0 {
				in = in[i+2:]
				continue
			}
			return false
		case c == '\\' || c == '_' || c == '*':
			in = in[min(2, len(in)):]
			continue
		case c == '[':
			i := strings.IndexByte(in, ']')
			if i < 0 {
				return false
			}
			switch strings.ToLower(strings.Trim(in[1:i], "hms")) {
			case "":
				return true // elapsed time: [h], [mm], [ss]
			}
			in = in[i+1:]
			continue
		}
		switch c | 0x20 {
		case 'y', 'm', 'd', 'h', 's':
			return true
		}
		in = in[1:]
	}
	return false
}
