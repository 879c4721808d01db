package locale

import (
	"strings"
	"testing"
	"time"
)

// Every message exists in both languages, so no reader meets a text in the
// other language or a bare message ID.
func TestCataloguesHaveTheSameMessages(t *testing.T) {
	en, err := IDs(English)
	if err != nil {
		t.Fatal(err)
	}
	zh, err := IDs(Chinese)
	if err != nil {
		t.Fatal(err)
	}
	if len(en) == 0 {
		t.Fatal("the English catalogues hold no messages")
	}
	missing := func(from, in []string) []string {
		have := map[string]bool{}
		for _, id := range in {
			have[id] = true
		}
		var out []string
		for _, id := range from {
			if !have[id] {
				out = append(out, id)
			}
		}
		return out
	}
	if m := missing(en, zh); len(m) > 0 {
		t.Errorf("messages missing from the zh-CN catalogues: %s", strings.Join(m, ", "))
	}
	if m := missing(zh, en); len(m) > 0 {
		t.Errorf("messages missing from the en catalogues: %s", strings.Join(m, ", "))
	}
	// Every message renders in both languages without a template error.
	for _, lang := range Langs {
		p := New(lang)
		for _, id := range en {
			if out := p.N(id, 2); out == id {
				t.Errorf("%s: %s does not render", lang, id)
			}
		}
	}
}

func TestRenderAndPlural(t *testing.T) {
	if got := New(English).N("common.rows", 1); got != "1 row" {
		t.Errorf("en one: %q", got)
	}
	if got := New(English).N("common.rows", 12345); got != "12,345 rows" {
		t.Errorf("en other: %q", got)
	}
	if got := New(Chinese).N("common.rows", 12345); got != "12,345 行" {
		t.Errorf("zh: %q", got)
	}
	if got := New(Chinese).T("no.such.message"); got != "no.such.message" {
		t.Errorf("missing message: %q", got)
	}
}

func TestMatch(t *testing.T) {
	for in, want := range map[string]string{
		"":                               English,
		"zh-CN,zh;q=0.9,en;q=0.8":        Chinese,
		"zh":                             Chinese,
		"zh-Hans-CN":                     Chinese,
		"en-US,en;q=0.9":                 English,
		"fr-FR":                          English,
		"fr-FR,zh-CN;q=0.5":              Chinese,
		"de;q=0.9, en;q=0.5, zh;q=0.7":   Chinese,
		"this is not a language header!": English,
	} {
		if got := Match(in); got != want {
			t.Errorf("Match(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFromEnv(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	cases := []struct {
		flag string
		env  func(string) string
		want string
	}{
		{"", env(), English},
		{"zh-CN", env(), Chinese},
		{"zh", env("ONBOARD_LANG", "en"), Chinese},
		{"", env("ONBOARD_LANG", "zh-CN", "LANG", "en_US.UTF-8"), Chinese},
		{"", env("LC_ALL", "zh_CN.UTF-8", "LANG", "en_US.UTF-8"), Chinese},
		{"", env("LC_MESSAGES", "zh_CN.GB18030"), Chinese},
		{"", env("LANG", "zh_CN.UTF-8"), Chinese},
		{"", env("LC_ALL", "C", "LANG", "zh_CN.UTF-8"), English},
		{"", env("LANG", "POSIX"), English},
		{"", env("LANG", "fr_FR.UTF-8"), English},
		{"en", env("LANG", "zh_CN.UTF-8"), English},
	}
	for _, c := range cases {
		got, err := FromEnv(c.flag, c.env)
		if err != nil || got != c.want {
			t.Errorf("FromEnv(%q) = %q, %v; want %q", c.flag, got, err, c.want)
		}
	}
	if _, err := FromEnv("klingon", env()); err == nil {
		t.Error("an unknown --lang is accepted")
	}
	if _, err := FromEnv("", env("ONBOARD_LANG", "xx-YY")); err == nil {
		t.Error("an unknown ONBOARD_LANG is accepted")
	}
}

func TestTimes(t *testing.T) {
	at := time.Date(2026, 12, 1, 16, 30, 0, 0, time.UTC)
	if got := New(Chinese).Time(at); got != "2026-12-02 00:30 CST" {
		t.Errorf("zh time: %q", got)
	}
	if got := New(English).Time(at); got != "2026-12-01 16:30 UTC" {
		t.Errorf("en time: %q", got)
	}
	if got := New(Chinese).UTC(at); got != "2026-12-01 16:30:00 UTC" {
		t.Errorf("utc: %q", got)
	}
	if New(English).Time(time.Time{}) != "" {
		t.Error("a zero time renders")
	}
}
