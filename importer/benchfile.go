package importer

import (
	"fmt"

	"github.com/xuri/excelize/v2"
)

// GenerateBenchFile writes a large valid workbook of rows companies, without
// pictures, for measuring imports. It streams rows to the file, so any size
// can be written in constant memory. Every row is accepted; OpenIds are
// bench-0000001 and up.
func GenerateBenchFile(path string, rows int) error {
	f := excelize.NewFile()
	defer f.Close()
	// Set the used range first: the stream writer keeps it, and readers use it
	// to estimate the number of rows.
	last, err := excelize.CoordinatesToCellName(len(templateColumns), rows+2)
	if err != nil {
		return err
	}
	if err := f.SetSheetDimension("Sheet1", "A1:"+last); err != nil {
		return err
	}
	sw, err := f.NewStreamWriter("Sheet1")
	if err != nil {
		return err
	}
	if err := sw.SetRow("A1", []any{"压测数据：批量开通子企业"}); err != nil {
		return err
	}
	headers := make([]any, 0, len(templateColumns))
	for _, c := range templateColumns {
		headers = append(headers, templateHeader(c))
	}
	if err := sw.SetRow("A2", headers); err != nil {
		return err
	}
	services := []string{"AUTO_SIGN", "AUTO_SIGN,DOWNLOAD_FLOW", "MOBILE_CHECK_APPROVER", "", "企业静默签、骑缝章"}
	births := []string{"19700101", "19811231", "19900615", "20000229", "19650720"}
	for i := 1; i <= rows; i++ {
		cell, err := excelize.CoordinatesToCellName(1, i+2)
		if err != nil {
			return err
		}
		row := []any{
			fmt.Sprintf("bench-%07d", i),
			fmt.Sprintf("压测科技%07d有限公司", i),
			sampleCreditCode(i),
			"测试法人",
			"ID_CARD",
			sampleIDNumber("110105", births[i%len(births)], i),
			fmt.Sprintf("北京市朝阳区测试路%d号", i),
			"",
			fmt.Sprintf("bench-admin-%07d", i),
			services[i%len(services)],
		}
		if err := sw.SetRow(cell, row); err != nil {
			return err
		}
	}
	if err := sw.Flush(); err != nil {
		return err
	}
	return f.SaveAs(path)
}
