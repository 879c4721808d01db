package web

import (
	"context"
	"net/http"
	"time"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynq/x/metrics"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// registerMetrics adds asynq's queue metrics (one Redis round trip per queue
// per scrape, so only this process registers them) and the organizations by
// state gauge to the server's registry.
func (s *Server) registerMetrics() error {
	if s.opts.Redis != nil {
		insp := asynq.NewInspector(s.opts.Redis)
		s.closers = append(s.closers, insp.Close)
		if err := s.registry.Register(metrics.NewQueueMetricsCollector(insp)); err != nil {
			return err
		}
	}
	if s.opts.Store != nil {
		if err := s.registry.Register(&stateCollector{store: s.opts.Store}); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) metricsHandler() http.Handler {
	return promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{ErrorLog: slogPrinter{s}})
}

type slogPrinter struct{ s *Server }

func (p slogPrinter) Println(v ...any) { p.s.log.Warn("metrics", "error", v) }

var orgsDesc = prometheus.NewDesc("onboard_organizations",
	"Organizations by application and onboarding state.", []string{"app_id", "state"}, nil)

// stateCollector reads the organizations by state from Postgres at scrape
// time.
type stateCollector struct{ store Store }

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) { ch <- orgsDesc }

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := c.store.OrgStateCounts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(orgsDesc, err)
		return
	}
	for _, sc := range counts {
		ch <- prometheus.MustNewConstMetric(orgsDesc, prometheus.GaugeValue, float64(sc.Count), sc.AppID, sc.State)
	}
}
