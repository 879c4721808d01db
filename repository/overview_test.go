package repository

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/locale"
)

func TestBatchOverview(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	app := newAppID(t)
	res := mustImport(t, params(app), source(
		acceptedRow(3, "o1", "一号公司", onboard.ServiceAutoSign),
		acceptedRow(4, "o2", "二号公司"),
		rejectedRow(5, "o3"),
		acceptedRow(6, "o4", "四号公司"),
	))
	o1, o2, o4 := org(t, app, "o1"), org(t, app, "o2"), org(t, app, "o4")
	webExec(t, `UPDATE organizations SET state = $2, last_error_code = 'InvalidParameter.Name',
		last_error_message = 'bad name', last_request_id = 'req-1' WHERE id = $1`, o1.ID, onboard.StateFailed)
	webExec(t, `UPDATE organizations SET state = $2 WHERE id = $1`, o2.ID, onboard.StateDone)
	expires := time.Date(2030, 1, 2, 3, 4, 0, 0, time.UTC)
	webExec(t, `UPDATE organizations SET state = $2, login_url = 'https://console.test/activate',
		login_url_expires_at = $3, login_operator_open_id = 'admin-o4' WHERE id = $1`, o4.ID, onboard.StateAwaitingAuth, expires.Add(time.Hour))
	webExec(t, `UPDATE organization_services SET state = $2, operate_url = 'https://example.test/open', url_expires_at = $3
		WHERE org_id = $1`, o1.ID, onboard.ServiceLinked, expires)

	ov, err := testStore.BatchOverview(ctx, res.BatchID)
	if err != nil {
		t.Fatal(err)
	}
	wantStates := map[string]int{onboard.StateFailed: 1, onboard.StateDone: 1, onboard.StateAwaitingAuth: 1}
	if diff := cmp.Diff(wantStates, ov.States); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
	if ov.Orgs != 3 || ov.Final() != 2 || ov.Rows != 4 || ov.Rejected != 1 || ov.AppID != app {
		t.Errorf("overview: orgs %d final %d rows %d rejected %d app %q", ov.Orgs, ov.Final(), ov.Rows, ov.Rejected, ov.AppID)
	}
	if !ov.FinishedAt.IsZero() {
		t.Errorf("batch with a company awaiting authorization finished at %v", ov.FinishedAt)
	}
	finished := time.Now().Add(time.Hour).UTC().Truncate(time.Second) // the last of the three to become final
	webExec(t, `UPDATE organizations SET state = $2, state_changed_at = $3 WHERE id = $1`, o4.ID, onboard.StateDone, finished)
	if ov, err := testStore.BatchOverview(ctx, res.BatchID); err != nil || !ov.FinishedAt.Equal(finished) {
		t.Errorf("batch whose companies are all final: finished at %v (err %v), want %v", ov.FinishedAt, err, finished)
	}
	webExec(t, `UPDATE organizations SET state = $2 WHERE id = $1`, o4.ID, onboard.StateAwaitingAuth)

	list, err := testStore.BatchOverviews(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for i, b := range list {
		if i > 0 && b.ID > list[i-1].ID {
			t.Fatalf("batches not newest first: %d after %d", b.ID, list[i-1].ID)
		}
		if b.ID == res.BatchID {
			found = true
			if diff := cmp.Diff(ov.States, b.States); diff != "" {
				t.Errorf("list states differ from the batch's (-batch +list):\n%s", diff)
			}
		}
	}
	if !found {
		t.Errorf("batch %d not listed", res.BatchID)
	}

	rej, err := testStore.BatchRejections(ctx, res.BatchID, 10)
	if err != nil {
		t.Fatal(err)
	}
	wantRej := []RejectedRow{{Row: 5, OpenID: "o3", Reasons: []onboard.RowError{{Row: 5, Column: "企业名称", Field: onboard.FieldName, Reason: "is empty"}}}}
	if diff := cmp.Diff(wantRej, rej); diff != "" {
		t.Errorf("rejections (-want +got):\n%s", diff)
	}

	fails, err := testStore.BatchFailures(ctx, res.BatchID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(fails) != 1 || fails[0].OpenID != "o1" || fails[0].Code != "InvalidParameter.Name" || fails[0].Message != "bad name" || fails[0].RequestID != "req-1" {
		t.Errorf("failures: %+v", fails)
	}

	links, err := testStore.BatchLinks(ctx, res.BatchID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(links) != 2 || links[0].Service != string(onboard.ServiceAutoSign) || links[0].URL != "https://example.test/open" || !links[0].ExpiresAt.Equal(expires) ||
		links[1].Service != ConsoleLoginLink+" (admin-o4)" || links[1].URL != "https://console.test/activate" || links[1].OpenID != "o4" {
		t.Errorf("links: %+v", links)
	}

	counts, err := testStore.OrgStateCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, c := range counts {
		if c.AppID == app {
			got[c.State] = c.Count
		}
	}
	if diff := cmp.Diff(wantStates, got); diff != "" {
		t.Errorf("state counts (-want +got):\n%s", diff)
	}

	if _, err := testStore.BatchOverview(ctx, -1); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing batch: err = %v, want ErrNotFound", err)
	}
}

// TestBatchWarnings: the rows imported with warnings are listed in row
// order with their codes and parameters, their texts in English, and rows
// without warnings are left out.
func TestBatchWarnings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	app := newAppID(t)
	warned := acceptedRow(4, "w1", "甲")
	warned.Warnings = []onboard.RowWarning{{Row: 4, Field: onboard.FieldName, Code: "name.half_width_brackets",
		Message: "stored text"}}
	hidden := acceptedRow(2, "w0", "乙")
	hidden.Warnings = []onboard.RowWarning{{Row: 2, Field: "hidden row", Code: "row.hidden", Params: map[string]string{"Row": "2"},
		Message: "stored text"}}
	res := mustImport(t, params(app), source(hidden, acceptedRow(3, "plain", "丙"), warned, rejectedRow(5, "bad")))
	got, err := testStore.BatchWarnings(ctx, res.BatchID, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Row != 2 || got[0].OpenID != "w0" || got[1].Row != 4 || got[1].OpenID != "w1" {
		t.Fatalf("warned rows: %+v; want rows 2 and 4", got)
	}
	w := got[0].Warnings
	if len(w) != 1 || w[0].Code != "row.hidden" || w[0].Params["Row"] != "2" || w[0].Row != 2 ||
		w[0].Message == "stored text" || !strings.Contains(w[0].Message, "2") {
		t.Errorf("row 2's warning: %+v; want row.hidden rendered in English from its code", w)
	}
	if zh := locale.New(locale.Chinese).Reason(w[0].Code, w[0].Params, w[0].Message); !strings.Contains(zh, "隐藏") {
		t.Errorf("row 2's warning in Chinese: %q", zh)
	}
	if one, err := testStore.BatchWarnings(ctx, res.BatchID, 1); err != nil || len(one) != 1 || one[0].Row != 2 {
		t.Errorf("with a limit of 1: %+v, %v", one, err)
	}
}
