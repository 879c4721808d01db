package ess_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ess-onboard/onboard/ess"
	"github.com/ess-onboard/onboard/esssim"
)

// Valid values in place of the documentation's placeholders.
const (
	validCreditCode = "91350100M000100Y43"
	validIDNumber   = "11010519491231002X"
)

// The documentation's placeholders.
const (
	docCreditCode = "BOLIU101304662708A "
	docIDNumber   = "620000198802020000"
	docLicense    = "aHR0cHM6Ly9jYXBpLndvYS5jb20vhaWwlM0ZpZCUzRGVzc2Jhc2ljJTI2dGFiJTNEYXBp..图片base64省略"
	docAppID      = "yDwhxUUckp3gl8j5UuFX33LSNozpRsbi"
)

func pngBase64(t *testing.T) string {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, 4, 4))); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(b.Bytes())
}

// recorder is an HTTP transport that keeps the last answer body per action
// and can alter requests after the SDK signed them.
type recorder struct {
	mu     sync.Mutex
	last   map[string][]byte
	mutate func(*http.Request)
	next   http.RoundTripper
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	mutate := r.mutate
	r.mu.Unlock()
	if mutate != nil {
		mutate(req)
	}
	resp, err := r.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	r.mu.Lock()
	r.last[req.Header.Get("X-TC-Action")] = body
	r.mu.Unlock()
	return resp, nil
}

func (r *recorder) setMutate(f func(*http.Request)) {
	r.mu.Lock()
	r.mutate = f
	r.mu.Unlock()
}

// responseKeys returns the sorted keys of the last answer's Response object.
func (r *recorder) responseKeys(t *testing.T, action string) []string {
	t.Helper()
	r.mu.Lock()
	body := r.last[action]
	r.mu.Unlock()
	var env struct{ Response map[string]json.RawMessage }
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("answer of %s is not JSON: %s", action, body)
	}
	return sortedKeys(env.Response)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

type bundle struct {
	sim    *esssim.Server
	srv    *httptest.Server
	client *ess.Client
	rec    *recorder
}

// setup starts a simulator over loopback and a client for it.
func setup(t testing.TB, opts esssim.Options, edit ...func(*ess.Config)) *bundle {
	t.Helper()
	sim := esssim.New(opts)
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	rec := &recorder{last: map[string][]byte{}, next: http.DefaultTransport.(*http.Transport).Clone()}
	cfg := ess.Config{Endpoint: srv.URL, SecretID: esssim.DefaultSecretID, SecretKey: esssim.DefaultSecretKey,
		Timeout: 20 * time.Second, Transport: rec}
	for _, e := range edit {
		e(&cfg)
	}
	client, err := ess.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &bundle{sim: sim, srv: srv, client: client, rec: rec}
}

func operator(id string) *ess.UserInfo { return &ess.UserInfo{OpenId: id} }

func offset(n int64) *int64 { return &n }

// apiError asserts err is an *ess.APIError with the given code and class.
func apiError(t *testing.T, err error, code string, class ess.Class) *ess.APIError {
	t.Helper()
	var ae *ess.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not an *ess.APIError", err, err)
	}
	if ae.Code != code || ess.ClassOf(err) != class || ae.Class != class {
		t.Fatalf("got %s (class %s), want %s (class %s): %v", ae.Code, ess.ClassOf(err), code, class, err)
	}
	if ae.Action == "" || ae.Message == "" {
		t.Errorf("error without action or message: %#v", ae)
	}
	return ae
}

// docSyncRequest is the spec pages' SyncProxyOrganization example with the
// placeholders replaced by valid values.
func docSyncRequest(t *testing.T) *ess.SyncProxyOrganizationRequest {
	return &ess.SyncProxyOrganizationRequest{
		Agent:                   ess.Agent{AppId: docAppID, ProxyOrganizationOpenId: "org_zhansan", ProxyOperator: operator("n31517")},
		ProxyOrganizationName:   "典子谦示例企业",
		UniformSocialCreditCode: validCreditCode,
		BusinessLicense:         pngBase64(t),
		ProxyLegalName:          "典子谦",
		ProxyLegalIdCardType:    "ID_CARD",
		ProxyLegalIdCardNumber:  validIDNumber,
	}
}

func docApps() []esssim.App {
	return []esssim.App{
		{AppID: docAppID, QueryOrgOpenID: "org_dianziqian", QueryOperatorOpenID: "n9527"},
		{AppID: "APPID122344555"},
	}
}

