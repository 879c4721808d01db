package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/ess-onboard/onboard/importer"
	"github.com/ess-onboard/onboard/internal/testenv"
	"github.com/ess-onboard/onboard/locale"
	"github.com/ess-onboard/onboard/results"
)

// TestDemo runs 'onboard demo' to the end: every organization of the sample
// final, the summary printed, the sample and the results file written.
func TestDemo(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t)
	// The demo keeps its work in Redis for seconds; db 3 is flushed by
	// other tests of this package, so it runs on db 6 (its queues carry a
	// prefix of their own and are removed at the end).
	redisURL, _ := testenv.IsolatedRedis(t, 6)
	e.vars["REDIS_URL"] = redisURL
	out := t.TempDir()
	code, stdout, stderr := e.run(t, "demo", "--out", out, "--timeout", "2m", "--serve", "")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"simulator on http://127.0.0.1:", fmt.Sprintf("finished: %d organizations", importer.SampleAccepted), "done",
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

// TestDemoEndsWithTheDashboard runs the demo as 'make demo' does: after the
// summary it serves the dashboard, which lists the demo's batch, until it is
// stopped; with CI=true it ends after the summary instead.
func TestDemoEndsWithTheDashboard(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t)
	redisURL, _ := testenv.IsolatedRedis(t, 6)
	e.vars["REDIS_URL"] = redisURL
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stdout := &lockedBuffer{}
	env := &Env{Getenv: func(k string) string { return e.vars[k] }, Stdin: strings.NewReader(""), Stdout: stdout, Stderr: io.Discard}
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, []string{"demo", "--out", t.TempDir(), "--timeout", "2m", "--serve", "127.0.0.1:0"}, env)
	}()
	addr := regexp.MustCompile(`dashboard: (http://127\.0\.0\.1:\d+/)`)
	var url string
	testenv.WaitFor(t, 3*time.Minute, "the demo's dashboard", func() bool {
		select {
		case code := <-exited:
			t.Fatalf("demo exited with %d before serving the dashboard:\n%s", code, stdout)
		default:
		}
		m := addr.FindStringSubmatch(stdout.String())
		if m != nil {
			url = m[1]
		}
		return m != nil
	})
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "sample.xlsx") || !strings.Contains(string(body), "onboard-demo-") {
		t.Errorf("GET %s: %s; page lacks the demo's batch:\n%.2000s", url, resp.Status, body)
	}
	cancel()
	select {
	case code := <-exited:
		if code != 0 {
			t.Errorf("demo exited with %d after Ctrl-C", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("demo still serving 30s after it was stopped")
	}

	e.vars["CI"] = "true"
	code, out, stderr := e.run(t, "demo", "--out", t.TempDir(), "--timeout", "2m")
	if code != 0 || !strings.Contains(out, "CI=true: not starting the dashboard") {
		t.Errorf("with CI=true: exit %d\n%s\n%s", code, out, stderr)
	}
}

// TestDemoInChinese runs 'onboard --lang zh-CN demo' as CI does: it says
// what it does in Chinese, writes the sample and the results file in
// Chinese, and still brings every company of the sample to a final state.
func TestDemoInChinese(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t)
	redisURL, _ := testenv.IsolatedRedis(t, 6)
	e.vars["REDIS_URL"] = redisURL
	e.vars["CI"] = "true"
	out := t.TempDir()
	code, stdout, stderr := e.run(t, "--lang", "zh-CN", "demo", "--out", out, "--timeout", "2m")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	resultsPath := filepath.Join(out, "results.xlsx")
	for _, want := range []string{"示例表格已写入 " + filepath.Join(out, "sample.xlsx"), "模拟器地址 http://127.0.0.1:",
		"平台的回调发送到 http://127.0.0.1:", fmt.Sprintf(" 已结束：共 %d 家企业", importer.SampleAccepted), "，已完成 ",
		fmt.Sprintf("；导入时拒绝 %d 行\n", importer.SampleRejected), "其中 0 次因限流被拒绝", "结果文件：" + resultsPath,
		"CI=true：不启动看板"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
	sample, err := excelize.OpenFile(filepath.Join(out, "sample.xlsx"))
	if err != nil {
		t.Fatal(err)
	}
	defer sample.Close()
	if got, want := sample.GetSheetName(0), locale.New(locale.Chinese).T("template.sheet"); got != want {
		t.Errorf("the sample's sheet is %q, want %q", got, want)
	}
	f, err := excelize.OpenFile(resultsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := f.GetRows(results.SheetNameIn(locale.Chinese))
	if err != nil {
		t.Fatal(err)
	}
	headers := strings.Join(results.HeadersIn(locale.Chinese), "\t")
	found := false
	for _, r := range rows {
		found = found || strings.HasSuffix(strings.Join(r, "\t"), headers)
	}
	if !found {
		t.Errorf("results.xlsx has no row ending in the Chinese headers %q:\n%q", headers, rows)
	}
}
