package esssim

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Test credentials the simulator accepts when Options leaves them empty.
const (
	DefaultSecretID  = "AKIDonboardSIMULATOR"
	DefaultSecretKey = "onboard-simulator-secret-key"
)

// The application registered when Options.Apps is empty, with its query
// identity: a company created VERIFIED whose admin is the operator.
const (
	DefaultAppID               = "onboard-sim-app"
	DefaultQueryOrgOpenID      = "onboard-sim-query-org"
	DefaultQueryOperatorOpenID = "onboard-sim-query-operator"
)

// Version is the only API version the simulator serves.
const Version = "2021-05-26"

// DefaultRateLimit is the platform's default: calls per action per second.
const DefaultRateLimit = 20

// maxBody is the platform's request size limit.
const maxBody = 10 << 20

const service = "essbasic"

// Actions the simulator serves.
const (
	ActionSyncProxyOrganization        = "SyncProxyOrganization"
	ActionDescribeChannelOrganizations = "DescribeChannelOrganizations"
	ActionModifyExtendedService        = "ModifyExtendedService"
	ActionCreateConsoleLoginUrl        = "CreateConsoleLoginUrl"

	ActionDescribeExtendedServiceAuthInfo = "DescribeExtendedServiceAuthInfo"
)

var actions = []string{
	ActionSyncProxyOrganization, ActionDescribeChannelOrganizations,
	ActionModifyExtendedService, ActionCreateConsoleLoginUrl,
	ActionDescribeExtendedServiceAuthInfo,
}

// RateKey says what the rate limit counts calls of, besides the action.
type RateKey string

// Rate limit keys.
const (
	RateKeySecretID RateKey = "secretid" // per SecretId and action (default)
	RateKeyAppID    RateKey = "appid"    // per Agent.AppId and action
)

// OffsetMode says how DescribeChannelOrganizations reads Offset.
type OffsetMode string

// Offset modes.
const (
	OffsetRecord OffsetMode = "record" // Offset counts records (default)
	OffsetPage   OffsetMode = "page"   // Offset is a 0-based page index
)

// App is a channel application the simulator knows.
type App struct {
	AppID string `json:"AppId"`
	// QueryOrgOpenID, if set, is created as a VERIFIED company of the
	// application whose admin is QueryOperatorOpenID: the identity bulk
	// DescribeChannelOrganizations calls act as.
	QueryOrgOpenID      string `json:"QueryOrgOpenId,omitempty"`
	QueryOperatorOpenID string `json:"QueryOperatorOpenId,omitempty"`
}

// Lifecycle is the schedule on which a synced company verifies itself:
// UNVERIFIED for Unverified after its first sync, VERIFYING for Verifying,
// then the pending step of its path (legal representative or letter of
// authorisation) for Pending, then VERIFIED (or, for RejectShare of them,
// VERIFYINGAUTHORIZATIONFILEREJECT). NeverShare of the companies stay
// UNVERIFIED. Which company falls in which share is decided by a hash of
// (AppId, OpenId), so it is the same on every run.
type Lifecycle struct {
	Unverified  time.Duration `json:"unverified"`
	Verifying   time.Duration `json:"verifying"`
	Pending     time.Duration `json:"pending"`
	NeverShare  float64       `json:"never_share"`
	RejectShare float64       `json:"reject_share"`
	// Manual: no company moves by itself; only SetStatus moves them.
	Manual bool `json:"manual"`
}

// DefaultLifecycle is used when Options.Lifecycle is nil.
var DefaultLifecycle = Lifecycle{Unverified: time.Second, Verifying: time.Second, Pending: time.Second}

