package results

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/importer"
	"github.com/ess-onboard/onboard/locale"
	"github.com/ess-onboard/onboard/repository"
)

// langRows are rows of a batch as read back from the database: reasons and
// warnings with their codes, an organization failed with a platform code.
func langRows() []repository.ResultRow {
	expires := time.Date(2026, 11, 24, 2, 0, 0, 0, time.UTC)
	return []repository.ResultRow{
		{Number: 3, Cells: []string{"org-a", "甲公司（北京）", "", ""}, Status: "accepted",
			Warnings: []onboard.RowWarning{
				{Row: 3, Field: onboard.FieldName, Code: "name.half_width_brackets",
					Message: "half-width brackets ( ) in the company name were changed to full-width （ ）, as the platform requires"},
				{Row: 3, Field: importer.WarnHiddenRow, Code: "row.hidden", Params: map[string]string{"Row": "3"},
					Message: "row 3 is hidden in the sheet (by hand or by a filter); it was read like any other row, because hiding a row does not delete it. If it should not be imported, delete the row and upload the file again"},
			},
			OrgID: 1, State: onboard.StateAwaitingAuth, AuthStatus: "AUTHORIZING",
			LoginURL: "https://e.example/login", LoginExpiresAt: expires,
			Services: []repository.ServiceStatus{
				{Service: onboard.ServiceAutoSign, State: onboard.ServiceLinked, URL: "https://e.example/a", ExpiresAt: expires},
			}},
		{Number: 4, Cells: []string{"org-b", "乙公司", "9135010000010Y44", ""}, Status: "rejected",
			Reasons: []onboard.RowError{{Row: 4, Column: "统一社会信用代码", Field: onboard.FieldCreditCode, Code: "credit_code.check_char",
				Params: map[string]string{"Value": "9135**********0Y44", "Expected": "3"},
				Reason: `"9135**********0Y44" is not a valid unified social credit code: the check character (the last one) is wrong: with these first 17 characters it must be 3; check the code for a typo`}}},
		{Number: 5, Cells: []string{"org-c", "丙公司", "", ""}, Status: "accepted", OrgID: 3,
			State: onboard.StateFailed, ErrorCode: "InvalidParameter.CardNumber", ErrorMessage: "证件号码错误", RequestID: "req-3"},
		// Stored before reasons had codes: shown as stored, in any language.
		{Number: 6, Cells: []string{"org-d", "", "", ""}, Status: "rejected",
			Reasons: []onboard.RowError{{Row: 6, Column: "企业名称", Field: onboard.FieldName, Reason: "is empty"}}},
	}
}

func TestWriteInChinese(t *testing.T) {
	t.Parallel()
	batch := &repository.Batch{ID: 9, AppID: "app-1", FileName: "名单.xlsx", HeaderRow: 2,
		Headers:   []string{"企业标识", "企业名称", "统一社会信用代码", "备注"},
		CreatedAt: time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)}
	var buf bytes.Buffer
	if err := WriteWith(&buf, batch, fromSlice(langRows()), Options{Lang: locale.Chinese}); err != nil {
		t.Fatal(err)
	}
	f, err := openResults(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := f.GetSheetList(); len(got) != 1 || got[0] != "处理结果" {
		t.Fatalf("sheets %v", got)
	}
	got, err := f.GetRows("处理结果")
	if err != nil {
		t.Fatal(err)
	}
	header := append(append([]string{}, batch.Headers...),
		"处理状态", "拒绝原因", "提示", "认证状态", "错误码", "错误信息", "错误说明", "登录链接", "服务开通情况")
	want := [][]string{
		{"批次 9 的处理结果：名单.xlsx（应用 app-1），导入时间 2026-11-23 17:00 CST。可在本表中直接修改被拒绝的行，然后重新上传本文件。"},
		header,
		{"org-a", "甲公司（北京）", "", "", "等待企业认证", "",
			"企业名称：企业名称中的半角括号 ( ) 已按平台要求改为全角括号（ ）；隐藏行：第 3 行在工作表中被隐藏（手动隐藏或被筛选隐藏）；它和其他行一样被读取了，因为隐藏不等于删除。如果不应导入，请删除这一行后重新上传",
			"等待认证（AUTHORIZING）", "", "", "", "https://e.example/login（有效期至 2026-11-24 10:00 CST）",
			"AUTO_SIGN（企业静默签）：待管理员打开链接 https://e.example/a（有效期至 2026-11-24 10:00 CST）"},
		{"org-b", "乙公司", "9135010000010Y44", "", "已拒绝",
			"统一社会信用代码：“9135**********0Y44”不是有效的统一社会信用代码：校验码（最后一位）不对，按前 17 位计算应为 3；请检查是否输错"},
		{"org-c", "丙公司", "", "", "失败", "", "", "", "InvalidParameter.CardNumber", "证件号码错误（RequestId req-3）",
			"平台拒绝了法定代表人的证件号码。请对照身份证核对号码，修正后重新上传该行。"},
		{"org-d", "", "", "", "已拒绝", "企业名称：is empty"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("results sheet in zh-CN (-want +got):\n%s", diff)
	}

	// The same batch in English: the codes rendered in English, the
	// platform's code explained in English.
	buf.Reset()
	if err := WriteWith(&buf, batch, fromSlice(langRows()), Options{Lang: locale.English}); err != nil {
		t.Fatal(err)
	}
	_, en := readBack(t, buf.Bytes())
	if h := en[1][len(batch.Headers):]; !cmp.Equal(h, Headers) {
		t.Errorf("English headers %q", h)
	}
	if r := en[3]; r[4] != "rejected" || !strings.HasPrefix(r[5], `统一社会信用代码: "9135**********0Y44" is not a valid unified social credit code`) {
		t.Errorf("English rejected row %q", r)
	}
	if r := en[4]; len(r) < 11 || !strings.HasPrefix(r[10], "The platform refused the legal representative's ID number.") {
		t.Errorf("English error explanation %q", r)
	}
	if r := en[2]; r[6] != "ProxyOrganizationName: half-width brackets ( ) in the company name were changed to full-width （ ）, as the platform requires; hidden row: "+langRows()[0].Warnings[1].Message {
		t.Errorf("English warnings %q", r[6])
	}
}

// A results file written in Chinese and uploaded again keeps the user's
// columns only; exported again in English it has one set of result columns.
func TestChineseResultColumnsReplacedInEnglish(t *testing.T) {
	t.Parallel()
	batch := &repository.Batch{ID: 8, HeaderRow: 1, Headers: append([]string{"企业标识", "企业名称"}, HeadersIn(locale.Chinese)...)}
	for _, h := range HeadersIn(locale.Chinese) {
		if f, ok := importer.MatchHeader(h); ok {
			t.Errorf("result column %q would be read as %s when the file is uploaded again", h, f)
		}
	}
	rows := []repository.ResultRow{{Number: 2, Status: "accepted", State: onboard.StateDone,
		Cells: []string{"org-a", "甲", "等待企业认证", "", "", "等待认证"}}}
	var buf bytes.Buffer
	if err := Write(&buf, batch, fromSlice(rows)); err != nil {
		t.Fatal(err)
	}
	_, got := readBack(t, buf.Bytes())
	want := [][]string{append([]string{"企业标识", "企业名称"}, Headers...), {"org-a", "甲", "done", "", "", "verified"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("results sheet (-want +got):\n%s", diff)
	}
}

func openResults(data []byte) (*excelize.File, error) {
	return excelize.OpenReader(bytes.NewReader(data))
}
