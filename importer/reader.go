package importer

import (
	"cmp"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/ess-onboard/onboard"
)

const fieldLicense = onboard.FieldBusinessLicense

// rawRow is one <row> of the sheet as read, before the rules are applied.
type rawRow struct {
	num       int
	vals      []string   // displayed text per column, 0-based
	metas     []cellMeta // the cells of the row
	truncated bool       // the row held more text than was read
	hidden    bool       // the row is hidden in the sheet
}

// meta returns the attributes of the cell in a 1-based column, or nil.
func (w *rawRow) meta(col int) *cellMeta {
	for i := range w.metas {
		if w.metas[i].col == col {
			return &w.metas[i]
		}
	}
	return nil
}

// readRaw reads the next <row> element of the sheet and the text its cells
// show.
func (r *Reader) readRaw() (*rawRow, error) {
	ok, err := r.scan.next()
	if err != nil {
		return nil, r.damaged(err)
	}
	if !ok {
		return nil, io.EOF
	}
	n := r.scan.row
	if n <= r.lastRow {
		return nil, r.damaged(fmt.Errorf("row %d comes after row %d", n, r.lastRow))
	}
	r.lastRow = n
	raw := &rawRow{num: n, metas: append([]cellMeta(nil), r.scan.cells...), truncated: r.scan.truncated, hidden: r.scan.hidden}
	if raw.hidden {
		r.hidden = append(r.hidden, n)
	}
	width := 0
	for i := range raw.metas {
		width = max(width, raw.metas[i].col)
	}
	raw.vals = make([]string, width)
	for i := range raw.metas {
		m := &raw.metas[i]
		v, err := r.display(m)
		if err != nil {
			return nil, r.damaged(err)
		}
		raw.vals[m.col-1] = v
	}
	return raw, nil
}

// display is the text a cell shows in Excel.
func (r *Reader) display(m *cellMeta) (string, error) {
	switch m.typ {
	case "s":
		if m.value == "" {
			return "", nil
		}
		if r.sst == nil {
			return "", fmt.Errorf("a cell shows a shared string, but the workbook has none")
		}
		i, _ := strconv.Atoi(strings.TrimSpace(m.value)) // as excelize: not a number is string 0
		v, err := r.sst.get(i)
		if err != nil {
			return "", err
		}
		return r.format.text(m.style, v)
	case "inlineStr":
		if m.hasIS {
			return r.format.text(m.style, string(decodeEscapes([]byte(m.inline), r.opts.MaxRowText+1)))
		}
		return r.format.text(m.style, m.value)
	}
	return r.format.value(m.typ, m.style, m.value)
}

// damaged is the error for a sheet that turned out unreadable part-way.
func (r *Reader) damaged(err error) error {
	if r.scan.row == 0 {
		return refuse("file.sheet_damaged", "Sheet", r.sheet, "File", r.fileName, "Detail", err.Error())
	}
	return refuse("file.sheet_damaged_after", "Sheet", r.sheet, "File", r.fileName, "Row", itoa(r.scan.row), "Detail", err.Error())
}

