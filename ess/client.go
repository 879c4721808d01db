// Package ess calls the essbasic e-signature channel platform (API 2021-05-26)
// through the Tencent Cloud Go SDK's common client: typed requests and
// responses for the five actions onboard uses, paging through an
// application's companies, and the classification of every error code.
//
// The client makes exactly one HTTP request per call: the SDK's own retries,
// its region breaker and its debug dump are switched off. Retrying is the
// caller's decision, guided by ClassOf and (*APIError).MaxTries.
package ess

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common"
	tcerr "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/errors"
	tchttp "github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/http"
	"github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/common/profile"
)

// DefaultEndpoint is the platform's production host.
const DefaultEndpoint = "essbasic.tencentcloudapi.com"

// DefaultTimeout bounds one request when Config.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// DefaultLanguage is the language of the platform's messages when
// Config.Language is empty.
const DefaultLanguage = "zh-CN"

// service is the product name used in the signature scope.
const service = "essbasic"

// Config configures a Client.
type Config struct {
	// Endpoint is a host[:port] (HTTPS) or a full URL such as
	// http://127.0.0.1:18090 whose scheme, host and port are used.
	// Empty: DefaultEndpoint.
	Endpoint string
	// SecretID and SecretKey are the API credentials; both required.
	SecretID  string
	SecretKey string
	// Region is sent as X-TC-Region; empty sends none.
	Region string
	// Timeout bounds one request; zero means DefaultTimeout.
	Timeout time.Duration
	// Language of the platform's messages: "zh-CN" (default) or "en-US".
	Language string
	// Transport replaces the HTTP transport (nil: a clone of
	// http.DefaultTransport, as the SDK makes).
	Transport http.RoundTripper
}

// String describes the configuration with the secret key redacted.
func (c Config) String() string {
	key := ""
	if c.SecretKey != "" {
		key = "REDACTED"
	}
	return fmt.Sprintf("ess.Config{Endpoint:%q SecretID:%q SecretKey:%s Region:%q Timeout:%s Language:%q}",
		c.Endpoint, c.SecretID, key, c.Region, c.Timeout, c.Language)
}

// GoString is String, so %#v does not print the key either.
func (c Config) GoString() string { return c.String() }

// Format prints String for every verb, so no formatting reveals the key.
func (c Config) Format(f fmt.State, _ rune) { fmt.Fprint(f, c.String()) }

// Client calls essbasic. It is safe for concurrent use; set OnCall before the
// first call.
type Client struct {
	// OnCall, if set, is called after every call with the action, the time
	// the call took and its error (nil on success), for metrics and rate
	// limiter feedback.
	OnCall func(action string, d time.Duration, err error)

	sdk     *common.Client
	timeout time.Duration
	host    string
}

