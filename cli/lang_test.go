package cli

import (
	"bytes"
	"context"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/ess-onboard/onboard/locale"
)

// runIn runs the command line with the environment vars and returns its
// exit code, standard output and standard error.
func runIn(vars map[string]string, args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	env := &Env{Getenv: func(k string) string { return vars[k] }, Stdin: strings.NewReader(""), Stdout: &stdout, Stderr: &stderr}
	code := run(context.Background(), args, env)
	return code, stdout.String(), stderr.String()
}

// flagLine is a flag's line in --help: "  -name type".
var flagLine = regexp.MustCompile(`(?m)^  -([a-z][a-z0-9-]*)`)

// The language is chosen by --lang (before or after the command), then
// ONBOARD_LANG, then LC_ALL, LC_MESSAGES and LANG; with none, English. A
// language onboard does not speak is a usage error.
func TestLanguageChoice(t *testing.T) {
	t.Parallel()
	zh, en := locale.New(locale.Chinese).T("cli.usage"), locale.New(locale.English).T("cli.usage")
	for _, tc := range []struct {
		name string
		vars map[string]string
		args []string
		want string
	}{
		{"nothing set", nil, []string{"status", "--help"}, en},
		{"--lang first", nil, []string{"--lang", "zh-CN", "status", "--help"}, zh},
		{"--lang= after the command", nil, []string{"status", "--lang=zh-CN", "--help"}, zh},
		{"ONBOARD_LANG", map[string]string{"ONBOARD_LANG": "zh-CN"}, []string{"status", "--help"}, zh},
		{"--lang over ONBOARD_LANG", map[string]string{"ONBOARD_LANG": "zh-CN"}, []string{"--lang", "en", "status", "--help"}, en},
		{"LANG", map[string]string{"LANG": "zh_CN.UTF-8"}, []string{"status", "--help"}, zh},
		{"LC_ALL over LANG", map[string]string{"LC_ALL": "en_US.UTF-8", "LANG": "zh_CN.UTF-8"}, []string{"status", "--help"}, en},
	} {
		code, out, errOut := runIn(tc.vars, tc.args...)
		if code != exitOK || !strings.HasPrefix(out, tc.want+" onboard status") {
			t.Errorf("%s: exit %d, help begins %q (stderr %q); want %q", tc.name, code, firstLine(out), errOut, tc.want)
		}
	}
	if code, _, errOut := runIn(nil, "--lang", "fr", "status"); code != exitUsage || !strings.Contains(errOut, `"fr"`) {
		t.Errorf("--lang fr: exit %d, %q; want a usage error naming it", code, errOut)
	}
	if code, _, errOut := runIn(map[string]string{"ONBOARD_LANG": "klingon"}, "status"); code != exitUsage || !strings.Contains(errOut, "ONBOARD_LANG") {
		t.Errorf("ONBOARD_LANG=klingon: exit %d, %q; want a usage error naming it", code, errOut)
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// Every command's summary, description and flags come from the catalogues,
// and its --help in Chinese holds no English word outside the usage line,
// flag names, defaults and the names onboard and the platform give things.
func TestHelpInBothLanguages(t *testing.T) {
	t.Parallel()
	en := locale.New(locale.English)
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		for _, id := range []string{"cli.summary." + name, "cli.help." + name} {
			if !en.Has(id) {
				t.Errorf("the catalogues lack %s", id)
			}
		}
		_, out, _ := runIn(nil, name, "--help")
		for _, m := range flagLine.FindAllStringSubmatch(out, -1) {
			if id := "cli.flag." + name + "." + m[1]; m[1] != "lang" && !en.Has(id) {
				t.Errorf("the catalogues lack %s", id)
			}
		}
		_, out, _ = runIn(nil, "--lang", "zh-CN", name, "--help")
		if words := englishIn(out); len(words) > 0 {
			t.Errorf("onboard %s --help in Chinese holds English: %s\n%s", name, strings.Join(words, ", "), out)
		}
	}
	_, out, _ := runIn(nil, "--lang", "zh-CN", "--help")
	if words := englishIn(out); len(words) > 0 {
		t.Errorf("onboard --help in Chinese holds English: %s\n%s", strings.Join(words, ", "), out)
	}
}

// englishIn lists the English words of a Chinese text once the usage line,
// flags, defaults, variables, URLs, quoted code and allowed names are taken out.
func englishIn(text string) []string {
	var lines []string
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "用法： onboard ") || flagLine.MatchString(line) {
			continue // the usage line and the flag lines name flags and their arguments
		}
		lines = append(lines, line)
	}
	s := strings.Join(lines, "\n")
	for _, re := range notWords {
		s = re.ReplaceAllString(s, " ")
	}
	seen := map[string]bool{}
	var out []string
	for _, w := range cliWord.FindAllString(s, -1) {
		if !cliAllowed[strings.ToLower(w)] && !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}

