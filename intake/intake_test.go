package intake_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ess-onboard/onboard/importer"
	"github.com/ess-onboard/onboard/intake"
	"github.com/ess-onboard/onboard/internal/testenv"
	"github.com/ess-onboard/onboard/repository"
)

func newStore(t *testing.T) *repository.Store {
	t.Helper()
	ctx := context.Background()
	s, err := repository.Open(ctx, testenv.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

func writeSample(t *testing.T, name string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := importer.WriteSample(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// The sample is stored as one batch under the name asked for, its accepted
// companies due for sync, and the progress reported in order.
func TestImportStoresTheBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := newStore(t)
	path := writeSample(t, "upload")
	var events []string
	read := 0
	res, err := intake.New(store, intake.Limits{}).Import(ctx, intake.Request{Path: path, FileName: "orgs.xlsx", AppID: "app-intake",
		Progress: intake.Progress{
			Opened: func(n int) { events = append(events, "opened") },
			Read:   func(n int) { read = n },
			Stored: func() { events = append(events, "stored") },
		}})
	if err != nil {
		t.Fatal(err)
	}
	if res.DryRun || res.BatchID == 0 || res.Accepted != importer.SampleAccepted || res.Rejected != importer.SampleRejected ||
		res.Enqueued != importer.SampleAccepted || len(res.Rejections) == 0 {
		t.Errorf("result %+v", res)
	}
	if strings.Join(events, ",") != "opened,stored" || read == 0 {
		t.Errorf("progress: %v, %d rows read", events, read)
	}
	b, err := store.Batch(ctx, res.BatchID)
	if err != nil {
		t.Fatal(err)
	}
	if b.FileName != "orgs.xlsx" || b.AppID != "app-intake" || b.Rows != importer.SampleAccepted+importer.SampleRejected {
		t.Errorf("stored batch %+v", b)
	}
	due, err := store.DueWork(ctx, "app-intake", 1000)
	if err != nil || len(due) != importer.SampleAccepted {
		t.Errorf("%d steps due (%v), want %d", len(due), err, importer.SampleAccepted)
	}
}

// A dry run counts everything and stores nothing.
func TestImportDryRunStoresNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := newStore(t)
	res, err := intake.New(store, intake.Limits{}).Import(ctx, intake.Request{Path: writeSample(t, "orgs.xlsx"), AppID: "app-dry", DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if !res.DryRun || res.BatchID != 0 || res.Accepted != importer.SampleAccepted {
		t.Errorf("dry run result %+v", res)
	}
	if bs, err := store.Batches(ctx, 0); err != nil || len(bs) != 0 {
		t.Errorf("dry run stored %d batches (%v)", len(bs), err)
	}
}

// A refused file stores nothing and says why in the words every way in
// shares; a file that cannot be read at all says so too.
func TestImportRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store := newStore(t)
	in := intake.New(store, intake.Limits{MaxRows: 3})
	var stored bool
	_, err := in.Import(ctx, intake.Request{Path: writeSample(t, "big.xlsx"), AppID: "app-refused",
		Progress: intake.Progress{Stored: func() { stored = true }}})
	var re *intake.RefusedError
	var fe *importer.FileError
	if !errors.As(err, &re) || !errors.As(err, &fe) || err.Error() != importer.Refusal("big.xlsx", fe) {
		t.Fatalf("more rows than the limit: %v", err)
	}
	if stored {
		t.Error("a file refused before its rows were read reached the store")
	}
	// The upload form's own size limit replaces the intake's.
	if _, err := in.Import(ctx, intake.Request{Path: writeSample(t, "x"), FileName: "orgs.xlsx", AppID: "a", MaxFileSize: 10}); !errors.As(err, &fe) ||
		!strings.HasPrefix(err.Error(), "orgs.xlsx was refused: ") {
		t.Errorf("larger than the request's limit: %v", err)
	}
	_, err = in.Import(ctx, intake.Request{Path: filepath.Join(t.TempDir(), "missing.xlsx"), AppID: "a"})
	if !errors.As(err, &re) || errors.As(err, &fe) || !strings.HasPrefix(err.Error(), "missing.xlsx refused: ") {
		t.Errorf("missing file: %v", err)
	}
	if bs, err := store.Batches(ctx, 0); err != nil || len(bs) != 0 {
		t.Errorf("refused files stored %d batches (%v)", len(bs), err)
	}
}
