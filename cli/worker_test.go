package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/ess"
	"github.com/ess-onboard/onboard/esssim"
	"github.com/ess-onboard/onboard/internal/benchrate"
	"github.com/ess-onboard/onboard/internal/testenv"
	"github.com/ess-onboard/onboard/repository"
)

// importTestOrgs stores n generated companies as one batch of the
// simulator's application, as 'onboard import' does: their sync is due.
func importTestOrgs(t *testing.T, e *cliEnv, prefix string, n int, services []onboard.ServiceType) (*repository.Store, int64) {
	t.Helper()
	ctx := context.Background()
	p, err := openParts(ctx, Config{DatabaseURL: e.dbURL}, shared{}, nil, needStore)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	store := p.store
	var data []onboard.OrgData
	for i := 0; i < n; i++ {
		data = append(data, benchrate.Org(prefix, i, services, i%2 == 0))
	}
	res, err := store.Import(ctx, repository.ImportParams{AppID: esssim.DefaultAppID, FileName: "t.xlsx", FileSHA256: "x",
		Sheet: "S", HeaderRow: 1, Headers: benchrate.Headers}, benchrate.Rows(data), nil)
	if err != nil {
		t.Fatal(err)
	}
	return store, res.BatchID
}

// buildOnboard builds the onboard binary into a temporary folder.
func buildOnboard(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "onboard")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/onboard").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestWorkersSurviveEveryFault is the chaos test: two real 'onboard worker'
// processes work through a batch against a simulator that answers 30% of
// calls with a transient error and 5% slowly, while one worker is killed
// with SIGKILL (and another started), every asynq key of the workers'
// queues is deleted, every Postgres connection of the database is
// terminated, and the platform refuses every call for longer than the old
// budget of six tries. Every company still reaches the state its data and
// the simulator imply (done, every service open as asked), none fails, the platform
// never refuses a call for the rate limit, few syncs are repeated (at most
// the tasks in flight at the kill), the batch finishes within a minute of
// the last fault, and the workers shut down cleanly on SIGTERM.
func TestWorkersSurviveEveryFault(t *testing.T) {
	bin := buildOnboard(t)
	e := newCLIEnv(t)
	// The workers need their tasks to stay in Redis for a while, but other
	// tests of this package flush db 3 as they start: db 6, which no test
	// flushes, under queue names and limiter keys of this test.
	redisURL, prefix := testenv.IsolatedRedis(t, 6)
	faults := []esssim.Fault{{Share: 0.3, Code: "InternalError.System"}, {Share: 0.05, Latency: time.Second}}
	sim := esssim.New(esssim.Options{Seed: 11, Faults: faults, Admins: &esssim.Admins{OpenAfter: 300 * time.Millisecond}, Lifecycle: &esssim.Lifecycle{Unverified: 200 * time.Millisecond,
		Verifying: 200 * time.Millisecond, Pending: 200 * time.Millisecond}})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	const n, syncSlots = 150, 6
	services := []onboard.ServiceType{onboard.ServiceAutoSign, onboard.ServiceMobileCheckApprover}
	store, batch := importTestOrgs(t, e, "chaos", n, services)
	ctx := context.Background()

	// The workers run at 19 calls/s against the simulator's 20: this test
	// shares two cores with every other package under the race detector,
	// and a call delayed that long between the shared limiter's grant and
	// its arrival can land 21 in one second (seen once). The limiter's
	// accuracy is the limiter tests' and bench-rate's to show; here the
	// simulator must refuse nothing.
	environ := append(os.Environ(),
		"DATABASE_URL="+e.dbURL, "REDIS_URL="+redisURL, "ESS_ENDPOINT="+srv.URL,
		"ESS_SECRET_ID="+esssim.DefaultSecretID, "ESS_SECRET_KEY="+esssim.DefaultSecretKey,
		"ESS_APP_ID="+esssim.DefaultAppID, "ESS_QUERY_ORG_OPENID="+esssim.DefaultQueryOrgOpenID,
		"ESS_QUERY_OPERATOR_OPENID="+esssim.DefaultQueryOperatorOpenID, "ESS_RATE_LIMIT=19")
	start := func() (*exec.Cmd, *lockedBuffer) {
		logs := &lockedBuffer{}
		cmd := exec.Command(bin, "worker", "--poll-min", "300ms", "--poll-max", "1s", "--retry-base", "200ms",
			"--retry-max", "1s", "--lease", "5s", "--dispatch-interval", "200ms", "--check-interval", "500ms",
			"--shutdown-timeout", "5s", "--concurrency", itoa(syncSlots), "--queue-prefix", prefix)
		cmd.Env = environ
		cmd.Stdout, cmd.Stderr = logs, logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd, logs
	}
	victim, victimLogs := start()
	survivor, survivorLogs := start()
	counts := func() map[string]int {
		c, err := store.StateCounts(ctx, batch)
		if err != nil {
			return nil
		}
		return c
	}
	defer func() {
		if t.Failed() {
			t.Logf("states %v\nkilled worker's log:\n%s\nsurvivor's log:\n%s", counts(), victimLogs, survivorLogs)
		}
	}()
	testenv.WaitFor(t, 60*time.Second, "the workers to get going", func() bool {
		c := counts()
		return c != nil && c[onboard.StateQueued] < n-20
	})

	// 1. A worker dies mid-batch; another takes its place.
	if err := victim.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	victim.Wait()
	_, thirdLogs := start()
	time.Sleep(time.Second)

	// 2. Redis loses every task of the workers' queues.
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	deleted := 0
	iter := rdb.Scan(ctx, 0, "asynq:{"+prefix+"*", 1000).Iterator()
	for iter.Next(ctx) {
		deleted += int(rdb.Del(ctx, iter.Val()).Val())
	}
	if deleted == 0 {
		t.Error("no asynq key of the workers' queues to delete: the fault did not apply")
	}
	time.Sleep(time.Second)

	// 3. Postgres drops every connection of the database.
	admin, err := pgx.Connect(ctx, testenv.AdminDatabaseURL())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	dbName := strings.TrimPrefix(mustParseURL(t, e.dbURL).Path, "/")
	var terminated int
	if err := admin.QueryRow(ctx, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = $1 AND pid <> pg_backend_pid()`, dbName).Scan(&terminated); err != nil {
		t.Fatal(err)
	}
	if terminated == 0 {
		t.Error("no Postgres connection to terminate: the fault did not apply")
	}

	// 4. The platform refuses every call for 20 seconds: far more than the
	// six tries (about 5 seconds at this back-off) that once failed a
	// company for good.
	if err := sim.SetFaults([]esssim.Fault{{Share: 1, Code: "InternalError.System"}}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Second)
	if err := sim.SetFaults(faults); err != nil {
		t.Fatal(err)
	}
	lastFault := time.Now()

	testenv.WaitFor(t, 2*time.Minute, "every company done", func() bool { return counts()[onboard.StateDone] == n })
	recovery := time.Since(lastFault)
	t.Logf("batch of %d finished %v after the last fault (%d keys deleted, %d connections terminated)",
		n, recovery.Round(100*time.Millisecond), deleted, terminated)
	if recovery > time.Minute {
		t.Errorf("the batch finished %v after the last fault, want within a minute", recovery.Round(time.Second))
	}

	// Every company as its data implies: synced, verified, each service as
	// the row asked; none failed for a transient cause.
	syncs := 0
	for i := 0; i < n; i++ {
		d := benchrate.Org("chaos", i, services, i%2 == 0)
		v, ok := sim.Org(esssim.DefaultAppID, d.OpenID)
		if !ok {
			t.Fatalf("%s never reached the platform", d.OpenID)
		}
		syncs += v.Syncs
		id, err := store.OrgIDByOpenID(ctx, esssim.DefaultAppID, d.OpenID)
		if err != nil {
			t.Fatal(err)
		}
		o, err := store.OnboardingOrg(ctx, id, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(o.Services) != len(services) {
			t.Errorf("%s: %d services, want %d", d.OpenID, len(o.Services), len(services))
		}
		for _, sv := range o.Services {
			if sv.State != onboard.ServiceOpened {
				t.Errorf("%s %s: %s, want opened", d.OpenID, sv.Service, sv.State)
			}
		}
	}
	t.Logf("%d successful syncs for %d companies: %d repeated", syncs, n, syncs-n)
	if syncs-n > syncSlots {
		t.Errorf("%d syncs repeated, more than the %d sync tasks that were in flight at the kill", syncs-n, syncSlots)
	}
	st := sim.Stats()
	if st.Total(ess.ActionSyncProxyOrganization, "InternalError.System") == 0 {
		t.Error("no call failed: the faults did not apply")
	}
	for _, a := range []string{ess.ActionSyncProxyOrganization, ess.ActionCreateConsoleLoginUrl,
		ess.ActionDescribeChannelOrganizations, ess.ActionModifyExtendedService} {
		if st.RateLimited[a] != 0 || st.MaxInWindow[a] > esssim.DefaultRateLimit {
			t.Errorf("%s: %d refused for the rate limit, at most %d in one second", a, st.RateLimited[a], st.MaxInWindow[a])
		}
	}

	if err := survivor.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- survivor.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("worker exited with %v after SIGTERM; log:\n%s", err, survivorLogs)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("worker still running 30s after SIGTERM; the third's log:\n%s", thirdLogs)
	}
}

func mustParseURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestStatusCommand(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t)
	_, batch := importTestOrgs(t, e, "st", 3, nil)

	code, out, stderr := e.run(t, "status", "--batch", itoa(batch), "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r struct {
		BatchID *int64         `json:"batch_id"`
		Total   int            `json:"total"`
		States  map[string]int `json:"states"`
		Done    bool           `json:"done"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("not one JSON object: %q: %v", out, err)
	}
	if r.BatchID == nil || *r.BatchID != batch || r.Total != 3 || r.States[onboard.StateQueued] != 3 || r.Done {
		t.Errorf("status %+v, want batch %d with 3 queued, not done", r, batch)
	}

	code, out, _ = e.run(t, "status", "--json")
	if code != 0 || !strings.Contains(out, `"batch_id":null`) {
		t.Errorf("all batches: exit %d, %s; want batch_id null", code, out)
	}
	code, out, _ = e.run(t, "status", "--batch", itoa(batch))
	if code != 0 || !strings.Contains(out, "queued") || !strings.Contains(out, "3 organizations") {
		t.Errorf("text status: exit %d:\n%s", code, out)
	}
	if code, _, stderr := e.run(t, "status", "--batch", "99999"); code != exitFailure || !strings.Contains(stderr, "no batch 99999") {
		t.Errorf("unknown batch: exit %d, %q", code, stderr)
	}
	if code, _, _ := e.run(t, "status", "extra"); code != exitUsage {
		t.Errorf("extra argument: exit %d, want %d", code, exitUsage)
	}
}

