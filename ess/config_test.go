package ess

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestSplitEndpoint(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, scheme, host string
		bad              bool
	}{
		{"", "HTTPS", DefaultEndpoint, false},
		{"essbasic.test.ess.tencent.cn", "HTTPS", "essbasic.test.ess.tencent.cn", false},
		{"http://127.0.0.1:18090", "HTTP", "127.0.0.1:18090", false},
		{"HTTP://127.0.0.1:18090/", "HTTP", "127.0.0.1:18090", false},
		{"https://essbasic.tencentcloudapi.com", "HTTPS", "essbasic.tencentcloudapi.com", false},
		{"ftp://host", "", "", true},
		{"http://host/path", "", "", true},
		{"http://user:pw@host", "", "", true},
		{"http://", "", "", true},
		{"host/path", "", "", true},
	}
	for _, tt := range tests {
		scheme, host, err := splitEndpoint(tt.in)
		if (err != nil) != tt.bad || scheme != tt.scheme || host != tt.host {
			t.Errorf("splitEndpoint(%q) = %q, %q, %v; want %q, %q, error %v", tt.in, scheme, host, err, tt.scheme, tt.host, tt.bad)
		}
	}
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no id", Config{SecretKey: "k"}, "missing secret id"},
		{"no key", Config{SecretID: "id"}, "missing secret key"},
		{"bad endpoint", Config{SecretID: "id", SecretKey: "k", Endpoint: "gopher://x"}, "scheme must be http or https"},
		{"bad language", Config{SecretID: "id", SecretKey: "k", Language: "fr"}, "language"},
		{"negative timeout", Config{SecretID: "id", SecretKey: "k", Timeout: -time.Second}, "timeout"},
	}
	for _, tt := range tests {
		c, err := New(tt.cfg)
		if err == nil || c != nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: New = %v, %v; want an error containing %q", tt.name, c, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "k\"") {
			t.Errorf("%s: error shows the key: %v", tt.name, err)
		}
	}
	if _, err := New(Config{SecretID: "id", SecretKey: "k"}); err != nil {
		t.Errorf("minimal config: %v", err)
	}
}

func TestConfigRedactsKey(t *testing.T) {
	t.Parallel()
	cfg := Config{Endpoint: "http://127.0.0.1:1", SecretID: "AKIDvisible", SecretKey: "s3cr3t-value", Timeout: time.Second}
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		out := fmt.Sprintf(format, cfg)
		if strings.Contains(out, "s3cr3t") || strings.Contains(out, fmt.Sprintf("%x", "s3cr3t-value")) {
			t.Errorf("%s shows the key: %s", format, out)
		}
	}
	if out := fmt.Sprint(cfg); !strings.Contains(out, "AKIDvisible") || !strings.Contains(out, "REDACTED") {
		t.Errorf("String() = %s, want the id and REDACTED", out)
	}
	if out := fmt.Sprintf("%+v", struct{ C Config }{cfg}); strings.Contains(out, "s3cr3t") {
		t.Errorf("nested: %s", out)
	}
}
