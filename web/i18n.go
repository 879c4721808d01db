package web

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/importer"
	"github.com/ess-onboard/onboard/locale"
	"github.com/ess-onboard/onboard/repository"
	"github.com/ess-onboard/onboard/results"
)

// The dashboard speaks Simplified Chinese or English. A reader's language
// is the one the cookie LangCookie names, set by the switch on every page
// (any page with ?lang=zh-CN or ?lang=en); without it, the best match of
// the browser's Accept-Language; English when neither says. Every text a
// reader sees comes from the catalogues of package locale (web.*.json),
// and times are shown in Options.TimeZone.

// LangCookie remembers the language chosen with the switch.
const LangCookie = "onboard_lang"

// langCookieAge is how long the choice is remembered.
const langCookieAge = 365 * 24 * time.Hour

type printerKey struct{}

// language finds the reader's language, keeps a printer for it in the
// request's context and answers the language switch: a GET with ?lang=
// sets the cookie and sends the browser back to the same address without
// the parameter.
func (s *Server) language(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Add("Vary", "Accept-Language, Cookie")
		q := r.URL.Query()
		if want, ok := q["lang"]; ok && (r.Method == http.MethodGet || r.Method == http.MethodHead) && !isMonitoring(r.URL.Path) {
			if len(want) != 1 || !locale.Supported(want[0]) {
				r = withPrinter(r, s.newPrinter(s.requestLang(r)))
				s.errorPage(w, r, http.StatusBadRequest, s.printer(r).T("web.lang.unknown",
					"Lang", strings.Join(want, ","), "En", s.printer(r).T("lang.en"), "Zh", s.printer(r).T("lang.zh-CN")))
				return
			}
			http.SetCookie(w, &http.Cookie{Name: LangCookie, Value: locale.Match(want[0]), Path: "/",
				MaxAge: int(langCookieAge / time.Second), HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
			q.Del("lang")
			http.Redirect(w, r, backTo(r.URL.Path, q), http.StatusSeeOther)
			return
		}
		r = withPrinter(r, s.newPrinter(s.requestLang(r)))
		h.Set("Content-Language", s.printer(r).Lang())
		next.ServeHTTP(w, r)
	})
}

