package importer

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ess-onboard/onboard"
	"github.com/google/go-cmp/cmp"
)

// rowFields are the fields in the order of stdHeaders.
var rowFields = func() []string {
	out := make([]string, len(stdHeaders))
	for i, h := range stdHeaders {
		out[i], _ = MatchHeader(h.(string))
	}
	return out
}()

var rowHeaders = func() []string {
	out := make([]string, len(stdHeaders))
	for i, h := range stdHeaders {
		out[i] = h.(string)
	}
	return out
}()

// cellsOf builds a row of text cells from field values.
func cellsOf(values map[string]string) []cellValue {
	cells := make([]cellValue, len(rowFields))
	for i, f := range rowFields {
		cells[i].text = values[f]
	}
	return cells
}

// validValues is a row that passes every rule.
func validValues() map[string]string {
	return map[string]string{
		onboard.FieldOpenID:            "org-1",
		onboard.FieldName:              "示例科技有限公司",
		onboard.FieldCreditCode:        uscc1,
		onboard.FieldLegalName:         "张三",
		onboard.FieldLegalIDCardType:   "ID_CARD",
		onboard.FieldLegalIDCardNumber: id3,
		onboard.FieldAddress:           "广东省深圳市南山区科技园",
		onboard.FieldAdminOpenID:       "admin-1",
		onboard.FieldExtendedServices:  "AUTO_SIGN",
	}
}

