package web

import (
	"context"
	"time"

	"github.com/ess-onboard/onboard"
)

// Store is what the dashboard reads from Postgres.
type Store interface {
	// BatchOverviews lists the newest batches first, with their organizations
	// counted by state.
	BatchOverviews(ctx context.Context, limit int) ([]BatchOverview, error)
	// BatchOverview is one batch; ErrNotFound-like errors are reported by
	// returning found == false.
	BatchOverview(ctx context.Context, id int64) (ov BatchOverview, found bool, err error)
	// BatchRejections lists up to limit rejected rows of a batch.
	BatchRejections(ctx context.Context, id int64, limit int) ([]RejectedRow, error)
	// BatchFailures lists up to limit failed organizations of a batch.
	BatchFailures(ctx context.Context, id int64, limit int) ([]FailedOrg, error)
	// BatchLinks lists up to limit service links issued to a batch's organizations.
	BatchLinks(ctx context.Context, id int64, limit int) ([]IssuedLink, error)
	// ReconcileRuns lists the newest reconciliation runs of an application.
	ReconcileRuns(ctx context.Context, appID string, limit int) ([]ReconcileRun, error)
	// OrgStateCounts counts organizations per application and state.
	OrgStateCounts(ctx context.Context) ([]StateCount, error)
}

// BatchOverview is one imported file and how far its organizations got.
type BatchOverview struct {
	ID            int64
	AppID         string
	FileName      string
	CreatedAt     time.Time
	FinishedAt    *time.Time
	Rows          int
	Accepted      int
	Rejected      int
	Enqueued      int
	Unchanged     int
	BlockedReason string
	Orgs          int            // organizations whose last batch this is
	States        map[string]int // those organizations by onboarding state
}

// Final counts the organizations in a final state.
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

// FailedOrg is an organization that ended failed, with the platform's answer.
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

// IssuedLink is a service link an admin must open.
type IssuedLink struct {
	OrgID     int64
	OpenID    string
	Name      string
	Service   string
	URL       string
	ExpiresAt *time.Time
}

// ReconcileRun is one reconciliation sweep of an application.
type ReconcileRun struct {
	ID         int64
	AppID      string
	StartedAt  time.Time
	FinishedAt *time.Time
	Pages      int
	Changes    int
	Drift      int
	Error      string
}

// StateCount is how many organizations of an application are in one state.
type StateCount struct {
	AppID string
	State string
	Count int
}
