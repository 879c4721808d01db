package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/locale"
	"github.com/ess-onboard/onboard/repository"
)

func init() {
	register(command{
		name:    "status",
		summary: "show how many organizations are in each onboarding state",
		run:     runStatus,
	})
}

// statusReport is the --json shape.
type statusReport struct {
	BatchID *int64         `json:"batch_id"`
	Total   int            `json:"total"`
	States  map[string]int `json:"states"`
	Done    bool           `json:"done"`
	// Applications says, per application, when its work was last handed
	// to the queue and its last sweep ran, with their errors.
	Applications []appStatus `json:"applications"`
}

// appStatus is one application's activity in the --json shape.
type appStatus struct {
	AppID          string     `json:"app_id"`
	Paused         bool       `json:"paused"`
	Due            int        `json:"due"`
	InFlight       int        `json:"in_flight"`
	LastDispatchAt *time.Time `json:"last_dispatch_at"`
	Dispatched     int        `json:"dispatched"`
	DispatchError  string     `json:"dispatch_error,omitempty"`
	LastSweepAt    *time.Time `json:"last_sweep_at"`
	SweepError     string     `json:"sweep_error,omitempty"`
}

func appStatuses(acts []onboard.AppActivity) []appStatus {
	out := make([]appStatus, 0, len(acts))
	for _, a := range acts {
		st := appStatus{AppID: a.AppID, Paused: a.Paused, Due: a.Due, InFlight: a.InFlight,
			Dispatched: a.Dispatch.Tasks, DispatchError: a.Dispatch.Error}
		if !a.Dispatch.At.IsZero() {
			at := a.Dispatch.At
			st.LastDispatchAt = &at
		}
		if a.LastSweep != nil {
			at := a.LastSweep.StartedAt
			st.LastSweepAt = &at
			st.SweepError = a.LastSweep.Error
		}
		out = append(out, st)
	}
	return out
}

func runStatus(ctx context.Context, env *Env, args []string) error {
	fs := newFlagSet(env, "status", "status [--batch ID] [--watch] [--json]", "")
	batch := fs.Int64("batch", 0, "batch id (0: all batches)")
	watch := fs.Bool("watch", false, "refresh until the batch is done")
	asJSON := fs.Bool("json", false, "print JSON")
	interval := fs.Duration("interval", 2*time.Second, "refresh interval of --watch")
	if err := parseFlags(env, fs, args); err != nil {
		return err
	}
	pr := env.printer()
	if fs.NArg() > 0 {
		return unexpectedArg(pr, "status", fs.Arg(0))
	}
	if *batch < 0 || *interval <= 0 {
		return usageT(pr, "cli.status.bad_flags")
	}
	cfg, err := loadConfig(env.Getenv)
	if err != nil {
		return err
	}
	p, err := openParts(ctx, cfg, shared{}, nil, needDB)
	if err != nil {
		return err
	}
	defer p.Close()
	store := p.store
	if *batch > 0 {
		if _, err := store.Batch(ctx, *batch); err != nil {
			if errors.Is(err, repository.ErrNotFound) {
				return errorT(pr, nil, "cli.status.not_found", "Batch", *batch)
			}
			return err
		}
	}
	return watchStatus(ctx, env, store, *batch, *watch, *asJSON, *interval)
}

// statusSource is what the status report reads (*repository.Store).
type statusSource interface {
	// StateCounts counts a batch's organizations (all batches' for 0) by state.
	StateCounts(ctx context.Context, batchID int64) (map[string]int, error)
	// BlockedReasons says why batches (one, or all for 0) are blocked, by batch.
	BlockedReasons(ctx context.Context, batchID int64) (map[int64]string, error)
	Batch(ctx context.Context, id int64) (*repository.Batch, error)
	// Activity is the work due, the last dispatch and sweep of an
	// application (every one for "").
	Activity(ctx context.Context, appID string, now time.Time) ([]onboard.AppActivity, error)
}

