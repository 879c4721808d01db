package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/ess"
	"github.com/ess-onboard/onboard/esssim"
	"github.com/ess-onboard/onboard/internal/testenv"
	"github.com/ess-onboard/onboard/jobs"
	"github.com/ess-onboard/onboard/locale"
	"github.com/ess-onboard/onboard/repository"
)

// Reconciliation tests use Redis db 4, as the serve tests do, each under a
// queue and limiter prefix of its own: they run in parallel.
const (
	recApp      = "app-reconcile"
	recQueryOrg = "rec-query-org"
	recQueryOp  = "rec-query-operator"
)

// recEnv is a simulator, a fresh database and Redis db 4, with the
// configuration that points onboard at them.
type recEnv struct {
	sim    *esssim.Server
	vars   map[string]string
	dbURL  string
	redis  asynq.RedisConnOpt
	prefix string // of the test's queue names and limiter keys
	// flush loses everything Redis holds of the test.
	flush func()
	// workers are the last workers startWorkers started.
	workers *jobs.Workers
}

func newRecEnv(t *testing.T, simOpts esssim.Options) *recEnv {
	t.Helper()
	simOpts.Apps = []esssim.App{{AppID: recApp, QueryOrgOpenID: recQueryOrg, QueryOperatorOpenID: recQueryOp}}
	sim := esssim.New(simOpts)
	t.Cleanup(func() { sim.Close() })
	hs := httptest.NewServer(sim)
	t.Cleanup(hs.Close)
	dbURL := testenv.NewDatabase(t)
	redisURL, prefix := testenv.IsolatedRedis(t, serveRedisDB)
	opt, err := asynq.ParseRedisURI(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rc := opt.MakeRedisClient().(redis.UniversalClient)
	t.Cleanup(func() { rc.Close() })
	return &recEnv{
		sim: sim,
		vars: map[string]string{
			"DATABASE_URL": dbURL, "REDIS_URL": redisURL, "ESS_APP_ID": recApp, "ESS_ENDPOINT": hs.URL,
			"ESS_SECRET_ID": esssim.DefaultSecretID, "ESS_SECRET_KEY": esssim.DefaultSecretKey,
			"ESS_QUERY_ORG_OPENID": recQueryOrg, "ESS_QUERY_OPERATOR_OPENID": recQueryOp,
		},
		dbURL:  dbURL,
		redis:  opt,
		prefix: prefix,
		flush:  func() { jobs.DropQueues(context.Background(), rc, prefix) },
	}
}

// run runs an onboard command with the environment's configuration.
func (e *recEnv) run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &Env{Getenv: func(k string) string { return e.vars[k] }, Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}
	code = run(context.Background(), args, env)
	return code, out.String(), errb.String()
}

// sweep runs 'onboard reconcile --json' and decodes its report.
func (e *recEnv) sweep(t *testing.T) jobs.SweepReport {
	t.Helper()
	code, out, errOut := e.run(t, "reconcile", "--json", "--queue-prefix", e.prefix)
	if code != 0 {
		t.Fatalf("reconcile: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	var rep jobs.SweepReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("reconcile --json printed %q: %v", out, err)
	}
	if rep.Error != "" {
		t.Fatalf("sweep error: %s", rep.Error)
	}
	return rep
}

// importFile writes a workbook with n valid rows (and one rejected row) and
// imports it with 'onboard import'.
func (e *recEnv) importFile(t *testing.T, n int) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "orgs.xlsx")
	writeServeWorkbook(t, path, n)
	code, out, errOut := e.run(t, "import", path, "--json")
	if code != 0 {
		t.Fatalf("import: exit %d\n%s\n%s", code, out, errOut)
	}
}

