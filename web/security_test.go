package web

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/ess-onboard/onboard/importer"
	"github.com/ess-onboard/onboard/intake"
	"github.com/ess-onboard/onboard/internal/testenv"
	"github.com/ess-onboard/onboard/repository"
)

// importFunc is an Importer made of a function.
type importFunc func(ctx context.Context, req intake.Request) (*intake.Result, error)

func (f importFunc) Import(ctx context.Context, req intake.Request) (*intake.Result, error) {
	return f(ctx, req)
}

// get sends a GET with optional headers and returns the status, headers
// and body.
func get(t *testing.T, url string, header map[string]string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestHostHeaderChecked(t *testing.T) {
	t.Parallel()
	open := newTestServer(t, Options{Addr: "127.0.0.1:8080"})
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(open.URL, "http://"))
	for _, tc := range []struct {
		host string
		want int
	}{
		{"attacker.example", http.StatusMisdirectedRequest},
		{"attacker.example:" + port, http.StatusMisdirectedRequest},
		{"127.0.0.1.attacker.example:" + port, http.StatusMisdirectedRequest},
		{"localhost.attacker.example", http.StatusMisdirectedRequest},
		{"127.0.0.1:" + port, http.StatusOK},
		{"localhost:" + port, http.StatusOK},
		{"LOCALHOST.:" + port, http.StatusOK},
		{"[::1]:" + port, http.StatusOK},
	} {
		for _, path := range []string{"/", "/healthz", "/upload"} {
			if code, _, body := get(t, open.URL+path, map[string]string{"Host": tc.host}); code != tc.want {
				t.Errorf("GET %s with Host %s: %d, want %d (%q)", path, tc.host, code, tc.want, body)
			} else if code != http.StatusOK && strings.Contains(body, "attacker") {
				t.Errorf("the refusal repeats the Host header: %q", body)
			}
		}
	}
	// A cross-site form post from the rebound name is refused too.
	req, _ := http.NewRequest("POST", open.URL+"/upload", strings.NewReader(""))
	req.Host = "attacker.example"
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMisdirectedRequest {
		t.Errorf("POST with Host attacker.example: %v", resp.StatusCode)
	}

	// With credentials, the dashboard answers to any name, as behind a proxy.
	auth := newTestServer(t, Options{Addr: "0.0.0.0:8080", Token: "tok"})
	if code, _, _ := get(t, auth.URL+"/", map[string]string{"Host": "dashboard.example", "Authorization": "Bearer tok"}); code != http.StatusOK {
		t.Errorf("credentials mode, Host dashboard.example: %d", code)
	}
	if code, _, _ := get(t, auth.URL+"/", map[string]string{"Host": "dashboard.example"}); code != http.StatusUnauthorized {
		t.Errorf("credentials mode without credentials: %d", code)
	}
}

// monitoringServer is a server with asynqmon on the test Redis.
func monitoringServer(t *testing.T, o Options) *httptest.Server {
	t.Helper()
	url, _ := testenv.IsolatedRedis(t, 4)
	opt, err := asynq.ParseRedisURI(url)
	if err != nil {
		t.Fatal(err)
	}
	o.Redis = opt
	return newTestServer(t, o)
}