// findHeader reads the first rows until one holds both required headers.
func (r *Reader) findHeader() error {
	partialRow, partialMissing := 0, ""
	for {
		raw, err := r.readRaw()
		if errors.Is(err, io.EOF) || (err == nil && raw.num > headerSearchRows) {
			if partialRow != 0 {
				return refuse("file.header_incomplete", "Sheet", r.sheet, "Row", itoa(partialRow), "Missing", partialMissing)
			}
			return refuse("file.no_header", "Sheet", r.sheet, "Rows", itoa(headerSearchRows))
		}
		if err != nil {
			return err
		}
		fields := make([]string, len(raw.vals))
		colOf := map[string]int{}
		var dup error
		for i, v := range raw.vals {
			f, ok := MatchHeader(v)
			if !ok {
				continue
			}
			fields[i] = f
			if j, seen := colOf[f]; seen {
				if dup == nil {
					dup = refuse("file.duplicate_header", "Row", itoa(raw.num), "Field", f,
						"Column", colName(j), "Header", trimCell(raw.vals[j]), "Column2", colName(i), "Header2", trimCell(v))
				}
				continue
			}
			colOf[f] = i
		}
		_, hasID := colOf[onboard.FieldOpenID]
		_, hasName := colOf[onboard.FieldName]
		if !hasID || !hasName {
			if partialRow == 0 && (hasID || hasName) {
				partialRow, partialMissing = raw.num, onboard.FieldName
				if !hasID {
					partialMissing = onboard.FieldOpenID
				}
			}
			continue
		}
		if dup != nil {
			return dup
		}
		last := 0
		for i, v := range raw.vals {
			if trimCell(v) != "" {
				last = i + 1
			}
		}
		if raw.truncated {
			return refuse("file.header_too_long", "Row", itoa(raw.num), "Sheet", r.sheet, "Limit", fmtBytes(headerRowText))
		}
		if last > r.opts.MaxColumns {
			return refuse("file.too_many_columns", "Row", itoa(raw.num), "Sheet", r.sheet, "Column", colName(last-1),
				"Count", itoa(last), "Max", itoa(r.opts.MaxColumns), "MaxColumn", colName(r.opts.MaxColumns-1))
		}
		r.headerRow = raw.num
		r.headers = make([]string, last)
		for i := 0; i < last; i++ {
			r.headers[i] = trimCell(raw.vals[i])
		}
		r.fields = fields[:last]
		r.colOf = colOf
		return nil
	}
}

// colName is the letter name of a 0-based column.
func colName(i int) string {
	s := ""
	for i++; i > 0; i = (i - 1) / 26 {
		s = string(rune('A'+(i-1)%26)) + s
	}
	return s
}

// nextRaw returns the next row to consider: a row of the sheet, or a row the
// sheet leaves empty but that has a picture in the license column.
func (r *Reader) nextRaw() (*rawRow, error) {
	if r.peek == nil && !r.eof {
		raw, err := r.readRaw()
		switch {
		case errors.Is(err, io.EOF):
			r.eof = true
		case err != nil:
			return nil, err
		default:
			r.peek = raw
		}
	}
	if r.picNext < len(r.picRows) {
		p := r.picRows[r.picNext]
		if r.eof || p < r.peek.num {
			r.picNext++
			return &rawRow{num: p}, nil
		}
		if p == r.peek.num {
			r.picNext++
		}
	}
	if r.eof {
		return nil, io.EOF
	}
	raw := r.peek
	r.peek = nil
	return raw, nil
}

func (r *Reader) next() (*onboard.Row, error) {
	if r.err != nil {
		return nil, r.err
	}
	for {
		raw, err := r.nextRaw()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				r.err = err
			}
			return nil, err
		}
		if row := r.buildRow(raw); row != nil {
			if r.rows++; r.rows > r.opts.MaxRows {
				r.err = r.tooManyRows()
				return nil, r.err
			}
			return row, nil
		}
	}
}

