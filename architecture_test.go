package onboard_test

import (
	"bufio"
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/ess-onboard/onboard"

// goFile is one non-test Go file of the module.
type goFile struct {
	pkg  string // its folder, relative to the module: "." for the root
	path string
	src  []byte
	ast  *ast.File
	fset *token.FileSet
}

// sourceFiles parses every non-test Go file of the module.
func sourceFiles(t *testing.T) []goFile {
	t.Helper()
	var files []goFile
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "out" || d.Name() == "bin") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, src, parser.ParseComments)
		if err != nil {
			return err
		}
		files = append(files, goFile{pkg: filepath.ToSlash(filepath.Dir(path)), path: filepath.ToSlash(path), src: src, ast: f, fset: fset})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 50 {
		t.Fatalf("found only %d Go files: not run from the module's root?", len(files))
	}
	return files
}

// stringLits calls fn with every string literal of f, unquoted, and its line.
func (f goFile) stringLits(fn func(s string, line int)) {
	ast.Inspect(f.ast, func(n ast.Node) bool {
		lit, ok := n.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return true
		}
		if s, err := strconv.Unquote(lit.Value); err == nil {
			fn(s, f.fset.Position(lit.Pos()).Line)
		}
		return true
	})
}

func ownedBy(pkg string, owners []string) bool {
	for _, o := range owners {
		if pkg == o {
			return true
		}
	}
	return false
}

var (
	// sqlStatement matches a string that starts an SQL statement.
	sqlStatement = regexp.MustCompile(`^\s*(SELECT\s|INSERT\s+INTO\s|UPDATE\s+\w+\s+SET\s|DELETE\s+FROM\s|CREATE\s+(TABLE|DATABASE|INDEX|UNIQUE)\s|DROP\s+(TABLE|DATABASE|INDEX)\s|ALTER\s+TABLE\s|WITH\s+\w+\s+AS\s)`)
	// taskOption matches a call of one of asynq's task options.
	taskOption = regexp.MustCompile(`\basynq\.(MaxRetry|TaskID|Queue|Timeout|Deadline|Retention|ProcessIn|ProcessAt|Unique|Group)\(`)
)

// TestLayers checks that SQL, asynq's Redis keys and task options stay in
// the packages that own them, and that the command line opens its parts in
// one place.
func TestLayers(t *testing.T) {
	files := sourceFiles(t)
	sqlOwners := []string{"repository", "migrations", "internal/testenv", "internal/benchimport"}
	asynqOwners := []string{"jobs", "internal/testenv"}
	for _, f := range files {
		f.stringLits(func(s string, line int) {
			if sqlStatement.MatchString(s) && !ownedBy(f.pkg, sqlOwners) {
				t.Errorf("%s:%d: SQL outside repository: %.60q", f.path, line, s)
			}
			if strings.Contains(s, "asynq:") && !ownedBy(f.pkg, asynqOwners) {
				t.Errorf("%s:%d: an asynq key name outside jobs: %.60q", f.path, line, s)
			}
		})
		if m := taskOption.Find(f.src); m != nil && f.pkg != "jobs" {
			t.Errorf("%s: task option %s outside jobs (jobs.Queue sets them)", f.path, m)
		}
	}

	// The parts every command runs on are built in one function.
	once := map[string]*regexp.Regexp{
		"asynq.ParseRedisURI":   regexp.MustCompile(`\basynq\.ParseRedisURI\(`),
		"ess.New":               regexp.MustCompile(`\bess\.New\(`),
		"jobs.NewLimiter":       regexp.MustCompile(`\bjobs\.NewLimiter\(`),
		"jobs.LimitedTransport": regexp.MustCompile(`\bjobs\.LimitedTransport\{`),
		"repository.Open":       regexp.MustCompile(`\brepository\.Open\(`),
	}
	for name, re := range once {
		var at []string
		for _, f := range files {
			if f.pkg == "cli" || f.pkg == "cmd/onboard" || f.pkg == "web" || f.pkg == "intake" {
				for range re.FindAll(f.src, -1) {
					at = append(at, f.path)
				}
			}
		}
		if len(at) != 1 || at[0] != "cli/deps.go" {
			t.Errorf("%s is called in %v; want once, in cli/deps.go", name, at)
		}
	}
}

// TestThinCommand checks that the binary only starts the command line and
// that no function of the command line is longer than a screen.
func TestThinCommand(t *testing.T) {
	const maxLines, maxFunc = 1200, 60
	lines := 0
	for _, f := range sourceFiles(t) {
		if f.pkg == "cmd/onboard" {
			lines += bytes.Count(f.src, []byte("\n"))
		}
		if f.pkg != "cmd/onboard" && f.pkg != "cli" {
			continue
		}
		for _, d := range f.ast.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok {
				continue
			}
			if n := f.fset.Position(fn.End()).Line - f.fset.Position(fn.Pos()).Line + 1; n > maxFunc {
				t.Errorf("%s: func %s is %d lines, more than %d", f.path, fn.Name.Name, n, maxFunc)
			}
		}
	}
	if lines == 0 || lines >= maxLines {
		t.Errorf("cmd/onboard holds %d lines of non-test code; want fewer than %d", lines, maxLines)
	}
}

// TestArchitectureDocNamesEveryPackage checks that docs/architecture.md
// says what every package does, and that the files its row path names exist
// and are at most eight.
func TestArchitectureDocNamesEveryPackage(t *testing.T) {
	doc, err := os.ReadFile("docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("go", "list", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	pkgs := strings.Fields(string(out))
	if len(pkgs) < 10 {
		t.Fatalf("go list found %d packages", len(pkgs))
	}
	for _, p := range pkgs {
		name := strings.TrimPrefix(strings.TrimPrefix(p, module), "/")
		if name == "" {
			name = "onboard"
		}
		if !bytes.Contains(doc, []byte("| `"+name+"` |")) {
			t.Errorf("docs/architecture.md does not say what package %s does (a table row starting | `%s` |)", p, name)
		}
	}

	// The numbered steps of the row's path: "1. `file`: ...".
	i := bytes.Index(doc, []byte("## One row"))
	if i < 0 {
		t.Fatal("docs/architecture.md has no section on the path of one row")
	}
	step := regexp.MustCompile("^\\d+\\. `([^`]+)`")
	var path []string
	sc := bufio.NewScanner(bytes.NewReader(doc[i:]))
	for sc.Scan() {
		if m := step.FindStringSubmatch(sc.Text()); m != nil {
			path = append(path, m[1])
		}
	}
	if len(path) == 0 || len(path) > 8 {
		t.Errorf("the row's path names %d files, want 1 to 8: %v", len(path), path)
	}
	for _, f := range path {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("the row's path names %s: %v", f, err)
		}
	}
}
