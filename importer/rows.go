package importer

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ess-onboard/onboard"
)

// Limits of the contract, in characters.
const (
	maxOpenIDLen  = 64
	maxNameLen    = 200
	maxAddressLen = 500
)

// cellValue is one cell as the row rules see it.
type cellValue struct {
	text       string // the text Excel displays
	numeric    bool   // the cell holds a number
	errorValue bool   // the cell shows an Excel error such as #N/A
	noCache    bool   // the cell holds a formula whose value was never calculated
	date       bool   // the cell holds a date or time
}

// checkRow applies the cell rules of the contract to one row, except the
// license picture and duplicate OpenIds, which need the file around it.
// headers and fields are per column; cells may be shorter than headers.
// Row.Data holds the values that passed their rules (all of them when the
// row has no errors).
func checkRow(num int, headers, fields []string, cells []cellValue, now time.Time) *onboard.Row {
	row := &onboard.Row{Number: num}
	col := map[string]int{}
	for i, f := range fields {
		if f != "" {
			if _, ok := col[f]; !ok {
				col[f] = i
			}
		}
	}
	get := func(field string) (cellValue, string) {
		i, ok := col[field]
		if !ok {
			return cellValue{}, ""
		}
		var c cellValue
		if i < len(cells) {
			c = cells[i]
		}
		return c, headers[i]
	}
	fail := func(field, column, code string, params ...string) {
		row.Errors = append(row.Errors, rowError(num, column, field, code, params...))
	}
	failErr := func(field, column string, e *reasonError) {
		row.Errors = append(row.Errors, onboard.RowError{Row: num, Column: column, Field: field, Code: e.code, Params: e.params, Reason: e.text})
	}
	warn := func(field, code string, params ...string) {
		row.Warnings = append(row.Warnings, rowWarning(num, field, code, params...))
	}
	// text returns the trimmed text of a field's cell, or ok=false after
	// reporting a cell that shows an Excel error.
	text := func(field string) (string, cellValue, string, bool) {
		c, column := get(field)
		if c.errorValue {
			fail(field, column, "cell.excel_error", "Value", trimCell(c.text))
			return "", c, column, false
		}
		if c.noCache {
			fail(field, column, "cell.formula_not_calculated")
			return "", c, column, false
		}
		if c.date {
			fail(field, column, "cell.date", "Value", trimCell(c.text))
			return "", c, column, false
		}
		return trimCell(c.text), c, column, true
	}
	d := &row.Data

	if v, c, column, ok := text(onboard.FieldOpenID); ok {
		switch {
		case v == "":
			fail(onboard.FieldOpenID, column, "open_id.empty")
		default:
			if reason := checkOpenID("open_id", v, c.numeric); reason != nil {
				failErr(onboard.FieldOpenID, column, reason)
			} else {
				d.OpenID = v
			}
		}
	}

	if v, _, column, ok := text(onboard.FieldName); ok {
		v, changed := joinLines(v)
		if changed {
			warn(onboard.FieldName, "name.line_breaks")
		}
		if strings.ContainsAny(v, "()") {
			v = strings.NewReplacer("(", "（", ")", "）").Replace(v)
			warn(onboard.FieldName, "name.half_width_brackets")
		}
		switch n := utf8.RuneCountInString(v); {
		case v == "":
			fail(onboard.FieldName, column, "name.empty")
		case n > maxNameLen:
			fail(onboard.FieldName, column, "name.too_long", "Length", itoa(n), "Max", itoa(maxNameLen))
		case hasControl(v):
			fail(onboard.FieldName, column, "name.control_char")
		default:
			d.Name = v
		}
	}

	if v, c, column, ok := text(onboard.FieldCreditCode); ok && v != "" {
		if h, changed := halfWidth(v); changed {
			v = h
			warn(onboard.FieldCreditCode, "credit_code.full_width")
		}
		v = strings.ToUpper(v)
		if c.numeric {
			fail(onboard.FieldCreditCode, column, "credit_code.stored_as_number")
		} else if err := checkCreditCode(v); err != nil {
			failErr(onboard.FieldCreditCode, column, err.(*reasonError).with("Value", MaskID(v)))
		} else {
			d.CreditCode = v
		}
	}

	if v, _, column, ok := text(onboard.FieldLegalName); ok && v != "" {
		v, changed := joinLines(v)
		if changed {
			warn(onboard.FieldLegalName, "legal_name.line_breaks")
		}
		if hasControl(v) {
			fail(onboard.FieldLegalName, column, "legal_name.control_char")
		} else {
			d.LegalName = v
		}
	}

	cardTypeOK := true
	if v, _, column, ok := text(onboard.FieldLegalIDCardType); !ok {
		cardTypeOK = false
	} else if v != "" {
		switch up := strings.ToUpper(v); up {
		case "ID_CARD", "居民身份证":
			d.LegalIDCardType = "ID_CARD"
		default:
			cardTypeOK = false
			fail(onboard.FieldLegalIDCardType, column, "id_card_type.unknown", "Value", v)
		}
	}

	if v, c, column, ok := text(onboard.FieldLegalIDCardNumber); ok && v != "" {
		if h, changed := halfWidth(v); changed {
			v = h
			warn(onboard.FieldLegalIDCardNumber, "id_number.full_width")
		}
		if c.numeric {
			fail(onboard.FieldLegalIDCardNumber, column, "id_number.stored_as_number")
		} else {
			if strings.HasSuffix(v, "x") {
				v = strings.TrimSuffix(v, "x") + "X"
			}
			if err := ValidIDNumber(v, now); err != nil {
				failErr(onboard.FieldLegalIDCardNumber, column, err.(*reasonError).with("Value", MaskID(v)))
			} else {
				d.LegalIDCardNumber = v
				if cardTypeOK && d.LegalIDCardType == "" {
					d.LegalIDCardType = "ID_CARD"
				}
			}
		}
	}

	if v, _, column, ok := text(onboard.FieldAddress); ok && v != "" {
		v, changed := joinLines(v)
		if changed {
			warn(onboard.FieldAddress, "address.line_breaks")
		}
		switch n := utf8.RuneCountInString(v); {
		case n > maxAddressLen:
			fail(onboard.FieldAddress, column, "address.too_long", "Length", itoa(n), "Max", itoa(maxAddressLen))
		case hasControl(v):
			fail(onboard.FieldAddress, column, "address.control_char")
		default:
			d.Address = v
		}
	}

	if v, c, column, ok := text(onboard.FieldAdminOpenID); ok && v != "" {
		if reason := checkOpenID("admin_open_id", v, c.numeric); reason != nil {
			failErr(onboard.FieldAdminOpenID, column, reason)
		} else {
			d.AdminOpenID = v
		}
	}

	if v, _, column, ok := text(onboard.FieldExtendedServices); ok && v != "" {
		services, unknown := ParseServices(v)
		if len(unknown) > 0 {
			quoted := make([]string, len(unknown))
			for i, u := range unknown {
				quoted[i] = fmt.Sprintf("%q", u)
			}
			// The message lists the accepted names (servicesHelp).
			fail(onboard.FieldExtendedServices, column, "services.unknown", "Names", strings.Join(quoted, ", "), "Count", itoa(len(unknown)))
		} else {
			d.Services = services
		}
	}

	return row
}

