package importer

import (
	"strconv"
	"strings"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/locale"
)

// Every rejection, warning and refusal has a stable code, such as
// "credit_code.check_char", and parameters, such as the check character
// the code needs. Codes are "<subject>.<what>", lowercase; the subjects are
// the file, the row, a cell, or the field the reason is about. The text is
// the message "reason.<code>" of the locale catalogues, rendered in the
// reader's language when shown; docs/reason-codes.md lists every code.
//
// The English text is rendered once, when the reason is made, and kept
// beside the code (RowError.Reason, RowWarning.Message, FileError.Reason):
// logs and callers that read no catalogue use it. A row without reasons
// costs nothing of this.

// english renders the English text kept beside each code. One printer
// serves every reader: rendering does not change it.
var english = locale.New(locale.English)

// Subjects are the first part of every code.
var Subjects = []string{
	"file", "row", "cell",
	"open_id", "name", "credit_code", "legal_name", "id_card_type", "id_number",
	"address", "license", "admin_open_id", "services",
}

// param builds a code's parameters from name, value pairs.
func param(pairs []string) map[string]string {
	if len(pairs) == 0 {
		return nil
	}
	m := make(map[string]string, len(pairs)/2)
	for i := 0; i+1 < len(pairs); i += 2 {
		m[pairs[i]] = pairs[i+1]
	}
	return m
}

// Render is the English text of a code with its parameters.
func Render(code string, params map[string]string) string {
	return english.Reason(code, params, code)
}

// rowError is a rejection of row num; pairs are the code's parameters.
func rowError(num int, column, field, code string, pairs ...string) onboard.RowError {
	p := param(pairs)
	return onboard.RowError{Row: num, Column: column, Field: field, Code: code, Params: p, Reason: Render(code, p)}
}

// rowWarning is a warning about row num.
func rowWarning(num int, field, code string, pairs ...string) onboard.RowWarning {
	p := param(pairs)
	return onboard.RowWarning{Row: num, Field: field, Code: code, Params: p, Message: Render(code, p)}
}

// reasonError is a reason found below the row, by a check that returns an
// error: its code and parameters become the row's.
type reasonError struct {
	code   string
	params map[string]string
	text   string
}

func (e *reasonError) Error() string { return e.text }

// newReason is a reasonError whose text is the code's English rendering.
func newReason(code string, pairs ...string) *reasonError {
	p := param(pairs)
	return &reasonError{code: code, params: p, text: Render(code, p)}
}

// with adds parameters to a reason (for example the file a picture came
// from) and renders it again.
func (e *reasonError) with(pairs ...string) *reasonError {
	p := make(map[string]string, len(e.params)+len(pairs)/2)
	for k, v := range e.params {
		p[k] = v
	}
	for k, v := range param(pairs) {
		p[k] = v
	}
	return &reasonError{code: e.code, params: p, text: Render(e.code, p)}
}

// maskParams masks identifiers in parameters, as in the texts.
func maskParams(p map[string]string) {
	for k, v := range p {
		if m := MaskIDs(v); m != v {
			p[k] = m
		}
	}
}

// refuse builds a refusal of the whole file. Whatever it quotes from the
// file, an identifier in it is masked, in the text and in the parameters.
func refuse(code string, pairs ...string) *FileError {
	p := param(pairs)
	e := &FileError{Code: code, Params: p, Reason: MaskIDs(Render(code, p))}
	maskParams(p)
	return e
}

// CodeUploadType is the refusal of an upload that is neither an .xlsx nor
// a .zip by its name, made before the importer sees it (NewFileError).
const CodeUploadType = "file.upload_type"

// NewFileError is a refusal with a code of the catalogues and its
// parameters, for refusals made outside the importer (such as an upload of
// the wrong type); its Reason is the English text.
func NewFileError(code string, pairs ...string) *FileError {
	return refuse(code, pairs...)
}

// RefusalIn is Refusal in the language of p: the sentence a refused file is
// reported with, its reason rendered from its code.
func RefusalIn(p *locale.Printer, fileName string, e *FileError) string {
	return refusalSentence(p, fileName, p.Reason(e.Code, e.Params, e.Reason))
}

// refusalSentence is the sentence of a refused file, in p's language.
func refusalSentence(p *locale.Printer, fileName, reason string) string {
	return p.T("refusal.sentence", "File", fileName, "Reason", strings.TrimRight(reason, ". 。"))
}

// itoa formats a number for a parameter.
func itoa[T ~int | ~int32 | ~int64 | ~uint64](n T) string { return strconv.FormatInt(int64(n), 10) }

// quoteRune is a character as %q shows it, without the quotes: 'x' gives x,
// an invisible one its escape (\u200b).
func quoteRune(r rune) string {
	q := strconv.QuoteRune(r)
	return q[1 : len(q)-1]
}

// listParams splits a list for a message into the names shown and how many
// more there are ("" when none): at most 20 names are shown.
func listParams(names []string) (shown, more string) {
	const max = 20
	if len(names) <= max {
		return strings.Join(names, ", "), ""
	}
	return strings.Join(names[:max], ", "), itoa(len(names) - max)
}
