package repository

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ess-onboard/onboard"
)

// Work that is due: every state change that needs a follow-up records it in
// the work table in the same transaction; the dispatcher (Dispatch) hands
// due work to the queue, and the handler that runs it claims it
// (ClaimWork), then ends it in the transaction that records its outcome.
// A step whose task vanished, or that did not finish within its lease, is
// handed out again under its next attempt; a task of an older attempt finds
// nothing to claim.

const workColumns = `id, app_id, kind, COALESCE(org_id, 0), data_version, service, due_at, attempt, tries, first_error_at`

func scanWork(r pgx.Row) (onboard.Work, error) {
	var w onboard.Work
	var first *time.Time
	err := r.Scan(&w.ID, &w.AppID, &w.Kind, &w.OrgID, &w.DataVersion, &w.Service, &w.DueAt, &w.Attempt, &w.Tries, &first)
	w.FirstErrorAt = tm(first)
	return w, err
}

// putWork records that w is due at w.DueAt. Work of the same organization,
// kind and service already recorded is replaced: a new attempt, so a task
// of the old one finds nothing to claim, and a fresh error budget.
func putWork(ctx context.Context, tx pgx.Tx, w onboard.Work, now time.Time) error {
	if w.Kind == onboard.WorkPoll {
		return ensurePoll(ctx, tx, w.AppID, w.DueAt, now)
	}
	_, err := tx.Exec(ctx, `INSERT INTO work (app_id, kind, org_id, data_version, service, due_at, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (org_id, kind, service) WHERE org_id IS NOT NULL DO UPDATE SET
			data_version = EXCLUDED.data_version, due_at = EXCLUDED.due_at, attempt = work.attempt + 1,
			lease_until = NULL, claimed_at = NULL, tries = 0, first_error_at = NULL,
			last_error_code = NULL, last_error_message = NULL`,
		w.AppID, w.Kind, w.OrgID, w.DataVersion, w.Service, w.DueAt, now)
	return mapErr(err)
}

// ensurePoll makes sure appID's authorization polling is due by at: a
// round already due earlier keeps its time, and the back-off starts again
// (new companies wait).
func ensurePoll(ctx context.Context, tx pgx.Tx, appID string, at, now time.Time) error {
	// Most callers find a round due soon enough: look first, without a
	// lock, so that syncs finishing together do not queue on the one
	// polling row.
	var due time.Time
	err := tx.QueryRow(ctx, `SELECT due_at FROM work WHERE app_id = $1 AND kind = 'poll'`, appID).Scan(&due)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return mapErr(err)
	}
	if err == nil && !due.After(at) {
		return resetPollBackoff(ctx, tx, appID)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO work (app_id, kind, due_at, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (app_id) WHERE kind = 'poll' DO UPDATE SET due_at = LEAST(work.due_at, EXCLUDED.due_at)`,
		appID, onboard.WorkPoll, at, now); err != nil {
		return mapErr(err)
	}
	if err := ensureApp(ctx, tx, appID); err != nil {
		return err
	}
	return resetPollBackoff(ctx, tx, appID)
}

// resetPollBackoff starts the pause between polling rounds again from its
// shortest (new companies wait); the row is touched only when it must be.
func resetPollBackoff(ctx context.Context, tx pgx.Tx, appID string) error {
	_, err := tx.Exec(ctx, `UPDATE applications SET poll_idle_rounds = 0 WHERE app_id = $1 AND poll_idle_rounds <> 0`, appID)
	return mapErr(err)
}

// endWork deletes the work w ran as, when it is still that attempt. It
// reports whether it was.
func endWork(ctx context.Context, tx pgx.Tx, w onboard.Work) (bool, error) {
	tag, err := tx.Exec(ctx, `DELETE FROM work WHERE id = $1 AND attempt = $2`, w.ID, w.Attempt)
	return tag.RowsAffected() == 1, mapErr(err)
}

// ErrStale and ErrPaused are onboard's: the work moved on since its task
// was dispatched, or its application is paused.
var (
	ErrStale  = onboard.ErrStale
	ErrPaused = onboard.ErrPaused
)

// ClaimWork starts work id as dispatched in attempt: it holds it until
// now + lease (ExtendLease holds it longer). ErrStale when the work has
// moved on; ErrPaused, with the work handed back, when its application is
// paused.
func (s *Store) ClaimWork(ctx context.Context, id int64, attempt int, now time.Time, lease time.Duration) (onboard.Work, error) {
	var w onboard.Work
	var paused bool
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		var err error
		w, err = scanWork(tx.QueryRow(ctx, `UPDATE work SET lease_until = $3, claimed_at = $4
			WHERE id = $1 AND attempt = $2 RETURNING `+workColumns, id, attempt, now.Add(lease), now))
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrStale
		}
		if err != nil {
			return mapErr(err)
		}
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM applications WHERE app_id = $1 AND paused_at IS NOT NULL)`,
			w.AppID).Scan(&paused); err != nil || !paused {
			return mapErr(err)
		}
		_, err = tx.Exec(ctx, `UPDATE work SET lease_until = NULL, claimed_at = NULL WHERE id = $1`, id)
		return mapErr(err)
	})
	if err == nil && paused {
		err = ErrPaused
	}
	return w, err
}

