package repository

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ess-onboard/onboard"
)

func TestImportNewFile(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	app := newAppID(t)
	r3 := acceptedRow(3, "org-a", "甲公司", onboard.ServiceAutoSign, onboard.ServiceDownloadFlow)
	r3.Warnings = []onboard.RowWarning{{Row: 3, Field: onboard.FieldName, Message: "brackets converted"}}
	var calls []int
	res, err := testStore.Import(ctx, params(app), source(
		r3,
		rejectedRow(4, "org-bad"),
		acceptedRow(6, "org-b", "乙公司"),
	), func(n int) { calls = append(calls, n) })
	if err != nil {
		t.Fatal(err)
	}

	a, b := org(t, app, "org-a"), org(t, app, "org-b")
	want := &ImportResult{
		BatchID: res.BatchID, Rows: 3, Accepted: 2, Rejected: 1, Enqueued: 2, Unchanged: 0,
		Rejections: []onboard.RowError{{Row: 4, Column: "企业名称", Field: onboard.FieldName, Reason: "is empty"}},
		Warnings:   []onboard.RowWarning{{Row: 3, Field: onboard.FieldName, Message: "brackets converted"}},
	}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("result (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]OrgVersion{{OrgID: a.ID, DataVersion: 1}, {OrgID: b.ID, DataVersion: 1}}, syncWork(t, app)); diff != "" {
		t.Errorf("sync work (-want +got):\n%s", diff)
	}
	if len(calls) == 0 || calls[len(calls)-1] != 3 {
		t.Errorf("progress calls %v, want the last to report 3 rows", calls)
	}
	for _, o := range []orgRow{a, b} {
		if o.State != onboard.StateQueued || o.DataVersion != 1 || o.LastBatch != res.BatchID {
			t.Errorf("org %+v: want state queued, version 1, batch %d", o, res.BatchID)
		}
	}
	if diff := cmp.Diff([]string{"AUTO_SIGN:requested", "DOWNLOAD_FLOW:requested"}, services(t, a.ID)); diff != "" {
		t.Errorf("services of org-a (-want +got):\n%s", diff)
	}
	if n := count(t, `SELECT count(*) FROM organizations WHERE app_id = $1`, app); n != 2 {
		t.Errorf("%d organizations, want 2 (the rejected row creates none)", n)
	}

	batch, err := testStore.Batch(ctx, res.BatchID)
	if err != nil {
		t.Fatal(err)
	}
	wantBatch := &Batch{ID: res.BatchID, AppID: app, FileName: "orgs.xlsx", FileSHA256: strings.Repeat("ab", 32),
		Sheet: "Sheet1", HeaderRow: 2, Headers: testHeaders, CreatedAt: batch.CreatedAt,
		Rows: 3, Accepted: 2, Rejected: 1, Enqueued: 2}
	if diff := cmp.Diff(wantBatch, batch); diff != "" {
		t.Errorf("batch (-want +got):\n%s", diff)
	}
}

func TestImportSameFileTwiceQueuesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	app := newAppID(t)
	file := func() *rows {
		return source(acceptedRow(2, "org-a", "甲公司", onboard.ServiceAutoSign), acceptedRow(3, "org-b", "乙公司"),
			rejectedRow(4, "org-c"))
	}
	first := mustImport(t, params(app), file())
	// Work moved on for org-a before the file came again.
	a := org(t, app, "org-a")
	if _, err := testStore.pool.Exec(ctx, `UPDATE organizations SET state = $2 WHERE id = $1`, a.ID, onboard.StateAwaitingAuth); err != nil {
		t.Fatal(err)
	}

	second := mustImport(t, params(app), file())
	if second.BatchID == first.BatchID {
		t.Fatal("the second import reused the first batch")
	}
	if second.Enqueued != 0 || second.Unchanged != 2 || second.Rejected != 1 {
		t.Fatalf("second import: %+v, want nothing queued, 2 unchanged, 1 rejected", second)
	}
	a2 := org(t, app, "org-a")
	if a2.State != onboard.StateAwaitingAuth || a2.DataVersion != 1 || a2.LastBatch != first.BatchID {
		t.Errorf("org-a after the same data again: %+v, want it untouched", a2)
	}
	// The second batch's rows still point at their organizations.
	if n := count(t, `SELECT count(*) FROM batch_rows WHERE batch_id = $1 AND org_id IS NOT NULL`, second.BatchID); n != 2 {
		t.Errorf("%d rows of the second batch linked to an organization, want 2", n)
	}
}