// Fault makes a share of calls fail, slow down or lose their connection.
// It applies after the signature, action and rate limit checks.
type Fault struct {
	// Action the fault applies to; empty: every action.
	Action string `json:"action,omitempty"`
	// Share of matching calls affected, 0..1.
	Share float64 `json:"share"`
	// Code and Message of the error answer; Code empty: no error (Latency
	// or Drop only). Message empty: a generic message for the code.
	Code    string `json:"code,omitempty"`
	Message string `json:"message,omitempty"`
	// Latency added before the answer (or before dropping).
	Latency time.Duration `json:"latency,omitempty"`
	// Drop closes the connection without an answer.
	Drop bool `json:"drop,omitempty"`
	// Times, if positive, is how many calls the fault affects before it
	// wears off.
	Times int `json:"times,omitempty"`
}

// Options configure a Server. The zero value is a strict simulator with the
// default credentials, application and schedule.
type Options struct {
	// SecretID and SecretKey are the accepted credentials; empty:
	// DefaultSecretID and DefaultSecretKey.
	SecretID, SecretKey string
	// Now is the clock; nil: time.Now.
	Now func() time.Time
	// Lenient accepts the documentation's placeholder values: credit codes
	// and ID numbers without checksum or date checks, licenses that are not
	// base64 images (the size limit still applies).
	Lenient bool
	// RateLimit is the number of calls per action allowed in any RateWindow;
	// 0: DefaultRateLimit; negative: no limit.
	RateLimit int
	// RateWindow is the sliding window of the limit; 0: one second.
	RateWindow time.Duration
	// RateKey: what calls are counted per, with the action; "": RateKeySecretID.
	RateKey RateKey
	// OffsetMode of DescribeChannelOrganizations; "": OffsetRecord.
	OffsetMode OffsetMode
	// Apps are the known applications; nil: one, DefaultAppID with the
	// default query identity.
	Apps []App
	// AnyApp registers an unknown AppId on first use instead of answering
	// ResourceNotFound.Application.
	AnyApp bool
	// Lifecycle of synced companies; nil: DefaultLifecycle.
	Lifecycle *Lifecycle
	// OverseaSignAtOnce opens OVERSEA_SIGN without a link, as the current
	// documentation lists; default: a link, as the spec pages say.
	OverseaSignAtOnce bool
	// KeepEarlierLinks leaves an earlier OperateUrl of a service valid when
	// OPEN is asked again; default: the new link replaces it.
	KeepEarlierLinks bool
	// DescribeAnyAgent lets DescribeChannelOrganizations act for any Agent
	// of a known application; default: the Agent's company must be VERIFIED
	// and its operator the admin or legal representative.
	DescribeAnyAgent bool
	// Faults applied to calls; changeable later with SetFaults.
	Faults []Fault
	// Admins: how company admins follow service links; nil: they never
	// do by themselves, a pending service opens only through
	// ConfirmService or SetService.
	Admins *Admins
	// Callbacks to post to an application's callback URL; nil or an empty
	// URL: none. New panics if Callbacks.Validate fails; Close stops them.
	Callbacks *Callbacks
	// Seed of the random source deciding fault and callback shares; 0:
	// random.
	Seed uint64
}

// Server is a local essbasic. It is an http.Handler, safe for concurrent use.
type Server struct {
	secretID, secretKey string
	now                 func() time.Time
	lenient             bool
	rateLimit           int
	rateWindow          time.Duration
	rateKey             RateKey
	offsetMode          OffsetMode
	anyApp              bool
	life                Lifecycle
	overseaAtOnce       bool
	keepLinks           bool
	describeAnyAgent    bool
	admins              *Admins
	cb                  *callbacks // nil: no callbacks

	mu      sync.Mutex
	rng     *mrand.Rand
	apps    map[string]*app
	faults  []Fault
	limiter map[string][]time.Time // admitted calls per rate key
	arrived map[string][]time.Time // all calls per action, for the max-per-window counter
	stats   Stats
	seq     int
}