// ExtendLease holds running work until until. ErrStale when it has moved on.
func (s *Store) ExtendLease(ctx context.Context, w onboard.Work, until time.Time) error {
	return s.extendLease(ctx, w, until)
}

// EndWork ends work w without another step (its organization moved on).
// Nothing happens when the work has moved on.
func (s *Store) EndWork(ctx context.Context, w onboard.Work) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM work WHERE id = $1 AND attempt = $2`, w.ID, w.Attempt)
	return mapErr(err)
}

func (s *Store) extendLease(ctx context.Context, w onboard.Work, until time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE work SET lease_until = $3 WHERE id = $1 AND attempt = $2`, w.ID, w.Attempt, until)
	if err != nil {
		return mapErr(err)
	}
	if tag.RowsAffected() == 0 {
		return ErrStale
	}
	return nil
}

// RetryWork hands running work back to be run again at d.At. A counted
// retry (onboard.RetryLater) adds a try to the run of transient errors
// (which began at now when none had) and keeps e on the work and as its
// organization's last error; a wait (onboard.WaitLater) changes nothing
// else. Nothing happens when the work has moved on.
func (s *Store) RetryWork(ctx context.Context, w onboard.Work, d onboard.RetryDecision, step string, e *onboard.StepError, now time.Time) error {
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		counted := d.Outcome == onboard.RetryLater
		var code, msg any
		if e != nil {
			code, msg = nullable(e.Code), nullable(e.Message)
		}
		tag, err := tx.Exec(ctx, `UPDATE work SET due_at = $3, lease_until = NULL, claimed_at = NULL,
				tries = tries + CASE WHEN $4 THEN 1 ELSE 0 END,
				first_error_at = CASE WHEN $4 THEN COALESCE(first_error_at, $5) ELSE first_error_at END,
				last_error_code = COALESCE($6, last_error_code), last_error_message = COALESCE($7, last_error_message)
			WHERE id = $1 AND attempt = $2`, w.ID, w.Attempt, d.At, counted, now, code, msg)
		if err != nil {
			return mapErr(err)
		}
		if tag.RowsAffected() == 0 || !counted || e == nil || w.OrgID == 0 {
			return nil
		}
		state, err := lockOrg(ctx, tx, w.OrgID, w.DataVersion)
		if err != nil || state == "" {
			return err
		}
		if err := recordError(ctx, tx, w.OrgID, *e, now); err != nil {
			return err
		}
		return addEvent(ctx, tx, w.OrgID, w.DataVersion, step, state, state, e, now)
	})
	if err != nil {
		return fmt.Errorf("retry %s work %d: %w", w.Kind, w.ID, err)
	}
	return nil
}