// watchStatus prints the status once, or with watch until the batch is done
// or ctx ends.
func watchStatus(ctx context.Context, env *Env, store statusSource, batch int64, watch, asJSON bool, interval time.Duration) error {
	bars := env.IsTerminal && !asJSON
	lines := 0
	last := ""
	for {
		r, blocked, err := readStatus(ctx, store, batch)
		if err != nil {
			if ctx.Err() != nil && watch {
				return nil
			}
			return err
		}
		key := fmt.Sprint(r.Total, r.States, blocked)
		switch {
		case watch && !bars && key == last:
			// Without a terminal, print only what changed.
		case asJSON:
			b, _ := json.Marshal(r)
			fmt.Fprintf(env.Stdout, "%s\n", b)
		case bars:
			if lines > 0 {
				fmt.Fprintf(env.Stdout, "\x1b[%dA\x1b[J", lines) // redraw in place
			}
			lines = printStatus(env.Stdout, env.printer(), r, blocked, true)
		default:
			printStatus(env.Stdout, env.printer(), r, blocked, false)
		}
		last = key
		if !watch || (r.Done && r.Total > 0) || (r.Done && batch > 0) {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}

func readStatus(ctx context.Context, store statusSource, batch int64) (statusReport, map[int64]string, error) {
	counts, err := store.StateCounts(ctx, batch)
	if err != nil {
		return statusReport{}, nil, err
	}
	blocked, err := store.BlockedReasons(ctx, batch)
	if err != nil {
		return statusReport{}, nil, err
	}
	app := ""
	if batch > 0 {
		b, err := store.Batch(ctx, batch)
		if err != nil {
			return statusReport{}, nil, err
		}
		app = b.AppID
	}
	acts, err := store.Activity(ctx, app, time.Now())
	if err != nil {
		return statusReport{}, nil, err
	}
	r := statusReport{States: counts, Done: true, Applications: appStatuses(acts)}
	if batch > 0 {
		r.BatchID = &batch
	}
	for s, n := range counts {
		r.Total += n
		if n > 0 && !onboard.IsFinal(s) {
			r.Done = false
		}
	}
	return r, blocked, nil
}

// stateOrder is the order states are printed in.
var stateOrder = []string{onboard.StateQueued, onboard.StateAwaitingAuth, onboard.StateOpeningServices,
	onboard.StateAwaitingAdmin, onboard.StateDone, onboard.StateFailed, onboard.StateAuthRejected, onboard.StateTimedOut}

// printStatus writes the report in the language of p and returns the
// number of lines written.
func printStatus(w io.Writer, p *locale.Printer, r statusReport, blocked map[int64]string, bars bool) int {
	var b strings.Builder
	what := p.T("cli.status.all_batches")
	if r.BatchID != nil {
		what = p.T("cli.status.batch", "Batch", *r.BatchID)
	}
	final := 0
	for s, n := range r.States {
		if onboard.IsFinal(s) {
			final += n
		}
	}
	state := p.T("cli.status.in_progress")
	if r.Done {
		state = p.T("cli.status.done")
	}
	fmt.Fprintln(&b, p.N("cli.status.summary", r.Total, "What", what, "Final", p.Int(final), "State", state))
	if bars {
		fmt.Fprintf(&b, "  %s %3.0f%%\n", bar(final, r.Total, 40), pct(final, r.Total))
	}
	states := append([]string(nil), stateOrder...)
	var extra []string
	for s := range r.States {
		if !contains(states, s) {
			extra = append(extra, s)
		}
	}
	sort.Strings(extra)
	for _, s := range append(states, extra...) {
		n := r.States[s]
		if n == 0 && !bars {
			continue
		}
		fmt.Fprintf(&b, "  %s %6s", padRight(stateName(p, s), 17), p.Int(n))
		if bars {
			fmt.Fprintf(&b, " %s", bar(n, r.Total, 30))
		}
		b.WriteString("\n")
	}
	printActivity(&b, p, blocked, r.Applications)
	s := b.String()
	fmt.Fprint(w, s)
	return strings.Count(s, "\n")
}

// stateName is a state as the reader reads it; a state this binary does
// not know shows as stored.
func stateName(p *locale.Printer, state string) string {
	if id := "cli.status.state." + state; p.Has(id) {
		return p.T(id)
	}
	return state
}

// padRight pads s with spaces to width terminal columns, counting a Han
// character or full-width sign as two.
func padRight(s string, width int) string {
	n := 0
	for _, r := range s {
		n++
		if unicode.Is(unicode.Han, r) || (r >= 0xFF00 && r <= 0xFFEF) || (r >= 0x3000 && r <= 0x303F) {
			n++
		}
	}
	if n >= width {
		return s
	}
	return s + strings.Repeat(" ", width-n)
}

// printActivity writes the blocked batches, then each application's work
// due, last dispatch and last sweep.
func printActivity(b *strings.Builder, p *locale.Printer, blocked map[int64]string, apps []appStatus) {
	ids := make([]int64, 0, len(blocked))
	for id := range blocked {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		fmt.Fprintln(b, p.T("cli.status.blocked", "Batch", id, "Reason", blocked[id]))
	}
	for _, a := range apps {
		parts := []string{p.T("cli.status.app", "App", a.AppID, "Due", p.Int(a.Due), "InFlight", p.Int(a.InFlight))}
		parts = append(parts, p.T("cli.status.last_dispatch", "When", ago(p, a.LastDispatchAt))+withError(p, a.DispatchError))
		parts = append(parts, p.T("cli.status.last_sweep", "When", ago(p, a.LastSweepAt))+withError(p, a.SweepError))
		if a.Paused {
			parts = append(parts, p.T("cli.status.paused"))
		}
		b.WriteString(strings.Join(parts, p.T("cli.status.sep")) + "\n")
	}
}

// withError is " (error: err)" in the language of p, "" for no error.
func withError(p *locale.Printer, err string) string {
	if err == "" {
		return ""
	}
	return p.T("cli.status.error", "Err", err)
}

func bar(n, total, width int) string {
	if total <= 0 {
		return "[" + strings.Repeat(" ", width) + "]"
	}
	full := n * width / total
	return "[" + strings.Repeat("#", full) + strings.Repeat(".", width-full) + "]"
}

func pct(n, total int) float64 {
	if total == 0 {
		return 0
	}
	return 100 * float64(n) / float64(total)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// ago says how long ago t was in the language of p, "never" for nil.
func ago(p *locale.Printer, t *time.Time) string {
	if t == nil {
		return p.T("cli.status.never")
	}
	return p.T("cli.status.ago", "Duration", duration(p, time.Since(*t).Round(time.Second)))
}

// duration is d as Go writes it (1h2m3s), with Chinese units in Chinese.
func duration(p *locale.Printer, d time.Duration) string {
	s := d.String()
	if p.Lang() != locale.Chinese {
		return s
	}
	return strings.NewReplacer("h", "小时", "ms", "毫秒", "m", "分", "s", "秒").Replace(s)
}