func TestSyncProxyOrganizationDocExample(t *testing.T) {
	t.Parallel()
	b := setup(t, esssim.Options{Apps: docApps()})
	ctx := context.Background()
	resp, err := b.client.SyncProxyOrganization(ctx, docSyncRequest(t))
	if err != nil {
		t.Fatal(err)
	}
	if resp.RequestId == "" {
		t.Error("no RequestId")
	}
	if diff := cmp.Diff([]string{"RequestId"}, b.rec.responseKeys(t, ess.ActionSyncProxyOrganization)); diff != "" {
		t.Errorf("answer shape (-documented +got):\n%s", diff)
	}
	v, ok := b.sim.Org(docAppID, "org_zhansan")
	if !ok || v.Name != "典子谦示例企业" || v.CreditCode != validCreditCode || v.LegalIDCardNumber != validIDNumber || !v.HasLicense {
		t.Errorf("simulator's company: %+v", v)
	}

	// Each placeholder of the example is refused with its code, and the
	// refused call changes nothing.
	tests := []struct {
		name string
		edit func(*ess.SyncProxyOrganizationRequest)
		code string
	}{
		{"credit code", func(r *ess.SyncProxyOrganizationRequest) { r.UniformSocialCreditCode = docCreditCode }, "InvalidParameter.UniformSocialCreditCode"},
		{"ID number", func(r *ess.SyncProxyOrganizationRequest) { r.ProxyLegalIdCardNumber = docIDNumber }, "InvalidParameter.CardNumber"},
		{"license", func(r *ess.SyncProxyOrganizationRequest) { r.BusinessLicense = docLicense }, "InvalidParameter.BusinessLicense"},
		{"license not an image", func(r *ess.SyncProxyOrganizationRequest) {
			r.BusinessLicense = base64.StdEncoding.EncodeToString([]byte("GIF89a not a png"))
		}, "InvalidParameter.FileType"},
		{"license over 5 MiB", func(r *ess.SyncProxyOrganizationRequest) {
			r.BusinessLicense = strings.Repeat("A", 5<<20+4)
		}, "LimitExceeded.FileSize"},
		{"half-width brackets", func(r *ess.SyncProxyOrganizationRequest) { r.ProxyOrganizationName = "典子谦(深圳)示例企业" }, "InvalidParameter.OrganizationName"},
		{"no name", func(r *ess.SyncProxyOrganizationRequest) { r.ProxyOrganizationName = "" }, "MissingParameter"},
		{"card type", func(r *ess.SyncProxyOrganizationRequest) { r.ProxyLegalIdCardType = "PASSPORT" }, "InvalidParameter.CardType"},
		{"legal name", func(r *ess.SyncProxyOrganizationRequest) { r.ProxyLegalName = "典子谦1" }, "InvalidParameter.Name"},
		{"address over 500", func(r *ess.SyncProxyOrganizationRequest) { r.ProxyAddress = strings.Repeat("路", 501) }, "InvalidParameter.ParamError"},
		{"no AppId", func(r *ess.SyncProxyOrganizationRequest) { r.Agent.AppId = "" }, "MissingParameter"},
		{"no OpenId", func(r *ess.SyncProxyOrganizationRequest) { r.Agent.ProxyOrganizationOpenId = "" }, "MissingParameter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := docSyncRequest(t)
			req.Agent.ProxyOrganizationOpenId = "org_refused"
			tt.edit(req)
			_, err := b.client.SyncProxyOrganization(ctx, req)
			ae := apiError(t, err, tt.code, ess.ClassPermanent)
			if ae.RequestID == "" {
				t.Error("platform error without RequestId")
			}
			if _, ok := b.sim.Org(docAppID, "org_refused"); ok {
				t.Error("a refused sync created the company")
			}
		})
	}
}

func TestSyncDocExampleVerbatimLenient(t *testing.T) {
	t.Parallel()
	verbatim := func(t *testing.T) *ess.SyncProxyOrganizationRequest {
		r := docSyncRequest(t)
		r.UniformSocialCreditCode, r.ProxyLegalIdCardNumber, r.BusinessLicense = docCreditCode, docIDNumber, docLicense
		return r
	}
	strict := setup(t, esssim.Options{Apps: docApps()})
	if _, err := strict.client.SyncProxyOrganization(context.Background(), verbatim(t)); err == nil {
		t.Error("strict simulator accepted the placeholders")
	}
	lenient := setup(t, esssim.Options{Apps: docApps(), Lenient: true})
	if _, err := lenient.client.SyncProxyOrganization(context.Background(), verbatim(t)); err != nil {
		t.Errorf("lenient simulator refused the documentation's example: %v", err)
	}
}

// The documented fields of ChannelOrganizationInfo in the spec pages' answers.
var docInfoKeys = []string{"AdminMobile", "AdminName", "AdminOpenId", "AuthorizationStatus", "AuthorizationType",
	"LegalName", "LegalOpenId", "OrganizationId", "OrganizationName", "OrganizationOpenId", "UnifiedSocialCreditCode"}

