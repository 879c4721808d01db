// Package jobs holds the asynq task types, their payloads and handlers, the
// retry policy by error class, the shared rate limiter, the dispatcher that
// moves due work from Postgres into the queue, and the reconciliation sweep.
package jobs

import (
	"encoding/json"
	"fmt"

	"github.com/ess-onboard/onboard"
)

// Task types: one per kind of work, and the sweep.
const (
	TypeOrgSync          = "org:sync"
	TypeOrgLoginURL      = "org:login_url"
	TypeOrgAwaitAuth     = "org:await_auth"
	TypeOrgOpenService   = "org:open_service"
	TypeOrgCheckServices = "org:check_services"
	TypeOrgVerify        = "org:verify"
	TypeReconcileSweep   = "reconcile:sweep"
)

// Queues: one per essbasic action, so a throttled action never takes the
// worker slots of another.
const (
	QueueSync      = "onboard-sync"
	QueueLogin     = "onboard-login"
	QueueAuth      = "onboard-auth"
	QueueService   = "onboard-service"
	QueueReconcile = "onboard-reconcile"
)

// Queues lists every queue onboard uses.
var Queues = []string{QueueSync, QueueLogin, QueueAuth, QueueService, QueueReconcile}

// kindTask is the task type and queue of each kind of work.
var kindTask = map[string]struct{ typ, queue string }{
	onboard.WorkSync:    {TypeOrgSync, QueueSync},
	onboard.WorkLogin:   {TypeOrgLoginURL, QueueLogin},
	onboard.WorkPoll:    {TypeOrgAwaitAuth, QueueAuth},
	onboard.WorkService: {TypeOrgOpenService, QueueService},
	onboard.WorkCheck:   {TypeOrgCheckServices, QueueAuth},
	onboard.WorkVerify:  {TypeOrgVerify, QueueAuth},
}

// WorkPayload is the payload of every work task. It carries ids only, never
// personal data: asynqmon shows payloads to whoever opens the dashboard.
type WorkPayload struct {
	WorkID  int64  `json:"work_id"`
	Attempt int    `json:"attempt"`
	AppID   string `json:"app_id"`
	OrgID   int64  `json:"org_id,omitempty"`
	Service string `json:"service,omitempty"`
}

// WorkTaskID is the TaskID of one dispatch (attempt) of work: enqueueing it
// twice is harmless, and a new attempt never collides with a finished task
// of an earlier one.
func WorkTaskID(w onboard.Work) string {
	return fmt.Sprintf("%s:w%d:a%d", kindTask[w.Kind].typ, w.ID, w.Attempt)
}

func workPayload(w onboard.Work) []byte {
	b, _ := json.Marshal(WorkPayload{WorkID: w.ID, Attempt: w.Attempt, AppID: w.AppID, OrgID: w.OrgID, Service: w.Service})
	return b
}

// ReconcilePayload is the payload of reconcile:sweep. An empty AppID sweeps
// every application.
type ReconcilePayload struct {
	AppID string `json:"app_id,omitempty"`
}
