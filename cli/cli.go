// Package cli is onboard's command line: every command with its flags, its
// help and what it prints (their texts in the locale catalogues, in the
// language --lang, ONBOARD_LANG or the locale chose), and the one place the parts a
// command runs on are opened from the configuration (openParts, deps.go).
// The work itself is done by the packages the commands call: intake
// imports, jobs runs the workers and sweeps, web serves the dashboard,
// repository reads what the reports show. cmd/onboard only starts it.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/ess-onboard/onboard/locale"
)

// Run runs the command named by args[0] with the rest of args and returns
// the process's exit code: 0 done, 1 failed, 2 a wrong command line.
func Run(ctx context.Context, args []string, env *Env) int { return run(ctx, args, env) }

// Env is what a command sees of the outside world; tests fill it in directly.
type Env struct {
	Getenv     func(string) string
	Stdin      io.Reader
	Stdout     io.Writer
	Stderr     io.Writer
	IsTerminal bool // stdout is a terminal: show progress bars

	// P renders what the person reads, in the language --lang, ONBOARD_LANG
	// or LC_ALL/LC_MESSAGES/LANG chose (English when none did); Run sets it.
	P *locale.Printer
}

// printer is env's printer, English when none was chosen.
func (env *Env) printer() *locale.Printer {
	if env.P == nil {
		env.P = locale.New(locale.English)
	}
	return env.P
}

// takeLang removes every --lang flag before "--" from args (it may stand
// before or after the command) and returns its last value.
func takeLang(args []string) (rest []string, lang string, err error) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			rest = append(rest, args[i:]...)
			break
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || name != "lang" {
			rest = append(rest, a)
			continue
		}
		if !hasValue {
			if i+1 >= len(args) {
				return nil, "", usagef("flag needs an argument: --lang (zh-CN or en)")
			}
			i++
			value = args[i]
		}
		lang = value
	}
	return rest, lang, nil
}

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1 // the file was refused, a server could not be reached, the work failed
	exitUsage   = 2 // the command line is wrong
)

// command is one subcommand. Each registers itself
// in an init function.
type command struct {
	name    string
	summary string // one line for the command list
	run     func(ctx context.Context, env *Env, args []string) error
}

var commands = map[string]command{}

func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("onboard: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

// usageErr marks an error as a usage error (exit code 2).
type usageErr struct{ msg string }

func (e usageErr) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageErr{fmt.Sprintf(format, args...)} }

// usageT is a usage error with the text of message id in the language of p.
func usageT(p *locale.Printer, id string, args ...any) error { return usageErr{p.T(id, args...)} }

// textErr is an error whose text is already in the reader's language. It
// wraps the error it reports, if any.
type textErr struct {
	msg string
	err error
}

func (e *textErr) Error() string { return e.msg }
func (e *textErr) Unwrap() error { return e.err }

// errorT is an error with the text of message id in the language of p;
// err, when not nil, is given to the message as .Err and wrapped.
func errorT(p *locale.Printer, err error, id string, args ...any) error {
	if err != nil {
		args = append(args, "Err", err.Error())
	}
	return &textErr{msg: p.T(id, args...), err: err}
}

// exitErr carries a specific exit code, with a message already printed
// (or none to print), for example after a --json error object.
type exitErr struct{ code int }

func (e exitErr) Error() string { return fmt.Sprintf("exit %d", e.code) }

func run(ctx context.Context, args []string, env *Env) int {
	args, flagLang, err := takeLang(args)
	if err == nil {
		var lang string
		if lang, err = locale.FromEnv(flagLang, env.Getenv); err == nil {
			env.P = locale.NewIn(lang, nil)
		}
	}
	if err != nil {
		return finish(env, usageErr{err.Error()})
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		if len(args) > 1 && args[0] == "help" {
			if c, ok := commands[args[1]]; ok {
				return finish(env, c.run(ctx, env, []string{"--help"}))
			}
		}
		printUsage(env.Stdout, env.printer())
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(env.Stderr, "onboard: %s\n\n", env.printer().T("cli.unknown_command", "Name", fmt.Sprintf("%q", args[0])))
		printUsage(env.Stderr, env.printer())
		return exitUsage
	}
	return finish(env, c.run(ctx, env, args[1:]))
}

func finish(env *Env, err error) int {
	var ue usageErr
	var ee exitErr
	var ce *configError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue):
		fmt.Fprintf(env.Stderr, "onboard: %s\n", ue.msg)
		return exitUsage
	case errors.As(err, &ce):
		fmt.Fprintf(env.Stderr, "onboard: %s\n", ce.In(env.printer()))
		return exitFailure
	default:
		fmt.Fprintf(env.Stderr, "onboard: %v\n", err)
		return exitFailure
	}
}

func printUsage(w io.Writer, p *locale.Printer) {
	fmt.Fprintf(w, "%s\n\n%s\n", strings.TrimSpace(p.T("cli.usage.intro")), p.T("cli.usage.commands"))
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		summary := commands[n].summary
		if id := "cli.summary." + n; p.Has(id) {
			summary = p.T(id)
		}
		fmt.Fprintf(w, "  %-10s %s\n", n, summary)
	}
	fmt.Fprintf(w, "\n%s\n\n%s\n", p.T("cli.usage.more"), p.T("cli.usage.environment"))
	for _, v := range envVars {
		fmt.Fprintf(w, "  %-27s %s", v.name, envHelp(p, v))
		if v.def != "" {
			fmt.Fprint(w, p.T("cli.usage.default", "Default", v.def))
		}
		fmt.Fprintln(w)
	}
}

// newFlagSet returns a flag set that prints the command's usage line, its
// description and its flags on --help and reports errors as usage errors.
func newFlagSet(env *Env, name, usage, description string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	fs.Usage = func() {
		p := env.printer()
		out := fs.Output()
		if id := "cli.help." + name; p.Has(id) {
			description = p.T(id)
		}
		fmt.Fprintf(out, "%s onboard %s\n\n%s\n", p.T("cli.usage"), usage, strings.TrimSpace(description))
		has := false
		fs.VisitAll(func(f *flag.Flag) {
			has = true
			if id := "cli.flag." + name + "." + f.Name; p.Has(id) {
				f.Usage = p.T(id)
			}
		})
		if has {
			fmt.Fprintf(out, "\n%s\n", p.T("cli.flags"))
			fs.PrintDefaults()
		}
		fmt.Fprintf(out, "  -lang string\n    \t%s\n", p.T("cli.flag.lang"))
	}
	return fs
}

// parseFlags parses args; --help prints to stdout and returns flag.ErrHelp,
// any other problem is a usage error.
func parseFlags(env *Env, fs *flag.FlagSet, args []string) error {
	for _, a := range args {
		if a == "--" {
			break
		}
		if a == "-h" || a == "--help" || a == "-help" {
			fs.SetOutput(env.Stdout)
			fs.Usage()
			return flag.ErrHelp
		}
	}
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		return usageT(env.printer(), "cli.bad_flags", "Cmd", fs.Name(), "Err", err.Error())
	}
	return nil
}
