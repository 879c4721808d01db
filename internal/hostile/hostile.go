// Package hostile writes spreadsheets made to hurt the program that reads
// them: shared-strings bombs, rows as wide as Excel allows, huge attributes,
// deep nesting, thousands of sheets, a picture of a gigabyte, zips whose
// entry names collide or leave the archive, zips inside zips, formulas with
// external links. Each is generated (none is kept as a binary) and small on
// disk; the bytes are produced as they are compressed, so writing even the
// largest takes about a second and little memory.
//
// The files are the importer's regression corpus and the seeds of its
// workbook-level fuzzer; `go run ./internal/hostile/gen DIR` writes them all
// for measuring a build by hand.
package hostile

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"strings"
)

// Case is one hostile file.
type Case struct {
	Name  string // file name without the extension, e.g. "shared-strings-bomb"
	Ext   string // ".xlsx" or ".zip"
	About string // what the file does, in a sentence
	gen   func(w io.Writer, s scale) error
}

// FileName is the case's file name.
func (c Case) FileName() string { return c.Name + c.Ext }

// Write writes the file.
func (c Case) Write(w io.Writer) error { return c.gen(w, scale{}) }

// WriteSmall writes the same file with every count made small (thousands
// of entries instead of millions, kilobytes instead of megabytes): the
// same shape, cheap to read, for seeding fuzzers.
func (c Case) WriteSmall(w io.Writer) error { return c.gen(w, scale{small: true}) }

// scale picks the full or the small size of a case.
type scale struct{ small bool }

func (s scale) of(full, small int) int {
	if s.small {
		return small
	}
	return full
}

// Cases lists every hostile file, in a stable order.
func Cases() []Case {
	return []Case{
		{"shared-strings-bomb", ".xlsx", "a few real rows, and a shared-strings table of 100 million empty <si/> entries (500 MB expanded, 2.5 MB on disk)", sharedStringsBomb},
		{"shared-strings-count", ".xlsx", "a shared-strings table that declares 4 billion strings and holds a handful", sharedStringsCount},
		{"shared-string-huge", ".xlsx", "one shared string of 300 MB shown in a column of the file", sharedStringHuge},
		{"shared-string-escapes", ".xlsx", "a shared string of 2 million _x0041_ escapes (quadratic to decode naively)", sharedStringEscapes},
		{"wide-header", ".xlsx", "20,000 rows whose header and every row reach column XFD", wideHeader},
		{"wide-rows", ".xlsx", "a normal header, and 20,000 rows that each reach column XFD", wideRows},
		{"long-row-text", ".xlsx", "rows with 1 MB of text in a column of their own", longRowText},
		{"huge-attribute", ".xlsx", "a cell with a 200 MB attribute", hugeAttribute},
		{"huge-attribute-workbook", ".xlsx", "a workbook part with a 100 MB attribute", hugeAttributeWorkbook},
		{"deep-nesting", ".xlsx", "a cell whose inline string nests 5 million elements deep", deepNesting},
		{"deep-nesting-workbook", ".xlsx", "a workbook part nesting 2 million elements deep", deepNestingWorkbook},
		{"many-sheets", ".xlsx", "a workbook of 30,000 worksheets", manySheets},
		{"many-entries", ".xlsx", "a workbook holding 200,000 zip entries", manyEntries},
		{"gigabyte-image", ".xlsx", "a license picture in a cell whose image part is a gigabyte", gigabyteImage},
		{"name-collision", ".xlsx", "a workbook with two entries named xl/worksheets/sheet1.xml", nameCollision},
		{"name-case-collision", ".xlsx", "a workbook whose sheet exists twice, as sheet1.xml and SHEET1.XML", nameCaseCollision},
		{"name-escape", ".zip", "an upload whose license pictures are named ../../outside.png and /etc/abs.png", nameEscape},
		{"zip-in-zip", ".zip", "an upload holding only another zip, which holds the workbook", zipInZip},
		{"bomb-in-zip", ".zip", "an upload holding a workbook whose sheet expands to 2 GiB", bombInZip},
		{"formulas-links", ".xlsx", "formulas with cached values, external workbook links, WEBSERVICE and HYPERLINK calls, a shared formula over the whole sheet", formulasLinks},
		{"many-rows", ".xlsx", "1,000,001 data rows", manyRows},
	}
}

// Lookup returns the case of that name.
func Lookup(name string) (Case, bool) {
	for _, c := range Cases() {
		if c.Name == name {
			return c, true
		}
	}
	return Case{}, false
}