// New returns a client for cfg.
func New(cfg Config) (*Client, error) {
	if strings.TrimSpace(cfg.SecretID) == "" {
		return nil, errors.New("ess: missing secret id (ESS_SECRET_ID)")
	}
	if strings.TrimSpace(cfg.SecretKey) == "" {
		return nil, errors.New("ess: missing secret key (ESS_SECRET_KEY)")
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("ess: timeout must not be negative, got %s", cfg.Timeout)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	switch cfg.Language {
	case "":
		cfg.Language = DefaultLanguage
	case "zh-CN", "en-US":
	default:
		return nil, fmt.Errorf("ess: language must be zh-CN or en-US, got %q", cfg.Language)
	}
	scheme, host, err := splitEndpoint(cfg.Endpoint)
	if err != nil {
		return nil, err
	}

	cpf := profile.NewClientProfile()
	cpf.HttpProfile.Scheme = scheme
	cpf.HttpProfile.Endpoint = host
	cpf.HttpProfile.ReqMethod = http.MethodPost
	// The context deadline governs; the SDK's whole-second client timeout is
	// only a backstop.
	cpf.HttpProfile.ReqTimeout = int(math.Ceil(cfg.Timeout.Seconds())) + 1
	cpf.Language = cfg.Language
	cpf.Debug = false
	cpf.DisableRegionBreaker = true
	cpf.RateLimitExceededMaxRetries = 0
	cpf.NetworkFailureMaxRetries = 0
	cpf.UnsafeRetryOnConnectionFailure = false

	sdk := common.NewCommonClient(common.NewCredential(cfg.SecretID, cfg.SecretKey), cfg.Region, cpf)
	sdk.WithDebug(false)
	if cfg.Transport != nil {
		sdk.WithHttpTransport(cfg.Transport)
	}
	return &Client{sdk: sdk, timeout: cfg.Timeout, host: host}, nil
}

// splitEndpoint turns Config.Endpoint into the SDK's scheme and host[:port].
func splitEndpoint(ep string) (scheme, host string, err error) {
	ep = strings.TrimSpace(ep)
	if ep == "" {
		return "HTTPS", DefaultEndpoint, nil
	}
	if !strings.Contains(ep, "://") {
		if strings.ContainsAny(ep, "/?# ") {
			return "", "", fmt.Errorf("ess: endpoint %q: want host[:port] or a URL such as http://127.0.0.1:18090", ep)
		}
		return "HTTPS", ep, nil
	}
	u, err := url.Parse(ep)
	if err != nil {
		return "", "", fmt.Errorf("ess: endpoint %q: %v", ep, err)
	}
	switch strings.ToLower(u.Scheme) {
	case "http":
		scheme = "HTTP"
	case "https":
		scheme = "HTTPS"
	default:
		return "", "", fmt.Errorf("ess: endpoint %q: scheme must be http or https", ep)
	}
	if u.Host == "" || u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", "", fmt.Errorf("ess: endpoint %q: want scheme://host[:port] only", ep)
	}
	return scheme, u.Host, nil
}