func TestRowRejections(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		field  string
		value  string
		reason string // part of the expected reason
	}{
		{"OpenIdEmpty", onboard.FieldOpenID, " \u3000", "is empty"},
		{"OpenIdTooLong", onboard.FieldOpenID, strings.Repeat("a", 65), "65 characters"},
		{"OpenIdInnerSpace", onboard.FieldOpenID, "org 1", "space or an invisible character"},
		{"OpenIdControl", onboard.FieldOpenID, "org\x011", "invisible character"},
		{"NameEmpty", onboard.FieldName, "", "is empty"},
		{"NameTooLong", onboard.FieldName, strings.Repeat("名", 201), "201 characters"},
		{"NameControl", onboard.FieldName, "A\x07B", "control character"},
		{"CreditCodeLength", onboard.FieldCreditCode, "91350100M000100Y4", "17 characters"},
		{"CreditCodeAlphabet", onboard.FieldCreditCode, "91350100M0001O0Y43", `'O' at position 14`},
		{"CreditCodeCheck", onboard.FieldCreditCode, "91350100M000100Y44", "must be 3"},
		{"CardType", onboard.FieldLegalIDCardType, "PASSPORT", `"PASSPORT" is not an accepted certificate type`},
		{"IDLength", onboard.FieldLegalIDCardNumber, "44030619851120783", "17 characters"},
		{"IDCheck", onboard.FieldLegalIDCardNumber, "440306198511207833", "must be 2"},
		{"IDDate", onboard.FieldLegalIDCardNumber, "110105194902300028", "not a real date"},
		{"IDFuture", onboard.FieldLegalIDCardNumber, "110105203001010011", "between 1800-01-01 and today"},
		{"AddressTooLong", onboard.FieldAddress, strings.Repeat("路", 501), "501 characters"},
		{"AdminTooLong", onboard.FieldAdminOpenID, strings.Repeat("b", 65), "65 characters"},
		{"UnknownService", onboard.FieldExtendedServices, "AUTO_SIGN, FAST_LANE", `unknown service "FAST_LANE"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := validValues()
			v[tc.field] = tc.value
			row := checkRow(7, rowHeaders, rowFields, cellsOf(v), testNow)
			if len(row.Errors) != 1 {
				t.Fatalf("errors = %v; want exactly one", reasons(row))
			}
			e := row.Errors[0]
			col := rowHeaders[indexOf(rowFields, tc.field)]
			if e.Row != 7 || e.Field != tc.field || e.Column != col || !strings.Contains(e.Reason, tc.reason) {
				t.Errorf("error = %+v; want row 7, column %q, field %s, reason with %q", e, col, tc.field, tc.reason)
			}
		})
	}
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

func TestRowAllReasonsAtOnce(t *testing.T) {
	t.Parallel()
	v := validValues()
	v[onboard.FieldOpenID] = ""
	v[onboard.FieldName] = ""
	v[onboard.FieldCreditCode] = "123"
	v[onboard.FieldLegalIDCardType] = "护照"
	v[onboard.FieldLegalIDCardNumber] = "123"
	v[onboard.FieldExtendedServices] = "NOPE"
	cells := cellsOf(v)
	cells[indexOf(rowFields, onboard.FieldAddress)] = cellValue{text: "#N/A", errorValue: true}
	row := checkRow(3, rowHeaders, rowFields, cells, testNow)
	var got []string
	for _, e := range row.Errors {
		got = append(got, e.Field)
	}
	want := []string{onboard.FieldOpenID, onboard.FieldName, onboard.FieldCreditCode, onboard.FieldLegalIDCardType,
		onboard.FieldLegalIDCardNumber, onboard.FieldAddress, onboard.FieldExtendedServices}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("fields with errors (-want +got):\n%s", diff)
	}
	if !strings.Contains(row.Errors[5].Reason, "#N/A") {
		t.Errorf("error cell reason = %q", row.Errors[5].Reason)
	}
}

func TestRowNormalisation(t *testing.T) {
	t.Parallel()
	v := validValues()
	v[onboard.FieldOpenID] = "\u00a0org-1\u3000"
	v[onboard.FieldName] = " 示例(深圳)科技\n有限公司 "
	v[onboard.FieldCreditCode] = "91110108ma01c2d3eg"
	v[onboard.FieldLegalIDCardType] = "id_card"
	v[onboard.FieldLegalIDCardNumber] = "11010519491231002x"
	v[onboard.FieldAddress] = "北京市\r\n东城区"
	v[onboard.FieldExtendedServices] = "auto_sign 自动签署 隐藏经办人"
	row := checkRow(2, rowHeaders, rowFields, cellsOf(v), testNow)
	if !row.Accepted() {
		t.Fatalf("rejected: %v", reasons(row))
	}
	want := onboard.OrgData{
		OpenID: "org-1", Name: "示例（深圳）科技 有限公司", CreditCode: "91110108MA01C2D3EG", LegalName: "张三",
		LegalIDCardType: "ID_CARD", LegalIDCardNumber: "11010519491231002X", Address: "北京市 东城区", AdminOpenID: "admin-1",
		Services: []onboard.ServiceType{onboard.ServiceAutoSign, onboard.ServiceHideOperatorDisplay},
	}
	if diff := cmp.Diff(want, row.Data); diff != "" {
		t.Errorf("data (-want +got):\n%s", diff)
	}
	var warned []string
	for _, w := range row.Warnings {
		warned = append(warned, w.Field)
	}
	if diff := cmp.Diff([]string{onboard.FieldName, onboard.FieldName, onboard.FieldAddress}, warned); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}

func TestRowCardTypeDefault(t *testing.T) {
	t.Parallel()
	v := validValues()
	v[onboard.FieldLegalIDCardType] = ""
	if row := checkRow(2, rowHeaders, rowFields, cellsOf(v), testNow); row.Data.LegalIDCardType != "ID_CARD" {
		t.Errorf("with a number: type %q", row.Data.LegalIDCardType)
	}
	v[onboard.FieldLegalIDCardNumber] = ""
	if row := checkRow(2, rowHeaders, rowFields, cellsOf(v), testNow); row.Data.LegalIDCardType != "" || !row.Accepted() {
		t.Errorf("without a number: type %q, errors %v", row.Data.LegalIDCardType, reasons(row))
	}
	v[onboard.FieldLegalIDCardType] = "居民身份证"
	if row := checkRow(2, rowHeaders, rowFields, cellsOf(v), testNow); row.Data.LegalIDCardType != "ID_CARD" {
		t.Errorf("居民身份证: type %q", row.Data.LegalIDCardType)
	}
	// Only the two required columns.
	row := checkRow(2, []string{"企业标识", "企业名称"}, []string{onboard.FieldOpenID, onboard.FieldName}, []cellValue{{text: "a"}}, testNow)
	if len(row.Errors) != 1 || row.Errors[0].Field != onboard.FieldName {
		t.Errorf("short row: %v", reasons(row))
	}
}

// FuzzCheckRow feeds arbitrary cell text to every column and checks that the
// rules hold for whatever is accepted, and that every reason names the row,
// its column and its field.
func FuzzCheckRow(f *testing.F) {
	f.Add("org-1", "示例(深圳)有限公司", uscc1, "张三", "ID_CARD", id1, "北京市", "admin", "AUTO_SIGN、骑缝章", false)
	f.Add("", "", "", "", "", "", "", "", "", true)
	f.Add(" a ", "\u3000b\n", "91350100m000100y43", "", "居民身份证", "11010519491231002x", "", "", "auto_sign,,;", false)
	f.Add("a b", "x", "BOLIU101304662708A", "\x00", "passport", "620000198802020000", strings.Repeat("x", 501), "\u200b", "FOO", true)
	f.Fuzz(func(t *testing.T, openID, name, code, legal, cardType, idNum, addr, admin, services string, numeric bool) {
		values := []string{openID, name, code, legal, cardType, idNum, addr, "", admin, services}
		cells := make([]cellValue, len(values))
		for i, s := range values {
			cells[i] = cellValue{text: s, numeric: numeric && i == 5}
		}
		row := checkRow(9, rowHeaders, rowFields, cells, testNow)
		for _, e := range row.Errors {
			if e.Row != 9 || e.Field == "" || e.Column != rowHeaders[indexOf(rowFields, e.Field)] || e.Reason == "" {
				t.Fatalf("bad error %+v", e)
			}
		}
		if !row.Accepted() {
			return
		}
		d := row.Data
		if n := utf8.RuneCountInString(d.OpenID); n < 1 || n > 64 || strings.ContainsFunc(d.OpenID, isTrimSpace) {
			t.Fatalf("accepted OpenId %q", d.OpenID)
		}
		if n := utf8.RuneCountInString(d.Name); n < 1 || n > 200 || strings.ContainsAny(d.Name, "()") {
			t.Fatalf("accepted name %q", d.Name)
		}
		if d.CreditCode != "" && !ValidCreditCode(d.CreditCode) {
			t.Fatalf("accepted credit code %q", d.CreditCode)
		}
		if d.LegalIDCardNumber != "" && (ValidIDNumber(d.LegalIDCardNumber, testNow) != nil || d.LegalIDCardType != "ID_CARD" || numeric) {
			t.Fatalf("accepted ID %q type %q numeric %v", d.LegalIDCardNumber, d.LegalIDCardType, numeric)
		}
		if d.LegalIDCardType != "" && d.LegalIDCardType != "ID_CARD" {
			t.Fatalf("accepted card type %q", d.LegalIDCardType)
		}
		if utf8.RuneCountInString(d.Address) > 500 {
			t.Fatalf("accepted address of %d characters", utf8.RuneCountInString(d.Address))
		}
		seen := map[onboard.ServiceType]bool{}
		for _, s := range d.Services {
			if seen[s] || ServiceChineseName(s) == "" {
				t.Fatalf("accepted services %v", d.Services)
			}
			seen[s] = true
		}
		for _, s := range []string{d.OpenID, d.Name, d.LegalName, d.Address, d.AdminOpenID} {
			if s != trimCell(s) || hasControl(s) {
				t.Fatalf("accepted untrimmed or control text %q", s)
			}
		}
	})
}
