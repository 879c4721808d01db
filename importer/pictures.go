package importer

import (
	"bufio"
	"encoding/xml"
	"errors"
	"io"
	"sort"
	"strconv"
	"strings"
)

// pictureRef points at one picture of the workbook.
type pictureRef struct {
	part     string // media part in the workbook package
	external string // target of a linked (not embedded) picture
	missing  bool   // the workbook refers to a picture it does not hold
}

// pictureIndex knows where the pictures of the license column are: floating
// pictures anchored in its cells, Excel's in-cell pictures (rich values) and
// WPS's DISPIMG cell images. It holds references, never image bytes.
type pictureIndex struct {
	floating map[int][]pictureRef // row -> pictures anchored in the license column
	richVM   []pictureRef         // Excel in-cell pictures by value-metadata index - 1
	wps      map[string]pictureRef
}

// at returns the pictures of the license cell in a row.
func (x *pictureIndex) at(row int, m *cellMeta) []pictureRef {
	out := append([]pictureRef(nil), x.floating[row]...)
	if m == nil {
		return out
	}
	if m.vm > 0 {
		if m.vm <= len(x.richVM) && (x.richVM[m.vm-1] != pictureRef{}) {
			out = append(out, x.richVM[m.vm-1])
		} else if m.typ == "e" {
			out = append(out, pictureRef{missing: true})
		}
	}
	if id := dispImgID(m); id != "" {
		if p, ok := x.wps[id]; ok {
			out = append(out, p)
		} else {
			out = append(out, pictureRef{missing: true})
		}
	}
	return out
}

// floatingRows lists the rows with floating pictures in the license column.
func (x *pictureIndex) floatingRows() []int {
	rows := make([]int, 0, len(x.floating))
	for r := range x.floating {
		rows = append(rows, r)
	}
	sort.Ints(rows)
	return rows
}

// indexPictures finds the pictures of a sheet's license column (1-based col)
// below the header row.
func indexPictures(book *pkg, sheetPart string, headerRow, col int) (*pictureIndex, error) {
	x := &pictureIndex{floating: map[int][]pictureRef{}, wps: map[string]pictureRef{}}
	sheetRels, err := book.relsOf(sheetPart)
	if err != nil {
		return nil, err
	}
	for _, r := range sheetRels {
		if !relType(r.Type, "drawing") || r.External {
			continue
		}
		if err := x.addDrawing(book, r.Target, headerRow, col); err != nil {
			return nil, err
		}
	}
	wbRels, err := book.relsOf(book.workbookPart())
	if err != nil {
		return nil, err
	}
	find := func(suffix, fallback string) string {
		for _, r := range wbRels {
			if !r.External && strings.HasSuffix(strings.ToLower(r.Type), "/"+strings.ToLower(suffix)) {
				return r.Target
			}
		}
		return fallback
	}
	if err := x.addRichData(book, find("sheetMetadata", "xl/metadata.xml"),
		find("rdRichValue", "xl/richData/rdrichvalue.xml"),
		find("rdRichValueStructure", "xl/richData/rdrichvaluestructure.xml"),
		find("richValueRel", "xl/richData/richValueRel.xml")); err != nil {
		return nil, err
	}
	if err := x.addCellImages(book, find("cellImage", "xl/cellimages.xml")); err != nil {
		return nil, err
	}
	return x, nil
}

// refFor turns a relationship id of a part into a picture reference.
func refFor(rels map[string]rel, id string, book *pkg) pictureRef {
	r, ok := rels[id]
	switch {
	case !ok:
		return pictureRef{missing: true}
	case r.External:
		return pictureRef{external: r.Target}
	case !book.has(r.Target):
		return pictureRef{missing: true}
	}
	return pictureRef{part: r.Target}
}

// addDrawing reads the anchors of a drawing part and keeps the pictures whose
// top-left corner lies in the license column below the header.
func (x *pictureIndex) addDrawing(book *pkg, part string, headerRow, col int) error {
	rels, err := book.relsOf(part)
	if err != nil {
		return err
	}
	f := book.file(part)
	if f == nil {
		return nil
	}
	rc, err := book.openChecked(f, part, maxDrawingPart)
	if err != nil {
		return err
	}
	defer rc.Close()
	dec := xml.NewDecoder(bufio.NewReader(rc))
	dec.Strict = false

	type blip struct{ embed, link string }
	var (
		inAnchor       int // depth of anchor elements (groups do not nest anchors, but be safe)
		inFrom         bool
		inFallback     int
		inPic          int
		field          string
		fromRow        = -1
		fromCol        = -1
		blips          []blip
		text           []byte
		anchorElements = map[string]bool{"twoCellAnchor": true, "oneCellAnchor": true}
	)
	for {
		tok, err := dec.RawToken()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch name := t.Name.Local; {
			case anchorElements[name]:
				inAnchor++
				fromRow, fromCol, blips = -1, -1, blips[:0]
			case inAnchor > 0 && name == "from":
				inFrom = true
			case inFrom && (name == "row" || name == "col"):
				field, text = name, text[:0]
			case name == "Fallback":
				inFallback++
			case name == "pic":
				inPic++
			case name == "blip" && inAnchor > 0 && inPic > 0 && inFallback == 0:
				blips = append(blips, blip{embed: attr(t, "embed"), link: attr(t, "link")})
			}
		case xml.CharData:
			if field != "" {
				text = append(text, t...)
			}
		case xml.EndElement:
			switch name := t.Name.Local; {
			case field != "" && name == field:
				n, err := strconv.Atoi(strings.TrimSpace(string(text)))
				if err == nil {
					if field == "row" {
						fromRow = n
					} else {
						fromCol = n
					}
				}
				field = ""
			case name == "from":
				inFrom = false
			case name == "Fallback":
				inFallback--
			case name == "pic":
				inPic--
			case anchorElements[name]:
				inAnchor--
				if fromRow+1 > headerRow && fromCol+1 == col {
					for _, b := range blips {
						ref := pictureRef{missing: true}
						switch {
						case b.embed != "":
							ref = refFor(rels, b.embed, book)
						case b.link != "":
							ref = refFor(rels, b.link, book)
						}
						x.floating[fromRow+1] = append(x.floating[fromRow+1], ref)
					}
				}
			}
		}
	}
}

