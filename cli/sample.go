package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/ess-onboard/onboard/importer"
)

func init() {
	register(command{name: "sample", summary: "write a sample spreadsheet with valid rows and typical mistakes", run: runSample})
}

func runSample(_ context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "sample", "sample [-o FILE.xlsx]", "")
	out := fs.String("o", "onboard-sample.xlsx", "file to write")
	if err := parseFlags(env, fs, args); err != nil {
		return err
	}
	pr := env.printer()
	if fs.NArg() > 0 {
		return unexpectedArg(pr, "sample", fs.Arg(0))
	}
	if *out == "" {
		return usageT(pr, "cli.no_output_name", "Cmd", "sample")
	}
	write := func(w io.Writer) error { return importer.WriteSampleIn(w, pr.Lang()) }
	if err := writeOutputFile(env, *out, write); err != nil {
		return errorT(pr, err, "cli.sample.write_failed")
	}
	if *out != "-" {
		fmt.Fprintln(env.Stderr, pr.T("cli.sample.wrote", "File", *out,
			"Valid", pr.Int(importer.SampleAccepted), "Mistakes", pr.Int(importer.SampleRejected)))
	}
	return nil
}