// backTo is the address the switch sends the browser back to: a path of
// this server (never another host), with the rest of the query.
func backTo(path string, q url.Values) string {
	if !strings.HasPrefix(path, "/") || strings.HasPrefix(path, "//") || strings.HasPrefix(path, `/\`) {
		path = "/"
	}
	u := url.URL{Path: path, RawQuery: q.Encode()}
	return u.String()
}

func isMonitoring(path string) bool {
	return path == monitoringPath || strings.HasPrefix(path, monitoringPath+"/")
}

func withPrinter(r *http.Request, p *locale.Printer) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), printerKey{}, p))
}

// requestLang is the language a request is answered in: the cookie's
// when it names a supported language, else the best of Accept-Language.
func (s *Server) requestLang(r *http.Request) string {
	if c, err := r.Cookie(LangCookie); err == nil && locale.Supported(c.Value) {
		return locale.Match(c.Value)
	}
	return locale.Match(r.Header.Get("Accept-Language"))
}

func (s *Server) newPrinter(lang string) *locale.Printer {
	return locale.NewIn(lang, s.opts.TimeZone)
}

// printer is the reader's printer: the one language kept, or one made
// from the request (for answers given before it, such as the Host check).
func (s *Server) printer(r *http.Request) *locale.Printer {
	if p, ok := r.Context().Value(printerKey{}).(*locale.Printer); ok {
		return p
	}
	return s.newPrinter(s.requestLang(r))
}

// english renders a message for the log, which stays English.
var english = locale.New(locale.English)

// plainError answers a plain-text error in the reader's language.
func (s *Server) plainError(w http.ResponseWriter, r *http.Request, status int, id string, args ...any) {
	p := s.printer(r)
	w.Header().Set("Content-Language", p.Lang())
	http.Error(w, p.T(id, args...), status)
}

// langLink is one entry of the language switch.
type langLink struct {
	Lang, Name, Href string
	Current          bool
}

// langLinks are the switch's entries for the page at r: the same address
// with ?lang= set.
func langLinks(r *http.Request, p *locale.Printer) []langLink {
	out := make([]langLink, 0, len(locale.Langs))
	for _, l := range locale.Langs {
		q := url.Values{}
		if r.Method == http.MethodGet {
			q = r.URL.Query()
		}
		q.Set("lang", l)
		path := r.URL.Path
		if r.Method != http.MethodGet {
			// After a form post the address is the form's; the switch
			// shows its page afresh.
			path = formPage(path)
		}
		out = append(out, langLink{Lang: l, Name: p.T("lang." + l), Href: backTo(path, q), Current: l == p.Lang()})
	}
	return out
}

// formPage is the page a form posted to path was sent from.
func formPage(path string) string {
	switch {
	case path == "/upload":
		return "/upload"
	case strings.HasPrefix(path, "/batches/"):
		return strings.TrimSuffix(path, "/retry")
	}
	return "/"
}

// statusTitle is an error page's title.
func statusTitle(p *locale.Printer, status int) string {
	id := fmt.Sprintf("web.status.%d", status)
	if p.Has(id) {
		return p.T(id)
	}
	return p.T("web.status.other", "Code", status)
}

// pageFuncs are the template functions that speak the reader's language.
// parsePages declares them with English printers; render replaces them
// per request.
func pageFuncs(p *locale.Printer) template.FuncMap {
	orCode := func(prefix string) func(string) string {
		return func(code string) string {
			if code != "" && p.Has(prefix+code) {
				return p.T(prefix + code)
			}
			return code
		}
	}
	orNone := func(prefix string) func(string) string {
		return func(code string) string {
			if code != "" && p.Has(prefix+code) {
				return p.T(prefix + code)
			}
			return ""
		}
	}
	service := orCode("web.service.")
	return template.FuncMap{
		"lang": p.Lang,
		"t":    p.T,
		"n":    p.N,
		"num":  p.Int,
		"time": p.Time,
		"utc":  p.UTC,
		"mib":  func(n int64) string { return fmtSize(p, n) },
		"reasons": func(rs []onboard.RowError) string {
			parts := make([]string, len(rs))
			for i, r := range rs {
				text := p.Reason(r.Code, r.Params, r.Reason)
				if r.Column != "" {
					text = r.Column + p.T("web.sep.colon") + text
				}
				parts[i] = text
			}
			// Reasons stored before identifiers were masked are masked here.
			return importer.MaskIDs(strings.Join(parts, p.T("web.sep.semicolon")))
		},
		"warnings": func(ws []onboard.RowWarning) string {
			parts := make([]string, len(ws))
			for i, w := range ws {
				parts[i] = results.FieldName(p, w.Field) + p.T("web.sep.colon") + p.Reason(w.Code, w.Params, w.Message)
			}
			return importer.MaskIDs(strings.Join(parts, p.T("web.sep.semicolon")))
		},
		"apierr":    p.APIError,
		"state":     orCode("web.state."),
		"stateHint": orNone("web.state_hint."),
		"verdict":   orNone("web.verdict."),
		"trigger":   orCode("web.trigger."),
		"drift":     orCode("web.drift.kind."),
		"linkNeed": func(svc string) string {
			if rest, ok := strings.CutPrefix(svc, repository.ConsoleLoginLink); ok {
				admin := strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(rest), "("), ")")
				if admin == "" {
					return p.T("web.links.verify_any")
				}
				return p.T("web.links.verify", "Admin", admin)
			}
			return p.T("web.links.open", "Service", service(svc))
		},
	}
}

// fmtSize is a size in bytes as people read it: 30 MiB, 20 KiB, 512 bytes.
func fmtSize(p *locale.Printer, n int64) string {
	switch {
	case n >= 1<<20:
		return p.T("web.size.mib", "N", p.Int(int((n+1<<19)>>20)))
	case n >= 1<<10:
		return p.T("web.size.kib", "N", p.Int(int((n+1<<9)>>10)))
	}
	return p.N("web.size.bytes", int(n))
}

// refusal is the sentence a refused upload is reported with, the reason
// rendered from its code in the reader's language: in English the same
// words as importer.Refusal.
func refusal(p *locale.Printer, fileName string, fe *importer.FileError) string {
	reason := strings.TrimRight(p.Reason(fe.Code, fe.Params, fe.Reason), ". 。")
	return p.T("web.upload.refused", "File", fileName, "Reason", reason)
}
