package repository

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ess-onboard/onboard"
)

// OrgVersion names one data version of an organization.
type OrgVersion = onboard.OrgVersion

// RowSource yields the rows of one file; *importer.Reader satisfies it.
// Next returns io.EOF after the last row; any other error refuses the file.
type RowSource interface {
	Next() (*onboard.Row, error)
}

// LayoutSource is a RowSource that also tells how its sheet was laid out;
// *importer.Reader is one. Import asks it once the last row is read and
// stores the answer with the batch, for the results file.
type LayoutSource interface {
	Merges() []string  // merged ranges, as A1 references such as "J3:J5"
	HiddenRows() []int // 1-based numbers of the hidden rows, ascending
}

// ImportParams describe the file being imported.
type ImportParams struct {
	AppID      string // the channel application the whole file belongs to
	FileName   string
	FileSHA256 string
	Sheet      string
	HeaderRow  int
	Headers    []string // header cells in file order
	DryRun     bool     // do all the work, then roll it back
	// Now is when the new and changed organizations' sync is due; zero:
	// the time of the call.
	Now time.Time
}

// ImportResult is what one import did (or, for a dry run, would have done).
type ImportResult struct {
	BatchID   int64 // 0 for a dry run
	Rows      int   // non-blank data rows read
	Accepted  int
	Rejected  int
	Enqueued  int // organizations new or changed, now due for sync
	Unchanged int // accepted rows whose organization's data did not change

	Rejections []onboard.RowError
	Warnings   []onboard.RowWarning
}

// progressEvery is how many rows pass between calls of the progress function.
const progressEvery = 500

var errDryRun = errors.New("dry run")

