package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/ess-onboard/onboard/importer"
)

// authThrottle counts failed authentications per address in fixed windows:
// an address that has failed max times in a window is refused until the
// window ends. It forgets addresses whose window is over, and holds at
// most maxThrottled of them.
type authThrottle struct {
	mu     sync.Mutex
	max    int
	window time.Duration
	now    func() time.Time
	seen   map[string]*failures
}

type failures struct {
	start time.Time
	n     int
}

// maxThrottled bounds the addresses remembered.
const maxThrottled = 10_000

func newAuthThrottle(max int, window time.Duration, now func() time.Time) *authThrottle {
	return &authThrottle{max: max, window: window, now: now, seen: map[string]*failures{}}
}

// blocked returns how long an address is still refused, or 0.
func (t *authThrottle) blocked(ip string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.seen[ip]
	if f == nil || f.n < t.max {
		return 0
	}
	left := f.start.Add(t.window).Sub(t.now())
	if left <= 0 {
		delete(t.seen, ip)
		return 0
	}
	return left
}

// fail counts a failed authentication of an address.
func (t *authThrottle) fail(ip string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	f := t.seen[ip]
	if f == nil || now.Sub(f.start) >= t.window {
		if len(t.seen) >= maxThrottled {
			for k, v := range t.seen {
				if now.Sub(v.start) >= t.window {
					delete(t.seen, k)
				}
			}
			if len(t.seen) >= maxThrottled {
				// Under a flood from many addresses, start over rather
				// than grow.
				t.seen = map[string]*failures{}
			}
		}
		f = &failures{start: now}
		t.seen[ip] = f
	}
	f.n++
}

// monitoringGuard refuses, while asynqmon is read-only, every request that
// could change something, before asynqmon sees it (asynqmon refuses them
// too; this does not depend on it).
func (s *Server) monitoringGuard(next http.Handler) http.Handler {
	if s.opts.MonitoringWrite {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			s.plainError(w, r, http.StatusMethodNotAllowed, "web.err.monitoring_read_only")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// MaskLogs wraps a log handler so that no ID card number or credit code
// reaches it: the message and every attribute (errors and values printed
// as text included) pass through importer.MaskIDs.
func MaskLogs(h slog.Handler) slog.Handler {
	if m, ok := h.(maskHandler); ok {
		return m
	}
	return maskHandler{h}
}

type maskHandler struct{ h slog.Handler }

func (m maskHandler) Enabled(ctx context.Context, l slog.Level) bool { return m.h.Enabled(ctx, l) }

func (m maskHandler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, importer.MaskIDs(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(maskAttr(a))
		return true
	})
	return m.h.Handle(ctx, out)
}

func (m maskHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	masked := make([]slog.Attr, len(attrs))
	for i, a := range attrs {
		masked[i] = maskAttr(a)
	}
	return maskHandler{m.h.WithAttrs(masked)}
}

func (m maskHandler) WithGroup(name string) slog.Handler { return maskHandler{m.h.WithGroup(name)} }

func maskAttr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, importer.MaskIDs(v.String()))
	case slog.KindGroup:
		g := v.Group()
		out := make([]any, len(g))
		for i, x := range g {
			out[i] = maskAttr(x)
		}
		return slog.Group(a.Key, out...)
	case slog.KindAny:
		return slog.String(a.Key, importer.MaskIDs(fmt.Sprint(v.Any())))
	}
	return slog.Attr{Key: a.Key, Value: v}
}
