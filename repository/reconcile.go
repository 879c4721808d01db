package repository

import (
	"context"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5"
)

// ReconcileRun is one reconciliation sweep of an application.
type ReconcileRun struct {
	ID            int64
	AppID         string
	Trigger       string // cli, schedule, dashboard
	StartedAt     time.Time
	FinishedAt    time.Time // zero while running
	Pages         int       // DescribeChannelOrganizations calls made
	PlatformOrgs  int       // companies the platform listed
	StatusUpdates int       // organizations whose status or OpenIds changed
	Verified      int       // newly verified; service requests queued
	Rejected      int       // newly rejected by the platform
	Requeued      int       // lost or stuck work enqueued again
	LinksRenewed  int       // expired service links issued again
	UnknownOrgs   int       // drift: on the platform, not in onboard
	Mismatched    int       // drift: name or credit code differ
	Error         string    // why the sweep stopped early
}

// Changes is how many things the sweep changed.
func (r *ReconcileRun) Changes() int {
	return r.StatusUpdates + r.Requeued + r.LinksRenewed
}

// Drift is one difference between the platform and onboard.
type Drift struct {
	OpenID   string `json:"open_id"`
	Kind     string `json:"kind"` // DriftUnknown, DriftName, DriftCreditCode
	Ours     string `json:"ours,omitempty"`
	Platform string `json:"platform,omitempty"`
}

// Kinds of drift.
const (
	DriftUnknown    = "unknown"     // the platform lists a company onboard does not know
	DriftName       = "name"        // the names differ
	DriftCreditCode = "credit_code" // the credit codes differ
)

// StartReconcileRun records the start of a sweep and returns its id.
func (s *Store) StartReconcileRun(ctx context.Context, appID, trigger string) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `INSERT INTO reconcile_runs (app_id, trigger) VALUES ($1, $2) RETURNING id`,
		appID, trigger).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("record reconciliation start: %w", mapErr(err))
	}
	return id, nil
}

// FinishReconcileRun records a sweep's figures, its end and its drift.
func (s *Store) FinishReconcileRun(ctx context.Context, r *ReconcileRun, drift []Drift) error {
	return s.withTx(ctx, func(tx pgx.Tx) error {
		var errText *string
		if r.Error != "" {
			errText = &r.Error
		}
		if _, err := tx.Exec(ctx, `UPDATE reconcile_runs SET finished_at = now(), pages = $2, platform_orgs = $3,
				status_updates = $4, verified = $5, rejected = $6, requeued = $7, links_renewed = $8,
				unknown_orgs = $9, mismatched = $10, error = $11
			WHERE id = $1`, r.ID, r.Pages, r.PlatformOrgs, r.StatusUpdates, r.Verified, r.Rejected,
			r.Requeued, r.LinksRenewed, r.UnknownOrgs, r.Mismatched, errText); err != nil {
			return fmt.Errorf("record reconciliation end: %w", mapErr(err))
		}
		if len(drift) == 0 {
			return nil
		}
		open, kind, ours, plat := make([]string, len(drift)), make([]string, len(drift)), make([]string, len(drift)), make([]string, len(drift))
		for i, d := range drift {
			open[i], kind[i], ours[i], plat[i] = d.OpenID, d.Kind, d.Ours, d.Platform
		}
		if _, err := tx.Exec(ctx, `INSERT INTO reconcile_drift (run_id, open_id, kind, ours, platform)
			SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[], $5::text[])
			ON CONFLICT DO NOTHING`, r.ID, open, kind, ours, plat); err != nil {
			return fmt.Errorf("record reconciliation drift: %w", mapErr(err))
		}
		return nil
	})
}

const runColumns = `id, app_id, trigger, started_at, finished_at, pages, platform_orgs, status_updates,
	verified, rejected, requeued, links_renewed, unknown_orgs, mismatched, coalesce(error, '')`

// ReconcileRuns lists an application's newest sweeps first.
func (s *Store) ReconcileRuns(ctx context.Context, appID string, limit int) ([]ReconcileRun, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+runColumns+` FROM reconcile_runs WHERE app_id = $1 ORDER BY id DESC LIMIT $2`, appID, limit)
	if err != nil {
		return nil, fmt.Errorf("list reconciliation runs: %w", mapErr(err))
	}
	defer rows.Close()
	var out []ReconcileRun
	for rows.Next() {
		var r ReconcileRun
		var fin *time.Time
		if err := rows.Scan(&r.ID, &r.AppID, &r.Trigger, &r.StartedAt, &fin, &r.Pages, &r.PlatformOrgs,
			&r.StatusUpdates, &r.Verified, &r.Rejected, &r.Requeued, &r.LinksRenewed, &r.UnknownOrgs,
			&r.Mismatched, &r.Error); err != nil {
			return nil, fmt.Errorf("list reconciliation runs: %w", mapErr(err))
		}
		if fin != nil {
			r.FinishedAt = *fin
		}
		out = append(out, r)
	}
	return out, mapErr(rows.Err())
}

// ReconcileDrift lists the drift one sweep recorded.
func (s *Store) ReconcileDrift(ctx context.Context, runID int64) ([]Drift, error) {
	rows, err := s.pool.Query(ctx, `SELECT open_id, kind, ours, platform FROM reconcile_drift WHERE run_id = $1 ORDER BY open_id, kind`, runID)
	if err != nil {
		return nil, fmt.Errorf("list drift: %w", mapErr(err))
	}
	defer rows.Close()
	var out []Drift
	for rows.Next() {
		var d Drift
		if err := rows.Scan(&d.OpenID, &d.Kind, &d.Ours, &d.Platform); err != nil {
			return nil, fmt.Errorf("list drift: %w", mapErr(err))
		}
		out = append(out, d)
	}
	return out, mapErr(rows.Err())
}

// reconcileLockKey is the advisory lock key of one application's sweep.
func reconcileLockKey(appID string) int64 {
	h := fnv.New64a()
	h.Write([]byte("onboard:reconcile:" + appID))
	return int64(h.Sum64())
}

// TryLockReconcile takes the application's sweep lock, a Postgres advisory
// lock held by one connection, so that one sweep per application runs at a
// time however many processes try. ok is false when another holds it. Call
// unlock when the sweep ends; the lock also ends with the connection.
func (s *Store) TryLockReconcile(ctx context.Context, appID string) (unlock func(), ok bool, err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("reconciliation lock: %w", mapErr(err))
	}
	key := reconcileLockKey(appID)
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&ok); err != nil {
		conn.Release()
		return nil, false, fmt.Errorf("reconciliation lock: %w", mapErr(err))
	}
	if !ok {
		conn.Release()
		return func() {}, false, nil
	}
	return func() {
		uctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, `SELECT pg_advisory_unlock($1)`, key); err != nil {
			// The lock is tied to the session: close the connection to drop it.
			conn.Conn().Close(uctx)
		}
		conn.Release()
	}, true, nil
}
