package cli

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"
	"github.com/xuri/excelize/v2"

	"github.com/ess-onboard/onboard/importer"
	"github.com/ess-onboard/onboard/internal/testenv"
	"github.com/ess-onboard/onboard/jobs"
	"github.com/ess-onboard/onboard/locale"
	"github.com/ess-onboard/onboard/repository"
)

// Tests of the serve command use Redis db 4, each under a queue prefix of
// its own (the server's --queue-prefix): they run in parallel.
const serveRedisDB = 4

// serveEnv is a running 'onboard serve' and what it runs on.
type serveEnv struct {
	url     string // http://127.0.0.1:port
	dbURL   string
	redis   string
	prefix  string // the server's --queue-prefix
	stderr  *serveBuffer
	done    chan int
	cancel  context.CancelFunc
	appID   string
	baseEnv map[string]string
}

type serveBuffer struct {
	mu  chan struct{}
	buf bytes.Buffer
}

func newServeBuffer() *serveBuffer { return &serveBuffer{mu: make(chan struct{}, 1)} }

func (b *serveBuffer) Write(p []byte) (int, error) {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.Write(p)
}

func (b *serveBuffer) String() string {
	b.mu <- struct{}{}
	defer func() { <-b.mu }()
	return b.buf.String()
}

// startServe runs 'onboard serve' with args on a fresh database and Redis
// db 4, under a queue prefix of its own, and waits for it to print its
// address.
func startServe(t *testing.T, extraEnv map[string]string, args ...string) *serveEnv {
	t.Helper()
	dbURL := testenv.NewDatabase(t)
	redisURL, prefix := testenv.IsolatedRedis(t, serveRedisDB)
	args = append(args, "--queue-prefix", prefix)
	vars := map[string]string{"DATABASE_URL": dbURL, "REDIS_URL": redisURL, "ESS_APP_ID": "app-web-test"}
	for k, v := range extraEnv {
		vars[k] = v
	}
	pr, pw := io.Pipe()
	se := &serveEnv{dbURL: dbURL, redis: redisURL, prefix: prefix, stderr: newServeBuffer(), done: make(chan int, 1), appID: vars["ESS_APP_ID"], baseEnv: vars}
	env := &Env{Getenv: func(k string) string { return vars[k] }, Stdin: strings.NewReader(""), Stdout: pw, Stderr: se.stderr}
	ctx, cancel := context.WithCancel(context.Background())
	se.cancel = cancel
	go func() {
		code := run(ctx, append([]string{"serve"}, args...), env)
		pw.Close()
		se.done <- code
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	go io.Copy(io.Discard, pr)
	if err != nil {
		cancel()
		t.Fatalf("serve printed no address (exit %d): %v\nstderr: %s", <-se.done, err, se.stderr)
	}
	m := regexp.MustCompile(`http://(\S+?)/`).FindStringSubmatch(line)
	if m == nil {
		cancel()
		t.Fatalf("serve printed %q, no address", line)
	}
	se.url = "http://" + m[1]
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-se.done:
			if code != 0 {
				t.Errorf("serve exited %d after shutdown; stderr:\n%s", code, se.stderr)
			}
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop within 30s of its context ending")
		}
	})
	return se
}

// count runs a counting query on the serve test's database.
func (se *serveEnv) count(t *testing.T, sql string) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, se.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// pendingSyncTasks counts org:sync tasks waiting in Redis.
func (se *serveEnv) pendingSyncTasks(t *testing.T) int {
	t.Helper()
	return se.count(t, `SELECT count(*) FROM work WHERE kind = 'sync'`)
}