func TestImportChangedRowQueuesExactlyThatRow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	app := newAppID(t)
	mustImport(t, params(app), source(
		acceptedRow(2, "org-a", "甲公司", onboard.ServiceAutoSign, onboard.ServicePagingSeal),
		acceptedRow(3, "org-b", "乙公司"),
		acceptedRow(4, "org-c", "丙公司"),
	))
	a := org(t, app, "org-a")
	// org-a failed on the platform; its service got a link.
	if _, err := testStore.pool.Exec(ctx, `UPDATE organizations SET state = 'failed', last_error_code = 'InvalidParameter',
		last_error_message = 'bad name', last_request_id = 'req-1' WHERE id = $1`, a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := testStore.pool.Exec(ctx, `UPDATE organization_services SET state = 'linked', operate_url = 'https://x'
		WHERE org_id = $1`, a.ID); err != nil {
		t.Fatal(err)
	}

	fixed := acceptedRow(2, "org-a", "甲公司（北京）", onboard.ServiceMobileCheckApprover, onboard.ServiceAutoSign)
	res := mustImport(t, params(app), source(fixed, acceptedRow(3, "org-b", "乙公司"), acceptedRow(4, "org-c", "丙公司")))
	b, c := org(t, app, "org-b"), org(t, app, "org-c")
	if diff := cmp.Diff([]OrgVersion{{OrgID: a.ID, DataVersion: 2}, {OrgID: b.ID, DataVersion: 1}, {OrgID: c.ID, DataVersion: 1}}, syncWork(t, app)); diff != "" {
		t.Fatalf("sync work (-want +got):\n%s", diff)
	}
	if res.Enqueued != 1 || res.Unchanged != 2 {
		t.Errorf("enqueued %d, unchanged %d; want 1 and 2", res.Enqueued, res.Unchanged)
	}
	a2 := org(t, app, "org-a")
	want := orgRow{ID: a.ID, Name: "甲公司（北京）", DataVersion: 2, State: onboard.StateQueued, LastBatch: res.BatchID}
	if diff := cmp.Diff(want, a2); diff != "" {
		t.Errorf("org-a (-want +got):\n%s", diff)
	}
	var msg, req *string
	if err := testStore.pool.QueryRow(ctx, `SELECT last_error_message, last_request_id FROM organizations WHERE id = $1`, a.ID).Scan(&msg, &req); err != nil {
		t.Fatal(err)
	}
	if msg != nil || req != nil {
		t.Errorf("error message %v, request id %v: want both cleared", msg, req)
	}
	if diff := cmp.Diff([]string{"AUTO_SIGN:requested", "MOBILE_CHECK_APPROVER:requested"}, services(t, a.ID)); diff != "" {
		t.Errorf("services replaced (-want +got):\n%s", diff)
	}
	for _, id := range []string{"org-b", "org-c"} {
		if o := org(t, app, id); o.DataVersion != 1 {
			t.Errorf("%s: data version %d, want 1", id, o.DataVersion)
		}
	}
}

func TestRefusedFileStoresNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	app := newAppID(t)
	img := onboard.NewImage("image/png", []byte("refused-file-image-"+app))
	r := acceptedRow(2, "org-a", "甲公司", onboard.ServiceAutoSign)
	r.Data.License = img
	refusal := errors.New("the workbook is corrupt at row 4")
	src := &rows{list: []*onboard.Row{r, acceptedRow(3, "org-b", "乙公司"), rejectedRow(4, "org-c")}, err: refusal}

	res, err := testStore.Import(ctx, params(app), src, nil)
	if !errors.Is(err, refusal) || res != nil {
		t.Fatalf("Import = %v, %v; want nil and the source's error", res, err)
	}
	for _, c := range []struct{ what, sql string }{
		{"batches", `SELECT count(*) FROM batches WHERE app_id = $1`},
		{"organizations", `SELECT count(*) FROM organizations WHERE app_id = $1`},
		{"rows", `SELECT count(*) FROM batch_rows br JOIN batches b ON b.id = br.batch_id WHERE b.app_id = $1`},
	} {
		if n := count(t, c.sql, app); n != 0 {
			t.Errorf("%d %s stored for a refused file, want 0", n, c.what)
		}
	}
	if n := count(t, `SELECT count(*) FROM license_images WHERE sha256 = $1`, img.SHA256); n != 0 {
		t.Errorf("the refused file's image was stored")
	}
}

