package importer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ess-onboard/onboard/internal/hostile"
)

// Hostile files are written and read in processes of their own, by the
// commands internal/hostile/gen and internal/hostile/read built without the
// race detector: the reading process's peak memory is the reading's alone,
// and neither is slowed down by the race detector's instrumentation. The
// reader reports what it found, its time, its Go runtime's memory
// (runtime.MemStats.Sys, which never shrinks) and its peak resident size
// (VmHWM from /proc/self/status).

// readReport is what internal/hostile/read reports for one file.
type readReport struct {
	Refused  string   `json:"refused,omitempty"`
	Rows     int      `json:"rows"`
	Rejected int      `json:"rejected"`
	Reasons  []string `json:"reasons,omitempty"`
	Seconds  float64  `json:"seconds"`
	Sys      uint64   `json:"sys"`
	HWM      uint64   `json:"hwm"`
}

var (
	toolsOnce sync.Once
	toolsDir  string
	toolsErr  error
)

// tools builds internal/hostile/gen and internal/hostile/read once and
// returns the folder holding them.
func tools(t *testing.T) string {
	t.Helper()
	toolsOnce.Do(func() {
		if toolsDir, toolsErr = os.MkdirTemp("", "importer-tools-"); toolsErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", toolsDir+string(os.PathSeparator),
			"github.com/ess-onboard/onboard/internal/hostile/gen", "github.com/ess-onboard/onboard/internal/hostile/read")
		if out, err := cmd.CombinedOutput(); err != nil {
			toolsErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if toolsErr != nil {
		t.Fatal(toolsErr)
	}
	return toolsDir
}

// generate writes a hostile case into dir with internal/hostile/gen.
func generate(t *testing.T, dir, name string) {
	t.Helper()
	if out, err := exec.Command(filepath.Join(tools(t), "gen"), "-only", name, dir).CombinedOutput(); err != nil {
		t.Fatalf("gen %s: %v\n%s", name, err, out)
	}
}

// measureRead reads a file in a process of its own and returns its report
// and the wall time of the whole process.
func measureRead(t *testing.T, path string) (readReport, time.Duration) {
	t.Helper()
	cmd := exec.Command(filepath.Join(tools(t), "read"), "-json", path)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("reading %s: %v\n%s", filepath.Base(path), err, stderr.String())
	}
	wall := time.Since(start)
	var rep readReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("reading %s printed %q: %v", filepath.Base(path), stdout.String(), err)
	}
	return rep, wall
}

// Bounds every hostile file must be read or refused within. The time is
// generous for a loaded two-core machine (each takes well under a few
// seconds); before the importer was bounded, these files took minutes and
// gigabytes.
const (
	hostileTime = 30 * time.Second
	hostileSys  = 256 << 20 // the Go runtime's memory
	hostileHWM  = 256 << 20 // the peak resident size
)

// hostileOutcome is what reading a hostile file must come to: refused
// with a reason holding refused, or read with rows rows of which rejected
// were rejected, one reason holding reason.
type hostileOutcome struct {
	refused        string
	rows, rejected int
	reason         string
}

var hostileOutcomes = map[string]hostileOutcome{
	"shared-strings-bomb":     {refused: "shared strings table of shared-strings-bomb.xlsx (the text of its cells) holds more than"},
	"shared-strings-count":    {refused: "declares 4000000000 strings, more than its sheets could show"},
	"shared-string-huge":      {rows: 3, rejected: 3, reason: "cells hold more than 16 KiB of text"},
	"shared-string-escapes":   {rows: 1, rejected: 1, reason: "cells hold more than 16 KiB of text"},
	"wide-header":             {refused: "reaches column XFD, 16384 columns; at most 64 columns (A to BL) are read"},
	"wide-rows":               {rows: 20003, rejected: 1, reason: "is not a valid ID card number"},
	"long-row-text":           {rows: 200, rejected: 200, reason: "cells hold more than 16 KiB of text"},
	"huge-attribute":          {rows: 4, rejected: 2, reason: "is not a valid unified social credit code"},
	"huge-attribute-workbook": {refused: "part xl/workbook.xml is too large"},
	"deep-nesting":            {refused: "elements nest more than 1000 deep"},
	"deep-nesting-workbook":   {refused: "elements nest more than 1000 deep"},
	"many-sheets":             {rows: 3, rejected: 1, reason: "is not a valid ID card number"},
	"many-entries":            {refused: "holds 200005 files, more than the 100000"},
	"gigabyte-image":          {rows: 3, rejected: 2, reason: "the picture is 954 MiB, more than 3.8 MiB"},
	"name-collision":          {refused: `holds two files named "xl/worksheets/sheet1.xml"`},
	"name-case-collision":     {refused: "differ only in capitals"},
	"name-escape":             {refused: `holds a file named "../../outside.png", which points outside the archive`},
	"zip-in-zip":              {refused: "holds no .xlsx workbook, only another zip (inner.zip)"},
	"bomb-in-zip":             {refused: "book.xlsx inside bomb-in-zip.zip would expand to more than 1024 MiB"},
	"formulas-links":          {rows: 5, rejected: 2, reason: "holds a formula whose value was never calculated"},
	"many-rows":               {refused: "has more than 1000000 data rows"},
}

