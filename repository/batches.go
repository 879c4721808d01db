package repository

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/locale"
)

// Batch is one imported file.
type Batch struct {
	ID            int64
	AppID         string
	FileName      string
	FileSHA256    string
	Sheet         string
	HeaderRow     int
	Headers       []string // header cells in file order
	CreatedAt     time.Time
	FinishedAt    time.Time // zero while work is pending
	Rows          int
	Accepted      int
	Rejected      int
	Enqueued      int
	Unchanged     int
	BlockedReason string // why the application is paused; "" when it is not

	// The uploaded sheet's layout, which its results file lays out again:
	// every merged range (A1 references such as "J3:J5") and every hidden
	// row (1-based, ascending). Only Store.Batch reads them; a batch
	// imported before they were recorded has none.
	Merges     []string
	HiddenRows []int
}

// batchColumns are a batch's columns, selected from batches aliased b. A
// batch's finishing time is derived from its organizations: the last of their
// moves into a final state once all are final (the import itself for a batch
// with no accepted row), none while any is not.
var batchColumns = `b.id, b.app_id, b.file_name, b.file_sha256, b.sheet, b.header_row, b.headers, b.created_at,
	(SELECT CASE WHEN count(*) = 0 THEN b.created_at
			WHEN bool_and(o.state IN (` + finalStatesSQL + `)) THEN max(o.state_changed_at) END
		FROM batch_rows br JOIN organizations o ON o.id = br.org_id
		WHERE br.batch_id = b.id AND br.status = 'accepted'),
	b.rows, b.accepted, b.rejected, b.enqueued, b.unchanged, coalesce(b.blocked_reason, '')`

// finalStatesSQL is onboard.FinalStates as an SQL list of strings.
var finalStatesSQL = "'" + strings.Join(onboard.FinalStates, "', '") + "'"

// scanBatch scans batchColumns, then any columns selected after them into
// extra.
func scanBatch(r pgx.Row, extra ...any) (*Batch, error) {
	var b Batch
	var headers []byte
	var finished *time.Time
	dest := append([]any{&b.ID, &b.AppID, &b.FileName, &b.FileSHA256, &b.Sheet, &b.HeaderRow, &headers,
		&b.CreatedAt, &finished, &b.Rows, &b.Accepted, &b.Rejected, &b.Enqueued, &b.Unchanged,
		&b.BlockedReason}, extra...)
	if err := r.Scan(dest...); err != nil {
		return nil, err
	}
	if finished != nil {
		b.FinishedAt = *finished
	}
	if err := json.Unmarshal(headers, &b.Headers); err != nil {
		return nil, fmt.Errorf("batch %d: headers: %w", b.ID, err)
	}
	return &b, nil
}

// Batch returns one batch with its layout, or ErrNotFound.
func (s *Store) Batch(ctx context.Context, id int64) (*Batch, error) {
	var merges, hidden []byte
	b, err := scanBatch(s.pool.QueryRow(ctx, `SELECT `+batchColumns+`, b.merges, b.hidden_rows FROM batches b WHERE b.id = $1`, id),
		&merges, &hidden)
	if err != nil {
		return nil, fmt.Errorf("batch %d: %w", id, mapErr(err))
	}
	if err := json.Unmarshal(merges, &b.Merges); err != nil {
		return nil, fmt.Errorf("batch %d: merges: %w", id, err)
	}
	if err := json.Unmarshal(hidden, &b.HiddenRows); err != nil {
		return nil, fmt.Errorf("batch %d: hidden rows: %w", id, err)
	}
	if len(b.Merges) == 0 {
		b.Merges = nil
	}
	if len(b.HiddenRows) == 0 {
		b.HiddenRows = nil
	}
	return b, nil
}

// Batches returns the newest batches first, at most limit of them (all when
// limit <= 0).
func (s *Store) Batches(ctx context.Context, limit int) ([]Batch, error) {
	sql := `SELECT ` + batchColumns + ` FROM batches b ORDER BY b.id DESC`
	args := []any{}
	if limit > 0 {
		sql += ` LIMIT $1`
		args = append(args, limit)
	}
	q, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("batches: %w", mapErr(err))
	}
	defer q.Close()
	var out []Batch
	for q.Next() {
		b, err := scanBatch(q)
		if err != nil {
			return nil, fmt.Errorf("batches: %w", mapErr(err))
		}
		out = append(out, *b)
	}
	if err := q.Err(); err != nil {
		return nil, fmt.Errorf("batches: %w", mapErr(err))
	}
	return out, nil
}

// ResultRow is one row of a batch as the results file shows it: what the
// user wrote, what the import said, and where its organization is now.
type ResultRow struct {
	Number   int      // 1-based Excel row number
	Cells    []string // one per batch header, in file order
	Status   string   // "accepted" or "rejected"
	Reasons  []onboard.RowError
	Warnings []onboard.RowWarning
	OpenID   string

	// The organization, for accepted rows; zero values for rejected ones.
	OrgID          int64
	DataVersion    int
	State          string // onboard.State*
	StateChangedAt time.Time
	ErrorCode      string
	ErrorMessage   string
	RequestID      string
	Services       []ServiceStatus // in onboard.ServiceTypes order
	AuthStatus     string          // AuthorizationStatus last seen on the platform
	LoginURL       string          // console link issued to the admin the row named
	LoginExpiresAt time.Time       // when LoginURL stops working
}