// New returns a simulator configured by opts.
func New(opts Options) *Server {
	s := &Server{
		secretID:         opts.SecretID,
		secretKey:        opts.SecretKey,
		now:              opts.Now,
		lenient:          opts.Lenient,
		rateLimit:        opts.RateLimit,
		rateWindow:       opts.RateWindow,
		rateKey:          opts.RateKey,
		offsetMode:       opts.OffsetMode,
		anyApp:           opts.AnyApp,
		life:             DefaultLifecycle,
		overseaAtOnce:    opts.OverseaSignAtOnce,
		keepLinks:        opts.KeepEarlierLinks,
		describeAnyAgent: opts.DescribeAnyAgent,
		apps:             map[string]*app{},
		limiter:          map[string][]time.Time{},
		arrived:          map[string][]time.Time{},
	}
	if s.secretID == "" {
		s.secretID = DefaultSecretID
	}
	if s.secretKey == "" {
		s.secretKey = DefaultSecretKey
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rateLimit == 0 {
		s.rateLimit = DefaultRateLimit
	}
	if s.rateWindow <= 0 {
		s.rateWindow = time.Second
	}
	if s.rateKey == "" {
		s.rateKey = RateKeySecretID
	}
	if s.offsetMode == "" {
		s.offsetMode = OffsetRecord
	}
	if opts.Lifecycle != nil {
		s.life = *opts.Lifecycle
	}
	if opts.Admins != nil {
		a := *opts.Admins
		s.admins = &a
	}
	seed := opts.Seed
	if seed == 0 {
		var b [8]byte
		_, _ = rand.Read(b[:])
		for _, x := range b {
			seed = seed<<8 | uint64(x)
		}
	}
	s.rng = mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	s.faults = append([]Fault(nil), opts.Faults...)
	s.stats = newStats()
	apps := opts.Apps
	if apps == nil {
		apps = []App{{AppID: DefaultAppID, QueryOrgOpenID: DefaultQueryOrgOpenID, QueryOperatorOpenID: DefaultQueryOperatorOpenID}}
	}
	for _, a := range apps {
		s.addAppLocked(a)
	}
	if opts.Callbacks != nil && opts.Callbacks.URL != "" {
		if err := opts.Callbacks.Validate(); err != nil {
			panic(err)
		}
		s.startCallbacks(*opts.Callbacks)
	}
	return s
}

// apiError is an error answer.
type apiError struct {
	code, message string
}

func errf(code, format string, args ...any) *apiError {
	return &apiError{code: code, message: fmt.Sprintf(format, args...)}
}

// call is one request being served.
type call struct {
	action    string
	lang      string // "zh-CN" or "en-US"
	requestID string
	body      []byte
	secretID  string
}

// zh reports whether messages should be in Chinese.
func (c *call) zh() bool { return c.lang != "en-US" }

// msg picks the message in the call's language.
func (c *call) msg(en, zh string) string {
	if c.zh() {
		return zh
	}
	return en
}

// ServeHTTP serves the essbasic API at "/" and the admin endpoints under /_sim/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_sim/") || r.URL.Path == "/_sim" {
		s.serveAdmin(w, r)
		return
	}
	c := &call{
		action:    r.Header.Get("X-TC-Action"),
		lang:      r.Header.Get("X-TC-Language"),
		requestID: newRequestID(),
	}
	now := s.now()
	known := isAction(c.action)
	if known {
		s.mu.Lock()
		s.noteArrival(c.action, now)
		s.mu.Unlock()
	}
	if r.Method != http.MethodPost {
		s.replyError(w, c, errf("UnsupportedProtocol", "%s", c.msg("Only POST requests with a JSON body are supported.", "仅支持 POST 方法和 JSON 格式的请求体。")))
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		s.replyError(w, c, errf("InvalidRequest", "%s", c.msg("The request body could not be read.", "无法读取请求体。")))
		return
	}
	if len(body) > maxBody {
		s.replyError(w, c, errf("RequestSizeLimitExceeded", "%s", c.msg("The request size exceeds the limit of 10 MB.", "请求包超过限制大小 10MB。")))
		return
	}
	c.body = body
	if e := s.authenticate(r, c, now); e != nil {
		s.replyError(w, c, e)
		return
	}
	switch {
	case c.action == "":
		s.replyError(w, c, missing(c, "Action"))
		return
	case !known:
		s.replyError(w, c, errf("InvalidAction", "%s", c.msg(
			fmt.Sprintf("The action `%s` is not valid for this endpoint.", c.action),
			fmt.Sprintf("接口`%s`不存在。", c.action))))
		return
	}
	switch v := r.Header.Get("X-TC-Version"); {
	case v == "":
		s.replyError(w, c, missing(c, "Version"))
		return
	case v != Version:
		s.replyError(w, c, errf("NoSuchVersion", "%s", c.msg(
			fmt.Sprintf("The API version `%s` does not exist.", v),
			fmt.Sprintf("接口版本`%s`不存在。", v))))
		return
	}
	s.countOrgCall(c)
	if e := s.rateCheck(c, now); e != nil {
		s.replyError(w, c, e)
		return
	}
	if s.applyFaults(w, r, c) {
		return
	}
	params, e := decodeParams(c)
	if e != nil {
		s.replyError(w, c, e)
		return
	}
	var resp any
	switch c.action {
	case ActionSyncProxyOrganization:
		resp, e = s.syncProxyOrganization(c, params)
	case ActionDescribeChannelOrganizations:
		resp, e = s.describeChannelOrganizations(c, params)
	case ActionModifyExtendedService:
		resp, e = s.modifyExtendedService(c, params)
	case ActionCreateConsoleLoginUrl:
		resp, e = s.createConsoleLoginUrl(c, params)
	case ActionDescribeExtendedServiceAuthInfo:
		resp, e = s.describeExtendedServiceAuthInfo(c, params)
	}
	if e != nil {
		s.replyError(w, c, e)
		return
	}
	s.reply(w, c, resp)
}

