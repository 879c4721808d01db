package cli

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/xuri/excelize/v2"

	"github.com/ess-onboard/onboard/importer"
	"github.com/ess-onboard/onboard/locale"
	"github.com/ess-onboard/onboard/results"
)

var han = regexp.MustCompile(`\p{Han}`)

// withVars is e with more environment variables.
func withVars(e *cliEnv, vars map[string]string) *cliEnv {
	c := *e
	c.vars = map[string]string{}
	for k, v := range e.vars {
		c.vars[k] = v
	}
	for k, v := range vars {
		c.vars[k] = v
	}
	return &c
}

// writeSample writes the sample spreadsheet and returns its path.
func writeSample(t *testing.T, e *cliEnv) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sample.xlsx")
	if code, _, errOut := e.run(t, "sample", "-o", path); code != exitOK {
		t.Fatalf("sample: exit %d, %s", code, errOut)
	}
	return path
}

// The same file imported in English and in Chinese gives the same codes and
// parameters in the same order; only the reasons' language differs.
func TestImportJSONInBothLanguages(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t)
	path := writeSample(t, e)
	imported := map[string]importJSON{}
	for _, lang := range []string{"en", "zh-CN"} {
		code, out, errOut := e.run(t, "--lang", lang, "import", path, "--app-id", "app-1", "--dry-run", "--json")
		if code != exitOK {
			t.Fatalf("--lang %s: exit %d, %s", lang, code, errOut)
		}
		imported[lang] = decodeImportJSON(t, out)
	}
	en, zh := imported["en"], imported["zh-CN"]
	if len(en.Rejections) == 0 || len(en.Warnings) == 0 {
		t.Fatalf("the sample gave %d rejections and %d warnings, want some of each", len(en.Rejections), len(en.Warnings))
	}
	type coded struct {
		Row    int
		Code   string
		Params map[string]string
	}
	codes := func(j importJSON) (out []coded) {
		for _, r := range j.Rejections {
			out = append(out, coded{r.Row, r.Code, r.Params})
		}
		for _, w := range j.Warnings {
			out = append(out, coded{w.Row, w.Code, w.Params})
		}
		return out
	}
	if diff := cmp.Diff(codes(en), codes(zh)); diff != "" {
		t.Errorf("codes and parameters differ between the languages (-en +zh-CN):\n%s", diff)
	}
	for i, r := range zh.Rejections {
		if r.Code == "" || en.Rejections[i].Code == "" {
			t.Errorf("row %d: a rejection without a code: %+v", r.Row, r)
		}
		if !han.MatchString(r.Reason) || r.Reason == en.Rejections[i].Reason {
			t.Errorf("row %d: reasons en %q, zh-CN %q; want English and Chinese", r.Row, en.Rejections[i].Reason, r.Reason)
		}
	}
	for i, w := range zh.Warnings {
		if w.Code == "" || !han.MatchString(w.Reason) || w.Message != w.Reason || w.Reason == en.Warnings[i].Reason {
			t.Errorf("row %d: warning %+v (English %+v); want a code and a Chinese reason and message", w.Row, w, en.Warnings[i])
		}
	}
}

