package importer

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// readZip reads every entry of a zip file.
func readZip(t testing.TB, path string) map[string][]byte {
	t.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	parts := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		parts[f.Name] = b
	}
	return parts
}

// writeZip writes entries to a zip file, [Content_Types].xml first.
func writeZip(t testing.TB, path string, parts map[string][]byte) {
	t.Helper()
	names := make([]string, 0, len(parts))
	for n := range parts {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		if (names[i] == "[Content_Types].xml") != (names[j] == "[Content_Types].xml") {
			return names[i] == "[Content_Types].xml"
		}
		return names[i] < names[j]
	})
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, n := range names {
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(parts[n])
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// rewriteBook lets edit change the parts of a saved workbook.
func rewriteBook(t testing.TB, path string, edit func(parts map[string][]byte)) {
	t.Helper()
	parts := readZip(t, path)
	edit(parts)
	writeZip(t, path, parts)
}

// replaceCell replaces the XML of one cell of sheet1 with cellXML.
func replaceCell(t testing.TB, parts map[string][]byte, ref, cellXML string) {
	t.Helper()
	const sheet = "xl/worksheets/sheet1.xml"
	re := regexp.MustCompile(`<c r="` + ref + `"[^>]*?(/>|>.*?</c>)`)
	if !re.Match(parts[sheet]) {
		t.Fatalf("cell %s not found in the sheet", ref)
	}
	parts[sheet] = re.ReplaceAll(parts[sheet], []byte(cellXML))
}

// addRel adds a relationship to a .rels part.
func addRel(parts map[string][]byte, relsPart, id, typ, target string) {
	r := fmt.Sprintf(`<Relationship Id="%s" Type="%s" Target="%s"/>`, id, typ, target)
	if old, ok := parts[relsPart]; ok {
		parts[relsPart] = bytes.Replace(old, []byte("</Relationships>"), []byte(r+"</Relationships>"), 1)
		return
	}
	parts[relsPart] = []byte(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` +
		`<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` + r + `</Relationships>`)
}

// addContentType adds an override (or a default, for an extension) to
// [Content_Types].xml.
func addContentType(parts map[string][]byte, elem string) {
	const ct = "[Content_Types].xml"
	if strings.HasPrefix(elem, "<Default") && bytes.Contains(parts[ct], []byte(`Extension="png"`)) {
		return
	}
	parts[ct] = bytes.Replace(parts[ct], []byte("</Types>"), []byte(elem+"</Types>"), 1)
}

const imageRelType = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/image"

// addExcelInCellPictures turns cells of sheet1 into pictures placed in cells
// the way Excel 365 saves them: an error cell with a vm attribute, metadata,
// rich values and rich value relationships. With reverse, the future-metadata
// blocks list the rich values in reverse order, so that the indirection from
// a cell's value metadata through the future metadata to its rich value is
// exercised.
func addExcelInCellPictures(t testing.TB, path string, cells []string, images [][]byte, reverse bool) {
	t.Helper()
	rewriteBook(t, path, func(parts map[string][]byte) {
		n := len(cells)
		var rels, relList, values, future, valueMeta strings.Builder
		for k := range cells {
			name := fmt.Sprintf("xl/media/cellimage%d.png", k+1)
			parts[name] = images[k]
			fmt.Fprintf(&rels, `<Relationship Id="rId%d" Type="%s" Target="../media/cellimage%d.png"/>`, k+1, imageRelType, k+1)
			fmt.Fprintf(&relList, `<rel r:id="rId%d"/>`, k+1)
		}
		// Value metadata k points at future-metadata block k, which names
		// rich value rv(k); that rich value shows image k.
		rv := func(k int) int {
			if reverse {
				return n - 1 - k
			}
			return k
		}
		for j := 0; j < n; j++ {
			fmt.Fprintf(&values, `<rv s="0"><v>%d</v><v>5</v></rv>`, rv(j))
		}
		for k := 0; k < n; k++ {
			fmt.Fprintf(&future, `<bk><extLst><ext uri="{3e2802c4-a4d2-4d8b-9148-e3be6c30e623}"><xlrd:rvb i="%d"/></ext></extLst></bk>`, rv(k))
			fmt.Fprintf(&valueMeta, `<bk><rc t="1" v="%d"/></bk>`, k)
			replaceCell(t, parts, cells[k], fmt.Sprintf(`<c r="%s" t="e" vm="%d"><v>#VALUE!</v></c>`, cells[k], k+1))
		}
		parts["xl/richData/_rels/richValueRel.xml.rels"] = []byte(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` + rels.String() + `</Relationships>`)
		parts["xl/richData/richValueRel.xml"] = []byte(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?><richValueRels xmlns="http://schemas.microsoft.com/office/spreadsheetml/2022/richvaluerel" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">` + relList.String() + `</richValueRels>`)
		parts["xl/richData/rdrichvaluestructure.xml"] = []byte(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?><rvStructures xmlns="http://schemas.microsoft.com/office/spreadsheetml/2017/richdata" count="1"><s t="_localImage"><k n="_rvRel:LocalImageIdentifier" t="i"/><k n="CalcOrigin" t="i"/></s></rvStructures>`)
		parts["xl/richData/rdrichvalue.xml"] = []byte(fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?><rvData xmlns="http://schemas.microsoft.com/office/spreadsheetml/2017/richdata" count="%d">%s</rvData>`, n, values.String()))
		parts["xl/metadata.xml"] = []byte(fmt.Sprintf(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?><metadata xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:xlrd="http://schemas.microsoft.com/office/spreadsheetml/2017/richdata"><metadataTypes count="1"><metadataType name="XLRICHVALUE" minSupportedVersion="120000" copy="1" pasteAll="1" pasteValues="1" merge="1" splitFirst="1" rowColShift="1" clearFormats="1" clearComments="1" assign="1" coerce="1"/></metadataTypes><futureMetadata name="XLRICHVALUE" count="%d">%s</futureMetadata><valueMetadata count="%d">%s</valueMetadata></metadata>`, n, future.String(), n, valueMeta.String()))
		wbRels := "xl/_rels/workbook.xml.rels"
		addRel(parts, wbRels, "rIdMeta", "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sheetMetadata", "metadata.xml")
		addRel(parts, wbRels, "rIdRv", "http://schemas.microsoft.com/office/2017/06/relationships/rdRichValue", "richData/rdrichvalue.xml")
		addRel(parts, wbRels, "rIdRvs", "http://schemas.microsoft.com/office/2017/06/relationships/rdRichValueStructure", "richData/rdrichvaluestructure.xml")
		addRel(parts, wbRels, "rIdRvr", "http://schemas.microsoft.com/office/2022/10/relationships/richValueRel", "richData/richValueRel.xml")
		addContentType(parts, `<Default Extension="png" ContentType="image/png"/>`)
		addContentType(parts, `<Override PartName="/xl/metadata.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheetMetadata+xml"/>`)
	})
}

// addWPSCellImages turns cells of sheet1 into WPS cell images:
// =DISPIMG("ID_...",1) formulas naming pictures of xl/cellimages.xml.
func addWPSCellImages(t testing.TB, path string, cells []string, images [][]byte) {
	t.Helper()
	rewriteBook(t, path, func(parts map[string][]byte) {
		var pics, rels strings.Builder
		for k, cell := range cells {
			id := fmt.Sprintf("ID_%032X", k+0xA1B2C3)
			parts[fmt.Sprintf("xl/media/wpsimage%d.png", k+1)] = images[k]
			fmt.Fprintf(&rels, `<Relationship Id="rId%d" Type="%s" Target="media/wpsimage%d.png"/>`, k+1, imageRelType, k+1)
			fmt.Fprintf(&pics, `<etc:cellImage><xdr:pic><xdr:nvPicPr><xdr:cNvPr id="%d" name="%s" descr="license"/><xdr:cNvPicPr><a:picLocks noChangeAspect="1"/></xdr:cNvPicPr></xdr:nvPicPr><xdr:blipFill><a:blip r:embed="rId%d"/><a:stretch><a:fillRect/></a:stretch></xdr:blipFill><xdr:spPr><a:xfrm><a:off x="0" y="0"/><a:ext cx="952500" cy="714375"/></a:xfrm><a:prstGeom prst="rect"><a:avLst/></a:prstGeom></xdr:spPr></xdr:pic></etc:cellImage>`, k+2, id, k+1)
			replaceCell(t, parts, cell, fmt.Sprintf(`<c r="%s" t="str"><f>_xlfn.DISPIMG(&quot;%s&quot;,1)</f><v>=DISPIMG(&quot;%s&quot;,1)</v></c>`, cell, id, id))
		}
		parts["xl/cellimages.xml"] = []byte(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?><etc:cellImages xmlns:xdr="http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:etc="http://www.wps.cn/officeDocument/2017/etCustomData">` + pics.String() + `</etc:cellImages>`)
		parts["xl/_rels/cellimages.xml.rels"] = []byte(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` + rels.String() + `</Relationships>`)
		addRel(parts, "xl/_rels/workbook.xml.rels", "rIdCellImages", "http://www.wps.cn/officeDocument/2020/cellImage", "cellimages.xml")
		addContentType(parts, `<Default Extension="png" ContentType="image/png"/>`)
		addContentType(parts, `<Override PartName="/xl/cellimages.xml" ContentType="application/vnd.wps-officedocument.cellimage+xml"/>`)
	})
}
