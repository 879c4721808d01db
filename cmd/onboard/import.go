package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/importer"
	"github.com/ess-onboard/onboard/repository"
)

func init() {
	register(command{name: "import", summary: "import a spreadsheet (.xlsx or .zip) and queue its companies for onboarding", run: runImport})
}

const importDescription = `
Reads FILE (an .xlsx workbook, or a .zip holding one .xlsx and the license
images it names), stores every row in one transaction, then queues the
organizations that are new or whose data changed for syncing. Rows with
mistakes are rejected one by one, with reasons; they do not stop the others.
An organization whose data did not change is left as it is.

The whole file belongs to one channel application: --app-id, or ESS_APP_ID.
Pending database migrations are applied first (the database itself must
exist: see 'onboard migrate').

Prints the batch id and counts, then each rejection as "row R, column C:
reason" and each warning. With --json, prints exactly one JSON object:
  {"batch_id": 12, "rows": 10, "accepted": 8, "rejected": 2, "enqueued": 7,
   "unchanged": 1, "rejections": [{"row": 4, "column": "...", "field": "...",
   "reason": "..."}], "warnings": [{"row": 3, "field": "...", "message": "..."}]}
(batch_id is null for --dry-run), or {"error": "..."} when the file is refused.
"enqueued" counts the organizations whose sync is now due: it is recorded in
the same transaction as the rows, and the workers take it from there (Redis
need not be reachable for an import).

A file is refused, and nothing of it stored, when it is larger than
--max-size, expands beyond --max-expanded when unzipped, holds more than
--max-rows data rows, or has a header row wider than --max-columns; a row
whose cells hold more than --max-row-text bytes is rejected (README.md,
"Limits", lists every limit).

Exit status: 0 when the file was processed (even with rejected rows), 1 when
the file was refused or Postgres could not be reached, 2 for
a wrong command line.`

type importFlags struct {
	appID    string
	images   string
	sheet    string
	dryRun   bool
	json     bool
	maxSize  int64
	limits   limitFlags
	filePath string
}

// limitFlags are the limits of a file other than its size, shared by
// import and serve.
type limitFlags struct {
	maxExpanded int64
	maxRows     int
	maxColumns  int
	maxRowText  int
}

func (l *limitFlags) register(fs *flag.FlagSet) {
	fs.Int64Var(&l.maxExpanded, "max-expanded", importer.DefaultMaxUnzipSize, "refuse files whose contents expand beyond this many bytes when unzipped")
	fs.IntVar(&l.maxRows, "max-rows", importer.DefaultMaxRows, "refuse sheets with more data rows")
	fs.IntVar(&l.maxColumns, "max-columns", importer.DefaultMaxColumns, "refuse header rows spanning more columns (at most 16384)")
	fs.IntVar(&l.maxRowText, "max-row-text", importer.DefaultMaxRowText, "reject rows whose cells hold more bytes of text")
}

// check reports a limit that is not a positive number.
func (l *limitFlags) check(cmd string) error {
	switch {
	case l.maxExpanded <= 0:
		return usagef("%s: --max-expanded must be a positive number of bytes", cmd)
	case l.maxRows <= 0:
		return usagef("%s: --max-rows must be a positive number of rows", cmd)
	case l.maxColumns <= 0 || l.maxColumns > 16384:
		return usagef("%s: --max-columns must be a number of columns from 1 to 16384", cmd)
	case l.maxRowText <= 0:
		return usagef("%s: --max-row-text must be a positive number of bytes", cmd)
	}
	return nil
}

// apply sets the limits in o.
func (l *limitFlags) apply(o importer.Options) importer.Options {
	o.MaxUnzipSize, o.MaxRows, o.MaxColumns, o.MaxRowText = l.maxExpanded, l.maxRows, l.maxColumns, l.maxRowText
	return o
}

