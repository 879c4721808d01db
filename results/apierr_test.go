package results

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/locale"
)

// platformCodes are the error codes the ess package classifies (the keys of
// its codeClasses table, the platform's codes and the SDK's client-side
// ones), read from its source.
func platformCodes(t *testing.T) []string {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "../ess/errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]string{}
	var table *ast.CompositeLit
	ast.Inspect(f, func(n ast.Node) bool {
		switch d := n.(type) {
		case *ast.ValueSpec:
			for i, name := range d.Names {
				if i >= len(d.Values) {
					continue
				}
				if lit, ok := d.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					consts[name.Name], _ = strconv.Unquote(lit.Value)
				}
				if name.Name == "codeClasses" {
					table, _ = d.Values[i].(*ast.CompositeLit)
				}
			}
		}
		return true
	})
	if table == nil {
		t.Fatal("ess/errors.go has no codeClasses table")
	}
	var codes []string
	for _, el := range table.Elts {
		switch k := el.(*ast.KeyValueExpr).Key.(type) {
		case *ast.BasicLit:
			s, _ := strconv.Unquote(k.Value)
			codes = append(codes, s)
		case *ast.Ident:
			if v, ok := consts[k.Name]; ok {
				codes = append(codes, v)
			} else {
				t.Errorf("codeClasses key %s is not a string constant of ess/errors.go", k.Name)
			}
		}
	}
	if len(codes) < 50 {
		t.Fatalf("only %d codes read from codeClasses", len(codes))
	}
	return codes
}

// onboardCodes are onboard's own error codes: the "onboard.X" literals of
// the source, and the codes of the final states an organization fails in.
func onboardCodes(t *testing.T) []string {
	t.Helper()
	re := regexp.MustCompile(`^onboard\.[A-Za-z_]+$`)
	seen := map[string]bool{"onboard." + onboard.StateAuthRejected: true, "onboard." + onboard.StateTimedOut: true}
	fset := token.NewFileSet()
	err := filepath.WalkDir("..", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && p != ".." {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil && re.MatchString(s) {
					seen[s] = true
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for c := range seen {
		out = append(out, c)
	}
	return out
}

// Every error code onboard can show beside a company, the platform's and its
// own, has a short explanation in both languages, and the docs list it.
func TestEveryErrorCodeExplained(t *testing.T) {
	t.Parallel()
	codes := append(platformCodes(t), onboardCodes(t)...)
	en, zh := locale.New(locale.English), locale.New(locale.Chinese)
	han := regexp.MustCompile(`\p{Han}`)
	for _, c := range codes {
		e, z := en.APIError(c), zh.APIError(c)
		if e == "" || z == "" {
			t.Errorf("%s has no explanation (en %q, zh-CN %q)", c, e, z)
			continue
		}
		if han.MatchString(e) && !strings.Contains(e, "(") || !han.MatchString(z) {
			t.Errorf("%s: the explanations are not in their languages: %q / %q", c, e, z)
		}
	}
	for _, doc := range []string{"../docs/reason-codes.md", "../docs/reason-codes.zh-CN.md"} {
		b, err := readFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range codes {
			if !strings.Contains(b, "\n| "+c+" | ") {
				t.Errorf("%s does not list the error code %s", doc, c)
			}
		}
	}
}

func readFile(p string) (string, error) {
	b, err := os.ReadFile(p)
	return string(b), err
}