// Values used in the rows of every case: valid identifiers, and rows with
// a wrong ID number and credit code so that reasons are produced.
const (
	ValidID         = "11010519491231002X"
	ValidCreditCode = "91350100M000100Y43"
	BadID           = "110105194912310021" // wrong check character
	BadCreditCode   = "91350100M000100Y44" // wrong check character
)

// Headers is the header row of every case.
var Headers = []string{"子客企业标识", "企业名称", "统一社会信用代码", "法定代表人", "法定代表人证件号码", "营业执照", "扩展服务"}

// dataRows are the rows below the header in most cases.
var dataRows = [][]string{
	{"h-org-1", "甲科技有限公司", ValidCreditCode, "张三", ValidID, "", "AUTO_SIGN"},
	{"h-org-2", "乙科技有限公司", BadCreditCode, "李四", BadID, "", ""},
	{"h-org-3", "丙科技有限公司", ValidCreditCode, "王五", "", "", ""},
}

// Namespaces and relationship types.
const (
	nsMain   = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
	nsRel    = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
	nsPkgRel = "http://schemas.openxmlformats.org/package/2006/relationships"
	relBase  = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
	xmlDecl  = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n"
)

// part is one zip entry.
type part struct {
	name  string
	write func(w io.Writer) error
	// store keeps the entry uncompressed (for entries that are zips).
	store bool
}

// text is an entry holding s; short ones are stored, since compressing them
// gains nothing and costs time when there are thousands.
func text(name, s string) part {
	return part{name: name, store: len(s) < 1024, write: func(w io.Writer) error { _, err := io.WriteString(w, s); return err }}
}

func stored(name string, b []byte) part {
	return part{name: name, store: true, write: func(w io.Writer) error { _, err := w.Write(b); return err }}
}

// writeZip writes parts as a zip, compressing with the fastest deflate level
// so that hundreds of megabytes of repeated text take a fraction of a second.
func writeZip(w io.Writer, parts []part) error {
	zw := zip.NewWriter(w)
	// One compressor for every entry: a new one costs about a megabyte, and
	// some cases have many thousands of entries.
	fw, err := flate.NewWriter(io.Discard, flate.BestSpeed)
	if err != nil {
		return err
	}
	zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		fw.Reset(out)
		return fw, nil
	})
	bw := newBufWriter(nil)
	for _, p := range parts {
		method := zip.Deflate
		if p.store {
			method = zip.Store
		}
		pw, err := zw.CreateHeader(&zip.FileHeader{Name: p.name, Method: method})
		if err != nil {
			return err
		}
		bw.w = pw
		if err := p.write(bw); err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		if err := bw.flush(); err != nil {
			return err
		}
	}
	return zw.Close()
}

// bufWriter batches small writes.
type bufWriter struct {
	w   io.Writer
	buf []byte
}

func newBufWriter(w io.Writer) *bufWriter {
	if b, ok := w.(*bufWriter); ok {
		return b
	}
	return &bufWriter{w: w, buf: make([]byte, 0, 256<<10)}
}

func (b *bufWriter) Write(p []byte) (int, error) {
	if len(b.buf)+len(p) > cap(b.buf) {
		if err := b.flush(); err != nil {
			return 0, err
		}
		if len(p) > cap(b.buf) {
			return b.w.Write(p)
		}
	}
	b.buf = append(b.buf, p...)
	return len(p), nil
}

func (b *bufWriter) flush() error {
	if len(b.buf) == 0 {
		return nil
	}
	_, err := b.w.Write(b.buf)
	b.buf = b.buf[:0]
	return err
}

