// Command benchimport measures 'onboard import' on a large file against a
// bare excelize read of the same file. It writes a file of valid rows without
// images (importer.GenerateBenchFile), times a streaming read that only walks
// the cells and a read through the importer with every rule, then runs
// 'onboard import --dry-run', 'onboard import' and the same import again into
// a scratch database, and reports the wall time, CPU time and peak RSS of
// each from the child's rusage (onboard's own CPU time, not Postgres's or
// Redis's).
//
//	benchimport -onboard bin/onboard [-rows 100000] [-runs 3] [-dir out/bench]
//
// Postgres and Redis come from BENCH_ADMIN_DATABASE_URL (default the local
// server's postgres database) and BENCH_REDIS_URL (default db 9 on the local
// server, flushed after the run).
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"github.com/xuri/excelize/v2"

	"github.com/ess-onboard/onboard/importer"
)

func main() {
	if len(os.Args) > 2 && (os.Args[1] == "read" || os.Args[1] == "parse") {
		read := bareRead
		if os.Args[1] == "parse" {
			read = parse
		}
		if err := read(os.Args[2]); err != nil {
			fmt.Fprintf(os.Stderr, "benchimport %s: %v\n", os.Args[1], err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchimport:", err)
		os.Exit(1)
	}
}

func run() error {
	onboardBin := flag.String("onboard", "bin/onboard", "the onboard binary to measure")
	rows := flag.Int("rows", 100_000, "data rows in the generated file")
	dir := flag.String("dir", "out/bench", "folder for the generated file")
	runs := flag.Int("runs", 3, "rounds to measure; the median is reported")
	flag.Parse()
	ctx := context.Background()

	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	path := filepath.Join(*dir, fmt.Sprintf("bench-%d.xlsx", *rows))
	start := time.Now()
	if err := importer.GenerateBenchFile(path, *rows); err != nil {
		return fmt.Errorf("generate: %w", err)
	}
	st, _ := os.Stat(path)
	fmt.Printf("file:        %s, %d rows, %.1f MiB, written in %s\n", path, *rows, float64(st.Size())/(1<<20), time.Since(start).Round(time.Millisecond))

	self, err := os.Executable()
	if err != nil {
		return err
	}
	adminURL := getenv("BENCH_ADMIN_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
	redisURL := getenv("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")

	// Each round: the bare read, then both imports into a fresh database.
	var read, parsed, dry, full, again []result
	for round := 1; round <= *runs; round++ {
		r, err := measure(nil, self, "read", path)
		if err != nil {
			return fmt.Errorf("bare read: %w", err)
		}
		read = append(read, r)
		p, err := measure(nil, self, "parse", path)
		if err != nil {
			return fmt.Errorf("importer read: %w", err)
		}
		parsed = append(parsed, p)
		d, f, a, err := importRound(ctx, *onboardBin, path, adminURL, redisURL)
		if err != nil {
			return err
		}
		dry, full, again = append(dry, d), append(full, f), append(again, a)
		fmt.Printf("round %d: bare read %.2fs, importer alone %.2fs, import --dry-run %.2fs, import %.2fs, import again %.2fs\n",
			round, r.wall.Seconds(), p.wall.Seconds(), d.wall.Seconds(), f.wall.Seconds(), a.wall.Seconds())
	}
	mr, mp, md, mf, ma := median(read), median(parsed), median(dry), median(full), median(again)
	fmt.Printf("\nmedian of %d rounds (load average at the end: %s)\n", *runs, loadAverage())
	fmt.Printf("bare excelize read:                                        %s\n", mr)
	fmt.Printf("importer alone (read and check every row, no database):    %s\n", mp)
	fmt.Printf("import --dry-run (read, check, store, roll back):          %s\n", md)
	fmt.Printf("import (read, check, store with %6d syncs due, commit):  %s\n", *rows, mf)
	fmt.Printf("import of the same file again (nothing due):               %s\n", ma)
	ratio := mf.wall.Seconds() / mr.wall.Seconds()
	fmt.Printf("import / bare read: %.2fx (aim <= 1.25x: %s)\n", ratio, verdict(ratio <= 1.25))
	fmt.Printf("  importer alone %.2fx, dry run %.2fx, same file again %.2fx of the bare read\n",
		mp.wall.Seconds()/mr.wall.Seconds(), md.wall.Seconds()/mr.wall.Seconds(), ma.wall.Seconds()/mr.wall.Seconds())
	peak := max(md.maxRSS, mf.maxRSS, ma.maxRSS)
	fmt.Printf("import peak RSS: %.0f MiB (aim < 100 MiB: %s)\n", float64(peak)/1024, verdict(peak < 100*1024))
	return nil
}

// importRound runs the dry run, the import and the same import again into
// a fresh database and a flushed Redis database.
func importRound(ctx context.Context, bin, path, adminURL, redisURL string) (dry, full, again result, err error) {
	dbURL, drop, err := scratchDatabase(ctx, adminURL)
	if err != nil {
		return
	}
	defer drop()
	flushRedis(ctx, redisURL)
	defer flushRedis(ctx, redisURL)
	env := append(os.Environ(), "DATABASE_URL="+dbURL, "REDIS_URL="+redisURL, "ESS_APP_ID=bench")
	if _, err = measure(env, bin, "migrate"); err != nil {
		return dry, full, again, fmt.Errorf("migrate: %w", err)
	}
	if dry, err = measure(env, bin, "import", "--dry-run", "--json", path); err != nil {
		return dry, full, again, fmt.Errorf("import --dry-run: %w", err)
	}
	if full, err = measure(env, bin, "import", "--json", path); err != nil {
		return dry, full, again, fmt.Errorf("import: %w", err)
	}
	if !strings.Contains(full.out, `"enqueued": `) {
		return dry, full, again, fmt.Errorf("import printed %q", full.out)
	}
	if again, err = measure(env, bin, "import", "--json", path); err != nil {
		return dry, full, again, fmt.Errorf("import again: %w", err)
	}
	return dry, full, again, nil
}

func median(rs []result) result {
	s := slices.Clone(rs)
	slices.SortFunc(s, func(a, b result) int { return cmp.Compare(a.wall, b.wall) })
	m := s[len(s)/2]
	for _, r := range rs {
		m.maxRSS = max(m.maxRSS, r.maxRSS) // peak over all rounds
	}
	return m
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

func getenv(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// result is one measured child process.
type result struct {
	wall   time.Duration
	cpu    time.Duration // user + system time of the process itself
	maxRSS int64         // KiB
	out    string
}

func (r result) rssMiB() float64 { return float64(r.maxRSS) / 1024 }

func (r result) String() string {
	return fmt.Sprintf("%6.2fs wall, %6.2fs CPU, peak RSS %4.0f MiB", r.wall.Seconds(), r.cpu.Seconds(), r.rssMiB())
}

// measure runs a command and reports its wall time and peak RSS.
func measure(env []string, name string, args ...string) (result, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = env
	var out strings.Builder
	cmd.Stdout = &out
	cmd.Stderr = &out
	start := time.Now()
	err := cmd.Run()
	r := result{wall: time.Since(start), out: out.String()}
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			r.maxRSS = ru.Maxrss
		}
		r.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	if err != nil {
		return r, fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, r.out)
	}
	return r, nil
}

// parse reads the file with the importer (every rule, no database): the
// part of an import that is reading and checking.
func parse(path string) error {
	rd, err := importer.Open(path, importer.Options{})
	if err != nil {
		return err
	}
	defer rd.Close()
	n, rejected := 0, 0
	for {
		row, err := rd.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		n++
		if !row.Accepted() {
			rejected++
		}
	}
	fmt.Printf("%d rows, %d rejected\n", n, rejected)
	if rejected > 0 {
		return fmt.Errorf("%d rows of the generated file were rejected", rejected)
	}
	return nil
}

// bareRead walks every cell of the file's first sheet with excelize's
// streaming reader and nothing else: the floor for reading the file.
func bareRead(path string) error {
	f, err := excelize.OpenFile(path)
	if err != nil {
		return err
	}
	defer f.Close()
	rows, err := f.Rows(f.GetSheetName(0))
	if err != nil {
		return err
	}
	n, cells := 0, 0
	for rows.Next() {
		cols, err := rows.Columns()
		if err != nil {
			return err
		}
		n++
		cells += len(cols)
	}
	if err := rows.Close(); err != nil {
		return err
	}
	fmt.Printf("%d rows, %d cells\n", n, cells)
	return rows.Error()
}

func scratchDatabase(ctx context.Context, adminURL string) (string, func(), error) {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", nil, fmt.Errorf("connect to Postgres (BENCH_ADMIN_DATABASE_URL): %w", err)
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("onboard_bench_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, err
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", nil, err
	}
	u.Path = "/" + name
	drop := func() {
		c, err := pgx.Connect(context.Background(), adminURL)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	}
	return u.String(), drop, nil
}

func flushRedis(ctx context.Context, redisURL string) {
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		return
	}
	c := redis.NewClient(opt)
	defer c.Close()
	if err := c.FlushDB(ctx).Err(); err != nil && !errors.Is(err, redis.Nil) {
		fmt.Fprintln(os.Stderr, "benchimport: flush Redis:", err)
	}
}
