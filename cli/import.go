package cli

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
	"github.com/ess-onboard/onboard/intake"
	"github.com/ess-onboard/onboard/locale"
	"github.com/ess-onboard/onboard/results"
)

func init() {
	register(command{name: "import", summary: "import a spreadsheet (.xlsx or .zip) and queue its companies for onboarding", run: runImport})
}

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
func (l *limitFlags) check(p *locale.Printer, cmd string) error {
	switch {
	case l.maxExpanded <= 0:
		return usageT(p, "cli.limits.max_expanded", "Cmd", cmd)
	case l.maxRows <= 0:
		return usageT(p, "cli.limits.max_rows", "Cmd", cmd)
	case l.maxColumns <= 0 || l.maxColumns > 16384:
		return usageT(p, "cli.limits.max_columns", "Cmd", cmd)
	case l.maxRowText <= 0:
		return usageT(p, "cli.limits.max_row_text", "Cmd", cmd)
	}
	return nil
}

// of returns the limits, with maxSize the file size limit (0: the
// importer's default).
func (l *limitFlags) of(maxSize int64) intake.Limits {
	return intake.Limits{MaxFileSize: maxSize, MaxUnzipSize: l.maxExpanded, MaxRows: l.maxRows, MaxColumns: l.maxColumns, MaxRowText: l.maxRowText}
}

func runImport(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "import", "import FILE [flags]", "")
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
	pr := env.printer()
	switch {
	case len(files) == 0:
		return usageT(pr, "cli.import.no_file")
	case len(files) > 1:
		return usageT(pr, "cli.import.one_file", "Count", len(files))
	case f.maxSize <= 0:
		return usageT(pr, "cli.import.max_size")
	}
	if err := f.limits.check(pr, "import"); err != nil {
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
		return usageT(pr, "cli.import.no_app_id")
	}
	out, err := importFile(ctx, env, cfg, f)
	if f.json {
		enc := json.NewEncoder(env.Stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if encErr := enc.Encode(jsonOf(pr, out, err)); encErr != nil {
			return encErr
		}
		if err != nil {
			return exitErr{exitFailure}
		}
		return nil
	}
	if out != nil {
		printImportIn(env.Stdout, pr, out)
	}
	return importError(pr, err)
}

