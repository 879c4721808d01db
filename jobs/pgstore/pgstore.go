// Package pgstore adapts the Postgres repository to the workers' Store
// interface. The repository's onboarding types mirror the workers' field for
// field, so each method is a call and a type conversion.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ess-onboard/onboard/jobs"
	"github.com/ess-onboard/onboard/repository"
)

// Store is a jobs.Store over a *repository.Store.
type Store struct{ R *repository.Store }

var _ jobs.Store = Store{}

// New returns the workers' view of r.
func New(r *repository.Store) Store { return Store{R: r} }

func notFound(err error) error {
	if errors.Is(err, repository.ErrNotFound) {
		return fmt.Errorf("%w: %w", jobs.ErrNotFound, err)
	}
	return err
}

// OnboardingOrg implements jobs.Store.
func (s Store) OnboardingOrg(ctx context.Context, id int64, license bool) (*jobs.Org, error) {
	o, err := s.R.OnboardingOrg(ctx, id, license)
	if err != nil {
		return nil, notFound(err)
	}
	out := jobs.Org{ID: o.ID, AppID: o.AppID, DataVersion: o.DataVersion, State: o.State, Data: o.Data,
		SyncedVersion: o.SyncedVersion, AuthStatus: o.AuthStatus, AuthDeadline: o.AuthDeadline,
		AdminOpenID: o.AdminOpenID, LegalOpenID: o.LegalOpenID, LoginURL: o.LoginURL,
		LoginExpires: o.LoginExpires, LoginOperator: o.LoginOperator}
	for _, sv := range o.Services {
		out.Services = append(out.Services, jobs.ServiceState(sv))
	}
	return &out, nil
}

// Application implements jobs.Store.
func (s Store) Application(ctx context.Context, appID string) (*jobs.Application, error) {
	a, err := s.R.Application(ctx, appID)
	if err != nil {
		return nil, err
	}
	out := jobs.Application(*a)
	return &out, nil
}

// RecordSynced implements jobs.Store.
func (s Store) RecordSynced(ctx context.Context, id int64, version int, requestID string) error {
	return s.R.RecordSynced(ctx, id, version, requestID)
}

// RecordLoginURL implements jobs.Store.
func (s Store) RecordLoginURL(ctx context.Context, id int64, version int, l jobs.LoginURL) error {
	return s.R.RecordLoginURL(ctx, id, version, repository.LoginURL(l))
}

// RecordOrgError implements jobs.Store.
func (s Store) RecordOrgError(ctx context.Context, id int64, version int, step string, e jobs.StepError, fail bool) error {
	return s.R.RecordOrgError(ctx, id, version, step, repository.StepError(e), fail)
}

func ticket(t *repository.PollTicket) *jobs.PollTicket {
	if t == nil {
		return nil
	}
	out := jobs.PollTicket(*t)
	return &out
}

// MarkAwaitingAuth implements jobs.Store.
func (s Store) MarkAwaitingAuth(ctx context.Context, id int64, version int, deadline time.Time, pollDelay time.Duration) (*jobs.PollTicket, bool, error) {
	t, changed, err := s.R.MarkAwaitingAuth(ctx, id, version, deadline, pollDelay)
	return ticket(t), changed, err
}

// EnsureAuthPoll implements jobs.Store.
func (s Store) EnsureAuthPoll(ctx context.Context, appID string, pollDelay, overdue time.Duration) (*jobs.PollTicket, error) {
	t, err := s.R.EnsureAuthPoll(ctx, appID, pollDelay, overdue)
	return ticket(t), err
}

// AwaitingOrgs implements jobs.Store.
func (s Store) AwaitingOrgs(ctx context.Context, appID string) ([]jobs.AwaitingOrg, error) {
	in, err := s.R.AwaitingOrgs(ctx, appID)
	out := make([]jobs.AwaitingOrg, len(in))
	for i, a := range in {
		out[i] = jobs.AwaitingOrg(a)
	}
	return out, err
}

// CountOrgs implements jobs.Store.
func (s Store) CountOrgs(ctx context.Context, appID string) (int, error) {
	return s.R.CountOrgs(ctx, appID)
}

// ApplyAuthStatus implements jobs.Store.
func (s Store) ApplyAuthStatus(ctx context.Context, id int64, version int, ob jobs.AuthObservation, now time.Time) (jobs.AuthOutcome, error) {
	o, err := s.R.ApplyAuthStatus(ctx, id, version, repository.AuthObservation(ob), now)
	return jobs.AuthOutcome(o), err
}

// FinishAuthPoll implements jobs.Store.
func (s Store) FinishAuthPoll(ctx context.Context, appID string, r jobs.PollRound, minDelay, maxDelay time.Duration, stop bool) (*jobs.PollTicket, error) {
	t, err := s.R.FinishAuthPoll(ctx, appID, repository.PollRound(r), minDelay, maxDelay, stop)
	return ticket(t), err
}

// RecordService implements jobs.Store.
func (s Store) RecordService(ctx context.Context, id int64, version int, service string, r jobs.ServiceResult) (string, error) {
	var e *repository.StepError
	if r.Err != nil {
		v := repository.StepError(*r.Err)
		e = &v
	}
	return s.R.RecordService(ctx, id, version, service, repository.ServiceResult{State: r.State, URL: r.URL, ExpiresAt: r.ExpiresAt, Err: e})
}

// PauseApplication implements jobs.Store.
func (s Store) PauseApplication(ctx context.Context, appID, action string, e jobs.StepError) (bool, error) {
	return s.R.PauseApplication(ctx, appID, action, repository.StepError(e))
}

// ResumeApplication implements jobs.Store.
func (s Store) ResumeApplication(ctx context.Context, appID string) (int, []jobs.PendingOrg, error) {
	gen, in, err := s.R.ResumeApplication(ctx, appID)
	out := make([]jobs.PendingOrg, len(in))
	for i, p := range in {
		out[i] = jobs.PendingOrg(p)
	}
	return gen, out, err
}
