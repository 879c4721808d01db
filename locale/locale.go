// Package locale renders the texts people read, in Simplified Chinese or
// English. Messages live in JSON catalogues embedded in the binary, one pair
// of files per area (catalog/<area>.en.json and catalog/<area>.zh-CN.json),
// and are rendered by go-i18n; numbers are formatted by golang.org/x/text.
//
// Reasons and warnings are stored as codes with parameters and rendered
// here when they are shown, so one batch can be read in either language: the
// message of reason code "credit_code.check_char" has the ID
// "reason.credit_code.check_char".
package locale

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // operators' time zones resolve on machines without zoneinfo

	"github.com/nicksnyder/go-i18n/v2/i18n"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// The languages onboard speaks, as BCP 47 tags.
const (
	English = "en"
	Chinese = "zh-CN"
)

// Langs lists the supported languages, the default first.
var Langs = []string{English, Chinese}

//go:embed catalog/*.json
var catalogFS embed.FS

var (
	bundleOnce sync.Once
	bundle     *i18n.Bundle
	bundleErr  error
	matcher    = language.NewMatcher([]language.Tag{language.English, language.SimplifiedChinese})
)

func loadBundle() (*i18n.Bundle, error) {
	bundleOnce.Do(func() {
		b := i18n.NewBundle(language.English)
		b.RegisterUnmarshalFunc("json", json.Unmarshal)
		files, err := fs.Glob(catalogFS, "catalog/*.json")
		if err != nil {
			bundleErr = err
			return
		}
		for _, f := range files {
			if _, err := b.LoadMessageFileFS(catalogFS, f); err != nil {
				bundleErr = fmt.Errorf("locale: catalogue %s: %w", f, err)
				return
			}
		}
		bundle = b
	})
	return bundle, bundleErr
}

// Match returns the supported language that best fits the given preferences,
// each a tag or an Accept-Language header, first the strongest. Empty or
// unknown preferences give English.
func Match(prefs ...string) string {
	var tags []language.Tag
	for _, p := range prefs {
		if strings.TrimSpace(p) == "" {
			continue
		}
		ts, _, err := language.ParseAcceptLanguage(p)
		if err != nil {
			continue
		}
		tags = append(tags, ts...)
	}
	if len(tags) == 0 {
		return English
	}
	_, idx, conf := matcher.Match(tags...)
	if conf == language.No {
		return English
	}
	return Langs[idx]
}

// Supported reports whether lang names a supported language (any spelling
// Match understands, such as "zh", "zh_CN" or "zh-Hans").
func Supported(lang string) bool {
	tags, _, err := language.ParseAcceptLanguage(strings.ReplaceAll(lang, "_", "-"))
	if err != nil || len(tags) != 1 {
		return false
	}
	_, _, conf := matcher.Match(tags...)
	return conf != language.No
}

// FromEnv picks the CLI's language: flag when set, then ONBOARD_LANG, then
// LC_ALL, LC_MESSAGES and LANG as POSIX orders them. "C" and "POSIX" locales
// and anything unset give English. An unknown explicit flag or ONBOARD_LANG
// is an error, so a typo is not silently ignored.
func FromEnv(flag string, getenv func(string) string) (string, error) {
	if flag != "" {
		if !Supported(flag) {
			return "", fmt.Errorf("unknown language %q: use %s", flag, strings.Join(Langs, " or "))
		}
		return Match(flag), nil
	}
	if v := getenv("ONBOARD_LANG"); v != "" {
		if !Supported(v) {
			return "", fmt.Errorf("ONBOARD_LANG=%q is not a language onboard speaks: use %s", v, strings.Join(Langs, " or "))
		}
		return Match(v), nil
	}
	for _, name := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		v := getenv(name)
		if v == "" {
			continue
		}
		// zh_CN.UTF-8@euro → zh-CN
		v, _, _ = strings.Cut(v, ".")
		v, _, _ = strings.Cut(v, "@")
		if v == "C" || v == "POSIX" {
			return English, nil
		}
		return Match(strings.ReplaceAll(v, "_", "-")), nil
	}
	return English, nil
}

// Printer renders messages, numbers and times for one reader.
type Printer struct {
	lang string
	loc  *i18n.Localizer
	num  *message.Printer
	zone *time.Location
}

// DefaultZone is the time zone of a language when none is configured:
// Asia/Shanghai for Chinese, UTC for English.
func DefaultZone(lang string) *time.Location {
	if lang == Chinese {
		if z, err := time.LoadLocation("Asia/Shanghai"); err == nil {
			return z
		}
	}
	return time.UTC
}

// New returns a printer for lang (matched as Match does) with its default
// time zone. It panics only when the embedded catalogues are broken, which a
// test catches.
func New(lang string) *Printer {
	return NewIn(lang, nil)
}

