package esssim

import (
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The worked example of the essbasic reference, §9.
func TestSignatureWorkedExample(t *testing.T) {
	t.Parallel()
	const (
		key       = "EXAMPLESECRETKEY"
		timestamp = "1700000000"
		body      = `{"Agent":{"AppId":"app-demo","ProxyOperator":{"OpenId":"admin-1"},"ProxyOrganizationOpenId":"org-1"},"Operate":"OPEN","ServiceType":"AUTO_SIGN"}`
	)
	headers := map[string]string{"content-type": "application/json", "host": "essbasic.tencentcloudapi.com"}
	value := func(n string) string { return headers[n] }
	names := []string{"host", "content-type"} // unsorted on purpose

	payload := sha256Hex([]byte(body))
	canonical := canonicalRequest(names, value, payload)
	date := "2023-11-14"
	kDate := hmacSHA256([]byte("TC3"+key), date)
	kService := hmacSHA256(kDate, "essbasic")
	kSigning := hmacSHA256(kService, "tc3_request")
	steps := []struct{ name, got, want string }{
		{"HashedPayload", payload, "1706ac50ed2439e12ba48752f610ceb0f49c665aa102688d24287000a4c895bb"},
		{"CanonicalHeaders", canonicalHeadersOf(names, value),
			"content-type:application/json\nhost:essbasic.tencentcloudapi.com\n"},
		{"SHA-256(CanonicalRequest)", sha256Hex([]byte(canonical)), "3a853dd5e59ee67b8dc244af00857e8191e79740ef53fcd7de4fd7b75c70a05d"},
		{"Scope date", time.Unix(1700000000, 0).UTC().Format("2006-01-02"), date},
		{"kDate", hex.EncodeToString(kDate), "07ad6d9429bc4d14e9c6a2ef84ed3a62faa34ed05a42688f87f9b897ef147090"},
		{"kService", hex.EncodeToString(kService), "409bc4f85d7d166d73f93e637ceba4808f1718e0d17690ab7aee437aec51b3fa"},
		{"kSigning", hex.EncodeToString(kSigning), "978eb88b11f3edd8a54ac75b7a9b8cc1713d560b4fc08d4eb806a12c59e91919"},
		{"kSigning via signingKey", hex.EncodeToString(signingKey(key, date, "essbasic")), "978eb88b11f3edd8a54ac75b7a9b8cc1713d560b4fc08d4eb806a12c59e91919"},
		{"Signature", signature(key, timestamp, names, value, []byte(body), false), "a600c7d46ea8a2bc89b93921a9dae5f2d8bc6fdd750f561199074bdea24ec2c2"},
	}
	for _, s := range steps {
		if s.got != s.want {
			t.Errorf("%s = %q, want %q", s.name, s.got, s.want)
		}
	}
	headers["host"] = "127.0.0.1:8080"
	if got, want := signature(key, timestamp, names, value, []byte(body), false), "f100ed2e83bdf06df9c8167c83e8a5fc9b7231413798e251ce2ba261c88c6ef1"; got != want {
		t.Errorf("Signature with host 127.0.0.1:8080 = %s, want %s", got, want)
	}

	// The simulator accepts exactly this request at that time.
	sim := New(Options{SecretID: "AKIDEXAMPLEID", SecretKey: key, Apps: []App{{AppID: "app-demo"}},
		Now: func() time.Time { return time.Unix(1700000000, 0) }})
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	r.Host = "127.0.0.1:8080"
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-TC-Action", ActionModifyExtendedService)
	r.Header.Set("X-TC-Version", Version)
	r.Header.Set("X-TC-Timestamp", timestamp)
	r.Header.Set("Authorization", "TC3-HMAC-SHA256 Credential=AKIDEXAMPLEID/2023-11-14/essbasic/tc3_request, SignedHeaders=content-type;host, Signature=f100ed2e83bdf06df9c8167c83e8a5fc9b7231413798e251ce2ba261c88c6ef1")
	w := httptest.NewRecorder()
	sim.ServeHTTP(w, r)
	// Signature accepted: the answer is about the company (never synced), not authentication.
	if code := errorCode(t, w); code != "OperationDenied" {
		t.Errorf("worked example answered %q, want OperationDenied (past the signature check)", code)
	}
}

func canonicalHeadersOf(names []string, value func(string) string) string {
	h, _ := canonicalHeaders(names, value)
	return h
}

// rawRequest builds a signed request to the simulator.
type rawRequest struct {
	action, version, body string
	secretID, secretKey   string
	at                    time.Time // signing time
	mutate                func(r *http.Request)
}

func (rr rawRequest) build() *http.Request {
	if rr.version == "" {
		rr.version = Version
	}
	if rr.secretID == "" {
		rr.secretID, rr.secretKey = DefaultSecretID, DefaultSecretKey
	}
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(rr.body))
	r.Host = "127.0.0.1:18090"
	if rr.action != "" {
		r.Header.Set("X-TC-Action", rr.action)
	}
	r.Header.Set("X-TC-Version", rr.version)
	SignRequest(r, []byte(rr.body), rr.secretID, rr.secretKey, rr.at)
	if rr.mutate != nil {
		rr.mutate(r)
	}
	return r
}

// envelope is the platform's answer.
type envelope struct {
	Response map[string]json.RawMessage
}

func decodeEnvelope(t *testing.T, w *httptest.ResponseRecorder) envelope {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("HTTP status %d, want 200", w.Code)
	}
	var env envelope
	if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil {
		t.Fatalf("answer is not JSON: %v: %s", err, w.Body)
	}
	var rid string
	if err := json.Unmarshal(env.Response["RequestId"], &rid); err != nil || rid == "" {
		t.Fatalf("answer without RequestId: %s", w.Body)
	}
	return env
}

