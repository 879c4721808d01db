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
		return nil, refuse("file.folder", "File", r.fileName)
	}
	if fi.Size() > opts.MaxFileSize {
		return nil, refuse("file.too_large", "File", r.fileName, "Size", mib(fi.Size()), "Max", mib(opts.MaxFileSize))
	}
	if fi.Size() == 0 {
		return nil, refuse("file.empty", "File", r.fileName)
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
			return nil, refuse("file.encrypted", "File", r.fileName)
		case "workbook":
			if strings.EqualFold(filepath.Ext(r.fileName), ".et") {
				return nil, refuse("file.ole2_et", "File", r.fileName)
			}
			return nil, refuse("file.ole2_xls", "File", r.fileName)
		}
		return nil, refuse("file.ole2_other", "File", r.fileName)
	case bytes.HasPrefix(head, magicEmptyZip):
		return nil, refuse("file.empty_zip", "File", r.fileName)
	case !bytes.HasPrefix(head, magicZip):
		return nil, refuse("file.not_xlsx", "File", r.fileName)
	}
	zr, err := openZip(name, r.fileName, "", opts.MaxUnzipSize)
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
		return nil, refuse("file.office_document", "File", r.fileName, "Kind", kind)
	}
	r.book = newPkg(bookZip)
	if r.upload != nil {
		if k := packageKind(bookZip); k != "xlsx" {
			return nil, refuse("file.inner_not_workbook", "File", r.fileName)
		}
	}

	wb, err := r.book.readWorkbook()
	if err != nil {
		return nil, refuse("file.workbook_damaged", "File", r.fileName, "Detail", err.Error())
	}
	sh, err := pickSheet(wb.sheets, opts.Sheet)
	if err != nil {
		return nil, err
	}
	r.sheet = sh.Name
	if !r.book.has(sh.Part) {
		return nil, refuse("file.sheet_missing", "Sheet", sh.Name)
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
		return nil, refuse("file.sheet_unreadable", "Sheet", sh.Name, "Detail", err.Error())
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
		return nil, refuse("file.too_many_merges", "Sheet", sh.Name, "File", r.fileName, "Max", itoa(maxMerges))
	}
	if err != nil {
		return nil, refuse("file.merges_unreadable", "Sheet", sh.Name, "Detail", err.Error())
	}
	r.ranges = merges
	r.merges = newMergeTracker(merges, r.headerRow, len(r.headers))
	if err := r.countRows(sh.Part); err != nil {
		return nil, err
	}
	if col, ok := r.colOf[fieldLicense]; ok {
		if r.pictures, err = indexPictures(r.book, sh.Part, r.headerRow, col+1); err != nil {
			return nil, refuse("file.pictures_unreadable", "File", r.fileName, "Detail", err.Error())
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
		return refuse("file.sheet_unreadable", "Sheet", r.sheet, "Detail", err.Error())
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
	return refuse("file.too_many_rows", "Sheet", r.sheet, "File", r.fileName, "Max", itoa(r.opts.MaxRows))
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
		return refuse("file.text_unopenable", "File", r.fileName, "Detail", err.Error())
	}
	defer rc.Close()
	r.sst, err = readSST(rc, sstLimits{maxStrings: limit, maxString: r.opts.MaxRowText + 1}, r.tmpDir)
	var many *errTooManyStrings
	switch {
	case errors.As(err, &many):
		if many.declared {
			return refuse("file.strings_declared", "File", r.fileName, "Count", itoa(many.n), "Max", itoa(limit))
		}
		return refuse("file.too_many_strings", "File", r.fileName, "Max", itoa(limit))
	case err != nil:
		return refuse("file.text_unreadable", "File", r.fileName, "Detail", err.Error())
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
			return nil, "", refuse("file.zip_in_zip", "File", fileName, "Zip", zips[0].Name)
		}
		return nil, "", refuse("file.no_workbook", "File", fileName)
	case 1:
	default:
		var names []string
		for _, b := range books {
			names = append(names, b.Name)
		}
		sort.Strings(names)
		shown, more := listParams(names)
		return nil, "", refuse("file.many_workbooks", "File", fileName, "Count", itoa(len(books)), "Names", shown, "More", more)
	}
	b := books[0]
	if b.UncompressedSize64 > uint64(opts.MaxFileSize) {
		return nil, "", refuse("file.inner_too_large", "Inner", b.Name, "File", fileName, "Size", mib(int64(b.UncompressedSize64)), "Max", mib(opts.MaxFileSize))
	}
	src, err := b.Open()
	if err != nil {
		return nil, "", refuse("file.inner_unpack", "File", fileName, "Inner", b.Name, "Detail", err.Error())
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
		return nil, "", refuse("file.inner_unpack", "File", fileName, "Inner", b.Name, "Detail", err.Error())
	}
	if head, _, err := hashFile(dst); err != nil || !bytes.HasPrefix(head, magicZip) {
		return nil, "", refuse("file.inner_invalid", "Inner", b.Name, "File", fileName)
	}
	inner, err := openZip(dst, fileName, b.Name, opts.MaxUnzipSize)
	if err != nil {
		var fe *FileError
		if errors.As(err, &fe) && fe.Code == "file.zip_damaged" {
			return nil, "", refuse("file.inner_invalid", "Inner", b.Name, "File", fileName)
		}
		return nil, "", err
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
	shown, more := listParams(names)
	if want != "" {
		for _, exact := range []bool{true, false} {
			for _, s := range sheets {
				if (exact && s.Name == want) || (!exact && strings.EqualFold(s.Name, want)) {
					if s.Kind != "worksheet" {
						return s, refuse("file.not_worksheet", "Sheet", s.Name, "Kind", s.Kind, "Names", shown, "More", more)
					}
					return s, nil
				}
			}
		}
		if len(names) == 0 {
			return sheetInfo{}, refuse("file.no_worksheets", "Sheet", want)
		}
		return sheetInfo{}, refuse("file.no_such_sheet", "Sheet", want, "Names", shown, "More", more)
	}
	for _, s := range sheets {
		if s.Kind == "worksheet" && !s.Hidden {
			return s, nil
		}
	}
	return sheetInfo{}, refuse("file.no_visible_sheet")
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
