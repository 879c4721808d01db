// Package jobs holds the asynq task types, their payloads and handlers, the
// retry policy by error class, the shared rate limiter and enqueueing.
package jobs

import "fmt"

// Task types.
const (
	TypeOrgSync        = "org:sync"
	TypeOrgAwaitAuth   = "org:await_auth"
	TypeOrgOpenService = "org:open_service"
	TypeReconcileSweep = "reconcile:sweep"
)

// OrgPayload is the payload of organization tasks. It carries ids only, never
// personal data: asynqmon shows payloads to whoever opens the dashboard.
type OrgPayload struct {
	OrgID       int64  `json:"org_id"`
	DataVersion int    `json:"data_version"`
	Service     string `json:"service,omitempty"` // org:open_service only
}

// SyncTaskID is the deterministic TaskID of the org:sync task for one data
// version of an organization, so enqueueing it twice is harmless.
func SyncTaskID(orgID int64, dataVersion int) string {
	return fmt.Sprintf("org:sync:%d:v%d", orgID, dataVersion)
}
