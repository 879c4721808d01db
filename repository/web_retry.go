package repository

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/ess-onboard/onboard"
)

// retryStates are the states "retry failed organizations" starts again.
var retryStates = []string{onboard.StateFailed, onboard.StateAuthRejected, onboard.StateTimedOut}

// RetryFailed puts the organizations of batchID that ended failed,
// auth_rejected or timed_out back to queued (their failed services back to
// requested, their errors cleared, each change recorded as an event) and
// counts one more generation of the application's re-enqueued work, so the
// tasks enqueued for them get TaskIDs of their own. It returns the
// generation and the organizations to enqueue.
func (s *Store) RetryFailed(ctx context.Context, batchID int64) (generation int, orgs []OrgVersion, err error) {
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
			UPDATE organizations o SET state = $3, state_changed_at = now(), updated_at = now(),
				last_error_code = NULL, last_error_message = NULL, last_request_id = NULL
			FROM f WHERE o.id = f.id
			RETURNING o.id, o.data_version, f.state`, batchID, retryStates, onboard.StateQueued)
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
			orgs = append(orgs, m.OrgVersion)
			if err := addEvent(ctx, tx, m.OrgID, m.DataVersion, "retry", m.from, onboard.StateQueued, nil); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE organization_services SET state = $2, last_error_code = NULL,
			last_error_message = NULL, last_request_id = NULL, updated_at = now()
			WHERE org_id = ANY($1) AND state = $3`, ids, onboard.ServiceRequested, onboard.ServiceFailed); err != nil {
			return mapErr(err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO applications (app_id) VALUES ($1) ON CONFLICT DO NOTHING`, appID); err != nil {
			return mapErr(err)
		}
		return mapErr(tx.QueryRow(ctx, `UPDATE applications SET resumes = resumes + 1, updated_at = now()
			WHERE app_id = $1 RETURNING resumes`, appID).Scan(&generation))
	})
	if err != nil {
		return 0, nil, fmt.Errorf("retry failed organizations of batch %d: %w", batchID, err)
	}
	return generation, orgs, nil
}
