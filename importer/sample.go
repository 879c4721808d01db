package importer

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"

	"github.com/xuri/excelize/v2"

	"github.com/ess-onboard/onboard/locale"
)

// Sample figures: what reading the sample spreadsheet yields.
const (
	SampleAccepted = 12 // eight clean rows, one with a warning, and a group with merged services and a hidden row
	SampleRejected = 6  // one row per kind of mistake
)

// sampleHeaders are the sample's columns: the contract's Chinese headers
// (in English, each followed by its API name) and a note column the
// importer keeps but ignores.
func sampleHeaders(p *locale.Printer) []string {
	out := make([]string, 0, len(templateColumns)+1)
	for _, c := range templateColumns {
		h := c.chinese
		if p.Lang() != locale.Chinese {
			h += " (" + c.field + ")"
		}
		out = append(out, h)
	}
	return append(out, p.T("sample.note_header"))
}

// sampleCreditCode makes a valid unified social credit code from a number.
func sampleCreditCode(n int) string {
	first := fmt.Sprintf("91440300MA5%06d", n%1000000)
	c, err := CreditCodeCheckChar(first)
	if err != nil {
		panic(err)
	}
	return first + string(c)
}

// sampleIDNumber makes a valid resident ID number from an area code, a birth
// date (YYYYMMDD) and a sequence number.
func sampleIDNumber(area, birth string, seq int) string {
	first := fmt.Sprintf("%s%s%03d", area, birth, seq%1000)
	c, err := IDCheckChar(first)
	if err != nil {
		panic(err)
	}
	return first + string(c)
}

