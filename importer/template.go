package importer

import (
	"fmt"
	"io"
	"strings"

	"github.com/xuri/excelize/v2"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/locale"
)

// templateColumn is one column of the template.
// Its note is the message "template.note.<field>".
type templateColumn struct {
	chinese, field string
	required, text bool
	width          float64
	example        string
}

// TemplateSheet is the name of the template's data sheet in Chinese.
const TemplateSheet = "子企业名单"

// TemplateSheetIn is the name of the template's (and the sample's) data
// sheet in a language.
func TemplateSheetIn(lang string) string { return locale.New(lang).T("template.sheet") }

var templateColumns = []templateColumn{
	{"子客企业标识", onboard.FieldOpenID, true, true, 24, "demo-org-001"},
	{"企业名称", onboard.FieldName, true, false, 30, "演示科技（深圳）有限公司"},
	{"统一社会信用代码", onboard.FieldCreditCode, false, true, 26, sampleCreditCode(101)},
	{"法定代表人", onboard.FieldLegalName, false, false, 18, "张伟"},
	{"法定代表人证件类型", onboard.FieldLegalIDCardType, false, false, 22, "ID_CARD"},
	{"法定代表人证件号码", onboard.FieldLegalIDCardNumber, false, true, 26, sampleIDNumber("440305", "19780312", 12)},
	{"企业详细住所", onboard.FieldAddress, false, false, 36, "广东省深圳市南山区科技园南区10号"},
	{"营业执照", onboard.FieldBusinessLicense, false, false, 22, ""},
	{"超管标识", onboard.FieldAdminOpenID, false, true, 22, "demo-admin-001"},
	{"扩展服务", onboard.FieldExtendedServices, false, false, 40, "AUTO_SIGN，DOWNLOAD_FLOW"},
}

// templateServiceList lists the services for the Chinese note.
func templateServiceList() string {
	var parts []string
	for _, s := range onboard.ServiceTypes {
		parts = append(parts, fmt.Sprintf("%s（%s）", s, ServiceChineseName(s)))
	}
	return strings.Join(parts, "、")
}

// templateHeader is a column's header: Chinese, the API name in brackets,
// and a star when required, which MatchHeader reads as the field.
func templateHeader(c templateColumn) string {
	h := c.chinese + "（" + c.field + "）"
	if c.required {
		h += "*"
	}
	return h
}

// WriteTemplate writes the template in English; see WriteTemplateIn.
func WriteTemplate(w io.Writer) error { return WriteTemplateIn(w, locale.English) }