// TestHostileFiles reads every hostile file in a child process: each is
// refused or read as its outcome says, within bounded time and memory.
// The cases run one after the other, so that their memory and time are
// their own.
func TestHostileFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cases := hostile.Cases()
	if len(cases) != len(hostileOutcomes) {
		t.Errorf("%d hostile cases, %d outcomes: every case needs one", len(cases), len(hostileOutcomes))
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			want, ok := hostileOutcomes[c.Name]
			if !ok {
				t.Fatalf("no outcome for %s", c.Name)
			}
			generate(t, dir, c.Name)
			p := filepath.Join(dir, c.FileName())
			defer os.Remove(p)
			rep, wall := measureRead(t, p)
			t.Logf("%s: %.2fs (child %v), Go runtime %s, peak RSS %s: %s", c.FileName(), rep.Seconds, wall.Round(time.Millisecond),
				fmtMiB(rep.Sys), fmtMiB(rep.HWM), outcomeText(rep))
			switch {
			case want.refused != "":
				if !strings.Contains(rep.Refused, want.refused) {
					t.Errorf("refusal %q (rows %d); want one holding %q", rep.Refused, rep.Rows, want.refused)
				}
			default:
				if rep.Refused != "" || rep.Rows != want.rows || rep.Rejected != want.rejected || !containsAny(rep.Reasons, want.reason) {
					t.Errorf("%s; want %d rows, %d rejected, a reason holding %q", outcomeText(rep), want.rows, want.rejected, want.reason)
				}
			}
			if wall > hostileTime {
				t.Errorf("took %v; bound %v", wall, hostileTime)
			}
			if rep.Sys > hostileSys {
				t.Errorf("the Go runtime took %s from the system; bound %s", fmtMiB(rep.Sys), fmtMiB(hostileSys))
			}
			if rep.HWM > hostileHWM {
				t.Errorf("peak RSS %s; bound %s", fmtMiB(rep.HWM), fmtMiB(hostileHWM))
			}
		})
	}
}

// TestOrdinaryFileMemory reads an ordinary file of 100,000 rows in a
// process of its own: it stays within the 100 MiB meant for ordinary files.
func TestOrdinaryFileMemory(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const rows = 100_000
	if out, err := exec.Command(filepath.Join(tools(t), "gen"), "-bench", fmt.Sprint(rows), dir).CombinedOutput(); err != nil {
		t.Fatalf("gen -bench: %v\n%s", err, out)
	}
	rep, wall := measureRead(t, filepath.Join(dir, fmt.Sprintf("bench-%d.xlsx", rows)))
	t.Logf("%.2fs (child %v), Go runtime %s, peak RSS %s: %s", rep.Seconds, wall.Round(time.Millisecond), fmtMiB(rep.Sys), fmtMiB(rep.HWM), outcomeText(rep))
	if rep.Refused != "" || rep.Rows != rows || rep.Rejected != 0 {
		t.Errorf("%s; want %d accepted rows", outcomeText(rep), rows)
	}
	if rep.Sys > 100<<20 {
		t.Errorf("the Go runtime took %s; bound 100 MiB", fmtMiB(rep.Sys))
	}
	if rep.HWM > 100<<20 {
		t.Errorf("peak RSS %s; bound 100 MiB", fmtMiB(rep.HWM))
	}
	if wall > hostileTime {
		t.Errorf("took %v; bound %v", wall, hostileTime)
	}
}

func containsAny(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

func outcomeText(r readReport) string {
	if r.Refused != "" {
		return "refused: " + r.Refused
	}
	s := fmt.Sprintf("%d rows, %d rejected", r.Rows, r.Rejected)
	if len(r.Reasons) > 0 {
		s += "; first reason: " + r.Reasons[0]
	}
	return s
}

func fmtMiB(n uint64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