func (e *recEnv) query(t *testing.T, sql string, args ...any) int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, e.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func (e *recEnv) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, e.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// essClient is a client straight to the simulator, to change the platform
// behind onboard's back.
func (e *recEnv) essClient(t *testing.T) *ess.Client {
	t.Helper()
	c, err := ess.New(ess.Config{Endpoint: e.vars["ESS_ENDPOINT"], SecretID: esssim.DefaultSecretID, SecretKey: esssim.DefaultSecretKey})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func syncDirect(t *testing.T, c *ess.Client, openID, name string) {
	t.Helper()
	_, err := c.SyncProxyOrganization(context.Background(), &ess.SyncProxyOrganizationRequest{
		Agent:                   ess.Agent{AppId: recApp, ProxyOrganizationOpenId: openID},
		ProxyOrganizationName:   name,
		UniformSocialCreditCode: "91350100M000100Y43",
		ProxyLegalName:          "张三",
		ProxyLegalIdCardType:    "ID_CARD",
		ProxyLegalIdCardNumber:  "11010519491231002X",
	})
	if err != nil {
		t.Fatalf("sync %s straight to the simulator: %v", openID, err)
	}
}

// startWorkers runs the workers in this process, with fast polling, until
// the returned function is called.
func (e *recEnv) startWorkers(t *testing.T) (stop func()) {
	t.Helper()
	return e.startWorkersWith(t, nil)
}

// startWorkersWith is startWorkers with the workers' configuration changed
// by configure.
func (e *recEnv) startWorkersWith(t *testing.T, configure func(*jobs.Config)) (stop func()) {
	t.Helper()
	cfg, err := loadConfig(func(k string) string { return e.vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	jc := jobs.Config{
		PollMin: 200 * time.Millisecond, PollMax: 500 * time.Millisecond,
		Policy: onboard.RetryPolicy{BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second},
		Lease:  3 * time.Second,
		Logger: recQuietLogger(),
	}
	if configure != nil {
		configure(&jc)
	}
	p, err := openParts(context.Background(), cfg, shared{queuePrefix: e.prefix}, recQuietLogger(), needStore|needQueue|needAPI)
	if err != nil {
		t.Fatal(err)
	}
	w := p.workers(jc)
	e.workers = w
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		disp := w.NewDispatcher(20, 100*time.Millisecond)
		disp.Lease = 3 * time.Second
		done <- w.Run(ctx, jobs.ServerConfig{Redis: p.redis, Reconcile: p.reconciler(w), Dispatcher: disp,
			DelayedTaskCheckInterval: 200 * time.Millisecond, ShutdownTimeout: 5 * time.Second,
			Logger: recQuietLogger(), LogLevel: asynq.ErrorLevel})
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("workers: %v", err)
			}
			p.Close()
		})
	}
	t.Cleanup(stop)
	return stop
}

func recQuietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func (e *recEnv) stateCount(t *testing.T, state string) int {
	return e.query(t, `SELECT count(*) FROM organizations WHERE app_id = $1 AND state = $2`, recApp, state)
}

func TestReconcileUsage(t *testing.T) {
	t.Parallel()
	e := &recEnv{vars: map[string]string{}}
	if code, _, errOut := e.run(t, "reconcile"); code != exitUsage || !strings.Contains(errOut, "no application id") {
		t.Errorf("reconcile without an application: exit %d, %q", code, errOut)
	}
	if code, _, _ := e.run(t, "reconcile", "--app-id", "a", "--all"); code != exitUsage {
		t.Errorf("reconcile --app-id with --all: exit %d", code)
	}
	if code, out, _ := e.run(t, "reconcile", "--help"); code != exitOK || !strings.Contains(out, "drift") {
		t.Errorf("reconcile --help: exit %d, %q", code, out)
	}
}

