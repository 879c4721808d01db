// Package benchrate generates made-up but valid companies for the rate
// benchmark, the demo's tests and the workers' integration tests, and
// imports them without a spreadsheet.
package benchrate

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/importer"
)

// License is a small PNG every generated company uses as its license.
var License = func() *onboard.Image {
	img := image.NewGray(image.Rect(0, 0, 8, 8))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 4)
	}
	img.Set(0, 0, color.White)
	var b bytes.Buffer
	_ = png.Encode(&b, img)
	return onboard.NewImage("image/png", b.Bytes())
}()

// CreditCode returns a valid unified social credit code for number i.
func CreditCode(i int) string {
	first := fmt.Sprintf("91350100%09d", i%1000000000)
	c, err := importer.CreditCodeCheckChar(first)
	if err != nil {
		panic(err)
	}
	return first + string(c)
}

// IDNumber returns a valid resident ID number for number i.
func IDNumber(i int) string {
	first := fmt.Sprintf("11010119800101%03d", i%1000)
	c, err := importer.IDCheckChar(first)
	if err != nil {
		panic(err)
	}
	return first + string(c)
}

// Org returns company i: OpenId prefix-i, valid codes, a license, the given
// services, and an admin OpenId when admin is true.
func Org(prefix string, i int, services []onboard.ServiceType, admin bool) onboard.OrgData {
	d := onboard.OrgData{
		OpenID:            fmt.Sprintf("%s-%05d", prefix, i),
		Name:              fmt.Sprintf("测试%s科技有限公司第%d分公司", prefix, i),
		CreditCode:        CreditCode(i),
		LegalName:         "张三",
		LegalIDCardType:   "ID_CARD",
		LegalIDCardNumber: IDNumber(i),
		Address:           "广东省 深圳市 南山区 科技园路1号",
		License:           License,
		Services:          services,
	}
	if admin {
		d.AdminOpenID = fmt.Sprintf("%s-admin-%05d", prefix, i)
	}
	return d
}

// Rows wraps data as accepted rows numbered from 2 (under a header row).
func Rows(data []onboard.OrgData) *Source {
	rows := make([]*onboard.Row, len(data))
	for i, d := range data {
		rows[i] = &onboard.Row{Number: i + 2, Cells: []string{d.OpenID, d.Name}, Data: d}
	}
	return &Source{rows: rows}
}

// Headers are the header cells matching the rows' Cells.
var Headers = []string{onboard.FieldOpenID, onboard.FieldName}

// Source yields rows one by one (repository.RowSource).
type Source struct {
	rows []*onboard.Row
	i    int
}

// Next returns the next row or io.EOF.
func (s *Source) Next() (*onboard.Row, error) {
	if s.i >= len(s.rows) {
		return nil, io.EOF
	}
	s.i++
	return s.rows[s.i-1], nil
}