// importError is err as the reader reads it: a refusal in their language.
func importError(p *locale.Printer, err error) error {
	var re *intake.RefusedError
	if err == nil || !errors.As(err, &re) {
		return err
	}
	var fe *importer.FileError
	if errors.As(re.Err, &fe) {
		return &textErr{msg: importer.RefusalIn(p, re.FileName, fe), err: err}
	}
	return errorT(p, re.Err, "cli.import.unreadable", "File", re.FileName)
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

// importJSON is the --json object.
type importJSON struct {
	BatchID    *int64             `json:"batch_id"` // null for a dry run
	Rows       int                `json:"rows"`
	Accepted   int                `json:"accepted"`
	Rejected   int                `json:"rejected"`
	Enqueued   int                `json:"enqueued"`
	Unchanged  int                `json:"unchanged"`
	Rejections []onboard.RowError `json:"rejections"` // Reason in the chosen language
	Warnings   []warningJSON      `json:"warnings"`
}

// warningJSON is a warning with its code and parameters; message and
// reason are both its text in the chosen language.
type warningJSON struct {
	Row     int               `json:"row"`
	Field   string            `json:"field"`
	Code    string            `json:"code"`
	Params  map[string]string `json:"params"`
	Message string            `json:"message"`
	Reason  string            `json:"reason"`
}

// errorJSON is the --json object of a file that was not imported; code and
// params are those of the refusal, when the file itself was at fault.
type errorJSON struct {
	Error  string            `json:"error"`
	Code   string            `json:"code,omitempty"`
	Params map[string]string `json:"params,omitempty"`
}

// jsonOf returns the --json object for r and err: {"error": ...} alone
// when nothing was stored.
func jsonOf(p *locale.Printer, r *intake.Result, err error) any {
	if r == nil {
		j := errorJSON{Error: importError(p, err).Error()}
		var fe *importer.FileError
		if errors.As(err, &fe) {
			j.Code, j.Params = fe.Code, nonNil(fe.Params)
		}
		return j
	}
	j := importJSON{Rows: r.Rows, Accepted: r.Accepted, Rejected: r.Rejected, Enqueued: r.Enqueued,
		Unchanged: r.Unchanged, Rejections: []onboard.RowError{}, Warnings: []warningJSON{}}
	if !r.DryRun {
		j.BatchID = &r.BatchID
	}
	for _, e := range r.Rejections {
		e.Params, e.Reason = nonNil(e.Params), p.Reason(e.Code, e.Params, e.Reason)
		j.Rejections = append(j.Rejections, e)
	}
	for _, w := range r.Warnings {
		text := p.Reason(w.Code, w.Params, w.Message)
		j.Warnings = append(j.Warnings, warningJSON{Row: w.Row, Field: w.Field, Code: w.Code,
			Params: nonNil(w.Params), Message: text, Reason: text})
	}
	return j
}

// nonNil is m, or an empty map for nil: params print as {}, never null.
func nonNil(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// importFile does the work of 'onboard import'. It returns a nil result
// when nothing was stored.
func importFile(ctx context.Context, env *Env, cfg Config, f importFlags) (*intake.Result, error) {
	p, err := openParts(ctx, cfg, shared{}, nil, needStore)
	if err != nil {
		return nil, err
	}
	defer p.Close()
	req := intake.Request{Path: f.filePath, AppID: f.appID, Sheet: f.sheet, ImagesDir: f.images, DryRun: f.dryRun}
	if env.IsTerminal && !f.json {
		req.Progress = progressBar(env, env.printer().T("cli.import.reading", "File", filepath.Base(f.filePath)))
	}
	return p.intake(f.limits.of(f.maxSize)).Import(ctx, req)
}

// progressBar shows an import's progress on stderr.
func progressBar(env *Env, what string) intake.Progress {
	var bar *progressbar.ProgressBar
	return intake.Progress{
		Opened: func(n int) { bar = newBar(env, n, what) },
		Read:   func(n int) { setBar(bar, n) },
		Stored: func() { _ = bar.Finish(); fmt.Fprintln(env.Stderr) },
	}
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

// printImportIn writes the outcome of an import in the language of p.
func printImportIn(w io.Writer, p *locale.Printer, r *intake.Result) {
	if r.DryRun {
		fmt.Fprintln(w, p.T("cli.import.dry_run"))
	} else {
		fmt.Fprintln(w, p.T("cli.import.batch", "Batch", r.BatchID))
	}
	fmt.Fprintln(w, p.T("cli.import.counts", "Rows", p.Int(r.Rows), "Accepted", p.Int(r.Accepted),
		"Rejected", p.Int(r.Rejected), "Enqueued", p.Int(r.Enqueued), "Unchanged", p.Int(r.Unchanged)))
	if len(r.Rejections) > 0 {
		fmt.Fprintln(w, p.T("cli.import.rejections"))
		for _, x := range r.Rejections {
			fmt.Fprintln(w, "  "+p.T("cli.import.rejection", "Row", x.Row, "Column", x.Column,
				"Reason", p.Reason(x.Code, x.Params, x.Reason)))
		}
	}
	if len(r.Warnings) > 0 {
		fmt.Fprintln(w, p.T("cli.import.warnings"))
		for _, x := range r.Warnings {
			fmt.Fprintln(w, "  "+p.T("cli.import.warning", "Row", x.Row, "Field", results.FieldName(p, x.Field),
				"Message", p.Reason(x.Code, x.Params, x.Message)))
		}
	}
}
