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

// numberAdvice is the reason given for an identifier typed into a number cell.
const numberAdvice = "Excel stored this cell as a number and keeps only 15 significant digits, so the value is already damaged; format the column as Text (Format Cells > Text) and type the value in again"

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
	fail := func(field, column, format string, args ...any) {
		row.Errors = append(row.Errors, onboard.RowError{Row: num, Column: column, Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	warn := func(field, format string, args ...any) {
		row.Warnings = append(row.Warnings, onboard.RowWarning{Row: num, Field: field, Message: fmt.Sprintf(format, args...)})
	}
	// text returns the trimmed text of a field's cell, or ok=false after
	// reporting a cell that shows an Excel error.
	text := func(field string) (string, cellValue, string, bool) {
		c, column := get(field)
		if c.errorValue {
			fail(field, column, "the cell shows the Excel error %s; correct the formula or type the value in", trimCell(c.text))
			return "", c, column, false
		}
		if c.noCache {
			fail(field, column, "holds a formula whose value was never calculated (the file was saved by a program that does not calculate formulas); open the file in Excel or WPS and save it again, or copy the column and paste it as values (Paste Special > Values), then upload it again")
			return "", c, column, false
		}
		if c.date {
			fail(field, column, "holds a date (%s), but this column holds text; type the value in as text (format the column as Text first) and upload the file again", trimCell(c.text))
			return "", c, column, false
		}
		return trimCell(c.text), c, column, true
	}
	d := &row.Data

	if v, c, column, ok := text(onboard.FieldOpenID); ok {
		switch {
		case v == "":
			fail(onboard.FieldOpenID, column, "is empty; every company needs its ProxyOrganizationOpenId")
		default:
			if reason := checkOpenID(v, c.numeric); reason != "" {
				fail(onboard.FieldOpenID, column, "%s", reason)
			} else {
				d.OpenID = v
			}
		}
	}

	if v, _, column, ok := text(onboard.FieldName); ok {
		v, changed := joinLines(v)
		if changed {
			warn(onboard.FieldName, "line breaks in the company name were replaced by spaces")
		}
		if strings.ContainsAny(v, "()") {
			v = strings.NewReplacer("(", "（", ")", "）").Replace(v)
			warn(onboard.FieldName, "half-width brackets ( ) in the company name were changed to full-width （ ）, as the platform requires")
		}
		switch n := utf8.RuneCountInString(v); {
		case v == "":
			fail(onboard.FieldName, column, "is empty; every company needs its name as printed on the business license")
		case n > maxNameLen:
			fail(onboard.FieldName, column, "is %d characters long; at most %d are allowed", n, maxNameLen)
		case hasControl(v):
			fail(onboard.FieldName, column, "contains an invisible control character; type the name in again")
		default:
			d.Name = v
		}
	}

	if v, c, column, ok := text(onboard.FieldCreditCode); ok && v != "" {
		if h, changed := halfWidth(v); changed {
			v = h
			warn(onboard.FieldCreditCode, "the credit code was typed in full-width characters (as a Chinese input method types them) and was changed to half-width; check that it is right")
		}
		v = strings.ToUpper(v)
		if c.numeric {
			fail(onboard.FieldCreditCode, column, "%s", numberAdvice)
		} else if err := checkCreditCode(v); err != nil {
			fail(onboard.FieldCreditCode, column, "%q is not a valid unified social credit code: %v", MaskID(v), err)
		} else {
			d.CreditCode = v
		}
	}

	if v, _, column, ok := text(onboard.FieldLegalName); ok && v != "" {
		v, changed := joinLines(v)
		if changed {
			warn(onboard.FieldLegalName, "line breaks in the legal representative's name were replaced by spaces")
		}
		if hasControl(v) {
			fail(onboard.FieldLegalName, column, "contains an invisible control character; type the name in again")
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
			fail(onboard.FieldLegalIDCardType, column, "%q is not an accepted certificate type; only ID_CARD (居民身份证) is accepted", v)
		}
	}

	if v, c, column, ok := text(onboard.FieldLegalIDCardNumber); ok && v != "" {
		if h, changed := halfWidth(v); changed {
			v = h
			warn(onboard.FieldLegalIDCardNumber, "the ID number was typed in full-width characters (as a Chinese input method types them) and was changed to half-width; check that it is right")
		}
		if c.numeric {
			fail(onboard.FieldLegalIDCardNumber, column, "%s", numberAdvice)
		} else {
			if strings.HasSuffix(v, "x") {
				v = strings.TrimSuffix(v, "x") + "X"
			}
			if err := ValidIDNumber(v, now); err != nil {
				fail(onboard.FieldLegalIDCardNumber, column, "%q is not a valid ID card number: %v", MaskID(v), err)
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
			warn(onboard.FieldAddress, "line breaks in the address were replaced by spaces")
		}
		switch n := utf8.RuneCountInString(v); {
		case n > maxAddressLen:
			fail(onboard.FieldAddress, column, "is %d characters long; at most %d are allowed", n, maxAddressLen)
		case hasControl(v):
			fail(onboard.FieldAddress, column, "contains an invisible control character; type the address in again")
		default:
			d.Address = v
		}
	}

	if v, c, column, ok := text(onboard.FieldAdminOpenID); ok && v != "" {
		if reason := checkOpenID(v, c.numeric); reason != "" {
			fail(onboard.FieldAdminOpenID, column, "%s", reason)
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
			word := "service"
			if len(unknown) > 1 {
				word = "services"
			}
			fail(onboard.FieldExtendedServices, column, "unknown %s %s; use %s, separated by commas", word, strings.Join(quoted, ", "), servicesHelp())
		} else {
			d.Services = services
		}
	}

	return row
}

// checkOpenID explains why v is not a usable OpenId ("" if it is).
func checkOpenID(v string, numeric bool) string {
	if numeric {
		digits := 0
		for _, r := range v {
			if r >= '0' && r <= '9' {
				digits++
			}
		}
		if digits > 15 || strings.ContainsAny(v, "Ee") {
			return numberAdvice
		}
	}
	if n := utf8.RuneCountInString(v); n > maxOpenIDLen {
		return fmt.Sprintf("is %d characters long; at most %d are allowed", n, maxOpenIDLen)
	}
	for _, r := range v {
		if !unicode.IsGraphic(r) || unicode.IsSpace(r) || r == utf8.RuneError {
			return "contains a space or an invisible character; it must be 1 to 64 visible characters"
		}
	}
	return ""
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