func isAction(a string) bool {
	for _, x := range actions {
		if x == a {
			return true
		}
	}
	return false
}

func missing(c *call, name string) *apiError {
	return errf("MissingParameter", "%s", c.msg(
		fmt.Sprintf("The request is missing a required parameter `%s`.", name),
		fmt.Sprintf("缺少必填参数`%s`。", name)))
}

// authenticate checks the TC3-HMAC-SHA256 signature in the documented order.
func (s *Server) authenticate(r *http.Request, c *call, now time.Time) *apiError {
	a, ok := parseAuthorization(r.Header.Get("Authorization"))
	if !ok {
		return errf("AuthFailure.InvalidAuthorization", "%s", c.msg(
			"The Authorization header is malformed: want `TC3-HMAC-SHA256 Credential=..., SignedHeaders=content-type;host, Signature=...`.",
			"请求头部的 Authorization 不符合腾讯云标准。"))
	}
	c.secretID = a.secretID
	if a.secretID != s.secretID {
		return errf("AuthFailure.SecretIdNotFound", "%s", c.msg(
			"The SecretId is not found, please ensure that your SecretId is correct.",
			"密钥不存在。请在控制台检查密钥是否已被删除或者禁用，如状态正常，请检查密钥是否填写正确，注意前后不得有空格。"))
	}
	tsHeader := r.Header.Get("X-TC-Timestamp")
	if tsHeader == "" {
		return missing(c, "X-TC-Timestamp")
	}
	ts, err := strconv.ParseInt(tsHeader, 10, 64)
	if err != nil {
		return errf("InvalidParameter", "%s", c.msg("The value of `X-TC-Timestamp` is not a number of seconds.", "参数`X-TC-Timestamp`取值错误。"))
	}
	if d := now.Sub(time.Unix(ts, 0)); d > maxClockSkew || d < -maxClockSkew {
		return errf("AuthFailure.SignatureExpire", "%s", c.msg(
			fmt.Sprintf("Signature expired. Timestamp %d differs from the server time %d by more than 5 minutes.", ts, now.Unix()),
			fmt.Sprintf("签名过期。Timestamp 和服务器时间相差不得超过五分钟，请检查本地时间是否和标准时间同步。（请求 %d，服务器 %d）", ts, now.Unix())))
	}
	fail := errf("AuthFailure.SignatureFailure", "%s", c.msg(
		"The provided credentials could not be validated. Please check your signature is correct.",
		"请求签名验证失败，请检查您的签名计算是否正确。"))
	date := time.Unix(ts, 0).UTC().Format("2006-01-02")
	if a.date != date || a.service != service || a.terminal != "tc3_request" {
		return fail
	}
	want := signature(s.secretKey, tsHeader, a.signedHeaders, func(n string) string { return headerValue(r, n) },
		c.body, r.Header.Get("X-TC-Content-SHA256") == "UNSIGNED-PAYLOAD")
	got, err := hex.DecodeString(a.signature)
	wantb, _ := hex.DecodeString(want)
	if err != nil || !hmac.Equal(got, wantb) {
		return fail
	}
	return nil
}

