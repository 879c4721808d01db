package repository

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ess-onboard/onboard"
)

// retryStates are the states "retry failed organizations" starts again.
var retryStates = []string{onboard.StateFailed, onboard.StateAuthRejected, onboard.StateTimedOut}

// RetryFailed puts the organizations of batchID that ended failed,
// auth_rejected or timed_out back to queued (their failed services back to
// requested, their errors cleared, each change recorded as an event) and
// makes their sync due at now. It returns how many it queued.
func (s *Store) RetryFailed(ctx context.Context, batchID int64, now time.Time) (n int, err error) {
	err = s.withTx(ctx, func(tx pgx.Tx) error {
		var appID string
		if err := tx.QueryRow(ctx, `SELECT app_id FROM batches WHERE id = $1`, batchID).Scan(&appID); err != nil {
			return mapErr(err)
		}
		rows, err := tx.Query(ctx, `WITH f AS (
				SELECT id, state FROM organizations
				WHERE id IN (SELECT org_id FROM batch_rows WHERE batch_id = $1 AND org_id IS NOT NULL)
				  AND state = ANY($2)
				FOR UPDATE)
			UPDATE organizations o SET state = $3, state_changed_at = $4, updated_at = $4,
				awaiting_admin_since = NULL, admin_deadline = NULL,
				last_error_code = NULL, last_error_message = NULL, last_request_id = NULL
			FROM f WHERE o.id = f.id
			RETURNING o.id, o.data_version, f.state`, batchID, retryStates, onboard.StateQueued, now)
		if err != nil {
			return mapErr(err)
		}
		type moved struct {
			OrgVersion
			from string
		}
		ms, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (moved, error) {
			var m moved
			err := r.Scan(&m.OrgID, &m.DataVersion, &m.from)
			return m, err
		})
		if err != nil {
			return mapErr(err)
		}
		if len(ms) == 0 {
			return nil
		}
		ids := make([]int64, len(ms))
		for i, m := range ms {
			ids[i] = m.OrgID
			if err := addEvent(ctx, tx, m.OrgID, m.DataVersion, "retry", m.from, onboard.StateQueued, nil, now); err != nil {
				return err
			}
			if err := putWork(ctx, tx, onboard.Work{AppID: appID, Kind: onboard.WorkSync, OrgID: m.OrgID,
				DataVersion: m.DataVersion, DueAt: now}, now); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE organization_services SET state = $2, last_error_code = NULL,
			last_error_message = NULL, last_request_id = NULL, updated_at = $4
			WHERE org_id = ANY($1) AND state = $3`, ids, onboard.ServiceRequested, onboard.ServiceFailed, now); err != nil {
			return mapErr(err)
		}
		n = len(ms)
		return ensureApp(ctx, tx, appID)
	})
	if err != nil {
		return 0, fmt.Errorf("retry failed organizations of batch %d: %w", batchID, err)
	}
	return n, nil
}
