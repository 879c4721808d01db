package repository

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ess-onboard/onboard"
)

// BatchOverview is one imported file and how far its organizations got.
type BatchOverview struct {
	Batch
	Orgs   int            // organizations named by the batch's accepted rows
	States map[string]int // those organizations by onboarding state
}

// Final counts the batch's organizations in a final state.
func (b *BatchOverview) Final() int {
	n := 0
	for _, s := range onboard.FinalStates {
		n += b.States[s]
	}
	return n
}

// RejectedRow is a row the importer refused, with every reason.
type RejectedRow struct {
	Row     int
	OpenID  string
	Reasons []onboard.RowError
}

// WarnedRow is an imported row of a batch with the warnings the importer
// gave it (a value changed, or a doubt about it).
type WarnedRow struct {
	Row      int
	OpenID   string
	Warnings []onboard.RowWarning
}

// FailedOrg is an organization of a batch that ended without being onboarded
// (failed, auth_rejected, timed_out), with the platform's last answer.
type FailedOrg struct {
	OrgID     int64
	OpenID    string
	Name      string
	State     string
	Code      string
	Message   string
	RequestID string
	ChangedAt time.Time
}

// IssuedLink is a service link the company's admin must open.
type IssuedLink struct {
	OrgID     int64
	OpenID    string
	Name      string
	Service   string
	URL       string
	ExpiresAt time.Time // zero when unknown
	// LastCallback is the latest platform callback about the company
	// ("" when none arrived) and when it arrived.
	LastCallback   string
	LastCallbackAt time.Time
}

// StateCount is how many organizations of an application are in one state.
type StateCount struct {
	AppID string
	State string
	Count int
}

// overviewColumns are batchColumns and the batch's organizations counted by
// state.
var overviewColumns = batchColumns + `,
	(SELECT coalesce(jsonb_object_agg(state, n), '{}'::jsonb) FROM (
		SELECT o.state, count(DISTINCT o.id) AS n
		FROM batch_rows br JOIN organizations o ON o.id = br.org_id
		WHERE br.batch_id = b.id AND br.status = 'accepted'
		GROUP BY o.state) s)`

func scanOverview(r pgx.Row) (*BatchOverview, error) {
	var states []byte
	b, err := scanBatch(r, &states)
	if err != nil {
		return nil, err
	}
	ov := BatchOverview{Batch: *b}
	if err := json.Unmarshal(states, &ov.States); err != nil {
		return nil, fmt.Errorf("batch %d: states: %w", b.ID, err)
	}
	for _, n := range ov.States {
		ov.Orgs += n
	}
	return &ov, nil
}

