package cli

import (
	"context"
	"fmt"

	"github.com/ess-onboard/onboard/importer"
)

func init() {
	register(command{name: "template", summary: "write an empty spreadsheet to fill in", run: runTemplate})
}

func runTemplate(_ context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "template", "template [-o FILE.xlsx]", help("template"))
	out := fs.String("o", "onboard-template.xlsx", "file to write")
	if err := parseFlags(env, fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("template: unexpected argument %q (see 'onboard template --help')", fs.Arg(0))
	}
	if *out == "" {
		return usagef("template: -o needs a file name")
	}
	if err := writeOutputFile(env, *out, importer.WriteTemplate); err != nil {
		return fmt.Errorf("write the template: %w", err)
	}
	if *out != "-" {
		fmt.Fprintf(env.Stderr, "wrote %s\n", *out)
	}
	return nil
}