// TestReconcileListingAndDrift: a sweep over N companies reads the list in
// ceil(N/200) pages, plus at most the one call that tells how the platform
// reads Offset, and reports companies onboard does not know and names that
// differ; it leaves the work of the import to the dispatcher.
func TestReconcileListingAndDrift(t *testing.T) {
	t.Parallel()
	e := newRecEnv(t, esssim.Options{RateLimit: -1, Lifecycle: &esssim.Lifecycle{Manual: true}})
	const n = 450
	e.importFile(t, n)

	c := e.essClient(t)
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("网页测试公司%03d（北京）", i)
		if i == 7 {
			name = "改过名的公司（北京）"
		}
		syncDirect(t, c, fmt.Sprintf("web-org-%03d", i), name)
	}
	syncDirect(t, c, "ghost-org", "幽灵公司")
	before := e.sim.Stats()

	rep := e.sweep(t)
	onPlatform := n + 2 // ours, the unknown one and the query identity's company
	// Page 0, then Offset=1 (which tells a record offset from a page
	// index and brings record 200), then 200 records a page from 201:
	// never more than ceil(N/200) + 1.
	wantPages := 2 + (onPlatform-201+ess.PageLimit-1)/ess.PageLimit
	listCalls := e.sim.Stats().OrgCalls[ess.ActionDescribeChannelOrganizations][recApp+"/*"] -
		before.OrgCalls[ess.ActionDescribeChannelOrganizations][recApp+"/*"]
	if rep.Pages != wantPages || listCalls != wantPages {
		t.Errorf("list calls: report %d, simulator %d; want %d for %d companies", rep.Pages, listCalls, wantPages, onPlatform)
	}
	if rep.PlatformOrgs != onPlatform {
		t.Errorf("companies listed: %d, want %d", rep.PlatformOrgs, onPlatform)
	}
	wantDrift := map[string]onboard.Drift{
		"ghost-org":   {OpenID: "ghost-org", Kind: onboard.DriftUnknown, Platform: "幽灵公司"},
		"web-org-007": {OpenID: "web-org-007", Kind: onboard.DriftName, Ours: "网页测试公司007（北京）", Platform: "改过名的公司（北京）"},
	}
	if rep.UnknownOrgs != 1 || rep.Mismatched != 1 || len(rep.Drift) != 2 {
		t.Errorf("drift: %d unknown, %d mismatched: %+v", rep.UnknownOrgs, rep.Mismatched, rep.Drift)
	}
	for _, d := range rep.Drift {
		if d != wantDrift[d.OpenID] {
			t.Errorf("drift %+v, want %+v", d, wantDrift[d.OpenID])
		}
	}
	if rep.Requeued != 0 {
		t.Errorf("the sweep queued work: requeued %d", rep.Requeued)
	}
	if due := e.query(t, `SELECT count(*) FROM work WHERE kind = 'sync'`); due != n {
		t.Errorf("%d organizations due for sync, want %d", due, n)
	}
	// The run and its drift are recorded.
	if got := e.query(t, `SELECT count(*) FROM reconcile_drift d JOIN reconcile_runs r ON r.id = d.run_id
		WHERE r.app_id = $1 AND r.finished_at IS NOT NULL AND r.pages = $2`, recApp, wantPages); got != 2 {
		t.Errorf("recorded drift rows: %d, want 2", got)
	}

	// The dashboard's batch page shows the run and its drift.
	cfg, err := loadConfig(func(k string) string { return e.vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	d, err := openDashboard(context.Background(), cfg, serveFlags{addr: "127.0.0.1:0", maxUpload: 1 << 20, shared: shared{queuePrefix: e.prefix}}, recQuietLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	hs := httptest.NewServer(d.server.Handler())
	defer hs.Close()
	resp, err := http.Get(hs.URL + "/batches/1")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"Drift found by run", "ghost-org", "幽灵公司", "not known to onboard", "改过名的公司（北京）"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("batch page lacks %q", want)
		}
	}

	// A second sweep changes nothing more.
	again := e.sweep(t)
	if again.Requeued != 0 || again.StatusUpdates != 0 || again.LinksRenewed != 0 {
		t.Errorf("second sweep changed things: %+v", again.ReconcileRun)
	}

	// In Chinese, the summary of a third says what it read and the drift
	// it still finds.
	code, out, errOut := e.run(t, "reconcile", "--lang", "zh-CN", "--queue-prefix", e.prefix)
	if code != 0 {
		t.Fatalf("reconcile --lang zh-CN: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"应用 " + recApp + "（第 ", fmt.Sprintf("读取页数：%d（平台上共 %d 家企业）", wantPages, onPlatform),
		"状态更新：0（新认证 0 家，驳回 0 家）", "数据差异：onboard 未知的企业 1 家，信息不一致 1 家",
		"ghost-org：平台上有（幽灵公司），onboard 中没有", `web-org-007：企业名称不一致：onboard 为 "网页测试公司007（北京）"`} {
		if !strings.Contains(out, want) {
			t.Errorf("the Chinese summary lacks %q:\n%s", want, out)
		}
	}
	ids := strings.NewReplacer(recApp, "", "web-org-007", "", "ghost-org", "")
	if words := englishIn(ids.Replace(out)); len(words) > 0 {
		t.Errorf("the Chinese summary holds English: %s\n%s", strings.Join(words, ", "), out)
	}
}

// The summary of a sweep, skipped or not, in English and in Chinese.
func TestPrintSweepInBothLanguages(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	ran := jobs.SweepReport{ReconcileRun: onboard.ReconcileRun{ID: 7, AppID: "app-1", StartedAt: start,
		FinishedAt: start.Add(1500 * time.Millisecond), Pages: 3, PlatformOrgs: 1234, StatusUpdates: 12, Verified: 10,
		Rejected: 1, Requeued: 2, LinksRenewed: 1, UnknownOrgs: 1, Mismatched: 1, Error: "listing: timeout"},
		Drift: []onboard.Drift{{OpenID: "o1", Kind: onboard.DriftUnknown, Platform: "甲公司"},
			{OpenID: "o2", Kind: onboard.DriftCreditCode, Ours: "A", Platform: "B"}}}
	skipped := jobs.SweepReport{ReconcileRun: onboard.ReconcileRun{AppID: "app-2"}, Skipped: true}
	for _, tc := range []struct {
		lang string
		want []string
	}{
		{locale.English, []string{"application app-1 (run 7, 1.5s)", "  pages read:       3 (1,234 companies on the platform)",
			"  status updates:   12 (10 newly verified, 1 rejected)", "  work re-queued:   2", "  links renewed:    1",
			"  drift:            1 unknown to onboard, 1 mismatched", "    o1: on the platform (甲公司), not in onboard",
			`    o2: credit_code differs: onboard "A", platform "B"`, "  error:            listing: timeout",
			"application app-2: skipped, another sweep is running"}},
		{locale.Chinese, []string{"应用 app-1（第 7 次对账，用时 1.5s）", "  读取页数：3（平台上共 1,234 家企业）",
			"  状态更新：12（新认证 10 家，驳回 1 家）", "  重新入队：2 项工作", "  链接续期：1 个",
			"  数据差异：onboard 未知的企业 1 家，信息不一致 1 家", "    o1：平台上有（甲公司），onboard 中没有",
			`    o2：统一社会信用代码不一致：onboard 为 "A"，平台为 "B"`, "  错误信息：listing: timeout",
			"应用 app-2：已跳过，另一次对账正在运行"}},
	} {
		var b bytes.Buffer
		if err := printSweeps(&b, locale.New(tc.lang), []jobs.SweepReport{ran, skipped}, false); err != nil {
			t.Fatal(err)
		}
		for _, want := range tc.want {
			if !strings.Contains(b.String(), want+"\n") {
				t.Errorf("%s: the summary lacks %q:\n%s", tc.lang, want, b.String())
			}
		}
	}
}

// TestReconcileSweepAndCompletes: a company verified while nothing polls
// is picked up by the sweep, its services made due; an expired link is
// replaced; two sweeps at once do the work once; the batch completes.
func TestReconcileSweepAndCompletes(t *testing.T) {
	// Not parallel: the workers' own checks (every 500ms here) may renew the
	// expired link before the sweep gets to it, the likelier the more the
	// machine is loaded.
	e := newRecEnv(t, esssim.Options{Lifecycle: &esssim.Lifecycle{Manual: true}})
	const n = 12
	e.importFile(t, n)

	// Workers sync everyone; the companies wait for verification.
	stop := e.startWorkers(t)
	testenv.WaitFor(t, 2*time.Minute, "every organization synced and awaiting authorization", func() bool {
		return e.stateCount(t, onboard.StateAwaitingAuth) == n
	})
	stop()

	// Redis is lost again; meanwhile a third of the companies verify.
	e.flush()
	verified := []string{"web-org-000", "web-org-001", "web-org-002", "web-org-003"}
	for _, id := range verified {
		if err := e.sim.SetStatus(recApp, id, ess.StatusVerified); err != nil {
			t.Fatal(err)
		}
	}
	rep := e.sweep(t)
	if rep.Verified != len(verified) || rep.StatusUpdates < len(verified) {
		t.Errorf("verified while nothing polled: sweep verified %d (status updates %d), want %d", rep.Verified, rep.StatusUpdates, len(verified))
	}
	if got := e.stateCount(t, onboard.StateOpeningServices); got != len(verified) {
		t.Errorf("organizations opening services: %d, want %d", got, len(verified))
	}
	// Two services each for the verified ones, and the polling round for
	// the rest, are due.
	if got := e.query(t, `SELECT count(*) FROM work WHERE kind = 'service'`); got != 2*len(verified) {
		t.Errorf("service work after the sweep: %d, want %d", got, 2*len(verified))
	}
	if got := e.query(t, `SELECT count(*) FROM work WHERE kind = 'poll'`); got != 1 {
		t.Errorf("polling rounds after the sweep: %d, want 1", got)
	}

	// Everyone else verifies; the workers request every service. No admin
	// opens a link here, so every company waits for its admin.
	for i := len(verified); i < n; i++ {
		if err := e.sim.SetStatus(recApp, fmt.Sprintf("web-org-%03d", i), ess.StatusVerified); err != nil {
			t.Fatal(err)
		}
	}
	stop = e.startWorkers(t)
	testenv.WaitFor(t, 2*time.Minute, "every organization waiting for its admin", func() bool {
		return e.stateCount(t, onboard.StateAwaitingAdmin) == n
	})
	// The workers stop while the link expires, so that the sweep, not a
	// check the workers happened to run first, is what finds it.
	stop()

	// An AUTO_SIGN link expires while the service is not open: the sweep
	// makes a check due, the platform says the service is not open, and
	// the workers ask for a new link (once).
	var orgID int64
	var oldURL string
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, e.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, `SELECT sv.org_id, sv.operate_url FROM organization_services sv
		JOIN organizations o ON o.id = sv.org_id WHERE o.open_id = 'web-org-005' AND sv.service = 'AUTO_SIGN' AND sv.state = 'linked'`).
		Scan(&orgID, &oldURL); err != nil {
		t.Fatalf("the AUTO_SIGN link of web-org-005: %v", err)
	}
	e.exec(t, `UPDATE organization_services SET url_expires_at = now() - interval '1 minute' WHERE org_id = $1 AND service = 'AUTO_SIGN'`, orgID)
	modifyBefore := e.sim.Stats().OrgCalls[ess.ActionModifyExtendedService][recApp+"/web-org-005"]
	rep = e.sweep(t)
	if rep.LinksRenewed != 1 {
		t.Errorf("links renewed: %d, want 1 (%+v)", rep.LinksRenewed, rep.ReconcileRun)
	}
	e.startWorkers(t)
	testenv.WaitFor(t, 2*time.Minute, "a new AUTO_SIGN link", func() bool {
		return e.query(t, `SELECT count(*) FROM organization_services WHERE org_id = $1 AND service = 'AUTO_SIGN'
			AND state = 'linked' AND url_expires_at > now() AND operate_url <> $2`, orgID, oldURL) == 1 &&
			e.stateCount(t, onboard.StateAwaitingAdmin) == n
	})
	if got := e.sim.Stats().OrgCalls[ess.ActionModifyExtendedService][recApp+"/web-org-005"] - modifyBefore; got != 1 {
		t.Errorf("ModifyExtendedService calls for the renewed link: %d, want 1", got)
	}

	// While another process holds the application's sweep lock, a sweep
	// is skipped and calls nothing.
	store, err := repository.Open(ctx, e.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	unlock, ok, err := store.TryLockReconcile(ctx, recApp)
	if err != nil || !ok {
		t.Fatalf("take the sweep lock: %v %v", ok, err)
	}
	listBefore := e.sim.Stats().OrgCalls[ess.ActionDescribeChannelOrganizations][recApp+"/*"]
	code, out, errOut := e.run(t, "reconcile", "--json", "--queue-prefix", e.prefix)
	unlock()
	if code != exitFailure || !strings.Contains(out, `"skipped": true`) || !strings.Contains(errOut, "already running") {
		t.Errorf("sweep while another holds the lock: exit %d\n%s\n%s", code, out, errOut)
	}
	if got := e.sim.Stats().OrgCalls[ess.ActionDescribeChannelOrganizations][recApp+"/*"] - listBefore; got != 0 {
		t.Errorf("a skipped sweep made %d list calls", got)
	}

	// Two sweeps started together: each list page is read by one sweep
	// only, whether they overlapped (one skipped) or not.
	listBefore = e.sim.Stats().OrgCalls[ess.ActionDescribeChannelOrganizations][recApp+"/*"]
	type result struct {
		code int
		out  string
	}
	results := make(chan result, 2)
	for range 2 {
		go func() {
			code, out, _ := e.run(t, "reconcile", "--json", "--queue-prefix", e.prefix)
			results <- result{code, out}
		}()
	}
	ran, skipped, pages := 0, 0, 0
	for range 2 {
		r := <-results
		var rep jobs.SweepReport
		if err := json.NewDecoder(strings.NewReader(r.out)).Decode(&rep); err != nil && err != io.EOF {
			t.Fatalf("reconcile --json: %q: %v", r.out, err)
		}
		switch {
		case rep.Skipped && r.code == exitFailure:
			skipped++
		case !rep.Skipped && r.code == exitOK:
			ran++
			pages += rep.Pages
		default:
			t.Errorf("concurrent sweep: exit %d, report %q", r.code, r.out)
		}
	}
	listCalls := e.sim.Stats().OrgCalls[ess.ActionDescribeChannelOrganizations][recApp+"/*"] - listBefore
	if ran+skipped != 2 || ran == 0 || listCalls != pages || pages != ran {
		t.Errorf("two sweeps at once: %d ran, %d skipped, %d list calls (pages reported %d)", ran, skipped, listCalls, pages)
	}
	if got := e.stateCount(t, onboard.StateAwaitingAdmin); got != n {
		t.Errorf("done after the concurrent sweeps: %d, want %d", got, n)
	}
}

// TestScheduler: 'onboard scheduler' enqueues reconcile:sweep on its
// schedule and the workers' reconcile server runs it. Two schedulers at once
// sweep each tick once; a sweep that fails (the platform's listing refused)
// is recorded with its error and the next tick sweeps again, with no lock
// left behind.
func TestScheduler(t *testing.T) {
	t.Parallel()
	e := newRecEnv(t, esssim.Options{Lifecycle: &esssim.Lifecycle{Manual: true}})
	if code, _, errOut := e.run(t, "scheduler", "--cron", "every now and then"); code != exitUsage || !strings.Contains(errOut, "not a cron schedule") {
		t.Errorf("scheduler with a bad schedule: exit %d, %q", code, errOut)
	}
	e.importFile(t, 3)
	e.startWorkers(t)
	// The platform refuses every listing at first.
	e.sim.SetFaults([]esssim.Fault{{Action: ess.ActionDescribeChannelOrganizations, Share: 1, Code: "InternalError.System"}})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 2)
	outs := []*serveBuffer{newServeBuffer(), newServeBuffer()}
	started := time.Now()
	for i := range 2 {
		go func() {
			env := &Env{Getenv: func(k string) string {
				if k == "ONBOARD_RECONCILE_CRON" {
					return "@every 1s"
				}
				return e.vars[k]
			}, Stdin: strings.NewReader(""), Stdout: outs[i], Stderr: newServeBuffer()}
			done <- run(ctx, []string{"scheduler", "--queue-prefix", e.prefix}, env)
		}()
	}
	testenv.WaitFor(t, time.Minute, "a failed scheduled sweep recorded", func() bool {
		return e.query(t, `SELECT count(*) FROM reconcile_runs WHERE app_id = $1 AND trigger = 'schedule' AND error IS NOT NULL`, recApp) > 0
	})
	e.sim.SetFaults(nil)
	testenv.WaitFor(t, time.Minute, "a good scheduled sweep after the failed one", func() bool {
		return e.query(t, `SELECT count(*) FROM reconcile_runs WHERE app_id = $1 AND trigger = 'schedule' AND finished_at IS NOT NULL AND error IS NULL`, recApp) > 0
	})
	time.Sleep(2 * time.Second)
	cancel()
	elapsed := time.Since(started)
	for range 2 {
		if code := <-done; code != 0 {
			t.Errorf("scheduler exit %d", code)
		}
	}
	if !strings.Contains(outs[0].String(), "@every 1s") {
		t.Errorf("scheduler did not say what it schedules: %q", outs[0].String())
	}
	// One sweep per tick, not one per scheduler (a tick's sweep may also
	// be skipped while the one before still runs).
	runs := e.query(t, `SELECT count(*) FROM reconcile_runs WHERE app_id = $1 AND trigger = 'schedule'`, recApp)
	if ticks := int(elapsed/time.Second) + 1; runs > ticks {
		t.Errorf("%d scheduled sweeps in %v from two schedulers: more than one a tick", runs, elapsed.Round(time.Second))
	}
	// Nothing is left holding the application's sweep lock.
	store, err := repository.Open(context.Background(), e.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	testenv.WaitFor(t, 30*time.Second, "the sweep lock to be free", func() bool {
		unlock, ok, err := store.TryLockReconcile(context.Background(), recApp)
		if err == nil && ok {
			unlock()
		}
		return err == nil && ok
	})
}

// TestSweepWaitsInTheWorkersLimiter: 'onboard reconcile' with the workers'
// --queue-prefix and --rate-scope waits in their rate limiter: a back-off
// the workers' limiter holds for the listing holds the sweep back too.
func TestSweepWaitsInTheWorkersLimiter(t *testing.T) {
	t.Parallel()
	e := newRecEnv(t, esssim.Options{Lifecycle: &esssim.Lifecycle{Manual: true}})
	e.importFile(t, 2)
	cfg, err := loadConfig(func(k string) string { return e.vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	sh := shared{queuePrefix: e.prefix, rateScope: "credential"}
	p, err := openParts(context.Background(), cfg, sh, recQuietLogger(), needStore|needAPI)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	const hold = 2 * time.Second
	if err := p.limiter.Backoff(context.Background(), p.scope(recApp), ess.ActionDescribeChannelOrganizations, hold); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	code, out, errOut := e.run(t, "reconcile", "--json", "--queue-prefix", e.prefix, "--rate-scope", "credential")
	if code != exitOK {
		t.Fatalf("reconcile: exit %d\n%s\n%s", code, out, errOut)
	}
	if took := time.Since(start); took < hold*3/4 {
		t.Errorf("the sweep took %v: it did not wait out the %v back-off of the workers' limiter", took, hold)
	}
	if code, _, errOut := e.run(t, "reconcile", "--rate-scope", "secret"); code != exitUsage || !strings.Contains(errOut, "--rate-scope") {
		t.Errorf("--rate-scope secret: exit %d, %q", code, errOut)
	}
}