func TestDescribeChannelOrganizationsDocExamples(t *testing.T) {
	t.Parallel()
	b := setup(t, esssim.Options{Apps: docApps(), Lifecycle: &esssim.Lifecycle{Manual: true}})
	ctx := context.Background()
	if _, err := b.client.SyncProxyOrganization(ctx, docSyncRequest(t)); err != nil {
		t.Fatal(err)
	}
	agent := ess.Agent{AppId: docAppID, ProxyOrganizationOpenId: "org_dianziqian", ProxyOperator: operator("n9527")}

	// Example 1: one company.
	one, err := b.client.DescribeChannelOrganizations(ctx, &ess.DescribeChannelOrganizationsRequest{
		Agent: agent, OrganizationOpenId: "org_dianziqian", Offset: offset(0), Limit: 20})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"ChannelOrganizationInfos", "Limit", "Offset", "RequestId", "Total"},
		b.rec.responseKeys(t, ess.ActionDescribeChannelOrganizations)); diff != "" {
		t.Errorf("answer shape (-documented +got):\n%s", diff)
	}
	if one.Total != 1 || len(one.ChannelOrganizationInfos) != 1 || one.Limit != 20 || one.Offset != 0 {
		t.Fatalf("one company: %+v", one)
	}
	got := one.ChannelOrganizationInfos[0]
	if got.OrganizationOpenId != "org_dianziqian" || got.AuthorizationStatus != ess.StatusVerified ||
		got.AdminOpenId != "n9527" || len(got.OrganizationId) != 32 || !strings.Contains(got.AdminMobile, "****") {
		t.Errorf("query company: %+v", got)
	}
	var raw struct {
		Response struct{ ChannelOrganizationInfos []map[string]json.RawMessage }
	}
	b.rec.mu.Lock()
	_ = json.Unmarshal(b.rec.last[ess.ActionDescribeChannelOrganizations], &raw)
	b.rec.mu.Unlock()
	keys := sortedKeys(raw.Response.ChannelOrganizationInfos[0])
	for _, k := range docInfoKeys {
		if sort.SearchStrings(keys, k) == len(keys) || keys[sort.SearchStrings(keys, k)] != k {
			t.Errorf("ChannelOrganizationInfo lacks %s: %v", k, keys)
		}
	}

	// Example 2: all companies of the application. A company only synced
	// shows as UNVERIFIED, with its synced data.
	all, err := b.client.DescribeChannelOrganizations(ctx, &ess.DescribeChannelOrganizationsRequest{Agent: agent, Offset: offset(0), Limit: 20})
	if err != nil {
		t.Fatal(err)
	}
	if all.Total != 2 || len(all.ChannelOrganizationInfos) != 2 {
		t.Fatalf("all companies: %+v", all)
	}
	z := all.ChannelOrganizationInfos[1]
	if z.OrganizationOpenId != "org_zhansan" || z.AuthorizationStatus != ess.StatusUnverified ||
		z.OrganizationName != "典子谦示例企业" || z.UnifiedSocialCreditCode != validCreditCode || z.LegalName != "典子谦" ||
		z.AdminOpenId != "" || z.ActiveStatus != 0 {
		t.Errorf("synced company: %+v", z)
	}

	// Filter by status.
	verified, err := b.client.DescribeChannelOrganizations(ctx, &ess.DescribeChannelOrganizationsRequest{
		Agent: agent, Limit: 20, AuthorizationStatusList: []string{ess.StatusUnverified}})
	if err != nil {
		t.Fatal(err)
	}
	if verified.Total != 1 || verified.ChannelOrganizationInfos[0].OrganizationOpenId != "org_zhansan" {
		t.Errorf("UNVERIFIED filter: %+v", verified)
	}

	// Refusals.
	for _, tt := range []struct {
		name string
		req  ess.DescribeChannelOrganizationsRequest
		code string
	}{
		{"limit 0", ess.DescribeChannelOrganizationsRequest{Agent: agent}, "InvalidParameter.ParamError"},
		{"limit 201", ess.DescribeChannelOrganizationsRequest{Agent: agent, Limit: 201}, "InvalidParameter.ParamError"},
		{"offset 20001", ess.DescribeChannelOrganizationsRequest{Agent: agent, Limit: 1, Offset: offset(20001)}, "InvalidParameter.ParamError"},
		{"unverified agent", ess.DescribeChannelOrganizationsRequest{Agent: ess.Agent{AppId: docAppID, ProxyOrganizationOpenId: "org_zhansan", ProxyOperator: operator("n31517")}, Limit: 1}, "OperationDenied"},
	} {
		_, err := b.client.DescribeChannelOrganizations(ctx, &tt.req)
		apiError(t, err, tt.code, ess.ClassPermanent)
	}
}