// NewIn returns a printer for lang that shows times in zone (nil: the
// language's default zone).
func NewIn(lang string, zone *time.Location) *Printer {
	b, err := loadBundle()
	if err != nil {
		panic(err)
	}
	lang = Match(lang)
	if zone == nil {
		zone = DefaultZone(lang)
	}
	tag := language.English
	if lang == Chinese {
		tag = language.SimplifiedChinese
	}
	return &Printer{lang: lang, loc: i18n.NewLocalizer(b, lang), num: message.NewPrinter(tag), zone: zone}
}

// Lang is the printer's language tag.
func (p *Printer) Lang() string { return p.lang }

// Zone is the time zone the printer shows times in.
func (p *Printer) Zone() *time.Location { return p.zone }

// T renders message id with its parameters (nil: none), given as a map or as
// alternating name, value pairs. A message missing from the reader's language
// falls back to English; one missing everywhere renders as its ID (a test
// keeps every ID present in both catalogues).
func (p *Printer) T(id string, args ...any) string {
	out, ok := p.localize(&i18n.LocalizeConfig{MessageID: id, TemplateData: params(args)})
	if !ok {
		return id
	}
	return out
}

// N renders message id with the plural form for count; the message's
// template sees the formatted count as .Count alongside the other parameters.
func (p *Printer) N(id string, count int, args ...any) string {
	data := params(args)
	if data == nil {
		data = map[string]any{}
	}
	data["Count"] = p.Int(count)
	out, ok := p.localize(&i18n.LocalizeConfig{MessageID: id, TemplateData: data, PluralCount: count})
	if !ok {
		return id
	}
	return out
}

// localize renders a message once. go-i18n reports a message it took from
// English, the fallback language, as not found while still rendering it;
// that is a rendered message here. ok is false when no catalogue holds the
// message or its template fails.
func (p *Printer) localize(lc *i18n.LocalizeConfig) (string, bool) {
	out, err := p.loc.Localize(lc)
	if err == nil {
		return out, true
	}
	var nf *i18n.MessageNotFoundErr
	return out, errors.As(err, &nf) && out != ""
}

// Has reports whether id is in the catalogues.
func (p *Printer) Has(id string) bool {
	_, ok := p.localize(&i18n.LocalizeConfig{MessageID: id})
	return ok
}

// Reason renders a reason or warning code with its parameters, from the
// message "reason.<code>". A reason stored before codes existed (empty code),
// or a code this binary does not know, renders as fallback, its stored text.
func (p *Printer) Reason(code string, args map[string]string, fallback string) string {
	if code != "" {
		if out, ok := p.localize(&i18n.LocalizeConfig{MessageID: "reason." + code, TemplateData: params([]any{args})}); ok {
			return out
		}
	}
	if fallback == "" {
		return code
	}
	return fallback
}

// APIError is a short explanation, in the reader's language, of a platform
// error code (such as "FailedOperation.OrganizationNameNeedChange"), from the
// message "apierr.<code>"; "" when there is none.
func (p *Printer) APIError(code string) string {
	if code == "" {
		return ""
	}
	out, _ := p.localize(&i18n.LocalizeConfig{MessageID: "apierr." + code})
	return out
}

// Int formats n with the language's digit grouping (12,345).
func (p *Printer) Int(n int) string { return p.num.Sprintf("%d", n) }

// Time formats t in the printer's zone, as "2006-01-02 15:04 MST"; zero gives "".
func (p *Printer) Time(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(p.zone).Format("2006-01-02 15:04 MST")
}

// UTC formats t in UTC, for a tooltip beside Time.
func (p *Printer) UTC(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// params turns T's arguments into template data.
func params(args []any) map[string]any {
	if len(args) == 0 {
		return nil
	}
	if len(args) == 1 {
		switch m := args[0].(type) {
		case map[string]any:
			return m
		case map[string]string:
			out := make(map[string]any, len(m))
			for k, v := range m {
				out[k] = v
			}
			return out
		case nil:
			return nil
		}
	}
	out := make(map[string]any, len(args)/2)
	for i := 0; i+1 < len(args); i += 2 {
		out[fmt.Sprint(args[i])] = args[i+1]
	}
	return out
}

// IDs returns every message ID of lang's catalogues, sorted; tests use it to
// hold the two languages to the same keys.
func IDs(lang string) ([]string, error) {
	files, err := fs.Glob(catalogFS, "catalog/*."+lang+".json")
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, f := range files {
		buf, err := fs.ReadFile(catalogFS, f)
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := json.Unmarshal(buf, &m); err != nil {
			return nil, fmt.Errorf("locale: %s: %w", f, err)
		}
		for k := range m {
			ids = append(ids, k)
		}
	}
	sort.Strings(ids)
	return ids, nil
}
