// Command run is the rate benchmark behind scripts/bench-rate.sh: it imports
// a batch of generated companies into a scratch database, runs two real
// 'onboard worker' processes against the simulator at a raised limit, and
// reports the achieved SyncProxyOrganization rate against the limit, the
// calls the simulator refused for the rate limit, the wall time against the
// bound N/limit, and what authorization polling cost.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/ess"
	"github.com/ess-onboard/onboard/esssim"
	"github.com/ess-onboard/onboard/internal/benchrate"
	"github.com/ess-onboard/onboard/internal/testenv"
	"github.com/ess-onboard/onboard/repository"
)

func main() {
	bin := flag.String("bin", "bin/onboard", "the onboard binary")
	n := flag.Int("n", 2000, "companies in the batch")
	limit := flag.Int("limit", 100, "calls per second per action (simulator and workers)")
	workers := flag.Int("workers", 2, "worker processes")
	redisDB := flag.Int("redis-db", 5, "Redis database to use (flushed)")
	flag.Parse()
	if err := run(*bin, *n, *limit, *workers, *redisDB); err != nil {
		fmt.Fprintln(os.Stderr, "bench-rate:", err)
		os.Exit(1)
	}
}

// arrivals records when calls of each action reached the simulator.
type arrivals struct {
	mu sync.Mutex
	at map[string][]time.Time
}

func (a *arrivals) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if act := r.Header.Get("X-TC-Action"); act != "" {
			now := time.Now()
			a.mu.Lock()
			a.at[act] = append(a.at[act], now)
			a.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	})
}

