package importer

import (
	"strings"
	"testing"

	"github.com/ess-onboard/onboard/locale"
)

// The message of an unknown service lists the services the importer
// accepts, in both languages.
func TestUnknownServiceListsEveryService(t *testing.T) {
	t.Parallel()
	p := map[string]string{"Names": `"X"`, "Count": "1"}
	if got := Render("services.unknown", p); !strings.Contains(got, "use "+servicesHelp()+", separated by commas") {
		t.Errorf("English: %q; want the list %q", got, servicesHelp())
	}
	if got := locale.New(locale.Chinese).Reason("services.unknown", p, ""); !strings.Contains(got, templateServiceList()) {
		t.Errorf("Chinese: %q; want the list %q", got, templateServiceList())
	}
	p["Count"], p["Names"] = "2", `"X", "Y"`
	if got := Render("services.unknown", p); !strings.HasPrefix(got, `unknown services "X", "Y"; use`) {
		t.Errorf("two unknown services: %q", got)
	}
}

// A refusal reads the same in English as Refusal says it, and in Chinese
// from its code; one stored without a code reads as its text.
func TestRefusalIn(t *testing.T) {
	t.Parallel()
	e := NewFileError("file.empty", "File", "orgs.xlsx")
	want := "orgs.xlsx was refused: orgs.xlsx is empty; save the workbook again as .xlsx and upload it. Nothing was stored."
	if got := Refusal("orgs.xlsx", e); got != want {
		t.Errorf("Refusal: %q", got)
	}
	if got := RefusalIn(locale.New(locale.English), "orgs.xlsx", e); got != want {
		t.Errorf("RefusalIn English: %q", got)
	}
	if got := RefusalIn(locale.New(locale.Chinese), "orgs.xlsx", e); got != "“orgs.xlsx”未被接受：“orgs.xlsx”是空文件；请把工作簿重新另存为 .xlsx 后上传。未保存任何内容。" {
		t.Errorf("RefusalIn Chinese: %q", got)
	}
	old := &FileError{Reason: "something went wrong."}
	if got := RefusalIn(locale.New(locale.Chinese), "a.xlsx", old); got != "“a.xlsx”未被接受：something went wrong。未保存任何内容。" {
		t.Errorf("RefusalIn of a refusal without a code: %q", got)
	}
	// Identifiers quoted by a refusal are masked in its parameters too.
	e = NewFileError("file.no_such_sheet", "Sheet", "11010519491231002X", "Names", `"Sheet1"`)
	if strings.Contains(e.Reason, "11010519491231002X") || e.Params["Sheet"] != "1101**********002X" {
		t.Errorf("masking: %q %v", e.Reason, e.Params)
	}
}

// An identifier a reason quotes is masked in its parameters as in its text,
// so that neither Postgres nor a reader in another language sees it whole.
func TestReasonParamsMasked(t *testing.T) {
	t.Parallel()
	p := writeBook(t, t.TempDir(), "ids.xlsx", [][]any{stdHeaders,
		{id1, "甲公司"}, {id1, "乙公司", "", "", "", "110105194912310021"},
	}, nil)
	_, rows := readAll(t, p, testOpts())
	seen := 0
	for _, row := range rows {
		for _, e := range row.Errors {
			for k, v := range e.Params {
				if strings.Contains(v, id1) || strings.Contains(v, "110105194912310021") {
					t.Errorf("row %d %s: parameter %s = %q holds an identifier", row.Number, e.Code, k, v)
				}
			}
			if zh := locale.New(locale.Chinese).Reason(e.Code, e.Params, ""); strings.Contains(zh, "110105") && !strings.Contains(zh, "1101**") {
				t.Errorf("row %d %s in Chinese: %q", row.Number, e.Code, zh)
			}
			seen++
		}
	}
	if seen != 2 {
		t.Errorf("%d reasons; want the duplicate and the check character", seen)
	}
}
