package onboard

// OrgVersion names one data version of an organization: what an org:sync task
// is about, and what the store records once that task is in the queue.
type OrgVersion struct {
	OrgID       int64 `json:"org_id"`
	DataVersion int   `json:"data_version"`
}
