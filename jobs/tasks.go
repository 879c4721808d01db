// Package jobs holds the asynq task types, their payloads and handlers, the
// retry policy by error class, the shared rate limiter and enqueueing.
package jobs

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
)

// Task types.
const (
	TypeOrgSync        = "org:sync"
	TypeOrgAwaitAuth   = "org:await_auth"
	TypeOrgOpenService = "org:open_service"
	TypeReconcileSweep = "reconcile:sweep"
)

// Queues: one per essbasic action, so a throttled action never takes the
// worker slots of another.
const (
	QueueSync      = "onboard-sync"
	QueueAuth      = "onboard-auth"
	QueueService   = "onboard-service"
	QueueReconcile = "onboard-reconcile"
)

// Queues lists every queue onboard uses.
var Queues = []string{QueueSync, QueueAuth, QueueService, QueueReconcile}

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

// taskRetention keeps finished tasks (and their results) visible in the
// dashboard for a while.
const taskRetention = 24 * time.Hour

// NewSyncTask builds the org:sync task for one data version of an organization.
func NewSyncTask(orgID int64, dataVersion int) *asynq.Task {
	payload, _ := json.Marshal(OrgPayload{OrgID: orgID, DataVersion: dataVersion})
	return asynq.NewTask(TypeOrgSync, payload,
		asynq.TaskID(SyncTaskID(orgID, dataVersion)),
		asynq.Queue(QueueSync),
		asynq.MaxRetry(25),
		asynq.Retention(taskRetention),
	)
}