// LicensePNG draws a small placeholder license picture; seed varies it, so
// that different companies get different pictures.
func LicensePNG(seed int) []byte {
	const w, h = 240, 160
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	paper := color.RGBA{0xfb, 0xf6, 0xe9, 0xff}
	red := color.RGBA{0xc0, 0x20, 0x20, 0xff}
	ink := color.RGBA{0x30, 0x30, 0x30, 0xff}
	for x := 0; x < w; x++ {
		for y := 0; y < h; y++ {
			c := paper
			if x < 6 || y < 6 || x >= w-6 || y >= h-6 {
				c = red
			}
			img.Set(x, y, c)
		}
	}
	// Lines of "text" whose lengths depend on the seed.
	for line := 0; line < 6; line++ {
		n := 60 + (seed*37+line*53)%120
		for x := 30; x < 30+n; x++ {
			for y := 30 + line*18; y < 36+line*18; y++ {
				img.Set(x, y, ink)
			}
		}
	}
	// A round seal.
	for x := 170; x < 220; x++ {
		for y := 95; y < 145; y++ {
			dx, dy := x-195, y-120
			if d := dx*dx + dy*dy; d <= 625 && d >= 484 {
				img.Set(x, y, red)
			}
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// WriteSample writes the sample in English; see WriteSampleIn.
func WriteSample(w io.Writer) error { return WriteSampleIn(w, locale.English) }

// WriteSampleIn writes the sample spreadsheet: a title row, the header row,
// eight valid companies (two with license pictures in their cells) and rows
// showing each kind of mistake the importer reports, each with a note in
// lang saying what it shows. The companies are the same in every language.
// Reading it back gives SampleAccepted accepted and SampleRejected rejected
// rows.
func WriteSampleIn(w io.Writer, lang string) error {
	p := locale.New(lang)
	note := func(id string) string { return p.T("sample.note." + id) }
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
	title, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true, Size: 14}})
	if err != nil {
		return err
	}
	head, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}, Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"DDEBF7"}}})
	if err != nil {
		return err
	}
	if err := f.SetColStyle(sheet, "A:C", text); err != nil {
		return err
	}
	if err := f.SetColStyle(sheet, "F", text); err != nil {
		return err
	}
	if err := f.SetColStyle(sheet, "I", text); err != nil {
		return err
	}
	widths := []float64{16, 30, 22, 10, 12, 22, 36, 18, 16, 34, 40}
	for i, wd := range widths {
		col, _ := excelize.ColumnNumberToName(i + 1)
		if err := f.SetColWidth(sheet, col, col, wd); err != nil {
			return err
		}
	}

	set := func(cell string, v any) error { return f.SetCellValue(sheet, cell, v) }
	if err := set("A1", p.T("sample.title")); err != nil {
		return err
	}
	if err := f.SetCellStyle(sheet, "A1", "A1", title); err != nil {
		return err
	}
	headers := sampleHeaders(p)
	if err := f.SetSheetRow(sheet, "A2", &headers); err != nil {
		return err
	}
	if err := f.SetCellStyle(sheet, "A2", "K2", head); err != nil {
		return err
	}

	type sampleRow struct {
		openID, name, code, legal, cardType string
		idNumber                            any // string, or a number to show the mistake
		address, license, admin, services   string
		note                                string
		picture                             bool
		hidden                              bool
	}
	areas := []string{"440305", "110105", "310115", "330106", "510107", "420106", "320506", "350203"}
	births := []string{"19780312", "19850627", "19690101", "19900930", "19821115", "19750505", "19880218", "19930707"}
	cities := []string{"广东省深圳市南山区科技园南区", "北京市朝阳区建国路", "上海市浦东新区世纪大道", "浙江省杭州市西湖区文三路", "四川省成都市武侯区天府大道", "湖北省武汉市武昌区中北路", "江苏省苏州市工业园区星湖街", "福建省厦门市思明区鹭江道"}
	legal := []string{"张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊", "赵敏", "周杰"}
	services := []string{"AUTO_SIGN", "AUTO_SIGN,DOWNLOAD_FLOW", "MOBILE_CHECK_APPROVER", "", "企业静默签、授权渠道下载合同", "PAGING_SEAL；HIDE_OPERATOR_DISPLAY", "AUTO_SIGN MOBILE_CHECK_APPROVER", "DOWNLOAD_FLOW"}
	var rows []sampleRow
	for i := 0; i < 8; i++ {
		n := i + 1
		r := sampleRow{
			openID:   fmt.Sprintf("demo-org-%03d", n),
			name:     fmt.Sprintf("演示科技%s有限公司", []string{"（深圳）", "（北京）", "（上海）", "（杭州）", "（成都）", "（武汉）", "（苏州）", "（厦门）"}[i]),
			code:     sampleCreditCode(100 + n),
			legal:    legal[i],
			cardType: "ID_CARD",
			idNumber: sampleIDNumber(areas[i], births[i], 10+n*2),
			address:  cities[i] + fmt.Sprintf("%d号", n*10),
			admin:    fmt.Sprintf("demo-admin-%03d", n),
			services: services[i],
			note:     note("ok"),
			picture:  i < 2,
		}
		if i == 2 {
			r.cardType = "居民身份证"
		}
		if r.picture {
			r.note = note("ok_picture")
		}
		rows = append(rows, r)
	}
	rows = append(rows,
		sampleRow{openID: "demo-org-009", name: "演示贸易(广州)有限公司", code: sampleCreditCode(109), legal: "吴刚", cardType: "ID_CARD",
			idNumber: sampleIDNumber("440104", "19800808", 31), address: "广东省广州市越秀区环市东路", admin: "demo-admin-009", services: "AUTO_SIGN",
			note: note("brackets")},
		sampleRow{openID: "demo-org-010", name: "演示物流有限公司", code: sampleCreditCode(110)[:17] + "0", legal: "郑爽", cardType: "ID_CARD",
			idNumber: sampleIDNumber("370102", "19790214", 33), address: "山东省济南市历下区", services: "AUTO_SIGN",
			note: note("check_char")},
		sampleRow{openID: "demo-org-011", name: "演示餐饮管理有限公司", code: sampleCreditCode(111), legal: "孙丽", cardType: "ID_CARD",
			idNumber: 110105198001010000.0, address: "北京市朝阳区", services: "DOWNLOAD_FLOW",
			note: note("id_number")},
		sampleRow{openID: "demo-org-012", name: "演示建筑工程有限公司", code: sampleCreditCode(112), legal: "钱进", cardType: "ID_CARD",
			idNumber: sampleIDNumber("500103", "19860606", 35), address: "重庆市渝中区", services: "AUTO_SIGN,SUPER_SIGN",
			note: note("service")},
		sampleRow{openID: "demo-org-003", name: "演示重复标识有限公司", code: sampleCreditCode(113), legal: "冯雪", cardType: "ID_CARD",
			idNumber: sampleIDNumber("610113", "19910101", 37), address: "陕西省西安市雁塔区", services: "AUTO_SIGN",
			note: note("duplicate")},
		sampleRow{openID: "demo-org-014", name: "", code: sampleCreditCode(114), legal: "褚亮", cardType: "ID_CARD",
			idNumber: sampleIDNumber("120101", "19870707", 39), address: "天津市和平区", services: "AUTO_SIGN",
			note: note("name_missing")},
		sampleRow{openID: "demo-org-015", name: "演示教育咨询有限公司", code: sampleCreditCode(115), legal: "卫东", cardType: "护照",
			idNumber: sampleIDNumber("210102", "19830303", 41), address: "辽宁省沈阳市和平区", services: "MOBILE_CHECK_APPROVER",
			note: note("card_type")},
		// A group of companies whose services cell is merged down two rows,
		// and a row hidden by hand: all three are imported.
		sampleRow{openID: "demo-org-016", name: "演示集团华南有限公司", code: sampleCreditCode(116), legal: "蒋涛", cardType: "ID_CARD",
			idNumber: sampleIDNumber("440106", "19810909", 43), address: "广东省广州市天河区珠江新城", services: "AUTO_SIGN，MOBILE_CHECK_APPROVER",
			note: note("merged_first")},
		sampleRow{openID: "demo-org-017", name: "演示集团华东有限公司", code: sampleCreditCode(117), legal: "沈悦", cardType: "ID_CARD",
			idNumber: sampleIDNumber("310104", "19840404", 45), address: "上海市徐汇区漕溪北路",
			note: note("merged_second")},
		sampleRow{openID: "demo-org-018", name: "演示集团华北有限公司", code: sampleCreditCode(118), legal: "韩梅", cardType: "ID_CARD",
			idNumber: sampleIDNumber("130102", "19891212", 47), address: "河北省石家庄市长安区", services: "DOWNLOAD_FLOW",
			note: note("hidden"), hidden: true},
	)
	numeric, err := f.NewStyle(&excelize.Style{NumFmt: 0})
	if err != nil {
		return err
	}
	for i, r := range rows {
		n := i + 3
		values := []any{r.openID, r.name, r.code, r.legal, r.cardType, r.idNumber, r.address, r.license, r.admin, r.services, r.note}
		cell, _ := excelize.CoordinatesToCellName(1, n)
		if err := f.SetSheetRow(sheet, cell, &values); err != nil {
			return err
		}
		if _, isNum := r.idNumber.(float64); isNum {
			ref := fmt.Sprintf("F%d", n)
			if err := f.SetCellStyle(sheet, ref, ref, numeric); err != nil {
				return err
			}
		}
		if r.hidden {
			if err := f.SetRowVisible(sheet, n, false); err != nil {
				return err
			}
		}
		if r.picture {
			if err := f.SetRowHeight(sheet, n, 60); err != nil {
				return err
			}
			err := f.AddPictureFromBytes(sheet, fmt.Sprintf("H%d", n), &excelize.Picture{
				Extension: ".png", File: LicensePNG(i),
				Format: &excelize.GraphicOptions{AutoFit: true, Positioning: "oneCell", AltText: p.T("sample.license_alt", "OpenID", r.openID)},
			})
			if err != nil {
				return err
			}
		}
	}
	// Merged once the rows are written: excelize writes a value given to
	// any cell of a merged range into its top-left cell.
	for i, r := range rows {
		if r.openID == "demo-org-016" {
			if err := f.MergeCell(sheet, fmt.Sprintf("J%d", i+3), fmt.Sprintf("J%d", i+4)); err != nil {
				return err
			}
		}
	}
	if err := f.SetPanes(sheet, &excelize.Panes{Freeze: true, YSplit: 2, TopLeftCell: "A3", ActivePane: "bottomLeft"}); err != nil {
		return err
	}
	return f.Write(w)
}
