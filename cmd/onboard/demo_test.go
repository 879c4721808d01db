package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemo runs 'onboard demo' to the end: every organization of the sample
// final, the summary printed, the sample and the results file written.
func TestDemo(t *testing.T) {
	e := newCLIEnv(t)
	// The demo keeps its work in Redis for seconds; db 3 is flushed by
	// other tests of this package, so it runs on db 6 (its queues carry a
	// prefix of their own and are removed at the end).
	redisURL, _ := isolatedRedis(t, 6)
	e.vars["REDIS_URL"] = redisURL
	out := t.TempDir()
	code, stdout, stderr := e.run(t, "demo", "--out", out, "--timeout", "2m")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"simulator on http://127.0.0.1:", "finished: 9 organizations", "done",
		"0 were refused for the rate limit", "results file: " + filepath.Join(out, "results.xlsx")} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	for _, f := range []string{"sample.xlsx", "results.xlsx"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	if code, _, _ := e.run(t, "demo", "--timeout", "0s"); code != exitUsage {
		t.Errorf("--timeout 0s: exit %d, want %d", code, exitUsage)
	}
}
