package importer

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"
)

// DefaultMaxUnzipSize is how far a workbook (or uploaded .zip) may expand
// unless configured.
const DefaultMaxUnzipSize = 1 << 30

// headerSearchRows is how many rows from the top may hold the header row.
const headerSearchRows = 10

// xmlInMemoryLimit is the size above which excelize keeps a worksheet or the
// shared strings in a temporary file instead of memory. Below it, excelize
// holds the shared strings as parsed structures, several times their XML
// size; above it, only an index of offsets (about 40 bytes a string).
const xmlInMemoryLimit = 2 << 20

func fileErrorf(format string, args ...any) *FileError {
	return &FileError{Reason: fmt.Sprintf(format, args...)}
}

// mib formats a byte count in MiB for messages.
func mib(n int64) string {
	v := float64(n) / (1 << 20)
	if v < 10 {
		return fmt.Sprintf("%.1f MiB", v)
	}
	return fmt.Sprintf("%.0f MiB", v)
}

var (
	magicZip      = []byte("PK\x03\x04")
	magicEmptyZip = []byte("PK\x05\x06")
	magicOLE      = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}
)

func open(name string, opts Options) (_ *Reader, err error) {
	if opts.MaxFileSize <= 0 {
		opts.MaxFileSize = DefaultMaxFileSize
	}
	if opts.MaxUnzipSize <= 0 {
		opts.MaxUnzipSize = DefaultMaxUnzipSize
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	r := &Reader{opts: opts, fileName: filepath.Base(name), seen: map[string]int{}}
	defer func() {
		if err != nil {
			r.close()
		}
	}()

	fi, err := os.Stat(name)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, fileErrorf("%s is a folder; choose the .xlsx or .zip file itself", r.fileName)
	}
	if fi.Size() > opts.MaxFileSize {
		return nil, fileErrorf("%s is %s, more than the %s allowed; split the rows over several files, or put the license pictures in a .zip beside the workbook instead of inside it", r.fileName, mib(fi.Size()), mib(opts.MaxFileSize))
	}
	if fi.Size() == 0 {
		return nil, fileErrorf("%s is empty; save the workbook again as .xlsx and upload it", r.fileName)
	}
	head, sum, err := hashFile(name)
	if err != nil {
		return nil, err
	}
	r.sha256 = sum
	switch {
	case bytes.HasPrefix(head, magicOLE):
		return nil, fileErrorf("%s is a password-protected workbook or an old .xls file; open it in Excel, remove the password (File > Info > Protect Workbook) and save it as Excel Workbook (.xlsx), then upload it again", r.fileName)
	case bytes.HasPrefix(head, magicEmptyZip):
		return nil, fileErrorf("%s is an empty zip archive; put the .xlsx workbook (and its license pictures) in it and upload it again", r.fileName)
	case !bytes.HasPrefix(head, magicZip):
		return nil, fileErrorf("%s is not an .xlsx workbook or a .zip archive; open it in Excel or WPS and save it as Excel Workbook (.xlsx), then upload it again", r.fileName)
	}
	zr, err := zip.OpenReader(name)
	if err != nil {
		return nil, fileErrorf("%s is damaged and cannot be opened (%v); save it again from Excel or WPS and upload it again", r.fileName, err)
	}
	bookZip := zr
	bookDir := "" // folder of the workbook inside the uploaded zip
	if kind := packageKind(zr); kind == "" {
		r.upload = zr
		if err := checkExpansion(zr, opts.MaxUnzipSize, r.fileName); err != nil {
			return nil, err
		}
		if r.tmpDir, err = os.MkdirTemp("", "onboard-import-"); err != nil {
			return nil, err
		}
		var inner string
		if bookZip, inner, err = extractWorkbook(zr, r.tmpDir, opts.MaxFileSize, r.fileName); err != nil {
			return nil, err
		}
		bookDir = path.Dir(inner)
		if bookDir == "." {
			bookDir = ""
		}
	} else if kind != "xlsx" {
		zr.Close()
		return nil, fileErrorf("%s is a %s document, not an Excel workbook; upload the .xlsx file", r.fileName, kind)
	}
	r.book = newPkg(bookZip)
	if r.upload != nil {
		if k := packageKind(bookZip); k != "xlsx" {
			return nil, fileErrorf("the workbook inside %s is not a valid .xlsx file; save it again from Excel or WPS as Excel Workbook (.xlsx)", r.fileName)
		}
	}
	if err := checkExpansion(bookZip, opts.MaxUnzipSize, r.fileName); err != nil {
		return nil, err
	}

	sheets, err := r.book.workbookSheets()
	if err != nil {
		return nil, fileErrorf("the workbook in %s is damaged (%v); open it in Excel or WPS, save it again as .xlsx and upload it again", r.fileName, err)
	}
	sh, err := pickSheet(sheets, opts.Sheet)
	if err != nil {
		return nil, err
	}
	r.sheet = sh.Name
	if !r.book.has(sh.Part) {
		return nil, fileErrorf("the sheet %q is missing from the workbook; open it in Excel or WPS, save it again as .xlsx and upload it again", sh.Name)
	}

	if r.tmpDir == "" {
		if r.tmpDir, err = os.MkdirTemp("", "onboard-import-"); err != nil {
			return nil, err
		}
	}
	slim := filepath.Join(r.tmpDir, "book.xlsx")
	if err := writeSlimCopy(r.book, sh.Part, slim); err != nil {
		return nil, fileErrorf("the workbook in %s is damaged (%v); open it in Excel or WPS, save it again as .xlsx and upload it again", r.fileName, err)
	}
	xmlLimit := min(int64(xmlInMemoryLimit), opts.MaxUnzipSize)
	r.xf, err = excelize.OpenFile(slim, excelize.Options{UnzipSizeLimit: opts.MaxUnzipSize, UnzipXMLSizeLimit: xmlLimit, TmpDir: r.tmpDir})
	if err != nil {
		return nil, fileErrorf("the workbook in %s cannot be read (%v); open it in Excel or WPS, save it again as .xlsx and upload it again", r.fileName, err)
	}
	// excelize has read the copy; it is not needed any more. (Close removes
	// the temporary folder in any case.)
	os.Remove(slim)
	if r.rows, err = r.xf.Rows(sh.Name); err != nil {
		return nil, fileErrorf("the sheet %q cannot be read (%v); open the workbook in Excel or WPS, save it again as .xlsx and upload it again", sh.Name, err)
	}
	rc, err := r.book.open(sh.Part)
	if err != nil {
		return nil, fileErrorf("the sheet %q cannot be read (%v); save the workbook again as .xlsx and upload it again", sh.Name, err)
	}
	r.scan = newSheetScanner(rc)

	if err := r.findHeader(); err != nil {
		return nil, err
	}
	if col, ok := r.colOf[fieldLicense]; ok {
		if r.pictures, err = indexPictures(r.book, sh.Part, r.headerRow, col+1); err != nil {
			return nil, fileErrorf("the pictures in %s cannot be read (%v); save the workbook again as .xlsx and upload it again", r.fileName, err)
		}
		r.picRows = r.pictures.floatingRows()
	}
	r.images = newImageFinder(r.upload, bookDir, opts.ImagesDir)
	r.estimated = estimateRows(r.scan.dimension, r.headerRow)
	return r, nil
}