// fmtBytes formats a byte count for messages: 16 KiB, 1 MiB, 900 bytes.
func fmtBytes(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// limitRowText rejects a row whose cells hold more text than a row may and
// cuts its cells to fit, so that what is stored of it stays bounded.
func (r *Reader) limitRowText(row *onboard.Row, truncated bool) {
	total, longest := 0, 0
	for i, c := range row.Cells {
		total += len(c)
		if len(c) > len(row.Cells[longest]) {
			longest = i
		}
	}
	limit := r.opts.MaxRowText
	if total <= limit && !truncated {
		return
	}
	column := ""
	if longest < len(r.headers) {
		column = r.headers[longest]
	}
	row.Errors = append(row.Errors, rowError(row.Number, column, "", "row.too_much_text", "Limit", fmtBytes(limit), "Column", colName(longest)))
	left := limit
	for i, c := range row.Cells {
		if len(c) > left {
			c = truncateUTF8(c, left)
		}
		row.Cells[i] = c
		left -= len(c)
	}
}

// truncateUTF8 cuts s to at most n bytes without splitting a character.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// openIDKey is what duplicate detection keeps of an OpenId.
func openIDKey(id string) [16]byte {
	sum := sha256.Sum256([]byte(id))
	var k [16]byte
	copy(k[:], sum[:])
	return k
}

// Fields of the warnings about how a row sits in the sheet rather than
// about one of its values. The results file lays the sheet out again from
// Reader.Merges and Reader.HiddenRows, not from these.
const (
	WarnHiddenRow   = "hidden row"
	WarnMergedCells = "merged cells"
)

// buildRow applies the contract to one raw row; nil means the row is blank.
func (r *Reader) buildRow(raw *rawRow) *onboard.Row {
	var fills []mergeFill
	if r.merges != nil {
		var err error
		if fills, err = r.merges.at(raw); err != nil {
			r.err = r.damaged(err)
			return nil
		}
	}
	licCol, hasLic := r.colOf[fieldLicense]
	var pics []pictureRef
	if hasLic && r.pictures != nil {
		pics = r.pictures.at(raw.num, raw.meta(licCol+1))
	}
	cells := make([]cellValue, len(r.headers))
	display := make([]string, len(r.headers))
	blank := len(pics) == 0
	for i := range r.headers {
		var c cellValue
		if i < len(raw.vals) {
			c.text = raw.vals[i]
		}
		if m := raw.meta(i + 1); m != nil {
			if m.vm > 0 || isDispImg(m) {
				// An in-cell picture: its text is a placeholder.
				c.text = ""
			} else {
				r.classify(&c, m)
			}
		}
		display[i] = c.text
		cells[i] = c
		if trimCell(c.text) != "" {
			blank = false
		}
	}
	if blank {
		// A row that holds nothing of its own is not a company, whatever
		// merged range reaches down over it.
		return nil
	}
	mergedKey := map[int]mergeFill{} // 0-based column of a key field -> its fill
	for _, f := range fills {
		if f.col >= len(cells) || f.col == licCol && hasLic {
			continue
		}
		var c cellValue
		c.text = f.text
		r.classify(&c, &f.meta)
		cells[f.col] = c
		display[f.col] = f.text
		if fd := r.fields[f.col]; fd == onboard.FieldOpenID || fd == onboard.FieldName {
			mergedKey[f.col] = f
		}
	}
	// Invisible characters are taken out of every cell the rules read;
	// the cells kept for the results file stay as they were.
	var invisible []string
	invisibleField := ""
	for i := range cells {
		if t, n := stripInvisible(cells[i].text); n > 0 {
			cells[i].text = t
			invisible = append(invisible, fmt.Sprintf("%s (%s)", colName(i), r.headers[i]))
			if invisibleField == "" {
				invisibleField = cmp.Or(r.fields[i], r.headers[i])
			}
		}
	}
	row := checkRow(raw.num, r.headers, r.fields, cells, r.opts.Now())
	row.Cells = display
	r.limitRowText(row, raw.truncated)
	if hasLic {
		r.attachLicense(row, pics, cells[licCol], licCol)
	}
	if len(invisible) > 0 {
		row.Warnings = append(row.Warnings, rowWarning(raw.num, invisibleField, "row.invisible_chars", "Columns", strings.Join(invisible, ", ")))
	}
	for _, f := range fills {
		if f.col >= len(r.headers) {
			continue
		}
		if _, key := mergedKey[f.col]; key {
			code := "name.merged"
			if r.fields[f.col] == onboard.FieldOpenID {
				code = "open_id.merged"
			}
			row.Errors = append(row.Errors, rowError(raw.num, r.headers[f.col], r.fields[f.col], code,
				"Range", f.rng.ref(), "Row", itoa(f.rng.r1)))
			continue
		}
		row.Warnings = append(row.Warnings, rowWarning(raw.num, WarnMergedCells, "row.merged_cells",
			"Column", colName(f.col), "Header", r.headers[f.col], "Range", f.rng.ref(), "Row", itoa(f.rng.r1)))
	}
	if raw.hidden {
		row.Warnings = append(row.Warnings, rowWarning(raw.num, WarnHiddenRow, "row.hidden", "Row", itoa(raw.num)))
	}
	_, mergedID := mergedKey[r.colOf[onboard.FieldOpenID]]
	if mergedID {
		row.Data.OpenID = ""
	}
	if id := row.Data.OpenID; id != "" {
		key := openIDKey(id)
		if first, dup := r.seen[key]; dup {
			row.Errors = append(row.Errors, rowError(raw.num, r.headers[r.colOf[onboard.FieldOpenID]], onboard.FieldOpenID,
				"open_id.duplicate", "Value", id, "Row", itoa(first)))
		} else {
			r.seen[key] = int32(raw.num)
		}
	}
	if len(row.Errors) > 0 {
		row.Data.License = nil
	}
	// Whatever a reason or warning quotes, an identifier in it is masked.
	for i := range row.Errors {
		row.Errors[i].Reason = MaskIDs(row.Errors[i].Reason)
		maskParams(row.Errors[i].Params)
	}
	for i := range row.Warnings {
		row.Warnings[i].Message = MaskIDs(row.Warnings[i].Message)
		maskParams(row.Warnings[i].Params)
	}
	return row
}

// classify records what kind of value a cell's attributes say it holds.
func (r *Reader) classify(c *cellValue, m *cellMeta) {
	c.numeric = m.numeric() && trimCell(c.text) != ""
	c.errorValue = m.typ == "e"
	c.noCache = m.hasF && !m.hasV && !m.hasIS && m.typ != "inlineStr"
	c.date = m.typ == "d" || c.numeric && r.format.isDate(m.style)
}

// invisibleChars are removed from every cell: zero-width spaces, joiners
// and marks, the byte order mark, and soft hyphens.
func isInvisible(c rune) bool {
	switch c {
	case '\u200B', '\u200C', '\u200D', '\u2060', '\uFEFF', '\u00AD', '\u180E':
		return true
	}
	return false
}

// stripInvisible removes invisible characters, returning how many.
func stripInvisible(s string) (string, int) {
	n := 0
	for i := 0; i < len(s); i++ {
		// The first bytes of the characters' UTF-8 forms.
		switch s[i] {
		case 0xC2, 0xE1, 0xE2, 0xEF:
			if c, _ := utf8.DecodeRuneInString(s[i:]); isInvisible(c) {
				n++
			}
		}
	}
	if n == 0 {
		return s, 0
	}
	return strings.Map(func(c rune) rune {
		if isInvisible(c) {
			return -1
		}
		return c
	}, s), n
}

func (r *Reader) close() error {
	var errs []error
	if r.scan != nil {
		errs = append(errs, r.scan.Close())
		r.scan = nil
	}
	if r.sst != nil {
		errs = append(errs, r.sst.Close())
		r.sst = nil
	}
	if r.format != nil {
		errs = append(errs, r.format.Close())
		r.format = nil
	}
	if r.book != nil {
		if r.book.zr != r.upload {
			errs = append(errs, r.book.zr.Close())
		}
		r.book = nil
	}
	if r.upload != nil {
		errs = append(errs, r.upload.Close())
		r.upload = nil
	}
	if r.tmpDir != "" {
		errs = append(errs, os.RemoveAll(r.tmpDir))
		r.tmpDir = ""
	}
	if r.err == nil {
		r.err = errors.New("importer: reader is closed")
	}
	return errors.Join(errs...)
}

// isDispImg reports whether a cell holds WPS's DISPIMG formula.
func isDispImg(m *cellMeta) bool {
	return dispImgID(m) != ""
}

// dispImgID returns the picture id of a WPS =DISPIMG("ID_...",1) cell.
func dispImgID(m *cellMeta) string {
	for _, s := range []string{m.formula, m.value} {
		t := strings.TrimPrefix(strings.TrimSpace(s), "=")
		t = strings.TrimPrefix(t, "_xlfn.")
		if len(t) < 7 || !strings.EqualFold(t[:7], "DISPIMG") {
			continue
		}
		if i := strings.IndexByte(t, '"'); i >= 0 {
			if j := strings.IndexByte(t[i+1:], '"'); j >= 0 {
				return t[i+1 : i+1+j]
			}
		}
	}
	return ""
}