func TestDryRunStoresNothing(t *testing.T) {
	t.Parallel()
	app := newAppID(t)
	p := params(app)
	p.DryRun = true
	res := mustImport(t, p, source(acceptedRow(2, "org-a", "甲公司"), rejectedRow(3, "org-b")))
	want := &ImportResult{Rows: 2, Accepted: 1, Rejected: 1, Enqueued: 1,
		Rejections: []onboard.RowError{{Row: 3, Column: "企业名称", Field: onboard.FieldName, Reason: "is empty"}}}
	if diff := cmp.Diff(want, res); diff != "" {
		t.Errorf("dry run result (-want +got):\n%s", diff)
	}
	if n := count(t, `SELECT count(*) FROM batches WHERE app_id = $1`, app); n != 0 {
		t.Errorf("dry run stored %d batches", n)
	}
	if n := count(t, `SELECT count(*) FROM organizations WHERE app_id = $1`, app); n != 0 {
		t.Errorf("dry run stored %d organizations", n)
	}
}

func TestImagesStoredOnce(t *testing.T) {
	t.Parallel()
	app := newAppID(t)
	img := onboard.NewImage("image/png", []byte("shared-license-"+app))
	other := onboard.NewImage("image/jpeg", []byte("other-license-"+app))
	withImage := func(r *onboard.Row, im *onboard.Image) *onboard.Row { r.Data.License = im; return r }
	res := mustImport(t, params(app), source(
		withImage(acceptedRow(2, "org-a", "甲公司"), img),
		withImage(acceptedRow(3, "org-b", "乙公司"), img),
		withImage(acceptedRow(4, "org-c", "丙公司"), other),
	))
	if res.Accepted != 3 {
		t.Fatalf("accepted %d, want 3", res.Accepted)
	}
	// Another file with the same picture.
	mustImport(t, params(app), source(withImage(acceptedRow(2, "org-d", "丁公司"), img)))

	if n := count(t, `SELECT count(*) FROM license_images WHERE sha256 = $1`, img.SHA256); n != 1 {
		t.Errorf("shared image stored %d times, want 1", n)
	}
	var mime string
	var data []byte
	if err := testStore.pool.QueryRow(context.Background(), `SELECT mime, data FROM license_images WHERE sha256 = $1`, other.SHA256).Scan(&mime, &data); err != nil {
		t.Fatal(err)
	}
	if mime != "image/jpeg" || string(data) != string(other.Data) {
		t.Errorf("stored image %s %q, want image/jpeg %q", mime, data, other.Data)
	}
	for _, id := range []string{"org-a", "org-b", "org-d"} {
		if o := org(t, app, id); o.License != img.SHA256 {
			t.Errorf("%s license %q, want %s", id, o.License, img.SHA256)
		}
	}
}

func TestImportRefusesTwoAcceptedRowsForOneOrganization(t *testing.T) {
	t.Parallel()
	app := newAppID(t)
	_, err := testStore.Import(context.Background(), params(app),
		source(acceptedRow(2, "org-a", "甲公司"), acceptedRow(5, "org-a", "甲公司二")), nil)
	if err == nil || !strings.Contains(err.Error(), `"org-a"`) || !strings.Contains(err.Error(), "rows 2 and 5") {
		t.Fatalf("err = %v, want one naming org-a and rows 2 and 5", err)
	}
	// The same in different chunks.
	list := []*onboard.Row{acceptedRow(2, "org-a", "甲公司")}
	for i := range chunkRows + 10 {
		list = append(list, acceptedRow(i+3, fmt.Sprintf("org-%05d", i), "公司"))
	}
	list = append(list, acceptedRow(chunkRows+20, "org-a", "甲公司二"))
	_, err = testStore.Import(context.Background(), params(app), source(list...), nil)
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("rows 2 and %d", chunkRows+20)) {
		t.Fatalf("err = %v, want one naming rows 2 and %d", err, chunkRows+20)
	}
	if n := count(t, `SELECT count(*) FROM batches WHERE app_id = $1`, app); n != 0 {
		t.Errorf("%d batches stored, want 0", n)
	}
}

