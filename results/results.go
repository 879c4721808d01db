// Package results writes the results file of an imported batch: the user's
// own columns in their order, each data row on the row number it had in the
// uploaded file, followed by what became of the row. A person can fix the
// rejected rows in place and upload the file again: the importer ignores the
// added columns, and exporting such a re-upload replaces them rather than
// adding a second set. The added columns mask identifiers (ID card numbers,
// credit codes) in reasons and messages; the user's own columns are as they
// were uploaded, so that the file can be uploaded again. The file holds
// the companies' data: write it where only its owner can read it (onboard
// export writes it 0600).
package results

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/importer"
	"github.com/ess-onboard/onboard/locale"
	"github.com/ess-onboard/onboard/repository"
)

// headerIDs are the messages of the columns added after the user's own, in
// order.
var headerIDs = []string{
	"results.header.status", "results.header.reasons", "results.header.warnings", "results.header.authorization",
	"results.header.error_code", "results.header.error_message", "results.header.error_explanation",
	"results.header.login_link", "results.header.services",
}

// Headers are the columns added after the user's own, in order, in English.
var Headers = HeadersIn(locale.English)

// HeadersIn are the added columns in a language.
func HeadersIn(lang string) []string {
	p := locale.New(lang)
	out := make([]string, len(headerIDs))
	for i, id := range headerIDs {
		out[i] = p.T(id)
	}
	return out
}

// resultHeaders are the added columns in every language: an earlier export
// uploaded again has them, in whichever language it was written.
var resultHeaders = func() map[string]bool {
	m := map[string]bool{}
	for _, lang := range locale.Langs {
		for _, h := range HeadersIn(lang) {
			m[h] = true
		}
	}
	return m
}()

// SheetName is the name of the results file's only sheet, in English.
const SheetName = "Results"

// SheetNameIn is the name of the results file's sheet in a language.
func SheetNameIn(lang string) string { return locale.New(lang).T("results.sheet") }

// Options choose how a results file is written. The zero value writes it
// in English with times in UTC.
type Options struct {
	// Lang is the language of the added columns' headers and values, and of
	// the note above the header ("" is English). The user's own columns are
	// written as uploaded, whatever the language.
	Lang string
	// Zone is the time zone of the times in the file; nil means the
	// language's default (Asia/Shanghai for zh-CN, UTC for English).
	Zone *time.Location
}

// writer renders the added columns in one language.
type writer struct {
	p     *locale.Printer
	punct punctuation
}

// punctuation joins the parts of a cell as the language writes them.
type punctuation struct{ colon, sep, open, close string }

var (
	latinPunct   = punctuation{": ", "; ", " (", ")"}
	chinesePunct = punctuation{"：", "；", "（", "）"}
)

func newWriter(opts Options) *writer {
	p := locale.NewIn(opts.Lang, opts.Zone)
	w := &writer{p: p, punct: latinPunct}
	if p.Lang() == locale.Chinese {
		w.punct = chinesePunct
	}
	return w
}

// Rows calls fn for every row of a batch, in row order, and stops at the
// first error fn returns. For example:
//
//	func(fn func(repository.ResultRow) error) error { return store.BatchRows(ctx, id, fn) }
type Rows func(fn func(repository.ResultRow) error) error

// Write writes the results file of batch b as .xlsx to w, streaming rows
// from rows, in English.
func Write(w io.Writer, b *repository.Batch, rows Rows) error {
	return WriteWith(w, b, rows, Options{})
}