// FailSync ends the sync work of an organization that the platform refused
// for good: the organization is failed with e.
func (s *Store) FailSync(ctx context.Context, w onboard.Work, e onboard.StepError, now time.Time) error {
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		if ok, err := endWork(ctx, tx, w); err != nil || !ok {
			return err
		}
		state, err := lockOrg(ctx, tx, w.OrgID, w.DataVersion)
		if err != nil || state == "" {
			return err
		}
		to := state
		if !onboard.IsFinal(state) {
			to = onboard.StateFailed
		}
		if err := recordError(ctx, tx, w.OrgID, e, now); err != nil {
			return err
		}
		return setState(ctx, tx, w.OrgID, w.DataVersion, "sync", state, to, &e, now)
	})
	if err != nil {
		return fmt.Errorf("fail organization %d: %w", w.OrgID, err)
	}
	return nil
}

// CompleteSync records that SyncProxyOrganization accepted the data of the
// sync work w, and makes the next step due in the same transaction: the
// console link when the row named an admin (login true), else waiting for
// authorization (aw). Nothing happens when the work has moved on.
func (s *Store) CompleteSync(ctx context.Context, w onboard.Work, requestID string, login bool, aw onboard.Awaiting, now time.Time) error {
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		if ok, err := endWork(ctx, tx, w); err != nil || !ok {
			return err
		}
		state, err := lockOrg(ctx, tx, w.OrgID, w.DataVersion)
		if err != nil || state != onboard.StateQueued {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE organizations SET synced_version = $2, synced_at = $4,
			last_error_code = NULL, last_error_message = NULL, last_request_id = $3, updated_at = $4
			WHERE id = $1`, w.OrgID, w.DataVersion, nullable(requestID), now); err != nil {
			return mapErr(err)
		}
		if err := addEvent(ctx, tx, w.OrgID, w.DataVersion, "sync", state, state, &onboard.StepError{RequestID: requestID}, now); err != nil {
			return err
		}
		if login {
			return putWork(ctx, tx, onboard.Work{AppID: w.AppID, Kind: onboard.WorkLogin, OrgID: w.OrgID,
				DataVersion: w.DataVersion, DueAt: now}, now)
		}
		return awaitAuth(ctx, tx, w, "sync", aw, now)
	})
	if err != nil {
		return fmt.Errorf("record sync of organization %d: %w", w.OrgID, err)
	}
	return nil
}

// CompleteLogin ends the login work w: it stores the console link issued
// (l, nil when none was), or keeps e as the reason there is none, and moves
// the organization to waiting for authorization (aw). Nothing happens when
// the work has moved on.
func (s *Store) CompleteLogin(ctx context.Context, w onboard.Work, l *onboard.LoginURL, e *onboard.StepError, aw onboard.Awaiting, now time.Time) error {
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		if ok, err := endWork(ctx, tx, w); err != nil || !ok {
			return err
		}
		state, err := lockOrg(ctx, tx, w.OrgID, w.DataVersion)
		if err != nil || state != onboard.StateQueued {
			return err
		}
		switch {
		case l != nil:
			if _, err := tx.Exec(ctx, `UPDATE organizations SET login_url = $2, login_url_expires_at = $3,
				login_operator_open_id = $4, login_endpoint = $5, updated_at = $6 WHERE id = $1`,
				w.OrgID, l.URL, l.ExpiresAt, l.Operator, l.Endpoint, now); err != nil {
				return mapErr(err)
			}
			if err := addEvent(ctx, tx, w.OrgID, w.DataVersion, "login_url", state, state, &onboard.StepError{RequestID: l.RequestID}, now); err != nil {
				return err
			}
		case e != nil:
			if err := recordError(ctx, tx, w.OrgID, *e, now); err != nil {
				return err
			}
			if err := addEvent(ctx, tx, w.OrgID, w.DataVersion, "login_url", state, state, e, now); err != nil {
				return err
			}
		}
		return awaitAuth(ctx, tx, w, "login_url", aw, now)
	})
	if err != nil {
		return fmt.Errorf("record console link of organization %d: %w", w.OrgID, err)
	}
	return nil
}

// awaitAuth moves the locked, queued organization of w to awaiting_auth and
// makes its application's polling due.
func awaitAuth(ctx context.Context, tx pgx.Tx, w onboard.Work, step string, aw onboard.Awaiting, now time.Time) error {
	if _, err := tx.Exec(ctx, `UPDATE organizations SET auth_deadline = $2, auth_status = NULL,
		auth_checked_at = NULL WHERE id = $1`, w.OrgID, aw.Deadline); err != nil {
		return mapErr(err)
	}
	early, err := takeEarlyCallbacks(ctx, tx, w.OrgID, onboard.CallbackVerifyDue)
	if err != nil {
		return err
	}
	if err := setState(ctx, tx, w.OrgID, w.DataVersion, step, onboard.StateQueued, onboard.StateAwaitingAuth, nil, now); err != nil {
		return err
	}
	if early {
		if err := putWork(ctx, tx, onboard.Work{AppID: w.AppID, Kind: onboard.WorkVerify, OrgID: w.OrgID,
			DataVersion: w.DataVersion, DueAt: now}, now); err != nil {
			return err
		}
	}
	return ensurePoll(ctx, tx, w.AppID, aw.PollAt, now)
}

// takeEarlyCallbacks finds the callbacks about the locked organization id
// that arrived while it waited for nothing a callback could tell (verdict
// nothing_waiting) since it entered its current state, just before it starts
// waiting: the platform may report a verification or an opened service
// before onboard has recorded the step that makes the company wait for it,
// and such a callback must still make the check due. Their verdict becomes
// verdict; it reports whether there were any.
func takeEarlyCallbacks(ctx context.Context, tx pgx.Tx, id int64, verdict string) (bool, error) {
	tag, err := tx.Exec(ctx, `UPDATE callbacks SET verdict = $2 WHERE org_id = $1 AND verdict = $3
		AND received_at >= (SELECT state_changed_at FROM organizations WHERE id = $1)`,
		id, verdict, onboard.CallbackNothingWaiting)
	if err != nil {
		return false, mapErr(err)
	}
	return tag.RowsAffected() > 0, nil
}

// FinishPollRound records polling round r of the poll work w and makes the
// next round due while organizations still wait (onboard.PollDelay), or
// ends the polling when none does or stop is set (the application paused;
// resume does not need it: the next organization to wait starts it again,
// and so does ResumePolling). It returns the round's number and when the
// next is due (zero when none).
func (s *Store) FinishPollRound(ctx context.Context, w onboard.Work, r onboard.PollRound, sched onboard.PollSchedule, stop bool, now time.Time) (round int, next time.Time, err error) {
	err = s.withTx(ctx, func(tx pgx.Tx) error {
		var idle int
		err := tx.QueryRow(ctx, `UPDATE applications SET poll_round = poll_round + 1, updated_at = $2,
				platform_total = CASE WHEN $3 > 0 THEN $3 ELSE platform_total END
			WHERE app_id = $1 RETURNING poll_round, poll_idle_rounds`, w.AppID, now, r.PlatformTotal).Scan(&round, &idle)
		if err != nil {
			return mapErr(err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO auth_poll_rounds (app_id, round, started_at, finished_at, mode, waiting,
			app_orgs, calls, changed, error_code) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			w.AppID, round, r.StartedAt, now, r.Mode, r.Waiting, r.AppOrgs, r.Calls, r.Changed, nullable(r.ErrorCode)); err != nil {
			return mapErr(err)
		}
		var waiting bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM organizations WHERE app_id = $1 AND state = $2)`,
			w.AppID, onboard.StateAwaitingAuth).Scan(&waiting); err != nil {
			return mapErr(err)
		}
		if stop || !waiting {
			_, err := endWork(ctx, tx, w)
			return err
		}
		if r.Changed > 0 {
			idle = 0
		} else {
			idle++
		}
		next = now.Add(onboard.PollDelay(idle, sched.Min, sched.Max))
		if _, err := tx.Exec(ctx, `UPDATE applications SET poll_idle_rounds = $2 WHERE app_id = $1`, w.AppID, idle); err != nil {
			return mapErr(err)
		}
		tag, err := tx.Exec(ctx, `UPDATE work SET due_at = $3, lease_until = NULL, claimed_at = NULL, tries = 0,
			first_error_at = NULL, last_error_code = NULL, last_error_message = NULL WHERE id = $1 AND attempt = $2`,
			w.ID, w.Attempt, next)
		if err != nil {
			return mapErr(err)
		}
		if tag.RowsAffected() == 0 {
			next = time.Time{}
		}
		return nil
	})
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("finish polling round of %s: %w", w.AppID, err)
	}
	return round, next, nil
}

