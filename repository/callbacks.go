package repository

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ess-onboard/onboard"
)

// RecordCallback stores one platform callback at now, once per MsgId, and
// in the same transaction makes due the check its company waits for: the
// check of its services when it waits for its admin, the check of its
// verification (one DescribeChannelOrganizations) when it waits for that. The company itself moves
// only on the platform's answer to that check, so duplicated, replayed,
// out-of-order or forged callbacks cannot move it wrongly. It returns the
// verdict (onboard.Callback*).
func (s *Store) RecordCallback(ctx context.Context, cb onboard.Callback, now time.Time) (string, error) {
	verdict := onboard.CallbackIgnored
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		var eventAt any
		if !cb.EventAt.IsZero() {
			eventAt = cb.EventAt
		}
		tag, err := tx.Exec(ctx, `INSERT INTO callbacks (msg_id, msg_type, app_id, open_id, event_at, received_at, verdict)
			VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (msg_id) DO NOTHING`,
			cb.MsgID, cb.MsgType, cb.AppID, cb.OpenID, eventAt, now, verdict)
		if err != nil {
			return mapErr(err)
		}
		if tag.RowsAffected() == 0 {
			verdict = onboard.CallbackDuplicate
			return nil
		}
		if !cb.Onboarding {
			return nil
		}
		var orgID int64
		var version int
		var state string
		// The company is locked, so that a step making it wait either
		// commits first (and this callback finds it waiting) or finds this
		// callback among its early ones (takeEarlyCallbacks).
		err = tx.QueryRow(ctx, `SELECT id, data_version, state FROM organizations WHERE app_id = $1 AND open_id = $2 FOR UPDATE`,
			cb.AppID, cb.OpenID).Scan(&orgID, &version, &state)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			verdict, err = onboard.CallbackUnknownCompany, nil
		case err != nil:
			return mapErr(err)
		case state == onboard.StateAwaitingAdmin:
			verdict = onboard.CallbackCheckDue
			err = putWork(ctx, tx, onboard.Work{AppID: cb.AppID, Kind: onboard.WorkCheck, OrgID: orgID, DataVersion: version, DueAt: now}, now)
		case state == onboard.StateAwaitingAuth:
			verdict = onboard.CallbackVerifyDue
			err = putWork(ctx, tx, onboard.Work{AppID: cb.AppID, Kind: onboard.WorkVerify, OrgID: orgID, DataVersion: version, DueAt: now}, now)
		default:
			verdict = onboard.CallbackNothingWaiting
		}
		if err != nil {
			return err
		}
		var org any
		if orgID != 0 {
			org = orgID
		}
		_, err = tx.Exec(ctx, `UPDATE callbacks SET verdict = $2, org_id = $3 WHERE msg_id = $1`, cb.MsgID, verdict, org)
		return mapErr(err)
	})
	if err != nil {
		return "", fmt.Errorf("record callback %s: %w", cb.MsgID, err)
	}
	return verdict, nil
}

// CallbackCounts counts appID's recorded callbacks by verdict.
func (s *Store) CallbackCounts(ctx context.Context, appID string) (map[string]int, error) {
	rows, err := s.pool.Query(ctx, `SELECT verdict, count(*) FROM callbacks WHERE app_id = $1 GROUP BY verdict`, appID)
	if err != nil {
		return nil, fmt.Errorf("callbacks of %s: %w", appID, mapErr(err))
	}
	out := map[string]int{}
	var v string
	var n int
	if _, err := pgx.ForEachRow(rows, []any{&v, &n}, func() error { out[v] = n; return nil }); err != nil {
		return nil, fmt.Errorf("callbacks of %s: %w", appID, mapErr(err))
	}
	return out, nil
}

// LastCallbackAt returns when the latest callback about appID was
// received; zero when none was.
func (s *Store) LastCallbackAt(ctx context.Context, appID string) (time.Time, error) {
	var at *time.Time
	if err := s.pool.QueryRow(ctx, `SELECT max(received_at) FROM callbacks WHERE app_id = $1`, appID).Scan(&at); err != nil {
		return time.Time{}, fmt.Errorf("latest callback of %s: %w", appID, mapErr(err))
	}
	return tm(at), nil
}

// RecentCallbacks lists appID's latest callbacks, newest first, with the
// verdict recorded.
func (s *Store) RecentCallbacks(ctx context.Context, appID string, limit int) ([]onboard.ReceivedCallback, error) {
	rows, err := s.pool.Query(ctx, `SELECT msg_id, msg_type, open_id, event_at, received_at, verdict
		FROM callbacks WHERE app_id = $1 ORDER BY received_at DESC, msg_id LIMIT $2`, appID, limit)
	if err != nil {
		return nil, fmt.Errorf("callbacks of %s: %w", appID, mapErr(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (onboard.ReceivedCallback, error) {
		var c onboard.ReceivedCallback
		var ev *time.Time
		err := r.Scan(&c.MsgID, &c.MsgType, &c.OpenID, &ev, &c.ReceivedAt, &c.Verdict)
		c.EventAt, c.AppID = tm(ev), appID
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("callbacks of %s: %w", appID, mapErr(err))
	}
	return out, nil
}

// LastCallbackEvent returns the time of the platform event the latest
// callback about organization orgID told of (zero when none did).
func (s *Store) LastCallbackEvent(ctx context.Context, orgID int64) (time.Time, error) {
	var at *time.Time
	if err := s.pool.QueryRow(ctx, `SELECT event_at FROM callbacks WHERE org_id = $1 AND event_at IS NOT NULL
		ORDER BY received_at DESC LIMIT 1`, orgID).Scan(&at); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, fmt.Errorf("latest callback of organization %d: %w", orgID, mapErr(err))
	}
	return tm(at), nil
}
