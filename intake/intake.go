// Package intake is the one way a spreadsheet becomes work. It opens a file
// (an .xlsx workbook, or a .zip holding one .xlsx and the license images it
// names), checks every row, stores the file as one batch in one transaction
// with the sync of every new or changed company recorded as due work, and
// says what it did. The command line ('onboard import'), the dashboard's
// upload form and the demo all import through it, so a file gives the same
// batch, rejections, warnings and due work whichever way it came in.
//
// Nothing here speaks to Redis: once Import returns, the workers' dispatcher
// hands the due work to the queue (package jobs).
package intake

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/ess-onboard/onboard/importer"
	"github.com/ess-onboard/onboard/repository"
)

// Store keeps an imported file; *repository.Store satisfies it. Import
// stores every row of rows in one transaction (nothing when rows or the
// database fail), with the sync of each new or changed organization due.
type Store interface {
	Import(ctx context.Context, p repository.ImportParams, rows repository.RowSource, progress func(n int)) (*repository.ImportResult, error)
}

// Limits bound what a file may hold (README.md, "Limits"). A zero field
// takes the importer's default.
type Limits struct {
	MaxFileSize  int64 // refuse larger files
	MaxUnzipSize int64 // refuse files whose zip entries expand beyond this in total
	MaxRows      int   // refuse sheets with more data rows
	MaxColumns   int   // refuse header rows spanning more columns
	MaxRowText   int   // reject rows whose cells hold more bytes of text
}

// Request is one file to import.
type Request struct {
	// Path is the file on disk.
	Path string
	// FileName is the name the batch is recorded and the file is reported
	// under; "" means the base name of Path. An uploaded file is stored
	// under a name of the server's choosing and called by the name its
	// user gave it.
	FileName string
	// AppID is the channel application the whole file belongs to.
	AppID string
	// Sheet is the sheet to read; "" means the first visible worksheet.
	Sheet string
	// ImagesDir is the folder BusinessLicense file names are looked up in.
	ImagesDir string
	// MaxFileSize, when positive, replaces the intake's limit on the file's
	// size (the upload form's own limit).
	MaxFileSize int64
	// DryRun checks and counts everything, then stores nothing.
	DryRun bool
	// Progress reports how far the import got; its functions may be nil.
	Progress Progress
}

// Progress reports an import's progress. Every field may be nil.
type Progress struct {
	// Opened is called once the file is open and its header found, with
	// the number of data rows it claims to hold (0 when unknown).
	Opened func(estimatedRows int)
	// Read is called with the number of rows read so far.
	Read func(rows int)
	// Stored is called when the store is done with the rows, whether it
	// kept them or not.
	Stored func()
}

// Result is what an import stored (or, for a dry run, would have).
type Result struct {
	repository.ImportResult
	// DryRun says nothing was stored: BatchID is 0.
	DryRun bool
}

// Intake imports files into one store under one set of limits. It is safe
// for concurrent use.
type Intake struct {
	store  Store
	limits Limits
}

// New returns an Intake storing into store.
func New(store Store, limits Limits) *Intake {
	return &Intake{store: store, limits: limits}
}

// Import opens the file, checks its rows and stores them as one batch, the
// sync of each new or changed organization due, in one transaction. A file
// refused before anything was stored returns a *RefusedError (wrapping the
// *importer.FileError when the file itself is at fault); any other error
// (the database) stores nothing either.
func (in *Intake) Import(ctx context.Context, req Request) (*Result, error) {
	name := req.FileName
	if name == "" {
		name = filepath.Base(req.Path)
	}
	rd, err := importer.Open(req.Path, in.options(req))
	if err != nil {
		return nil, &RefusedError{FileName: name, Err: err}
	}
	defer rd.Close()
	if req.Progress.Opened != nil {
		req.Progress.Opened(rd.EstimatedRows())
	}
	res, err := in.store.Import(ctx, repository.ImportParams{
		AppID:      req.AppID,
		FileName:   rd.FileName(),
		FileSHA256: rd.SHA256(),
		Sheet:      rd.Sheet(),
		HeaderRow:  rd.HeaderRow(),
		Headers:    rd.Headers(),
		DryRun:     req.DryRun,
	}, rd, req.Progress.Read)
	if req.Progress.Stored != nil {
		req.Progress.Stored()
	}
	var fe *importer.FileError
	switch {
	case errors.As(err, &fe):
		return nil, &RefusedError{FileName: name, Err: err}
	case err != nil:
		return nil, err
	}
	return &Result{ImportResult: *res, DryRun: req.DryRun}, nil
}

func (in *Intake) options(req Request) importer.Options {
	l := in.limits
	if req.MaxFileSize > 0 {
		l.MaxFileSize = req.MaxFileSize
	}
	return importer.Options{Sheet: req.Sheet, ImagesDir: req.ImagesDir, FileName: req.FileName,
		MaxFileSize: l.MaxFileSize, MaxUnzipSize: l.MaxUnzipSize, MaxRows: l.MaxRows,
		MaxColumns: l.MaxColumns, MaxRowText: l.MaxRowText}
}

// RefusedError is a file that was not imported; nothing of it was stored.
// Its message is the refusal in the words the command line, its JSON and
// the upload page share (importer.Refusal) when the file itself is at
// fault, and says why it could not be read otherwise.
type RefusedError struct {
	FileName string // the name the file is reported under
	Err      error  // a *importer.FileError, or what kept the file from being read
}

func (e *RefusedError) Error() string {
	var fe *importer.FileError
	if errors.As(e.Err, &fe) {
		return importer.Refusal(e.FileName, fe)
	}
	return fmt.Sprintf("%s refused: %v", e.FileName, e.Err)
}

func (e *RefusedError) Unwrap() error { return e.Err }