// A file of several chunks: counts, order of the work, and a refusal in
// the last chunk that stores nothing of the earlier ones.
func TestImportManyChunks(t *testing.T) {
	t.Parallel()
	app := newAppID(t)
	n := 2*chunkRows + 123
	var list []*onboard.Row
	for i := range n {
		if i%1000 == 7 {
			list = append(list, rejectedRow(i+2, fmt.Sprintf("bad-%05d", i)))
			continue
		}
		list = append(list, acceptedRow(i+2, fmt.Sprintf("org-%05d", i), "公司", onboard.ServiceAutoSign))
	}
	refused := &rows{list: list, err: errors.New("corrupt at the end")}
	if _, err := testStore.Import(context.Background(), params(app), refused, nil); err == nil {
		t.Fatal("want the refusal")
	}
	if c := count(t, `SELECT count(*) FROM organizations WHERE app_id = $1`, app); c != 0 {
		t.Fatalf("a file refused in its last chunk stored %d organizations", c)
	}

	res := mustImport(t, params(app), source(list...))
	rejected := (n + 992) / 1000
	if res.Rows != n || res.Rejected != rejected || res.Accepted != n-rejected || res.Enqueued != n-rejected || len(res.Rejections) != rejected {
		t.Fatalf("result: rows %d accepted %d rejected %d enqueued %d; want %d rows, %d rejected",
			res.Rows, res.Accepted, res.Rejected, res.Enqueued, n, rejected)
	}
	if c := count(t, `SELECT count(*) FROM work WHERE app_id = $1 AND kind = 'sync'`, app); c != n-rejected {
		t.Errorf("%d organizations due for sync, want %d", c, n-rejected)
	}
	if c := count(t, `SELECT count(*) FROM batch_rows WHERE batch_id = $1`, res.BatchID); c != n {
		t.Errorf("%d batch rows, want %d", c, n)
	}
	if c := count(t, `SELECT count(*) FROM organization_services s JOIN organizations o ON o.id = s.org_id WHERE o.app_id = $1`, app); c != n-rejected {
		t.Errorf("%d services, want %d", c, n-rejected)
	}
	again := mustImport(t, params(app), source(list...))
	if again.Enqueued != 0 || again.Unchanged != n-rejected {
		t.Errorf("same file again: enqueued %d, unchanged %d", again.Enqueued, again.Unchanged)
	}
}

// The reader holds back when images it read ahead exceed the budget, and
// every row still arrives.
func TestFeedImageBudget(t *testing.T) {
	t.Parallel()
	var list []*onboard.Row
	for i := range 50 {
		r := acceptedRow(i+2, fmt.Sprintf("org-%d", i), "公司")
		r.Data.License = onboard.NewImage("image/png", []byte(fmt.Sprintf("image-%04d", i))) // 10 bytes
		list = append(list, r)
	}
	f := startFeed(source(list...), 100, 25)
	defer f.stop()
	got := 0
	for {
		it := <-f.items
		if it.err == io.EOF {
			break
		}
		if it.err != nil {
			t.Fatal(it.err)
		}
		f.mu.Lock()
		held := f.held
		f.mu.Unlock()
		if held > 30 {
			t.Fatalf("%d image bytes held, budget 25 (+ one row)", held)
		}
		got++
		f.release(it.size)
	}
	if got != len(list) {
		t.Fatalf("%d rows through the feed, want %d", got, len(list))
	}
}

func TestImportNeedsAppID(t *testing.T) {
	t.Parallel()
	if _, err := testStore.Import(context.Background(), params(""), source(acceptedRow(2, "org-a", "甲")), nil); err == nil {
		t.Fatal("want an error without an application id")
	}
}