// ResumePolling makes appID's polling due at now when organizations wait
// for authorization (after a pause ended it).
func (s *Store) ResumePolling(ctx context.Context, appID string, now time.Time) error {
	return s.withTx(ctx, func(tx pgx.Tx) error {
		var waiting bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM organizations WHERE app_id = $1 AND state = $2)`,
			appID, onboard.StateAwaitingAuth).Scan(&waiting); err != nil {
			return mapErr(err)
		}
		if !waiting {
			return nil
		}
		return ensurePoll(ctx, tx, appID, now, now)
	})
}

// CompleteService ends the service work w with the outcome of
// ModifyExtendedService (r.State linked, opened or failed), then moves the
// organization as onboard.ServicesOutcome decides once no service is still
// requested: to awaiting_admin while a link is to be opened (with the
// deadline of aw, kept from the first time, and a check of its services due
// at aw.CheckAt). It returns the organization's state after ("" when the
// work or the data moved on).
func (s *Store) CompleteService(ctx context.Context, w onboard.Work, r onboard.ServiceResult, aw onboard.AdminWait, now time.Time) (string, error) {
	var after string
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		if ok, err := endWork(ctx, tx, w); err != nil || !ok {
			return err
		}
		state, err := lockOrg(ctx, tx, w.OrgID, w.DataVersion)
		if err != nil || state != onboard.StateOpeningServices {
			return err
		}
		after = state
		var code, msg, reqID any
		if r.Err != nil {
			code, msg, reqID = nullable(r.Err.Code), nullable(r.Err.Message), nullable(r.Err.RequestID)
		}
		var url, exp any
		if r.URL != "" {
			url, exp = r.URL, r.ExpiresAt
		}
		tag, err := tx.Exec(ctx, `UPDATE organization_services SET state = $3, operate_url = $4, url_expires_at = $5,
			last_error_code = $6, last_error_message = $7, last_request_id = $8, updated_at = $9
			WHERE org_id = $1 AND service = $2 AND state = 'requested'`,
			w.OrgID, w.Service, r.State, url, exp, code, msg, reqID, now)
		if err != nil {
			return mapErr(err)
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		if err := addEvent(ctx, tx, w.OrgID, w.DataVersion, "service:"+w.Service, state, state, r.Err, now); err != nil {
			return err
		}
		if after, err = servicesOutcome(ctx, tx, w.OrgID); err != nil {
			return err
		}
		if after == state {
			return nil
		}
		if after == onboard.StateAwaitingAdmin {
			if err := awaitAdmin(ctx, tx, w, aw, now); err != nil {
				return err
			}
		}
		var e *onboard.StepError
		if after == onboard.StateFailed {
			e = &onboard.StepError{}
			if err := tx.QueryRow(ctx, `SELECT COALESCE(last_error_code, ''), COALESCE(last_error_message, ''), COALESCE(last_request_id, '')
				FROM organization_services WHERE org_id = $1 AND state = 'failed' ORDER BY updated_at DESC LIMIT 1`, w.OrgID).
				Scan(&e.Code, &e.Message, &e.RequestID); err != nil {
				return mapErr(err)
			}
		}
		return setState(ctx, tx, w.OrgID, w.DataVersion, "services", state, after, e, now)
	})
	if err != nil {
		return "", fmt.Errorf("service %s of organization %d: %w", w.Service, w.OrgID, err)
	}
	return after, nil
}

// dispatchLockKey is the transaction-level advisory lock that keeps
// dispatches one at a time, however many processes run a dispatcher.
const dispatchLockKey = 0x6f6e626f61726401 // "onboard" 1

// Dispatch hands out the due work of every running (not paused)
// application: work due by now that is not in flight, oldest first, up to
// each kind's window less what is already in flight, each under its next
// attempt and leased for lim.Lease. put moves it into the queue; when put
// fails nothing is recorded (the work is handed out again next time, under
// the same attempts, so tasks put in already stay valid). One dispatch runs
// at a time: ok is false when another process's was running.
func (s *Store) Dispatch(ctx context.Context, now time.Time, lim onboard.DispatchLimits, put func(context.Context, []onboard.Work) error) (out []onboard.AppDispatch, ok bool, err error) {
	err = s.withTx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock($1)`, int64(dispatchLockKey)).Scan(&ok); err != nil || !ok {
			return mapErr(err)
		}
		rows, err := tx.Query(ctx, `SELECT app_id FROM applications WHERE paused_at IS NULL
			AND ($1::text[] IS NULL OR app_id = ANY($1)) ORDER BY app_id`, lim.AppIDs)
		if err != nil {
			return mapErr(err)
		}
		apps, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return mapErr(err)
		}
		var all []onboard.Work
		for _, app := range apps {
			d := onboard.AppDispatch{AppID: app}
			for _, kind := range onboard.WorkKinds {
				ws, err := dispatchKind(ctx, tx, app, kind, now, lim)
				if err != nil {
					return err
				}
				d.Work = append(d.Work, ws...)
			}
			all = append(all, d.Work...)
			out = append(out, d)
		}
		if len(all) > 0 {
			if err := put(ctx, all); err != nil {
				return err
			}
		}
		for _, d := range out {
			if len(d.Work) == 0 {
				continue
			}
			if _, err := tx.Exec(ctx, `UPDATE applications SET dispatched_at = $2, dispatched = $3,
				dispatch_error = NULL, dispatch_error_at = NULL WHERE app_id = $1`, d.AppID, now, len(d.Work)); err != nil {
				return mapErr(err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, ok, err
	}
	return out, ok, nil
}

// dispatchKind leases the due work of one kind of one application that
// fits in its window.
func dispatchKind(ctx context.Context, tx pgx.Tx, appID, kind string, now time.Time, lim onboard.DispatchLimits) ([]onboard.Work, error) {
	window := max(lim.Window[kind], 1)
	var inFlight int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM work WHERE app_id = $1 AND kind = $2 AND lease_until > $3`,
		appID, kind, now).Scan(&inFlight); err != nil {
		return nil, mapErr(err)
	}
	room := window - inFlight
	if room <= 0 {
		return nil, nil
	}
	rows, err := tx.Query(ctx, `SELECT `+workColumns+` FROM work
		WHERE app_id = $1 AND kind = $2 AND due_at <= $3 AND (lease_until IS NULL OR lease_until <= $3)
		ORDER BY due_at, id LIMIT $4 FOR UPDATE SKIP LOCKED`, appID, kind, now, room)
	if err != nil {
		return nil, mapErr(err)
	}
	ws, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (onboard.Work, error) { return scanWork(r) })
	if err != nil || len(ws) == 0 {
		return nil, mapErr(err)
	}
	ids := make([]int64, len(ws))
	leases := make([]time.Time, len(ws))
	for i := range ws {
		ids[i] = ws[i].ID
		ws[i].Attempt++
		d := 30 * time.Second
		if lim.Lease != nil {
			d = lim.Lease(kind, i)
		}
		leases[i] = now.Add(d)
	}
	if _, err := tx.Exec(ctx, `UPDATE work w SET attempt = w.attempt + 1, lease_until = v.lease, claimed_at = NULL
		FROM unnest($1::bigint[], $2::timestamptz[]) AS v(id, lease) WHERE w.id = v.id`, ids, leases); err != nil {
		return nil, mapErr(err)
	}
	return ws, nil
}

// RecordDispatchError keeps err as the last dispatch error of every
// running application with work due by now.
func (s *Store) RecordDispatchError(ctx context.Context, dispatchErr error, now time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE applications a SET dispatch_error = $1, dispatch_error_at = $2
		WHERE paused_at IS NULL AND EXISTS (SELECT 1 FROM work w WHERE w.app_id = a.app_id AND w.due_at <= $2)`,
		dispatchErr.Error(), now)
	return mapErr(err)
}