// WriteTemplateIn writes an empty spreadsheet for users to fill in: bilingual
// headers (the contract's Chinese name and the API name, whatever the
// language) with a note on each, identifier columns formatted as text so
// that Excel cannot turn them into numbers, drop-down lists for the
// certificate type and the services, and one example row. Its notes,
// instructions and sheet names are in lang. It imports without errors.
func WriteTemplateIn(w io.Writer, lang string) error {
	p := locale.New(lang)
	services := servicesHelp()
	if p.Lang() == locale.Chinese {
		services = templateServiceList()
	}
	f := excelize.NewFile()
	defer f.Close()
	sheet := p.T("template.sheet")
	if err := f.SetSheetName("Sheet1", sheet); err != nil {
		return err
	}
	text, err := f.NewStyle(&excelize.Style{NumFmt: 49})
	if err != nil {
		return err
	}
	headRequired, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true, Color: "9C0006"}, Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"FFC7CE"}},
		Alignment: &excelize.Alignment{WrapText: true, Vertical: "center"}})
	if err != nil {
		return err
	}
	headOptional, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}, Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"DDEBF7"}},
		Alignment: &excelize.Alignment{WrapText: true, Vertical: "center"}})
	if err != nil {
		return err
	}
	noteStyle, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Italic: true, Color: "595959"}, Alignment: &excelize.Alignment{WrapText: true, Vertical: "top"}})
	if err != nil {
		return err
	}
	if err := f.SetCellValue(sheet, "A1", p.T("template.instructions")); err != nil {
		return err
	}
	last, _ := excelize.ColumnNumberToName(len(templateColumns))
	if err := f.MergeCell(sheet, "A1", last+"1"); err != nil {
		return err
	}
	if err := f.SetCellStyle(sheet, "A1", "A1", noteStyle); err != nil {
		return err
	}
	if err := f.SetRowHeight(sheet, 1, 36); err != nil {
		return err
	}
	if err := f.SetRowHeight(sheet, 2, 34); err != nil {
		return err
	}
	example := make([]any, len(templateColumns))
	for i, c := range templateColumns {
		col, _ := excelize.ColumnNumberToName(i + 1)
		cell := col + "2"
		if c.text {
			if err := f.SetColStyle(sheet, col, text); err != nil {
				return err
			}
		}
		if err := f.SetColWidth(sheet, col, col, c.width); err != nil {
			return err
		}
		if err := f.SetCellValue(sheet, cell, templateHeader(c)); err != nil {
			return err
		}
		style := headOptional
		if c.required {
			style = headRequired
		}
		if err := f.SetCellStyle(sheet, cell, cell, style); err != nil {
			return err
		}
		if err := f.AddComment(sheet, excelize.Comment{Cell: cell, Author: "onboard", Paragraph: []excelize.RichTextRun{
			{Text: c.field + "\n", Font: &excelize.Font{Bold: true}},
			{Text: p.T("template.note."+c.field, "Services", services)},
		}, Width: 300, Height: 120}); err != nil {
			return err
		}
		example[i] = c.example
	}
	if err := f.SetSheetRow(sheet, "A3", &example); err != nil {
		return err
	}
	// Text format on the example row's identifier cells too (a row's own
	// style would otherwise win over the column's).
	for i, c := range templateColumns {
		if c.text {
			col, _ := excelize.ColumnNumberToName(i + 1)
			if err := f.SetCellStyle(sheet, col+"3", col+"3", text); err != nil {
				return err
			}
		}
	}

	const lastRow = 100000
	cardType := excelize.NewDataValidation(true)
	cardType.SetSqref(fmt.Sprintf("E3:E%d", lastRow))
	if err := cardType.SetDropList([]string{"ID_CARD", "居民身份证"}); err != nil {
		return err
	}
	cardType.SetError(excelize.DataValidationErrorStyleStop, p.T("template.card_type.title"), p.T("template.card_type.error"))
	if err := f.AddDataValidation(sheet, cardType); err != nil {
		return err
	}
	var options []string
	for _, s := range onboard.ServiceTypes {
		options = append(options, string(s)+" "+ServiceChineseName(s))
	}
	serviceList := excelize.NewDataValidation(true)
	serviceList.SetSqref(fmt.Sprintf("J3:J%d", lastRow))
	if err := serviceList.SetDropList(options); err != nil {
		return err
	}
	// Several services may be typed into one cell, so a value outside the
	// list only informs.
	serviceList.SetError(excelize.DataValidationErrorStyleInformation, p.T("template.services.title"), p.T("template.services.error"))
	serviceList.SetInput(p.T("template.services.title"), p.T("template.services.input"))
	if err := f.AddDataValidation(sheet, serviceList); err != nil {
		return err
	}
	if err := f.SetPanes(sheet, &excelize.Panes{Freeze: true, YSplit: 2, TopLeftCell: "A3", ActivePane: "bottomLeft"}); err != nil {
		return err
	}

	// A second sheet lists the services.
	help := p.T("template.help_sheet")
	if _, err := f.NewSheet(help); err != nil {
		return err
	}
	if err := f.SetSheetRow(help, "A1", &[]any{"ExtendedServices", p.T("template.help_chinese")}); err != nil {
		return err
	}
	for i, s := range onboard.ServiceTypes {
		if err := f.SetSheetRow(help, fmt.Sprintf("A%d", i+2), &[]any{string(s), ServiceChineseName(s)}); err != nil {
			return err
		}
	}
	if err := f.SetColWidth(help, "A", "B", 28); err != nil {
		return err
	}
	f.SetActiveSheet(0)
	return f.Write(w)
}
