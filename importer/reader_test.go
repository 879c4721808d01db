package importer

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/ess-onboard/onboard"
	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"
)

func TestReadPlainWorkbook(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := writeBook(t, dir, "orgs.xlsx", [][]any{
		{"Company list 2025"},
		{"Fill in one company per row"},
		stdHeaders,
		{"org-001", "示例科技(深圳)有限公司", uscc2, "张三", "居民身份证", id1, "深圳市南山区科技园1号", "", "admin-1", "AUTO_SIGN，下载合同"},
		nil,
		{" org-002 ", "Example Co", strings.ToLower(uscc3), "李四", "", "11010519491231002x", "北京市", "", "", "auto_sign, DOWNLOAD_FLOW、手机号验证;AUTO_SIGN"},
	}, nil)
	r, rows := readAll(t, p, testOpts())
	if r.HeaderRow() != 3 || r.Sheet() != "Sheet1" || r.FileName() != "orgs.xlsx" {
		t.Errorf("header row %d, sheet %q, file %q", r.HeaderRow(), r.Sheet(), r.FileName())
	}
	b, _ := os.ReadFile(p)
	sum := sha256.Sum256(b)
	if r.SHA256() != hex.EncodeToString(sum[:]) {
		t.Errorf("SHA256 = %s", r.SHA256())
	}
	want := []string{}
	for _, h := range stdHeaders {
		want = append(want, h.(string))
	}
	if diff := cmp.Diff(want, r.Headers()); diff != "" {
		t.Errorf("headers (-want +got):\n%s", diff)
	}
	if len(rows) != 2 {
		t.Fatalf("got %d rows; want 2", len(rows))
	}
	// Row 4: an unknown service name is rejected, naming row and column.
	if diff := cmp.Diff([]onboard.RowError{{Row: 4, Column: "扩展服务", Field: onboard.FieldExtendedServices,
		Code: "services.unknown", Params: map[string]string{"Names": `"下载合同"`, "Count": "1"},
		Reason: rows[0].Errors[0].Reason}}, rows[0].Errors); diff != "" || !strings.Contains(rows[0].Errors[0].Reason, `"下载合同"`) {
		t.Errorf("row 4 errors: %v %s", rows[0].Errors, diff)
	}
	if len(rows[0].Warnings) != 1 || rows[0].Warnings[0].Field != onboard.FieldName {
		t.Errorf("row 4 warnings: %v", rows[0].Warnings)
	}
	// Row 6 (the blank row 5 is skipped): normalised and accepted.
	got := rows[1]
	if got.Number != 6 || !got.Accepted() {
		t.Fatalf("row %d accepted=%v errors=%v", got.Number, got.Accepted(), reasons(got))
	}
	wantData := onboard.OrgData{
		OpenID: "org-002", Name: "Example Co", CreditCode: uscc3, LegalName: "李四",
		LegalIDCardType: "ID_CARD", LegalIDCardNumber: id1, Address: "北京市",
		Services: []onboard.ServiceType{onboard.ServiceAutoSign, onboard.ServiceDownloadFlow, onboard.ServiceMobileCheckApprover},
	}
	if diff := cmp.Diff(wantData, got.Data); diff != "" {
		t.Errorf("row 6 data (-want +got):\n%s", diff)
	}
	if got.Cells[0] != " org-002 " || len(got.Cells) != len(stdHeaders) {
		t.Errorf("row 6 cells = %q", got.Cells)
	}
}

func TestNumericIDCellRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := writeBook(t, dir, "num.xlsx", [][]any{
		{"ProxyOrganizationOpenId", "ProxyOrganizationName", "ProxyLegalIdCardNumber", "UniformSocialCreditCode", "AdminOpenId"},
		{"org-1", "A", 110101200001010010, 914403001234567810, 12345},
		{"org-2", "B", "110101200001010010", "914403001234567810", 1.2345678901234567e17},
	}, nil)
	_, rows := readAll(t, p, testOpts())
	if len(rows) != 2 {
		t.Fatalf("got %d rows", len(rows))
	}
	var fields []string
	for _, e := range rows[0].Errors {
		fields = append(fields, e.Field)
		if !strings.Contains(e.Reason, "format the column as Text") {
			t.Errorf("reason %q does not say to format the column as text", e.Reason)
		}
	}
	if diff := cmp.Diff([]string{onboard.FieldLegalIDCardNumber, onboard.FieldCreditCode}, sortStrings(fields)); diff != "" {
		t.Errorf("row 2 rejected fields (-want +got):\n%s", diff)
	}
	if rows[0].Data.AdminOpenID != "12345" {
		t.Errorf("a short numeric admin OpenId should read as shown; got %q", rows[0].Data.AdminOpenID)
	}
	if len(rows[1].Errors) != 1 || rows[1].Errors[0].Field != onboard.FieldAdminOpenID {
		t.Errorf("row 3: a long numeric AdminOpenId must be refused; got %v", reasons(rows[1]))
	}
}

func sortStrings(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestDuplicateOpenID(t *testing.T) {
	t.Parallel()
	p := writeBook(t, t.TempDir(), "dup.xlsx", [][]any{
		{"企业标识", "企业名称"},
		{"a", "A"},
		{"b", "B"},
		{"a", "A again"},
	}, nil)
	_, rows := readAll(t, p, testOpts())
	if len(rows) != 3 || !rows[0].Accepted() || !rows[1].Accepted() || rows[2].Accepted() {
		t.Fatalf("want rows 2,3 accepted and 4 rejected; got %d rows", len(rows))
	}
	if e := rows[2].Errors[0]; e.Row != 4 || e.Field != onboard.FieldOpenID || !strings.Contains(e.Reason, "row 2") {
		t.Errorf("duplicate error = %+v", e)
	}
}

func TestBlankRowsSkipped(t *testing.T) {
	t.Parallel()
	p := writeBook(t, t.TempDir(), "blank.xlsx", [][]any{
		{"企业标识", "企业名称", "备注"},
		{"  ", "\u3000", "\u00a0"},
		{"x", "X", "note"},
	}, func(f *excelize.File) {
		style, _ := f.NewStyle(&excelize.Style{Fill: excelize.Fill{Type: "pattern", Color: []string{"FFFF00"}, Pattern: 1}})
		f.SetCellStyle("Sheet1", "A5", "C9", style)
	})
	r, rows := readAll(t, p, testOpts())
	if len(rows) != 1 || rows[0].Number != 3 {
		t.Fatalf("want only row 3; got %d rows", len(rows))
	}
	if diff := cmp.Diff([]string{"x", "X", "note"}, rows[0].Cells); diff != "" {
		t.Errorf("cells: %s", diff)
	}
	if r.Headers()[2] != "备注" {
		t.Errorf("unknown column not kept: %q", r.Headers())
	}
}
