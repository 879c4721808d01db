// Package importer reads onboarding spreadsheets (.xlsx, or .zip holding one
// .xlsx and license images) by the contract in spreadsheet-format.md. It is
// pure: a file goes in, rows with their normalised data, rejections and
// warnings come out. It speaks no SQL, Redis or network.
//
// Whatever a file holds, reading it costs time in proportion to its size
// and memory within a fixed bound. The package is read part by part, after
// its table of contents, entry names and expanded size are checked. The
// sheet and its shared strings are streamed by the project's own tokenizer,
// which keeps only the columns of the header row and a row's worth of text;
// the shared strings are kept compactly, spilling to a temporary file when
// large; numbers are shown through excelize's number formats one cell at a
// time. Pictures are located once from the drawing and rich-data parts and
// read from the package only when their row is read. Limits (file size,
// expansion, rows, columns, text per row) are in Options.
package importer

import (
	"archive/zip"
	"time"

	"github.com/ess-onboard/onboard"
)

// Default limits of a file; Options change them.
const (
	// DefaultMaxFileSize is the largest file accepted.
	DefaultMaxFileSize = 200 << 20
	// DefaultMaxRows is how many data rows a sheet may hold.
	DefaultMaxRows = 1_000_000
	// DefaultMaxColumns is how many columns the header row may span, from
	// column A to its last heading: the contract's and the user's own, which
	// are kept for the results file.
	DefaultMaxColumns = 64
	// DefaultMaxRowText is how many bytes of text the cells of one row may
	// hold; a row with more is rejected, and stored cut to this size.
	DefaultMaxRowText = 16 << 10
)

// Options configure how a file is read. The zero value is usable; a zero
// limit means its default.
type Options struct {
	Sheet     string // sheet to read; "" means the first visible worksheet
	ImagesDir string // folder that BusinessLicense file names are looked up in
	// FileName is the name the file is called by in messages; "" means the
	// base name of the path opened. An uploaded file is stored under a name
	// of the server's choosing and called by the name the user gave it.
	FileName     string
	MaxFileSize  int64            // refuse larger files
	MaxUnzipSize int64            // refuse files whose zip entries expand beyond this in total (default DefaultMaxUnzipSize)
	MaxRows      int              // refuse sheets with more data rows
	MaxColumns   int              // refuse header rows spanning more columns (at most 16,384)
	MaxRowText   int              // reject rows whose cells hold more bytes of text
	Now          func() time.Time // clock for ID birth-date checks; nil means time.Now
}

// FileError means the whole file is refused; nothing of it may be stored.
// Code and Params are the refusal's stable code and parameters (rendered by
// package locale as "reason.<code>"); Reason is the English text.
type FileError struct {
	Code   string
	Params map[string]string
	Reason string
}

func (e *FileError) Error() string { return e.Reason }

// Refusal is the sentence a refused file is reported with, in the same
// words on the command line, in its JSON and on the upload page:
// "orgs.xlsx was refused: <reason>. Nothing was stored."
func Refusal(fileName string, e *FileError) string {
	return refusalSentence(english, fileName, e.Reason)
}

// Reader streams the data rows of one file. Its memory does not grow with
// the size of the file or the number of rows, beyond 20 bytes per distinct
// OpenId seen (for duplicate detection), 8 bytes per hidden row and the
// sheet's merged ranges (at most maxMerges), which the results file lays
// out again.
type Reader struct {
	opts     Options
	fileName string
	sha256   string
	tmpDir   string

	upload   *zip.ReadCloser // the uploaded .zip, when the upload is one
	book     *pkg            // the workbook's package, read part by part
	sst      *sstStore       // the shared strings, nil when there are none
	format   *formatter      // shows numbers as their cell formats say
	scan     *sheetScanner   // the sheet's rows and cells
	pictures *pictureIndex
	merges   *mergeTracker // nil when no merged range covers data rows
	ranges   []mergedRange // every merged range of the sheet, by first row
	hidden   []int         // the hidden rows read so far, ascending
	images   *imageFinder

	sheet     string
	headerRow int
	headers   []string
	fields    []string       // per header column: the field it stands for, or ""
	colOf     map[string]int // field -> 0-based header column
	estimated int

	seen    map[[16]byte]int32 // hash of an OpenId -> first row
	rows    int                // data rows returned
	picRows []int              // rows with a picture in the license column, ascending
	picNext int                // next index into picRows not yet passed
	peek    *rawRow            // a sheet row read but not yet returned
	lastRow int                // number of the last sheet row read
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

// Merges are the merged ranges the sheet declares, as A1 references such as
// "J3:J5", in order of their first rows: every one of them, in the title
// rows, the header row, the data rows and columns beyond the header alike,
// whether or not a row was warned about it. They are known once the file is
// open.
func (r *Reader) Merges() []string {
	out := make([]string, len(r.ranges))
	for i, m := range r.ranges {
		out[i] = m.ref()
	}
	return out
}

// HiddenRows are the 1-based numbers of the sheet's rows that are hidden (by
// hand or by a filter), ascending: the title rows and the header row among
// them, and the blank ones. Rows below the header are known as they are
// read: all of them once Next has returned io.EOF.
func (r *Reader) HiddenRows() []int { return append([]int(nil), r.hidden...) }

// EstimatedRows is the number of data rows the sheet's dimension suggests
// (for progress bars); 0 when unknown.
func (r *Reader) EstimatedRows() int { return r.estimated }

// Next returns the next non-blank data row, or io.EOF after the last one. A
// *FileError means the file turned out unreadable part-way.
func (r *Reader) Next() (*onboard.Row, error) { return r.next() }

// Close releases the file and any temporary files.
func (r *Reader) Close() error { return r.close() }