// Import stores one file in one transaction: the batch, every row (accepted
// or rejected, with its cells), the license images (once per hash), and the
// organizations upserted from the accepted rows. A new organization gets data
// version 1 and state queued; one whose data fingerprint is unchanged is left
// as it is; one whose data changed gets the next data version, state queued,
// its errors cleared and its services replaced. The sync of every new or
// changed organization is recorded as due work in the same transaction:
// once Import returns, the dispatcher hands it to the workers.
//
// Any error from rows (a refused file), or from the database, stores nothing.
// Rows are streamed with COPY, so memory does not grow with their number
// (beyond the rejections and warnings returned). progress, when not nil, is
// called with the number of rows read so far.
func (s *Store) Import(ctx context.Context, p ImportParams, rows RowSource, progress func(n int)) (*ImportResult, error) {
	if p.AppID == "" {
		return nil, errors.New("import: no application id")
	}
	if p.Headers == nil {
		p.Headers = []string{}
	}
	if p.Now.IsZero() {
		p.Now = time.Now()
	}
	res := &ImportResult{}
	err := s.withTx(ctx, func(tx pgx.Tx) error {
		if err := importFile(ctx, tx, p, rows, progress, res); err != nil {
			return err
		}
		if p.DryRun {
			return errDryRun
		}
		return nil
	})
	if p.DryRun && errors.Is(err, errDryRun) {
		res.BatchID = 0
		return res, nil
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

const createStaging = `CREATE TEMP TABLE import_staging (
	row_number           integer NOT NULL,
	cells                jsonb   NOT NULL,
	status               text    NOT NULL,
	reasons              jsonb   NOT NULL,
	warnings             jsonb   NOT NULL,
	open_id              text,
	name                 text,
	credit_code          text,
	legal_name           text,
	legal_id_card_type   text,
	legal_id_card_number text,
	address              text,
	admin_open_id        text,
	license_sha256       text,
	license_mime         text,
	license_data         bytea,
	services             text[],
	fingerprint          text
) ON COMMIT DROP;
CREATE TEMP TABLE import_changed (
	id           bigint  NOT NULL,
	open_id      text    NOT NULL,
	data_version integer NOT NULL
) ON COMMIT DROP;
CREATE TEMP TABLE import_seen (
	open_id    text PRIMARY KEY,
	row_number integer NOT NULL
) ON COMMIT DROP`

var stagingColumns = []string{
	"row_number", "cells", "status", "reasons", "warnings", "open_id",
	"name", "credit_code", "legal_name", "legal_id_card_type", "legal_id_card_number",
	"address", "admin_open_id", "license_sha256", "license_mime", "license_data",
	"services", "fingerprint",
}

// chunkRows is how many rows are staged and merged at a time. While one
// chunk is merged, the next is read from the file.
const chunkRows = 5000

// readAhead bounds the license image bytes read ahead of the database.
const readAhead = 64 << 20

func importFile(ctx context.Context, tx pgx.Tx, p ImportParams, rows RowSource, progress func(int), res *ImportResult) error {
	headers, err := json.Marshal(p.Headers)
	if err != nil {
		return err
	}
	// One import per application at a time: two files touching the same
	// organizations in a different order would otherwise deadlock.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('onboard.import:' || $1, 0))`, p.AppID); err != nil {
		return fmt.Errorf("import: %w", mapErr(err))
	}
	var batchID int64
	if err := tx.QueryRow(ctx, `INSERT INTO batches (app_id, file_name, file_sha256, sheet, header_row, headers)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
		p.AppID, p.FileName, p.FileSHA256, p.Sheet, p.HeaderRow, headers).Scan(&batchID); err != nil {
		return fmt.Errorf("import: create batch: %w", mapErr(err))
	}
	res.BatchID = batchID
	if err := ensureApp(ctx, tx, p.AppID); err != nil {
		return fmt.Errorf("import: %w", err)
	}
	if _, err := tx.Exec(ctx, createStaging); err != nil {
		return fmt.Errorf("import: %w", mapErr(err))
	}

	feed := startFeed(rows, chunkRows, readAhead)
	defer feed.stop()
	images := map[string]bool{} // hashes whose bytes were already sent in this file
	for {
		src := &rowCopier{feed: feed, limit: chunkRows, res: res, progress: progress, images: images}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"import_staging"}, stagingColumns, src); err != nil {
			if src.srcErr != nil {
				return src.srcErr // the file was refused part-way
			}
			return fmt.Errorf("import: copy rows: %w", mapErr(err))
		}
		if src.n > 0 {
			if err := mergeChunk(ctx, tx, p, batchID, res); err != nil {
				return err
			}
		}
		if src.eof {
			break
		}
	}
	if progress != nil {
		progress(res.Rows)
	}
	res.Unchanged = res.Accepted - res.Enqueued

	merges, hidden := []string{}, []int{}
	if l, ok := rows.(LayoutSource); ok {
		// The feed has stopped reading: it handed over io.EOF last.
		merges, hidden = nonNil(l.Merges()), nonNil(l.HiddenRows())
	}
	mergesJSON, err := json.Marshal(merges)
	if err != nil {
		return err
	}
	hiddenJSON, err := json.Marshal(hidden)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE batches SET rows = $2, accepted = $3, rejected = $4, enqueued = $5, unchanged = $6,
		merges = $7, hidden_rows = $8
		WHERE id = $1`, batchID, res.Rows, res.Accepted, res.Rejected, res.Enqueued, res.Unchanged, mergesJSON, hiddenJSON); err != nil {
		return fmt.Errorf("import: %w", mapErr(err))
	}
	return nil
}

// nonNil is s, or an empty slice for nil (stored as [], not null).
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// mergeChunk merges the staged rows into the organizations and the batch,
// then empties the staging tables.
func mergeChunk(ctx context.Context, tx pgx.Tx, p ImportParams, batchID int64, res *ImportResult) error {
	appID := p.AppID
	// Two accepted rows for one organization would make the upsert ambiguous;
	// the importer rejects the later one, so this is a guard, not a rule.
	var staged, fresh int
	if err := tx.QueryRow(ctx, `WITH ins AS (
			INSERT INTO import_seen (open_id, row_number)
			SELECT open_id, row_number FROM import_staging WHERE status = 'accepted'
			ON CONFLICT (open_id) DO NOTHING RETURNING 1)
		SELECT (SELECT count(*) FROM import_staging WHERE status = 'accepted'), (SELECT count(*) FROM ins)`).Scan(&staged, &fresh); err != nil {
		return fmt.Errorf("import: %w", mapErr(err))
	}
	if staged != fresh {
		var openID string
		var first, again int
		err := tx.QueryRow(ctx, `SELECT s.open_id, seen.row_number, s.row_number
			FROM import_staging s JOIN import_seen seen USING (open_id)
			WHERE s.status = 'accepted' AND s.row_number <> seen.row_number
			ORDER BY s.row_number LIMIT 1`).Scan(&openID, &first, &again)
		if err != nil {
			return fmt.Errorf("import: two accepted rows share a %s: %w", onboard.FieldOpenID, mapErr(err))
		}
		return fmt.Errorf("import: rows %d and %d both have %s %q; keep one of them", first, again, onboard.FieldOpenID, openID)
	}

	steps := []struct {
		what string
		sql  string
		args []any
	}{
		{"store license images", `INSERT INTO license_images (sha256, mime, data)
			SELECT license_sha256, license_mime, license_data FROM import_staging
			WHERE license_data IS NOT NULL
			ON CONFLICT (sha256) DO NOTHING`, nil},
		{"upsert organizations", `WITH up AS (
			INSERT INTO organizations AS o (app_id, open_id, name, credit_code, legal_name,
				legal_id_card_type, legal_id_card_number, address, admin_open_id, license_sha256,
				fingerprint, data_version, state, state_changed_at, last_batch_id)
			SELECT $1, open_id, name, credit_code, legal_name, legal_id_card_type,
				legal_id_card_number, address, admin_open_id, license_sha256,
				fingerprint, 1, $3, $4, $2
			FROM import_staging WHERE status = 'accepted'
			ORDER BY open_id
			ON CONFLICT (app_id, open_id) DO UPDATE SET
				name = EXCLUDED.name,
				credit_code = EXCLUDED.credit_code,
				legal_name = EXCLUDED.legal_name,
				legal_id_card_type = EXCLUDED.legal_id_card_type,
				legal_id_card_number = EXCLUDED.legal_id_card_number,
				address = EXCLUDED.address,
				admin_open_id = EXCLUDED.admin_open_id,
				license_sha256 = EXCLUDED.license_sha256,
				fingerprint = EXCLUDED.fingerprint,
				data_version = o.data_version + 1,
				state = EXCLUDED.state,
				state_changed_at = EXCLUDED.state_changed_at,
				last_error_code = NULL,
				last_error_message = NULL,
				last_request_id = NULL,
				awaiting_admin_since = NULL,
				admin_deadline = NULL,
				last_batch_id = EXCLUDED.last_batch_id,
				updated_at = EXCLUDED.state_changed_at
			WHERE o.fingerprint IS DISTINCT FROM EXCLUDED.fingerprint
			RETURNING o.id, o.open_id, o.data_version)
			INSERT INTO import_changed (id, open_id, data_version) SELECT id, open_id, data_version FROM up`,
			[]any{appID, batchID, onboard.StateQueued, p.Now}},
		{"replace services", `DELETE FROM organization_services
			WHERE org_id IN (SELECT id FROM import_changed WHERE data_version > 1)`, nil},
		{"store services", `INSERT INTO organization_services (org_id, service, state)
			SELECT c.id, svc.name, $1
			FROM import_changed c
			JOIN import_staging s ON s.status = 'accepted' AND s.open_id = c.open_id
			CROSS JOIN LATERAL unnest(s.services) AS svc(name)
			ON CONFLICT (org_id, service) DO NOTHING`, []any{onboard.ServiceRequested}},
		{"replace work", `DELETE FROM work WHERE org_id IN (SELECT id FROM import_changed)`, nil},
		{"queue sync", `INSERT INTO work (app_id, kind, org_id, data_version, due_at, created_at)
			SELECT $1, $2, id, data_version, $3, $3 FROM import_changed ORDER BY id`,
			[]any{appID, onboard.WorkSync, p.Now}},
		{"store rows", `INSERT INTO batch_rows (batch_id, row_number, cells, status, reasons, warnings, open_id, org_id)
			SELECT $1, s.row_number, s.cells, s.status, s.reasons, s.warnings, s.open_id, o.id
			FROM import_staging s
			LEFT JOIN organizations o ON s.status = 'accepted' AND o.app_id = $2 AND o.open_id = s.open_id
			ORDER BY s.row_number`, []any{batchID, appID}},
	}
	for _, st := range steps {
		if _, err := tx.Exec(ctx, st.sql, st.args...); err != nil {
			return fmt.Errorf("import: %s: %w", st.what, mapErr(err))
		}
	}

	var changed int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM import_changed`).Scan(&changed); err != nil {
		return fmt.Errorf("import: %w", mapErr(err))
	}
	res.Enqueued += changed
	if _, err := tx.Exec(ctx, `TRUNCATE import_staging, import_changed`); err != nil {
		return fmt.Errorf("import: %w", mapErr(err))
	}
	return nil
}

// reason and warning are the JSON shapes of batch_rows.reasons and
// .warnings. Code and Params are what a reason is read back by, rendered in
// the reader's language (docs/reason-codes.md); Reason and Message are its
// English text when stored, which is all a row stored before codes existed
// has, and what a reader without the catalogues (or an older onboard) shows.
type reason struct {
	Column string            `json:"column"`
	Field  string            `json:"field"`
	Code   string            `json:"code,omitempty"`
	Params map[string]string `json:"params,omitempty"`
	Reason string            `json:"reason"`
}

type warning struct {
	Field   string            `json:"field"`
	Code    string            `json:"code,omitempty"`
	Params  map[string]string `json:"params,omitempty"`
	Message string            `json:"message"`
}

// feed reads rows in its own goroutine, ahead of the database, so reading
// the file and merging the previous chunk overlap. It holds at most capacity
// rows and about maxBytes of license images at a time.
type feed struct {
	items chan feedItem
	quit  chan struct{}
	done  chan struct{}

	mu       sync.Mutex
	cond     *sync.Cond
	held     int // image bytes read but not yet handed to COPY
	maxBytes int
	stopped  bool
}

type feedItem struct {
	row  *onboard.Row
	err  error // io.EOF after the last row
	size int
}

func startFeed(src RowSource, capacity, maxBytes int) *feed {
	f := &feed{items: make(chan feedItem, capacity), quit: make(chan struct{}), done: make(chan struct{}), maxBytes: maxBytes}
	f.cond = sync.NewCond(&f.mu)
	go f.run(src)
	return f
}

func (f *feed) run(src RowSource) {
	defer close(f.done)
	for {
		row, err := src.Next()
		it := feedItem{row: row, err: err}
		if err == nil && row == nil {
			it.err = errors.New("import: the row source returned no row and no error")
		}
		if it.err == nil && row.Data.License != nil {
			it.size = len(row.Data.License.Data)
			if !f.hold(it.size) {
				return
			}
		}
		select {
		case f.items <- it:
		case <-f.quit:
			return
		}
		if it.err != nil {
			return
		}
	}
}

// hold waits until n more image bytes fit; false when the feed was stopped.
func (f *feed) hold(n int) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for !f.stopped && f.held > 0 && f.held+n > f.maxBytes {
		f.cond.Wait()
	}
	f.held += n
	return !f.stopped
}

func (f *feed) release(n int) {
	if n == 0 {
		return
	}
	f.mu.Lock()
	f.held -= n
	f.mu.Unlock()
	f.cond.Broadcast()
}

// stop ends the reading goroutine and waits for it, so the source is no
// longer used when Import returns.
func (f *feed) stop() {
	close(f.quit)
	f.mu.Lock()
	f.stopped = true
	f.mu.Unlock()
	f.cond.Broadcast()
	<-f.done
}

// rowCopier is the pgx.CopyFromSource of one chunk: it takes up to limit
// rows from the feed.
type rowCopier struct {
	feed     *feed
	limit    int
	res      *ImportResult
	progress func(int)
	images   map[string]bool // hashes whose bytes were already sent in this file
	n        int             // rows in this chunk
	eof      bool
	lastSize int
	vals     []any
	srcErr   error
	err      error
}

func (c *rowCopier) Next() bool {
	c.feed.release(c.lastSize) // COPY has encoded the previous row
	c.lastSize = 0
	if c.n >= c.limit {
		return false
	}
	it := <-c.feed.items
	if it.err == io.EOF {
		c.eof = true
		return false
	}
	if it.err != nil {
		c.srcErr, c.err = it.err, it.err
		return false
	}
	c.lastSize = it.size
	c.vals, c.err = c.values(it.row)
	if c.err != nil {
		return false
	}
	c.n++
	c.res.Rows++
	if c.progress != nil && c.res.Rows%progressEvery == 0 {
		c.progress(c.res.Rows)
	}
	return true
}

func (c *rowCopier) Values() ([]any, error) { return c.vals, c.err }

func (c *rowCopier) Err() error { return c.err }

func (c *rowCopier) values(row *onboard.Row) ([]any, error) {
	cells := row.Cells
	if cells == nil {
		cells = []string{}
	}
	cellsJSON, err := json.Marshal(cells)
	if err != nil {
		return nil, err
	}
	reasons := make([]reason, len(row.Errors))
	for i, e := range row.Errors {
		reasons[i] = reason{Column: e.Column, Field: e.Field, Code: e.Code, Params: e.Params, Reason: e.Reason}
		c.res.Rejections = append(c.res.Rejections, e)
	}
	warnings := make([]warning, len(row.Warnings))
	for i, w := range row.Warnings {
		warnings[i] = warning{Field: w.Field, Code: w.Code, Params: w.Params, Message: w.Message}
		c.res.Warnings = append(c.res.Warnings, w)
	}
	reasonsJSON, _ := json.Marshal(reasons)
	warningsJSON, _ := json.Marshal(warnings)

	d := &row.Data
	openID := nullable(d.OpenID)
	if !row.Accepted() {
		c.res.Rejected++
		return []any{int32(row.Number), cellsJSON, "rejected", reasonsJSON, warningsJSON, openID,
			nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil}, nil
	}
	if d.OpenID == "" {
		return nil, fmt.Errorf("import: row %d was accepted without a %s", row.Number, onboard.FieldOpenID)
	}
	c.res.Accepted++
	var sha, mime any
	var data []byte
	if img := d.License; img != nil {
		sha, mime = img.SHA256, img.MIME
		if !c.images[img.SHA256] {
			c.images[img.SHA256] = true
			data = img.Data
		}
	}
	services := make([]string, len(d.Services))
	for i, s := range d.Services {
		services[i] = string(s)
	}
	return []any{int32(row.Number), cellsJSON, "accepted", reasonsJSON, warningsJSON, openID,
		d.Name, d.CreditCode, d.LegalName, d.LegalIDCardType, d.LegalIDCardNumber,
		d.Address, d.AdminOpenID, sha, mime, data, services, d.Fingerprint()}, nil
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