// Activity returns, for appID ("" for every application), when its work
// was last handed out, its last reconciliation sweep, and how much of its
// work is due and in flight at now.
func (s *Store) Activity(ctx context.Context, appID string, now time.Time) ([]onboard.AppActivity, error) {
	rows, err := s.pool.Query(ctx, `SELECT a.app_id, a.paused_at IS NOT NULL, a.dispatched_at, a.dispatched,
			COALESCE(a.dispatch_error, ''), a.dispatch_error_at,
			(SELECT count(*) FROM work w WHERE w.app_id = a.app_id AND w.due_at <= $2 AND (w.lease_until IS NULL OR w.lease_until <= $2)),
			(SELECT count(*) FROM work w WHERE w.app_id = a.app_id AND w.lease_until > $2)
		FROM applications a WHERE $1 = '' OR a.app_id = $1 ORDER BY a.app_id`, appID, now)
	if err != nil {
		return nil, fmt.Errorf("activity: %w", mapErr(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (onboard.AppActivity, error) {
		var a onboard.AppActivity
		var at, errAt *time.Time
		err := r.Scan(&a.AppID, &a.Paused, &at, &a.Dispatch.Tasks, &a.Dispatch.Error, &errAt, &a.Due, &a.InFlight)
		a.Dispatch.At, a.Dispatch.ErrorAt = tm(at), tm(errAt)
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("activity: %w", mapErr(err))
	}
	for i := range out {
		runs, err := s.ReconcileRuns(ctx, out[i].AppID, 1)
		if err != nil {
			return nil, err
		}
		if len(runs) > 0 {
			out[i].LastSweep = &runs[0]
		}
	}
	return out, nil
}

// DueWork returns appID's recorded work, oldest due first (for tests and
// status pages; at most limit rows).
func (s *Store) DueWork(ctx context.Context, appID string, limit int) ([]onboard.Work, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+workColumns+` FROM work WHERE app_id = $1 ORDER BY due_at, id LIMIT $2`, appID, limit)
	if err != nil {
		return nil, fmt.Errorf("work of %s: %w", appID, mapErr(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (onboard.Work, error) { return scanWork(r) })
	if err != nil {
		return nil, fmt.Errorf("work of %s: %w", appID, mapErr(err))
	}
	return out, nil
}

// servicesOutcome is the state orgID's services put it in
// (onboard.ServicesOutcome of its requested, failed and linked ones).
func servicesOutcome(ctx context.Context, tx pgx.Tx, orgID int64) (string, error) {
	var requested, failed, linked int
	if err := tx.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state = 'requested'), count(*) FILTER (WHERE state = 'failed'),
		count(*) FILTER (WHERE state = 'linked') FROM organization_services WHERE org_id = $1`, orgID).Scan(&requested, &failed, &linked); err != nil {
		return "", mapErr(err)
	}
	return onboard.ServicesOutcome(requested, failed, linked), nil
}

// awaitAdmin starts (or goes on with) the wait of w's locked organization
// for its admin: the deadline is kept from the first time, and a check of
// its services is due at aw.CheckAt.
func awaitAdmin(ctx context.Context, tx pgx.Tx, w onboard.Work, aw onboard.AdminWait, now time.Time) error {
	if _, err := tx.Exec(ctx, `UPDATE organizations SET awaiting_admin_since = COALESCE(awaiting_admin_since, $2),
		admin_deadline = COALESCE(admin_deadline, $3) WHERE id = $1`, w.OrgID, now, aw.Deadline); err != nil {
		return mapErr(err)
	}
	due := aw.CheckAt
	if early, err := takeEarlyCallbacks(ctx, tx, w.OrgID, onboard.CallbackCheckDue); err != nil {
		return err
	} else if early {
		due = now
	}
	return putWork(ctx, tx, onboard.Work{AppID: w.AppID, Kind: onboard.WorkCheck, OrgID: w.OrgID,
		DataVersion: w.DataVersion, DueAt: due}, now)
}

// CompleteCheck ends the check work w with the platform's answer (enabled:
// the services it says are ENABLE): each linked service that is open is
// opened; one whose link expired while it is not open is asked for again
// (its service work due now, the organization back to opening_services);
// the rest keep waiting, and the next check is due as onboard.CheckDelay
// says, until the admin deadline times the organization out. It returns the
// organization's state after ("" when the work or the data moved on) and
// the services whose link is asked for again.
func (s *Store) CompleteCheck(ctx context.Context, w onboard.Work, enabled []string, sched onboard.PollSchedule, now time.Time) (after string, renewed []string, err error) {
	err = s.withTx(ctx, func(tx pgx.Tx) error {
		if ok, err := endWork(ctx, tx, w); err != nil || !ok {
			return err
		}
		state, err := lockOrg(ctx, tx, w.OrgID, w.DataVersion)
		if err != nil || state != onboard.StateAwaitingAdmin {
			return err
		}
		after = state
		open := map[string]bool{}
		for _, e := range enabled {
			open[e] = true
		}
		rows, err := tx.Query(ctx, `SELECT service, url_expires_at FROM organization_services
			WHERE org_id = $1 AND state = 'linked' ORDER BY service`, w.OrgID)
		if err != nil {
			return mapErr(err)
		}
		type linkedSvc struct {
			service string
			expires *time.Time
		}
		links, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (linkedSvc, error) {
			var l linkedSvc
			err := r.Scan(&l.service, &l.expires)
			return l, err
		})
		if err != nil {
			return mapErr(err)
		}
		for _, l := range links {
			to := onboard.LinkDecision(open[l.service], tm(l.expires), now)
			if to == onboard.ServiceLinked {
				continue
			}
			if _, err := tx.Exec(ctx, `UPDATE organization_services SET state = $3, updated_at = $4
				WHERE org_id = $1 AND service = $2`, w.OrgID, l.service, to, now); err != nil {
				return mapErr(err)
			}
			step := "service:" + l.service + ":open"
			if to == onboard.ServiceRequested {
				step = "service:" + l.service + ":link_expired"
				renewed = append(renewed, l.service)
				if err := putWork(ctx, tx, onboard.Work{AppID: w.AppID, Kind: onboard.WorkService, OrgID: w.OrgID,
					DataVersion: w.DataVersion, Service: l.service, DueAt: now}, now); err != nil {
					return err
				}
			}
			if err := addEvent(ctx, tx, w.OrgID, w.DataVersion, step, state, state, nil, now); err != nil {
				return err
			}
		}
		if after, err = servicesOutcome(ctx, tx, w.OrgID); err != nil {
			return err
		}
		var since, deadline *time.Time
		if err := tx.QueryRow(ctx, `SELECT awaiting_admin_since, admin_deadline FROM organizations WHERE id = $1`, w.OrgID).
			Scan(&since, &deadline); err != nil {
			return mapErr(err)
		}
		var e *onboard.StepError
		if after == onboard.StateAwaitingAdmin {
			if deadline != nil && now.After(*deadline) {
				after = onboard.StateTimedOut
				e = &onboard.StepError{Code: "onboard.admin_timed_out", Message: "no admin opened the service links before the deadline"}
			} else {
				next := now.Add(onboard.CheckDelay(now.Sub(tm(since)), sched.Min, sched.Max))
				if err := putWork(ctx, tx, onboard.Work{AppID: w.AppID, Kind: onboard.WorkCheck, OrgID: w.OrgID,
					DataVersion: w.DataVersion, DueAt: next}, now); err != nil {
					return err
				}
			}
		}
		if after == state {
			return nil
		}
		return setState(ctx, tx, w.OrgID, w.DataVersion, "services", state, after, e, now)
	})
	if err != nil {
		return "", nil, fmt.Errorf("check services of organization %d: %w", w.OrgID, err)
	}
	return after, renewed, nil
}