var (
	cliWord  = regexp.MustCompile(`[A-Za-z][A-Za-z_]*[A-Za-z]`)
	notWords = []*regexp.Regexp{
		regexp.MustCompile("`[^`]*`"),                             // quoted code
		regexp.MustCompile(`'[^']*'`),                             // quoted commands
		regexp.MustCompile(`[a-z]+://\S+`),                        // URLs
		regexp.MustCompile(`\S+\.(xlsx|zip|png|jpe?g|txt)\b`),     // file names
		regexp.MustCompile(`--?[a-z][a-z0-9-]*`),                  // flags
		regexp.MustCompile(`\b[A-Z][A-Z0-9]*(_[A-Z0-9]+)+\b`),     // variables and constants
		regexp.MustCompile(`\(default [^)]*\)`),                   // flag defaults (the flag package's words)
		regexp.MustCompile(`onboard [a-z]+`),                      // commands
		regexp.MustCompile(`[\w.]+:\d+`),                          // addresses
		regexp.MustCompile(`(?m)^  [a-z]+ +`),                     // the command list's names
		regexp.MustCompile(`"[a-z_]+"`),                           // JSON keys
		regexp.MustCompile(`\S*/[A-Za-z][A-Za-z0-9/._-]*`),        // paths and zones (/metrics, Asia/Shanghai)
		regexp.MustCompile(`(?i)\b[\w-]+(\.[\w-]+)*\.(com|md)\b`), // host and document names
		regexp.MustCompile(`\b(zh-CN|en)\b`),                      // language tags
	}
	// cliAllowed are names a Chinese text keeps: the product and the
	// platform's and programs' names, formats, units, API actions and fields.
	cliAllowed = func() map[string]bool {
		m := map[string]bool{}
		for _, w := range strings.Fields(`onboard essbasic postgres redis asynq asynqmon excel wps xlsx zip json csv
			png jpeg http https tls ip api id url dsn cron utc cst mib kib gib sigterm sigkill ctrl prometheus
			appid openid secretid secretkey requestid msgid sentinel docker
			syncproxyorganization describechannelorganizations modifyextendedservice describeextendedserviceauthinfo
			createconsoleloginurl proxyorganizationopenid proxyorganizationname string int duration float value
			uint bool true false null post bearer hsts dns pem host agent iana lang businesslicense
			sha ms`) {
			m[w] = true
		}
		return m
	}()
)

// opsNotWords are further codes and syntax a Chinese text keeps, taken out
// after notWords.
var opsNotWords = []*regexp.Regexp{
	regexp.MustCompile(`\bzh-CN\b|\ben\b`),                                   // language tags
	regexp.MustCompile(`\b[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)+(?:\.[A-Z]\w*)?`), // the platform's CamelCase actions, callbacks and fields
	regexp.MustCompile(`\b[A-Z][a-z]+(?:-[A-Z][a-z]+)+\b`),                   // HTTP header names
	regexp.MustCompile(`\b[A-Z][A-Z0-9]+\b`),                                 // upper-case codes, states and acronyms
	regexp.MustCompile(`"[a-z_]+"`),                                          // JSON keys and literal values
	regexp.MustCompile(`/[\w./-]+`),                                          // URL paths
}

func init() { notWords = append(notWords, opsNotWords...) }