// ServiceStatus is the state of one requested extended service.
type ServiceStatus struct {
	Service      onboard.ServiceType
	State        string    // onboard.Service*
	URL          string    // OperateUrl the admin must open; "" when none
	ExpiresAt    time.Time // when URL stops working; zero when no URL
	ErrorCode    string
	ErrorMessage string
}

// BatchRows calls fn for every row of a batch in row order, streaming them
// from the database. It returns ErrNotFound when the batch does not exist and
// stops at the first error fn returns.
func (s *Store) BatchRows(ctx context.Context, batchID int64, fn func(ResultRow) error) error {
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM batches WHERE id = $1)`, batchID).Scan(&exists); err != nil {
		return fmt.Errorf("batch %d rows: %w", batchID, mapErr(err))
	}
	if !exists {
		return fmt.Errorf("batch %d: %w", batchID, ErrNotFound)
	}
	q, err := s.pool.Query(ctx, `SELECT br.row_number, br.cells, br.status, br.reasons, br.warnings,
			coalesce(br.open_id, ''), coalesce(o.id, 0), coalesce(o.data_version, 0), coalesce(o.state, ''),
			o.state_changed_at, coalesce(o.last_error_code, ''), coalesce(o.last_error_message, ''),
			coalesce(o.last_request_id, ''),
			(SELECT coalesce(jsonb_agg(jsonb_build_object(
					'service', sv.service, 'state', sv.state, 'url', coalesce(sv.operate_url, ''),
					'expires_at', sv.url_expires_at, 'error_code', coalesce(sv.last_error_code, ''),
					'error_message', coalesce(sv.last_error_message, ''))), '[]'::jsonb)
				FROM organization_services sv WHERE sv.org_id = o.id),
			coalesce(o.auth_status, ''), coalesce(o.login_url, ''), o.login_url_expires_at
		FROM batch_rows br
		LEFT JOIN organizations o ON o.id = br.org_id
		WHERE br.batch_id = $1
		ORDER BY br.row_number`, batchID)
	if err != nil {
		return fmt.Errorf("batch %d rows: %w", batchID, mapErr(err))
	}
	defer q.Close()
	for q.Next() {
		var r ResultRow
		var cells, reasons, warnings, services []byte
		var changed, loginExp *time.Time
		if err := q.Scan(&r.Number, &cells, &r.Status, &reasons, &warnings, &r.OpenID, &r.OrgID,
			&r.DataVersion, &r.State, &changed, &r.ErrorCode, &r.ErrorMessage, &r.RequestID, &services,
			&r.AuthStatus, &r.LoginURL, &loginExp); err != nil {
			return fmt.Errorf("batch %d rows: %w", batchID, mapErr(err))
		}
		if changed != nil {
			r.StateChangedAt = *changed
		}
		if loginExp != nil {
			r.LoginExpiresAt = *loginExp
		}
		if err := decodeRow(&r, cells, reasons, warnings, services); err != nil {
			return fmt.Errorf("batch %d row %d: %w", batchID, r.Number, err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	if err := q.Err(); err != nil {
		return fmt.Errorf("batch %d rows: %w", batchID, mapErr(err))
	}
	return nil
}

// english renders the reasons and warnings read back, so that callers
// find their English text in Reason and Message; a reader in another
// language renders Code and Params again.
var english = locale.New(locale.English)

func decodeRow(r *ResultRow, cells, reasons, warnings, services []byte) error {
	if err := json.Unmarshal(cells, &r.Cells); err != nil {
		return fmt.Errorf("cells: %w", err)
	}
	var rs []reason
	if err := json.Unmarshal(reasons, &rs); err != nil {
		return fmt.Errorf("reasons: %w", err)
	}
	for _, x := range rs {
		r.Reasons = append(r.Reasons, onboard.RowError{Row: r.Number, Column: x.Column, Field: x.Field,
			Code: x.Code, Params: x.Params, Reason: english.Reason(x.Code, x.Params, x.Reason)})
	}
	var ws []warning
	if err := json.Unmarshal(warnings, &ws); err != nil {
		return fmt.Errorf("warnings: %w", err)
	}
	for _, x := range ws {
		r.Warnings = append(r.Warnings, onboard.RowWarning{Row: r.Number, Field: x.Field,
			Code: x.Code, Params: x.Params, Message: english.Reason(x.Code, x.Params, x.Message)})
	}
	var svs []struct {
		Service      string     `json:"service"`
		State        string     `json:"state"`
		URL          string     `json:"url"`
		ExpiresAt    *time.Time `json:"expires_at"`
		ErrorCode    string     `json:"error_code"`
		ErrorMessage string     `json:"error_message"`
	}
	if err := json.Unmarshal(services, &svs); err != nil {
		return fmt.Errorf("services: %w", err)
	}
	for _, x := range svs {
		st := ServiceStatus{Service: onboard.ServiceType(x.Service), State: x.State, URL: x.URL,
			ErrorCode: x.ErrorCode, ErrorMessage: x.ErrorMessage}
		if x.ExpiresAt != nil {
			st.ExpiresAt = *x.ExpiresAt
		}
		r.Services = append(r.Services, st)
	}
	slices.SortStableFunc(r.Services, func(a, b ServiceStatus) int {
		return serviceRank(a.Service) - serviceRank(b.Service)
	})
	return nil
}

func serviceRank(s onboard.ServiceType) int {
	if i := slices.Index(onboard.ServiceTypes, s); i >= 0 {
		return i
	}
	return len(onboard.ServiceTypes)
}
