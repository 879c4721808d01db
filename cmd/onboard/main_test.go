package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
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