// BatchOverviews lists the newest batches first with their organizations
// counted by state.
func (s *Store) BatchOverviews(ctx context.Context, limit int) ([]BatchOverview, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+overviewColumns+` FROM batches b ORDER BY b.id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("list batches: %w", mapErr(err))
	}
	defer rows.Close()
	var out []BatchOverview
	for rows.Next() {
		ov, err := scanOverview(rows)
		if err != nil {
			return nil, fmt.Errorf("list batches: %w", err)
		}
		out = append(out, *ov)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list batches: %w", mapErr(err))
	}
	return out, nil
}

// BatchOverview returns one batch with its organizations by state, or
// ErrNotFound.
func (s *Store) BatchOverview(ctx context.Context, id int64) (*BatchOverview, error) {
	ov, err := scanOverview(s.pool.QueryRow(ctx, `SELECT `+overviewColumns+` FROM batches b WHERE b.id = $1`, id))
	if err != nil {
		return nil, fmt.Errorf("batch %d: %w", id, mapErr(err))
	}
	return ov, nil
}

// BatchRejections lists up to limit rejected rows of a batch in row order.
func (s *Store) BatchRejections(ctx context.Context, id int64, limit int) ([]RejectedRow, error) {
	rows, err := s.pool.Query(ctx, `SELECT row_number, coalesce(open_id, ''), reasons FROM batch_rows
		WHERE batch_id = $1 AND status = 'rejected' ORDER BY row_number LIMIT $2`, id, limit)
	if err != nil {
		return nil, fmt.Errorf("batch %d rejections: %w", id, mapErr(err))
	}
	defer rows.Close()
	var out []RejectedRow
	for rows.Next() {
		var r RejectedRow
		var reasons []byte
		if err := rows.Scan(&r.Row, &r.OpenID, &reasons); err != nil {
			return nil, fmt.Errorf("batch %d rejections: %w", id, mapErr(err))
		}
		if err := json.Unmarshal(reasons, &r.Reasons); err != nil {
			return nil, fmt.Errorf("batch %d row %d reasons: %w", id, r.Row, err)
		}
		for i := range r.Reasons {
			r.Reasons[i].Row = r.Row
		}
		out = append(out, r)
	}
	return out, mapErr(rows.Err())
}

// BatchWarnings lists up to limit rows of a batch that have warnings, in
// row order, their texts in English (render Code and Params for another
// language).
func (s *Store) BatchWarnings(ctx context.Context, id int64, limit int) ([]WarnedRow, error) {
	rows, err := s.pool.Query(ctx, `SELECT row_number, coalesce(open_id, ''), warnings FROM batch_rows
		WHERE batch_id = $1 AND warnings <> '[]'::jsonb ORDER BY row_number LIMIT $2`, id, limit)
	if err != nil {
		return nil, fmt.Errorf("batch %d warnings: %w", id, mapErr(err))
	}
	defer rows.Close()
	var out []WarnedRow
	for rows.Next() {
		var r WarnedRow
		var raw []byte
		if err := rows.Scan(&r.Row, &r.OpenID, &raw); err != nil {
			return nil, fmt.Errorf("batch %d warnings: %w", id, mapErr(err))
		}
		var ws []warning
		if err := json.Unmarshal(raw, &ws); err != nil {
			return nil, fmt.Errorf("batch %d row %d warnings: %w", id, r.Row, err)
		}
		for _, x := range ws {
			r.Warnings = append(r.Warnings, onboard.RowWarning{Row: r.Row, Field: x.Field, Code: x.Code, Params: x.Params,
				Message: english.Reason(x.Code, x.Params, x.Message)})
		}
		out = append(out, r)
	}
	return out, mapErr(rows.Err())
}

// BatchFailures lists up to limit organizations of a batch that ended failed,
// auth_rejected or timed_out, with their last error.
func (s *Store) BatchFailures(ctx context.Context, id int64, limit int) ([]FailedOrg, error) {
	rows, err := s.pool.Query(ctx, `SELECT o.id, o.open_id, o.name, o.state, coalesce(o.last_error_code, ''),
			coalesce(o.last_error_message, ''), coalesce(o.last_request_id, ''), o.state_changed_at
		FROM organizations o
		WHERE o.id IN (SELECT org_id FROM batch_rows WHERE batch_id = $1 AND org_id IS NOT NULL)
		  AND o.state = ANY($2)
		ORDER BY o.state_changed_at DESC, o.id LIMIT $3`,
		id, []string{onboard.StateFailed, onboard.StateAuthRejected, onboard.StateTimedOut}, limit)
	if err != nil {
		return nil, fmt.Errorf("batch %d failures: %w", id, mapErr(err))
	}
	defer rows.Close()
	var out []FailedOrg
	for rows.Next() {
		var f FailedOrg
		if err := rows.Scan(&f.OrgID, &f.OpenID, &f.Name, &f.State, &f.Code, &f.Message, &f.RequestID, &f.ChangedAt); err != nil {
			return nil, fmt.Errorf("batch %d failures: %w", id, mapErr(err))
		}
		out = append(out, f)
	}
	return out, mapErr(rows.Err())
}

// ConsoleLoginLink is the Service of an IssuedLink that is the console
// (activation) link of a company still to verify itself, followed by the
// admin's OpenId in brackets.
const ConsoleLoginLink = "console login"

// BatchLinks lists up to limit links waiting for a batch's organizations'
// admins, soonest expiry first: service links still to open, and the console
// links of companies still to verify themselves.
func (s *Store) BatchLinks(ctx context.Context, id int64, limit int) ([]IssuedLink, error) {
	rows, err := s.pool.Query(ctx, `WITH orgs AS (SELECT org_id FROM batch_rows WHERE batch_id = $1 AND org_id IS NOT NULL),
		links AS (
		SELECT o.id, o.open_id, o.name, sv.service, sv.operate_url, sv.url_expires_at
			FROM organization_services sv JOIN organizations o ON o.id = sv.org_id
			WHERE sv.org_id IN (SELECT org_id FROM orgs) AND sv.state = $2 AND coalesce(sv.operate_url, '') <> ''
		UNION ALL
		SELECT o.id, o.open_id, o.name, $4 || ' (' || coalesce(o.login_operator_open_id, '') || ')', o.login_url, o.login_url_expires_at
			FROM organizations o
			WHERE o.id IN (SELECT org_id FROM orgs) AND o.state = $5 AND coalesce(o.login_url, '') <> '')
		SELECT l.*, coalesce(cb.msg_type, ''), cb.received_at FROM links l
			LEFT JOIN LATERAL (SELECT msg_type, received_at FROM callbacks WHERE org_id = l.id
				ORDER BY received_at DESC LIMIT 1) cb ON true
		ORDER BY 6 NULLS LAST, 1, 4 LIMIT $3`, id, onboard.ServiceLinked, limit, ConsoleLoginLink, onboard.StateAwaitingAuth)
	if err != nil {
		return nil, fmt.Errorf("batch %d links: %w", id, mapErr(err))
	}
	defer rows.Close()
	var out []IssuedLink
	for rows.Next() {
		var l IssuedLink
		var exp, cbAt *time.Time
		if err := rows.Scan(&l.OrgID, &l.OpenID, &l.Name, &l.Service, &l.URL, &exp, &l.LastCallback, &cbAt); err != nil {
			return nil, fmt.Errorf("batch %d links: %w", id, mapErr(err))
		}
		if exp != nil {
			l.ExpiresAt = *exp
		}
		l.LastCallbackAt = tm(cbAt)
		out = append(out, l)
	}
	return out, mapErr(rows.Err())
}

// OrgStateCounts counts organizations per application and state.
func (s *Store) OrgStateCounts(ctx context.Context) ([]StateCount, error) {
	rows, err := s.pool.Query(ctx, `SELECT app_id, state, count(*) FROM organizations GROUP BY app_id, state ORDER BY app_id, state`)
	if err != nil {
		return nil, fmt.Errorf("count organizations: %w", mapErr(err))
	}
	defer rows.Close()
	var out []StateCount
	for rows.Next() {
		var c StateCount
		if err := rows.Scan(&c.AppID, &c.State, &c.Count); err != nil {
			return nil, fmt.Errorf("count organizations: %w", mapErr(err))
		}
		out = append(out, c)
	}
	return out, mapErr(rows.Err())
}

// AppIDs lists the applications files were imported for, most recently
// used first.
func (s *Store) AppIDs(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT app_id FROM batches GROUP BY app_id ORDER BY max(id) DESC LIMIT 100`)
	if err != nil {
		return nil, fmt.Errorf("list applications: %w", mapErr(err))
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return nil, fmt.Errorf("list applications: %w", mapErr(err))
		}
		out = append(out, a)
	}
	return out, mapErr(rows.Err())
}