// writeServeWorkbook writes an onboarding spreadsheet with a title row, valid
// rows and one row with a bad credit code.
func writeServeWorkbook(t *testing.T, path string, valid int) {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	sh := f.GetSheetName(0)
	rows := [][]any{
		{"子公司开通清单"},
		{"企业标识", "企业名称", "统一社会信用代码", "法定代表人", "证件号码", "扩展服务"},
	}
	for i := 0; i < valid; i++ {
		rows = append(rows, []any{fmt.Sprintf("web-org-%03d", i), fmt.Sprintf("网页测试公司%03d(北京)", i), "91350100M000100Y43", "张三", "11010519491231002X", "AUTO_SIGN,MOBILE_CHECK_APPROVER"})
	}
	rows = append(rows, []any{"web-org-bad", "坏数据公司", "91350100M000100Y44", "李四", "11010519491231002X", ""})
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow(sh, cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
}

// upload posts a file through the upload form as a browser on the same
// origin would and returns the response (redirects not followed).
func serveUpload(t *testing.T, base, name string, content []byte, appID string, header map[string]string) (*http.Response, string) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if appID != "" {
		mw.WriteField("app_id", appID)
	}
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write(content)
	mw.Close()
	req, _ := http.NewRequest("POST", base+"/upload", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func TestServeRefusesOpenNonLoopback(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	env := &Env{Getenv: func(string) string { return "" }, Stdout: &out, Stderr: &errb}
	code := run(context.Background(), []string{"serve", "--addr", "0.0.0.0:0"}, env)
	if code != exitFailure || !strings.Contains(errb.String(), "ONBOARD_DASHBOARD_TOKEN") {
		t.Fatalf("serve on 0.0.0.0 without credentials: exit %d, stderr %q", code, errb.String())
	}
	if out.Len() != 0 {
		t.Errorf("printed an address although it refused to start: %q", out.String())
	}
}

func TestServeAuthenticationOffLoopback(t *testing.T) {
	t.Parallel()
	se := startServe(t, map[string]string{"ONBOARD_DASHBOARD_TOKEN": "tok-123"}, "--addr", "0.0.0.0:0")
	se.url = strings.Replace(se.url, "0.0.0.0", "127.0.0.1", 1)
	se.url = strings.Replace(se.url, "[::]", "127.0.0.1", 1)
	for _, path := range []string{"/", "/upload", "/monitoring/", "/metrics", "/template.xlsx", "/batches/1"} {
		resp, err := http.Get(se.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s without credentials: %d, want 401", path, resp.StatusCode)
		}
	}
	resp, body := serveUpload(t, se.url, "orgs.xlsx", []byte("whatever"), se.appID, nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("upload without credentials: %d, want 401", resp.StatusCode)
	}
	_ = body
	req, _ := http.NewRequest("GET", se.url+"/monitoring/api/queues", nil)
	req.Header.Set("Authorization", "Bearer tok-123")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("asynqmon API with the token: %d", resp.StatusCode)
	}
	if n := se.count(t, `SELECT count(*) FROM batches`); n != 0 {
		t.Errorf("an unauthenticated upload stored %d batches", n)
	}
}

func TestServeUploadRefusals(t *testing.T) {
	t.Parallel()
	se := startServe(t, nil, "--addr", "127.0.0.1:0", "--max-upload", "20000")
	dir := t.TempDir()
	good := filepath.Join(dir, "orgs.xlsx")
	writeServeWorkbook(t, good, 2)
	xlsx, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	big := append(bytes.Clone(xlsx), bytes.Repeat([]byte{0}, 30000)...)
	for _, tc := range []struct {
		name, file string
		content    []byte
		status     int
		message    string
	}{
		{"NotXLSX", "orgs.csv", []byte("企业标识,企业名称\no1,公司\n"), http.StatusUnprocessableEntity, "only .xlsx workbooks, or .zip files"},
		{"XLSXNameButText", "orgs.xlsx", []byte("this is not a workbook"), http.StatusUnprocessableEntity, "was refused"},
		{"TooLarge", "big.xlsx", big, http.StatusRequestEntityTooLarge, "larger than the upload limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := serveUpload(t, se.url, tc.file, tc.content, se.appID, nil)
			if resp.StatusCode != tc.status || !strings.Contains(body, tc.message) || !strings.Contains(body, "<form") {
				t.Errorf("status %d (want %d); page lacks %q or the form again:\n%.2000s", resp.StatusCode, tc.status, tc.message, body)
			}
		})
	}
	if n := se.count(t, `SELECT count(*) FROM batches`) + se.count(t, `SELECT count(*) FROM organizations`); n != 0 {
		t.Errorf("refused uploads stored %d batches and organizations", n)
	}
	if n := se.pendingSyncTasks(t); n != 0 {
		t.Errorf("refused uploads made %d organizations due", n)
	}

	// The same file within the limit goes in, and its work is queued.
	resp, body := serveUpload(t, se.url, "orgs.xlsx", xlsx, se.appID, nil)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/batches/") {
		t.Fatalf("upload of a good file: %d %s\n%.2000s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	if n := se.count(t, `SELECT count(*) FROM organizations`); n != 2 {
		t.Errorf("organizations stored: %d, want 2", n)
	}
	if n := se.pendingSyncTasks(t); n != 2 {
		t.Errorf("organizations due for sync: %d, want 2", n)
	}

	// /metrics counts the organizations by state and the queue's tasks.
	r, err := http.Get(se.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(r.Body)
	r.Body.Close()
	for _, want := range []string{
		`onboard_organizations{app_id="` + se.appID + `",state="queued"} 2`,
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// The results file of the batch and the template download as workbooks.
	for _, path := range []string{resp.Header.Get("Location") + "/results.xlsx", "/template.xlsx"} {
		path = strings.Replace(path, "?imported=1", "", 1)
		r, err := http.Get(se.url + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if r.StatusCode != 200 || !strings.Contains(r.Header.Get("Content-Disposition"), ".xlsx") {
			t.Errorf("GET %s: %d %q", path, r.StatusCode, r.Header.Get("Content-Disposition"))
			continue
		}
		wb, err := excelize.OpenReader(bytes.NewReader(body))
		if err != nil {
			t.Errorf("GET %s: not a workbook: %v", path, err)
			continue
		}
		rows, _ := wb.GetRows(wb.GetSheetName(0))
		wb.Close()
		if len(rows) < 2 {
			t.Errorf("GET %s: %d rows", path, len(rows))
		}
	}

	// A cross-site form post is refused before it reaches the importer.
	resp, _ = serveUpload(t, se.url, "orgs.xlsx", xlsx, se.appID, map[string]string{"Sec-Fetch-Site": "cross-site"})
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site upload: %d, want 403", resp.StatusCode)
	}
	if n := se.count(t, `SELECT count(*) FROM batches`); n != 1 {
		t.Errorf("batches after a cross-site upload: %d, want 1", n)
	}
}

// serveArtifactsDir is where the browser test keeps its screenshots.
func serveArtifactsDir(t *testing.T) string {
	dir := os.Getenv("ONBOARD_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "out", "artifacts")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func serveChromiumPath() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestServeInBrowser drives the dashboard in headless Chromium: with the
// browser asking for Chinese, upload the sample through the form and see
// the batch page in Chinese (navigation, states, reasons, times in
// Shanghai); switch to English with the page's switch and see it in
// English; see asynqmon list the project's queue. Each step leaves a
// screenshot in out/artifacts (or $ONBOARD_ARTIFACTS).
func TestServeInBrowser(t *testing.T) {
	t.Parallel()
	chrome := serveChromiumPath()
	if chrome == "" {
		t.Skip("no Chromium installed (looked for chromium, chromium-browser, google-chrome): the browser test needs one")
	}
	se := startServe(t, nil, "--addr", "127.0.0.1:0")
	dir := t.TempDir()
	file := filepath.Join(dir, "sample.xlsx")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := importer.WriteSample(f); err != nil {
		t.Fatal(err)
	}
	f.Close()
	shots := serveArtifactsDir(t)

	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chrome),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(filepath.Join(dir, "chrome-profile")),
		chromedp.WindowSize(1280, 900),
	)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	defer cancelTimeout()

	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		path := filepath.Join(shots, name)
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s", path)
	}

	store, err := repository.Open(context.Background(), se.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	// pageLang waits for the page to be in lang and returns the text of
	// its main part.
	pageLang := func(lang string) string {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`html[lang="`+lang+`"] main`))); err != nil {
			got, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.lang`))
			t.Fatalf("the page is in %q, want %s: %v", got, lang, err)
		}
		text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`main`)))
		if err != nil {
			t.Fatal(err)
		}
		return text
	}
	navText := func() string {
		t.Helper()
		nav, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`header.top`)))
		if err != nil {
			t.Fatal(err)
		}
		return nav
	}

	// The browser asks for Chinese, as an operator's in China does.
	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders,
		network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.6"}}); err != nil {
		t.Fatalf("ask for Chinese: %v", err)
	}

	// The batches page with its upload form, in Chinese.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(se.url+"/"),
		chromedp.WaitVisible(chromedp.CSS(`form.upload input[type=file]`)),
	); err != nil {
		t.Fatalf("open the dashboard: %v\nserve stderr:\n%s", err, se.stderr)
	}
	text := pageLang(locale.Chinese)
	for _, want := range []string{"批次", "上传", "导入模板", "队列", "监控指标", "English"} {
		if nav := navText(); !strings.Contains(nav, want) {
			t.Errorf("the Chinese navigation lacks %q: %q", want, nav)
		}
	}
	for _, want := range []string{"上传表格", "渠道应用（AppId）", "还没有批次"} {
		if !strings.Contains(text, want) {
			t.Errorf("the Chinese batches page lacks %q:\n%s", want, text)
		}
	}
	appID, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(`form.upload input[name=app_id]`)))
	if err != nil || appID != se.appID {
		t.Fatalf("the form's application: %q (%v), want the ESS_APP_ID default %q", appID, err, se.appID)
	}
	shot("dashboard-batches-empty-zh-CN.png")

	// Upload through the form.
	if err := chromedp.Do(ctx,
		chromedp.SetUploadFiles(chromedp.CSS(`form.upload input[type=file]`), []string{file}),
		chromedp.Click(chromedp.CSS(`form.upload button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`section.card table.states`)),
	); err != nil {
		t.Fatalf("upload through the form: %v\nserve stderr:\n%s", err, se.stderr)
	}
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	m := regexp.MustCompile(`/batches/(\d+)`).FindStringSubmatch(loc)
	if m == nil {
		t.Fatalf("after the upload the browser is at %s, want a batch page", loc)
	}
	batch, _ := strconv.ParseInt(m[1], 10, 64)

	// The batch page in Chinese: its states, its rejected rows with their
	// reasons rendered from their codes, times in Shanghai.
	text = pageLang(locale.Chinese)
	for _, want := range []string{
		"已导入 sample.xlsx",
		fmt.Sprintf("%d（接受 %d，拒绝 %d）", importer.SampleAccepted+importer.SampleRejected, importer.SampleAccepted, importer.SampleRejected),
		fmt.Sprintf("0 / %d (0%%)", importer.SampleAccepted),
		"排队中",           // the organizations' state
		"被拒绝的行",         // the rejected rows
		"下载导入结果（.xlsx）", // the results file
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the Chinese batch page lacks %q:\n%s", want, text)
		}
	}
	if nav := navText(); !strings.Contains(nav, "批次") || !strings.Contains(nav, "导入模板") {
		t.Errorf("the batch page's navigation is not Chinese: %q", nav)
	}
	rejections, err := store.BatchRejections(context.Background(), batch, 1000)
	if err != nil || len(rejections) != importer.SampleRejected {
		t.Fatalf("rejections of batch %d: %d, %v", batch, len(rejections), err)
	}
	zh := locale.New(locale.Chinese)
	coded := 0
	for _, r := range rejections {
		for _, e := range r.Reasons {
			want := zh.Reason(e.Code, e.Params, e.Reason)
			if e.Column != "" {
				want = e.Column + "：" + want
			}
			want = importer.MaskIDs(want)
			if !strings.Contains(text, want) {
				t.Errorf("row %d: the Chinese page lacks its reason %q", r.Row, want)
			}
			if e.Code != "" && zh.Has("reason."+e.Code) {
				coded++
				if e.Reason != "" && strings.Contains(text, e.Reason) {
					t.Errorf("row %d: the Chinese page shows the stored English reason %q", r.Row, e.Reason)
				}
			}
		}
	}
	t.Logf("%d of the sample's reasons carry a catalogued code and show in Chinese; the others show their stored text", coded)
	when, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`(() => { const t = document.querySelector('dl.facts time'); return t ? [t.textContent, t.title] : [] })()`))
	if err != nil || len(when) != 2 || !strings.HasSuffix(when[0], " CST") || !strings.HasSuffix(when[1], " UTC") {
		t.Errorf("the import time on the Chinese page: %q (%v), want Shanghai time with UTC in its tooltip", when, err)
	}
	shot("dashboard-batch-zh-CN.png")

	// The switch on the page turns it to English, and the choice stays.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`header.top nav.lang a[hreflang=en]`))); err != nil {
		t.Fatalf("switch to English: %v", err)
	}
	text = pageLang(locale.English)
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.Contains(loc, "/batches/"+m[1]) || strings.Contains(loc, "lang=") {
		t.Errorf("after the switch the browser is at %s, want the same batch page without ?lang=", loc)
	}
	if nav := navText(); !strings.Contains(nav, "Batches") || !strings.Contains(nav, "Template") || !strings.Contains(nav, "简体中文") {
		t.Errorf("the English navigation: %q", nav)
	}
	for _, want := range []string{
		"sample.xlsx",
		fmt.Sprintf("%d (%d accepted, %d rejected)", importer.SampleAccepted+importer.SampleRejected, importer.SampleAccepted, importer.SampleRejected),
		fmt.Sprintf("0 / %d (0%%)", importer.SampleAccepted), // the progress of the organizations
		"queued",                   // their state
		"Rejected rows",            // the rejected rows, with their reasons
		"Download results (.xlsx)", // the results file
	} {
		if !strings.Contains(text, want) {
			t.Errorf("batch page lacks %q:\n%s", want, text)
		}
	}
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('.progress .bar').length`)); err != nil || n != 1 {
		t.Errorf("progress bars on the batch page: %d (%v), want 1", n, err)
	}
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('table.rows tbody tr').length`)); err != nil || n < importer.SampleRejected {
		t.Errorf("rejected rows listed: %d (%v), want at least %d", n, err, importer.SampleRejected)
	}
	shot("dashboard-batch-en.png")

	// The batches list, still in English (the browser still asks for
	// Chinese: the switch's choice wins), shows the batch with its
	// progress bar.
	if err := chromedp.Do(ctx, chromedp.Navigate(se.url+"/"), chromedp.WaitVisible(chromedp.CSS(`table.batches .progress`))); err != nil {
		t.Fatalf("batches list: %v", err)
	}
	if text := pageLang(locale.English); !strings.Contains(text, "Upload a spreadsheet") || !strings.Contains(text, "queued") {
		t.Errorf("the English batches list:\n%s", text)
	}
	shot("dashboard-batches-en.png")

	// The workers' dispatcher hands the upload's work to the queue;
	// asynqmon lists the queue it filled.
	opt, err := asynq.ParseRedisURI(se.redis)
	if err != nil {
		t.Fatal(err)
	}
	client := asynq.NewClient(opt)
	defer client.Close()
	disp := &jobs.Dispatcher{Store: store, Queue: &jobs.Queue{Client: client, Prefix: se.prefix}, AppIDs: []string{se.appID}}
	if n, err := disp.Tick(context.Background()); err != nil || n != importer.SampleAccepted {
		t.Fatalf("dispatch of the upload's work: %d tasks, %v; want %d", n, err, importer.SampleAccepted)
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(se.url+"/monitoring/"),
		chromedp.Poll[chromedp.Void](`document.body && document.body.innerText.includes(`+"`"+se.prefix+jobs.QueueSync+"`"+`)`,
			chromedp.WithPollingTimeout(60*time.Second)),
	); err != nil {
		body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`body`)))
		t.Fatalf("asynqmon does not list %s: %v\npage text:\n%s", se.prefix+jobs.QueueSync, err, body)
	}
	shot("dashboard-monitoring.png")
}