func runImport(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "import", "import FILE [flags]", importDescription)
	var f importFlags
	fs.StringVar(&f.appID, "app-id", "", "channel application the file belongs to (default $ESS_APP_ID)")
	fs.StringVar(&f.images, "images", "", "folder in which BusinessLicense file names are looked up")
	fs.StringVar(&f.sheet, "sheet", "", "sheet to read (default the first visible worksheet)")
	fs.BoolVar(&f.dryRun, "dry-run", false, "check and count everything, then store nothing and queue nothing")
	fs.BoolVar(&f.json, "json", false, "print one JSON object instead of text")
	fs.Int64Var(&f.maxSize, "max-size", importer.DefaultMaxFileSize, "refuse files larger than this many bytes")
	f.limits.register(fs)
	files, err := parseInterspersed(env, fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(files) == 0:
		return usagef("import: no FILE given (see 'onboard import --help')")
	case len(files) > 1:
		return usagef("import: one FILE at a time, got %d (see 'onboard import --help')", len(files))
	case f.maxSize <= 0:
		return usagef("import: --max-size must be a positive number of bytes")
	}
	if err := f.limits.check("import"); err != nil {
		return err
	}
	f.filePath = files[0]
	cfg, err := loadConfig(env.Getenv)
	if err != nil {
		return err
	}
	if f.appID == "" {
		f.appID = cfg.AppID
	}
	if f.appID == "" {
		return usagef("import: no application id: give --app-id or set ESS_APP_ID")
	}

	out, err := importFile(ctx, env, cfg, f)
	if f.json {
		enc := json.NewEncoder(env.Stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if encErr := enc.Encode(jsonOf(out, err)); encErr != nil {
			return encErr
		}
		if err != nil {
			return exitErr{exitFailure}
		}
		return nil
	}
	if out != nil {
		printImport(env.Stdout, out)
	}
	return err
}