// openIDCodes are the codes of checkOpenID per subject: stored as a number,
// too long, with an invisible character.
var openIDCodes = map[string][3]string{
	"open_id":       {"open_id.stored_as_number", "open_id.too_long", "open_id.invisible_char"},
	"admin_open_id": {"admin_open_id.stored_as_number", "admin_open_id.too_long", "admin_open_id.invisible_char"},
}

// checkOpenID explains why v is not a usable OpenId (nil if it is); subject
// is the code's subject, open_id or admin_open_id.
func checkOpenID(subject, v string, numeric bool) *reasonError {
	codes := openIDCodes[subject]
	if numeric {
		digits := 0
		for _, r := range v {
			if r >= '0' && r <= '9' {
				digits++
			}
		}
		if digits > 15 || strings.ContainsAny(v, "Ee") {
			return newReason(codes[0])
		}
	}
	if n := utf8.RuneCountInString(v); n > maxOpenIDLen {
		return newReason(codes[1], "Length", itoa(n), "Max", itoa(maxOpenIDLen))
	}
	for _, r := range v {
		if !unicode.IsGraphic(r) || unicode.IsSpace(r) || r == utf8.RuneError {
			return newReason(codes[2])
		}
	}
	return nil
}

// joinLines replaces line breaks and tabs inside a value with single spaces.
func joinLines(v string) (string, bool) {
	if !strings.ContainsAny(v, "\r\n\t\v\f\u2028\u2029\u0085") {
		return v, false
	}
	f := strings.FieldsFunc(v, func(r rune) bool {
		return r == '\r' || r == '\n' || r == '\t' || r == '\v' || r == '\f' || r == '\u2028' || r == '\u2029' || r == '\u0085'
	})
	for i := range f {
		f[i] = trimCell(f[i])
	}
	out := f[:0]
	for _, s := range f {
		if s != "" {
			out = append(out, s)
		}
	}
	return strings.Join(out, " "), true
}

// hasControl reports whether v holds a control character or invalid UTF-8.
func hasControl(v string) bool {
	for _, r := range v {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return true
		}
	}
	return false
}

// halfWidth turns full-width digits and Latin letters (０–９, Ａ–Ｚ, ａ–ｚ)
// into their half-width forms.
func halfWidth(v string) (string, bool) {
	if strings.IndexByte(v, 0xEF) < 0 { // the first byte of each one's UTF-8 form
		return v, false
	}
	changed := false
	out := strings.Map(func(c rune) rune {
		if c >= '０' && c <= '９' || c >= 'Ａ' && c <= 'Ｚ' || c >= 'ａ' && c <= 'ｚ' {
			changed = true
			return c - 0xFEE0
		}
		return c
	}, v)
	return out, changed
}