// addRichData maps Excel's in-cell pictures ("Place in Cell"): a cell's vm
// attribute picks a value-metadata block, whose record points to a rich value
// through the future metadata; the rich value's LocalImageIdentifier indexes
// the rich value relationships, which name the media part.
func (x *pictureIndex) addRichData(book *pkg, metadataPart, valuesPart, structuresPart, relPart string) error {
	var md struct {
		Types []struct {
			Name string `xml:"name,attr"`
		} `xml:"metadataTypes>metadataType"`
		Future []struct {
			Name string `xml:"name,attr"`
			Bk   []struct {
				Rvb []struct {
					I int `xml:"i,attr"`
				} `xml:"extLst>ext>rvb"`
			} `xml:"bk"`
		} `xml:"futureMetadata"`
		Value []struct {
			Rc []struct {
				T int `xml:"t,attr"`
				V int `xml:"v,attr"`
			} `xml:"rc"`
		} `xml:"valueMetadata>bk"`
	}
	found, err := book.decode(metadataPart, &md, false)
	if err != nil || !found || len(md.Value) == 0 {
		return err
	}
	var values struct {
		Rv []struct {
			S int      `xml:"s,attr"`
			V []string `xml:"v"`
		} `xml:"rv"`
	}
	var structures struct {
		S []struct {
			K []struct {
				N string `xml:"n,attr"`
			} `xml:"k"`
		} `xml:"s"`
	}
	var relList struct {
		Rel []struct {
			ID string `xml:"id,attr"`
		} `xml:"rel"`
	}
	if _, err := book.decode(valuesPart, &values, false); err != nil {
		return err
	}
	if _, err := book.decode(structuresPart, &structures, false); err != nil {
		return err
	}
	if _, err := book.decode(relPart, &relList, false); err != nil {
		return err
	}
	rels, err := book.relsOf(relPart)
	if err != nil {
		return err
	}
	x.richVM = make([]pictureRef, len(md.Value))
	for i, bk := range md.Value {
		if len(bk.Rc) == 0 {
			continue
		}
		rc := bk.Rc[0]
		// The record's type names a future-metadata block list; its v-th
		// block names the rich value. Without one, v is the rich value.
		rvIdx := rc.V
		if rc.T >= 1 && rc.T <= len(md.Types) {
			typeName := md.Types[rc.T-1].Name
			for _, fm := range md.Future {
				if fm.Name == typeName && rc.V < len(fm.Bk) && len(fm.Bk[rc.V].Rvb) > 0 {
					rvIdx = fm.Bk[rc.V].Rvb[0].I
				}
			}
		}
		if rvIdx < 0 || rvIdx >= len(values.Rv) {
			continue
		}
		rv := values.Rv[rvIdx]
		if rv.S < 0 || rv.S >= len(structures.S) {
			continue
		}
		keys := structures.S[rv.S].K
		for k, key := range keys {
			if key.N != "_rvRel:LocalImageIdentifier" || k >= len(rv.V) {
				continue
			}
			relIdx, err := strconv.Atoi(strings.TrimSpace(rv.V[k]))
			if err != nil || relIdx < 0 || relIdx >= len(relList.Rel) {
				x.richVM[i] = pictureRef{missing: true}
				continue
			}
			x.richVM[i] = refFor(rels, relList.Rel[relIdx].ID, book)
		}
	}
	return nil
}

// addCellImages maps WPS's cell images: =DISPIMG("ID_...",1) names a picture
// of xl/cellimages.xml.
func (x *pictureIndex) addCellImages(book *pkg, part string) error {
	var doc struct {
		Images []struct {
			Pic struct {
				CNvPr struct {
					Name string `xml:"name,attr"`
				} `xml:"nvPicPr>cNvPr"`
				Blip struct {
					Embed string `xml:"embed,attr"`
					Link  string `xml:"link,attr"`
				} `xml:"blipFill>blip"`
			} `xml:"pic"`
		} `xml:"cellImage"`
	}
	found, err := book.decode(part, &doc, false)
	if err != nil || !found {
		return err
	}
	rels, err := book.relsOf(part)
	if err != nil {
		return err
	}
	for _, img := range doc.Images {
		id := img.Pic.CNvPr.Name
		if id == "" {
			continue
		}
		ref := pictureRef{missing: true}
		switch {
		case img.Pic.Blip.Embed != "":
			ref = refFor(rels, img.Pic.Blip.Embed, book)
		case img.Pic.Blip.Link != "":
			ref = refFor(rels, img.Pic.Blip.Link, book)
		}
		x.wps[id] = ref
	}
	return nil
}
