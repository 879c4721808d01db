package repository

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ess-onboard/onboard"
)

// The onboarding state the workers keep: what each organization's sync,
// console link, authorization and services came to, every transition in
// onboarding_events, and per application its pause and polling schedule.
// Every write names the data version it is about and does nothing when the
// organization's data has changed since.

var finalStates = onboard.FinalStates

// OnboardingOrg returns the organization with its services; with license
// true, its license image bytes too. ErrNotFound when there is none.
func (s *Store) OnboardingOrg(ctx context.Context, id int64, license bool) (*onboard.Org, error) {
	var o onboard.Org
	var synced *int32
	var authStatus, admin, legal, loginURL, loginOp, licSHA, licMIME *string
	var deadline, loginExp *time.Time
	var licData []byte
	err := s.pool.QueryRow(ctx, `SELECT o.id, o.app_id, o.data_version, o.state, o.open_id, o.name,
			o.credit_code, o.legal_name, o.legal_id_card_type, o.legal_id_card_number, o.address,
			o.admin_open_id, o.synced_version, o.auth_status, o.auth_deadline,
			o.platform_admin_open_id, o.platform_legal_open_id, o.login_url,
			o.login_url_expires_at, o.login_operator_open_id,
			o.license_sha256, li.mime, CASE WHEN $2 THEN li.data END
		FROM organizations o LEFT JOIN license_images li ON li.sha256 = o.license_sha256
		WHERE o.id = $1`, id, license).Scan(
		&o.ID, &o.AppID, &o.DataVersion, &o.State, &o.Data.OpenID, &o.Data.Name,
		&o.Data.CreditCode, &o.Data.LegalName, &o.Data.LegalIDCardType, &o.Data.LegalIDCardNumber,
		&o.Data.Address, &o.Data.AdminOpenID, &synced, &authStatus, &deadline, &admin, &legal,
		&loginURL, &loginExp, &loginOp, &licSHA, &licMIME, &licData)
	if err != nil {
		return nil, fmt.Errorf("organization %d: %w", id, mapErr(err))
	}
	if synced != nil {
		o.SyncedVersion = int(*synced)
	}
	o.AuthStatus, o.AdminOpenID, o.LegalOpenID = str(authStatus), str(admin), str(legal)
	o.LoginURL, o.LoginOperator = str(loginURL), str(loginOp)
	o.AuthDeadline, o.LoginExpires = tm(deadline), tm(loginExp)
	if licSHA != nil {
		o.Data.License = &onboard.Image{SHA256: *licSHA, MIME: str(licMIME), Data: licData}
	}
	rows, err := s.pool.Query(ctx, `SELECT service, state, operate_url, url_expires_at
		FROM organization_services WHERE org_id = $1 ORDER BY service`, id)
	if err != nil {
		return nil, fmt.Errorf("organization %d services: %w", id, mapErr(err))
	}
	o.Services, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (onboard.ServiceState, error) {
		var sv onboard.ServiceState
		var url *string
		var exp *time.Time
		err := r.Scan(&sv.Service, &sv.State, &url, &exp)
		sv.URL, sv.ExpiresAt = str(url), tm(exp)
		return sv, err
	})
	if err != nil {
		return nil, fmt.Errorf("organization %d services: %w", id, mapErr(err))
	}
	return &o, nil
}

// Application returns appID's settings; zero values when it has none.
func (s *Store) Application(ctx context.Context, appID string) (*onboard.Application, error) {
	a := onboard.Application{AppID: appID}
	var pausedAt *time.Time
	var action, code, msg, reqID, qOrg, qOp *string
	err := s.pool.QueryRow(ctx, `SELECT paused_at, pause_action, pause_code, pause_message, pause_request_id,
			resumes, query_org_open_id, query_operator_open_id, platform_total
		FROM applications WHERE app_id = $1`, appID).Scan(
		&pausedAt, &action, &code, &msg, &reqID, &a.Resumes, &qOrg, &qOp, &a.PlatformTotal)
	if errors.Is(err, pgx.ErrNoRows) {
		return &a, nil
	}
	if err != nil {
		return nil, fmt.Errorf("application %s: %w", appID, mapErr(err))
	}
	a.PausedAt = tm(pausedAt)
	a.PauseAction, a.PauseCode, a.PauseMessage, a.PauseRequestID = str(action), str(code), str(msg), str(reqID)
	a.QueryOrgOpenID, a.QueryOperatorOpenID = str(qOrg), str(qOp)
	return &a, nil
}