// rateCheck applies the per-action sliding-window limit.
func (s *Server) rateCheck(c *call, now time.Time) *apiError {
	if s.rateLimit < 0 {
		return nil
	}
	key := c.action + "\x00"
	if s.rateKey == RateKeyAppID {
		key += peekAppID(c.body)
	} else {
		key += c.secretID
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	log := prune(s.limiter[key], now.Add(-s.rateWindow))
	if len(log) >= s.rateLimit {
		s.limiter[key] = log
		s.stats.RateLimited[c.action]++
		n := len(log) + 1
		return errf("RequestLimitExceeded", "%s", c.msg(
			fmt.Sprintf("Your current request times equals to `%d` in a second, which exceeds the frequency limit `%d` for a second. Please reduce the frequency of calls.", n, s.rateLimit),
			fmt.Sprintf("您当前每秒请求 `%d` 次，超过了每秒频率上限 `%d`，请降低调用频率。", n, s.rateLimit)))
	}
	s.limiter[key] = append(log, now)
	return nil
}

// prune drops the times not after cutoff; times are in arrival order.
func prune(log []time.Time, cutoff time.Time) []time.Time {
	i := 0
	for i < len(log) && !log[i].After(cutoff) {
		i++
	}
	if i == 0 {
		return log
	}
	return append(log[:0], log[i:]...)
}

// noteArrival records a call of action for the most-calls-in-a-window counter.
// Called with s.mu held.
func (s *Server) noteArrival(action string, now time.Time) {
	log := append(prune(s.arrived[action], now.Add(-s.rateWindow)), now)
	s.arrived[action] = log
	if len(log) > s.stats.MaxInWindow[action] {
		s.stats.MaxInWindow[action] = len(log)
	}
}

// peekAppID reads Agent.AppId from a body without validating it.
func peekAppID(body []byte) string {
	var v struct {
		Agent struct {
			AppId string
		}
	}
	_ = json.Unmarshal(body, &v)
	return v.Agent.AppId
}

// countOrgCall counts an authenticated call under its company.
func (s *Server) countOrgCall(c *call) {
	var v struct {
		Agent struct {
			AppId                   string
			ProxyOrganizationOpenId string
		}
		OrganizationOpenId string
	}
	_ = json.Unmarshal(c.body, &v)
	org := v.Agent.ProxyOrganizationOpenId
	if c.action == ActionDescribeChannelOrganizations {
		org = v.OrganizationOpenId
		if org == "" {
			org = "*"
		}
	}
	s.mu.Lock()
	m := s.stats.OrgCalls[c.action]
	if m == nil {
		m = map[string]int{}
		s.stats.OrgCalls[c.action] = m
	}
	m[v.Agent.AppId+"/"+org]++
	s.mu.Unlock()
}

// applyFaults applies the configured faults to a call; it reports whether
// the call has been answered (or dropped).
func (s *Server) applyFaults(w http.ResponseWriter, r *http.Request, c *call) bool {
	var latency time.Duration
	var hit *Fault
	s.mu.Lock()
	for i := range s.faults {
		f := &s.faults[i]
		if f.Action != "" && f.Action != c.action {
			continue
		}
		if f.Share < 1 && s.rng.Float64() >= f.Share {
			continue
		}
		latency += f.Latency
		if f.Times > 0 {
			f.Times--
			if f.Times == 0 {
				f.Share = 0 // worn off; removed below
			}
		}
		if f.Drop || f.Code != "" {
			cp := *f
			hit = &cp
			break
		}
	}
	kept := s.faults[:0]
	for _, f := range s.faults {
		if f.Share > 0 {
			kept = append(kept, f)
		}
	}
	s.faults = kept
	if hit != nil && hit.Drop {
		s.stats.Dropped[c.action]++
	}
	s.mu.Unlock()

	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return true
		}
	}
	if hit == nil {
		return false
	}
	if hit.Drop {
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return true
			}
		}
		panic(http.ErrAbortHandler)
	}
	m := hit.Message
	if m == "" {
		m = c.msg("Simulated failure: "+hit.Code+".", "模拟错误："+hit.Code+"。")
	}
	s.replyError(w, c, &apiError{code: hit.Code, message: m})
	return true
}

