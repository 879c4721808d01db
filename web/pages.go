package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/importer"
	"github.com/ess-onboard/onboard/intake"
	"github.com/ess-onboard/onboard/repository"
)

// Importer imports an uploaded file the same way `onboard import` does
// (*intake.Intake): a refused file returns an error wrapping
// *importer.FileError and stores nothing.
type Importer interface {
	Import(ctx context.Context, req intake.Request) (*intake.Result, error)
}

// How many rows of each list the batch page shows.
const listLimit = 200

// parsePages parses every page with English text functions; render
// clones a page and gives it the reader's (a page never executed can be
// cloned any number of times).
func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"percent":   percent,
		"pathesc":   url.PathEscape,
		"hasPrefix": strings.HasPrefix,
		"rfc3339":   func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
		// mask masks identifiers in text the platform or the file supplied.
		"mask": importer.MaskIDs,
		// clampPercent picks the style sheet's width class of a progress bar
		// (the content security policy allows no inline styles).
		"clampPercent": func(p int) int { return min(100, max(0, p)) },
		"stateClass":   func(state string) string { return "state-" + strings.ReplaceAll(state, "_", "-") },
	}
	for k, v := range pageFuncs(english) {
		funcs[k] = v
	}
	pages := map[string]*template.Template{}
	for _, name := range []string{"batches", "batch", "upload", "error"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("web: parse %s page: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

func percent(n, total int) int {
	if total <= 0 {
		return 0
	}
	return n * 100 / total
}

// page is what every template sees.
type page struct {
	Title   string // in the reader's language
	Nav     string
	Notice  string // in the reader's language
	Error   string // in the reader's language
	Monitor bool
	Refresh int // seconds between automatic reloads; 0: none
	Langs   []langLink
	Data    any
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	pr := s.printer(r)
	p.Monitor = s.opts.Redis != nil
	p.Langs = langLinks(r, pr)
	var buf bytes.Buffer
	t, err := s.pages[name].Clone()
	if err == nil {
		err = t.Funcs(pageFuncs(pr)).Execute(&buf, p)
	}
	if err != nil {
		s.log.Error("render page", "page", name, "error", err)
		s.plainError(w, r, http.StatusInternalServerError, "web.err.render")
		return
	}
	w.Header().Set("Content-Language", pr.Lang())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s.render(w, r, status, "error", page{Title: statusTitle(s.printer(r), status), Error: msg})
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.errorPage(w, r, http.StatusNotFound, s.printer(r).T("web.err.no_page", "Path", r.URL.Path))
}

// internalError logs an error and shows a page that says what failed but
// not why: errors name servers, users, databases and paths. what is the
// message ID of the failed action ("web.what.*"); the log has it in English.
func (s *Server) internalError(w http.ResponseWriter, r *http.Request, what string, err error) {
	s.log.Error(english.T(what), "path", r.URL.Path, "error", err)
	p := s.printer(r)
	s.errorPage(w, r, http.StatusInternalServerError, p.T("web.err.server", "What", p.T(what)))
}

// batchRow is one line of the batches list.
type batchRow struct {
	repository.BatchOverview
	Done    int
	Percent int
	States  []stateN
}

type stateN struct {
	State string
	N     int
}

func sortedStates(m map[string]int) []stateN {
	order := map[string]int{}
	for i, s := range []string{onboard.StateQueued, onboard.StateAwaitingAuth, onboard.StateOpeningServices,
		onboard.StateAwaitingAdmin, onboard.StateDone, onboard.StateFailed, onboard.StateAuthRejected, onboard.StateTimedOut} {
		order[s] = i + 1
	}
	out := make([]stateN, 0, len(m))
	for st, n := range m {
		if n > 0 {
			out = append(out, stateN{st, n})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		oi, oj := order[out[i].State], order[out[j].State]
		if oi == 0 {
			oi = 100
		}
		if oj == 0 {
			oj = 100
		}
		if oi != oj {
			return oi < oj
		}
		return out[i].State < out[j].State
	})
	return out
}

func newBatchRow(b repository.BatchOverview) batchRow {
	done := b.Final()
	return batchRow{BatchOverview: b, Done: done, Percent: percent(done, b.Orgs), States: sortedStates(b.States)}
}

func (s *Server) batchesPage(w http.ResponseWriter, r *http.Request) {
	var rows []batchRow
	if s.opts.Store != nil {
		list, err := s.opts.Store.BatchOverviews(r.Context(), listLimit)
		if err != nil {
			s.internalError(w, r, "web.what.list_batches", err)
			return
		}
		for _, b := range list {
			rows = append(rows, newBatchRow(b))
		}
	}
	s.render(w, r, http.StatusOK, "batches", page{Title: s.printer(r).T("web.batches.title"), Nav: "batches", Data: struct {
		Batches []batchRow
		Upload  uploadForm
	}{rows, s.newUploadForm(r.Context(), "")}})
}

type uploadForm struct {
	AppID   string
	AppIDs  []string // applications to choose from
	MaxSize int64
	Enabled bool
}

func (s *Server) newUploadForm(ctx context.Context, appID string) uploadForm {
	if appID == "" {
		appID = s.opts.AppID
	}
	f := uploadForm{AppID: appID, MaxSize: s.maxUpload, Enabled: s.opts.Import != nil}
	seen := map[string]bool{}
	add := func(a string) {
		if a != "" && !seen[a] {
			seen[a] = true
			f.AppIDs = append(f.AppIDs, a)
		}
	}
	add(s.opts.AppID)
	if s.opts.Store != nil {
		apps, err := s.opts.Store.AppIDs(ctx)
		if err != nil {
			s.log.Warn("list applications for the upload form", "error", err)
		}
		for _, a := range apps {
			add(a)
		}
	}
	return f
}

func (s *Server) uploadPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "upload", page{Title: s.printer(r).T("web.upload.title"), Nav: "upload", Data: s.newUploadForm(r.Context(), "")})
}