// repeat writes s n times.
func repeat(w io.Writer, s string, n int) error {
	const chunk = 64 << 10
	per := max(1, chunk/max(1, len(s)))
	block := []byte(strings.Repeat(s, min(per, n)))
	for n > 0 {
		k := min(per, n)
		if _, err := w.Write(block[:k*len(s)]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// repeatBytes writes the byte c n times.
func repeatBytes(w io.Writer, c byte, n int64) error {
	block := bytes.Repeat([]byte{c}, 64<<10)
	for n > 0 {
		k := min(int64(len(block)), n)
		if _, err := w.Write(block[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

// book describes a workbook package.
type book struct {
	sheets       []string // sheet names; sheet i is xl/worksheets/sheet{i+1}.xml
	sheetXML     func(i int, w io.Writer) error
	sst          func(w io.Writer) error // nil: no shared strings part
	workbookXML  func(w io.Writer) error // nil: the default
	workbookRels []string                // extra <Relationship> elements
	sheetRels    string                  // relationships of sheet1, "" for none
	types        []string                // extra content type elements
	extra        []part
	smallSheets  bool // store the sheets uncompressed (there are thousands)
}

func (b *book) parts() []part {
	if len(b.sheets) == 0 {
		b.sheets = []string{"Sheet1"}
	}
	var ct strings.Builder
	ct.WriteString(xmlDecl + `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
		`<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>` +
		`<Default Extension="xml" ContentType="application/xml"/>` +
		`<Default Extension="png" ContentType="image/png"/>` +
		`<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>`)
	for i := range b.sheets {
		fmt.Fprintf(&ct, `<Override PartName="/xl/worksheets/sheet%d.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>`, i+1)
	}
	if b.sst != nil {
		ct.WriteString(`<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>`)
	}
	for _, t := range b.types {
		ct.WriteString(t)
	}
	ct.WriteString(`</Types>`)

	var rels strings.Builder
	rels.WriteString(xmlDecl + `<Relationships xmlns="` + nsPkgRel + `">`)
	for i := range b.sheets {
		fmt.Fprintf(&rels, `<Relationship Id="rId%d" Type="%sworksheet" Target="worksheets/sheet%d.xml"/>`, i+1, relBase, i+1)
	}
	if b.sst != nil {
		fmt.Fprintf(&rels, `<Relationship Id="rIdSST" Type="%ssharedStrings" Target="sharedStrings.xml"/>`, relBase)
	}
	for _, r := range b.workbookRels {
		rels.WriteString(r)
	}
	rels.WriteString(`</Relationships>`)

	wb := b.workbookXML
	if wb == nil {
		wb = func(w io.Writer) error {
			bw := newBufWriter(w)
			io.WriteString(bw, xmlDecl+`<workbook xmlns="`+nsMain+`" xmlns:r="`+nsRel+`"><sheets>`)
			for i, name := range b.sheets {
				fmt.Fprintf(bw, `<sheet name="%s" sheetId="%d" r:id="rId%d"/>`, name, i+1, i+1)
			}
			io.WriteString(bw, `</sheets></workbook>`)
			return bw.flush()
		}
	}
	parts := []part{
		text("[Content_Types].xml", ct.String()),
		text("_rels/.rels", xmlDecl+`<Relationships xmlns="`+nsPkgRel+`"><Relationship Id="rId1" Type="`+relBase+`officeDocument" Target="xl/workbook.xml"/></Relationships>`),
		{name: "xl/workbook.xml", write: wb},
		text("xl/_rels/workbook.xml.rels", rels.String()),
	}
	for i := range b.sheets {
		i := i
		parts = append(parts, part{name: fmt.Sprintf("xl/worksheets/sheet%d.xml", i+1), store: b.smallSheets && i > 0,
			write: func(w io.Writer) error { return b.sheetXML(i, w) }})
	}
	if b.sheetRels != "" {
		parts = append(parts, text("xl/worksheets/_rels/sheet1.xml.rels", xmlDecl+`<Relationships xmlns="`+nsPkgRel+`">`+b.sheetRels+`</Relationships>`))
	}
	if b.sst != nil {
		parts = append(parts, part{name: "xl/sharedStrings.xml", write: b.sst})
	}
	return append(parts, b.extra...)
}

func (b *book) write(w io.Writer) error { return writeZip(w, b.parts()) }

// escape escapes text for XML.
func escape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		case '"':
			b.WriteString("&quot;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// colName is the letter name of a 1-based column.
func colName(c int) string {
	s := ""
	for ; c > 0; c = (c - 1) / 26 {
		s = string(rune('A'+(c-1)%26)) + s
	}
	return s
}

// inlineCell writes one inline-string cell.
func inlineCell(w io.Writer, col, row int, v string) {
	fmt.Fprintf(w, `<c r="%s%d" t="inlineStr"><is><t>%s</t></is></c>`, colName(col), row, escape(v))
}

// inlineRow writes a row of inline-string cells from column 1.
func inlineRow(w io.Writer, row int, vals []string) {
	fmt.Fprintf(w, `<row r="%d">`, row)
	for i, v := range vals {
		if v != "" {
			inlineCell(w, i+1, row, v)
		}
	}
	io.WriteString(w, `</row>`)
}

const sheetOpen = xmlDecl + `<worksheet xmlns="` + nsMain + `" xmlns:r="` + nsRel + `"><sheetData>`
const sheetClose = `</sheetData></worksheet>`

// plainSheet writes the header and the data rows as inline strings, with
// extra rows written by more after them.
func plainSheet(more func(w io.Writer, next int) error) func(int, io.Writer) error {
	return func(_ int, w io.Writer) error {
		bw := newBufWriter(w)
		io.WriteString(bw, sheetOpen)
		inlineRow(bw, 1, Headers)
		for i, r := range dataRows {
			inlineRow(bw, i+2, r)
		}
		if more != nil {
			if err := more(bw, len(dataRows)+2); err != nil {
				return err
			}
		}
		io.WriteString(bw, sheetClose)
		return bw.flush()
	}
}

// sstSheet writes the header and data rows as shared strings 0..n-1, in
// order, and returns the strings.
func sstSheet() (func(int, io.Writer) error, []string) {
	var strs []string
	var b strings.Builder
	b.WriteString(sheetOpen)
	for r, vals := range append([][]string{Headers}, dataRows...) {
		fmt.Fprintf(&b, `<row r="%d">`, r+1)
		for c, v := range vals {
			if v == "" {
				continue
			}
			fmt.Fprintf(&b, `<c r="%s%d" t="s"><v>%d</v></c>`, colName(c+1), r+1, len(strs))
			strs = append(strs, v)
		}
		b.WriteString(`</row>`)
	}
	b.WriteString(sheetClose)
	doc := b.String()
	return func(_ int, w io.Writer) error { _, err := io.WriteString(w, doc); return err }, strs
}

func sstEntries(w io.Writer, strs []string) {
	for _, s := range strs {
		fmt.Fprintf(w, `<si><t>%s</t></si>`, escape(s))
	}
}

func sharedStringsBomb(w io.Writer, s scale) error {
	sheet, strs := sstSheet()
	b := &book{sheetXML: sheet, sst: func(w io.Writer) error {
		io.WriteString(w, xmlDecl+`<sst xmlns="`+nsMain+`">`)
		sstEntries(w, strs)
		if err := repeat(w, `<si/>`, s.of(100_000_000, 10_000)); err != nil {
			return err
		}
		_, err := io.WriteString(w, `</sst>`)
		return err
	}}
	return b.write(w)
}

func sharedStringsCount(w io.Writer, s scale) error {
	sheet, strs := sstSheet()
	b := &book{sheetXML: sheet, sst: func(w io.Writer) error {
		io.WriteString(w, xmlDecl+`<sst xmlns="`+nsMain+`" count="4000000000" uniqueCount="4000000000">`)
		sstEntries(w, strs)
		_, err := io.WriteString(w, `</sst>`)
		return err
	}}
	return b.write(w)
}

// sharedStringHuge shows a 300 MB shared string in a column of its own
// ("备注") of the first data row.
func sharedStringHuge(w io.Writer, s scale) error {
	headers := append(append([]string(nil), Headers...), "备注")
	var doc strings.Builder
	doc.WriteString(sheetOpen)
	inlineRow(&doc, 1, headers)
	for i, r := range dataRows {
		fmt.Fprintf(&doc, `<row r="%d">`, i+2)
		for c, v := range r {
			if v != "" {
				inlineCell(&doc, c+1, i+2, v)
			}
		}
		fmt.Fprintf(&doc, `<c r="%s%d" t="s"><v>0</v></c></row>`, colName(len(headers)), i+2)
	}
	doc.WriteString(sheetClose)
	b := &book{
		sheetXML: func(_ int, w io.Writer) error { _, err := io.WriteString(w, doc.String()); return err },
		sst: func(w io.Writer) error {
			io.WriteString(w, xmlDecl+`<sst xmlns="`+nsMain+`" count="3" uniqueCount="1"><si><t>`)
			if err := repeatBytes(w, 'a', int64(s.of(300_000_000, 40_000))); err != nil {
				return err
			}
			_, err := io.WriteString(w, `</t></si></sst>`)
			return err
		},
	}
	return b.write(w)
}

func sharedStringEscapes(w io.Writer, s scale) error {
	var doc strings.Builder
	doc.WriteString(sheetOpen)
	inlineRow(&doc, 1, Headers)
	fmt.Fprintf(&doc, `<row r="2">`)
	inlineCell(&doc, 1, 2, "h-org-1")
	fmt.Fprintf(&doc, `<c r="B2" t="s"><v>0</v></c></row>`)
	doc.WriteString(sheetClose)
	b := &book{
		sheetXML: func(_ int, w io.Writer) error { _, err := io.WriteString(w, doc.String()); return err },
		sst: func(w io.Writer) error {
			io.WriteString(w, xmlDecl+`<sst xmlns="`+nsMain+`"><si><t>`)
			if err := repeat(w, "_x0041_", s.of(2_000_000, 20_000)); err != nil {
				return err
			}
			_, err := io.WriteString(w, `</t></si></sst>`)
			return err
		},
	}
	return b.write(w)
}

// wideHeader: the header and every one of 20,000 rows have a cell in
// column XFD (16,384), as when a note is typed at the far end of a sheet.
func wideHeader(w io.Writer, s scale) error {
	b := &book{sheetXML: func(_ int, w io.Writer) error {
		bw := newBufWriter(w)
		io.WriteString(bw, sheetOpen)
		for r := 1; r <= s.of(20_001, 201); r++ {
			vals := Headers
			if r > 1 {
				vals = append([]string(nil), dataRows[r%len(dataRows)]...)
				vals[0] = fmt.Sprintf("w-org-%05d", r)
			}
			fmt.Fprintf(bw, `<row r="%d">`, r)
			for c, v := range vals {
				if v != "" {
					inlineCell(bw, c+1, r, v)
				}
			}
			inlineCell(bw, 16384, r, "备注")
			io.WriteString(bw, `</row>`)
		}
		io.WriteString(bw, sheetClose)
		return bw.flush()
	}}
	return b.write(w)
}

// wideRows: a header of the contract's columns, and 20,000 rows that each
// have cells every 512 columns up to XFD.
func wideRows(w io.Writer, s scale) error {
	b := &book{sheetXML: plainSheet(func(w io.Writer, next int) error {
		for r := next; r < next+s.of(20_000, 200); r++ {
			fmt.Fprintf(w, `<row r="%d">`, r)
			inlineCell(w, 1, r, fmt.Sprintf("w-org-%05d", r))
			inlineCell(w, 2, r, "宽行公司")
			for c := 512; c <= 16384; c += 512 {
				fmt.Fprintf(w, `<c r="%s%d"><v>%d</v></c>`, colName(c), r, c)
			}
			io.WriteString(w, `</row>`)
		}
		return nil
	})}
	return b.write(w)
}

// longRowText: a header with a note column, and 200 rows whose note is
// 1 MB of text.
func longRowText(w io.Writer, s scale) error {
	headers := append(append([]string(nil), Headers...), "备注")
	b := &book{sheetXML: func(_ int, w io.Writer) error {
		bw := newBufWriter(w)
		io.WriteString(bw, sheetOpen)
		inlineRow(bw, 1, headers)
		for r := 2; r < 202; r++ {
			fmt.Fprintf(bw, `<row r="%d">`, r)
			inlineCell(bw, 1, r, fmt.Sprintf("l-org-%03d", r))
			inlineCell(bw, 2, r, "长文本公司")
			fmt.Fprintf(bw, `<c r="%s%d" t="inlineStr"><is><t>`, colName(len(headers)), r)
			if err := repeatBytes(bw, 'x', int64(s.of(1_000_000, 20_000))); err != nil {
				return err
			}
			io.WriteString(bw, `</t></is></c></row>`)
		}
		io.WriteString(bw, sheetClose)
		return bw.flush()
	}}
	return b.write(w)
}

func hugeAttribute(w io.Writer, s scale) error {
	b := &book{sheetXML: plainSheet(func(w io.Writer, next int) error {
		fmt.Fprintf(w, `<row r="%d"><c r="A%d" t="inlineStr" x="`, next, next)
		if err := repeatBytes(w, 'a', int64(s.of(200_000_000, 100_000))); err != nil {
			return err
		}
		_, err := io.WriteString(w, `"><is><t>h-org-x</t></is></c></row>`)
		return err
	})}
	return b.write(w)
}

func hugeAttributeWorkbook(w io.Writer, s scale) error {
	b := &book{sheetXML: plainSheet(nil), workbookXML: func(w io.Writer) error {
		io.WriteString(w, xmlDecl+`<workbook xmlns="`+nsMain+`" xmlns:r="`+nsRel+`"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1" x="`)
		if err := repeatBytes(w, 'a', int64(s.of(100_000_000, 100_000))); err != nil {
			return err
		}
		_, err := io.WriteString(w, `"/></sheets></workbook>`)
		return err
	}}
	return b.write(w)
}

func deepNesting(w io.Writer, s scale) error {
	b := &book{sheetXML: plainSheet(func(w io.Writer, next int) error {
		fmt.Fprintf(w, `<row r="%d"><c r="A%d" t="inlineStr"><is>`, next, next)
		if err := repeat(w, `<r>`, s.of(5_000_000, 2_000)); err != nil {
			return err
		}
		io.WriteString(w, `<t>h-org-deep</t>`)
		if err := repeat(w, `</r>`, s.of(5_000_000, 2_000)); err != nil {
			return err
		}
		_, err := io.WriteString(w, `</is></c></row>`)
		return err
	})}
	return b.write(w)
}

func deepNestingWorkbook(w io.Writer, s scale) error {
	b := &book{sheetXML: plainSheet(nil), workbookXML: func(w io.Writer) error {
		io.WriteString(w, xmlDecl+`<workbook xmlns="`+nsMain+`" xmlns:r="`+nsRel+`"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets><extLst>`)
		if err := repeat(w, `<x>`, s.of(2_000_000, 2_000)); err != nil {
			return err
		}
		if err := repeat(w, `</x>`, s.of(2_000_000, 2_000)); err != nil {
			return err
		}
		_, err := io.WriteString(w, `</extLst></workbook>`)
		return err
	}}
	return b.write(w)
}

func manySheets(w io.Writer, s scale) error {
	names := make([]string, s.of(30_000, 100))
	for i := range names {
		names[i] = fmt.Sprintf("S%05d", i+1)
	}
	plain := plainSheet(nil)
	b := &book{sheets: names, sheetXML: func(i int, w io.Writer) error {
		if i == 0 {
			return plain(i, w)
		}
		_, err := io.WriteString(w, sheetOpen+`<row r="1"><c r="A1"><v>1</v></c></row>`+sheetClose)
		return err
	}}
	b.smallSheets = true
	return b.write(w)
}

func manyEntries(w io.Writer, s scale) error {
	b := &book{sheetXML: plainSheet(nil)}
	for i := 0; i < s.of(200_000, 200); i++ {
		b.extra = append(b.extra, text(fmt.Sprintf("xl/custom/item%06d.xml", i), "<a/>"))
	}
	return b.write(w)
}

// pngHeader is the start of a PNG file (signature and an IHDR chunk).
var pngHeader = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x08\x00\x00\x00\x06\x08\x02\x00\x00\x00\x00\x00\x00\x00")

// drawingWith anchors one picture (relationship rIdImg of the drawing) at
// the top-left corner of a 0-based column and row.
func drawingWith(col, row int) string {
	return xmlDecl + fmt.Sprintf(`<xdr:wsDr xmlns:xdr="http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing" xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main" xmlns:r="%s">`+
		`<xdr:oneCellAnchor><xdr:from><xdr:col>%d</xdr:col><xdr:colOff>0</xdr:colOff><xdr:row>%d</xdr:row><xdr:rowOff>0</xdr:rowOff></xdr:from><xdr:ext cx="952500" cy="714375"/>`+
		`<xdr:pic><xdr:nvPicPr><xdr:cNvPr id="2" name="license"/><xdr:cNvPicPr/></xdr:nvPicPr><xdr:blipFill><a:blip r:embed="rIdImg"/><a:stretch><a:fillRect/></a:stretch></xdr:blipFill>`+
		`<xdr:spPr><a:prstGeom prst="rect"><a:avLst/></a:prstGeom></xdr:spPr></xdr:pic><xdr:clientData/></xdr:oneCellAnchor></xdr:wsDr>`, nsRel, col, row)
}

// gigabyteImage anchors a picture in the license cell (column F) of the
// first data row; the picture's part is 1,000,000,000 bytes (a PNG header,
// then zeros).
func gigabyteImage(w io.Writer, s scale) error {
	b := &book{
		sheetXML: func(_ int, w io.Writer) error {
			bw := newBufWriter(w)
			io.WriteString(bw, sheetOpen)
			inlineRow(bw, 1, Headers)
			for i, r := range dataRows {
				inlineRow(bw, i+2, r)
			}
			io.WriteString(bw, `</sheetData><drawing r:id="rIdDr"/></worksheet>`)
			return bw.flush()
		},
		sheetRels: `<Relationship Id="rIdDr" Type="` + relBase + `drawing" Target="../drawings/drawing1.xml"/>`,
		types:     []string{`<Override PartName="/xl/drawings/drawing1.xml" ContentType="application/vnd.openxmlformats-officedocument.drawing+xml"/>`},
		extra: []part{
			text("xl/drawings/drawing1.xml", drawingWith(5, 1)),
			text("xl/drawings/_rels/drawing1.xml.rels", xmlDecl+`<Relationships xmlns="`+nsPkgRel+`"><Relationship Id="rIdImg" Type="`+relBase+`image" Target="../media/image1.png"/></Relationships>`),
			{name: "xl/media/image1.png", write: func(w io.Writer) error {
				if _, err := w.Write(pngHeader); err != nil {
					return err
				}
				return repeatBytes(w, 0, int64(s.of(1_000_000_000, 5_000_000))-int64(len(pngHeader)))
			}},
		},
	}
	return b.write(w)
}

func nameCollision(w io.Writer, s scale) error {
	b := &book{sheetXML: plainSheet(nil)}
	parts := b.parts()
	other := text("xl/worksheets/sheet1.xml", sheetOpen+`<row r="1"><c r="A1" t="inlineStr"><is><t>子客企业标识</t></is></c><c r="B1" t="inlineStr"><is><t>企业名称</t></is></c></row><row r="2"><c r="A2" t="inlineStr"><is><t>shadow-org</t></is></c><c r="B2" t="inlineStr"><is><t>影子公司</t></is></c></row>`+sheetClose)
	return writeZip(w, append(parts, other))
}

func nameCaseCollision(w io.Writer, s scale) error {
	b := &book{sheetXML: plainSheet(nil)}
	parts := b.parts()
	other := text("XL/WORKSHEETS/SHEET1.XML", sheetOpen+`<row r="1"><c r="A1" t="inlineStr"><is><t>子客企业标识</t></is></c><c r="B1" t="inlineStr"><is><t>企业名称</t></is></c></row>`+sheetClose)
	return writeZip(w, append(parts, other))
}

// licensePNG is a tiny valid PNG.
var licensePNG = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe\x92\xef\x00\x00\x00\x00IEND\xaeB`\x82")

// bookBytes returns the bytes of a workbook.
func bookBytes(b *book) ([]byte, error) {
	var buf bytes.Buffer
	if err := b.write(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func nameEscape(w io.Writer, s scale) error {
	rows := [][]string{
		{"e-org-1", "甲公司", "", "", "", "outside.png", ""},
		{"e-org-2", "乙公司", "", "", "", "abs.png", ""},
	}
	inner, err := bookBytes(&book{sheetXML: func(_ int, w io.Writer) error {
		io.WriteString(w, sheetOpen)
		inlineRow(w, 1, Headers)
		for i, r := range rows {
			inlineRow(w, i+2, r)
		}
		_, err := io.WriteString(w, sheetClose)
		return err
	}})
	if err != nil {
		return err
	}
	return writeZip(w, []part{
		stored("book.xlsx", inner),
		stored("../../outside.png", licensePNG),
		stored("/etc/abs.png", licensePNG),
	})
}

func zipInZip(w io.Writer, s scale) error {
	inner, err := bookBytes(&book{sheetXML: plainSheet(nil)})
	if err != nil {
		return err
	}
	var mid bytes.Buffer
	if err := writeZip(&mid, []part{stored("book.xlsx", inner)}); err != nil {
		return err
	}
	return writeZip(w, []part{stored("inner.zip", mid.Bytes())})
}

func bombInZip(w io.Writer, s scale) error {
	var inner bytes.Buffer
	b := &book{sheetXML: plainSheet(func(w io.Writer, next int) error {
		fmt.Fprintf(w, `<row r="%d"><c r="A%d" t="inlineStr"><is><t>`, next, next)
		if err := repeatBytes(w, ' ', int64(s.of(2<<30, 100_000))); err != nil {
			return err
		}
		_, err := io.WriteString(w, `</t></is></c></row>`)
		return err
	})}
	if err := b.write(&inner); err != nil {
		return err
	}
	return writeZip(w, []part{stored("book.xlsx", inner.Bytes())})
}

// formulasLinks: every data cell is a formula with a cached value; the
// workbook links to external workbooks on a web server and on the disk;
// there are WEBSERVICE, HYPERLINK and shared formulas over the whole sheet,
// and a formula without a cached value.
func formulasLinks(w io.Writer, s scale) error {
	const extURL = ExternalURL
	b := &book{
		sheetXML: func(_ int, w io.Writer) error {
			bw := newBufWriter(w)
			io.WriteString(bw, sheetOpen)
			inlineRow(bw, 1, Headers)
			for i, r := range dataRows {
				n := i + 2
				fmt.Fprintf(bw, `<row r="%d">`, n)
				for c, v := range r {
					if v == "" {
						continue
					}
					var f string
					switch c {
					case 0:
						f = fmt.Sprintf(`[1]Sheet1!A%d`, n)
					case 1:
						f = `WEBSERVICE("` + extURL + `")`
					case 2:
						f = `HYPERLINK("file:///etc/passwd","x")`
					default:
						f = fmt.Sprintf(`'file:///C:/secret/[book.xlsx]Sheet1'!A%d`, n)
					}
					fmt.Fprintf(bw, `<c r="%s%d" t="str"><f>%s</f><v>%s</v></c>`, colName(c+1), n, escape(f), escape(v))
				}
				io.WriteString(bw, `</row>`)
			}
			// A shared formula over the whole sheet, and one without a
			// cached value.
			fmt.Fprintf(bw, `<row r="9"><c r="A9" t="str"><f t="shared" ref="A9:XFD1048576" si="0">[2]Sheet1!A1&amp;A1</f><v>f-org-9</v></c><c r="B9" t="str"><f t="shared" si="0"/><v>共享公式公司</v></c></row>`)
			fmt.Fprintf(bw, `<row r="10"><c r="A10" t="str"><f>[1]Sheet1!A10</f></c><c r="B10" t="inlineStr"><is><t>无缓存公司</t></is></c></row>`)
			io.WriteString(bw, `</sheetData><hyperlinks><hyperlink ref="A2" r:id="rIdLink"/></hyperlinks></worksheet>`)
			return bw.flush()
		},
		sheetRels: `<Relationship Id="rIdLink" Type="` + relBase + `hyperlink" Target="` + extURL + `" TargetMode="External"/>`,
		workbookRels: []string{
			`<Relationship Id="rIdExt1" Type="` + relBase + `externalLink" Target="externalLinks/externalLink1.xml"/>`,
			`<Relationship Id="rIdExt2" Type="` + relBase + `externalLink" Target="externalLinks/externalLink2.xml"/>`,
		},
		types: []string{
			`<Override PartName="/xl/externalLinks/externalLink1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.externalLink+xml"/>`,
			`<Override PartName="/xl/externalLinks/externalLink2.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.externalLink+xml"/>`,
		},
		extra: []part{
			text("xl/externalLinks/externalLink1.xml", xmlDecl+`<externalLink xmlns="`+nsMain+`" xmlns:r="`+nsRel+`"><externalBook r:id="rId1"><sheetNames><sheetName val="Sheet1"/></sheetNames></externalBook></externalLink>`),
			text("xl/externalLinks/_rels/externalLink1.xml.rels", xmlDecl+`<Relationships xmlns="`+nsPkgRel+`"><Relationship Id="rId1" Type="`+relBase+`externalLinkPath" Target="`+extURL+`" TargetMode="External"/></Relationships>`),
			text("xl/externalLinks/externalLink2.xml", xmlDecl+`<externalLink xmlns="`+nsMain+`" xmlns:r="`+nsRel+`"><externalBook r:id="rId1"><sheetNames><sheetName val="Sheet1"/></sheetNames></externalBook></externalLink>`),
			text("xl/externalLinks/_rels/externalLink2.xml.rels", xmlDecl+`<Relationships xmlns="`+nsPkgRel+`"><Relationship Id="rId1" Type="`+relBase+`externalLinkPath" Target="file:///etc/passwd" TargetMode="External"/></Relationships>`),
		},
	}
	return b.write(w)
}

// ExternalURL is the web address formulasLinks points at.
const ExternalURL = "http://attacker.example/book.xlsx"

// manyRows: 1,000,001 data rows of two short cells.
func manyRows(w io.Writer, s scale) error {
	b := &book{sheetXML: func(_ int, w io.Writer) error {
		bw := newBufWriter(w)
		io.WriteString(bw, sheetOpen)
		inlineRow(bw, 1, Headers[:2])
		for r := 2; r <= s.of(1_000_002, 2_002); r++ {
			fmt.Fprintf(bw, `<row r="%d"><c t="inlineStr"><is><t>m%d</t></is></c><c t="inlineStr"><is><t>公司</t></is></c></row>`, r, r)
		}
		io.WriteString(bw, sheetClose)
		return bw.flush()
	}}
	return b.write(w)
}