func TestResumeCommand(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t)
	store, batch := importTestOrgs(t, e, "rs", 4, nil)
	ctx := context.Background()
	if _, err := store.PauseApplication(ctx, esssim.DefaultAppID, ess.ActionSyncProxyOrganization,
		onboard.StepError{Code: "AuthFailure.SecretIdNotFound", Message: "m", RequestID: "r1"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if reasons, _ := store.BlockedReasons(ctx, batch); reasons[batch] == "" {
		t.Fatal("batch not blocked by the pause")
	}

	if code, _, stderr := e.run(t, "resume"); code != exitUsage || !strings.Contains(stderr, "--app-id") {
		t.Errorf("no application: exit %d, %q", code, stderr)
	}
	if code, _, _ := e.run(t, "resume", "--app-id", "x", "--query-org-openid", "o"); code != exitUsage {
		t.Errorf("half a query identity: exit %d, want %d", code, exitUsage)
	}

	code, out, stderr := e.run(t, "resume", "--app-id", esssim.DefaultAppID, "--query-org-openid", "qo",
		"--query-operator-openid", "qp", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r struct {
		WasPaused bool `json:"was_paused"`
		Due       int  `json:"due"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || !r.WasPaused || r.Due != 4 {
		t.Errorf("resume said %s (%v); want was_paused and the 4 syncs due", out, err)
	}
	a, err := store.Application(ctx, esssim.DefaultAppID)
	if err != nil {
		t.Fatal(err)
	}
	if a.Paused() || a.QueryOrgOpenID != "qo" || a.QueryOperatorOpenID != "qp" {
		t.Errorf("application after resume: %+v", a)
	}
	if reasons, _ := store.BlockedReasons(ctx, batch); len(reasons) != 0 {
		t.Errorf("still blocked: %v", reasons)
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestWorkerMetricsEndpoint runs 'onboard worker --metrics-addr' and reads
// the calls it made from its /metrics.
func TestWorkerMetricsEndpoint(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t)
	redisURL, prefix := testenv.IsolatedRedis(t, 6)
	sim := esssim.New(esssim.Options{Lifecycle: &esssim.Lifecycle{Unverified: 100 * time.Millisecond,
		Verifying: 100 * time.Millisecond, Pending: 100 * time.Millisecond}})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	const n = 3
	store, batch := importTestOrgs(t, e, "metrics", n, nil)
	for k, v := range map[string]string{"REDIS_URL": redisURL, "ESS_ENDPOINT": srv.URL,
		"ESS_SECRET_ID": esssim.DefaultSecretID, "ESS_SECRET_KEY": esssim.DefaultSecretKey,
		"ESS_APP_ID": esssim.DefaultAppID, "ESS_QUERY_ORG_OPENID": esssim.DefaultQueryOrgOpenID,
		"ESS_QUERY_OPERATOR_OPENID": esssim.DefaultQueryOperatorOpenID} {
		e.vars[k] = v
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logs := &lockedBuffer{}
	env := &Env{Getenv: func(k string) string { return e.vars[k] }, Stdin: strings.NewReader(""), Stdout: logs, Stderr: logs}
	exited := make(chan int, 1)
	go func() {
		exited <- run(ctx, []string{"worker", "--metrics-addr", "127.0.0.1:0", "--queue-prefix", prefix,
			"--poll-min", "300ms", "--poll-max", "1s", "--check-interval", "500ms", "--shutdown-timeout", "5s"}, env)
	}()
	testenv.WaitFor(t, 2*time.Minute, "every organization done", func() bool {
		c, err := store.StateCounts(ctx, batch)
		return err == nil && c[onboard.StateDone] == n
	})
	m := regexp.MustCompile(`metrics at (http://\S+/metrics)`).FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("worker did not say where its metrics are:\n%s", logs)
	}
	resp, err := http.Get(m[1])
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	want := fmt.Sprintf(`onboard_api_calls_total{action="SyncProxyOrganization",code="OK"} %d`, n)
	if !strings.Contains(string(body), want) {
		t.Errorf("/metrics lacks %q:\n%s", want, body)
	}
	cancel()
	select {
	case code := <-exited:
		if code != 0 {
			t.Errorf("worker exited with %d:\n%s", code, logs)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("worker still running 30s after it was stopped")
	}
}
