package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/ess-onboard/onboard/importer"
	"github.com/ess-onboard/onboard/locale"
)

func init() {
	register(command{name: "template", summary: "write an empty spreadsheet to fill in", run: runTemplate})
	register(command{name: "sample", summary: "write a sample spreadsheet with valid rows and typical mistakes", run: runSample})
}

func runTemplate(_ context.Context, env *Env, args []string) error {
	return writeWorkbook(env, args, "template", "onboard-template.xlsx", importer.WriteTemplateIn,
		func(pr *locale.Printer, out string) string { return pr.T("cli.wrote", "File", out) })
}

func runSample(_ context.Context, env *Env, args []string) error {
	return writeWorkbook(env, args, "sample", "onboard-sample.xlsx", importer.WriteSampleIn,
		func(pr *locale.Printer, out string) string {
			return pr.T("cli.sample.wrote", "File", out,
				"Valid", pr.Int(importer.SampleAccepted), "Mistakes", pr.Int(importer.SampleRejected))
		})
}

// writeWorkbook is a command that writes one workbook (cmd: template or
// sample) in the chosen language to -o (default def, "-" for standard
// output), and says so with wrote.
func writeWorkbook(env *Env, args []string, cmd, def string, write func(io.Writer, string) error,
	wrote func(pr *locale.Printer, out string) string) error {
	fs := newFlagSet(env, cmd, cmd+" [-o FILE.xlsx]", "")
	out := fs.String("o", def, "file to write")
	if err := parseFlags(env, fs, args); err != nil {
		return err
	}
	pr := env.printer()
	if fs.NArg() > 0 {
		return unexpectedArg(pr, cmd, fs.Arg(0))
	}
	if *out == "" {
		return usageT(pr, "cli.no_output_name", "Cmd", cmd)
	}
	if err := writeOutputFile(env, *out, func(w io.Writer) error { return write(w, pr.Lang()) }); err != nil {
		return errorT(pr, err, "cli."+cmd+".write_failed")
	}
	if *out != "-" {
		fmt.Fprintln(env.Stderr, wrote(pr, *out))
	}
	return nil
}
