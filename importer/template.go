package importer

import (
	"fmt"
	"io"
	"strings"

	"github.com/ess-onboard/onboard"
	"github.com/xuri/excelize/v2"
)

// templateColumn is one column of the template.
type templateColumn struct {
	chinese, field string
	required, text bool
	width          float64
	note           string
	example        string
}

// TemplateSheet is the name of the template's data sheet.
const TemplateSheet = "子企业名单"

var templateColumns = []templateColumn{
	{"子客企业标识", onboard.FieldOpenID, true, true, 24, "必填。子企业在贵方系统中的唯一标识，1 到 64 个可见字符（不含空格），同一文件内不可重复。", "demo-org-001"},
	{"企业名称", onboard.FieldName, true, false, 30, "必填。与营业执照一致的企业全称，最多 200 个字符；半角括号 ( ) 会自动改为全角（ ）。", "演示科技（深圳）有限公司"},
	{"统一社会信用代码", onboard.FieldCreditCode, false, true, 26, "选填。18 位统一社会信用代码，会校验最后一位校验码。本列已设为文本格式，请勿改为数字。", sampleCreditCode(101)},
	{"法定代表人", onboard.FieldLegalName, false, false, 18, "选填。法定代表人姓名。", "张伟"},
	{"法定代表人证件类型", onboard.FieldLegalIDCardType, false, false, 22, "选填。只能是 ID_CARD（居民身份证）；填写了证件号码时默认为 ID_CARD。", "ID_CARD"},
	{"法定代表人证件号码", onboard.FieldLegalIDCardNumber, false, true, 26, "选填。18 位居民身份证号码，末位可为 X。本列已设为文本格式；若设为数字，Excel 只保留 15 位有效数字，号码会被损坏。", sampleIDNumber("440305", "19780312", 12)},
	{"企业详细住所", onboard.FieldAddress, false, false, 36, "选填。省、市、区、街道门牌，最多 500 个字符。", "广东省深圳市南山区科技园南区10号"},
	{"营业执照", onboard.FieldBusinessLicense, false, false, 22, "选填。营业执照正本图片（PNG 或 JPEG，不超过 3.75 MiB）：把图片放在本单元格中（浮动图片或“嵌入单元格”均可），或填写图片文件名并把图片与本表一起打包成 .zip 上传。", ""},
	{"超管标识", onboard.FieldAdminOpenID, false, true, 22, "选填。子企业超级管理员（经办人）在贵方系统中的标识，1 到 64 个可见字符；开通扩展服务时需要。", "demo-admin-001"},
	{"扩展服务", onboard.FieldExtendedServices, false, false, 40, "选填。需要开通的扩展服务，多个用逗号、顿号或空格分隔。可选：" + templateServiceList() + "。几家公司开通相同服务时，可把它们的这一列合并为一个单元格，合并范围内的每一行都会使用这个值（子客企业标识和企业名称不可合并）。", "AUTO_SIGN，DOWNLOAD_FLOW"},
}

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

// WriteTemplate writes an empty spreadsheet for users to fill in: bilingual
// headers with a note on each, identifier columns formatted as text so that
// Excel cannot turn them into numbers, drop-down lists for the certificate
// type and the services, and one example row. It imports without errors.
func WriteTemplate(w io.Writer) error {
	f := excelize.NewFile()
	defer f.Close()
	const sheet = TemplateSheet
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
	if err := f.SetCellValue(sheet, "A1", "填写说明：第 2 行为表头，请勿修改；带 * 的列必填。把鼠标停在表头上可查看每列的说明。第 3 行是示例，请改成真实数据或删除后从第 3 行起填写，每行一家企业。隐藏的行也会导入；不需要导入的行请删除。"); err != nil {
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
			{Text: c.note},
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
	cardType.SetError(excelize.DataValidationErrorStyleStop, "证件类型", "只能选择 ID_CARD（居民身份证）。")
	if err := f.AddDataValidation(sheet, cardType); err != nil {
		return err
	}
	var options []string
	for _, s := range onboard.ServiceTypes {
		options = append(options, string(s)+" "+ServiceChineseName(s))
	}
	services := excelize.NewDataValidation(true)
	services.SetSqref(fmt.Sprintf("J3:J%d", lastRow))
	if err := services.SetDropList(options); err != nil {
		return err
	}
	// Several services may be typed into one cell, so a value outside the
	// list only informs.
	services.SetError(excelize.DataValidationErrorStyleInformation, "扩展服务", "可填写多个服务，用逗号、顿号或空格分隔。")
	services.SetInput("扩展服务", "从列表选择一项，或输入多个服务名，用逗号分隔。")
	if err := f.AddDataValidation(sheet, services); err != nil {
		return err
	}
	if err := f.SetPanes(sheet, &excelize.Panes{Freeze: true, YSplit: 2, TopLeftCell: "A3", ActivePane: "bottomLeft"}); err != nil {
		return err
	}

	// A second sheet lists the services.
	const help = "扩展服务说明"
	if _, err := f.NewSheet(help); err != nil {
		return err
	}
	if err := f.SetSheetRow(help, "A1", &[]any{"ExtendedServices", "中文名称"}); err != nil {
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
