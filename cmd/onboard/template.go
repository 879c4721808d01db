package main

import (
	"context"
	"fmt"

	"github.com/ess-onboard/onboard/importer"
)

func init() {
	register(command{name: "template", summary: "write an empty spreadsheet to fill in", run: runTemplate})
}

const templateDescription = `
Writes an empty onboarding spreadsheet (.xlsx) to fill in: every column the
importer reads, with Chinese and English headers and a note on each,
identifier columns formatted as text so Excel keeps ID numbers intact,
drop-down lists for the certificate type and the services, and one example
row (replace or delete it before importing).

-o - writes the file to standard output.`

func runTemplate(_ context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "template", "template [-o FILE.xlsx]", templateDescription)
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