// hashFile returns the first bytes of a file and the hex SHA-256 of all of it.
func hashFile(name string) ([]byte, string, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	head := make([]byte, 8)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, "", err
	}
	head = head[:n]
	h := sha256.New()
	h.Write(head)
	if _, err := io.Copy(h, f); err != nil {
		return nil, "", err
	}
	return head, hex.EncodeToString(h.Sum(nil)), nil
}

// packageKind tells what an Office Open XML package holds: "xlsx" for a
// workbook, "Word" or "PowerPoint" for other Office documents, "" for a plain
// zip archive.
func packageKind(zr *zip.ReadCloser) string {
	hasTypes := false
	kind := ""
	for _, f := range zr.File {
		n := strings.ToLower(strings.ReplaceAll(f.Name, "\\", "/"))
		switch {
		case n == "[content_types].xml":
			hasTypes = true
		case n == "xl/workbook.xml" || n == "xl/workbook.bin":
			kind = "xlsx"
		case kind == "" && n == "word/document.xml":
			kind = "Word"
		case kind == "" && n == "ppt/presentation.xml":
			kind = "PowerPoint"
		}
	}
	if !hasTypes {
		return ""
	}
	if kind == "" {
		// A package whose workbook is not at the usual place: ask the
		// relationships.
		p := newPkg(zr)
		if root, err := p.relsOf(""); err == nil {
			for _, r := range root {
				if relType(r.Type, "officeDocument") && strings.HasPrefix(strings.ToLower(r.Target), "xl/") {
					return "xlsx"
				}
			}
		}
		return "unknown"
	}
	return kind
}