// SetQueryIdentity stores the verified company and operator used to query
// appID's authorization statuses.
func (s *Store) SetQueryIdentity(ctx context.Context, appID, orgOpenID, operatorOpenID string) error {
	if appID == "" || orgOpenID == "" || operatorOpenID == "" {
		return errors.New("query identity: application, company OpenId and operator OpenId are all required")
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO applications (app_id, query_org_open_id, query_operator_open_id)
		VALUES ($1, $2, $3)
		ON CONFLICT (app_id) DO UPDATE SET query_org_open_id = $2, query_operator_open_id = $3, updated_at = now()`,
		appID, orgOpenID, operatorOpenID)
	if err != nil {
		return fmt.Errorf("query identity of %s: %w", appID, mapErr(err))
	}
	return nil
}

// addEvent records one step of an organization.
func addEvent(ctx context.Context, db DB, orgID int64, version int, step, from, to string, e *onboard.StepError) error {
	var code, msg, reqID any
	if e != nil {
		code, msg, reqID = nullable(e.Code), nullable(e.Message), nullable(e.RequestID)
	}
	_, err := db.Exec(ctx, `INSERT INTO onboarding_events (org_id, data_version, step, from_state, to_state,
		error_code, error_message, request_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		orgID, version, step, nullable(from), nullable(to), code, msg, reqID)
	return mapErr(err)
}

// lockOrg locks the organization's row for the rest of tx and returns its
// state, or "" when its data version is no longer version.
func lockOrg(ctx context.Context, tx pgx.Tx, id int64, version int) (string, error) {
	var state string
	err := tx.QueryRow(ctx, `SELECT state FROM organizations WHERE id = $1 AND data_version = $2 FOR UPDATE`,
		id, version).Scan(&state)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return state, mapErr(err)
}

// setState moves a locked organization to state to and records the event.
func setState(ctx context.Context, tx pgx.Tx, id int64, version int, step, from, to string, e *onboard.StepError) error {
	if from != to {
		var code, msg, reqID any
		if e != nil {
			code, msg, reqID = nullable(e.Code), nullable(e.Message), nullable(e.RequestID)
		}
		if _, err := tx.Exec(ctx, `UPDATE organizations SET state = $2, state_changed_at = now(), updated_at = now(),
			last_error_code = COALESCE($3, last_error_code), last_error_message = COALESCE($4, last_error_message),
			last_request_id = COALESCE($5, last_request_id) WHERE id = $1`, id, to, code, msg, reqID); err != nil {
			return mapErr(err)
		}
	}
	return addEvent(ctx, tx, id, version, step, from, to, e)
}

// RecordSynced records that SyncProxyOrganization accepted data version
// version. Nothing happens when the data has changed since.
func (s *Store) RecordSynced(ctx context.Context, id int64, version int, requestID string) error {
	return s.withTx(ctx, func(tx pgx.Tx) error {
		state, err := lockOrg(ctx, tx, id, version)
		if err != nil || state == "" {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE organizations SET synced_version = $2, synced_at = now(),
			last_error_code = NULL, last_error_message = NULL, last_request_id = $3, updated_at = now()
			WHERE id = $1`, id, version, nullable(requestID)); err != nil {
			return mapErr(err)
		}
		return addEvent(ctx, tx, id, version, "sync", state, state, &onboard.StepError{RequestID: requestID})
	})
}

// RecordLoginURL stores the console link issued for the organization's admin.
func (s *Store) RecordLoginURL(ctx context.Context, id int64, version int, l onboard.LoginURL) error {
	return s.withTx(ctx, func(tx pgx.Tx) error {
		state, err := lockOrg(ctx, tx, id, version)
		if err != nil || state == "" {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE organizations SET login_url = $2, login_url_expires_at = $3,
			login_operator_open_id = $4, login_endpoint = $5, updated_at = now() WHERE id = $1`,
			id, l.URL, l.ExpiresAt, l.Operator, l.Endpoint); err != nil {
			return mapErr(err)
		}
		return addEvent(ctx, tx, id, version, "login_url", state, state, &onboard.StepError{RequestID: l.RequestID})
	})
}

// RecordOrgError records err for one step of the organization. With fail it
// also moves the organization to failed (unless it is already final).
// Nothing happens when the data has changed since.
func (s *Store) RecordOrgError(ctx context.Context, id int64, version int, step string, e onboard.StepError, fail bool) error {
	return s.withTx(ctx, func(tx pgx.Tx) error {
		state, err := lockOrg(ctx, tx, id, version)
		if err != nil || state == "" {
			return err
		}
		to := state
		if fail && !onboard.IsFinal(state) {
			to = onboard.StateFailed
		}
		if _, err := tx.Exec(ctx, `UPDATE organizations SET last_error_code = $2, last_error_message = $3,
			last_request_id = $4, updated_at = now() WHERE id = $1`,
			id, nullable(e.Code), nullable(e.Message), nullable(e.RequestID)); err != nil {
			return mapErr(err)
		}
		return setState(ctx, tx, id, version, step, state, to, &e)
	})
}

// MarkAwaitingAuth moves a queued organization to awaiting_auth with the
// polling deadline, and makes sure its application's polling is scheduled:
// when it is not, it returns the ticket of the round to enqueue (at now +
// pollDelay). changed is false when the organization was not queued at this
// data version.
func (s *Store) MarkAwaitingAuth(ctx context.Context, id int64, version int, deadline time.Time, pollDelay time.Duration) (ticket *onboard.PollTicket, changed bool, err error) {
	err = s.withTx(ctx, func(tx pgx.Tx) error {
		state, err := lockOrg(ctx, tx, id, version)
		if err != nil || state != onboard.StateQueued {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE organizations SET auth_deadline = $2, auth_status = NULL,
			auth_checked_at = NULL, updated_at = now() WHERE id = $1`, id, deadline); err != nil {
			return mapErr(err)
		}
		if err := setState(ctx, tx, id, version, "sync", state, onboard.StateAwaitingAuth, nil); err != nil {
			return err
		}
		changed = true
		var appID string
		if err := tx.QueryRow(ctx, `SELECT app_id FROM organizations WHERE id = $1`, id).Scan(&appID); err != nil {
			return mapErr(err)
		}
		ticket, err = schedulePoll(ctx, tx, appID, pollDelay, 0)
		return err
	})
	return ticket, changed, err
}

// schedulePoll schedules the next polling round of appID in pollDelay when
// none is scheduled, resetting the back-off (new companies are waiting).
// With overdue > 0 a scheduled round whose time is more than overdue past
// is handed out again (its task may have been lost; the TaskID makes a
// second enqueue harmless).
func schedulePoll(ctx context.Context, db DB, appID string, pollDelay, overdue time.Duration) (*onboard.PollTicket, error) {
	if _, err := db.Exec(ctx, `INSERT INTO applications (app_id) VALUES ($1) ON CONFLICT DO NOTHING`, appID); err != nil {
		return nil, mapErr(err)
	}
	var t onboard.PollTicket
	err := db.QueryRow(ctx, `UPDATE applications SET poll_scheduled = true, poll_round = poll_round + 1,
			poll_next_at = now() + $2 * interval '1 microsecond', poll_idle_rounds = 0, updated_at = now()
		WHERE app_id = $1 AND NOT poll_scheduled
		RETURNING app_id, poll_round, poll_next_at`, appID, pollDelay.Microseconds()).Scan(&t.AppID, &t.Round, &t.At)
	if err == nil {
		return &t, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, mapErr(err)
	}
	if overdue <= 0 {
		return nil, nil
	}
	err = db.QueryRow(ctx, `SELECT app_id, poll_round, poll_next_at FROM applications
		WHERE app_id = $1 AND poll_scheduled AND poll_next_at < now() - $2 * interval '1 microsecond'`,
		appID, overdue.Microseconds()).Scan(&t.AppID, &t.Round, &t.At)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, mapErr(err)
	}
	return &t, nil
}

// EnsureAuthPoll makes sure appID's polling is scheduled when organizations
// wait for authorization (see schedulePoll); it returns the ticket to
// enqueue, or nil when nothing waits or a round is already scheduled.
func (s *Store) EnsureAuthPoll(ctx context.Context, appID string, pollDelay, overdue time.Duration) (*onboard.PollTicket, error) {
	var t *onboard.PollTicket
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		var waiting bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM organizations WHERE app_id = $1 AND state = $2)`,
			appID, onboard.StateAwaitingAuth).Scan(&waiting); err != nil {
			return mapErr(err)
		}
		if !waiting {
			return nil
		}
		var err error
		t, err = schedulePoll(ctx, tx, appID, pollDelay, overdue)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("schedule polling of %s: %w", appID, err)
	}
	return t, nil
}

// AwaitingOrgs lists appID's organizations waiting for authorization.
func (s *Store) AwaitingOrgs(ctx context.Context, appID string) ([]onboard.AwaitingOrg, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, open_id, data_version, auth_deadline
		FROM organizations WHERE app_id = $1 AND state = $2 ORDER BY id`, appID, onboard.StateAwaitingAuth)
	if err != nil {
		return nil, fmt.Errorf("awaiting organizations: %w", mapErr(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (onboard.AwaitingOrg, error) {
		var a onboard.AwaitingOrg
		var deadline *time.Time
		err := r.Scan(&a.ID, &a.OpenID, &a.DataVersion, &deadline)
		a.Deadline = tm(deadline)
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("awaiting organizations: %w", mapErr(err))
	}
	return out, nil
}

// CountOrgs returns the number of organizations onboard knows in appID.
func (s *Store) CountOrgs(ctx context.Context, appID string) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM organizations WHERE app_id = $1`, appID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count organizations: %w", mapErr(err))
	}
	return n, nil
}

// ApplyAuthStatus records what the platform said about the company of
// organization id at data version version, at time now:
//   - VERIFIED moves it to opening_services (done when it requested no
//     service) and stores the admin's and legal representative's OpenIds;
//   - VERIFYINGAUTHORIZATIONFILEREJECT moves it to auth_rejected;
//   - any other status past the deadline moves it to timed_out;
//   - otherwise only the status is stored.
//
// An organization in awaiting_auth, auth_rejected or timed_out can be
// verified (a rejected company may resubmit its letter; a late one may still
// finish). Organizations in other states are left alone.
func (s *Store) ApplyAuthStatus(ctx context.Context, id int64, version int, ob onboard.AuthObservation, now time.Time) (onboard.AuthOutcome, error) {
	var out onboard.AuthOutcome
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		state, err := lockOrg(ctx, tx, id, version)
		if err != nil {
			return err
		}
		out.From, out.To = state, state
		switch state {
		case onboard.StateAwaitingAuth, onboard.StateAuthRejected, onboard.StateTimedOut:
		default:
			return nil
		}
		var deadline *time.Time
		if _, err := tx.Exec(ctx, `UPDATE organizations SET auth_status = COALESCE(NULLIF($2, ''), auth_status), auth_checked_at = $3,
			platform_org_id = COALESCE(NULLIF($4, ''), platform_org_id), updated_at = now() WHERE id = $1`,
			id, ob.Status, now, ob.PlatformOrgID); err != nil {
			return mapErr(err)
		}
		if err := tx.QueryRow(ctx, `SELECT auth_deadline FROM organizations WHERE id = $1`, id).Scan(&deadline); err != nil {
			return mapErr(err)
		}
		switch {
		case ob.Status == "VERIFIED":
			if _, err := tx.Exec(ctx, `UPDATE organizations SET verified_at = $2,
				platform_admin_open_id = NULLIF($3, ''), platform_legal_open_id = NULLIF($4, '') WHERE id = $1`,
				id, now, ob.AdminOpenID, ob.LegalOpenID); err != nil {
				return mapErr(err)
			}
			rows, err := tx.Query(ctx, `SELECT service FROM organization_services WHERE org_id = $1 AND state = $2 ORDER BY service`,
				id, onboard.ServiceRequested)
			if err != nil {
				return mapErr(err)
			}
			out.Services, err = pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return mapErr(err)
			}
			out.To = onboard.StateOpeningServices
			if len(out.Services) == 0 {
				out.To = onboard.StateDone
			}
		case state != onboard.StateAwaitingAuth:
			// A final state changes only on verification.
		case ob.Status == "VERIFYINGAUTHORIZATIONFILEREJECT":
			out.To = onboard.StateAuthRejected
		case deadline != nil && now.After(*deadline):
			out.To = onboard.StateTimedOut
		}
		if out.To == state {
			return nil
		}
		var e *onboard.StepError
		if out.To == onboard.StateAuthRejected || out.To == onboard.StateTimedOut {
			e = &onboard.StepError{Code: "onboard." + out.To, Message: "authorization status " + ob.Status}
		}
		return setState(ctx, tx, id, version, "auth", state, out.To, e)
	})
	if err != nil {
		return out, fmt.Errorf("authorization of organization %d: %w", id, err)
	}
	return out, nil
}

