// Command read opens files with the importer and reads every row, printing
// what it found, the time taken and the process's memory, for measuring
// the importer alone. The importer's tests run it (built without the race
// detector, whose shadow memory would blur the figures) on each hostile
// file in a process of its own.
//
//	go run ./internal/hostile/read [-json] FILE...
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/ess-onboard/onboard/importer"
)

// report is what reading one file came to.
type report struct {
	File     string   `json:"file"`
	Refused  string   `json:"refused,omitempty"`
	Rows     int      `json:"rows"`
	Rejected int      `json:"rejected"`
	Reasons  []string `json:"reasons,omitempty"` // the first 20, with their row
	Seconds  float64  `json:"seconds"`
	// Sys is what the Go runtime obtained from the system (it never
	// shrinks), HWM the peak resident set; both for the whole process so
	// far.
	Sys uint64 `json:"sys"`
	HWM uint64 `json:"hwm"`
}

func main() {
	asJSON := flag.Bool("json", false, "print one JSON object per file")
	flag.Parse()
	failed := false
	for _, p := range flag.Args() {
		rep, err := read(p)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", p, err)
			failed = true
			continue
		}
		if *asJSON {
			json.NewEncoder(os.Stdout).Encode(rep)
			continue
		}
		outcome := fmt.Sprintf("%d rows, %d rejected", rep.Rows, rep.Rejected)
		if rep.Refused != "" {
			outcome = "refused: " + rep.Refused
		}
		fmt.Printf("%s\t%.2fs\tpeak RSS %.1f MiB\t%s\n", p, rep.Seconds, float64(rep.HWM)/(1<<20), outcome)
	}
	if failed {
		os.Exit(1)
	}
}

// read reads a file; an error is one other than a refusal.
func read(path string) (*report, error) {
	rep := &report{File: path}
	start := time.Now()
	err := func() error {
		r, err := importer.Open(path, importer.Options{})
		if err != nil {
			return err
		}
		defer r.Close()
		for {
			row, err := r.Next()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			rep.Rows++
			if !row.Accepted() {
				rep.Rejected++
			}
			for _, e := range row.Errors {
				if len(rep.Reasons) < 20 {
					rep.Reasons = append(rep.Reasons, fmt.Sprintf("row %d: %s", e.Row, e.Reason))
				}
			}
		}
	}()
	rep.Seconds = time.Since(start).Seconds()
	if err != nil {
		var fe *importer.FileError
		if !errors.As(err, &fe) {
			return nil, fmt.Errorf("not a refusal: %T %v", err, err)
		}
		rep.Refused = fe.Reason
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rep.Sys, rep.HWM = ms.Sys, vmHWM()
	return rep, nil
}

// vmHWM reads the peak resident set size of this process.
func vmHWM() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmHWM:" && f[2] == "kB" {
			n, _ := strconv.ParseUint(f[1], 10, 64)
			return n << 10
		}
	}
	return 0
}