// WriteWith writes the results file of batch b as Write does, in the
// language and time zone of opts.
func WriteWith(w io.Writer, b *repository.Batch, rows Rows, opts Options) error {
	rw := newWriter(opts)
	headers := HeadersIn(rw.p.Lang())
	sheetName := rw.p.T("results.sheet")
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", sheetName); err != nil {
		return err
	}
	sw, err := f.NewStreamWriter(sheetName)
	if err != nil {
		return err
	}
	styles, err := newStyles(f)
	if err != nil {
		return err
	}

	// The user's columns, minus result columns of an earlier export that was
	// uploaded again: those are written afresh.
	var keep []int
	for i, h := range b.Headers {
		if !resultHeaders[strings.TrimSpace(h)] {
			keep = append(keep, i)
		}
	}
	nUser := len(keep)
	if nUser > 0 {
		// Text format on the user's columns: ID numbers and credit codes stay
		// text when someone edits them in Excel.
		if err := sw.SetColStyle(1, nUser, styles.text); err != nil {
			return err
		}
		if err := sw.SetColWidth(1, nUser, 20); err != nil {
			return err
		}
	}
	widths := []float64{16, 40, 30, 14, 18, 40, 40, 40, 60}
	for i, wd := range widths {
		if err := sw.SetColWidth(nUser+i+1, nUser+i+1, wd); err != nil {
			return err
		}
	}

	headerRow := max(b.HeaderRow, 1)
	// Keep the header in view while scrolling.
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: headerRow,
		TopLeftCell: fmt.Sprintf("A%d", headerRow+1), ActivePane: "bottomLeft"}); err != nil {
		return err
	}

	// The upload's layout: its merged ranges where the results file has
	// them, and its hidden rows, written hidden (empty when they held no
	// data row).
	merges := layoutMerges(b, keep, headerRow)
	hidden := hiddenRows(b.HiddenRows)
	isHidden := func(n int) bool { _, ok := slices.BinarySearch(hidden, n); return ok }
	last, nextHidden := 0, 0 // the last row written; the first hidden row not yet passed
	put := func(n int, vals []any, hide bool) error {
		for ; nextHidden < len(hidden) && hidden[nextHidden] < n; nextHidden++ {
			if h := hidden[nextHidden]; h > last {
				cell, _ := excelize.CoordinatesToCellName(1, h)
				if err := sw.SetRow(cell, nil, excelize.RowOpts{Hidden: true}); err != nil {
					return err
				}
				last = h
			}
		}
		cell, _ := excelize.CoordinatesToCellName(1, n)
		last = n
		return sw.SetRow(cell, vals, excelize.RowOpts{Hidden: hide})
	}

	if headerRow > 1 {
		note := rw.p.T("results.note", "Batch", b.ID, "File", b.FileName, "App", b.AppID, "Imported", rw.p.Time(b.CreatedAt))
		n := noteRow(headerRow, isHidden, merges)
		if err := put(n, []any{note}, isHidden(n)); err != nil {
			return err
		}
	}
	header := make([]any, 0, nUser+len(headers))
	for _, i := range keep {
		header = append(header, excelize.Cell{StyleID: styles.header, Value: b.Headers[i]})
	}
	for _, h := range headers {
		header = append(header, excelize.Cell{StyleID: styles.header, Value: h})
	}
	if err := put(headerRow, header, isHidden(headerRow)); err != nil {
		return err
	}

	err = rows(func(r repository.ResultRow) error {
		// Each row goes back on its own row number, so the row numbers in
		// the reasons match the file; a row out of order goes after the last.
		n := r.Number
		if n <= last {
			n = last + 1
		}
		vals := make([]any, 0, nUser+len(headers))
		for _, i := range keep {
			v := ""
			if i < len(r.Cells) {
				v = r.Cells[i]
			}
			vals = append(vals, v)
		}
		status := excelize.Cell{Value: rw.status(r)}
		if r.Status == "rejected" {
			status.StyleID = styles.rejected
		}
		// What onboard and the platform wrote about the row never repeats an
		// identifier whole (the row's own cells are the user's, as uploaded).
		vals = append(vals, status, importer.MaskIDs(rw.reasons(r.Reasons)), importer.MaskIDs(rw.warnings(r.Warnings)), rw.authorization(r),
			r.ErrorCode, importer.MaskIDs(rw.errorMessage(r)), rw.p.APIError(r.ErrorCode), rw.loginLink(r), rw.services(r.Services))
		return put(n, vals, n == r.Number && isHidden(n))
	})
	if err != nil {
		return err
	}
	for _, h := range hidden[nextHidden:] {
		if h > last {
			if err := put(h, nil, true); err != nil {
				return err
			}
		}
	}
	for _, m := range merges {
		from, _ := excelize.CoordinatesToCellName(m.c1, m.r1)
		to, _ := excelize.CoordinatesToCellName(m.c2, m.r2)
		if err := sw.MergeCell(from, to); err != nil {
			return err
		}
	}
	if err := sw.Flush(); err != nil {
		return err
	}
	_, err = f.WriteTo(w)
	return err
}

// area is a range of cells: 1-based, inclusive.
type area struct{ c1, r1, c2, r2 int }

