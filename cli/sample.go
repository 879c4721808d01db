package cli

import (
	"context"
	"fmt"

	"github.com/ess-onboard/onboard/importer"
)

func init() {
	register(command{name: "sample", summary: "write a sample spreadsheet with valid rows and typical mistakes", run: runSample})
}

func runSample(_ context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "sample", "sample [-o FILE.xlsx]", help("sample"))
	out := fs.String("o", "onboard-sample.xlsx", "file to write")
	if err := parseFlags(env, fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("sample: unexpected argument %q (see 'onboard sample --help')", fs.Arg(0))
	}
	if *out == "" {
		return usagef("sample: -o needs a file name")
	}
	if err := writeOutputFile(env, *out, importer.WriteSample); err != nil {
		return fmt.Errorf("write the sample: %w", err)
	}
	if *out != "-" {
		fmt.Fprintf(env.Stderr, "wrote %s: %d valid rows and %d rows with mistakes\n",
			*out, importer.SampleAccepted, importer.SampleRejected)
	}
	return nil
}