// FinishAuthPoll records polling round r of appID and schedules the next one
// when organizations still wait: after minDelay doubled per round in a row
// in which nothing changed, at most maxDelay. It returns the ticket to
// enqueue, or nil when polling stops (or r is not the scheduled round).
// With stop the polling stops whatever waits (the application is paused;
// resume starts it again).
func (s *Store) FinishAuthPoll(ctx context.Context, appID string, r onboard.PollRound, minDelay, maxDelay time.Duration, stop bool) (*onboard.PollTicket, error) {
	var t *onboard.PollTicket
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		var round, idle int
		var scheduled bool
		err := tx.QueryRow(ctx, `SELECT poll_round, poll_scheduled, poll_idle_rounds FROM applications
			WHERE app_id = $1 FOR UPDATE`, appID).Scan(&round, &scheduled, &idle)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return mapErr(err)
		}
		if round != r.Round || !scheduled {
			return nil
		}
		if r.Mode != "" {
			if _, err := tx.Exec(ctx, `INSERT INTO auth_poll_rounds (app_id, round, started_at, mode, waiting,
				app_orgs, calls, changed, error_code) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
				ON CONFLICT (app_id, round) DO UPDATE SET finished_at = now(), mode = EXCLUDED.mode,
				waiting = EXCLUDED.waiting, app_orgs = EXCLUDED.app_orgs, calls = auth_poll_rounds.calls + EXCLUDED.calls,
				changed = auth_poll_rounds.changed + EXCLUDED.changed, error_code = EXCLUDED.error_code`,
				appID, r.Round, r.StartedAt, r.Mode, r.Waiting, r.AppOrgs, r.Calls, r.Changed, nullable(r.ErrorCode)); err != nil {
				return mapErr(err)
			}
		}
		if r.PlatformTotal > 0 {
			if _, err := tx.Exec(ctx, `UPDATE applications SET platform_total = $2 WHERE app_id = $1`, appID, r.PlatformTotal); err != nil {
				return mapErr(err)
			}
		}
		var waiting bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM organizations WHERE app_id = $1 AND state = $2)`,
			appID, onboard.StateAwaitingAuth).Scan(&waiting); err != nil {
			return mapErr(err)
		}
		if stop || !waiting {
			_, err := tx.Exec(ctx, `UPDATE applications SET poll_scheduled = false, poll_next_at = NULL, updated_at = now()
				WHERE app_id = $1`, appID)
			return mapErr(err)
		}
		if r.Changed > 0 {
			idle = 0
		} else {
			idle++
		}
		delay := float64(minDelay) * math.Pow(2, float64(min(idle, 30)))
		if delay > float64(maxDelay) {
			delay = float64(maxDelay)
		}
		t = &onboard.PollTicket{AppID: appID}
		return mapErr(tx.QueryRow(ctx, `UPDATE applications SET poll_round = poll_round + 1, poll_idle_rounds = $2,
				poll_next_at = now() + $3 * interval '1 microsecond', updated_at = now()
			WHERE app_id = $1 RETURNING poll_round, poll_next_at`,
			appID, idle, time.Duration(delay).Microseconds()).Scan(&t.Round, &t.At))
	})
	if err != nil {
		return nil, fmt.Errorf("finish polling round %d of %s: %w", r.Round, appID, err)
	}
	return t, nil
}

// RecordService records the outcome of ModifyExtendedService for one service
// of an organization in opening_services, then moves the organization to
// done when every service is opened or linked, or to failed when none is
// still requested and one failed. It returns the organization's state after
// (or "" when the data changed since or the organization is elsewhere).
func (s *Store) RecordService(ctx context.Context, id int64, version int, service string, r onboard.ServiceResult) (string, error) {
	var after string
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		state, err := lockOrg(ctx, tx, id, version)
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
			last_error_code = $6, last_error_message = $7, last_request_id = $8, updated_at = now()
			WHERE org_id = $1 AND service = $2 AND state = 'requested'`,
			id, service, r.State, url, exp, code, msg, reqID)
		if err != nil {
			return mapErr(err)
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		var ev *onboard.StepError
		if r.Err != nil {
			ev = r.Err
		}
		if err := addEvent(ctx, tx, id, version, "service:"+service, state, state, ev); err != nil {
			return err
		}
		var requested, failed int
		if err := tx.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state = 'requested'), count(*) FILTER (WHERE state = 'failed')
			FROM organization_services WHERE org_id = $1`, id).Scan(&requested, &failed); err != nil {
			return mapErr(err)
		}
		if requested > 0 {
			return nil
		}
		after = onboard.StateDone
		var e *onboard.StepError
		if failed > 0 {
			after = onboard.StateFailed
			e = &onboard.StepError{}
			_ = tx.QueryRow(ctx, `SELECT COALESCE(last_error_code, ''), COALESCE(last_error_message, ''), COALESCE(last_request_id, '')
				FROM organization_services WHERE org_id = $1 AND state = 'failed' ORDER BY updated_at DESC LIMIT 1`, id).
				Scan(&e.Code, &e.Message, &e.RequestID)
		}
		return setState(ctx, tx, id, version, "services", state, after, e)
	})
	if err != nil {
		return "", fmt.Errorf("service %s of organization %d: %w", service, id, err)
	}
	return after, nil
}

// PauseApplication pauses appID's work after an error that would fail every
// row (the first error is kept), and marks its batches with unfinished
// organizations blocked with the reason. It reports whether this call paused
// it.
func (s *Store) PauseApplication(ctx context.Context, appID, action string, e onboard.StepError) (bool, error) {
	var paused bool
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO applications (app_id) VALUES ($1) ON CONFLICT DO NOTHING`, appID); err != nil {
			return mapErr(err)
		}
		tag, err := tx.Exec(ctx, `UPDATE applications SET paused_at = now(), pause_action = $2, pause_code = $3,
			pause_message = $4, pause_request_id = $5, updated_at = now() WHERE app_id = $1 AND paused_at IS NULL`,
			appID, action, e.Code, e.Message, nullable(e.RequestID))
		if err != nil {
			return mapErr(err)
		}
		paused = tag.RowsAffected() == 1
		if !paused {
			return nil
		}
		reason := fmt.Sprintf("application %s paused: %s answered %s: %s", appID, action, e.Code, e.Message)
		if e.RequestID != "" {
			reason += " (RequestId " + e.RequestID + ")"
		}
		reason += fmt.Sprintf("; fix the cause, then run 'onboard resume --app-id %s'", appID)
		_, err = tx.Exec(ctx, `UPDATE batches SET blocked_reason = $2 WHERE app_id = $1 AND id IN (
				SELECT br.batch_id FROM batch_rows br JOIN organizations o ON o.id = br.org_id
				WHERE o.app_id = $1 AND o.state <> ALL($3))`, appID, reason, finalStates)
		return mapErr(err)
	})
	if err != nil {
		return false, fmt.Errorf("pause application %s: %w", appID, err)
	}
	return paused, nil
}

