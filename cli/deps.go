package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/ess-onboard/onboard/ess"
	"github.com/ess-onboard/onboard/intake"
	"github.com/ess-onboard/onboard/jobs"
	"github.com/ess-onboard/onboard/locale"
	"github.com/ess-onboard/onboard/repository"
	"github.com/ess-onboard/onboard/results"
)

// need says which parts a command opens.
type need uint

const (
	needDB      need = 1 << iota // Postgres as it is
	needStore                    // Postgres, pending migrations applied
	needRedis                    // Redis: its options and a client
	needRedisUp                  // Redis, checked to answer (and its eviction policy)
	needQueue                    // the asynq client work is put through
	needAPI                      // the essbasic client, every call waiting for the shared limiter
)

// shared are the options every command that takes them applies alike.
type shared struct {
	// queuePrefix goes before every queue name and rate limiter key.
	queuePrefix string
	// rateScope is what the rate limit counts per besides the action: app
	// or credential.
	rateScope string
	// printer renders the errors a person reads; nil: English.
	printer *locale.Printer
}

// t renders message id of the errors opening the parts.
func (s *shared) t(id string, args ...any) string {
	if s.printer == nil {
		s.printer = locale.New(locale.English)
	}
	return s.printer.T(id, args...)
}

// registerQueuePrefix adds --queue-prefix with the command's own help.
func (s *shared) registerQueuePrefix(fs *flag.FlagSet, help string) {
	fs.StringVar(&s.queuePrefix, "queue-prefix", "", help)
}

// registerRateScope adds --rate-scope.
func (s *shared) registerRateScope(fs *flag.FlagSet) {
	fs.StringVar(&s.rateScope, "rate-scope", "app", "what the rate limit counts per, besides the action: app or credential")
}

func (s *shared) check(env *Env, cmd string) error {
	s.printer = env.printer()
	if s.rateScope != "" && s.rateScope != "app" && s.rateScope != "credential" {
		return usagef("%s: %s", cmd, s.t("cli.parts.rate_scope", "Scope", fmt.Sprintf("%q", s.rateScope)))
	}
	return nil
}

// parts are what a command runs on. openParts builds them from the
// configuration, the same way for every command: the same Redis, the same
// queue prefix and the same limiter bucket wherever they are used.
type parts struct {
	cfg     Config
	shared  shared
	log     *slog.Logger
	store   *repository.Store
	redis   asynq.RedisConnOpt
	rdb     redis.UniversalClient // the limiter's and the readiness check's
	queue   *asynq.Client
	limiter *jobs.Limiter
	api     *ess.Client
	closers []func()
}

// openParts opens the parts n names. log may be nil (nothing is logged).
// On error, whatever was opened is closed again.
func openParts(ctx context.Context, cfg Config, sh shared, log *slog.Logger, n need) (_ *parts, err error) {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	p := &parts{cfg: cfg, shared: sh, log: log}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	if n&(needRedis|needRedisUp|needQueue|needAPI) != 0 {
		if err := p.openRedis(ctx, n&needRedisUp != 0); err != nil {
			return nil, err
		}
	}
	if n&(needDB|needStore) != 0 {
		if p.store, err = repository.Open(ctx, cfg.DatabaseURL); err != nil {
			return nil, err
		}
		p.closers = append(p.closers, p.store.Close)
		if n&needStore != 0 {
			if _, err := p.store.Migrate(ctx); err != nil {
				return nil, fmt.Errorf("%s: %w", p.shared.t("cli.parts.migrations"), err)
			}
		}
	}
	if n&needQueue != 0 {
		p.queue = asynq.NewClient(p.redis)
		p.closers = append(p.closers, func() { p.queue.Close() })
	}
	if n&needAPI != 0 {
		p.limiter = jobs.NewLimiter(p.rdb, jobs.LimiterConfig{Rate: float64(cfg.ESSRateLimit), Prefix: jobs.LimiterPrefix(sh.queuePrefix)})
		p.api, err = ess.New(ess.Config{
			Endpoint: cfg.ESSEndpoint, SecretID: cfg.ESSSecretID, SecretKey: cfg.ESSSecretKey,
			Region: cfg.ESSRegion, Timeout: cfg.ESSTimeout,
			Transport: &jobs.LimitedTransport{Limiter: p.limiter, DefaultScope: p.scope(cfg.AppID),
				Base: http.DefaultTransport.(*http.Transport).Clone()},
		})
		if err != nil {
			return nil, err
		}
	}
	return p, nil
}

