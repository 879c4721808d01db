package web

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/importer"
	"github.com/ess-onboard/onboard/intake"
	"github.com/ess-onboard/onboard/internal/testenv"
	"github.com/ess-onboard/onboard/locale"
	"github.com/ess-onboard/onboard/repository"
)

// The fixture's times: imports at noon UTC, which is 20:00 in Shanghai.
var fixtureTime = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

// dashboardFixture is a Postgres database holding batches that show every
// part of the dashboard, and the texts in it that are data (what users
// and the platform wrote, and what onboard stored before reasons had
// codes), which may be in any language.
type dashboardFixture struct {
	store *repository.Store
	full  int64 // a batch with every section filled
	quiet int64 // a batch with one queued organization and nothing else
	many  int64 // a batch of rejected rows only, more than the page lists
	data  []string
	// reasonCodes are the catalogued reason codes the full batch's
	// rejected rows carry, one row each.
	reasonCodes []string
	// apiCodes are the platform error codes the failed organizations
	// have, one organization each; the catalogued ones first.
	apiCodes []string
}

// rowSource yields a slice of rows, as an importer.Reader would.
type rowSource struct {
	rows []*onboard.Row
	i    int
}

func (s *rowSource) Next() (*onboard.Row, error) {
	if s.i >= len(s.rows) {
		return nil, io.EOF
	}
	s.i++
	return s.rows[s.i-1], nil
}

var fixtureHeaders = []string{"企业标识", "企业名称", "扩展服务"}

func fixtureRow(n int, openID, name string, services ...onboard.ServiceType) *onboard.Row {
	svc := make([]string, len(services))
	for i, s := range services {
		svc[i] = string(s)
	}
	return &onboard.Row{Number: n, Cells: []string{openID, name, strings.Join(svc, ",")},
		Data: onboard.OrgData{OpenID: openID, Name: name, AdminOpenID: "admin-" + openID, Services: services}}
}

// catalogued lists the codes of the messages with prefix in the
// catalogues ("reason.", "apierr.").
func catalogued(t *testing.T, prefix string) []string {
	t.Helper()
	ids, err := locale.IDs(locale.English)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, id := range ids {
		if code, ok := strings.CutPrefix(id, prefix); ok {
			out = append(out, code)
		}
	}
	return out
}

var templateParam = regexp.MustCompile(`\{\{\s*\.(\w+)`)

// sampleParams gives every parameter the message of id names a value
// without letters, so that any English word on the page is the catalogue's.
func sampleParams(t *testing.T, id string) map[string]string {
	t.Helper()
	params := map[string]string{}
	for _, text := range catalogueTexts(t, id) {
		for _, m := range templateParam.FindAllStringSubmatch(text, -1) {
			params[m[1]] = "7"
		}
	}
	return params
}

// catalogueTexts are the texts of message id in every catalogue file.
func catalogueTexts(t *testing.T, id string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "locale", "catalog", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		buf, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(buf, &m); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		raw, ok := m[id]
		if !ok {
			continue
		}
		var s string
		if json.Unmarshal(raw, &s) == nil {
			out = append(out, s)
			continue
		}
		var forms map[string]string
		if err := json.Unmarshal(raw, &forms); err != nil {
			t.Fatalf("%s: %s: %v", f, id, err)
		}
		for _, v := range forms {
			out = append(out, v)
		}
	}
	return out
}

