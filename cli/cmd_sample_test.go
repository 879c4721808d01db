package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ess-onboard/onboard/importer"
)

// The sample and the template import as they say they do.
func TestSampleAndTemplateImport(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t)
	dir := t.TempDir()
	sample := filepath.Join(dir, "sample.xlsx")
	code, _, errOut := e.run(t, "sample", "-o", sample)
	if code != exitOK || !strings.Contains(errOut, "wrote "+sample) {
		t.Fatalf("sample: exit %d, stderr %q", code, errOut)
	}
	code, out, errOut := e.run(t, "import", sample, "--app-id", "app-1", "--json")
	if code != exitOK {
		t.Fatalf("import of the sample: exit %d, %s", code, errOut)
	}
	j := decodeImportJSON(t, out)
	if j.Accepted != importer.SampleAccepted || j.Rejected != importer.SampleRejected || len(j.Warnings) == 0 {
		t.Errorf("sample imported as %d accepted, %d rejected, %d warnings; want %d, %d and some warnings",
			j.Accepted, j.Rejected, len(j.Warnings), importer.SampleAccepted, importer.SampleRejected)
	}

	tmpl := filepath.Join(dir, "template.xlsx")
	if code, _, errOut := e.run(t, "template", "-o", tmpl); code != exitOK {
		t.Fatalf("template: exit %d, stderr %q", code, errOut)
	}
	code, out, errOut = e.run(t, "import", tmpl, "--app-id", "app-1", "--json", "--dry-run")
	if code != exitOK {
		t.Fatalf("import of the template: exit %d, %s", code, errOut)
	}
	if j := decodeImportJSON(t, out); j.Rows != 1 || j.Rejected != 0 {
		t.Errorf("template imported as %+v, want its one example row accepted", j)
	}
}

func TestSampleAndTemplateOutput(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"sample", "template"} {
		e := &cliEnv{vars: map[string]string{}}
		var buf bytes.Buffer
		code, _, errOut := e.runTo(t, &buf, name, "-o", "-")
		if code != exitOK || !bytes.HasPrefix(buf.Bytes(), []byte("PK")) {
			t.Errorf("%s -o -: exit %d, %d bytes not an .xlsx, stderr %q", name, code, buf.Len(), errOut)
		}
		missing := filepath.Join(t.TempDir(), "no", "such", "folder", "x.xlsx")
		code, _, errOut = e.run(t, name, "-o", missing)
		if code != exitFailure || errOut == "" {
			t.Errorf("%s into a missing folder: exit %d, stderr %q", name, code, errOut)
		}
		if _, err := os.Stat(missing); err == nil {
			t.Errorf("%s wrote %s anyway", name, missing)
		}
		if code, _, _ := e.run(t, name, "extra"); code != exitUsage {
			t.Errorf("%s extra: exit %d, want 2", name, code)
		}
		if code, out, _ := e.run(t, name, "--help"); code != exitOK || !strings.Contains(out, "Usage: onboard "+name) {
			t.Errorf("%s --help: exit %d, %q", name, code, out)
		}
	}
}
