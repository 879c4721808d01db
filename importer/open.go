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

// headerRowText is how much text a row above or at the header may hold
// while the header is looked for.
const headerRowText = 1 << 20

// fileErrorf builds a refusal. Whatever it quotes from the file, an
// identifier in it is masked.
func fileErrorf(format string, args ...any) *FileError {
	return &FileError{Reason: MaskIDs(fmt.Sprintf(format, args...))}
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
	if opts.MaxRows <= 0 {
		opts.MaxRows = DefaultMaxRows
	}
	if opts.MaxColumns <= 0 {
		opts.MaxColumns = DefaultMaxColumns
	}
	opts.MaxColumns = min(opts.MaxColumns, excelize.MaxColumns)
	if opts.MaxRowText <= 0 {
		opts.MaxRowText = DefaultMaxRowText
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	display := opts.FileName
	if display == "" {
		display = filepath.Base(name)
	}
	r := &Reader{opts: opts, fileName: display, seen: map[[16]byte]int32{}}
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
		switch oleKind(name) {
		case "encrypted":
			return nil, fileErrorf("%s is a password-protected workbook; open it in Excel or WPS, remove the password (File > Info > Protect Workbook > Encrypt with Password, and clear it) and save it as Excel Workbook (.xlsx), then upload it again", r.fileName)
		case "workbook":
			kind := "an Excel 97–2003 workbook (.xls)"
			if strings.EqualFold(filepath.Ext(r.fileName), ".et") {
				kind = "a WPS spreadsheet (.et)"
			}
			return nil, fileErrorf("%s is %s, an old binary format that is not read; open it in Excel or WPS, choose File > Save As, pick Excel Workbook (*.xlsx) as the type, and upload the .xlsx file", r.fileName, kind)
		}
		return nil, fileErrorf("%s is an old binary Office file (of Excel 97–2003, WPS or Word), not an .xlsx workbook; open it in Excel or WPS, choose File > Save As, pick Excel Workbook (*.xlsx) as the type, and upload the .xlsx file", r.fileName)
	case bytes.HasPrefix(head, magicEmptyZip):
		return nil, fileErrorf("%s is an empty zip archive; put the .xlsx workbook (and its license pictures) in it and upload it again", r.fileName)
	case !bytes.HasPrefix(head, magicZip):
		return nil, fileErrorf("%s is not an .xlsx workbook or a .zip archive; open it in Excel or WPS and save it as Excel Workbook (.xlsx), then upload it again", r.fileName)
	}
	zr, err := openZip(name, r.fileName, opts.MaxUnzipSize)
	if err != nil {
		return nil, err
	}
	bookZip := zr
	bookDir := "" // folder of the workbook inside the uploaded zip
	if kind := packageKind(zr); kind == "" {
		r.upload = zr
		if r.tmpDir, err = os.MkdirTemp("", "onboard-import-"); err != nil {
			return nil, err
		}
		var inner string
		if bookZip, inner, err = extractWorkbook(zr, r.tmpDir, opts, r.fileName); err != nil {
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

	wb, err := r.book.readWorkbook()
	if err != nil {
		return nil, fileErrorf("the workbook in %s is damaged (%v); open it in Excel or WPS, save it again as .xlsx and upload it again", r.fileName, err)
	}
	sh, err := pickSheet(wb.sheets, opts.Sheet)
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
	// The merged ranges come after the rows, so they are read ahead, while
	// the shared strings and the header are read.
	type mergesRead struct {
		ms  []mergedRange
		err error
	}
	mergesDone := make(chan mergesRead, 1)
	go func() {
		ms, err := readMerges(r.book, sh.Part)
		mergesDone <- mergesRead{ms, err}
	}()
	mergesWaited := false
	waitMerges := func() mergesRead {
		mergesWaited = true
		return <-mergesDone
	}
	defer func() {
		if !mergesWaited {
			waitMerges()
		}
	}()
	if err := r.readSharedStrings(wb); err != nil {
		return nil, err
	}
	r.format = &formatter{book: r.book, stylesPart: wb.styles, date1904: wb.date1904}

	rc, err := r.book.open(sh.Part)
	if err != nil {
		return nil, fileErrorf("the sheet %q cannot be read (%v); save the workbook again as .xlsx and upload it again", sh.Name, err)
	}
	r.scan = newSheetScanner(rc)
	r.scan.maxCol, r.scan.budget = excelize.MaxColumns, headerRowText

	if err := r.findHeader(); err != nil {
		return nil, err
	}
	// Below the header only its columns are read, and at most a row's
	// worth of text (one byte more, to tell a row that holds too much).
	r.scan.maxCol, r.scan.budget = len(r.headers), opts.MaxRowText+1
	mr := waitMerges()
	merges, err := mr.ms, mr.err
	if errors.Is(err, errTooManyMerges) {
		return nil, fileErrorf("the sheet %q of %s has more than %d merged ranges; unmerge the cells (select the sheet, Home > Merge & Center > Unmerge Cells) and upload the file again", sh.Name, r.fileName, maxMerges)
	}
	if err != nil {
		return nil, fileErrorf("the merged cells of sheet %q cannot be read (%v); open it in Excel or WPS, save it again as .xlsx and upload it again", sh.Name, err)
	}
	r.ranges = merges
	r.merges = newMergeTracker(merges, r.headerRow, len(r.headers))
	if err := r.countRows(sh.Part); err != nil {
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

// minDataRow is the fewest bytes a worksheet spends on a row that shows a
// value: <row><c><v>1</v></c></row> is 26.
const minDataRow = 24

// countRows refuses, before any row is returned, a sheet holding more data
// rows than the limit, so that such a file is refused in the time it takes
// to read it rather than after every row has been checked and stored. Only
// a sheet large enough to hold that many rows is counted, and only when its
// used range (the dimension Excel writes) does not already say it holds
// fewer; a range that lies only means the file is refused while it is
// read, as any other. The count is of rows with a cell showing text, which
// a row with only a picture does not: it never exceeds the rows Next
// returns, so no file is refused here that reading it would not refuse.
func (r *Reader) countRows(part string) error {
	f := r.book.file(part)
	if f == nil || f.UncompressedSize64 < uint64(r.opts.MaxRows)*minDataRow {
		return nil
	}
	if r.scan.dimension != "" {
		if n := estimateRows(r.scan.dimension, r.headerRow); n > 0 && n <= r.opts.MaxRows {
			return nil
		}
	}
	rc, err := f.Open()
	if err != nil {
		return fileErrorf("the sheet %q cannot be read (%v); save the workbook again as .xlsx and upload it again", r.sheet, err)
	}
	defer rc.Close()
	scan := newSheetScanner(rc)
	scan.maxCol, scan.budget = len(r.headers), r.opts.MaxRowText+1
	n := 0
	for {
		ok, err := scan.next()
		if err != nil {
			// Reading the rows reports it, with the row it happened after.
			return nil
		}
		if !ok {
			return nil
		}
		if scan.row <= r.headerRow {
			continue
		}
		for i := range scan.cells {
			m := &scan.cells[i]
			if m.vm > 0 || isDispImg(m) {
				continue
			}
			v, err := r.display(m)
			if err != nil {
				return nil
			}
			if trimCell(v) != "" {
				if n++; n > r.opts.MaxRows {
					return r.tooManyRows()
				}
				break
			}
		}
	}
}

func (r *Reader) tooManyRows() error {
	return fileErrorf("the sheet %q of %s has more than %d data rows, the most one file may hold; split it into files of at most %d rows and upload them one at a time", r.sheet, r.fileName, r.opts.MaxRows, r.opts.MaxRows)
}

// readSharedStrings reads the workbook's shared strings, refusing a table
// that holds more strings than all of its worksheets could show: each
// shown string takes at least minStringCell bytes of a worksheet.
func (r *Reader) readSharedStrings(wb *workbookInfo) error {
	f := r.book.file(wb.sharedStrings)
	if f == nil {
		return nil
	}
	var sheetBytes uint64
	parts := map[string]bool{}
	for _, s := range wb.sheets {
		if sf := r.book.file(s.Part); sf != nil && !parts[strings.ToLower(s.Part)] {
			parts[strings.ToLower(s.Part)] = true
			sheetBytes += sf.UncompressedSize64
		}
	}
	limit := int(min(sheetBytes/minStringCell+4096, 1<<40))
	rc, err := f.Open()
	if err != nil {
		return fileErrorf("the text of %s cannot be read (%v); save the workbook again from Excel or WPS and upload it again", r.fileName, err)
	}
	defer rc.Close()
	r.sst, err = readSST(rc, sstLimits{maxStrings: limit, maxString: r.opts.MaxRowText + 1}, r.tmpDir)
	var many *errTooManyStrings
	switch {
	case errors.As(err, &many):
		if many.declared {
			return fileErrorf("the shared strings table of %s (the text of its cells) declares %d strings, more than its sheets could show (at most %d); it may be damaged or built to exhaust the server, so it was refused. Save the workbook again from Excel or WPS and upload it again", r.fileName, many.n, limit)
		}
		return fileErrorf("the shared strings table of %s (the text of its cells) holds more than %d strings, more than its sheets could show; it may be damaged or built to exhaust the server, so it was refused. Save the workbook again from Excel or WPS and upload it again", r.fileName, limit)
	case err != nil:
		return fileErrorf("the text of %s cannot be read (%v); open it in Excel or WPS, save it again as .xlsx and upload it again", r.fileName, err)
	}
	return nil
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

// oleKind tells what an OLE2 compound file holds by the names of its
// streams (UTF-16 in its directory): "encrypted" for a password-protected
// Office Open XML file, "workbook" for an Excel 97–2003 or WPS workbook, ""
// for anything else.
func oleKind(name string) string {
	has := func(stream string) bool {
		f, err := os.Open(name)
		if err != nil {
			return false
		}
		defer f.Close()
		pat := make([]byte, 0, 2*len(stream))
		for _, c := range []byte(stream) {
			pat = append(pat, c, 0)
		}
		ok, _ := containsStream(f, pat)
		return ok
	}
	switch {
	case has("EncryptedPackage"):
		return "encrypted"
	case has("Workbook") || has("Book"):
		return "workbook"
	}
	return ""
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

// extractWorkbook copies the one .xlsx of an uploaded zip to dir and opens
// it. The zip's entry names are never used as paths.
func extractWorkbook(zr *zip.ReadCloser, dir string, opts Options, fileName string) (*zip.ReadCloser, string, error) {
	var books, zips []*zip.File
	for _, f := range zr.File {
		if f.FileInfo().IsDir() || ignoredZipEntry(f.Name) {
			continue
		}
		switch strings.ToLower(path.Ext(f.Name)) {
		case ".xlsx":
			books = append(books, f)
		case ".zip":
			zips = append(zips, f)
		}
	}
	switch len(books) {
	case 0:
		if len(zips) > 0 {
			return nil, "", fileErrorf("%s holds no .xlsx workbook, only another zip (%s); zips inside zips are not opened. Put the .xlsx file itself (with the license pictures it names) in the zip and upload it again", fileName, zips[0].Name)
		}
		return nil, "", fileErrorf("%s holds no .xlsx workbook; put exactly one .xlsx file (with the license pictures it names) in the zip and upload it again", fileName)
	case 1:
	default:
		var names []string
		for _, b := range books {
			names = append(names, b.Name)
		}
		sort.Strings(names)
		return nil, "", fileErrorf("%s holds %d .xlsx workbooks (%s); put exactly one in the zip, or upload them one at a time", fileName, len(books), strings.Join(listNames(names), ", "))
	}
	b := books[0]
	if b.UncompressedSize64 > uint64(opts.MaxFileSize) {
		return nil, "", fileErrorf("the workbook %s inside %s is %s, more than the %s allowed; split the rows over several files", b.Name, fileName, mib(int64(b.UncompressedSize64)), mib(opts.MaxFileSize))
	}
	src, err := b.Open()
	if err != nil {
		return nil, "", fileErrorf("%s is damaged: %s cannot be unpacked (%v); create the zip again and upload it", fileName, b.Name, err)
	}
	defer src.Close()
	dst := filepath.Join(dir, "upload.xlsx")
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, "", err
	}
	_, err = io.Copy(out, io.LimitReader(src, opts.MaxFileSize+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, "", fileErrorf("%s is damaged: %s cannot be unpacked (%v); create the zip again and upload it", fileName, b.Name, err)
	}
	if head, _, err := hashFile(dst); err != nil || !bytes.HasPrefix(head, magicZip) {
		return nil, "", fileErrorf("%s inside %s is not a valid .xlsx file; open it in Excel or WPS, save it as Excel Workbook (.xlsx) and zip it again", b.Name, fileName)
	}
	inner, err := openZip(dst, b.Name+" inside "+fileName, opts.MaxUnzipSize)
	if err != nil {
		var fe *FileError
		if errors.As(err, &fe) && strings.Contains(fe.Reason, "is damaged and cannot be opened") {
			return nil, "", fileErrorf("%s inside %s is not a valid .xlsx file; open it in Excel or WPS, save it as Excel Workbook (.xlsx) and zip it again", b.Name, fileName)
		}
		return nil, "", err
	}
	// Where the system allows it, unlink the copy at once: the open reader
	// keeps it readable, and a process that dies leaves nothing behind.
	os.Remove(dst)
	return inner, strings.ReplaceAll(b.Name, "\\", "/"), nil
}

// listNames shortens a long list of names for a message.
func listNames(names []string) []string {
	const shown = 20
	if len(names) <= shown {
		return names
	}
	return append(append([]string(nil), names[:shown]...), fmt.Sprintf("and %d more", len(names)-shown))
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
	names = listNames(names)
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
