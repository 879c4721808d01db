package jobs

import (
	"context"
	"fmt"
	"net/http"
)

type scopeKey struct{}

// callScope travels in a call's context from the handler to the transport:
// the limiter scope to wait in, and the limiter's refusal when the wait
// would have been too long.
type callScope struct {
	scope   string
	refused *WaitError
	broken  error // the limiter could not reach Redis
}

func withScope(ctx context.Context, scope string) context.Context {
	return context.WithValue(ctx, scopeKey{}, &callScope{scope: scope})
}

// limiterRefusal returns the *WaitError the transport met during a call made
// with ctx, or nil.
func limiterRefusal(ctx context.Context) *WaitError {
	if cs, ok := ctx.Value(scopeKey{}).(*callScope); ok {
		return cs.refused
	}
	return nil
}

// limiterBroken returns the error the limiter met (Redis unreachable)
// during a call made with ctx, or nil.
func limiterBroken(ctx context.Context) error {
	if cs, ok := ctx.Value(scopeKey{}).(*callScope); ok {
		return cs.broken
	}
	return nil
}

// LimitedTransport is an http.RoundTripper that waits for the shared rate
// limiter before every essbasic request (the action is the X-TC-Action
// header; the scope comes from the request's context, defaultScope when the
// caller set none). Put it under the ess client (ess.Config.Transport) and
// every call waits its turn, each page of a listing included.
type LimitedTransport struct {
	Base         http.RoundTripper // nil: http.DefaultTransport
	Limiter      *Limiter
	DefaultScope string
}

// RoundTrip waits for the limiter, then sends req. When the wait would be
// longer than the limiter's MaxWait the request is not sent: the error is a
// *WaitError, which the workers turn into a retry that is not a failure.
func (t *LimitedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	action := req.Header.Get("X-TC-Action")
	scope := t.DefaultScope
	cs, _ := req.Context().Value(scopeKey{}).(*callScope)
	if cs != nil && cs.scope != "" {
		scope = cs.scope
	}
	if action != "" && t.Limiter != nil {
		if err := t.Limiter.Wait(req.Context(), scope, action); err != nil {
			if we, ok := err.(*WaitError); ok && cs != nil {
				cs.refused = we
			} else if cs != nil && req.Context().Err() == nil {
				cs.broken = err
			}
			if req.Body != nil {
				req.Body.Close()
			}
			return nil, fmt.Errorf("rate limiter: %w", err)
		}
	}
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(req)
}