// ResumeApplication clears appID's pause and its batches' blocked reasons,
// counts one more resume (the generation that keeps re-enqueued TaskIDs
// apart) and returns every organization with work left, with the
// generation. It works on a running application too (re-enqueueing what is
// pending is harmless).
func (s *Store) ResumeApplication(ctx context.Context, appID string) (generation int, pending []onboard.PendingOrg, err error) {
	err = s.withTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO applications (app_id) VALUES ($1) ON CONFLICT DO NOTHING`, appID); err != nil {
			return mapErr(err)
		}
		if err := tx.QueryRow(ctx, `UPDATE applications SET paused_at = NULL, pause_action = NULL, pause_code = NULL,
			pause_message = NULL, pause_request_id = NULL, resumes = resumes + 1, poll_scheduled = false,
			poll_next_at = NULL, updated_at = now() WHERE app_id = $1 RETURNING resumes`, appID).Scan(&generation); err != nil {
			return mapErr(err)
		}
		if _, err := tx.Exec(ctx, `UPDATE batches SET blocked_reason = NULL WHERE app_id = $1 AND blocked_reason IS NOT NULL`, appID); err != nil {
			return mapErr(err)
		}
		rows, err := tx.Query(ctx, `SELECT o.id, o.data_version, o.state,
				COALESCE(array_agg(s.service ORDER BY s.service) FILTER (WHERE s.state = 'requested'), '{}')
			FROM organizations o LEFT JOIN organization_services s ON s.org_id = o.id
			WHERE o.app_id = $1 AND o.state = ANY($2)
			GROUP BY o.id ORDER BY o.id`, appID,
			[]string{onboard.StateQueued, onboard.StateAwaitingAuth, onboard.StateOpeningServices})
		if err != nil {
			return mapErr(err)
		}
		pending, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (onboard.PendingOrg, error) {
			var p onboard.PendingOrg
			err := r.Scan(&p.ID, &p.DataVersion, &p.State, &p.Services)
			return p, err
		})
		if err != nil {
			return mapErr(err)
		}
		for _, p := range pending {
			if err := addEvent(ctx, tx, p.ID, p.DataVersion, "resume", p.State, p.State, nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, nil, fmt.Errorf("resume application %s: %w", appID, err)
	}
	return generation, pending, nil
}

// StateCounts returns the number of organizations per onboarding state of
// batch batchID (its accepted rows), or of every organization when batchID
// is 0.
func (s *Store) StateCounts(ctx context.Context, batchID int64) (map[string]int, error) {
	var rows pgx.Rows
	var err error
	if batchID == 0 {
		rows, err = s.pool.Query(ctx, `SELECT state, count(*) FROM organizations GROUP BY state`)
	} else {
		rows, err = s.pool.Query(ctx, `SELECT o.state, count(*) FROM batch_rows br JOIN organizations o ON o.id = br.org_id
			WHERE br.batch_id = $1 AND br.status = 'accepted' GROUP BY o.state`, batchID)
	}
	if err != nil {
		return nil, fmt.Errorf("state counts: %w", mapErr(err))
	}
	out := map[string]int{}
	var state string
	var n int
	_, err = pgx.ForEachRow(rows, []any{&state, &n}, func() error { out[state] = n; return nil })
	if err != nil {
		return nil, fmt.Errorf("state counts: %w", mapErr(err))
	}
	return out, nil
}

// BlockedReasons returns the blocked reason of every blocked batch (all
// batches when batchID is 0), by batch id.
func (s *Store) BlockedReasons(ctx context.Context, batchID int64) (map[int64]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, blocked_reason FROM batches
		WHERE blocked_reason IS NOT NULL AND ($1 = 0 OR id = $1)`, batchID)
	if err != nil {
		return nil, fmt.Errorf("blocked batches: %w", mapErr(err))
	}
	out := map[int64]string{}
	var id int64
	var reason string
	_, err = pgx.ForEachRow(rows, []any{&id, &reason}, func() error { out[id] = reason; return nil })
	if err != nil {
		return nil, fmt.Errorf("blocked batches: %w", mapErr(err))
	}
	return out, nil
}