// Two files for one application imported at the same time, overlapping in
// both directions: both commit, and every organization ends with the data
// of one of them.
func TestConcurrentImportsOfOneApplication(t *testing.T) {
	t.Parallel()
	app := newAppID(t)
	const n = 200
	file := func(suffix string, reverse bool) *rows {
		var list []*onboard.Row
		for i := range n {
			j := i
			if reverse {
				j = n - 1 - i
			}
			list = append(list, acceptedRow(i+2, fmt.Sprintf("org-%03d", j), "公司"+suffix))
		}
		return source(list...)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, suffix := range []string{"一", "二"} {
		wg.Go(func() {
			_, errs[i] = testStore.Import(context.Background(), params(app), file(suffix, i == 1), nil)
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("concurrent import: %v", err)
		}
	}
	if c := count(t, `SELECT count(*) FROM organizations WHERE app_id = $1`, app); c != n {
		t.Fatalf("%d organizations, want %d", c, n)
	}
	if c := count(t, `SELECT count(*) FROM organizations WHERE app_id = $1 AND data_version NOT IN (1, 2)`, app); c != 0 {
		t.Errorf("%d organizations with a data version other than 1 or 2", c)
	}
}

// syncWork lists the sync work recorded for app, by organization.
func syncWork(t *testing.T, app string) []OrgVersion {
	t.Helper()
	ws, err := testStore.DueWork(context.Background(), app, 100000)
	if err != nil {
		t.Fatal(err)
	}
	var out []OrgVersion
	for _, w := range ws {
		if w.Kind == onboard.WorkSync {
			out = append(out, OrgVersion{OrgID: w.OrgID, DataVersion: w.DataVersion})
		}
	}
	slices.SortFunc(out, func(a, b OrgVersion) int { return int(a.OrgID - b.OrgID) })
	return out
}

// TestImportRecordsWorkInItsTransaction: the sync of every new or changed
// organization is due work the moment the import commits; a re-import
// replaces the work of a changed organization (a new attempt, so a task of
// the old data finds nothing to claim) and leaves the rest alone; a dry run
// records none.
func TestImportRecordsWorkInItsTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	app := newAppID(t)
	p := params(app)
	p.DryRun = true
	mustImport(t, p, source(acceptedRow(2, "org-a", "甲")))
	if c := count(t, `SELECT count(*) FROM work WHERE app_id = $1`, app); c != 0 {
		t.Fatalf("a dry run recorded %d work", c)
	}
	mustImport(t, params(app), source(acceptedRow(2, "org-a", "甲"), acceptedRow(3, "org-b", "乙")))
	before, err := testStore.DueWork(ctx, app, 10)
	if err != nil || len(before) != 2 {
		t.Fatalf("work after the import: %+v, %v", before, err)
	}
	// org-b's sync is in flight when new data for it arrives.
	b := org(t, app, "org-b")
	var bw onboard.Work
	for _, w := range before {
		if w.OrgID == b.ID {
			bw = w
		}
	}
	if _, err := testStore.ClaimWork(ctx, bw.ID, bw.Attempt, time.Now(), time.Minute); err != nil {
		t.Fatal(err)
	}
	mustImport(t, params(app), source(acceptedRow(2, "org-a", "甲"), acceptedRow(3, "org-b", "乙（新）")))
	after, _ := testStore.DueWork(ctx, app, 10)
	if len(after) != 2 {
		t.Fatalf("work after the re-import: %+v", after)
	}
	for _, w := range after {
		switch {
		case w.OrgID != b.ID && (w.ID != before[0].ID && w.ID != before[1].ID):
			t.Errorf("unchanged org-a's work was replaced: %+v", w)
		case w.OrgID == b.ID && w.DataVersion != 2:
			t.Errorf("org-b's work is for data version %d, want 2", w.DataVersion)
		}
	}
	// The task of the old data cannot finish the new work.
	if _, err := testStore.ClaimWork(ctx, bw.ID, bw.Attempt, time.Now(), time.Minute); !errors.Is(err, ErrStale) {
		t.Errorf("claiming the replaced work: %v, want ErrStale", err)
	}
}