// verified syncs a company and makes it VERIFIED with admin as its admin.
func verified(t *testing.T, b *bundle, appID, org, admin string) {
	t.Helper()
	ctx := context.Background()
	if _, err := b.client.SyncProxyOrganization(ctx, &ess.SyncProxyOrganizationRequest{
		Agent: ess.Agent{AppId: appID, ProxyOrganizationOpenId: org}, ProxyOrganizationName: "测试企业（" + org + "）"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.client.CreateConsoleLoginUrl(ctx, &ess.CreateConsoleLoginUrlRequest{
		Agent: ess.Agent{AppId: appID, ProxyOrganizationOpenId: org, ProxyOperator: operator(admin)}, ProxyOrganizationName: "测试企业（" + org + "）"}); err != nil {
		t.Fatal(err)
	}
	if err := b.sim.SetStatus(appID, org, esssim.StatusVerified); err != nil {
		t.Fatal(err)
	}
}

func TestModifyExtendedServiceDocExamples(t *testing.T) {
	t.Parallel()
	b := setup(t, esssim.Options{Apps: docApps(), Lifecycle: &esssim.Lifecycle{Manual: true}})
	ctx := context.Background()
	verified(t, b, "APPID122344555", "org-open-id", "admin-open-id")
	agent := ess.Agent{AppId: "APPID122344555", ProxyOrganizationOpenId: "org-open-id", ProxyOperator: operator("admin-open-id")}

	// Example 1: close automatic signing.
	resp, err := b.client.ModifyExtendedService(ctx, &ess.ModifyExtendedServiceRequest{Agent: agent, ServiceType: "AUTO_SIGN", Operate: "CLOSE"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.OperateUrl != "" || resp.RequestId == "" {
		t.Errorf("CLOSE: %+v", resp)
	}
	if diff := cmp.Diff([]string{"OperateUrl", "RequestId"}, b.rec.responseKeys(t, ess.ActionModifyExtendedService)); diff != "" {
		t.Errorf("answer shape (-documented +got):\n%s", diff)
	}

	// Example 2: open automatic signing: a link valid for 24 hours.
	before := time.Now().Unix()
	resp, err = b.client.ModifyExtendedService(ctx, &ess.ModifyExtendedServiceRequest{Agent: agent, ServiceType: "AUTO_SIGN", Operate: "OPEN"})
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(resp.OperateUrl)
	if err != nil || u.Scheme != "https" {
		t.Fatalf("OperateUrl %q", resp.OperateUrl)
	}
	exp, _ := strconv.ParseInt(u.Query().Get("expired_time"), 10, 64)
	if exp < before+86400 || exp > time.Now().Unix()+86400 {
		t.Errorf("expired_time %d, want request time + 86400 (%d)", exp, before+86400)
	}
	if u.Query().Get("to") != "OPEN_SERVER_SIGN" {
		t.Errorf("OperateUrl %s", resp.OperateUrl)
	}

	// Example 3: the cross-page seal opens at once.
	resp, err = b.client.ModifyExtendedService(ctx, &ess.ModifyExtendedServiceRequest{Agent: agent, ServiceType: "PAGING_SEAL", Operate: "OPEN"})
	if err != nil || resp.OperateUrl != "" {
		t.Errorf("PAGING_SEAL: %+v, %v", resp, err)
	}
	if v, _ := b.sim.Org("APPID122344555", "org-open-id"); v.Services["PAGING_SEAL"].State != esssim.ServiceOpen ||
		v.Services["AUTO_SIGN"].State != esssim.ServicePending {
		t.Errorf("services: %+v", v.Services)
	}

	// Refusals.
	for _, tt := range []struct {
		name string
		req  ess.ModifyExtendedServiceRequest
		code string
	}{
		{"unknown service", ess.ModifyExtendedServiceRequest{Agent: agent, ServiceType: "FAST_SIGN", Operate: "OPEN"}, "InvalidParameter.ParamError"},
		{"no operate", ess.ModifyExtendedServiceRequest{Agent: agent, ServiceType: "AUTO_SIGN"}, "MissingParameter"},
		{"operator not admin", ess.ModifyExtendedServiceRequest{Agent: ess.Agent{AppId: "APPID122344555", ProxyOrganizationOpenId: "org-open-id", ProxyOperator: operator("clerk")}, ServiceType: "AUTO_SIGN", Operate: "OPEN"}, "OperationDenied"},
		{"company not synced", ess.ModifyExtendedServiceRequest{Agent: ess.Agent{AppId: "APPID122344555", ProxyOrganizationOpenId: "other", ProxyOperator: operator("admin-open-id")}, ServiceType: "AUTO_SIGN", Operate: "OPEN"}, "OperationDenied"},
	} {
		_, err := b.client.ModifyExtendedService(ctx, &tt.req)
		apiError(t, err, tt.code, ess.ClassPermanent)
	}
}

func TestCreateConsoleLoginUrl(t *testing.T) {
	t.Parallel()
	b := setup(t, esssim.Options{Lifecycle: &esssim.Lifecycle{Manual: true}})
	ctx := context.Background()
	agent := ess.Agent{AppId: esssim.DefaultAppID, ProxyOrganizationOpenId: "org-c", ProxyOperator: operator("emp-1")}
	req := &ess.CreateConsoleLoginUrlRequest{Agent: agent, ProxyOrganizationName: "测试企业（C）",
		UniformSocialCreditCode: validCreditCode, ProxyOperatorName: "张三", ProxyOperatorMobile: "13800000000"}

	_, err := b.client.CreateConsoleLoginUrl(ctx, req)
	apiError(t, err, "FailedOperation.ErrNotSyncProxyOrganization", ess.ClassPermanent)

	if _, err := b.client.SyncProxyOrganization(ctx, &ess.SyncProxyOrganizationRequest{
		Agent: ess.Agent{AppId: esssim.DefaultAppID, ProxyOrganizationOpenId: "org-c"}, ProxyOrganizationName: "测试企业（C）"}); err != nil {
		t.Fatal(err)
	}
	resp, err := b.client.CreateConsoleLoginUrl(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(resp.ConsoleUrl, "https://") || resp.IsActivated || resp.ProxyOperatorIsVerified {
		t.Errorf("before verification: %+v", resp)
	}
	if diff := cmp.Diff([]string{"ConsoleUrl", "IsActivated", "ProxyOperatorIsVerified", "RequestId"},
		b.rec.responseKeys(t, ess.ActionCreateConsoleLoginUrl)); diff != "" {
		t.Errorf("answer shape (-documented +got):\n%s", diff)
	}
	if err := b.sim.SetStatus(esssim.DefaultAppID, "org-c", esssim.StatusVerified); err != nil {
		t.Fatal(err)
	}
	resp, err = b.client.CreateConsoleLoginUrl(ctx, req)
	if err != nil || !resp.IsActivated || !resp.ProxyOperatorIsVerified {
		t.Errorf("after verification: %+v, %v", resp, err)
	}
	v, _ := b.sim.Org(esssim.DefaultAppID, "org-c")
	if v.AdminOpenID != "emp-1" {
		t.Errorf("admin %q, want the console link's emp-1", v.AdminOpenID)
	}

	for _, tt := range []struct {
		name string
		edit func(*ess.CreateConsoleLoginUrlRequest)
		code string
	}{
		{"no operator", func(r *ess.CreateConsoleLoginUrlRequest) { r.Agent.ProxyOperator = nil }, "MissingParameter.ProxyOperatorOpenId"},
		{"no company OpenId", func(r *ess.CreateConsoleLoginUrlRequest) { r.Agent.ProxyOrganizationOpenId = "" }, "MissingParameter.OrgOpenId"},
		{"long OpenId", func(r *ess.CreateConsoleLoginUrlRequest) { r.Agent.ProxyOperator = operator(strings.Repeat("x", 65)) }, "InvalidParameter.OpenId"},
		{"endpoint", func(r *ess.CreateConsoleLoginUrlRequest) { r.Endpoint = "TV" }, "InvalidParameter.EndPoint"},
		{"mobile with +86", func(r *ess.CreateConsoleLoginUrlRequest) { r.ProxyOperatorMobile = "+8613800000000" }, "InvalidParameter.ParamError"},
		{"brackets", func(r *ess.CreateConsoleLoginUrlRequest) { r.ProxyOrganizationName = "测试企业(C)" }, "InvalidParameter.OrganizationName"},
	} {
		r := *req
		tt.edit(&r)
		_, err := b.client.CreateConsoleLoginUrl(ctx, &r)
		apiError(t, err, tt.code, ess.ClassPermanent)
	}
}

func TestUnknownParameterIsSystemic(t *testing.T) {
	t.Parallel()
	// The typed requests hold documented fields only, so add a field to the
	// SDK's request on its way out and sign it again.
	b := setup(t, esssim.Options{})
	b.rec.setMutate(func(r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		body = append(bytes.TrimSuffix(body, []byte("}")), []byte(`,"Extra":1}`)...)
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.Header.Del("Authorization")
		esssim.SignRequest(r, body, esssim.DefaultSecretID, esssim.DefaultSecretKey, time.Now())
	})
	_, err := b.client.SyncProxyOrganization(context.Background(), syncReq(esssim.DefaultAppID, "o"))
	apiError(t, err, "UnknownParameter", ess.ClassSystemic)
	if _, ok := b.sim.Org(esssim.DefaultAppID, "o"); ok {
		t.Error("a refused call created the company")
	}
}

func syncReq(app, org string) *ess.SyncProxyOrganizationRequest {
	return &ess.SyncProxyOrganizationRequest{Agent: ess.Agent{AppId: app, ProxyOrganizationOpenId: org}, ProxyOrganizationName: "测试企业（" + org + "）"}
}

func TestErrorClasses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("systemic: wrong secret key", func(t *testing.T) {
		b := setup(t, esssim.Options{}, func(c *ess.Config) { c.SecretKey = "wrong-key" })
		_, err := b.client.SyncProxyOrganization(ctx, syncReq(esssim.DefaultAppID, "o"))
		ae := apiError(t, err, "AuthFailure.SignatureFailure", ess.ClassSystemic)
		if strings.Contains(err.Error(), "wrong-key") || strings.Contains(fmt.Sprintf("%+v", ae), "wrong-key") {
			t.Errorf("error shows the key: %v", err)
		}
		if len(b.sim.Orgs(esssim.DefaultAppID)) != 1 {
			t.Error("an unauthenticated call created a company")
		}
	})
	t.Run("systemic: unknown secret id", func(t *testing.T) {
		b := setup(t, esssim.Options{}, func(c *ess.Config) { c.SecretID = "AKIDsomeoneelse" })
		_, err := b.client.SyncProxyOrganization(ctx, syncReq(esssim.DefaultAppID, "o"))
		apiError(t, err, "AuthFailure.SecretIdNotFound", ess.ClassSystemic)
	})
	t.Run("systemic: clock off by more than 5 minutes", func(t *testing.T) {
		b := setup(t, esssim.Options{Now: func() time.Time { return time.Now().Add(10 * time.Minute) }})
		_, err := b.client.SyncProxyOrganization(ctx, syncReq(esssim.DefaultAppID, "o"))
		ae := apiError(t, err, "AuthFailure.SignatureExpire", ess.ClassSystemic)
		if ae.MaxTries() != 2 {
			t.Errorf("MaxTries %d, want 2 (one fresh retry)", ae.MaxTries())
		}
	})
	t.Run("systemic: unknown application", func(t *testing.T) {
		b := setup(t, esssim.Options{})
		_, err := b.client.SyncProxyOrganization(ctx, syncReq("no-such-app", "o"))
		apiError(t, err, "ResourceNotFound.Application", ess.ClassSystemic)
	})
	t.Run("permanent: data", func(t *testing.T) {
		b := setup(t, esssim.Options{})
		r := syncReq(esssim.DefaultAppID, "o")
		r.ProxyLegalIdCardNumber = docIDNumber
		_, err := b.client.SyncProxyOrganization(ctx, r)
		ae := apiError(t, err, "InvalidParameter.CardNumber", ess.ClassPermanent)
		if ae.MaxTries() != 0 {
			t.Errorf("MaxTries %d", ae.MaxTries())
		}
	})
	t.Run("transient: server fault", func(t *testing.T) {
		b := setup(t, esssim.Options{Faults: []esssim.Fault{{Share: 1, Code: "InternalError", Times: 1}}})
		_, err := b.client.SyncProxyOrganization(ctx, syncReq(esssim.DefaultAppID, "o"))
		ae := apiError(t, err, "InternalError", ess.ClassTransient)
		if ae.RequestID == "" {
			t.Error("no RequestId")
		}
		if _, err := b.client.SyncProxyOrganization(ctx, syncReq(esssim.DefaultAppID, "o")); err != nil {
			t.Errorf("after the fault wore off: %v", err)
		}
	})
	t.Run("transient with a cap: FailedOperation", func(t *testing.T) {
		b := setup(t, esssim.Options{Faults: []esssim.Fault{{Share: 1, Code: "FailedOperation"}}})
		_, err := b.client.SyncProxyOrganization(ctx, syncReq(esssim.DefaultAppID, "o"))
		if ae := apiError(t, err, "FailedOperation", ess.ClassTransient); ae.MaxTries() != 3 {
			t.Errorf("MaxTries %d, want 3", ae.MaxTries())
		}
	})
	t.Run("transient: dropped connection", func(t *testing.T) {
		b := setup(t, esssim.Options{Faults: []esssim.Fault{{Share: 1, Drop: true}}})
		_, err := b.client.SyncProxyOrganization(ctx, syncReq(esssim.DefaultAppID, "o"))
		ae := apiError(t, err, ess.CodeNetworkError, ess.ClassTransient)
		if ae.RequestID != "" {
			t.Errorf("client-side error with RequestId %q", ae.RequestID)
		}
		if n := b.sim.Stats().Dropped[ess.ActionSyncProxyOrganization]; n != 1 {
			t.Errorf("simulator dropped %d connections, want exactly 1 (no retry)", n)
		}
	})
	t.Run("transient: timeout", func(t *testing.T) {
		b := setup(t, esssim.Options{Faults: []esssim.Fault{{Share: 1, Latency: 30 * time.Second}}},
			func(c *ess.Config) { c.Timeout = 200 * time.Millisecond })
		start := time.Now()
		_, err := b.client.SyncProxyOrganization(ctx, syncReq(esssim.DefaultAppID, "o"))
		ae := apiError(t, err, ess.CodeNetworkError, ess.ClassTransient)
		if !strings.Contains(ae.Message, "200ms") {
			t.Errorf("message %q does not say it timed out", ae.Message)
		}
		if d := time.Since(start); d > 15*time.Second {
			t.Errorf("took %s with a 200ms timeout against a 30s delay", d)
		}
	})
	t.Run("rate limited", func(t *testing.T) {
		b := setup(t, esssim.Options{RateLimit: 1, RateWindow: time.Hour})
		if _, err := b.client.SyncProxyOrganization(ctx, syncReq(esssim.DefaultAppID, "a")); err != nil {
			t.Fatal(err)
		}
		_, err := b.client.SyncProxyOrganization(ctx, syncReq(esssim.DefaultAppID, "b"))
		apiError(t, err, "RequestLimitExceeded", ess.ClassRateLimited)
		if n := b.sim.Stats().Total(ess.ActionSyncProxyOrganization, "RequestLimitExceeded"); n != 1 {
			t.Errorf("simulator saw %d rejected calls, want 1 (the SDK must not retry)", n)
		}
	})
	t.Run("canceled by the caller", func(t *testing.T) {
		b := setup(t, esssim.Options{Faults: []esssim.Fault{{Share: 1, Latency: 5 * time.Second}}})
		cctx, cancel := context.WithCancel(ctx)
		time.AfterFunc(100*time.Millisecond, cancel)
		_, err := b.client.SyncProxyOrganization(cctx, syncReq(esssim.DefaultAppID, "o"))
		apiError(t, err, ess.CodeNetworkError, ess.ClassCanceled)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("errors.Is(err, context.Canceled) is false: %v", err)
		}
	})
	t.Run("caller's deadline", func(t *testing.T) {
		b := setup(t, esssim.Options{Faults: []esssim.Fault{{Share: 1, Latency: 5 * time.Second}}})
		dctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		_, err := b.client.SyncProxyOrganization(dctx, syncReq(esssim.DefaultAppID, "o"))
		apiError(t, err, ess.CodeNetworkError, ess.ClassCanceled)
	})
	t.Run("canceled before sending", func(t *testing.T) {
		b := setup(t, esssim.Options{})
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := b.client.SyncProxyOrganization(cctx, syncReq(esssim.DefaultAppID, "o"))
		apiError(t, err, ess.CodeNetworkError, ess.ClassCanceled)
		if n := b.sim.Stats().Total(ess.ActionSyncProxyOrganization, ""); n != 0 {
			t.Errorf("%d calls reached the simulator", n)
		}
	})
	t.Run("transient: proxy page instead of JSON", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<html>502 Bad Gateway</html>")
		}))
		defer srv.Close()
		c, _ := ess.New(ess.Config{Endpoint: srv.URL, SecretID: "id", SecretKey: "key"})
		_, err := c.SyncProxyOrganization(ctx, syncReq("a", "o"))
		apiError(t, err, ess.CodeParseJSONError, ess.ClassTransient)
	})
	t.Run("transient: HTTP error status", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"Response":{}}`)
		}))
		defer srv.Close()
		c, _ := ess.New(ess.Config{Endpoint: srv.URL, SecretID: "id", SecretKey: "key"})
		_, err := c.SyncProxyOrganization(ctx, syncReq("a", "o"))
		apiError(t, err, ess.CodeHTTPStatusCodeError, ess.ClassTransient)
	})
	t.Run("transient: connection refused", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		addr := srv.URL
		srv.Close()
		c, _ := ess.New(ess.Config{Endpoint: addr, SecretID: "id", SecretKey: "key"})
		_, err := c.SyncProxyOrganization(ctx, syncReq("a", "o"))
		apiError(t, err, ess.CodeNetworkError, ess.ClassTransient)
	})
	t.Run("nil request", func(t *testing.T) {
		c, _ := ess.New(ess.Config{SecretID: "id", SecretKey: "key"})
		_, err := c.SyncProxyOrganization(ctx, nil)
		apiError(t, err, ess.CodeInvalidParameter, ess.ClassSystemic)
	})
}

func TestSignatureThroughSDK(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, esssim.Options{})
	tests := []struct {
		name   string
		mutate func(*http.Request)
		code   string
	}{
		{"accepted", nil, ""},
		{"body changed after signing", func(r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			body = bytes.Replace(body, []byte("o-sig"), []byte("o-sih"), 1)
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
		}, "AuthFailure.SignatureFailure"},
		{"content type changed", func(r *http.Request) { r.Header.Set("Content-Type", "application/x-www-form-urlencoded") }, "AuthFailure.SignatureFailure"},
		{"host changed", func(r *http.Request) { r.Host = "essbasic.tencentcloudapi.com" }, "AuthFailure.SignatureFailure"},
		{"timestamp changed", func(r *http.Request) {
			ts, _ := strconv.ParseInt(r.Header.Get("X-TC-Timestamp"), 10, 64)
			r.Header.Set("X-TC-Timestamp", strconv.FormatInt(ts-60, 10))
		}, "AuthFailure.SignatureFailure"},
		{"old request replayed", func(r *http.Request) {
			r.Header.Set("X-TC-Timestamp", strconv.FormatInt(time.Now().Add(-time.Hour).Unix(), 10))
		}, "AuthFailure.SignatureExpire"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b.rec.setMutate(tt.mutate)
			defer b.rec.setMutate(nil)
			_, err := b.client.SyncProxyOrganization(ctx, syncReq(esssim.DefaultAppID, "o-sig"))
			if tt.code == "" {
				if err != nil {
					t.Fatalf("signed by the SDK and refused: %v", err)
				}
				return
			}
			apiError(t, err, tt.code, ess.ClassSystemic)
		})
	}
}

func TestLanguage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for lang, want := range map[string]string{"en-US": "Your current request times", "zh-CN": "您当前每秒请求", "": "您当前每秒请求"} {
		b := setup(t, esssim.Options{RateLimit: 1, RateWindow: time.Hour}, func(c *ess.Config) { c.Language = lang })
		b.client.SyncProxyOrganization(ctx, syncReq(esssim.DefaultAppID, "a"))
		_, err := b.client.SyncProxyOrganization(ctx, syncReq(esssim.DefaultAppID, "b"))
		if ae := apiError(t, err, "RequestLimitExceeded", ess.ClassRateLimited); !strings.HasPrefix(ae.Message, want) {
			t.Errorf("language %q: message %q", lang, ae.Message)
		}
	}
}

func TestOnCall(t *testing.T) {
	t.Parallel()
	b := setup(t, esssim.Options{})
	var mu sync.Mutex
	var got []string
	b.client.OnCall = func(action string, d time.Duration, err error) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, fmt.Sprintf("%s %s %v", action, ess.ClassOf(err), d > 0))
	}
	ctx := context.Background()
	b.client.SyncProxyOrganization(ctx, syncReq(esssim.DefaultAppID, "o"))
	b.client.SyncProxyOrganization(ctx, syncReq("unknown-app", "o"))
	b.client.ModifyExtendedService(ctx, &ess.ModifyExtendedServiceRequest{})
	want := []string{
		"SyncProxyOrganization  true",
		"SyncProxyOrganization systemic true",
		"ModifyExtendedService permanent true",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("OnCall calls (-want +got):\n%s", diff)
	}
}

// The simulator's limit seen through the SDK: a burst above it is refused,
// traffic paced at exactly the limit is not.
func TestRateLimitThroughSDK(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("burst", func(t *testing.T) {
		frozen := time.Now()
		b := setup(t, esssim.Options{Now: func() time.Time { return frozen }})
		var wg sync.WaitGroup
		var mu sync.Mutex
		classes := map[ess.Class]int{}
		for i := range 30 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := b.client.SyncProxyOrganization(ctx, syncReq(esssim.DefaultAppID, fmt.Sprint("burst-", i)))
				mu.Lock()
				classes[ess.ClassOf(err)]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		if classes[""] != 20 || classes[ess.ClassRateLimited] != 10 {
			t.Errorf("30 calls in one instant: %v, want 20 successes and 10 rate limited", classes)
		}
		st := b.sim.Stats()
		if st.RateLimited[ess.ActionSyncProxyOrganization] != 10 || st.MaxInWindow[ess.ActionSyncProxyOrganization] != 30 {
			t.Errorf("counters: rate_limited %v, max_in_window %v", st.RateLimited, st.MaxInWindow)
		}
	})
	t.Run("paced at the limit", func(t *testing.T) {
		var mu sync.Mutex
		now := time.Now()
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		b := setup(t, esssim.Options{Now: clock})
		for i := range 100 { // five simulated seconds at 20 a second
			if _, err := b.client.SyncProxyOrganization(ctx, syncReq(esssim.DefaultAppID, fmt.Sprint("paced-", i))); err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
			mu.Lock()
			now = now.Add(50 * time.Millisecond)
			mu.Unlock()
		}
		if st := b.sim.Stats(); st.RateLimited[ess.ActionSyncProxyOrganization] != 0 || st.MaxInWindow[ess.ActionSyncProxyOrganization] != 20 {
			t.Errorf("counters: rate_limited %v, max_in_window %v; want 0 and 20", st.RateLimited, st.MaxInWindow)
		}
	})
}
