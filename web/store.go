package web

import (
	"context"
	"time"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/repository"
)

// Store is what the dashboard reads from Postgres; *repository.Store
// satisfies it.
type Store interface {
	// BatchOverviews lists the newest batches first, with their organizations
	// counted by state.
	BatchOverviews(ctx context.Context, limit int) ([]repository.BatchOverview, error)
	// BatchOverview is one batch, or an error wrapping repository.ErrNotFound.
	BatchOverview(ctx context.Context, id int64) (*repository.BatchOverview, error)
	// BatchRejections lists up to limit rejected rows of a batch.
	BatchRejections(ctx context.Context, id int64, limit int) ([]repository.RejectedRow, error)
	// BatchWarnings lists up to limit rows of a batch that have warnings.
	BatchWarnings(ctx context.Context, id int64, limit int) ([]repository.WarnedRow, error)
	// BatchFailures lists up to limit failed organizations of a batch.
	BatchFailures(ctx context.Context, id int64, limit int) ([]repository.FailedOrg, error)
	// BatchLinks lists up to limit service links issued to a batch's organizations.
	BatchLinks(ctx context.Context, id int64, limit int) ([]repository.IssuedLink, error)
	// ReconcileRuns lists the newest reconciliation runs of an application.
	ReconcileRuns(ctx context.Context, appID string, limit int) ([]onboard.ReconcileRun, error)
	// ReconcileDrift lists the drift one reconciliation run recorded.
	ReconcileDrift(ctx context.Context, runID int64) ([]onboard.Drift, error)
	// AppIDs lists the applications files were imported for.
	AppIDs(ctx context.Context) ([]string, error)
	// Activity says when an application's work was last handed to the
	// queue and its last sweep ran, with their errors.
	Activity(ctx context.Context, appID string, now time.Time) ([]onboard.AppActivity, error)
	// RecentCallbacks lists an application's latest platform callbacks.
	RecentCallbacks(ctx context.Context, appID string, limit int) ([]onboard.ReceivedCallback, error)
	// OrgStateCounts counts organizations per application and state.
	OrgStateCounts(ctx context.Context) ([]repository.StateCount, error)
}

var _ Store = (*repository.Store)(nil)