// layoutMerges are the merged ranges of the upload, placed in the results
// file, in order of their first rows. Ranges above the header stay where
// they were: those rows hold only the results file's note. Ranges reaching
// the header or the data rows follow the columns: the user's columns move
// to where the results file puts them, columns beyond the header move past
// the added columns, and an earlier export's added columns to the new ones
// of the same name; such a range is left out when its columns do not stay
// side by side or when it would cover an added column. A range that
// overlaps one already placed is left out too (Excel never writes such
// ranges, nor opens a file that has them without complaint).
func layoutMerges(b *repository.Batch, keep []int, headerRow int) []area {
	if len(b.Merges) == 0 {
		return nil
	}
	nUser, nHeaders := len(keep), len(b.Headers)
	pos := make([]int, nHeaders+1) // 1-based column of the upload -> of the results file
	for j, i := range keep {
		pos[i+1] = j + 1
	}
	for i, h := range b.Headers {
		if pos[i+1] == 0 {
			pos[i+1] = nUser + slices.Index(Headers, strings.TrimSpace(h)) + 1
		}
	}
	col := func(c int) int {
		if c <= nHeaders {
			return pos[c]
		}
		return c - nHeaders + nUser + len(Headers)
	}
	var out []area
	var busy []int // per column of the results file: the last row a placed range covers
	for _, ref := range b.Merges {
		m, ok := parseArea(ref)
		if !ok {
			continue
		}
		c1, c2 := m.c1, m.c2
		if m.r2 >= headerRow {
			c1, c2 = col(m.c1), col(m.c2)
			if c1 < 1 || c2-c1 != m.c2-m.c1 || c2 > excelize.MaxColumns || c1 <= nUser+len(Headers) && c2 > nUser {
				continue
			}
			together := true
			for c := m.c1 + 1; c <= min(m.c2, nHeaders+1); c++ {
				if col(c) != c1+c-m.c1 {
					together = false
					break
				}
			}
			if !together {
				continue
			}
		}
		if busy == nil {
			busy = make([]int, excelize.MaxColumns+1)
		}
		free := true
		for c := c1; c <= c2 && free; c++ {
			free = busy[c] < m.r1
		}
		if !free {
			continue
		}
		for c := c1; c <= c2; c++ {
			busy[c] = m.r2
		}
		out = append(out, area{c1, m.r1, c2, m.r2})
	}
	return out
}

// parseArea reads a range reference such as "B3:D5", in either corner
// order.
func parseArea(ref string) (area, bool) {
	a, b, ok := strings.Cut(ref, ":")
	if !ok {
		return area{}, false
	}
	c1, r1, err1 := excelize.CellNameToCoordinates(a)
	c2, r2, err2 := excelize.CellNameToCoordinates(b)
	if err1 != nil || err2 != nil {
		return area{}, false
	}
	return area{min(c1, c2), min(r1, r2), max(c1, c2), max(r1, r2)}, true
}

// hiddenRows are the rows of a sheet among ns, ascending, each once.
func hiddenRows(ns []int) []int {
	out := slices.DeleteFunc(slices.Clone(ns), func(n int) bool { return n < 1 || n > excelize.TotalRows })
	slices.Sort(out)
	return slices.Compact(out)
}

// noteRow is the row above the header that the results file's note goes
// in: the first that is not hidden and whose first cell no merged range
// hides (a merged title shows it across); row 1 when there is none.
func noteRow(headerRow int, hidden func(int) bool, merges []area) int {
rows:
	for n := 1; n < headerRow; n++ {
		if hidden(n) {
			continue
		}
		for _, m := range merges {
			if m.c1 == 1 && m.r1 < n && n <= m.r2 {
				continue rows
			}
		}
		return n
	}
	return 1
}

type styleIDs struct{ text, header, rejected int }

func newStyles(f *excelize.File) (styleIDs, error) {
	var s styleIDs
	var err error
	if s.text, err = f.NewStyle(&excelize.Style{NumFmt: 49}); err != nil { // "@"
		return s, err
	}
	if s.header, err = f.NewStyle(&excelize.Style{NumFmt: 49, Font: &excelize.Font{Bold: true},
		Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"DDEBF7"}}}); err != nil {
		return s, err
	}
	if s.rejected, err = f.NewStyle(&excelize.Style{Font: &excelize.Font{Color: "9C0006"},
		Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"FFC7CE"}}}); err != nil {
		return s, err
	}
	return s, nil
}

// Status is the Status column: "rejected", or the organization's onboarding
// state for an accepted row ("accepted" when it has none).
func Status(r repository.ResultRow) string {
	if r.Status != "accepted" || r.State == "" {
		return r.Status
	}
	return r.State
}

// status is the Status column in the writer's language.
func (w *writer) status(r repository.ResultRow) string {
	s := Status(r)
	id := "results.state." + s
	if s == r.Status {
		id = "results.status." + s
	}
	if !w.p.Has(id) {
		return s
	}
	return w.p.T(id)
}