func TestMonitoringReadOnlyByDefault(t *testing.T) {
	t.Parallel()
	if _, err := New(Options{Addr: "127.0.0.1:0", MonitoringWrite: true}); !errors.Is(err, ErrMonitoringWriteNeedsCredentials) {
		t.Errorf("MonitoringWrite without credentials: %v", err)
	}
	do := func(ts *httptest.Server, method, path string, header map[string]string) int {
		req, _ := http.NewRequest(method, ts.URL+path, nil)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	writes := []struct{ method, path string }{
		{"DELETE", "/monitoring/api/queues/default"},
		{"POST", "/monitoring/api/queues/default:pause"},
		{"DELETE", "/monitoring/api/queues/default/pending_tasks:delete_all"},
		{"POST", "/monitoring/api/queues/default/retry_tasks:archive_all"},
		{"POST", "/monitoring/api/queues/default/archived_tasks:run_all"},
	}
	ro := monitoringServer(t, Options{Addr: "127.0.0.1:8080"})
	if code := do(ro, "GET", "/monitoring/api/queues", nil); code != http.StatusOK {
		t.Errorf("read-only: GET queues: %d", code)
	}
	for _, w := range writes {
		if code := do(ro, w.method, w.path, nil); code != http.StatusMethodNotAllowed {
			t.Errorf("read-only: %s %s: %d, want 405", w.method, w.path, code)
		}
	}
	// Writable, with credentials: the requests reach asynqmon.
	bearer := map[string]string{"Authorization": "Bearer tok"}
	rw := monitoringServer(t, Options{Addr: "0.0.0.0:8080", Token: "tok", MonitoringWrite: true})
	for _, w := range writes {
		if code := do(rw, w.method, w.path, nil); code != http.StatusUnauthorized {
			t.Errorf("writable without credentials: %s %s: %d, want 401", w.method, w.path, code)
		}
	}
	if code := do(rw, "POST", "/monitoring/api/queues/default:pause", bearer); code == http.StatusMethodNotAllowed || code == http.StatusUnauthorized {
		t.Errorf("writable with credentials: pause: %d", code)
	}
}

func TestSecurityHeadersEverywhere(t *testing.T) {
	t.Parallel()
	tmpl := func(w io.Writer, lang string) error { _, err := io.WriteString(w, "xlsx"); return err }
	check := func(t *testing.T, where string, h http.Header, tls bool) {
		t.Helper()
		for k, want := range map[string]string{
			"X-Frame-Options":         "DENY",
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "same-origin",
			"Content-Security-Policy": "frame-ancestors 'none'",
		} {
			if got := h.Get(k); !strings.Contains(got, want) {
				t.Errorf("%s: %s = %q, want %q", where, k, got, want)
			}
		}
		if got := h.Get("Strict-Transport-Security"); (got != "") != tls {
			t.Errorf("%s: Strict-Transport-Security = %q over TLS %v", where, got, tls)
		}
	}
	paths := []string{"/", "/upload", "/batches/1", "/static/style.css", "/template.xlsx", "/metrics",
		"/monitoring", "/monitoring/", "/monitoring/api/queues", "/healthz", "/readyz", "/no/such/page"}
	open := monitoringServer(t, Options{Addr: "127.0.0.1:8080", WriteTemplate: tmpl})
	for _, p := range paths {
		_, h, _ := get(t, open.URL+p, nil)
		check(t, "GET "+p, h, false)
	}
	// The project's pages allow nothing inline; asynqmon's needs its
	// scripts.
	if _, h, _ := get(t, open.URL+"/", nil); strings.Contains(h.Get("Content-Security-Policy"), "unsafe-inline") || !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("page CSP %q", h.Get("Content-Security-Policy"))
	}
	// Refusals carry them too: unauthenticated, throttled, misdirected.
	auth := newTestServer(t, Options{Addr: "0.0.0.0:8080", Token: "tok"})
	_, h, _ := get(t, auth.URL+"/", nil)
	check(t, "401", h, false)
	_, h, _ = get(t, open.URL+"/", map[string]string{"Host": "attacker.example"})
	check(t, "421", h, false)

	// Over TLS, HSTS as well.
	s, err := New(Options{Addr: "127.0.0.1:8080", WriteTemplate: tmpl})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewTLSServer(s.Handler())
	defer ts.Close()
	for _, p := range []string{"/", "/template.xlsx", "/healthz", "/no/such/page"} {
		resp, err := ts.Client().Get(ts.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		check(t, "TLS GET "+p, resp.Header, true)
	}
}

func TestReadyzLeaksNothingWithoutCredentials(t *testing.T) {
	t.Parallel()
	secret := errors.New(`failed to connect to host=db.internal user=onboard database=prod: dial tcp 10.1.2.3:5432: connection refused`)
	checks := []Check{
		{"postgres", func(context.Context) error { return secret }},
		{"redis", func(context.Context) error { return nil }},
	}
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return logs.Write(p) }), nil))
	open := newTestServer(t, Options{Addr: "127.0.0.1:8080", Checks: checks, Logger: logger})
	auth := newTestServer(t, Options{Addr: "0.0.0.0:8080", Token: "tok", Checks: checks, Logger: logger})
	for _, tc := range []struct {
		name   string
		ts     *httptest.Server
		header map[string]string
	}{
		{"Open", open, nil},
		{"NoCredentials", auth, nil},
		{"WrongCredentials", auth, map[string]string{"Authorization": "Bearer nope"}},
	} {
		code, _, body := get(t, tc.ts.URL+"/readyz", tc.header)
		if code != http.StatusServiceUnavailable || body != "not ok\n" {
			t.Errorf("%s: %d %q; want 503 \"not ok\"", tc.name, code, body)
		}
	}
	code, _, body := get(t, auth.URL+"/readyz", map[string]string{"Authorization": "Bearer tok"})
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "postgres: unreachable: failed to connect to host=db.internal") || !strings.Contains(body, "redis: ok") {
		t.Errorf("with credentials: %d %q; want the details", code, body)
	}
	mu.Lock()
	if !strings.Contains(logs.String(), "db.internal") {
		t.Errorf("the failure is not logged: %q", logs.String())
	}
	mu.Unlock()
	okSrv := newTestServer(t, Options{Addr: "127.0.0.1:8080", Checks: checks[1:]})
	if code, _, body := get(t, okSrv.URL+"/readyz", nil); code != 200 || body != "ok\n" {
		t.Errorf("all well: %d %q", code, body)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// postUpload posts a file through the upload form.
func postUpload(t *testing.T, base, name string, content []byte) (*http.Response, string) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("app_id", "app-1")
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write(content)
	mw.Close()
	req, _ := http.NewRequest("POST", base+"/upload", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func TestSixthConcurrentUploadRefused(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var inFlight atomic.Int32
	ts := newTestServer(t, Options{Addr: "127.0.0.1:8080", Import: importFunc(func(ctx context.Context, req intake.Request) (*intake.Result, error) {
		inFlight.Add(1)
		<-release
		return &intake.Result{ImportResult: repository.ImportResult{BatchID: 1}}, nil
	})})
	var wg sync.WaitGroup
	codes := make(chan int, DefaultMaxUploads)
	for i := 0; i < DefaultMaxUploads; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, _ := postUpload(t, ts.URL, "orgs.xlsx", []byte("PK"))
			codes <- resp.StatusCode
		}()
	}
	testenv.WaitFor(t, 10*time.Second, "five uploads importing", func() bool { return inFlight.Load() == DefaultMaxUploads })
	resp, body := postUpload(t, ts.URL, "orgs.xlsx", []byte("PK"))
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, "5 files are being imported already") {
		t.Errorf("6th upload: %d, Retry-After %q, body %.300q", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	close(release)
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != http.StatusSeeOther {
			t.Errorf("an upload within the limit: %d", c)
		}
	}
	// The slots are free again.
	if resp, _ := postUpload(t, ts.URL, "orgs.xlsx", []byte("PK")); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("upload after the others finished: %d", resp.StatusCode)
	}
}

