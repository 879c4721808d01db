package importer

import (
	"strings"
	"unicode/utf8"
)

// ID card numbers and credit codes are personal or identifying data: a
// reason, a log line or a page names the problem and the cell, never the
// whole value. MaskID keeps the first and last four characters, enough to
// find the cell in the file.

// MaskID masks the middle of an identifier: 4403**********123X for an
// 18-character one. Values of 12 characters or more keep four characters
// at each end, shorter ones of 6 or more keep two, and shorter still are
// masked whole.
func MaskID(s string) string {
	n := utf8.RuneCountInString(s)
	keep := 0
	switch {
	case n >= 12:
		keep = 4
	case n >= 6:
		keep = 2
	}
	if n == 0 {
		return ""
	}
	r := []rune(s)
	var b strings.Builder
	b.WriteString(string(r[:keep]))
	b.WriteString(strings.Repeat("*", n-2*keep))
	b.WriteString(string(r[n-keep:]))
	return b.String()
}

// MaskIDs masks every run of text in s that looks like an ID card number,
// a credit code or a card number: 15 to 20 ASCII letters and digits in a
// row, at least 8 of them digits. Everything else is left as it is.
func MaskIDs(s string) string {
	var b *strings.Builder
	last := 0 // end of the text copied to b
	for i := 0; i < len(s); {
		if !isASCIIAlnum(s[i]) {
			i++
			continue
		}
		j, digits := i, 0
		for j < len(s) && isASCIIAlnum(s[j]) {
			if s[j] >= '0' && s[j] <= '9' {
				digits++
			}
			j++
		}
		if n := j - i; n >= 15 && n <= 20 && digits >= 8 {
			if b == nil {
				b = &strings.Builder{}
			}
			b.WriteString(s[last:i])
			b.WriteString(MaskID(s[i:j]))
			last = j
		}
		i = j
	}
	if b == nil {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

func isASCIIAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
