package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/ess-onboard/onboard/locale"
)

// TestTopLevelUsage checks what a user sees without a command, with --help,
// and with a command that does not exist.
func TestTopLevelUsage(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		inStdout bool
	}{
		{"NoCommand", nil, exitUsage, true},
		{"Help", []string{"--help"}, exitOK, true},
		{"UnknownCommand", []string{"frobnicate"}, exitUsage, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			env := &Env{Getenv: func(string) string { return "" }, Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr}
			if code := run(context.Background(), tc.args, env); code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			out := stderr.String()
			if tc.inStdout {
				out = stdout.String()
			}
			for name := range commands {
				if !strings.Contains(out, "  "+name+" ") {
					t.Errorf("usage lacks command %q:\n%s", name, out)
				}
			}
			if !strings.Contains(out, "DATABASE_URL") || !strings.Contains(out, "(default redis://127.0.0.1:6379/0)") {
				t.Errorf("usage lacks the environment and its defaults:\n%s", out)
			}
			if tc.name == "UnknownCommand" && !strings.Contains(out, `unknown command "frobnicate"`) {
				t.Errorf("no word on the unknown command:\n%s", out)
			}
		})
	}
}

// TestEveryCommandHasHelp: 'onboard help NAME' prints each command's usage
// line and its description, and the commands that put work in Redis or call
// the platform for the workers take the workers' --queue-prefix.
func TestEveryCommandHasHelp(t *testing.T) {
	t.Parallel()
	takesPrefix := map[string]bool{"worker": true, "serve": true, "scheduler": true, "reconcile": true}
	for name := range commands {
		var stdout, stderr bytes.Buffer
		env := &Env{Getenv: func(string) string { return "" }, Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr}
		if code := run(context.Background(), []string{"help", name}, env); code != exitOK {
			t.Errorf("help %s: exit %d, %s", name, code, stderr.String())
		}
		out := stdout.String()
		desc := description(name)
		if !strings.HasPrefix(out, "Usage: onboard "+name) || len(desc) < 40 || !strings.Contains(out, desc) {
			t.Errorf("help %s prints %.300q", name, out)
		}
		if strings.Contains(out, "-queue-prefix") != takesPrefix[name] {
			t.Errorf("help %s: --queue-prefix listed %v, want %v", name, strings.Contains(out, "-queue-prefix"), takesPrefix[name])
		}
	}
}

// description is the English description of command name, from the catalogue.
func description(name string) string {
	return strings.TrimSpace(locale.New(locale.English).T("cli.help." + name))
}
