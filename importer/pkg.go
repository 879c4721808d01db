package importer

import (
	"archive/zip"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
)

// pkg is an Office Open XML package (the zip inside an .xlsx) read part by
// part, so that only the parts a row needs are decompressed.
type pkg struct {
	zr    *zip.ReadCloser
	parts map[string]*zip.File // by part name without the leading slash
	lower map[string]*zip.File // by lower-cased part name (part names ignore case)
}

func newPkg(zr *zip.ReadCloser) *pkg {
	p := &pkg{zr: zr, parts: map[string]*zip.File{}, lower: map[string]*zip.File{}}
	for _, f := range zr.File {
		name := strings.TrimPrefix(strings.ReplaceAll(f.Name, "\\", "/"), "/")
		p.parts[name] = f
		p.lower[strings.ToLower(name)] = f
	}
	return p
}

// file returns the zip entry of a part, or nil.
func (p *pkg) file(name string) *zip.File {
	name = strings.TrimPrefix(name, "/")
	if f := p.parts[name]; f != nil {
		return f
	}
	return p.lower[strings.ToLower(name)]
}

// has reports whether the package holds a part.
func (p *pkg) has(name string) bool { return p.file(name) != nil }

// open opens a part for streaming.
func (p *pkg) open(name string) (io.ReadCloser, error) {
	f := p.file(name)
	if f == nil {
		return nil, fmt.Errorf("part %s is missing", name)
	}
	return f.Open()
}

// maxXMLPart bounds the size of the small XML parts read whole (workbook,
// relationships, rich data, cell images). Such parts are first checked by
// checkXMLShape, so that encoding/xml is never given a part that nests too
// deep or holds an enormous attribute or text.
const maxXMLPart = 16 << 20

// maxDrawingPart bounds the size of a drawing part, which is streamed.
const maxDrawingPart = 64 << 20

// openChecked opens a part for reading with encoding/xml: it must be at
// most limit bytes and pass checkXMLShape.
func (p *pkg) openChecked(f *zip.File, name string, limit int64) (io.ReadCloser, error) {
	if f.UncompressedSize64 > uint64(limit) {
		return nil, fmt.Errorf("part %s is too large (%d bytes)", name, f.UncompressedSize64)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	err = checkXMLShape(rc)
	rc.Close()
	if err != nil {
		return nil, fmt.Errorf("part %s: %w", name, err)
	}
	return f.Open()
}

// decode decodes a whole XML part into v. A missing part is an error only if
// required.
func (p *pkg) decode(name string, v any, required bool) (bool, error) {
	f := p.file(name)
	if f == nil {
		if required {
			return false, fmt.Errorf("part %s is missing", name)
		}
		return false, nil
	}
	rc, err := p.openChecked(f, name, maxXMLPart)
	if err != nil {
		return true, err
	}
	defer rc.Close()
	dec := xml.NewDecoder(rc)
	dec.Strict = false
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return true, fmt.Errorf("part %s: %w", name, err)
	}
	return true, nil
}

// rel is one relationship of a part, its target resolved to a part name.
type rel struct {
	ID       string
	Type     string
	Target   string // part name, no leading slash; the raw target when External
	External bool
}

// relsOf reads the relationships of a part (dir/_rels/name.rels), keyed by id.
func (p *pkg) relsOf(part string) (map[string]rel, error) {
	dir, base := path.Split(strings.TrimPrefix(part, "/"))
	var doc struct {
		Rels []struct {
			ID         string `xml:"Id,attr"`
			Type       string `xml:"Type,attr"`
			Target     string `xml:"Target,attr"`
			TargetMode string `xml:"TargetMode,attr"`
		} `xml:"Relationship"`
	}
	if _, err := p.decode(dir+"_rels/"+base+".rels", &doc, false); err != nil {
		return nil, err
	}
	out := make(map[string]rel, len(doc.Rels))
	for _, r := range doc.Rels {
		x := rel{ID: r.ID, Type: r.Type, Target: r.Target, External: strings.EqualFold(r.TargetMode, "External")}
		if !x.External {
			x.Target = resolveTarget(dir, r.Target)
		}
		out[r.ID] = x
	}
	return out, nil
}

// resolveTarget resolves a relationship target against the folder of its
// source part.
func resolveTarget(dir, target string) string {
	target = strings.ReplaceAll(target, "\\", "/")
	if strings.HasPrefix(target, "/") {
		return strings.TrimPrefix(path.Clean(target), "/")
	}
	return strings.TrimPrefix(path.Clean("/"+dir+target), "/")
}

// relType reports whether a relationship type ends in the given name, so the
// transitional and strict namespaces both match.
func relType(t, name string) bool { return strings.HasSuffix(t, "/"+name) }

// sheetInfo is one sheet of the workbook.
type sheetInfo struct {
	Name   string
	Part   string
	Hidden bool
	Kind   string // "worksheet", "chartsheet", "dialogsheet", ...
}

// workbookInfo is what the workbook part says: its sheets in tab order,
// the parts of its shared strings and cell formats, and its date system.
type workbookInfo struct {
	sheets        []sheetInfo
	sharedStrings string
	styles        string
	date1904      bool
}

// workbookPart is the part name of the workbook.
func (p *pkg) workbookPart() string {
	if root, err := p.relsOf(""); err == nil {
		for _, r := range root {
			if relType(r.Type, "officeDocument") && !r.External {
				return r.Target
			}
		}
	}
	return "xl/workbook.xml"
}

// readWorkbook reads the workbook part and its relationships.
func (p *pkg) readWorkbook() (*workbookInfo, error) {
	wbPart := p.workbookPart()
	var wb struct {
		Pr struct {
			Date1904 string `xml:"date1904,attr"`
		} `xml:"workbookPr"`
		Sheets []struct {
			Name  string `xml:"name,attr"`
			State string `xml:"state,attr"`
			RID   string `xml:"id,attr"`
		} `xml:"sheets>sheet"`
	}
	if _, err := p.decode(wbPart, &wb, true); err != nil {
		return nil, err
	}
	rels, err := p.relsOf(wbPart)
	if err != nil {
		return nil, err
	}
	out := &workbookInfo{sharedStrings: "xl/sharedStrings.xml", styles: "xl/styles.xml"}
	switch strings.TrimSpace(wb.Pr.Date1904) {
	case "1", "true":
		out.date1904 = true
	}
	for _, r := range rels {
		switch {
		case r.External:
		case relType(r.Type, "sharedStrings"):
			out.sharedStrings = r.Target
		case relType(r.Type, "styles"):
			out.styles = r.Target
		}
	}
	for _, s := range wb.Sheets {
		r, ok := rels[s.RID]
		if !ok || r.External {
			continue
		}
		kind := r.Type[strings.LastIndexByte(r.Type, '/')+1:]
		out.sheets = append(out.sheets, sheetInfo{Name: s.Name, Part: r.Target, Hidden: s.State == "hidden" || s.State == "veryHidden", Kind: kind})
	}
	return out, nil
}