// parseInterspersed parses flags given before, between and after the
// positional arguments, and returns the positional ones.
func parseInterspersed(env *Env, fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(env, fs, args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(pos, rest...), nil // everything after -- is positional
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// importOutput is what an import did, for printing.
type importOutput struct {
	res    *repository.ImportResult
	dryRun bool
}

// importJSON is the --json object.
type importJSON struct {
	BatchID    *int64               `json:"batch_id"` // null for a dry run
	Rows       int                  `json:"rows"`
	Accepted   int                  `json:"accepted"`
	Rejected   int                  `json:"rejected"`
	Enqueued   int                  `json:"enqueued"`
	Unchanged  int                  `json:"unchanged"`
	Rejections []onboard.RowError   `json:"rejections"`
	Warnings   []onboard.RowWarning `json:"warnings"`
}

// jsonOf returns the --json object for out and err: {"error": ...} alone
// when nothing was stored.
func jsonOf(out *importOutput, err error) any {
	if out == nil {
		return struct {
			Error string `json:"error"`
		}{err.Error()}
	}
	r := out.res
	j := importJSON{Rows: r.Rows, Accepted: r.Accepted, Rejected: r.Rejected, Enqueued: r.Enqueued,
		Unchanged: r.Unchanged, Rejections: r.Rejections, Warnings: r.Warnings}
	if !out.dryRun {
		j.BatchID = &r.BatchID
	}
	if j.Rejections == nil {
		j.Rejections = []onboard.RowError{}
	}
	if j.Warnings == nil {
		j.Warnings = []onboard.RowWarning{}
	}
	return j
}

// importFile does the work of 'onboard import'. It returns a nil output when
// the file was refused before anything was stored.
func importFile(ctx context.Context, env *Env, cfg Config, f importFlags) (*importOutput, error) {
	rd, err := importer.Open(f.filePath, f.limits.apply(importer.Options{Sheet: f.sheet, ImagesDir: f.images, MaxFileSize: f.maxSize}))
	if err != nil {
		return nil, refused(f.filePath, err)
	}
	defer rd.Close()

	store, err := openMigratedStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer store.Close()

	var bar *progressbar.ProgressBar
	var hooks importHooks
	if env.IsTerminal && !f.json {
		bar = newBar(env, rd.EstimatedRows(), "reading "+filepath.Base(f.filePath))
		hooks.reading = func(n int) { setBar(bar, n) }
		hooks.readDone = func() { _ = bar.Finish(); fmt.Fprintln(env.Stderr) }
	}
	out, err := storeAndQueue(ctx, store, rd, repository.ImportParams{
		AppID:      f.appID,
		FileName:   rd.FileName(),
		FileSHA256: rd.SHA256(),
		Sheet:      rd.Sheet(),
		HeaderRow:  rd.HeaderRow(),
		Headers:    rd.Headers(),
		DryRun:     f.dryRun,
	}, hooks)
	if err != nil && out == nil {
		var fe *importer.FileError
		if errors.As(err, &fe) {
			return nil, refused(f.filePath, err)
		}
	}
	return out, err
}

// importHooks report an import's progress; either may be nil.
type importHooks struct {
	reading  func(rows int) // rows read so far
	readDone func()         // the batch is stored
}

// storeAndQueue stores the rows of rd as one batch in one transaction,
// the sync of every new and changed organization recorded as due work in
// the same transaction: once it returns, the workers' dispatcher hands that
// work out (Redis need not even be up). It is the one import path of the
// command line, the upload form and the demo. A nil output means nothing
// was stored.
func storeAndQueue(ctx context.Context, store *repository.Store, rd *importer.Reader, p repository.ImportParams, h importHooks) (*importOutput, error) {
	res, err := store.Import(ctx, p, rd, h.reading)
	if h.readDone != nil {
		h.readDone()
	}
	if err != nil {
		return nil, err
	}
	return &importOutput{res: res, dryRun: p.DryRun}, nil
}

// refused describes a file that was not imported: a refusal in the words
// the upload page uses too, or the error that kept it from being read.
func refused(path string, err error) error {
	var fe *importer.FileError
	if errors.As(err, &fe) {
		return refusalError{msg: importer.Refusal(filepath.Base(path), fe), err: err}
	}
	return fmt.Errorf("%s refused: %w", filepath.Base(path), err)
}

// refusalError is a refused file's message, wrapping the refusal.
type refusalError struct {
	msg string
	err error
}

func (e refusalError) Error() string { return e.msg }
func (e refusalError) Unwrap() error { return e.err }

// openMigratedStore connects to Postgres and applies pending migrations.
func openMigratedStore(ctx context.Context, cfg Config) (*repository.Store, error) {
	store, err := repository.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	if _, err := store.Migrate(ctx); err != nil {
		store.Close()
		return nil, fmt.Errorf("apply migrations: %w", err)
	}
	return store, nil
}

func newBar(env *Env, max int, what string) *progressbar.ProgressBar {
	if max <= 0 {
		max = -1 // unknown: a spinner
	}
	return progressbar.NewOptions(max,
		progressbar.OptionSetWriter(env.Stderr),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
	)
}

func setBar(bar *progressbar.ProgressBar, n int) {
	if m := bar.GetMax(); m > 0 && n > m {
		bar.ChangeMax(n)
	}
	_ = bar.Set(n)
}

func printImport(w io.Writer, o *importOutput) {
	r := o.res
	if o.dryRun {
		fmt.Fprintln(w, "dry run: nothing was stored or queued")
	} else {
		fmt.Fprintf(w, "batch:     %d\n", r.BatchID)
	}
	fmt.Fprintf(w, "rows:      %d\naccepted:  %d\nrejected:  %d\nenqueued:  %d\nunchanged: %d\n",
		r.Rows, r.Accepted, r.Rejected, r.Enqueued, r.Unchanged)
	if len(r.Rejections) > 0 {
		fmt.Fprintln(w, "rejections:")
		for _, x := range r.Rejections {
			fmt.Fprintf(w, "  row %d, column %s: %s\n", x.Row, x.Column, x.Reason)
		}
	}
	if len(r.Warnings) > 0 {
		fmt.Fprintln(w, "warnings:")
		for _, x := range r.Warnings {
			fmt.Fprintf(w, "  row %d, %s: %s\n", x.Row, x.Field, x.Message)
		}
	}
}
