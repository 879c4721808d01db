package repository

import (
	"context"
	"errors"
	"fmt"
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
			query_org_open_id, query_operator_open_id, platform_total
		FROM applications WHERE app_id = $1`, appID).Scan(
		&pausedAt, &action, &code, &msg, &reqID, &qOrg, &qOp, &a.PlatformTotal)
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

// addEvent records one step of an organization at now.
func addEvent(ctx context.Context, db DB, orgID int64, version int, step, from, to string, e *onboard.StepError, now time.Time) error {
	var code, msg, reqID any
	if e != nil {
		code, msg, reqID = nullable(e.Code), nullable(e.Message), nullable(e.RequestID)
	}
	_, err := db.Exec(ctx, `INSERT INTO onboarding_events (org_id, data_version, at, step, from_state, to_state,
		error_code, error_message, request_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		orgID, version, now, step, nullable(from), nullable(to), code, msg, reqID)
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

// setState moves a locked organization to state to at now and records the
// event; an error given is kept as the organization's last error.
func setState(ctx context.Context, tx pgx.Tx, id int64, version int, step, from, to string, e *onboard.StepError, now time.Time) error {
	if from != to {
		var code, msg, reqID any
		if e != nil {
			code, msg, reqID = nullable(e.Code), nullable(e.Message), nullable(e.RequestID)
		}
		if _, err := tx.Exec(ctx, `UPDATE organizations SET state = $2, state_changed_at = $6, updated_at = $6,
			last_error_code = COALESCE($3, last_error_code), last_error_message = COALESCE($4, last_error_message),
			last_request_id = COALESCE($5, last_request_id) WHERE id = $1`, id, to, code, msg, reqID, now); err != nil {
			return mapErr(err)
		}
	}
	return addEvent(ctx, tx, id, version, step, from, to, e, now)
}

// recordError keeps e as the locked organization's last error.
func recordError(ctx context.Context, tx pgx.Tx, id int64, e onboard.StepError, now time.Time) error {
	_, err := tx.Exec(ctx, `UPDATE organizations SET last_error_code = $2, last_error_message = $3,
		last_request_id = $4, updated_at = $5 WHERE id = $1`,
		id, nullable(e.Code), nullable(e.Message), nullable(e.RequestID), now)
	return mapErr(err)
}

// RecordOrgError keeps e as the last error of one step of the organization
// at data version version, without moving it. Nothing happens when the data
// has changed since.
func (s *Store) RecordOrgError(ctx context.Context, id int64, version int, step string, e onboard.StepError, now time.Time) error {
	return s.withTx(ctx, func(tx pgx.Tx) error {
		state, err := lockOrg(ctx, tx, id, version)
		if err != nil || state == "" {
			return err
		}
		if err := recordError(ctx, tx, id, e, now); err != nil {
			return err
		}
		return addEvent(ctx, tx, id, version, step, state, state, &e, now)
	})
}

// AwaitingOrgs lists appID's organizations waiting for authorization, and
// how many organizations appID has in all.
func (s *Store) AwaitingOrgs(ctx context.Context, appID string) ([]onboard.AwaitingOrg, int, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, open_id, data_version, auth_deadline
		FROM organizations WHERE app_id = $1 AND state = $2 ORDER BY id`, appID, onboard.StateAwaitingAuth)
	if err != nil {
		return nil, 0, fmt.Errorf("awaiting organizations: %w", mapErr(err))
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (onboard.AwaitingOrg, error) {
		var a onboard.AwaitingOrg
		var deadline *time.Time
		err := r.Scan(&a.ID, &a.OpenID, &a.DataVersion, &deadline)
		a.Deadline = tm(deadline)
		return a, err
	})
	if err != nil {
		return nil, 0, fmt.Errorf("awaiting organizations: %w", mapErr(err))
	}
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM organizations WHERE app_id = $1`, appID).Scan(&n); err != nil {
		return nil, 0, fmt.Errorf("count organizations: %w", mapErr(err))
	}
	return out, n, nil
}