func TestUploadNameNeverAPath(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []intake.Request
	ts := newTestServer(t, Options{Addr: "127.0.0.1:8080", Import: importFunc(func(ctx context.Context, req intake.Request) (*intake.Result, error) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, req)
		if _, err := os.Stat(req.Path); err != nil {
			t.Errorf("%s: the upload is not at %s: %v", req.FileName, req.Path, err)
		}
		return nil, &importer.FileError{Reason: "test refusal"}
	})})
	for name, display := range map[string]string{
		"../../etc/passwd.xlsx":   "passwd.xlsx",
		`..\..\windows\orgs.xlsx`: "orgs.xlsx",
		"/tmp/x/../orgs.zip":      "orgs.zip",
	} {
		resp, body := postUpload(t, ts.URL, name, []byte("PK"))
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, display+" was refused: test refusal. Nothing was stored.") {
			t.Errorf("upload %q: %d %.500q", name, resp.StatusCode, body)
		}
	}
	for _, name := range []string{"..", ".", "..."} {
		resp, body := postUpload(t, ts.URL, name, []byte("PK"))
		if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(body, "only .xlsx workbooks") {
			t.Errorf("upload %q: %d %.300q", name, resp.StatusCode, body)
		}
		if strings.Contains(body, os.TempDir()) || strings.Contains(body, "onboard-upload-") {
			t.Errorf("upload %q shows a temporary path: %.500q", name, body)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, req := range got {
		if filepath.Base(req.Path) != "upload" || !strings.Contains(req.Path, "onboard-upload-") {
			t.Errorf("%s stored at %s", req.FileName, req.Path)
		}
	}
}

func TestSlowClientsCutOff(t *testing.T) {
	t.Parallel()
	s, err := New(Options{Addr: "127.0.0.1:0", Timeouts: Timeouts{ReadHeader: 300 * time.Millisecond, Read: 600 * time.Millisecond},
		Resume: func(context.Context, string) (int, error) { return 0, nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()

	// closedWithin sends start, then a byte every 100ms, and reports how
	// long the server took to close the connection.
	closedWithin := func(start string) time.Duration {
		conn, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		begin := time.Now()
		io.WriteString(conn, start)
		closed := make(chan struct{})
		go func() {
			io.Copy(io.Discard, conn)
			close(closed)
		}()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-closed:
				return time.Since(begin)
			case <-tick.C:
				if _, err := conn.Write([]byte("x")); err != nil {
					<-closed
					return time.Since(begin)
				}
				if time.Since(begin) > 10*time.Second {
					return time.Since(begin)
				}
			}
		}
	}
	// Headers sent a byte at a time (slow loris).
	if d := closedWithin("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "); d > 3*time.Second {
		t.Errorf("a client sending its headers slowly was cut off after %v", d)
	}
	// A body sent a byte at a time.
	if d := closedWithin("POST /apps/a/resume HTTP/1.1\r\nHost: 127.0.0.1\r\nSec-Fetch-Site: same-origin\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\n"); d > 3*time.Second {
		t.Errorf("a client sending its body slowly was cut off after %v", d)
	}
	// A request sent at once is answered.
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
	line, _ := bufio.NewReader(conn).ReadString('\n')
	if !strings.HasPrefix(line, "HTTP/1.1 200") {
		t.Errorf("a prompt request: %q", line)
	}
}

func TestFailedSignInsThrottled(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	ts := newTestServer(t, Options{Addr: "0.0.0.0:8080", Token: "tok", Now: clock})
	for i := 1; i <= DefaultAuthFailures; i++ {
		if code, _, _ := get(t, ts.URL+"/", map[string]string{"Authorization": "Bearer wrong"}); code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d, want 401", i, code)
		}
	}
	code, h, _ := get(t, ts.URL+"/", map[string]string{"Authorization": "Bearer wrong"})
	if code != http.StatusTooManyRequests || h.Get("Retry-After") == "" {
		t.Errorf("failure %d: %d, Retry-After %q; want 429", DefaultAuthFailures+1, code, h.Get("Retry-After"))
	}
	// While throttled even the right token is refused, readiness details too.
	if code, _, _ := get(t, ts.URL+"/", map[string]string{"Authorization": "Bearer tok"}); code != http.StatusTooManyRequests {
		t.Errorf("right token while throttled: %d", code)
	}
	if code, _, body := get(t, ts.URL+"/readyz", map[string]string{"Authorization": "Bearer tok"}); code != http.StatusTooManyRequests {
		t.Errorf("readyz while throttled: %d %q", code, body)
	}
	// Requests without credentials do not count: a browser's first try.
	mu.Lock()
	now = now.Add(61 * time.Second)
	mu.Unlock()
	for i := 0; i < 3*DefaultAuthFailures; i++ {
		get(t, ts.URL+"/", nil)
	}
	if code, _, _ := get(t, ts.URL+"/", map[string]string{"Authorization": "Bearer tok"}); code != http.StatusOK {
		t.Errorf("a minute later with the right token: %d", code)
	}
}

func TestUploadName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"orgs.xlsx":              "orgs.xlsx",
		"../../etc/passwd.xlsx":  "passwd.xlsx",
		`C:\Users\me\orgs.xlsx`:  "orgs.xlsx",
		"a\x01b\x7f\u0085.xlsx":  "ab.xlsx",
		"..":                     "upload",
		" . ":                    "upload",
		"dir/":                   "upload",
		strings.Repeat("名", 300): strings.Repeat("名", 200),
	} {
		if got := uploadName(in); got != want {
			t.Errorf("uploadName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLogsMasked(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := slog.New(MaskLogs(slog.NewTextHandler(&buf, nil))).With("id", "11010519491231002X")
	log.Error("row 44030619851120783X refused", "reason", `"91350100M000100Y43" is not valid`,
		"error", fmt.Errorf("wrapped: %s", "440306198511207832"), slog.Group("g", "card", "6222021234567890123"), "n", 42)
	out := buf.String()
	for _, full := range []string{"11010519491231002X", "44030619851120783X", "91350100M000100Y43", "440306198511207832", "6222021234567890123"} {
		if strings.Contains(out, full) {
			t.Errorf("log holds %s: %s", full, out)
		}
	}
	if !strings.Contains(out, "4403**********783X") || !strings.Contains(out, "n=42") {
		t.Errorf("log %s", out)
	}
}

// selfSigned writes a certificate and key for 127.0.0.1.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}

func TestServeTLS(t *testing.T) {
	t.Parallel()
	if _, err := New(Options{Addr: "127.0.0.1:0", TLSCertFile: "cert.pem"}); err == nil {
		t.Error("a certificate without a key: no error")
	}
	cert, key := selfSigned(t, t.TempDir())
	s, err := New(Options{Addr: "127.0.0.1:0", TLSCertFile: cert, TLSKeyFile: key})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(cert)
	pool.AppendCertsFromPEM(pem)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer client.CloseIdleConnections()
	resp, err := client.Get("https://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Errorf("HTTPS: %d, HSTS %q", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
	}
	// Plain HTTP to the TLS port gets nowhere.
	if resp, err := http.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == 200 {
			t.Error("plain HTTP answered 200 on the TLS port")
		}
	}
}
