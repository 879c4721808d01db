package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/ess-onboard/onboard/importer"
)

func init() {
	register(command{name: "template", summary: "write an empty spreadsheet to fill in", run: runTemplate})
}

func runTemplate(_ context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "template", "template [-o FILE.xlsx]", "")
	out := fs.String("o", "onboard-template.xlsx", "file to write")
	if err := parseFlags(env, fs, args); err != nil {
		return err
	}
	pr := env.printer()
	if fs.NArg() > 0 {
		return unexpectedArg(pr, "template", fs.Arg(0))
	}
	if *out == "" {
		return usageT(pr, "cli.no_output_name", "Cmd", "template")
	}
	write := func(w io.Writer) error { return importer.WriteTemplateIn(w, pr.Lang()) }
	if err := writeOutputFile(env, *out, write); err != nil {
		return errorT(pr, err, "cli.template.write_failed")
	}
	if *out != "-" {
		fmt.Fprintln(env.Stderr, pr.T("cli.wrote", "File", *out))
	}
	return nil
}
