package repository

import (
	"context"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ess-onboard/onboard"
)

// BeginReconcileRun takes appID's sweep lock (TryLockReconcile) and records
// the start of a run at now. ok is false, and nothing recorded, when
// another sweep holds the lock. Call unlock when the sweep ends.
func (s *Store) BeginReconcileRun(ctx context.Context, appID, trigger string, now time.Time) (int64, func(), bool, error) {
	unlock, ok, err := s.TryLockReconcile(ctx, appID)
	if err != nil || !ok {
		return 0, nil, ok, err
	}
	id, err := s.StartReconcileRun(ctx, appID, trigger, now)
	if err != nil {
		unlock()
		return 0, nil, false, err
	}
	return id, unlock, true, nil
}

// StartReconcileRun records the start of a sweep and returns its id.
func (s *Store) StartReconcileRun(ctx context.Context, appID, trigger string, now time.Time) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `INSERT INTO reconcile_runs (app_id, trigger, started_at) VALUES ($1, $2, $3) RETURNING id`,
		appID, trigger, now).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("record reconciliation start: %w", mapErr(err))
	}
	return id, nil
}

// FinishReconcileRun records a sweep's figures, its end and its drift.
func (s *Store) FinishReconcileRun(ctx context.Context, r *onboard.ReconcileRun, drift []onboard.Drift) error {
	return s.withTx(ctx, func(tx pgx.Tx) error {
		var errText *string
		if r.Error != "" {
			errText = &r.Error
		}
		if _, err := tx.Exec(ctx, `UPDATE reconcile_runs SET finished_at = $12, pages = $2, platform_orgs = $3,
				status_updates = $4, verified = $5, rejected = $6, requeued = $7, links_renewed = $8,
				unknown_orgs = $9, mismatched = $10, error = $11
			WHERE id = $1`, r.ID, r.Pages, r.PlatformOrgs, r.StatusUpdates, r.Verified, r.Rejected,
			r.Requeued, r.LinksRenewed, r.UnknownOrgs, r.Mismatched, errText, r.FinishedAt); err != nil {
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
func (s *Store) ReconcileRuns(ctx context.Context, appID string, limit int) ([]onboard.ReconcileRun, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+runColumns+` FROM reconcile_runs WHERE app_id = $1 ORDER BY id DESC LIMIT $2`, appID, limit)
	if err != nil {
		return nil, fmt.Errorf("list reconciliation runs: %w", mapErr(err))
	}
	defer rows.Close()
	var out []onboard.ReconcileRun
	for rows.Next() {
		var r onboard.ReconcileRun
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
func (s *Store) ReconcileDrift(ctx context.Context, runID int64) ([]onboard.Drift, error) {
	rows, err := s.pool.Query(ctx, `SELECT open_id, kind, ours, platform FROM reconcile_drift WHERE run_id = $1 ORDER BY open_id, kind`, runID)
	if err != nil {
		return nil, fmt.Errorf("list drift: %w", mapErr(err))
	}
	defer rows.Close()
	var out []onboard.Drift
	for rows.Next() {
		var d onboard.Drift
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

// KnownOrgs returns the organizations of appID among openIDs.
func (s *Store) KnownOrgs(ctx context.Context, appID string, openIDs []string) ([]onboard.KnownOrg, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, open_id, data_version, state, name, credit_code,
			coalesce(auth_status, ''), coalesce(platform_org_id, ''), coalesce(platform_admin_open_id, ''),
			coalesce(platform_legal_open_id, '')
		FROM organizations WHERE app_id = $1 AND open_id = ANY($2)`, appID, openIDs)
	if err != nil {
		return nil, fmt.Errorf("known organizations: %w", mapErr(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (onboard.KnownOrg, error) {
		var k onboard.KnownOrg
		err := r.Scan(&k.ID, &k.OpenID, &k.DataVersion, &k.State, &k.Name, &k.CreditCode, &k.AuthStatus,
			&k.PlatformOrgID, &k.AdminOpenID, &k.LegalOpenID)
		return k, err
	})
	if err != nil {
		return nil, fmt.Errorf("known organizations: %w", mapErr(err))
	}
	return out, nil
}

// UpdatePlatformStatus stores the authorization status and the platform's
// ids of organizations past verification (opening_services, done, failed)
// at the data version given, keeping a stored id the platform left empty.
// It returns how many organizations changed.
func (s *Store) UpdatePlatformStatus(ctx context.Context, ups []onboard.PlatformUpdate, now time.Time) (int, error) {
	if len(ups) == 0 {
		return 0, nil
	}
	ids, versions := make([]int64, len(ups)), make([]int32, len(ups))
	status, org, admin, legal := make([]string, len(ups)), make([]string, len(ups)), make([]string, len(ups)), make([]string, len(ups))
	for i, u := range ups {
		ids[i], versions[i], status[i], org[i], admin[i], legal[i] = u.ID, int32(u.DataVersion), u.Status, u.PlatformOrgID, u.AdminOpenID, u.LegalOpenID
	}
	tag, err := s.pool.Exec(ctx, `UPDATE organizations o SET
			auth_status = COALESCE(NULLIF(u.status, ''), o.auth_status),
			platform_org_id = COALESCE(NULLIF(u.org, ''), o.platform_org_id),
			platform_admin_open_id = COALESCE(NULLIF(u.admin, ''), o.platform_admin_open_id),
			platform_legal_open_id = COALESCE(NULLIF(u.legal, ''), o.platform_legal_open_id),
			auth_checked_at = $8, updated_at = $8
		FROM unnest($1::bigint[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[]) AS u(id, version, status, org, admin, legal)
		WHERE o.id = u.id AND o.data_version = u.version AND o.state = ANY($7)
		  AND (o.auth_status IS DISTINCT FROM COALESCE(NULLIF(u.status, ''), o.auth_status)
		    OR o.platform_org_id IS DISTINCT FROM COALESCE(NULLIF(u.org, ''), o.platform_org_id)
		    OR o.platform_admin_open_id IS DISTINCT FROM COALESCE(NULLIF(u.admin, ''), o.platform_admin_open_id)
		    OR o.platform_legal_open_id IS DISTINCT FROM COALESCE(NULLIF(u.legal, ''), o.platform_legal_open_id))`,
		ids, versions, status, org, admin, legal,
		[]string{onboard.StateOpeningServices, onboard.StateAwaitingAdmin, onboard.StateDone, onboard.StateFailed}, now)
	if err != nil {
		return 0, fmt.Errorf("update platform status: %w", mapErr(err))
	}
	return int(tag.RowsAffected()), nil
}

// CheckExpiredLinks makes a check of its services due now for every
// organization of appID waiting for its admin with a link that expired
// before now: the check asks the platform whether the service is open and
// asks for a new link only when it is not. It returns the expired links.
func (s *Store) CheckExpiredLinks(ctx context.Context, appID string, now time.Time) ([]onboard.ExpiredLink, error) {
	var out []onboard.ExpiredLink
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT o.id, o.data_version, sv.service, sv.url_expires_at
			FROM organization_services sv JOIN organizations o ON o.id = sv.org_id
			WHERE o.app_id = $1 AND sv.state = $2 AND sv.url_expires_at < $3 AND o.state = $4
			ORDER BY o.id, sv.service`,
			appID, onboard.ServiceLinked, now, onboard.StateAwaitingAdmin)
		if err != nil {
			return mapErr(err)
		}
		out, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (onboard.ExpiredLink, error) {
			var h onboard.ExpiredLink
			err := r.Scan(&h.OrgID, &h.DataVersion, &h.Service, &h.ExpiredAt)
			return h, err
		})
		if err != nil {
			return mapErr(err)
		}
		seen := map[int64]bool{}
		for _, h := range out {
			if seen[h.OrgID] {
				continue
			}
			seen[h.OrgID] = true
			if err := putWork(ctx, tx, onboard.Work{AppID: appID, Kind: onboard.WorkCheck, OrgID: h.OrgID,
				DataVersion: h.DataVersion, DueAt: now}, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("expired links of %s: %w", appID, err)
	}
	return out, nil
}

// ReconcileAppIDs lists every application onboard has organizations of.
func (s *Store) ReconcileAppIDs(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT app_id FROM organizations ORDER BY app_id`)
	if err != nil {
		return nil, fmt.Errorf("list applications: %w", mapErr(err))
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list applications: %w", mapErr(err))
	}
	return out, nil
}
