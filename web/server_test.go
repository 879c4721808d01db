package web

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestIsLoopback(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true,
		"127.1.2.3:80":   true,
		"[::1]:8080":     true,
		"localhost:8080": true,
		":8080":          false,
		"0.0.0.0:8080":   false,
		"[::]:8080":      false,
		"10.0.0.5:8080":  false,
		"example.com:80": false,
	} {
		if got := IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestNewRefusesOpenNonLoopback(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{":8080", "0.0.0.0:8080", "192.168.1.10:8080"} {
		if _, err := New(Options{Addr: addr}); !errors.Is(err, ErrCredentialsRequired) {
			t.Errorf("New(%q) without credentials: err = %v, want ErrCredentialsRequired", addr, err)
		}
	}
	if _, err := New(Options{Addr: ":8080", User: "ops"}); err == nil {
		t.Error("New with a user and no password: no error")
	}
	for _, o := range []Options{{Addr: ":8080", Token: "t0ken"}, {Addr: ":8080", User: "ops", Password: "pw"}, {Addr: "127.0.0.1:0"}} {
		s, err := New(o)
		if err != nil {
			t.Errorf("New(%+v): %v", o, err)
			continue
		}
		s.Close()
	}
}

func newTestServer(t *testing.T, o Options) *httptest.Server {
	t.Helper()
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(func() { ts.Close(); s.Close() })
	return ts
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Options{Addr: "0.0.0.0:8080", Token: "s3cret", User: "ops", Password: "pw",
		WriteTemplate: func(w io.Writer, lang string) error { _, err := io.WriteString(w, "xlsx"); return err }})
	type cred func(*http.Request)
	bearer := func(tok string) cred { return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) } }
	basic := func(u, p string) cred { return func(r *http.Request) { r.SetBasicAuth(u, p) } }
	none := func(*http.Request) {}
	for _, tc := range []struct {
		name, path string
		cred       cred
		want       int
	}{
		{"PageNoCredentials", "/", none, 401},
		{"UploadFormNoCredentials", "/upload", none, 401},
		{"TemplateNoCredentials", "/template.xlsx", none, 401},
		{"MetricsNoCredentials", "/metrics", none, 401},
		{"MonitoringNoCredentials", "/monitoring/", none, 401},
		{"WrongBearer", "/", bearer("nope"), 401},
		{"WrongBasicPassword", "/", basic("ops", "nope"), 401},
		{"WrongBasicUser", "/", basic("someone", "pw"), 401},
		{"Bearer", "/", bearer("s3cret"), 200},
		{"BasicToken", "/template.xlsx", basic("anyone", "s3cret"), 200},
		{"BasicUser", "/metrics", basic("ops", "pw"), 200},
		{"HealthzOpen", "/healthz", none, 200},
		{"ReadyzOpen", "/readyz", none, 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", ts.URL+tc.path, nil)
			tc.cred(req)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("GET %s: status %d, want %d", tc.path, resp.StatusCode, tc.want)
			}
			if tc.want == 401 && !strings.Contains(resp.Header.Get("WWW-Authenticate"), "Basic") {
				t.Errorf("401 without a Basic challenge: %q", resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

func TestLoopbackNeedsNoCredentials(t *testing.T) {
	t.Parallel()
	ts := newTestServer(t, Options{Addr: "127.0.0.1:8080"})
	resp, err := http.Get(ts.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "Batches") {
		t.Fatalf("GET / on loopback: %d %q", resp.StatusCode, body)
	}
}

func TestCrossSiteFormRefused(t *testing.T) {
	t.Parallel()
	called := false
	ts := newTestServer(t, Options{Addr: "127.0.0.1:8080",
		Resume: func(ctx context.Context, app string) (int, error) { called = true; return 0, nil }})
	for _, tc := range []struct {
		name   string
		header map[string]string
		want   int
	}{
		{"CrossSiteFetch", map[string]string{"Sec-Fetch-Site": "cross-site"}, 403},
		{"ForeignOrigin", map[string]string{"Origin": "https://evil.example"}, 403},
		{"SameOrigin", map[string]string{"Sec-Fetch-Site": "same-origin"}, 303},
	} {
		t.Run(tc.name, func(t *testing.T) {
			called = false
			req, _ := http.NewRequest("POST", ts.URL+"/apps/app1/resume", strings.NewReader("batch=1"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range tc.header {
				req.Header.Set(k, v)
			}
			client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.want)
			}
			if called != (tc.want == 303) {
				t.Errorf("resume called = %v", called)
			}
		})
	}
}