// reply writes a success answer; resp is a struct whose JSON has no RequestId.
func (s *Server) reply(w http.ResponseWriter, c *call, resp any) {
	b, err := json.Marshal(resp)
	if err != nil {
		s.replyError(w, c, errf("InternalError", "encode answer: %v", err))
		return
	}
	var out bytes.Buffer
	out.WriteString(`{"Response":`)
	if len(b) > 2 { // not "{}"
		out.Write(b[:len(b)-1])
		out.WriteString(`,"RequestId":`)
	} else {
		out.WriteString(`{"RequestId":`)
	}
	rid, _ := json.Marshal(c.requestID)
	out.Write(rid)
	out.WriteString("}}")
	s.count(c.action, "Success")
	writeJSON(w, c.requestID, out.Bytes())
}

// replyError writes an error envelope with HTTP 200, as the platform does.
func (s *Server) replyError(w http.ResponseWriter, c *call, e *apiError) {
	var env struct {
		Response struct {
			Error struct {
				Code    string `json:"Code"`
				Message string `json:"Message"`
			} `json:"Error"`
			RequestId string `json:"RequestId"`
		} `json:"Response"`
	}
	env.Response.Error.Code = e.code
	env.Response.Error.Message = e.message
	env.Response.RequestId = c.requestID
	b, _ := json.Marshal(env)
	s.count(c.action, e.code)
	writeJSON(w, c.requestID, b)
}

func writeJSON(w http.ResponseWriter, requestID string, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	if requestID != "" {
		w.Header().Set("X-TC-RequestId", requestID)
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

// count records one answer under its action and result code.
func (s *Server) count(action, code string) {
	if action == "" {
		action = "(none)"
	} else if !isAction(action) {
		action = "(unknown)"
	}
	s.mu.Lock()
	m := s.stats.Calls[action]
	if m == nil {
		m = map[string]int{}
		s.stats.Calls[action] = m
	}
	m[code]++
	s.mu.Unlock()
}

// newRequestID returns a random UUID (version 4), as the platform's RequestIds.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// randomToken returns n random hex characters.
func randomToken(n int) string {
	b := make([]byte, (n+1)/2)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// share maps a key to a number in [0, 1) deterministically.
func share(key string) float64 {
	var h uint64 = 14695981039346656037
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= 1099511628211
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	return float64(h>>11) / float64(uint64(1)<<53)
}