// openRedis parses REDIS_URL and opens the client the limiter and the
// readiness check use; with up it checks that Redis answers.
func (p *parts) openRedis(ctx context.Context, up bool) error {
	opt, err := asynq.ParseRedisURI(p.cfg.RedisURL)
	if err != nil {
		return fmt.Errorf("REDIS_URL: %w", err)
	}
	p.redis = opt
	rc, ok := limiterRedisOpt(opt, p.cfg.ESSRateLimit).MakeRedisClient().(redis.UniversalClient)
	if !ok {
		return errors.New("REDIS_URL: " + p.shared.t("cli.parts.redis_type"))
	}
	p.rdb = rc
	p.closers = append(p.closers, func() { rc.Close() })
	if !up {
		return nil
	}
	if err := rc.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("%s: %w", p.shared.t("cli.parts.redis_connect"), err)
	}
	warnEviction(ctx, rc, p.log)
	return nil
}

// Close closes what openParts opened, in reverse order.
func (p *parts) Close() {
	for i := len(p.closers) - 1; i >= 0; i-- {
		p.closers[i]()
	}
	p.closers = nil
}

// scope is the limiter scope of appID's calls.
func (p *parts) scope(appID string) string {
	if p.shared.rateScope == "credential" {
		return jobs.CredentialScope(p.cfg.ESSSecretID)
	}
	return appID
}

// workers returns the workers over the opened parts. The queue prefix, the
// rate scope and the configured query identity come from the parts; the
// rest of jc is the caller's.
func (p *parts) workers(jc jobs.Config) *jobs.Workers {
	jc.QueuePrefix = p.shared.queuePrefix
	if p.shared.rateScope == "credential" {
		jc.RateScope = p.scope
	}
	if jc.QueryIdentities == nil && p.cfg.AppID != "" && p.cfg.QueryOrgOpenID != "" && p.cfg.QueryOperatorOpenID != "" {
		jc.QueryIdentities = map[string]jobs.QueryIdentity{p.cfg.AppID: {OrgOpenID: p.cfg.QueryOrgOpenID, OperatorOpenID: p.cfg.QueryOperatorOpenID}}
	}
	if jc.Logger == nil {
		jc.Logger = p.log
	}
	var api jobs.API
	if p.api != nil {
		api = p.api
	}
	var enq jobs.TaskEnqueuer
	if p.queue != nil {
		enq = p.queue
	}
	return jobs.NewWorkers(p.store, api, p.limiter, enq, jc)
}

// reconciler returns the sweep, applying statuses through w.
func (p *parts) reconciler(w *jobs.Workers) *jobs.Reconciler {
	return &jobs.Reconciler{Workers: w, Store: p.store, Logger: p.log}
}

// intake returns the import use case over the store.
func (p *parts) intake(l intake.Limits) *intake.Intake { return intake.New(p.store, l) }

// resultsSource is what the results file reads (*repository.Store).
type resultsSource interface {
	Batch(ctx context.Context, id int64) (*repository.Batch, error)
	BatchRows(ctx context.Context, batchID int64, fn func(repository.ResultRow) error) error
}

// writeResults writes the results file of batch b in the language and
// zone of opts.
func writeResults(ctx context.Context, src resultsSource, w io.Writer, b *repository.Batch, opts results.Options) error {
	return results.WriteWith(w, b, func(fn func(repository.ResultRow) error) error { return src.BatchRows(ctx, b.ID, fn) }, opts)
}

// writeBatchResults writes the results file of batch id, as writeResults does.
func writeBatchResults(ctx context.Context, src resultsSource, w io.Writer, id int64, opts results.Options) error {
	b, err := src.Batch(ctx, id)
	if err != nil {
		return err
	}
	return writeResults(ctx, src, w, b, opts)
}

// warnEviction warns when Redis may evict keys: asynq's tasks would vanish.
func warnEviction(ctx context.Context, rc redis.UniversalClient, log *slog.Logger) {
	v, err := rc.ConfigGet(ctx, "maxmemory-policy").Result()
	if err != nil {
		log.Warn("could not read Redis maxmemory-policy; it must be noeviction or queued tasks may be lost", "err", err)
		return
	}
	if p := v["maxmemory-policy"]; p != "noeviction" {
		log.Warn("Redis maxmemory-policy is not noeviction: under memory pressure Redis may drop queued tasks", "maxmemory-policy", p)
	}
}

// limiterRedisOpt is redisOpt with a connection pool large enough that the
// rate limiter's callers never queue for a connection: a caller that waits
// for one would learn its turn late and give the turn up.
func limiterRedisOpt(opt asynq.RedisConnOpt, rate int) asynq.RedisConnOpt {
	size := 2*(int(float64(rate)*0.4)+4)*2 + 20
	switch o := opt.(type) {
	case asynq.RedisClientOpt:
		o.PoolSize = max(o.PoolSize, size)
		return o
	case asynq.RedisFailoverClientOpt:
		o.PoolSize = max(o.PoolSize, size)
		return o
	case asynq.RedisClusterClientOpt:
		return o
	}
	return opt
}

// The store the workers, the dashboard and the import run on is the
// repository's.
var _ jobs.Store = (*repository.Store)(nil)
var _ intake.Store = (*repository.Store)(nil)