// uploadError re-shows the form with a message in the reader's language;
// nothing was stored.
func (s *Server) uploadError(w http.ResponseWriter, r *http.Request, status int, appID, msg string) {
	s.render(w, r, status, "upload", page{Title: s.printer(r).T("web.upload.title"), Nav: "upload", Error: msg, Data: s.newUploadForm(r.Context(), appID)})
}

// uploadName is the name an upload is called by: the base name the browser
// gave, without control characters, at most 200 characters; "upload" when
// nothing is left. It is never used as a path.
func uploadName(name string) string {
	name = strings.ReplaceAll(name, `\`, "/")
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	name = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return -1
		}
		return r
	}, name)
	name = strings.TrimSpace(name)
	if r := []rune(name); len(r) > 200 {
		name = string(r[:200])
	}
	if name == "" || name == "." || name == ".." {
		return "upload"
	}
	return name
}

// upload streams the form's file to a temporary folder, under a name of
// the server's choosing, and imports it. At most MaxUploads run at once;
// more are answered 503 with Retry-After.
func (s *Server) upload(w http.ResponseWriter, r *http.Request) {
	p := s.printer(r)
	if s.opts.Import == nil {
		s.uploadError(w, r, http.StatusServiceUnavailable, "", p.T("web.upload.disabled"))
		return
	}
	select {
	case s.uploads <- struct{}{}:
		defer func() { <-s.uploads }()
	default:
		w.Header().Set("Retry-After", "30")
		s.uploadError(w, r, http.StatusServiceUnavailable, "", p.N("web.upload.busy", cap(s.uploads)))
		return
	}
	// The upload and its import may take longer than other requests.
	rc := http.NewResponseController(w)
	deadline := time.Now().Add(s.timeouts.Upload)
	rc.SetReadDeadline(deadline)
	rc.SetWriteDeadline(deadline)

	r.Body = http.MaxBytesReader(w, r.Body, s.maxUpload+1<<20)
	mr, err := r.MultipartReader()
	if err != nil {
		s.uploadError(w, r, http.StatusBadRequest, "", p.T("web.upload.not_form"))
		return
	}
	dir, err := os.MkdirTemp("", "onboard-upload-")
	if err != nil {
		s.internalError(w, r, "web.what.store_upload", err)
		return
	}
	defer os.RemoveAll(dir)

	var appID, fileName, path string
	tooBig := func() {
		s.uploadError(w, r, http.StatusRequestEntityTooLarge, appID, p.T("web.upload.too_big", "Limit", fmtSize(p, s.maxUpload)))
	}
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			if isMaxBytes(err) {
				tooBig()
				return
			}
			s.uploadError(w, r, http.StatusBadRequest, appID, p.T("web.upload.malformed"))
			return
		}
		switch part.FormName() {
		case "app_id":
			b, err := io.ReadAll(io.LimitReader(part, 256))
			if err != nil {
				s.uploadError(w, r, http.StatusBadRequest, appID, p.T("web.upload.malformed"))
				return
			}
			appID = strings.TrimSpace(string(b))
		case "file":
			if part.FileName() == "" || path != "" {
				part.Close()
				continue
			}
			fileName = uploadName(part.FileName())
			path = filepath.Join(dir, "upload")
			f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
			if err != nil {
				s.internalError(w, r, "web.what.store_upload", err)
				return
			}
			n, err := io.Copy(f, io.LimitReader(part, s.maxUpload+1))
			f.Close()
			if err != nil {
				if isMaxBytes(err) {
					tooBig()
					return
				}
				s.uploadError(w, r, http.StatusBadRequest, appID, p.T("web.upload.cut_off"))
				return
			}
			if n > s.maxUpload {
				tooBig()
				return
			}
		}
		part.Close()
	}
	if appID == "" {
		appID = s.opts.AppID
	}
	switch {
	case path == "":
		s.uploadError(w, r, http.StatusBadRequest, appID, p.T("web.upload.no_file"))
		return
	case appID == "":
		s.uploadError(w, r, http.StatusBadRequest, appID, p.T("web.upload.no_app"))
		return
	}
	if ext := strings.ToLower(filepath.Ext(fileName)); ext != ".xlsx" && ext != ".zip" {
		s.uploadError(w, r, http.StatusUnprocessableEntity, appID, refusal(p, fileName, importer.NewFileError(importer.CodeUploadType)))
		return
	}
	res, err := s.opts.Import.Import(r.Context(), intake.Request{Path: path, FileName: fileName, AppID: appID, MaxFileSize: s.maxUpload})
	var fe *importer.FileError
	switch {
	case errors.As(err, &fe):
		s.uploadError(w, r, http.StatusUnprocessableEntity, appID, refusal(p, fileName, fe))
		return
	case err != nil:
		s.log.Error("import upload", "file", fileName, "error", err)
		s.uploadError(w, r, http.StatusInternalServerError, appID, p.T("web.upload.server_error", "File", fileName))
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/batches/%d?imported=1", res.BatchID), http.StatusSeeOther)
}

func isMaxBytes(err error) bool {
	var mbe *http.MaxBytesError
	return errors.As(err, &mbe)
}

func batchID(r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	return id, err == nil && id > 0
}

// batchView is everything the batch page shows.
type batchView struct {
	batchRow
	Rejections []repository.RejectedRow
	Warned     []repository.WarnedRow
	Failures   []repository.FailedOrg
	Links      []repository.IssuedLink
	Runs       []onboard.ReconcileRun
	Activity   *onboard.AppActivity
	Callbacks  []onboard.ReceivedCallback
	Drift      []onboard.Drift // of the newest finished run that found any
	DriftRun   int64
	CanRetry   bool
	CanResume  bool
	HasResults bool
	Limit      int
	Now        time.Time
}

func (s *Server) batchPage(w http.ResponseWriter, r *http.Request) {
	id, ok := batchID(r)
	if !ok || s.opts.Store == nil {
		s.notFound(w, r)
		return
	}
	ctx := r.Context()
	st := s.opts.Store
	pr := s.printer(r)
	b, err := st.BatchOverview(ctx, id)
	if errors.Is(err, repository.ErrNotFound) {
		s.errorPage(w, r, http.StatusNotFound, pr.T("web.err.no_batch", "ID", id))
		return
	}
	if err != nil {
		s.internalError(w, r, "web.what.read_batch", err)
		return
	}
	v := batchView{batchRow: newBatchRow(*b), Limit: listLimit, Now: s.opts.Now()}
	if v.Rejections, err = st.BatchRejections(ctx, id, listLimit); err == nil {
		v.Warned, err = st.BatchWarnings(ctx, id, listLimit)
	}
	if err == nil {
		if v.Failures, err = st.BatchFailures(ctx, id, listLimit); err == nil {
			if v.Links, err = st.BatchLinks(ctx, id, listLimit); err == nil {
				if v.Runs, err = st.ReconcileRuns(ctx, b.AppID, 10); err == nil {
					var acts []onboard.AppActivity
					if acts, err = st.Activity(ctx, b.AppID, s.opts.Now()); err == nil && len(acts) == 1 {
						v.Activity = &acts[0]
					}
					if err == nil {
						v.Callbacks, err = st.RecentCallbacks(ctx, b.AppID, 10)
					}
				}
			}
		}
	}
	for _, run := range v.Runs {
		if err != nil || run.FinishedAt.IsZero() || run.UnknownOrgs+run.Mismatched == 0 {
			continue
		}
		v.DriftRun = run.ID
		v.Drift, err = st.ReconcileDrift(ctx, run.ID)
		break
	}
	if err != nil {
		s.internalError(w, r, "web.what.read_batch", err)
		return
	}
	v.CanRetry = s.opts.RetryFailed != nil && len(v.Failures) > 0
	v.CanResume = s.opts.Resume != nil && b.BlockedReason != ""
	v.HasResults = s.opts.WriteResults != nil
	p := page{Title: pr.T("web.batch.title", "ID", id), Nav: "batches", Data: v}
	if v.Done < v.Orgs && b.BlockedReason == "" {
		p.Refresh = 15 // follow the progress while work is pending
	}
	q := r.URL.Query()
	count := func(name string) (int, bool) {
		n, err := strconv.Atoi(q.Get(name))
		return n, err == nil && n >= 0
	}
	if q.Get("imported") != "" {
		p.Notice = pr.N("web.notice.imported", b.Rows, "File", b.FileName, "Accepted", pr.Int(b.Accepted),
			"Rejected", pr.Int(b.Rejected), "Enqueued", pr.Int(b.Enqueued), "Unchanged", pr.Int(b.Unchanged))
	} else if n, ok := count("retried"); ok {
		p.Notice = pr.N("web.notice.retried", n)
	} else if n, ok := count("resumed"); ok {
		p.Notice = pr.N("web.notice.resumed", n, "App", b.AppID)
	}
	s.render(w, r, http.StatusOK, "batch", p)
}

func (s *Server) retry(w http.ResponseWriter, r *http.Request) {
	id, ok := batchID(r)
	if !ok || s.opts.RetryFailed == nil {
		s.notFound(w, r)
		return
	}
	n, err := s.opts.RetryFailed(r.Context(), id)
	if err != nil {
		s.internalError(w, r, "web.what.retry", err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/batches/%d?retried=%d", id, n), http.StatusSeeOther)
}

func (s *Server) resume(w http.ResponseWriter, r *http.Request) {
	appID := r.PathValue("app")
	if s.opts.Resume == nil || appID == "" {
		s.notFound(w, r)
		return
	}
	n, err := s.opts.Resume(r.Context(), appID)
	if err != nil {
		s.internalError(w, r, "web.what.resume", err)
		return
	}
	back := "/"
	if b, err := strconv.ParseInt(r.FormValue("batch"), 10, 64); err == nil && b > 0 {
		back = fmt.Sprintf("/batches/%d?resumed=%d", b, n)
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}

// results streams the batch's results file. It is built in memory first so
// that an error shows as a page, not as a truncated download.
func (s *Server) results(w http.ResponseWriter, r *http.Request) {
	id, ok := batchID(r)
	if !ok || s.opts.WriteResults == nil || s.opts.Store == nil {
		s.notFound(w, r)
		return
	}
	b, err := s.opts.Store.BatchOverview(r.Context(), id)
	if errors.Is(err, repository.ErrNotFound) {
		s.errorPage(w, r, http.StatusNotFound, s.printer(r).T("web.err.no_batch", "ID", id))
		return
	}
	if err != nil {
		s.internalError(w, r, "web.what.read_batch", err)
		return
	}
	// A large batch's results file takes longer to build than other pages.
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.timeouts.Upload))
	var buf bytes.Buffer
	if err := s.opts.WriteResults(r.Context(), &buf, id, s.printer(r).Lang()); err != nil {
		s.internalError(w, r, "web.what.results", err)
		return
	}
	name := strings.TrimSuffix(b.FileName, filepath.Ext(b.FileName))
	serveXLSX(w, fmt.Sprintf("%s-results-batch-%d.xlsx", name, id), buf.Bytes())
}

func (s *Server) template(w http.ResponseWriter, r *http.Request) {
	if s.opts.WriteTemplate == nil {
		s.notFound(w, r)
		return
	}
	var buf bytes.Buffer
	if err := s.opts.WriteTemplate(&buf, s.printer(r).Lang()); err != nil {
		s.internalError(w, r, "web.what.template", err)
		return
	}
	serveXLSX(w, "onboard-template.xlsx", buf.Bytes())
}

func serveXLSX(w http.ResponseWriter, name string, data []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	h.Set("Content-Length", strconv.Itoa(len(data)))
	h.Set("Cache-Control", "no-store")
	w.Write(data)
}
