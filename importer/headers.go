package importer

import (
	"strings"
	"unicode"

	"github.com/ess-onboard/onboard"
)

// headerAliases lists, per field, the headers the contract accepts.
var headerAliases = []struct {
	field   string
	aliases []string
}{
	{onboard.FieldOpenID, []string{"ProxyOrganizationOpenId", "OrganizationOpenId", "子客企业标识", "企业标识"}},
	{onboard.FieldName, []string{"ProxyOrganizationName", "OrganizationName", "企业名称", "子客企业名称"}},
	{onboard.FieldCreditCode, []string{"UniformSocialCreditCode", "统一社会信用代码"}},
	{onboard.FieldLegalName, []string{"ProxyLegalName", "LegalName", "法定代表人", "法定代表人姓名"}},
	{onboard.FieldLegalIDCardType, []string{"ProxyLegalIdCardType", "法定代表人证件类型", "证件类型"}},
	{onboard.FieldLegalIDCardNumber, []string{"ProxyLegalIdCardNumber", "法定代表人证件号码", "证件号码"}},
	{onboard.FieldAddress, []string{"ProxyAddress", "Address", "企业详细住所", "企业地址", "住所"}},
	{onboard.FieldBusinessLicense, []string{"BusinessLicense", "营业执照"}},
	{onboard.FieldAdminOpenID, []string{"AdminOpenId", "ProxyOperatorOpenId", "超管标识", "经办人标识"}},
	{onboard.FieldExtendedServices, []string{"ExtendedServices", "扩展服务"}},
}

// headerIndex maps a normalised alias to its field.
var headerIndex = func() map[string]string {
	m := map[string]string{}
	for _, h := range headerAliases {
		for _, a := range h.aliases {
			m[normHeader(a)] = h.field
		}
	}
	return m
}()

// isTrimSpace reports whether r is trimmed from both ends of a cell: Unicode
// white space (which includes U+3000 and the no-break space) plus the
// zero-width characters that copying from web pages leaves behind.
func isTrimSpace(r rune) bool {
	return unicode.IsSpace(r) || r == '\u200b' || r == '\u200c' || r == '\u200d' || r == '\u2060' || r == '\ufeff'
}

// trimCell trims white space, including U+3000 and the no-break space, from
// both ends of a cell's text.
func trimCell(s string) string { return strings.TrimFunc(s, isTrimSpace) }

// normHeader folds a header for matching: trimmed, a trailing * or ＊ removed,
// full-width parentheses made half-width, lower-cased.
func normHeader(h string) string {
	h = trimCell(h)
	for {
		t := strings.TrimRight(h, "*＊")
		t = trimCell(t)
		if t == h {
			break
		}
		h = t
	}
	h = strings.NewReplacer("（", "(", "）", ")").Replace(h)
	return strings.ToLower(h)
}

// MatchHeader returns the API field name a header cell stands for. Matching
// ignores case, white space at both ends (including U+3000 and the no-break
// space), the difference between full- and half-width parentheses and a
// trailing * or ＊. Besides the contract's headers it accepts a bilingual
// header naming the same field twice, as the template writes it: "企业名称
// (ProxyOrganizationName)" or the two names on separate lines.
func MatchHeader(h string) (field string, ok bool) {
	n := normHeader(h)
	if n == "" {
		return "", false
	}
	if f, ok := headerIndex[n]; ok {
		return f, true
	}
	// "A(B)" where A and B name the same field.
	if strings.HasSuffix(n, ")") {
		if i := strings.LastIndexByte(n, '('); i > 0 {
			a, b := headerIndex[normHeader(n[:i])], headerIndex[normHeader(n[i+1:len(n)-1])]
			if a != "" && a == b {
				return a, true
			}
		}
	}
	// "A\nB" where A and B name the same field.
	if i := strings.IndexAny(n, "\r\n"); i > 0 {
		a, b := headerIndex[normHeader(n[:i])], headerIndex[normHeader(n[i:])]
		if a != "" && a == b {
			return a, true
		}
	}
	return "", false
}

// FieldChineseName is the Chinese header of an API field as the template
// writes it (企业名称 for ProxyOrganizationName); "" for other names.
func FieldChineseName(field string) string {
	for _, c := range templateColumns {
		if c.field == field {
			return c.chinese
		}
	}
	return ""
}
