package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ess-onboard/onboard/locale"
	"github.com/ess-onboard/onboard/repository"
	"github.com/ess-onboard/onboard/results"
)

func init() {
	register(command{name: "export", summary: "write the results file (.xlsx) of an imported batch", run: runExport})
}

func runExport(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "export", "export --batch ID [-o FILE.xlsx]", "")
	batchID := fs.Int64("batch", 0, "id of the batch to export (as 'onboard import' printed it)")
	out := fs.String("o", "", "file to write (default batch-ID-results.xlsx in the current folder)")
	if err := parseFlags(env, fs, args); err != nil {
		return err
	}
	pr := env.printer()
	if fs.NArg() > 0 {
		return unexpectedArg(pr, "export", fs.Arg(0))
	}
	if *batchID <= 0 {
		return usageT(pr, "cli.export.no_batch")
	}
	if *out == "" {
		*out = fmt.Sprintf("batch-%d-results.xlsx", *batchID)
	}
	cfg, err := loadConfig(env.Getenv)
	if err != nil {
		return err
	}
	p, err := openParts(ctx, cfg, shared{}, nil, needStore)
	if err != nil {
		return err
	}
	defer p.Close()
	b, err := p.store.Batch(ctx, *batchID)
	if errors.Is(err, repository.ErrNotFound) {
		return errorT(pr, nil, "cli.export.not_found", "Batch", *batchID)
	}
	if err != nil {
		return err
	}
	opts := results.Options{Lang: pr.Lang(), Zone: cfg.zoneFor(pr.Lang())}
	// The results file holds the companies' data: only its owner may read it.
	write := func(w io.Writer) error { return writeResults(ctx, p.store, w, b, opts) }
	if err := writeOutputFileMode(env, *out, 0o600, write); err != nil {
		return errorT(pr, err, "cli.export.write_failed", "Batch", b.ID)
	}
	if *out != "-" {
		fmt.Fprintln(env.Stderr, pr.N("cli.export.wrote", b.Rows, "File", *out, "Batch", b.ID, "Name", b.FileName))
	}
	return nil
}

// unexpectedArg is the usage error of a command given an argument it takes none of.
func unexpectedArg(p *locale.Printer, cmd, arg string) error {
	return usageT(p, "cli.unexpected_argument", "Cmd", cmd, "Arg", fmt.Sprintf("%q", arg))
}

// writeOutputFile writes a file through write: to standard output for "-",
// otherwise to a temporary file next to path renamed into place, so a
// failure leaves no half-written file behind.
func writeOutputFile(env *Env, path string, write func(io.Writer) error) error {
	return writeOutputFileMode(env, path, 0o644, write)
}

// writeOutputFileMode is writeOutputFile giving the file mode perm.
func writeOutputFileMode(env *Env, path string, perm os.FileMode, write func(io.Writer) error) error {
	if path == "-" {
		return write(env.Stdout)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".onboard-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), perm); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
