// Package importer reads onboarding spreadsheets (.xlsx, or .zip holding one
// .xlsx and license images) by the contract in spreadsheet-format.md. It is
// pure: a file goes in, rows with their normalised data, rejections and
// warnings come out. It speaks no SQL, Redis or network.
package importer

import (
	"time"

	"github.com/ess-onboard/onboard"
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
	// filled in by the implementation
}

// Open opens an .xlsx or .zip file and finds its header row. A refused file
// returns a *FileError.
func Open(path string, opts Options) (*Reader, error) {
	panic("not implemented")
}

// FileName is the base name of the opened file.
func (r *Reader) FileName() string { panic("not implemented") }

// SHA256 is the hex SHA-256 of the uploaded file's bytes.
func (r *Reader) SHA256() string { panic("not implemented") }

// Sheet is the name of the sheet being read.
func (r *Reader) Sheet() string { panic("not implemented") }

// HeaderRow is the 1-based row number of the header row.
func (r *Reader) HeaderRow() int { panic("not implemented") }

// Headers are the header row's cells as written, in file order (trimmed).
// Row.Cells has one entry per header.
func (r *Reader) Headers() []string { panic("not implemented") }

// EstimatedRows is the number of data rows the sheet's dimension suggests
// (for progress bars); 0 when unknown.
func (r *Reader) EstimatedRows() int { panic("not implemented") }

// Next returns the next non-blank data row, or io.EOF after the last one. A
// *FileError means the file turned out unreadable part-way.
func (r *Reader) Next() (*onboard.Row, error) { panic("not implemented") }

// Close releases the file and any temporary files.
func (r *Reader) Close() error { panic("not implemented") }