// checkExpansion refuses an archive whose entries expand beyond limit. The
// sizes are those the archive declares; the zip reader refuses any entry that
// inflates beyond its declared size, so they are trustworthy.
func checkExpansion(zr *zip.ReadCloser, limit int64, fileName string) error {
	var total uint64
	for _, f := range zr.File {
		total += f.UncompressedSize64
		if total > uint64(limit) {
			return fileErrorf("%s would expand to more than %s when unpacked, which is more than any real spreadsheet needs; it may be damaged or built to exhaust the server, so it was refused. Save the workbook again from Excel or WPS, or split it into smaller files", fileName, mib(limit))
		}
	}
	return nil
}

// ignoredZipEntry reports whether an entry of an uploaded zip is operating
// system clutter rather than user content.
func ignoredZipEntry(name string) bool {
	name = strings.ReplaceAll(name, "\\", "/")
	if strings.HasPrefix(name, "__MACOSX/") || strings.Contains(name, "/__MACOSX/") {
		return true
	}
	base := path.Base(name)
	return strings.HasPrefix(base, "~$") || strings.HasPrefix(base, "._") || base == ".DS_Store" || base == "Thumbs.db"
}

// extractWorkbook copies the one .xlsx of an uploaded zip to dir and opens it.
func extractWorkbook(zr *zip.ReadCloser, dir string, maxSize int64, fileName string) (*zip.ReadCloser, string, error) {
	var books []*zip.File
	for _, f := range zr.File {
		if f.FileInfo().IsDir() || ignoredZipEntry(f.Name) {
			continue
		}
		if strings.EqualFold(path.Ext(f.Name), ".xlsx") {
			books = append(books, f)
		}
	}
	switch len(books) {
	case 0:
		return nil, "", fileErrorf("%s holds no .xlsx workbook; put exactly one .xlsx file (with the license pictures it names) in the zip and upload it again", fileName)
	case 1:
	default:
		var names []string
		for _, b := range books {
			names = append(names, b.Name)
		}
		sort.Strings(names)
		return nil, "", fileErrorf("%s holds %d .xlsx workbooks (%s); put exactly one in the zip, or upload them one at a time", fileName, len(books), strings.Join(names, ", "))
	}
	b := books[0]
	if b.UncompressedSize64 > uint64(maxSize) {
		return nil, "", fileErrorf("the workbook %s inside %s is %s, more than the %s allowed; split the rows over several files", b.Name, fileName, mib(int64(b.UncompressedSize64)), mib(maxSize))
	}
	src, err := b.Open()
	if err != nil {
		return nil, "", fileErrorf("%s is damaged: %s cannot be unpacked (%v); create the zip again and upload it", fileName, b.Name, err)
	}
	defer src.Close()
	dst := filepath.Join(dir, "upload.xlsx")
	out, err := os.Create(dst)
	if err != nil {
		return nil, "", err
	}
	_, err = io.Copy(out, io.LimitReader(src, maxSize+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, "", fileErrorf("%s is damaged: %s cannot be unpacked (%v); create the zip again and upload it", fileName, b.Name, err)
	}
	inner, err := zip.OpenReader(dst)
	if err != nil {
		return nil, "", fileErrorf("%s inside %s is not a valid .xlsx file (%v); open it in Excel or WPS, save it as Excel Workbook (.xlsx) and zip it again", b.Name, fileName, err)
	}
	// Where the system allows it, unlink the copy at once: the open reader
	// keeps it readable, and a process that dies leaves nothing behind.
	os.Remove(dst)
	return inner, strings.ReplaceAll(b.Name, "\\", "/"), nil
}

// pickSheet chooses the sheet to read: the named one, or the first visible
// worksheet.
func pickSheet(sheets []sheetInfo, want string) (sheetInfo, error) {
	var names []string
	for _, s := range sheets {
		if s.Kind == "worksheet" {
			names = append(names, fmt.Sprintf("%q", s.Name))
		}
	}
	if want != "" {
		for _, exact := range []bool{true, false} {
			for _, s := range sheets {
				if (exact && s.Name == want) || (!exact && strings.EqualFold(s.Name, want)) {
					if s.Kind != "worksheet" {
						return s, fileErrorf("the sheet %q is a %s, not a worksheet with rows; name one of: %s", s.Name, s.Kind, strings.Join(names, ", "))
					}
					return s, nil
				}
			}
		}
		if len(names) == 0 {
			return sheetInfo{}, fileErrorf("there is no sheet named %q, and the workbook has no worksheets at all", want)
		}
		return sheetInfo{}, fileErrorf("there is no sheet named %q in the workbook; its sheets are %s", want, strings.Join(names, ", "))
	}
	for _, s := range sheets {
		if s.Kind == "worksheet" && !s.Hidden {
			return s, nil
		}
	}
	return sheetInfo{}, fileErrorf("the workbook has no visible worksheet; unhide the sheet with the companies (or name it explicitly) and upload it again")
}

// slimParts reports whether a package part is needed by excelize to read the
// rows of one sheet. Pictures, drawings and other sheets stay out, so that
// excelize, which holds the parts it opens in memory, never holds images.
func slimPart(name, sheetPart, workbookPart string) bool {
	n := strings.ToLower(strings.TrimPrefix(strings.ReplaceAll(name, "\\", "/"), "/"))
	wb := strings.ToLower(workbookPart)
	wbDir, wbBase := path.Split(wb)
	switch {
	case n == "[content_types].xml", n == "_rels/.rels":
		return true
	case n == wb, n == wbDir+"_rels/"+wbBase+".rels":
		return true
	case n == strings.ToLower(sheetPart):
		return true
	case n == "xl/styles.xml", n == "xl/sharedstrings.xml":
		return true
	case strings.HasPrefix(n, "xl/theme/") && strings.HasSuffix(n, ".xml"):
		return true
	}
	return false
}

// writeSlimCopy writes a copy of the workbook package holding only what
// excelize needs to read one sheet, copying the compressed entries as they are.
func writeSlimCopy(p *pkg, sheetPart, dst string) error {
	wbPart := "xl/workbook.xml"
	if root, err := p.relsOf(""); err == nil {
		for _, r := range root {
			if relType(r.Type, "officeDocument") && !r.External {
				wbPart = r.Target
			}
		}
	}
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	zw := zip.NewWriter(out)
	for _, f := range p.zr.File {
		if f.FileInfo().IsDir() || !slimPart(f.Name, sheetPart, wbPart) {
			continue
		}
		src, err := f.OpenRaw()
		if err != nil {
			out.Close()
			return err
		}
		hdr := f.FileHeader
		w, err := zw.CreateRaw(&hdr)
		if err != nil {
			out.Close()
			return err
		}
		if _, err := io.Copy(w, src); err != nil {
			out.Close()
			return err
		}
	}
	if err := zw.Close(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// estimateRows reads the last row of a dimension reference such as "A1:K5001".
func estimateRows(dimension string, headerRow int) int {
	ref := dimension
	if i := strings.LastIndexByte(ref, ':'); i >= 0 {
		ref = ref[i+1:]
	}
	_, last, err := excelize.CellNameToCoordinates(ref)
	if err != nil || last <= headerRow {
		return 0
	}
	return last - headerRow
}