// errorCode returns the error code of an answer, "" for a success.
func errorCode(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	env := decodeEnvelope(t, w)
	raw, ok := env.Response["Error"]
	if !ok {
		return ""
	}
	var e struct{ Code, Message string }
	if err := json.Unmarshal(raw, &e); err != nil || e.Code == "" || e.Message == "" {
		t.Fatalf("malformed error: %s", raw)
	}
	return e.Code
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	now := time.Unix(1760000000, 0)
	body := `{"Agent":{"AppId":"onboard-sim-app","ProxyOrganizationOpenId":"org-1"},"ProxyOrganizationName":"示例企业"}`
	tests := []struct {
		name string
		req  rawRequest
		want string
	}{
		{"signed", rawRequest{}, ""},
		{"tampered body", rawRequest{mutate: func(r *http.Request) {
			b := strings.Replace(body, "示例企业", "别的企业", 1)
			r.Body = ioNopCloser(b)
			r.ContentLength = int64(len(b))
		}}, "AuthFailure.SignatureFailure"},
		{"tampered host header", rawRequest{mutate: func(r *http.Request) { r.Host = "127.0.0.1:18091" }}, "AuthFailure.SignatureFailure"},
		{"tampered content type", rawRequest{mutate: func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }}, "AuthFailure.SignatureFailure"},
		{"tampered timestamp", rawRequest{mutate: func(r *http.Request) {
			r.Header.Set("X-TC-Timestamp", strconv.FormatInt(now.Unix()+1, 10))
		}}, "AuthFailure.SignatureFailure"},
		{"scope of another day", rawRequest{mutate: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), now.UTC().Format("2006-01-02"), "2020-01-01", 1))
		}}, "AuthFailure.SignatureFailure"},
		{"scope of another service", rawRequest{mutate: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/essbasic/", "/ess/", 1))
		}}, "AuthFailure.SignatureFailure"},
		{"wrong key", rawRequest{secretID: DefaultSecretID, secretKey: "not-the-key"}, "AuthFailure.SignatureFailure"},
		{"unknown secret id", rawRequest{secretID: "AKIDunknown", secretKey: DefaultSecretKey}, "AuthFailure.SecretIdNotFound"},
		{"expired", rawRequest{at: now.Add(-301 * time.Second)}, "AuthFailure.SignatureExpire"},
		{"from the future", rawRequest{at: now.Add(301 * time.Second)}, "AuthFailure.SignatureExpire"},
		{"just within 5 minutes", rawRequest{at: now.Add(-299 * time.Second)}, ""},
		{"no authorization", rawRequest{mutate: func(r *http.Request) { r.Header.Del("Authorization") }}, "AuthFailure.InvalidAuthorization"},
		{"other algorithm", rawRequest{mutate: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "TC3-HMAC-SHA256", "HmacSHA256", 1))
		}}, "AuthFailure.InvalidAuthorization"},
		{"host not signed", rawRequest{mutate: func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "content-type;host", "content-type", 1))
		}}, "AuthFailure.InvalidAuthorization"},
		// Order: an expired request with a bad signature is reported as expired;
		// a malformed one with an unknown action as malformed.
		{"expired and tampered", rawRequest{at: now.Add(-time.Hour), mutate: func(r *http.Request) { r.Host = "x" }}, "AuthFailure.SignatureExpire"},
		{"malformed and unknown action", rawRequest{action: "Nope", mutate: func(r *http.Request) { r.Header.Set("Authorization", "x") }}, "AuthFailure.InvalidAuthorization"},
		{"no action", rawRequest{action: "-"}, "MissingParameter"},
		{"unknown action", rawRequest{action: "DescribeFlows"}, "InvalidAction"},
		{"wrong version", rawRequest{version: "2020-01-01"}, "NoSuchVersion"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sim := New(Options{Now: func() time.Time { return now }})
			rr := tt.req
			rr.body = body
			if rr.at.IsZero() {
				rr.at = now
			}
			if rr.action == "" {
				rr.action = ActionSyncProxyOrganization
			} else if rr.action == "-" {
				rr.action = ""
			}
			w := httptest.NewRecorder()
			sim.ServeHTTP(w, rr.build())
			if got := errorCode(t, w); got != tt.want {
				t.Errorf("answer %q, want %q: %s", got, tt.want, w.Body)
			}
			synced := sim.Stats().Syncs["onboard-sim-app/org-1"]
			if (tt.want == "") != (synced == 1) {
				t.Errorf("company synced %d times, want %d", synced, map[bool]int{true: 1}[tt.want == ""])
			}
		})
	}
}

func TestUnsignedPayload(t *testing.T) {
	t.Parallel()
	now := time.Now()
	sim := New(Options{Now: func() time.Time { return now }})
	body := `{"Agent":{"AppId":"onboard-sim-app","ProxyOrganizationOpenId":"org-1"},"ProxyOrganizationName":"示例企业"}`
	r := rawRequest{action: ActionSyncProxyOrganization, body: body, at: now, mutate: nil}.build()
	// Re-sign with X-TC-Content-SHA256: UNSIGNED-PAYLOAD.
	r.Header.Set("X-TC-Content-SHA256", "UNSIGNED-PAYLOAD")
	r.Header.Del("Authorization")
	SignRequest(r, []byte("ignored"), DefaultSecretID, DefaultSecretKey, now)
	w := httptest.NewRecorder()
	sim.ServeHTTP(w, r)
	if code := errorCode(t, w); code != "" {
		t.Fatalf("unsigned payload refused: %s", w.Body)
	}
}
