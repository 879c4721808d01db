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

// ResyncTaskID is the TaskID of an org:sync task enqueued again by resume
// generation gen: distinct from the first one, which may still be retained.
func ResyncTaskID(orgID int64, dataVersion, gen int) string {
	return fmt.Sprintf("%s:g%d", SyncTaskID(orgID, dataVersion), gen)
}

// NewResyncTask builds the org:sync task that resume generation gen
// enqueues for one data version of an organization.
func NewResyncTask(orgID int64, dataVersion, gen int) *asynq.Task {
	payload, _ := json.Marshal(OrgPayload{OrgID: orgID, DataVersion: dataVersion})
	return asynq.NewTask(TypeOrgSync, payload,
		asynq.TaskID(ResyncTaskID(orgID, dataVersion, gen)),
		asynq.Queue(QueueSync),
		asynq.MaxRetry(25),
		asynq.Retention(taskRetention),
	)
}

// AuthPollPayload is the payload of org:await_auth: one polling round of
// one application.
type AuthPollPayload struct {
	AppID string `json:"app_id"`
	Round int    `json:"round"`
}

// AuthPollTaskID is the TaskID of polling round round of appID.
func AuthPollTaskID(appID string, round int) string {
	return fmt.Sprintf("org:await_auth:%s:r%d", appID, round)
}

// NewAuthPollTask builds polling round round of appID. It has plenty of
// retries: a round that cannot reach the platform is tried again, and a
// round put back while it waits for the rate limiter uses none.
func NewAuthPollTask(appID string, round int) *asynq.Task {
	payload, _ := json.Marshal(AuthPollPayload{AppID: appID, Round: round})
	return asynq.NewTask(TypeOrgAwaitAuth, payload,
		asynq.TaskID(AuthPollTaskID(appID, round)),
		asynq.Queue(QueueAuth),
		asynq.MaxRetry(25),
		asynq.Retention(taskRetention),
	)
}

// OpenServiceTaskID is the TaskID of the org:open_service task of one
// service of one data version of an organization; gen > 0 for the tasks a
// resume enqueues again.
func OpenServiceTaskID(orgID int64, dataVersion int, service string, gen int) string {
	id := fmt.Sprintf("org:open_service:%d:v%d:%s", orgID, dataVersion, service)
	if gen > 0 {
		id += fmt.Sprintf(":g%d", gen)
	}
	return id
}

// NewOpenServiceTask builds the org:open_service task of one service.
func NewOpenServiceTask(orgID int64, dataVersion int, service string, gen int) *asynq.Task {
	payload, _ := json.Marshal(OrgPayload{OrgID: orgID, DataVersion: dataVersion, Service: service})
	return asynq.NewTask(TypeOrgOpenService, payload,
		asynq.TaskID(OpenServiceTaskID(orgID, dataVersion, service, gen)),
		asynq.Queue(QueueService),
		asynq.MaxRetry(25),
		asynq.Retention(taskRetention),
	)
}