// SyncProxyOrganization sends a sub-company's license data.
func (c *Client) SyncProxyOrganization(ctx context.Context, req *SyncProxyOrganizationRequest) (*SyncProxyOrganizationResponse, error) {
	var resp SyncProxyOrganizationResponse
	if err := c.call(ctx, ActionSyncProxyOrganization, req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// DescribeChannelOrganizations returns one company or one page of the
// application's companies.
func (c *Client) DescribeChannelOrganizations(ctx context.Context, req *DescribeChannelOrganizationsRequest) (*DescribeChannelOrganizationsResponse, error) {
	var resp DescribeChannelOrganizationsResponse
	if err := c.call(ctx, ActionDescribeChannelOrganizations, req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// ModifyExtendedService opens or closes an extended service of a verified
// company. A non-empty OperateUrl means the admin must still confirm.
func (c *Client) ModifyExtendedService(ctx context.Context, req *ModifyExtendedServiceRequest) (*ModifyExtendedServiceResponse, error) {
	var resp ModifyExtendedServiceResponse
	if err := c.call(ctx, ActionModifyExtendedService, req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// DescribeExtendedServiceAuthInfo returns every extended service of a
// verified company with its status: the platform's answer to whether a
// service asked for is really open (ENABLE).
func (c *Client) DescribeExtendedServiceAuthInfo(ctx context.Context, req *DescribeExtendedServiceAuthInfoRequest) (*DescribeExtendedServiceAuthInfoResponse, error) {
	var resp DescribeExtendedServiceAuthInfoResponse
	if err := c.call(ctx, ActionDescribeExtendedServiceAuthInfo, req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// CreateConsoleLoginUrl returns a console (activation) link for an employee.
func (c *Client) CreateConsoleLoginUrl(ctx context.Context, req *CreateConsoleLoginUrlRequest) (*CreateConsoleLoginUrlResponse, error) {
	var resp CreateConsoleLoginUrlResponse
	if err := c.call(ctx, ActionCreateConsoleLoginUrl, req, &resp); err != nil {
		return nil, err
	}
	return &resp, nil
}

// call sends one request and decodes the answer's Response object into out.
func (c *Client) call(ctx context.Context, action string, in, out any) (err error) {
	start := time.Now()
	defer func() {
		if c.OnCall != nil {
			c.OnCall(action, time.Since(start), err)
		}
	}()
	if in == nil || isNilPointer(in) {
		return &APIError{Action: action, Code: CodeInvalidParameter, Message: "nil request", Class: ClassSystemic}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctx.Err(); err != nil {
		return &APIError{Action: action, Code: CodeNetworkError, Message: "not sent: " + err.Error(), Class: ClassCanceled, Err: err}
	}
	body, err := json.Marshal(in)
	if err != nil {
		return &APIError{Action: action, Code: CodeInvalidParameter, Message: "encode request: " + err.Error(), Class: ClassSystemic, Err: err}
	}

	cctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req := tchttp.NewCommonRequest(service, Version, action)
	req.SetContext(cctx)
	if err := req.SetActionParameters(body); err != nil {
		// The body is our own JSON; a failure here is a programming error.
		// Do not repeat the SDK's message: it contains the whole body.
		return &APIError{Action: action, Code: sdkCode(err, CodeParseJSONError), Message: "could not set request parameters", Class: ClassSystemic}
	}
	resp := tchttp.NewCommonResponse()
	if err := c.sdk.Send(req, resp); err != nil {
		return c.apiError(ctx, cctx, action, err)
	}
	env := struct {
		Response json.RawMessage `json:"Response"`
	}{}
	raw := resp.GetBody()
	if err := json.Unmarshal(raw, &env); err != nil || len(env.Response) == 0 {
		return &APIError{Action: action, Code: CodeParseJSONError, Message: "answer without a Response object", Class: ClassTransient, Err: err}
	}
	if err := json.Unmarshal(env.Response, out); err != nil {
		return &APIError{Action: action, Code: CodeParseJSONError, Message: "decode answer: " + err.Error(), Class: ClassTransient, Err: err}
	}
	return nil
}

// apiError turns an error of the SDK's Send into an *APIError. ctx is the
// caller's context, cctx the one bounded by the client's timeout.
func (c *Client) apiError(ctx, cctx context.Context, action string, err error) *APIError {
	ae := &APIError{Action: action, Err: err}
	var se *tcerr.TencentCloudSDKError
	if errors.As(err, &se) {
		ae.Code, ae.Message, ae.RequestID = se.Code, se.Message, se.RequestId
	} else {
		ae.Code, ae.Message = CodeNetworkError, err.Error()
	}
	ae.Class, _ = Classify(ae.Code)
	if ae.RequestID == "" && strings.HasPrefix(ae.Code, "ClientError.") {
		switch {
		case ctx.Err() != nil:
			ae.Class = ClassCanceled
			ae.Message = fmt.Sprintf("%s: %v", ae.Message, context.Cause(ctx))
		case cctx.Err() != nil:
			ae.Class = ClassTransient
			ae.Message = fmt.Sprintf("%s: no answer within %s", ae.Message, c.timeout)
		case ae.Code == CodeNetworkError:
			if cause := errors.Unwrap(err); cause != nil {
				ae.Message = fmt.Sprintf("%s: %v", ae.Message, cause)
			}
		}
	}
	return ae
}

func sdkCode(err error, def string) string {
	var se *tcerr.TencentCloudSDKError
	if errors.As(err, &se) && se.Code != "" {
		return se.Code
	}
	return def
}

func isNilPointer(v any) bool {
	switch p := v.(type) {
	case *SyncProxyOrganizationRequest:
		return p == nil
	case *DescribeChannelOrganizationsRequest:
		return p == nil
	case *ModifyExtendedServiceRequest:
		return p == nil
	case *CreateConsoleLoginUrlRequest:
		return p == nil
	case *DescribeExtendedServiceAuthInfoRequest:
		return p == nil
	}
	return false
}
