package importer

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ess-onboard/onboard"
)

func TestMatchHeader(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		header string
		field  string // "" for no match
	}{
		{"ProxyOrganizationOpenId", onboard.FieldOpenID},
		{"proxyorganizationopenid", onboard.FieldOpenID},
		{"  OrganizationOpenId\t", onboard.FieldOpenID},
		{"\u3000子客企业标识\u00a0", onboard.FieldOpenID},
		{"企业标识*", onboard.FieldOpenID},
		{"企业标识 ＊", onboard.FieldOpenID},
		{"企业名称", onboard.FieldName},
		{"ORGANIZATIONNAME", onboard.FieldName},
		{"子客企业名称*", onboard.FieldName},
		{"统一社会信用代码", onboard.FieldCreditCode},
		{"UniformSocialCreditCode", onboard.FieldCreditCode},
		{"法定代表人", onboard.FieldLegalName},
		{"法定代表人姓名", onboard.FieldLegalName},
		{"LegalName", onboard.FieldLegalName},
		{"证件类型", onboard.FieldLegalIDCardType},
		{"ProxyLegalIdCardType", onboard.FieldLegalIDCardType},
		{"法定代表人证件号码", onboard.FieldLegalIDCardNumber},
		{"证件号码", onboard.FieldLegalIDCardNumber},
		{"住所", onboard.FieldAddress},
		{"企业地址", onboard.FieldAddress},
		{"Address", onboard.FieldAddress},
		{"营业执照", onboard.FieldBusinessLicense},
		{"businesslicense", onboard.FieldBusinessLicense},
		{"超管标识", onboard.FieldAdminOpenID},
		{"经办人标识", onboard.FieldAdminOpenID},
		{"ProxyOperatorOpenId", onboard.FieldAdminOpenID},
		{"扩展服务", onboard.FieldExtendedServices},
		{"extendedservices *", onboard.FieldExtendedServices},
		// Bilingual headers naming the same field twice, as the template writes them.
		{"企业名称（ProxyOrganizationName）*", onboard.FieldName},
		{"企业名称 (ProxyOrganizationName)", onboard.FieldName},
		{"企业名称\nProxyOrganizationName", onboard.FieldName},
		// Not headers of the contract.
		{"企业名称（ProxyOrganizationOpenId）", ""},
		{"企业 名称", ""},
		{"名称", ""},
		{"备注", ""},
		{"", ""},
		{"*", ""},
		{"()", ""},
		{"(企业名称)", ""},
	} {
		f, ok := MatchHeader(tc.header)
		if f != tc.field || ok != (tc.field != "") {
			t.Errorf("MatchHeader(%q) = %q, %v; want %q", tc.header, f, ok, tc.field)
		}
	}
}

// FuzzMatchHeader checks that matching ignores what the contract says it
// ignores: surrounding white space, case, bracket width and a trailing star.
func FuzzMatchHeader(f *testing.F) {
	for _, s := range []string{"企业名称", "ProxyOrganizationOpenId", "企业名称（ProxyOrganizationName）*", "a(b)", "\u3000*＊", "证件号码\n证件号码"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		if !utf8.ValidString(h) {
			return
		}
		field, ok := MatchHeader(h)
		if ok != (field != "") {
			t.Fatalf("MatchHeader(%q) = %q, %v", h, field, ok)
		}
		for _, variant := range []string{
			" \u3000" + h + "\u00a0\t",
			strings.ToUpper(h),
			strings.NewReplacer("(", "（", ")", "）").Replace(h),
			h + " *",
		} {
			if strings.ContainsAny(h, "*＊") && variant == h+" *" {
				continue
			}
			if strings.ToUpper(h) == variant && strings.ToLower(variant) != strings.ToLower(h) {
				continue // case folding that does not round-trip
			}
			if f2, _ := MatchHeader(variant); f2 != field {
				t.Fatalf("MatchHeader(%q) = %q but MatchHeader(%q) = %q", h, field, variant, f2)
			}
		}
	})
}

func TestParseServices(t *testing.T) {
	t.Parallel()
	got, unknown := ParseServices("auto_sign，企业静默签、 DOWNLOAD_FLOW;骑缝章；\u3000hide_operator_display  港澳台居民签署,手机号验证 拓宽签署方年龄")
	want := []onboard.ServiceType{onboard.ServiceAutoSign, onboard.ServiceDownloadFlow, onboard.ServicePagingSeal,
		onboard.ServiceHideOperatorDisplay, onboard.ServiceOverseaSign, onboard.ServiceMobileCheckApprover, onboard.ServiceAgeLimitExpansion}
	if len(unknown) != 0 || len(got) != len(want) {
		t.Fatalf("got %v, unknown %v", got, unknown)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("service %d = %s; want %s", i, got[i], want[i])
		}
	}
	if _, unknown := ParseServices("AUTO_SIGN, FAST_LANE, 自动签署, 快速通道"); len(unknown) != 2 || unknown[0] != "FAST_LANE" || unknown[1] != "快速通道" {
		t.Errorf("unknown = %q", unknown)
	}
	if got, _ := ParseServices("授权渠道下载合同 自动签署"); len(got) != 2 || got[0] != onboard.ServiceDownloadFlow || got[1] != onboard.ServiceAutoSign {
		t.Errorf("Chinese names: %v", got)
	}
}
