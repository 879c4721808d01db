package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/ess"
	"github.com/ess-onboard/onboard/esssim"
	"github.com/ess-onboard/onboard/internal/benchrate"
	"github.com/ess-onboard/onboard/internal/testenv"
	"github.com/ess-onboard/onboard/jobs"
	"github.com/ess-onboard/onboard/repository"
)

// importTestOrgs stores n generated companies as one batch of the
// simulator's application and queues their sync tasks.
func importTestOrgs(t *testing.T, e *cliEnv, prefix string, n int, services []onboard.ServiceType) (*repository.Store, int64) {
	return importTestOrgsTo(t, e, prefix, n, services, e.redisURL, "")
}

// importTestOrgsTo is importTestOrgs with the sync tasks sent to queue of
// the Redis at redisURL.
func importTestOrgsTo(t *testing.T, e *cliEnv, prefix string, n int, services []onboard.ServiceType, redisURL, queue string) (*repository.Store, int64) {
	t.Helper()
	ctx := context.Background()
	store, err := openMigratedStore(ctx, Config{DatabaseURL: e.dbURL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)
	var data []onboard.OrgData
	for i := 0; i < n; i++ {
		data = append(data, benchrate.Org(prefix, i, services, i%2 == 0))
	}
	res, err := store.Import(ctx, repository.ImportParams{AppID: esssim.DefaultAppID, FileName: "t.xlsx", FileSHA256: "x",
		Sheet: "S", HeaderRow: 1, Headers: benchrate.Headers}, benchrate.Rows(data), nil)
	if err != nil {
		t.Fatal(err)
	}
	opt, _ := asynq.ParseRedisURI(redisURL)
	client := asynq.NewClient(opt)
	defer client.Close()
	if _, err := (&jobs.Enqueuer{Client: client, Recorder: store, Queue: queue}).EnqueueSync(ctx, res.ToEnqueue); err != nil {
		t.Fatal(err)
	}
	return store, res.BatchID
}

// buildOnboard builds the onboard binary into a temporary folder.
func buildOnboard(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "onboard")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestWorkerProcessesShareTheLimitAndSurviveAKill runs two real 'onboard
// worker' processes against the simulator, SIGKILLs one mid-batch, and
// checks that every organization still gets through, that the platform never
// refused a call for the rate limit, and that the survivor shuts down
// cleanly on SIGTERM.
func TestWorkerProcessesShareTheLimitAndSurviveAKill(t *testing.T) {
	bin := buildOnboard(t)
	e := newCLIEnv(t)
	// The worker processes need their tasks to stay in Redis for minutes,
	// but every other test of this package (and other people's runs of it)
	// flushes db 3 as it starts. So this test uses db 6, which no test
	// flushes, under queue names and limiter keys of its own, and deletes
	// only its own keys at the end.
	redisURL, prefix := testenv.IsolatedRedis(t, 6)
	sim := esssim.New(esssim.Options{Lifecycle: &esssim.Lifecycle{Unverified: 200 * time.Millisecond,
		Verifying: 200 * time.Millisecond, Pending: 200 * time.Millisecond}})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	const n = 80
	store, batch := importTestOrgsTo(t, e, "kill", n, []onboard.ServiceType{onboard.ServiceAutoSign}, redisURL, prefix+jobs.QueueSync)
	opt, _ := asynq.ParseRedisURI(redisURL)
	insp := asynq.NewInspector(opt)
	defer insp.Close()

	environ := append(os.Environ(),
		"DATABASE_URL="+e.dbURL, "REDIS_URL="+redisURL, "ESS_ENDPOINT="+srv.URL,
		"ESS_SECRET_ID="+esssim.DefaultSecretID, "ESS_SECRET_KEY="+esssim.DefaultSecretKey,
		"ESS_APP_ID="+esssim.DefaultAppID, "ESS_QUERY_ORG_OPENID="+esssim.DefaultQueryOrgOpenID,
		"ESS_QUERY_OPERATOR_OPENID="+esssim.DefaultQueryOperatorOpenID, "ESS_RATE_LIMIT=20")
	start := func() (*exec.Cmd, *lockedBuffer) {
		logs := &lockedBuffer{}
		cmd := exec.Command(bin, "worker", "--poll-min", "300ms", "--poll-max", "1s", "--retry-base", "1s",
			"--retry-max", "2s", "--check-interval", "500ms", "--shutdown-timeout", "5s", "--queue-prefix", prefix)
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

	ctx := context.Background()
	testenv.WaitFor(t, 60*time.Second, "the workers to get going", func() bool {
		c, err := store.StateCounts(ctx, batch)
		return err == nil && c[onboard.StateQueued] < n-10
	})
	if err := victim.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	victim.Wait()
	defer func() {
		if t.Failed() {
			t.Logf("killed worker's log:\n%s", victimLogs)
		}
	}()

	var counts map[string]int
	deadline := time.Now().Add(4 * time.Minute)
	for counts[onboard.StateDone] != n {
		if time.Now().After(deadline) {
			var queues []string
			for _, q := range jobs.Queues {
				if qi, err := insp.GetQueueInfo(prefix + q); err == nil {
					queues = append(queues, fmt.Sprintf("%s: %d pending %d active %d scheduled %d retry %d archived %d completed",
						q, qi.Pending, qi.Active, qi.Scheduled, qi.Retry, qi.Archived, qi.Completed))
				}
			}
			app, _ := store.Application(ctx, esssim.DefaultAppID)
			t.Fatalf("not all done after the kill: %v\napplication: %+v\nsimulator: %v\nqueues: %s\nsurvivor's log:\n%s",
				counts, app, sim.Stats().Calls, strings.Join(queues, "; "), survivorLogs)
		}
		time.Sleep(200 * time.Millisecond)
		var err error
		counts, err = store.StateCounts(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
	}
	st := sim.Stats()
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
		t.Fatalf("worker still running 30s after SIGTERM")
	}
}

func TestStatusCommand(t *testing.T) {
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
	e := newCLIEnv(t)
	store, batch := importTestOrgs(t, e, "rs", 4, nil)
	ctx := context.Background()
	if _, err := store.PauseApplication(ctx, esssim.DefaultAppID, ess.ActionSyncProxyOrganization,
		onboard.StepError{Code: "AuthFailure.SecretIdNotFound", Message: "m", RequestID: "r1"}); err != nil {
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
		Syncs     int  `json:"syncs"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || !r.WasPaused || r.Syncs != 4 {
		t.Errorf("resume said %s (%v); want was_paused and 4 syncs", out, err)
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
	tasks, err := e.inspector.ListPendingTasks(jobs.QueueSync, asynq.PageSize(100))
	if err != nil {
		t.Fatal(err)
	}
	resynced := 0
	for _, ti := range tasks {
		if strings.HasSuffix(ti.ID, ":g1") {
			resynced++
		}
	}
	if resynced != 4 {
		t.Errorf("%d re-enqueued sync tasks with the generation suffix, want 4", resynced)
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestWorkerMetricsEndpoint runs 'onboard worker --metrics-addr' and reads
// the calls it made from its /metrics.
func TestWorkerMetricsEndpoint(t *testing.T) {
	e := newCLIEnv(t)
	redisURL, prefix := testenv.IsolatedRedis(t, 6)
	sim := esssim.New(esssim.Options{Lifecycle: &esssim.Lifecycle{Unverified: 100 * time.Millisecond,
		Verifying: 100 * time.Millisecond, Pending: 100 * time.Millisecond}})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	const n = 3
	store, batch := importTestOrgsTo(t, e, "metrics", n, nil, redisURL, prefix+jobs.QueueSync)
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