// exec runs a statement on the serve test's database.
func (se *serveEnv) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, se.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// post sends a same-origin form post and returns the status and redirect.
func (se *serveEnv) post(t *testing.T, path, form string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", se.url+path, strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location")
}

func (se *serveEnv) page(t *testing.T, path string) string {
	t.Helper()
	resp, err := http.Get(se.url + path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d\n%s", path, resp.StatusCode, b)
	}
	return string(b)
}

// TestServeRetryAndResume: the batch page lists failed organizations with
// their error and retries them; it shows a paused application and resumes it.
func TestServeRetryAndResume(t *testing.T) {
	t.Parallel()
	se := startServe(t, nil, "--addr", "127.0.0.1:0")
	path := filepath.Join(t.TempDir(), "orgs.xlsx")
	writeServeWorkbook(t, path, 3)
	xlsx, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := serveUpload(t, se.url, "orgs.xlsx", xlsx, se.appID, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("upload: %d", resp.StatusCode)
	}
	batch := strings.TrimSuffix(resp.Header.Get("Location"), "?imported=1")

	// Two organizations failed (as the workers record it).
	se.exec(t, `UPDATE organizations SET state = 'failed', last_error_code = 'InvalidParameter.OrganizationName',
		last_error_message = 'name does not match the license', last_request_id = 'req-42'
		WHERE open_id IN ('web-org-000', 'web-org-001')`)
	body := se.page(t, batch)
	for _, want := range []string{"Failed organizations <span class=\"count\">2", "InvalidParameter.OrganizationName", "name does not match the license", "req-42", "Retry failed organizations"} {
		if !strings.Contains(body, want) {
			t.Errorf("batch page lacks %q", want)
		}
	}
	code, loc := se.post(t, batch+"/retry", "")
	if code != http.StatusSeeOther || !strings.Contains(loc, "retried=2") {
		t.Fatalf("retry: %d %s", code, loc)
	}
	if n := se.count(t, `SELECT count(*) FROM organizations WHERE state = 'queued' AND last_error_code IS NULL`); n != 3 {
		t.Errorf("queued organizations after the retry: %d, want 3", n)
	}
	if n := se.pendingSyncTasks(t); n != 3 {
		t.Errorf("organizations due for sync after the retry: %d, want the 3 of the upload (2 of them again)", n)
	}
	if body := se.page(t, loc); !strings.Contains(body, "Queued 2 failed organizations again") {
		t.Errorf("the batch page after a retry does not say so")
	}

	// The application is paused (as the workers do on a systemic error).
	se.exec(t, `INSERT INTO applications (app_id, paused_at, pause_action, pause_code, pause_message)
		VALUES ($1, now(), 'SyncProxyOrganization', 'AuthFailure.SecretIdNotFound', 'bad key')
		ON CONFLICT (app_id) DO UPDATE SET paused_at = now(), pause_code = excluded.pause_code`, se.appID)
	se.exec(t, `UPDATE batches SET blocked_reason = 'application paused: AuthFailure.SecretIdNotFound'`)
	body = se.page(t, batch)
	if !strings.Contains(body, "Application paused:") || !strings.Contains(body, "Resume application "+se.appID) {
		t.Fatalf("the batch page does not offer to resume the paused application")
	}
	code, loc = se.post(t, "/apps/"+se.appID+"/resume", "batch="+strings.TrimPrefix(batch, "/batches/"))
	if code != http.StatusSeeOther || !strings.Contains(loc, "resumed=3") {
		t.Fatalf("resume: %d %s", code, loc)
	}
	if n := se.count(t, `SELECT count(*) FROM applications WHERE paused_at IS NOT NULL`) + se.count(t, `SELECT count(*) FROM batches WHERE blocked_reason IS NOT NULL`); n != 0 {
		t.Errorf("still paused or blocked after resume: %d", n)
	}
	if body := se.page(t, loc); strings.Contains(body, "Application paused:") || !strings.Contains(body, "Resumed application") {
		t.Errorf("the batch page after resume still shows the pause or no notice")
	}
}
