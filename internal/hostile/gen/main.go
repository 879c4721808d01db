// Command gen writes the hostile spreadsheets of package hostile into a
// folder, for measuring a build of onboard by hand:
//
//	go run ./internal/hostile/gen [-only NAME,...] DIR
//	go run ./internal/hostile/gen -bench ROWS DIR   (an ordinary file, bench-ROWS.xlsx)
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ess-onboard/onboard/importer"
	"github.com/ess-onboard/onboard/internal/hostile"
)

func main() {
	only := flag.String("only", "", "comma-separated case names to write (default all)")
	bench := flag.Int("bench", 0, "instead, write bench-N.xlsx: an ordinary file of N valid rows")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: gen [-only NAME,...] DIR")
		os.Exit(2)
	}
	dir := flag.Arg(0)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if *bench > 0 {
		p := filepath.Join(dir, fmt.Sprintf("bench-%d.xlsx", *bench))
		if err := importer.GenerateBenchFile(p, *bench); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	want := map[string]bool{}
	for _, n := range strings.Split(*only, ",") {
		if n != "" {
			want[n] = true
		}
	}
	for _, c := range hostile.Cases() {
		if len(want) > 0 && !want[c.Name] {
			continue
		}
		start := time.Now()
		p := filepath.Join(dir, c.FileName())
		if err := write(p, c); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", c.Name, err)
			os.Exit(1)
		}
		fi, _ := os.Stat(p)
		fmt.Printf("%-26s %10d bytes  %6.2fs  %s\n", c.FileName(), fi.Size(), time.Since(start).Seconds(), c.About)
	}
}

func write(path string, c hostile.Case) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := c.Write(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