// OrgEvent is one recorded step of an organization.
type OrgEvent struct {
	At        time.Time
	Step      string
	From, To  string
	Code      string
	Message   string
	RequestID string
}

// OrgEvents returns the organization's recorded steps, oldest first.
func (s *Store) OrgEvents(ctx context.Context, id int64) ([]OrgEvent, error) {
	rows, err := s.pool.Query(ctx, `SELECT at, step, COALESCE(from_state, ''), COALESCE(to_state, ''),
		COALESCE(error_code, ''), COALESCE(error_message, ''), COALESCE(request_id, '')
		FROM onboarding_events WHERE org_id = $1 ORDER BY id`, id)
	if err != nil {
		return nil, fmt.Errorf("events of organization %d: %w", id, mapErr(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (OrgEvent, error) {
		var e OrgEvent
		err := r.Scan(&e.At, &e.Step, &e.From, &e.To, &e.Code, &e.Message, &e.RequestID)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("events of organization %d: %w", id, mapErr(err))
	}
	return out, nil
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func tm(p *time.Time) time.Time {
	if p == nil {
		return time.Time{}
	}
	return *p
}

// PollRounds returns appID's recorded polling rounds, oldest first.
func (s *Store) PollRounds(ctx context.Context, appID string) ([]onboard.PollRound, error) {
	rows, err := s.pool.Query(ctx, `SELECT round, started_at, mode, waiting, app_orgs, calls, changed,
		COALESCE(error_code, '') FROM auth_poll_rounds WHERE app_id = $1 ORDER BY round`, appID)
	if err != nil {
		return nil, fmt.Errorf("polling rounds: %w", mapErr(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (onboard.PollRound, error) {
		var p onboard.PollRound
		err := r.Scan(&p.Round, &p.StartedAt, &p.Mode, &p.Waiting, &p.AppOrgs, &p.Calls, &p.Changed, &p.ErrorCode)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("polling rounds: %w", mapErr(err))
	}
	return out, nil
}

// OrgIDByOpenID returns the id of appID's organization openID.
func (s *Store) OrgIDByOpenID(ctx context.Context, appID, openID string) (int64, error) {
	var id int64
	err := s.pool.QueryRow(ctx, `SELECT id FROM organizations WHERE app_id = $1 AND open_id = $2`, appID, openID).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("organization %s: %w", openID, mapErr(err))
	}
	return id, nil
}
