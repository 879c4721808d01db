// Package importer reads onboarding spreadsheets (.xlsx, or .zip holding one
// .xlsx and license images) by the contract in spreadsheet-format.md. It is
// pure: a file goes in, rows with their normalised data, rejections and
// warnings come out. It speaks no SQL, Redis or network.
//
// The sheet is streamed twice side by side: excelize's row iterator gives
// each cell's displayed text, and a scanner over the same worksheet XML gives
// what the text hides (a number typed into an ID column, Excel's in-cell
// pictures, WPS's DISPIMG cells). Pictures are located once from the drawing
// and rich-data parts and read from the package only when their row is read;
// excelize itself is given a copy of the workbook without them, so it never
// holds images in memory.
package importer

import (
	"archive/zip"
	"time"

	"github.com/ess-onboard/onboard"
	"github.com/xuri/excelize/v2"
)

// DefaultMaxFileSize is the largest upload accepted unless configured.
const DefaultMaxFileSize = 200 << 20

// Options configure how a file is read. The zero value is usable.
type Options struct {
	Sheet        string           // sheet to read; "" means the first visible worksheet
	ImagesDir    string           // folder that BusinessLicense file names are looked up in
	MaxFileSize  int64            // refuse larger files; 0 means DefaultMaxFileSize
	MaxUnzipSize int64            // refuse workbooks that expand beyond this; 0 means a safe default
	Now          func() time.Time // clock for ID birth-date checks; nil means time.Now
}

// FileError means the whole file is refused; nothing of it may be stored.
type FileError struct {
	Reason string
}

func (e *FileError) Error() string { return e.Reason }

// Reader streams the data rows of one file. Memory does not grow with the
// number of rows (beyond the set of OpenIds seen, for duplicate detection).
type Reader struct {
	opts     Options
	fileName string
	sha256   string
	tmpDir   string

	upload   *zip.ReadCloser // the uploaded .zip, when the upload is one
	book     *pkg            // the workbook's package, read part by part
	xf       *excelize.File  // the workbook as excelize sees it (without media)
	rows     *excelize.Rows  // excelize's row iterator: displayed cell text
	scan     *sheetScanner   // the same sheet read beside it: cell types and pictures
	pictures *pictureIndex
	images   *imageFinder

	sheet     string
	headerRow int
	headers   []string
	fields    []string       // per header column: the field it stands for, or ""
	colOf     map[string]int // field -> 0-based header column
	estimated int

	seen    map[string]int // OpenId -> first row
	picRows []int          // rows with a picture in the license column, ascending
	picNext int            // next index into picRows not yet passed
	peek    *rawRow        // a sheet row read but not yet returned
	xrow    int            // row number excelize's iterator stands on
	eof     bool
	err     error
}

// Open opens an .xlsx or .zip file and finds its header row. A refused file
// returns a *FileError.
func Open(path string, opts Options) (*Reader, error) {
	return open(path, opts)
}

// FileName is the base name of the opened file.
func (r *Reader) FileName() string { return r.fileName }

// SHA256 is the hex SHA-256 of the uploaded file's bytes.
func (r *Reader) SHA256() string { return r.sha256 }

// Sheet is the name of the sheet being read.
func (r *Reader) Sheet() string { return r.sheet }

// HeaderRow is the 1-based row number of the header row.
func (r *Reader) HeaderRow() int { return r.headerRow }

// Headers are the header row's cells as written, in file order (trimmed).
// Row.Cells has one entry per header.
func (r *Reader) Headers() []string { return append([]string(nil), r.headers...) }

// EstimatedRows is the number of data rows the sheet's dimension suggests
// (for progress bars); 0 when unknown.
func (r *Reader) EstimatedRows() int { return r.estimated }

// Next returns the next non-blank data row, or io.EOF after the last one. A
// *FileError means the file turned out unreadable part-way.
func (r *Reader) Next() (*onboard.Row, error) { return r.next() }

// Close releases the file and any temporary files.
func (r *Reader) Close() error { return r.close() }
