// Command onboard brings companies listed in spreadsheets onto Tencent Cloud's
// e-signature channel platform (essbasic): import, sync, poll, open services.
// The commands are package cli's; this is where the process hands over to it.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"

	"github.com/ess-onboard/onboard/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := &cli.Env{
		Getenv:     os.Getenv,
		Stdin:      os.Stdin,
		Stdout:     os.Stdout,
		Stderr:     os.Stderr,
		IsTerminal: term.IsTerminal(int(os.Stdout.Fd())),
	}
	os.Exit(cli.Run(ctx, os.Args[1:], env))
}