// ApplyAuthStatus records what the platform said about the company of
// organization id at data version version, at time now, and moves it as
// onboard.AuthTransition decides: on verification it stores the admin's and
// legal representative's OpenIds and makes the requested services' work due
// (or the organization done when none was requested). Organizations in
// other states, or whose data changed, are left alone.
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
		var appID string
		var deadline *time.Time
		if err := tx.QueryRow(ctx, `UPDATE organizations SET auth_status = COALESCE(NULLIF($2, ''), auth_status), auth_checked_at = $3,
			platform_org_id = COALESCE(NULLIF($4, ''), platform_org_id), updated_at = $3 WHERE id = $1
			RETURNING app_id, auth_deadline`, id, ob.Status, now, ob.PlatformOrgID).Scan(&appID, &deadline); err != nil {
			return mapErr(err)
		}
		var services []string
		if ob.Status == onboard.AuthVerified {
			rows, err := tx.Query(ctx, `SELECT service FROM organization_services WHERE org_id = $1 AND state = $2 ORDER BY service`,
				id, onboard.ServiceRequested)
			if err != nil {
				return mapErr(err)
			}
			if services, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
				return mapErr(err)
			}
		}
		out.To = onboard.AuthTransition(state, ob.Status, tm(deadline), now, len(services))
		if out.To == state {
			return nil
		}
		var e *onboard.StepError
		switch out.To {
		case onboard.StateOpeningServices, onboard.StateDone:
			if _, err := tx.Exec(ctx, `UPDATE organizations SET verified_at = $2,
				platform_admin_open_id = NULLIF($3, ''), platform_legal_open_id = NULLIF($4, '') WHERE id = $1`,
				id, now, ob.AdminOpenID, ob.LegalOpenID); err != nil {
				return mapErr(err)
			}
			out.Services = services
			for _, sv := range services {
				if err := putWork(ctx, tx, onboard.Work{AppID: appID, Kind: onboard.WorkService, OrgID: id,
					DataVersion: version, Service: sv, DueAt: now}, now); err != nil {
					return err
				}
			}
		case onboard.StateAuthRejected, onboard.StateTimedOut:
			e = &onboard.StepError{Code: "onboard." + out.To, Message: "authorization status " + ob.Status}
		}
		return setState(ctx, tx, id, version, "auth", state, out.To, e, now)
	})
	if err != nil {
		return out, fmt.Errorf("authorization of organization %d: %w", id, err)
	}
	return out, nil
}

// PauseApplication pauses appID's work at now after an error that would
// fail every row (the first error is kept), and marks its batches with
// unfinished organizations blocked with the reason. The dispatcher hands
// out none of its work until it is resumed. It reports whether this call
// paused it.
func (s *Store) PauseApplication(ctx context.Context, appID, action string, e onboard.StepError, now time.Time) (bool, error) {
	var paused bool
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		if err := ensureApp(ctx, tx, appID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `UPDATE applications SET paused_at = $6, pause_action = $2, pause_code = $3,
			pause_message = $4, pause_request_id = $5, updated_at = $6 WHERE app_id = $1 AND paused_at IS NULL`,
			appID, action, e.Code, e.Message, nullable(e.RequestID), now)
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

// ResumeApplication clears appID's pause and its batches' blocked reasons.
// Its work was never taken away: the dispatcher hands it out again, each
// step from where it stopped, what was due first first. It returns how much
// of its work is due now.
func (s *Store) ResumeApplication(ctx context.Context, appID string, now time.Time) (int, error) {
	var due int
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		if err := ensureApp(ctx, tx, appID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE applications SET paused_at = NULL, pause_action = NULL, pause_code = NULL,
			pause_message = NULL, pause_request_id = NULL, updated_at = $2 WHERE app_id = $1`, appID, now); err != nil {
			return mapErr(err)
		}
		if _, err := tx.Exec(ctx, `UPDATE batches SET blocked_reason = NULL WHERE app_id = $1 AND blocked_reason IS NOT NULL`, appID); err != nil {
			return mapErr(err)
		}
		return mapErr(tx.QueryRow(ctx, `SELECT count(*) FROM work WHERE app_id = $1 AND due_at <= $2`, appID, now).Scan(&due))
	})
	if err != nil {
		return 0, fmt.Errorf("resume application %s: %w", appID, err)
	}
	return due, nil
}

// ensureApp makes sure appID has a row in applications: the dispatcher
// walks that table.
func ensureApp(ctx context.Context, db DB, appID string) error {
	_, err := db.Exec(ctx, `INSERT INTO applications (app_id) VALUES ($1) ON CONFLICT DO NOTHING`, appID)
	return mapErr(err)
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