// authKeys are the messages of what an onboarding state says about the
// company's authorization.
var authKeys = map[string]string{
	onboard.StateAwaitingAuth:    "results.auth.waiting",
	onboard.StateOpeningServices: "results.auth.verified",
	onboard.StateAwaitingAdmin:   "results.auth.verified",
	onboard.StateDone:            "results.auth.verified",
	onboard.StateAuthRejected:    "results.auth.rejected",
	onboard.StateTimedOut:        "results.auth.timed_out",
}

var english = locale.New(locale.English)

// Authorization is what an onboarding state says about the company's
// authorization on the platform, in English; "" while not yet known.
func Authorization(state string) string {
	if id, ok := authKeys[state]; ok {
		return english.T(id)
	}
	return ""
}

// authorization is the Authorization column: the platform's own status
// beside what the onboarding state says, e.g. "verified (VERIFIED)".
func (w *writer) authorization(r repository.ResultRow) string {
	a := ""
	if id, ok := authKeys[r.State]; ok {
		a = w.p.T(id)
	}
	switch {
	case r.AuthStatus == "":
		return a
	case a == "":
		return r.AuthStatus
	}
	return a + w.punct.open + r.AuthStatus + w.punct.close
}

// LoginLink is the Login link column in English: the console link issued
// to the admin the row named, with its expiry.
func LoginLink(r repository.ResultRow) string { return newWriter(Options{}).loginLink(r) }

func (w *writer) loginLink(r repository.ResultRow) string {
	if r.LoginURL == "" {
		return ""
	}
	if r.LoginExpiresAt.IsZero() {
		return r.LoginURL
	}
	return w.p.T("results.expires", "URL", r.LoginURL, "Time", w.p.Time(r.LoginExpiresAt))
}

// reasons is the Reasons column: each reason after its column, rendered
// from its code in the writer's language.
func (w *writer) reasons(rs []onboard.RowError) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = r.Column + w.punct.colon + w.p.Reason(r.Code, r.Params, r.Reason)
	}
	return strings.Join(parts, w.punct.sep)
}

// warnings is the Warnings column: each warning after its field.
func (w *writer) warnings(ws []onboard.RowWarning) string {
	parts := make([]string, len(ws))
	for i, x := range ws {
		parts[i] = w.field(x.Field) + w.punct.colon + w.p.Reason(x.Code, x.Params, x.Message)
	}
	return strings.Join(parts, w.punct.sep)
}

// field names the field a warning is about (FieldName).
func (w *writer) field(f string) string { return FieldName(w.p, f) }

// FieldName names the field a warning is about as the reader calls it:
// the API field name (which the template's headers carry in both
// languages), its Chinese name for a Chinese reader, or what the warning is
// about when it is the row's place in the sheet (a hidden row, merged cells).
func FieldName(p *locale.Printer, f string) string {
	switch f {
	case importer.WarnHiddenRow:
		return p.T("results.field.hidden_row")
	case importer.WarnMergedCells:
		return p.T("results.field.merged_cells")
	}
	if p.Lang() == locale.Chinese {
		if zh := importer.FieldChineseName(f); zh != "" {
			return zh
		}
	}
	return f
}

func (w *writer) errorMessage(r repository.ResultRow) string {
	if r.ErrorMessage != "" && r.RequestID != "" {
		return w.p.T("results.request_id", "Message", r.ErrorMessage, "RequestID", r.RequestID)
	}
	return r.ErrorMessage
}

// Services is the Services column in English, for example
// "AUTO_SIGN: linked https://… (expires 2026-11-24 10:00 UTC); MOBILE_CHECK_APPROVER: opened".
func Services(ss []repository.ServiceStatus) string { return newWriter(Options{}).services(ss) }

func (w *writer) services(ss []repository.ServiceStatus) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		state := s.State
		if id := "results.service." + s.State; w.p.Has(id) {
			state = w.p.T(id)
		}
		p := w.p.T("results.service_name", "Service", string(s.Service), "Chinese", importer.ServiceChineseName(s.Service)) + w.punct.colon + state
		if s.URL != "" {
			link := s.URL
			if !s.ExpiresAt.IsZero() {
				link = w.p.T("results.expires", "URL", s.URL, "Time", w.p.Time(s.ExpiresAt))
			}
			p += " " + link
		}
		switch {
		case s.ErrorCode != "" && s.ErrorMessage != "":
			p += w.punct.open + s.ErrorCode + w.punct.colon + s.ErrorMessage + w.punct.close
		case s.ErrorCode != "" || s.ErrorMessage != "":
			p += w.punct.open + s.ErrorCode + s.ErrorMessage + w.punct.close
		}
		parts[i] = p
	}
	return strings.Join(parts, w.punct.sep)
}