// The text output follows --lang and ONBOARD_LANG: labels, rejection lines
// and reasons.
func TestImportTextInChinese(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t)
	path := writeSample(t, e)
	zh := locale.New(locale.Chinese)
	for name, run := range map[string]func() (int, string, string){
		"--lang": func() (int, string, string) {
			return e.run(t, "import", path, "--lang", "zh-CN", "--app-id", "app-1", "--dry-run")
		},
		"ONBOARD_LANG": func() (int, string, string) {
			return withVars(e, map[string]string{"ONBOARD_LANG": "zh-CN"}).run(t, "import", path, "--app-id", "app-1", "--dry-run")
		},
	} {
		code, out, errOut := run()
		if code != exitOK {
			t.Fatalf("%s: exit %d, %s", name, code, errOut)
		}
		for _, want := range []string{zh.T("cli.import.dry_run"), "行数：", "通过：", zh.T("cli.import.rejections"), zh.T("cli.import.warnings")} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: output lacks %q:\n%s", name, want, out)
			}
		}
		line := regexp.MustCompile(`(?m)^  第 \d+ 行，列 [^：]+：(.+)$`).FindStringSubmatch(out)
		if line == nil || !han.MatchString(line[1]) {
			t.Errorf("%s: no Chinese rejection line:\n%s", name, out)
		}
		if strings.Contains(out, "accepted:") || strings.Contains(out, "row ") {
			t.Errorf("%s: English left in the output:\n%s", name, out)
		}
	}
	// A refused file is refused in Chinese.
	bad := filepath.Join(t.TempDir(), "orgs.xlsx")
	if err := os.WriteFile(bad, []byte("not a workbook"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := e.run(t, "--lang", "zh-CN", "import", bad, "--app-id", "app-1")
	if code != exitFailure || !han.MatchString(errOut) || strings.Contains(errOut, "refused") {
		t.Errorf("refused file in Chinese: exit %d, %q", code, errOut)
	}
	if code, _, errOut := e.run(t, "--lang", "zh-CN", "import"); code != exitUsage || !strings.Contains(errOut, "没有给出文件") {
		t.Errorf("usage error in Chinese: exit %d, %q", code, errOut)
	}
}

// export writes the results file in the chosen language, English by
// default, with times in ONBOARD_TIMEZONE or the language's zone.
func TestExportInChosenLanguage(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t)
	path := writeSample(t, e)
	if code, _, errOut := e.run(t, "import", path, "--app-id", "app-1"); code != exitOK {
		t.Fatalf("import: exit %d, %s", code, errOut)
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		name, lang, zone string
		env              *cliEnv
		args             []string
	}{
		{"default", locale.English, "UTC", e, nil},
		{"--lang zh-CN", locale.Chinese, "CST", e, []string{"--lang", "zh-CN"}},
		{"ONBOARD_LANG", locale.Chinese, "CST", withVars(e, map[string]string{"ONBOARD_LANG": "zh-CN"}), nil},
		{"ONBOARD_TIMEZONE", locale.English, "EST|EDT", withVars(e, map[string]string{"ONBOARD_TIMEZONE": "America/New_York"}), nil},
	} {
		out := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".xlsx")
		code, _, errOut := tc.env.run(t, append([]string{"export", "--batch", "1", "-o", out}, tc.args...)...)
		if code != exitOK {
			t.Fatalf("%s: exit %d, %s", tc.name, code, errOut)
		}
		if tc.lang == locale.Chinese && !strings.Contains(errOut, "已写入") {
			t.Errorf("%s: stderr %q, want Chinese", tc.name, errOut)
		}
		note, header := resultsHead(t, out, results.SheetNameIn(tc.lang))
		if want := results.HeadersIn(tc.lang); len(header) < len(want) || !cmp.Equal(header[len(header)-len(want):], want) {
			t.Errorf("%s: header %q, want it to end in %q", tc.name, header, want)
		}
		if !regexp.MustCompile(`\d\d:\d\d (` + tc.zone + `)`).MatchString(note) {
			t.Errorf("%s: note %q, want its time in %s", tc.name, note, tc.zone)
		}
	}
}

// resultsHead reads the note and the header row of a results file.
func resultsHead(t *testing.T, path, sheet string) (note string, header []string) {
	t.Helper()
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := f.GetRows(sheet)
	if err != nil || len(rows) < 2 {
		t.Fatalf("%s: sheet %q: %d rows, %v", path, sheet, len(rows), err)
	}
	return strings.Join(rows[0], " "), rows[1]
}

// template and sample write their sheets in the chosen language.
func TestTemplateAndSampleInBothLanguages(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t)
	dir := t.TempDir()
	for _, cmd := range []string{"template", "sample"} {
		for _, lang := range []string{locale.English, locale.Chinese} {
			path := filepath.Join(dir, cmd+"-"+lang+".xlsx")
			code, _, errOut := e.run(t, "--lang", lang, cmd, "-o", path)
			if code != exitOK || (lang == locale.Chinese) != strings.Contains(errOut, "已写入") {
				t.Errorf("%s --lang %s: exit %d, stderr %q", cmd, lang, code, errOut)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var want bytes.Buffer
			write := importer.WriteTemplateIn
			if cmd == "sample" {
				write = importer.WriteSampleIn
			}
			if err := write(&want, lang); err != nil {
				t.Fatal(err)
			}
			if gotSheets, wantSheets := sheetsOf(t, got), sheetsOf(t, want.Bytes()); !cmp.Equal(gotSheets, wantSheets) || gotSheets[0] != importer.TemplateSheetIn(lang) {
				t.Errorf("%s --lang %s: sheets %q, want %q", cmd, lang, gotSheets, wantSheets)
			}
		}
	}
}

func sheetsOf(t *testing.T, b []byte) []string {
	t.Helper()
	f, err := excelize.OpenReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return f.GetSheetList()
}

// status prints states, counts and times in Chinese with --lang zh-CN or
// ONBOARD_LANG; --json keeps the states' codes.
func TestStatusInChinese(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t)
	_, batch := importTestOrgs(t, e, "zh", 2, nil)
	for name, env := range map[string]*cliEnv{"--lang": e, "ONBOARD_LANG": withVars(e, map[string]string{"ONBOARD_LANG": "zh-CN"})} {
		args := []string{"status", "--batch", itoa(batch)}
		if name == "--lang" {
			args = append(args, "--lang", "zh-CN")
		}
		code, out, errOut := env.run(t, args...)
		if code != exitOK {
			t.Fatalf("%s: exit %d, %s", name, code, errOut)
		}
		for _, want := range []string{"批次 " + itoa(batch) + "：2 家企业", "进行中", "排队中", "应用 ", "上次派发"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: status lacks %q:\n%s", name, want, out)
			}
		}
		if strings.Contains(out, "organizations") || strings.Contains(out, "queued") {
			t.Errorf("%s: English in the Chinese status:\n%s", name, out)
		}
	}
	code, out, _ := e.run(t, "--lang", "zh-CN", "status", "--batch", itoa(batch), "--json")
	if code != exitOK || !strings.Contains(out, `"queued":2`) {
		t.Errorf("--json in Chinese: exit %d, %s; want the states' codes", code, out)
	}
	if code, _, errOut := e.run(t, "--lang", "zh-CN", "status", "--batch", "99999"); code != exitFailure || !strings.Contains(errOut, "没有批次 99999") {
		t.Errorf("unknown batch in Chinese: exit %d, %q", code, errOut)
	}
}