func run(bin string, n, limit, nWorkers, redisDB int) error {
	ctx := context.Background()
	dbURL, drop, err := testenv.CreateDatabase(ctx, "bench")
	if err != nil {
		return err
	}
	defer drop()
	redisURL := fmt.Sprintf("%s/%d", testenv.RedisURL(), redisDB)
	ropt, err := redis.ParseURL(redisURL)
	if err != nil {
		return err
	}
	rc := redis.NewClient(ropt)
	defer rc.Close()
	if err := rc.FlushDB(ctx).Err(); err != nil {
		return fmt.Errorf("flush Redis db %d: %w", redisDB, err)
	}

	sim := esssim.New(esssim.Options{RateLimit: limit, Lifecycle: &esssim.Lifecycle{
		Unverified: 2 * time.Second, Verifying: 2 * time.Second, Pending: 2 * time.Second}})
	arr := &arrivals{at: map[string][]time.Time{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: arr.wrap(sim)}
	go hs.Serve(ln)
	defer hs.Close()

	store, err := repository.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer store.Close()
	if _, err := store.Migrate(ctx); err != nil {
		return err
	}
	data := make([]onboard.OrgData, n)
	for i := range data {
		data[i] = benchrate.Org("bench", i, nil, false)
	}
	res, err := store.Import(ctx, repository.ImportParams{AppID: esssim.DefaultAppID, FileName: "bench.xlsx",
		FileSHA256: "bench", Sheet: "S", HeaderRow: 1, Headers: benchrate.Headers}, benchrate.Rows(data), nil)
	if err != nil {
		return err
	}
	fmt.Printf("imported %d companies (%d due for sync); starting %d worker processes at %d calls/s per action\n", n, res.Enqueued, nWorkers, limit)

	env := append(os.Environ(), "DATABASE_URL="+dbURL, "REDIS_URL="+redisURL,
		"ESS_ENDPOINT=http://"+ln.Addr().String(), "ESS_SECRET_ID="+esssim.DefaultSecretID,
		"ESS_SECRET_KEY="+esssim.DefaultSecretKey, "ESS_APP_ID="+esssim.DefaultAppID,
		"ESS_QUERY_ORG_OPENID="+esssim.DefaultQueryOrgOpenID, "ESS_QUERY_OPERATOR_OPENID="+esssim.DefaultQueryOperatorOpenID,
		fmt.Sprintf("ESS_RATE_LIMIT=%d", limit))
	start := time.Now()
	var procs []*exec.Cmd
	var logs []string
	for i := 0; i < nWorkers; i++ {
		cmd := exec.Command(bin, "worker", "--poll-min", "1s", "--poll-max", "4s", "--check-interval", "1s")
		cmd.Env = env
		log, err := os.CreateTemp("", fmt.Sprintf("bench-worker-%d-*.log", i))
		if err != nil {
			return err
		}
		defer log.Close()
		logs = append(logs, log.Name())
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Start(); err != nil {
			return err
		}
		procs = append(procs, cmd)
	}
	stopAll := func() {
		for _, p := range procs {
			p.Process.Signal(syscall.SIGTERM)
			p.Wait()
		}
		procs = nil
	}
	defer stopAll()

	var syncedAt time.Duration
	deadline := time.Now().Add(time.Duration(n/limit)*time.Second*4 + 3*time.Minute)
	for {
		time.Sleep(250 * time.Millisecond)
		counts, err := store.StateCounts(ctx, res.BatchID)
		if err != nil {
			return err
		}
		if syncedAt == 0 && counts[onboard.StateQueued] == 0 {
			syncedAt = time.Since(start)
		}
		final := 0
		for s, k := range counts {
			if onboard.IsFinal(s) {
				final += k
			}
		}
		if final == n {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not finished in time: %v", counts)
		}
	}
	total := time.Since(start)
	stopAll()
	for _, l := range logs {
		b, _ := os.ReadFile(l)
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "msg=\"rate limiter\"") {
				fmt.Println("worker", line[strings.Index(line, "msg="):])
			}
		}
		os.Remove(l)
	}

	st := sim.Stats()
	arr.mu.Lock()
	syncs := append([]time.Time(nil), arr.at[ess.ActionSyncProxyOrganization]...)
	arr.mu.Unlock()
	sort.Slice(syncs, func(i, j int) bool { return syncs[i].Before(syncs[j]) })
	span := syncs[len(syncs)-1].Sub(syncs[0])
	rate := float64(len(syncs)-1) / span.Seconds()
	rejected := 0
	for _, k := range st.RateLimited {
		rejected += k
	}
	rounds, err := store.PollRounds(ctx, esssim.DefaultAppID)
	if err != nil {
		return err
	}
	calls, polled, worst := 0, 0, ""
	violations := 0
	for _, r := range rounds {
		calls += r.Calls
		polled += r.Waiting
		bound := min(r.Waiting, (r.AppOrgs+199)/200) + 1
		if r.Calls > bound {
			violations++
		}
		if worst == "" || r.Calls > 0 {
			worst = fmt.Sprintf("last round: %s mode, %d waiting of %d companies, %d calls (bound %d)", r.Mode, r.Waiting, r.AppOrgs, r.Calls, bound)
		}
	}
	bound := time.Duration(float64(n) / float64(limit) * float64(time.Second))
	fmt.Printf("\nSyncProxyOrganization: %d calls accepted in %.2fs between the first and the last: %.1f/s = %.3f of the limit %d/s\n",
		st.Total(ess.ActionSyncProxyOrganization, "Success"), span.Seconds(), rate, rate/float64(limit), limit)
	fmt.Printf("most calls of one action in any 1s window: %v\n", st.MaxInWindow)
	fmt.Printf("calls refused for the rate limit: %d\n", rejected)
	fmt.Printf("wall time until every company was synced: %.2fs (bound N/limit = %.2fs, ratio %.3f)\n",
		syncedAt.Seconds(), bound.Seconds(), syncedAt.Seconds()/bound.Seconds())
	fmt.Printf("wall time until every company was final: %.2fs\n", total.Seconds())
	fmt.Printf("authorization polling: %d rounds, %d DescribeChannelOrganizations calls for %d company-polls (%.3f calls per company polled); rounds over min(waiting, ceil(N/200))+1: %d\n  %s\n",
		len(rounds), calls, polled, float64(calls)/float64(max(polled, 1)), violations, worst)
	return nil
}