func newDashboardFixture(t *testing.T) *dashboardFixture {
	t.Helper()
	ctx := context.Background()
	dbURL := testenv.NewDatabase(t)
	st, err := repository.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	if _, err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	fx := &dashboardFixture{store: st, reasonCodes: catalogued(t, "reason."), apiCodes: append(catalogued(t, "apierr."), "InvalidParameter.Uncatalogued")}
	const legacyReason = "is empty"
	const platformMessage = "name does not match the license"
	const blocked = "application app-demo paused: SyncProxyOrganization answered AuthFailure.SecretIdNotFound: bad key; fix the cause, then run 'onboard resume --app-id app-demo'"
	const dispatchError = "dial tcp 127.0.0.1:6379: connection refused"
	const sweepError = "DescribeChannelOrganizations: connection reset by peer"
	fx.data = []string{"子公司开通清单.xlsx", "安静的清单.xlsx", "很多错误.xlsx", "app-demo", "app-quiet", "app-many",
		legacyReason, platformMessage, blocked, dispatchError, sweepError, "企业名称", "统一社会信用代码",
		"https://console.test/activate/o-auth", "https://ess.test/open/o-admin", "admin-o-auth"}

	// The full batch: organizations in every state that shows, rejected
	// rows with every catalogued reason and one stored before codes.
	rows := []*onboard.Row{
		fixtureRow(3, "o-queued", "排队公司（北京）", onboard.ServiceAutoSign),
		fixtureRow(4, "o-admin", "待开通公司", onboard.ServiceAutoSign, onboard.ServiceMobileCheckApprover),
		fixtureRow(5, "o-auth", "待认证公司"),
		fixtureRow(6, "o-done", "完成公司"),
	}
	for i := range fx.apiCodes {
		rows = append(rows, fixtureRow(10+i, fmt.Sprintf("o-failed-%d", i), fmt.Sprintf("失败公司%d", i)))
	}
	// A row imported with warnings: a name changed, a hidden row.
	warned := fixtureRow(7, "o-warned", "警告公司")
	warned.Warnings = []onboard.RowWarning{
		{Row: 7, Field: onboard.FieldName, Code: "name.half_width_brackets", Message: "stored text"},
		{Row: 7, Field: importer.WarnHiddenRow, Code: "row.hidden", Params: map[string]string{"Row": "7"}, Message: "stored text"},
	}
	rows = append(rows, warned)
	n := 100
	legacy := &onboard.Row{Number: n, Cells: []string{"o-legacy", "", ""}, Data: onboard.OrgData{OpenID: "o-legacy"},
		Errors: []onboard.RowError{{Row: n, Column: "企业名称", Field: onboard.FieldName, Reason: legacyReason}}}
	rows = append(rows, legacy)
	for i := range fx.reasonCodes {
		n++
		rows = append(rows, &onboard.Row{Number: n, Cells: []string{fmt.Sprintf("o-rej-%d", i), "", ""}, Data: onboard.OrgData{OpenID: fmt.Sprintf("o-rej-%d", i)},
			Errors: []onboard.RowError{{Row: n, Column: "统一社会信用代码", Field: onboard.FieldCreditCode, Reason: "stored text"}}})
	}
	for _, r := range rows {
		fx.data = append(fx.data, r.Data.OpenID, r.Data.Name, "admin-"+r.Data.OpenID)
	}
	res, err := st.Import(ctx, repository.ImportParams{AppID: "app-demo", FileName: "子公司开通清单.xlsx", FileSHA256: strings.Repeat("ab", 32),
		Sheet: "Sheet1", HeaderRow: 2, Headers: fixtureHeaders, Now: fixtureTime}, &rowSource{rows: rows}, nil)
	if err != nil {
		t.Fatal(err)
	}
	fx.full = res.BatchID
	exec(`UPDATE batches SET created_at = $1`, fixtureTime)
	// Reasons with codes and parameters, as the importer stores them.
	for i, code := range fx.reasonCodes {
		reasons, _ := json.Marshal([]onboard.RowError{{Column: "统一社会信用代码", Field: onboard.FieldCreditCode, Code: code,
			Params: sampleParams(t, "reason."+code), Reason: "stored text"}})
		exec(`UPDATE batch_rows SET reasons = $3 WHERE batch_id = $1 AND open_id = $2`, fx.full, fmt.Sprintf("o-rej-%d", i), reasons)
	}
	exec(`UPDATE organizations SET state = 'awaiting_admin' WHERE open_id = 'o-admin'`)
	exec(`UPDATE organization_services SET state = 'linked', operate_url = 'https://ess.test/open/o-admin', url_expires_at = $1
		WHERE org_id = (SELECT id FROM organizations WHERE open_id = 'o-admin') AND service = 'AUTO_SIGN'`, fixtureTime.Add(24*time.Hour))
	exec(`UPDATE organizations SET state = 'awaiting_auth', login_url = 'https://console.test/activate/o-auth',
		login_url_expires_at = $1, login_operator_open_id = 'admin-o-auth' WHERE open_id = 'o-auth'`, fixtureTime.Add(48*time.Hour))
	exec(`UPDATE organizations SET state = 'done' WHERE open_id = 'o-done'`)
	for i, code := range fx.apiCodes {
		exec(`UPDATE organizations SET state = 'failed', last_error_code = $2, last_error_message = $3,
			last_request_id = 'req-42', state_changed_at = $4 WHERE open_id = $1`, fmt.Sprintf("o-failed-%d", i), code, platformMessage, fixtureTime)
	}
	// The application is paused, its work was dispatched with an error.
	exec(`UPDATE applications SET paused_at = $1, pause_code = 'AuthFailure.SecretIdNotFound', dispatched_at = $1, dispatched = 3,
		dispatch_error = $2, dispatch_error_at = $1 WHERE app_id = 'app-demo'`, fixtureTime, dispatchError)
	exec(`UPDATE batches SET blocked_reason = $2 WHERE id = $1`, fx.full, blocked)
	// The platform's callbacks, one of each verdict.
	for i, v := range []string{onboard.CallbackCheckDue, onboard.CallbackVerifyDue, onboard.CallbackNothingWaiting,
		onboard.CallbackUnknownCompany, onboard.CallbackIgnored, onboard.CallbackDuplicate} {
		exec(`INSERT INTO callbacks (msg_id, msg_type, app_id, open_id, event_at, received_at, verdict)
			VALUES ($1, 'OperateChannelSubOrganizationOpen', 'app-demo', 'o-admin', $2, $3, $4)`,
			fmt.Sprintf("msg-%d", i), fixtureTime, fixtureTime.Add(time.Duration(i)*time.Minute), v)
	}
	exec(`INSERT INTO callbacks (msg_id, msg_type, app_id, open_id, received_at, verdict)
			VALUES ('msg-x', 'VerifyStamp', 'app-demo', 'o-auth', $1, 'ignored')`, fixtureTime)
	// Two sweeps: one finished with drift and an error, one running.
	for _, trig := range []string{"schedule", "cli"} {
		id, err := st.StartReconcileRun(ctx, "app-demo", trig, fixtureTime)
		if err != nil {
			t.Fatal(err)
		}
		run := &onboard.ReconcileRun{ID: id, FinishedAt: fixtureTime.Add(time.Minute), Pages: 2, PlatformOrgs: 12, StatusUpdates: 1,
			Verified: 1, Requeued: 1, LinksRenewed: 1, UnknownOrgs: 1, Mismatched: 2, Error: sweepError}
		drift := []onboard.Drift{{OpenID: "ghost-org", Kind: onboard.DriftUnknown, Platform: "幽灵公司"},
			{OpenID: "o-done", Kind: onboard.DriftName, Ours: "完成公司", Platform: "完成公司（北京）"},
			{OpenID: "o-done", Kind: onboard.DriftCreditCode, Ours: "91350100M000100Y43", Platform: "91350100M000100Y44"}}
		if err := st.FinishReconcileRun(ctx, run, drift); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.StartReconcileRun(ctx, "app-demo", "dashboard", fixtureTime.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	fx.data = append(fx.data, "ghost-org", "幽灵公司", "OperateChannelSubOrganizationOpen", "VerifyStamp", "req-42")

	// The quiet batch.
	res, err = st.Import(ctx, repository.ImportParams{AppID: "app-quiet", FileName: "安静的清单.xlsx", FileSHA256: strings.Repeat("cd", 32),
		Sheet: "Sheet1", HeaderRow: 1, Headers: fixtureHeaders, Now: fixtureTime},
		&rowSource{rows: []*onboard.Row{fixtureRow(2, "q-1", "安静公司")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	fx.quiet = res.BatchID
	fx.data = append(fx.data, "q-1", "安静公司")

	// A batch of more rejected rows than the page lists.
	var many []*onboard.Row
	for i := 0; i <= listLimit; i++ {
		many = append(many, &onboard.Row{Number: 2 + i, Cells: []string{"", "", ""},
			Errors: []onboard.RowError{{Row: 2 + i, Column: "企业名称", Field: onboard.FieldName, Reason: legacyReason}}})
	}
	res, err = st.Import(ctx, repository.ImportParams{AppID: "app-many", FileName: "很多错误.xlsx", FileSHA256: strings.Repeat("ef", 32),
		Sheet: "Sheet1", HeaderRow: 1, Headers: fixtureHeaders, Now: fixtureTime}, &rowSource{rows: many}, nil)
	if err != nil {
		t.Fatal(err)
	}
	fx.many = res.BatchID
	exec(`UPDATE batches SET created_at = $1`, fixtureTime)
	return fx
}

// server serves the fixture with every feature on.
func (fx *dashboardFixture) server(t *testing.T, o Options) *httptest.Server {
	t.Helper()
	o.Addr = "127.0.0.1:8080"
	o.Store = fx.store
	o.Import = importFunc(func(ctx context.Context, req intake.Request) (*intake.Result, error) {
		// A refusal with a code: the reader sees the catalogue's text, not
		// the stored one.
		return nil, &importer.FileError{Code: importer.CodeUploadType, Reason: "stored text"}
	})
	if o.WriteTemplate == nil {
		o.WriteTemplate = func(w io.Writer, lang string) error { _, err := io.WriteString(w, "xlsx"); return err }
	}
	if o.WriteResults == nil {
		o.WriteResults = func(ctx context.Context, w io.Writer, id int64, lang string) error {
			_, err := io.WriteString(w, "xlsx")
			return err
		}
	}
	o.RetryFailed = func(ctx context.Context, id int64) (int, error) { return 2, nil }
	o.Resume = func(ctx context.Context, app string) (int, error) { return 3, nil }
	o.Now = func() time.Time { return fixtureTime.Add(2 * time.Hour) }
	return monitoringServer(t, o)
}

// pageText is what a reader of an HTML page sees: its text and the
// attributes a browser shows (tooltips, placeholders, labels), without
// the contents of <code>, which are codes and identifiers.
func pageText(t *testing.T, page string) []string {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(page))
	d.Strict = false
	d.AutoClose = xml.HTMLAutoClose
	d.Entity = xml.HTMLEntity
	var out []string
	inCode := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("page does not parse: %v\n%s", err, page)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if tok.Name.Local == "code" {
				inCode++
			}
			for _, a := range tok.Attr {
				switch a.Name.Local {
				case "title", "placeholder", "aria-label", "alt":
					out = append(out, a.Value)
				}
			}
		case xml.EndElement:
			if tok.Name.Local == "code" && inCode > 0 {
				inCode--
			}
		case xml.CharData:
			if inCode == 0 {
				if s := strings.TrimSpace(string(tok)); s != "" {
					out = append(out, s)
				}
			}
		}
	}
	return out
}

// allowedWords may appear on a Chinese page: the product's name, the
// platform's and the file format's names, units and time zones, the API
// names operators know from the platform's console and documents, and the
// English switch's own label.
var allowedWords = func() map[string]bool {
	m := map[string]bool{
		"onboard": true, "AppId": true, "OpenId": true, "RequestId": true, "MsgId": true, "Postgres": true,
		"xlsx": true, "zip": true, "MiB": true, "KiB": true, "MB": true, "UTC": true, "CST": true, "English": true,
		// Credentials, protocols and Tencent Cloud's own names, as its console writes them.
		"SecretId": true, "SecretKey": true, "HTTP": true, "HTTPS": true, "IP": true, "MFA": true, "CAM": true,
		// Programs and formats a reason names, so that the operator finds them.
		"Excel": true, "WPS": true, "Office": true, "Word": true, "PNG": true, "JPEG": true, "Base": true,
		"xls": true, "et": true, "ID_CARD": true,
	}
	for _, f := range []string{onboard.FieldOpenID, onboard.FieldName, onboard.FieldCreditCode, onboard.FieldLegalName,
		onboard.FieldLegalIDCardType, onboard.FieldLegalIDCardNumber, onboard.FieldAddress, onboard.FieldBusinessLicense,
		onboard.FieldAdminOpenID, onboard.FieldExtendedServices} { // the API's field names, beside the Chinese headers
		m[f] = true
	}
	for _, s := range onboard.ServiceTypes { // the platform's service names
		m[string(s)] = true
	}
	return m
}()

var englishWord = regexp.MustCompile(`[A-Za-z][A-Za-z_]*[A-Za-z]`)

// commandText is a flag or an onboard command quoted in a text: code, not words.
var commandText = regexp.MustCompile(`--[a-z][a-z-]*|onboard [a-z]+`)

// englishWords lists the words of texts that are not Chinese: what is left
// once data is taken out, minus the allowed words.
func englishWords(texts, data []string) []string {
	// Longest first, so that a name is not cut by a shorter one inside it.
	data = append([]string(nil), data...)
	sort.Slice(data, func(i, j int) bool { return len(data[i]) > len(data[j]) })
	seen := map[string]bool{}
	var out []string
	for _, s := range texts {
		for _, d := range data {
			if d != "" {
				s = strings.ReplaceAll(s, d, " ")
			}
		}
		s = commandText.ReplaceAllString(s, " ")
		for _, w := range englishWord.FindAllString(s, -1) {
			if !allowedWords[w] && !seen[w] {
				seen[w] = true
				out = append(out, fmt.Sprintf("%q in %q", w, s))
			}
		}
	}
	return out
}

// fetch sends a request with headers and returns the status, headers and
// body, not following redirects.
func fetch(t *testing.T, method, url string, body io.Reader, header map[string]string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// uploadForm builds an upload form posting name with content.
func uploadBody(t *testing.T, appID, name string, content []byte) (io.Reader, string) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if appID != "" {
		mw.WriteField("app_id", appID)
	}
	if name != "" {
		fw, _ := mw.CreateFormFile("file", name)
		fw.Write(content)
	}
	mw.Close()
	return &body, mw.FormDataContentType()
}

// dashboardPages are the pages of the fixture a reader can meet, with
// how to reach them.
type dashboardPage struct {
	name, method, path string
	form               func(t *testing.T) (io.Reader, string)
	status             int
	header             map[string]string
}

func (fx *dashboardFixture) pages() []dashboardPage {
	upload := func(appID, name string) func(t *testing.T) (io.Reader, string) {
		return func(t *testing.T) (io.Reader, string) { return uploadBody(t, appID, name, []byte("PK")) }
	}
	return []dashboardPage{
		{name: "Batches", method: "GET", path: "/", status: 200},
		{name: "Upload", method: "GET", path: "/upload", status: 200},
		{name: "BatchFull", method: "GET", path: fmt.Sprintf("/batches/%d?imported=1", fx.full), status: 200},
		{name: "BatchRetried", method: "GET", path: fmt.Sprintf("/batches/%d?retried=2", fx.full), status: 200},
		{name: "BatchResumed", method: "GET", path: fmt.Sprintf("/batches/%d?resumed=1", fx.full), status: 200},
		{name: "BatchQuiet", method: "GET", path: fmt.Sprintf("/batches/%d", fx.quiet), status: 200},
		{name: "BatchMany", method: "GET", path: fmt.Sprintf("/batches/%d", fx.many), status: 200},
		{name: "NoBatch", method: "GET", path: "/batches/999999", status: 404},
		{name: "NoPage", method: "GET", path: "/no/such/page", status: 404},
		{name: "UploadWrongType", method: "POST", path: "/upload", form: upload("app-demo", "清单.csv"), status: 422},
		{name: "UploadRefused", method: "POST", path: "/upload", form: upload("app-demo", "清单.xlsx"), status: 422},
		{name: "UploadNoFile", method: "POST", path: "/upload", form: upload("app-demo", ""), status: 400},
		{name: "UploadNotForm", method: "POST", path: "/upload", status: 400},
		{name: "CrossSite", method: "POST", path: "/upload", status: 403, header: map[string]string{"Sec-Fetch-Site": "cross-site"}},
	}
}

func (fx *dashboardFixture) get(t *testing.T, base string, pg dashboardPage, lang string) (int, string) {
	t.Helper()
	var body io.Reader
	header := map[string]string{"Accept-Language": lang, "Sec-Fetch-Site": "same-origin"}
	if pg.form != nil {
		var ct string
		body, ct = pg.form(t)
		header["Content-Type"] = ct
	} else if pg.method == "POST" {
		body = strings.NewReader("x=1")
		header["Content-Type"] = "application/x-www-form-urlencoded"
	}
	for k, v := range pg.header {
		header[k] = v
	}
	code, _, page := fetch(t, pg.method, base+pg.path, body, header)
	return code, page
}

// TestPagesInChineseHaveNoEnglish renders every page in zh-CN and finds
// no English word outside data, codes and the short allow-list.
func TestPagesInChineseHaveNoEnglish(t *testing.T) {
	t.Parallel()
	fx := newDashboardFixture(t)
	ts := fx.server(t, Options{})
	// The request paths are data too (a 404 page names its path).
	data := append(fx.data, "/no/such/page", "清单.csv", "清单.xlsx")
	for _, pg := range fx.pages() {
		t.Run(pg.name, func(t *testing.T) {
			code, page := fx.get(t, ts.URL, pg, "zh-CN,zh;q=0.9,en;q=0.5")
			if code != pg.status {
				t.Fatalf("%s %s: %d, want %d\n%.1500s", pg.method, pg.path, code, pg.status, page)
			}
			if !strings.Contains(page, `<html lang="zh-CN">`) {
				t.Errorf("the page is not marked zh-CN")
			}
			if words := englishWords(pageText(t, page), data); len(words) > 0 {
				t.Errorf("English on the zh-CN page:\n  %s", strings.Join(words, "\n  "))
			}
			if !strings.Contains(page, ">批次</a>") || !strings.Contains(page, ">导入模板</a>") || !strings.Contains(page, ">队列</a>") {
				t.Errorf("the navigation is not Chinese:\n%.1500s", page)
			}
			if !regexp.MustCompile(`<a href="/[^"]*(\?|&amp;)lang=en(&amp;|")[^>]*>English</a>`).MatchString(page) {
				t.Errorf("no switch to English on the page")
			}
		})
	}
	// The full batch shows its parts in Chinese, reasons rendered from
	// their codes, times in Shanghai with UTC in the tooltip.
	_, page := fx.get(t, ts.URL, fx.pages()[2], "zh-CN")
	zh := locale.New(locale.Chinese)
	want := []string{"已导入 子公司开通清单.xlsx：共 ", "批次 #", "应用已暂停：", "恢复应用 app-demo",
		">排队中<", ">待管理员开通<", ">待企业认证<", ">已完成<", ">失败<", `title="扩展服务均已申请，仍需超级管理员打开链接开通"`,
		"被拒绝的行", "企业名称：is empty", "失败的企业", "待打开的链接", "完成企业认证（超级管理员 admin-o-auth 登录控制台）",
		"开通企业静默签", "平台最近的回调", "已安排立即查询企业的扩展服务", "app-demo 的对账记录", "定时任务", "命令行", "进行中",
		"对账 #", "onboard 中没有此企业", "下载导入结果（.xlsx）", "重试失败的企业",
		`<time datetime="2025-06-01T12:00:00Z" title="2025-06-01 12:00:00 UTC">2025-06-01 20:00 CST</time>`}
	for _, code := range fx.reasonCodes {
		want = append(want, "统一社会信用代码："+htmlText(zh.Reason(code, sampleParams(t, "reason."+code), "")))
	}
	want = append(want, "带警告导入的行", "企业名称："+htmlText(zh.Reason("name.half_width_brackets", nil, "")),
		"隐藏行："+htmlText(zh.Reason("row.hidden", map[string]string{"Row": "7"}, "")))
	for _, code := range fx.apiCodes {
		if e := zh.APIError(code); e != "" {
			want = append(want, htmlText(e))
		}
	}
	for _, w := range want {
		if !strings.Contains(page, w) {
			t.Errorf("the zh-CN batch page lacks %q", w)
		}
	}
	if strings.Contains(page, "stored text") {
		t.Errorf("a reason with a catalogued code shows its stored English text")
	}
	_, page = fx.get(t, ts.URL, fx.pages()[10], "zh-CN")
	if want := "清单.xlsx 被拒绝：只能导入 .xlsx 工作簿"; !strings.Contains(page, want) {
		t.Errorf("the refusal page lacks %q:\n%.1500s", want, page)
	}
}

// htmlText escapes s as html/template escapes text.
func htmlText(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;", "+", "&#43;").Replace(s)
}

// TestPagesInEnglish renders the same pages in English, in the words the
// command line and the other tests know.
func TestPagesInEnglish(t *testing.T) {
	t.Parallel()
	fx := newDashboardFixture(t)
	ts := fx.server(t, Options{})
	for _, pg := range fx.pages() {
		code, page := fx.get(t, ts.URL, pg, "")
		if code != pg.status || !strings.Contains(page, `<html lang="en">`) || !strings.Contains(page, ">Batches</a>") || !strings.Contains(page, ">简体中文</a>") {
			t.Errorf("%s in English: %d (want %d), or not an English page with a switch to Chinese:\n%.800s", pg.name, code, pg.status, page)
		}
	}
	_, page := fx.get(t, ts.URL, fx.pages()[2], "en-US,en;q=0.9")
	for _, w := range []string{"Imported 子公司开通清单.xlsx: ", " rows, ", "Application paused:", "Resume application app-demo",
		">queued<", ">awaiting_admin<", "Rejected rows", "企业名称: is empty", "Failed organizations <span class=\"count\">",
		"Links to open", "verify the company (console login (admin-o-auth))", "open AUTO_SIGN", "Latest callbacks from the platform",
		"check_due", "Reconciliation runs of app-demo", "Drift found by run", "not known to onboard", "Download results (.xlsx)",
		"Retry failed organizations", `<time datetime="2025-06-01T12:00:00Z" title="2025-06-01 12:00:00 UTC">2025-06-01 12:00 UTC</time>`} {
		if !strings.Contains(page, w) {
			t.Errorf("the English batch page lacks %q", w)
		}
	}
	_, page = fx.get(t, ts.URL, dashboardPage{method: "GET", path: fmt.Sprintf("/batches/%d", fx.many)}, "en")
	if !strings.Contains(page, fmt.Sprintf("Showing the first %d; the results file lists them all.", listLimit)) ||
		!strings.Contains(page, "No organizations (every row was rejected or unchanged).") {
		t.Errorf("the batch of rejected rows does not say it shows the first %d and has no organizations", listLimit)
	}
	_, page = fx.get(t, ts.URL, dashboardPage{method: "GET", path: fmt.Sprintf("/batches/%d?retried=1", fx.full)}, "en")
	if !strings.Contains(page, "Queued 1 failed organization again.") {
		t.Errorf("the notice of one retried organization is not singular")
	}
	_, page = fx.get(t, ts.URL, dashboardPage{method: "GET", path: "/upload"}, "fr-FR,fr;q=0.9")
	if !strings.Contains(page, `<html lang="en">`) {
		t.Errorf("a language onboard does not speak does not fall back to English")
	}
}

// TestTimesInConfiguredZone: Options.TimeZone replaces the language's
// zone; the tooltip stays UTC.
func TestTimesInConfiguredZone(t *testing.T) {
	t.Parallel()
	fx := newDashboardFixture(t)
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	ts := fx.server(t, Options{TimeZone: ny})
	for _, lang := range []string{"en", "zh-CN"} {
		_, page := fx.get(t, ts.URL, dashboardPage{method: "GET", path: "/"}, lang)
		if want := `title="2025-06-01 12:00:00 UTC">2025-06-01 08:00 EDT</time>`; !strings.Contains(page, want) {
			t.Errorf("%s: the batches page lacks %q", lang, want)
		}
	}
}

// TestLanguageChoice: the cookie the switch sets wins over
// Accept-Language, which wins over the default, English.
func TestLanguageChoice(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var asked []string
	ts := newTestServer(t, Options{Addr: "127.0.0.1:8080",
		WriteTemplate: func(w io.Writer, lang string) error {
			mu.Lock()
			asked = append(asked, "template "+lang)
			mu.Unlock()
			_, err := io.WriteString(w, "xlsx")
			return err
		}})
	lang := func(header map[string]string) string {
		t.Helper()
		code, h, page := fetch(t, "GET", ts.URL+"/upload", nil, header)
		if code != 200 {
			t.Fatalf("GET /upload %v: %d", header, code)
		}
		m := regexp.MustCompile(`<html lang="([^"]+)">`).FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("no <html lang>: %.300s", page)
		}
		if h.Get("Content-Language") != m[1] || !strings.Contains(h.Get("Vary"), "Accept-Language") {
			t.Errorf("Content-Language %q, Vary %q for a %s page", h.Get("Content-Language"), h.Get("Vary"), m[1])
		}
		return m[1]
	}
	for _, tc := range []struct {
		name   string
		header map[string]string
		want   string
	}{
		{"Nothing", nil, "en"},
		{"Chinese", map[string]string{"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}, "zh-CN"},
		{"ChineseBare", map[string]string{"Accept-Language": "zh"}, "zh-CN"},
		{"EnglishFirst", map[string]string{"Accept-Language": "en-GB,en;q=0.9,zh-CN;q=0.5"}, "en"},
		{"Unknown", map[string]string{"Accept-Language": "fr, de;q=0.5"}, "en"},
		{"CookieWins", map[string]string{"Accept-Language": "en", "Cookie": LangCookie + "=zh-CN"}, "zh-CN"},
		{"CookieEnglish", map[string]string{"Accept-Language": "zh-CN", "Cookie": LangCookie + "=en"}, "en"},
		{"CookieUnknown", map[string]string{"Accept-Language": "zh-CN", "Cookie": LangCookie + "=klingon"}, "zh-CN"},
	} {
		if got := lang(tc.header); got != tc.want {
			t.Errorf("%s: page in %s, want %s", tc.name, got, tc.want)
		}
	}

	// The switch sets a lasting cookie for the whole dashboard and goes
	// back to the page, keeping its other parameters.
	code, h, _ := fetch(t, "GET", ts.URL+"/batches/7?imported=1&lang=zh-CN", nil, map[string]string{"Accept-Language": "en"})
	if code != http.StatusSeeOther || h.Get("Location") != "/batches/7?imported=1" {
		t.Errorf("switch: %d to %q, want 303 to /batches/7?imported=1", code, h.Get("Location"))
	}
	c := h.Get("Set-Cookie")
	for _, want := range []string{LangCookie + "=zh-CN", "Path=/", "SameSite=Lax", "Max-Age=31536000", "HttpOnly"} {
		if !strings.Contains(c, want) {
			t.Errorf("switch cookie %q lacks %s", c, want)
		}
	}
	if got := lang(map[string]string{"Accept-Language": "en", "Cookie": strings.Split(c, ";")[0]}); got != "zh-CN" {
		t.Errorf("with the switch's cookie: %s", got)
	}
	// Any spelling of a language the dashboard speaks; the result is
	// remembered in the catalogue's tag.
	if _, h, _ := fetch(t, "GET", ts.URL+"/?lang=zh_CN", nil, nil); !strings.Contains(h.Get("Set-Cookie"), LangCookie+"=zh-CN") {
		t.Errorf("?lang=zh_CN: cookie %q", h.Get("Set-Cookie"))
	}
	// An unknown language changes nothing and says what to choose, in the
	// reader's language.
	code, h, page := fetch(t, "GET", ts.URL+"/upload?lang=fr", nil, map[string]string{"Accept-Language": "zh-CN"})
	if code != http.StatusBadRequest || h.Get("Set-Cookie") != "" || !strings.Contains(page, "不支持语言 fr") {
		t.Errorf("?lang=fr: %d, cookie %q, page %.500s", code, h.Get("Set-Cookie"), page)
	}
	// The switch never leads off the dashboard.
	for _, path := range []string{"//evil.example/?lang=en", "/%2F%2Fevil.example?lang=en"} {
		code, h, _ := fetch(t, "GET", ts.URL+path, nil, nil)
		if loc := h.Get("Location"); strings.Contains(loc, "evil.example") && !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") {
			t.Errorf("GET %s: %d to %q", path, code, loc)
		}
	}
	// A form post with ?lang= is not a switch.
	code, h, _ = fetch(t, "POST", ts.URL+"/upload?lang=zh-CN", strings.NewReader(""), map[string]string{"Sec-Fetch-Site": "same-origin"})
	if h.Get("Set-Cookie") != "" || code == http.StatusSeeOther {
		t.Errorf("POST with ?lang=: %d, cookie %q", code, h.Get("Set-Cookie"))
	}
	// The template is asked for in the page's language.
	fetch(t, "GET", ts.URL+"/template.xlsx", nil, map[string]string{"Cookie": LangCookie + "=zh-CN"})
	fetch(t, "GET", ts.URL+"/template.xlsx", nil, map[string]string{"Accept-Language": "en"})
	mu.Lock()
	if strings.Join(asked, ",") != "template zh-CN,template en" {
		t.Errorf("template asked for in %v, want zh-CN then en", asked)
	}
	mu.Unlock()
}

// TestResultsInPageLanguage: the results file is asked for in the language
// of the page it is downloaded from.
func TestResultsInPageLanguage(t *testing.T) {
	t.Parallel()
	fx := newDashboardFixture(t)
	got := make(chan string, 2)
	ts := fx.server(t, Options{WriteResults: func(ctx context.Context, w io.Writer, id int64, lang string) error {
		got <- lang
		_, err := io.WriteString(w, "xlsx")
		return err
	}})
	for _, lang := range []string{"zh-CN", "en"} {
		code, h, _ := fetch(t, "GET", fmt.Sprintf("%s/batches/%d/results.xlsx", ts.URL, fx.full), nil, map[string]string{"Cookie": LangCookie + "=" + lang})
		if code != 200 || !strings.Contains(h.Get("Content-Disposition"), ".xlsx") {
			t.Fatalf("results in %s: %d %q", lang, code, h.Get("Content-Disposition"))
		}
		if l := <-got; l != lang {
			t.Errorf("results file asked for in %q from a %s page", l, lang)
		}
	}
}

// TestSwitchBehindGuards: the switch answers only what the dashboard
// answers: with credentials when they are configured, and on its own
// address when they are not.
func TestSwitchBehindGuards(t *testing.T) {
	t.Parallel()
	auth := newTestServer(t, Options{Addr: "0.0.0.0:8080", Token: "tok"})
	code, h, body := fetch(t, "GET", auth.URL+"/?lang=zh-CN", nil, map[string]string{"Accept-Language": "zh-CN"})
	if code != http.StatusUnauthorized || h.Get("Set-Cookie") != "" || !strings.Contains(body, "需要身份验证") {
		t.Errorf("switch without credentials: %d, cookie %q, %q", code, h.Get("Set-Cookie"), body)
	}
	code, h, _ = fetch(t, "GET", auth.URL+"/?lang=zh-CN", nil, map[string]string{"Authorization": "Bearer tok"})
	if code != http.StatusSeeOther || !strings.Contains(h.Get("Set-Cookie"), LangCookie+"=zh-CN") {
		t.Errorf("switch with credentials: %d, cookie %q", code, h.Get("Set-Cookie"))
	}
	open := newTestServer(t, Options{Addr: "127.0.0.1:8080"})
	req, _ := http.NewRequest("GET", open.URL+"/?lang=zh-CN", nil)
	req.Host = "attacker.example"
	req.Header.Set("Accept-Language", "zh-CN")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest || resp.Header.Get("Set-Cookie") != "" || !strings.Contains(string(b), "此管理页面只响应") {
		t.Errorf("switch by another name: %d, cookie %q, %q", resp.StatusCode, resp.Header.Get("Set-Cookie"), b)
	}
}

// TestPlainErrorsInChinese: the answers that are not pages speak the
// reader's language too.
func TestPlainErrorsInChinese(t *testing.T) {
	t.Parallel()
	zh := map[string]string{"Accept-Language": "zh-CN"}
	auth := newTestServer(t, Options{Addr: "0.0.0.0:8080", Token: "tok", AuthFailures: 1})
	open := monitoringServer(t, Options{Addr: "127.0.0.1:8080"})
	var texts []string
	_, _, body := fetch(t, "GET", auth.URL+"/", nil, zh)
	texts = append(texts, body)
	fetch(t, "GET", auth.URL+"/", nil, map[string]string{"Authorization": "Bearer wrong"})
	code, _, body := fetch(t, "GET", auth.URL+"/", nil, map[string]string{"Authorization": "Bearer wrong", "Accept-Language": "zh-CN"})
	if code != http.StatusTooManyRequests {
		t.Fatalf("throttled: %d", code)
	}
	texts = append(texts, body)
	code, _, body = fetch(t, "POST", open.URL+"/monitoring/api/queues/default:pause", nil, map[string]string{"Accept-Language": "zh-CN", "Sec-Fetch-Site": "same-origin"})
	if code != http.StatusMethodNotAllowed {
		t.Fatalf("monitoring write: %d", code)
	}
	texts = append(texts, body)
	req, _ := http.NewRequest("GET", open.URL+"/", nil)
	req.Host = "attacker.example"
	req.Header.Set("Accept-Language", "zh-CN")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	texts = append(texts, string(b))
	// Commands, flags, addresses and the authentication schemes are
	// what the reader types or configures.
	data := []string{"'onboard serve'", "--monitoring-write", "http://127.0.0.1:8080/", "localhost", "Bearer"}
	for _, text := range texts {
		if !regexp.MustCompile(`\p{Han}`).MatchString(text) {
			t.Errorf("not Chinese: %q", text)
		}
		if words := englishWords([]string{text}, data); len(words) > 0 {
			t.Errorf("English in a zh-CN answer: %s", strings.Join(words, "; "))
		}
	}
}

// catalogueID matches the message IDs the package's Go files and
// templates name in full.
var catalogueID = regexp.MustCompile(`"((?:web|lang|reason)\.[A-Za-z0-9_.-]*[A-Za-z0-9_-])"`)

// TestEveryTextFromTheCatalogue: every message the dashboard names is in
// both catalogues, and no template holds a word of its own outside a
// template action (a few names excepted).
func TestEveryTextFromTheCatalogue(t *testing.T) {
	t.Parallel()
	known := map[string]map[string]bool{}
	for _, lang := range locale.Langs {
		ids, err := locale.IDs(lang)
		if err != nil {
			t.Fatal(err)
		}
		known[lang] = map[string]bool{}
		for _, id := range ids {
			known[lang][id] = true
		}
	}
	files, _ := filepath.Glob("*.go")
	tmpls, _ := filepath.Glob("templates/*.html")
	named := 0
	for _, f := range append(files, tmpls...) {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range catalogueID.FindAllStringSubmatch(string(src), -1) {
			named++
			for _, lang := range locale.Langs {
				if !known[lang][m[1]] {
					t.Errorf("%s names %s, missing from the %s catalogue", f, m[1], lang)
				}
			}
		}
	}
	if named < 100 {
		t.Errorf("only %d message IDs named in the package; is the pattern right?", named)
	}
	// Each text in the templates, with the actions taken out, is markup
	// or an allowed name.
	action := regexp.MustCompile(`(?s)\{\{.*?\}\}`)
	for _, f := range tmpls {
		src, _ := os.ReadFile(f)
		html := action.ReplaceAllString(string(src), " ")
		if words := englishWords(pageText(t, "<root>"+strings.TrimPrefix(html, "<!doctype html>")+"</root>"), nil); len(words) > 0 {
			t.Errorf("%s has words outside the catalogue: %s", f, strings.Join(words, "; "))
		}
	}
}