// The "ago" of status reads as the language writes it.
func TestAgoInBothLanguages(t *testing.T) {
	t.Parallel()
	at := time.Now().Add(-(time.Minute + 5*time.Second))
	if got := ago(locale.New(locale.English), &at); got != "1m5s ago" {
		t.Errorf("English: %q", got)
	}
	if got := ago(locale.New(locale.Chinese), &at); got != "1分5秒前" {
		t.Errorf("Chinese: %q", got)
	}
	if got := ago(locale.New(locale.Chinese), nil); got != "从未" {
		t.Errorf("Chinese never: %q", got)
	}
}

// ONBOARD_TIMEZONE takes an IANA zone; anything else is a configuration
// error that names it, in the reader's language.
func TestTimeZoneConfig(t *testing.T) {
	t.Parallel()
	get := func(v string) func(string) string {
		return func(k string) string {
			if k == "ONBOARD_TIMEZONE" {
				return v
			}
			return ""
		}
	}
	cfg, err := loadConfig(get(""))
	if err != nil || cfg.TimeZone != nil || cfg.zoneFor(locale.Chinese).String() != "Asia/Shanghai" || cfg.zoneFor(locale.English) != time.UTC {
		t.Errorf("unset: %v, %v; want no zone, each language's default", cfg.TimeZone, err)
	}
	cfg, err = loadConfig(get("Europe/Berlin"))
	if err != nil || cfg.TimeZone.String() != "Europe/Berlin" || cfg.zoneFor(locale.Chinese).String() != "Europe/Berlin" {
		t.Errorf("Europe/Berlin: %v, %v", cfg.TimeZone, err)
	}
	for _, bad := range []string{"Mars/Olympus", "Local", "+08:00"} {
		_, err := loadConfig(get(bad))
		var ce *configError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), "ONBOARD_TIMEZONE") || !strings.Contains(err.Error(), bad) {
			t.Errorf("%q: %v; want an error naming ONBOARD_TIMEZONE", bad, err)
		}
	}
	code, _, errOut := runIn(map[string]string{"ONBOARD_TIMEZONE": "Mars/Olympus", "ONBOARD_LANG": "zh-CN"}, "status")
	if code != exitFailure || !strings.Contains(errOut, "ONBOARD_TIMEZONE：应为 IANA 时区") {
		t.Errorf("status with a bad zone in Chinese: exit %d, %q", code, errOut)
	}
}

// The dashboard's results file and template follow the page's language,
// with times in ONBOARD_TIMEZONE.
func TestServeDownloadsInPageLanguage(t *testing.T) {
	t.Parallel()
	se := startServe(t, map[string]string{"ONBOARD_TIMEZONE": "America/New_York"}, "--addr", "127.0.0.1:0")
	path := filepath.Join(t.TempDir(), "orgs.xlsx")
	writeServeWorkbook(t, path, 2)
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := serveUpload(t, se.url, "orgs.xlsx", content, se.appID, nil)
	loc := strings.Replace(resp.Header.Get("Location"), "?imported=1", "", 1)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/batches/") {
		t.Fatalf("upload: %d, Location %q", resp.StatusCode, loc)
	}
	for _, lang := range []string{locale.English, locale.Chinese} {
		body := serveGet(t, se.url+loc+"/results.xlsx", lang)
		out := filepath.Join(t.TempDir(), "results.xlsx")
		if err := os.WriteFile(out, body, 0o600); err != nil {
			t.Fatal(err)
		}
		note, header := resultsHead(t, out, results.SheetNameIn(lang))
		if want := results.HeadersIn(lang); len(header) < len(want) || !cmp.Equal(header[len(header)-len(want):], want) {
			t.Errorf("%s: results header %q, want it to end in %q", lang, header, want)
		}
		if !regexp.MustCompile(`\d\d:\d\d (EST|EDT)`).MatchString(note) {
			t.Errorf("%s: results note %q, want New York time", lang, note)
		}
		if sheets := sheetsOf(t, serveGet(t, se.url+"/template.xlsx", lang)); sheets[0] != importer.TemplateSheetIn(lang) {
			t.Errorf("%s: template sheets %q, want %q first", lang, sheets, importer.TemplateSheetIn(lang))
		}
	}
}

// serveGet downloads url asking for lang.
func serveGet(t *testing.T, url, lang string) []byte {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Accept-Language", lang)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %.300s", url, resp.StatusCode, b)
	}
	return b
}
