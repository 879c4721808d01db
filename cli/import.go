package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/importer"
	"github.com/ess-onboard/onboard/intake"
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

// of returns the limits, with maxSize the file size limit (0: the
// importer's default).
func (l *limitFlags) of(maxSize int64) intake.Limits {
	return intake.Limits{MaxFileSize: maxSize, MaxUnzipSize: l.maxExpanded, MaxRows: l.maxRows, MaxColumns: l.maxColumns, MaxRowText: l.maxRowText}
}

func runImport(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "import", "import FILE [flags]", help("import"))
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

// jsonOf returns the --json object for r and err: {"error": ...} alone
// when nothing was stored.
func jsonOf(r *intake.Result, err error) any {
	if r == nil {
		return struct {
			Error string `json:"error"`
		}{err.Error()}
	}
	j := importJSON{Rows: r.Rows, Accepted: r.Accepted, Rejected: r.Rejected, Enqueued: r.Enqueued,
		Unchanged: r.Unchanged, Rejections: r.Rejections, Warnings: r.Warnings}
	if !r.DryRun {
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
		req.Progress = progressBar(env, "reading "+filepath.Base(f.filePath))
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

func printImport(w io.Writer, r *intake.Result) {
	if r.DryRun {
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
