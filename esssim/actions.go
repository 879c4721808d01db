package esssim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Fields each action accepts (deprecated ones included: the platform still
// knows them). Any other field is answered with UnknownParameter.
var (
	userInfoFields = fieldSet("OpenId", "Channel", "CustomUserId", "ClientIp", "ProxyIp")
	agentFields    = fieldSet("AppId", "ProxyOrganizationOpenId", "ProxyOperator", "ProxyAppId", "ProxyOrganizationId")
	actionFields   = map[string]map[string]bool{
		ActionSyncProxyOrganization: fieldSet("Agent", "ProxyOrganizationName", "BusinessLicense",
			"UniformSocialCreditCode", "ProxyLegalName", "ProxyLegalIdCardType", "ProxyLegalIdCardNumber",
			"ProxyAddress", "Operator"),
		ActionDescribeChannelOrganizations: fieldSet("Agent", "Limit", "OrganizationOpenId",
			"AuthorizationStatusList", "Offset", "Operator"),
		ActionModifyExtendedService: fieldSet("Agent", "ServiceType", "Operate", "Endpoint", "Operator"),
		// The documentation gives DescribeExtendedServiceAuthInfo only Agent.
		ActionDescribeExtendedServiceAuthInfo: fieldSet("Agent"),
		ActionCreateConsoleLoginUrl: fieldSet("Agent", "ProxyOrganizationName", "UniformSocialCreditCode",
			"ProxyOperatorName", "ProxyOperatorMobile", "Endpoint", "AuthorizationTypes", "AutoActive",
			"ProxyOperatorIdCardNumber", "BusinessLicense", "BusinessLicenseId", "ProxyAddress",
			"ProxyLegalName", "PowerOfAttorneys", "BankAccountNumber", "OrganizationAuthorizationOptions",
			"ProxyOrganizationIdCardType", "Module", "ModuleId", "MenuStatus", "TopNavigationStatus",
			"JumpEvents", "Operator"),
	}
)

func fieldSet(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// params is a request body checked for unknown fields.
type params struct {
	raw  []byte
	keys map[string]json.RawMessage
}

// decodeParams parses the body and refuses fields the action does not know.
func decodeParams(c *call) (*params, *apiError) {
	p := &params{raw: c.body}
	dec := json.NewDecoder(bytes.NewReader(c.body))
	if err := dec.Decode(&p.keys); err != nil || p.keys == nil {
		return nil, errf("InvalidRequest", "%s", c.msg("The request body is not a JSON object.", "请求体不是合法的 JSON 对象。"))
	}
	if err := checkFields(c, "", p.keys, actionFields[c.action]); err != nil {
		return nil, err
	}
	for _, name := range []string{"Agent", "Operator"} {
		raw, ok := p.keys[name]
		if !ok || string(raw) == "null" {
			continue
		}
		var sub map[string]json.RawMessage
		if json.Unmarshal(raw, &sub) != nil {
			return nil, typeError(c, name)
		}
		allowed := agentFields
		if name == "Operator" {
			allowed = userInfoFields
		}
		if err := checkFields(c, name+".", sub, allowed); err != nil {
			return nil, err
		}
		if name == "Agent" {
			if op, ok := sub["ProxyOperator"]; ok && string(op) != "null" {
				var u map[string]json.RawMessage
				if json.Unmarshal(op, &u) != nil {
					return nil, typeError(c, "Agent.ProxyOperator")
				}
				if err := checkFields(c, "Agent.ProxyOperator.", u, userInfoFields); err != nil {
					return nil, err
				}
			}
		}
	}
	return p, nil
}

func checkFields(c *call, prefix string, got map[string]json.RawMessage, allowed map[string]bool) *apiError {
	for k := range got {
		if !allowed[k] {
			return errf("UnknownParameter", "%s", c.msg(
				fmt.Sprintf("The parameter `%s%s` is not recognized.", prefix, k),
				fmt.Sprintf("未定义的参数`%s%s`。", prefix, k)))
		}
	}
	return nil
}

func typeError(c *call, field string) *apiError {
	return errf("InvalidParameter", "%s", c.msg(
		fmt.Sprintf("The type of parameter `%s` is wrong.", field),
		fmt.Sprintf("参数`%s`类型错误。", field)))
}

// into decodes the body into v, naming the field whose type is wrong.
func (p *params) into(c *call, v any) *apiError {
	if err := json.Unmarshal(p.raw, v); err != nil {
		field := "body"
		if te, ok := err.(*json.UnmarshalTypeError); ok && te.Field != "" {
			field = te.Field
		}
		return typeError(c, field)
	}
	return nil
}

type userInfo struct {
	OpenId string
}

type agent struct {
	AppId                   string
	ProxyOrganizationOpenId string
	ProxyOperator           *userInfo
	ProxyAppId              string
}

func (a *agent) operator() string {
	if a.ProxyOperator == nil {
		return ""
	}
	return a.ProxyOperator.OpenId
}

// agentCodes are the codes an action uses for a bad Agent.
type agentCodes struct {
	missingOrg, missingOperator, badOpenID string
}

var (
	plainAgentCodes = agentCodes{"MissingParameter", "MissingParameter", "InvalidParameter.ParamError"}
	consoleCodes    = agentCodes{"MissingParameter.OrgOpenId", "MissingParameter.ProxyOperatorOpenId", "InvalidParameter.OpenId"}
)

const maxOpenIDLen = 64

// checkAgent validates the Agent and returns its application.
// Called with s.mu held.
func (s *Server) checkAgentLocked(c *call, a *agent, needOperator bool, codes agentCodes) (*app, *apiError) {
	if a.AppId == "" {
		return nil, missing(c, "Agent.AppId")
	}
	ap := s.appLocked(a.AppId)
	if ap == nil {
		return nil, errf("ResourceNotFound.Application", "%s", c.msg(
			fmt.Sprintf("The application `%s` does not exist.", a.AppId),
			fmt.Sprintf("应用号`%s`不存在。", a.AppId)))
	}
	if a.ProxyOrganizationOpenId == "" {
		e := missing(c, "Agent.ProxyOrganizationOpenId")
		e.code = codes.missingOrg
		return nil, e
	}
	if utf8.RuneCountInString(a.ProxyOrganizationOpenId) > maxOpenIDLen {
		return nil, errf(codes.badOpenID, "%s", c.msg(
			"Agent.ProxyOrganizationOpenId is longer than 64 characters.",
			"Agent.ProxyOrganizationOpenId 长度不能超过64个字符。"))
	}
	if needOperator {
		if a.operator() == "" {
			e := missing(c, "Agent.ProxyOperator.OpenId")
			e.code = codes.missingOperator
			return nil, e
		}
		if utf8.RuneCountInString(a.operator()) > maxOpenIDLen {
			return nil, errf(codes.badOpenID, "%s", c.msg(
				"Agent.ProxyOperator.OpenId is longer than 64 characters.",
				"Agent.ProxyOperator.OpenId 长度不能超过64个字符。"))
		}
	}
	return ap, nil
}

func paramError(c *call, en, zh string) *apiError {
	return errf("InvalidParameter.ParamError", "%s", c.msg(en, zh))
}

// checkOrgName refuses half-width brackets.
func checkOrgName(c *call, field, name string) *apiError {
	if strings.TrimSpace(name) == "" {
		return missing(c, field)
	}
	if strings.ContainsAny(name, "()") {
		return errf("InvalidParameter.OrganizationName", "%s", c.msg(
			"The company name contains half-width brackets (); use full-width （）.",
			"企业名称中包含英文括号()，请使用中文括号（）代替。"))
	}
	return nil
}

func (s *Server) checkCreditCode(c *call, code string) *apiError {
	if code == "" {
		return nil
	}
	bad := utf8.RuneCountInString(code) > 200
	if !s.lenient {
		bad = bad || !ValidCreditCode(code) || code != strings.ToUpper(code)
	}
	if bad {
		return errf("InvalidParameter.UniformSocialCreditCode", "%s", c.msg(
			"The unified social credit code is not valid.", "统一社会信用代码不符合要求。"))
	}
	return nil
}

func (s *Server) checkIDCard(c *call, number string) *apiError {
	if number == "" {
		return nil
	}
	ok := len(number) == 18 && strings.Trim(number[:17], "0123456789") == "" &&
		strings.ContainsRune("0123456789X", rune(number[17]))
	if ok && !s.lenient {
		ok = ValidIDCardNumber(number, s.now())
	}
	if !ok {
		return errf("InvalidParameter.CardNumber", "%s", c.msg(
			"The ID card number is not valid: 18 characters, digits and an upper-case X, with a correct check digit.",
			"证件号码错误：居民身份证号码应为18位，由数字和大写字母X组成，且校验位正确。"))
	}
	return nil
}

// checkPersonName accepts a real name: no digits or control characters,
// no surrounding spaces, at most 50 characters.
func checkPersonName(c *call, name string) *apiError {
	if name == "" {
		return nil
	}
	ok := strings.TrimSpace(name) == name && utf8.RuneCountInString(name) <= 50
	for _, r := range name {
		if unicode.IsDigit(r) || unicode.IsControl(r) || r == utf8.RuneError {
			ok = false
		}
	}
	if !ok {
		return errf("InvalidParameter.Name", "%s", c.msg("The name is not valid.", "姓名不符合要求。"))
	}
	return nil
}

// maxLicense is the documented license size limit, applied to the base64 text.
const maxLicense = 5 << 20

func (s *Server) checkLicense(c *call, b64 string) *apiError {
	if b64 == "" {
		return nil
	}
	if len(b64) > maxLicense {
		return errf("LimitExceeded.FileSize", "%s", c.msg("The business license is larger than 5 MB.", "营业执照文件大小超过5M。"))
	}
	if s.lenient {
		return nil
	}
	data, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return errf("InvalidParameter.BusinessLicense", "%s", c.msg("The business license is not valid base64.", "营业执照格式不合法：不是有效的 base64 编码。"))
	}
	if !bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")) && !bytes.HasPrefix(data, []byte{0xFF, 0xD8, 0xFF}) {
		return errf("InvalidParameter.FileType", "%s", c.msg("The business license must be a PNG or JPEG image.", "文件类型不合法：营业执照须为 PNG 或 JPG 图片。"))
	}
	return nil
}

type syncRequest struct {
	Agent                   agent
	ProxyOrganizationName   string
	BusinessLicense         string
	UniformSocialCreditCode string
	ProxyLegalName          string
	ProxyLegalIdCardType    string
	ProxyLegalIdCardNumber  string
	ProxyAddress            string
}

func (s *Server) syncProxyOrganization(c *call, p *params) (any, *apiError) {
	var req syncRequest
	if e := p.into(c, &req); e != nil {
		return nil, e
	}
	s.mu.Lock()
	ap, e := s.checkAgentLocked(c, &req.Agent, false, plainAgentCodes)
	s.mu.Unlock()
	if e != nil {
		return nil, e
	}
	if e := checkOrgName(c, "ProxyOrganizationName", req.ProxyOrganizationName); e != nil {
		return nil, e
	}
	if e := s.checkLicense(c, req.BusinessLicense); e != nil {
		return nil, e
	}
	if e := s.checkCreditCode(c, req.UniformSocialCreditCode); e != nil {
		return nil, e
	}
	if e := checkPersonName(c, req.ProxyLegalName); e != nil {
		return nil, e
	}
	if req.ProxyLegalIdCardType != "" && req.ProxyLegalIdCardType != "ID_CARD" {
		return nil, errf("InvalidParameter.CardType", "%s", c.msg("Only ID_CARD is supported as the card type.", "证件类型错误：仅支持 ID_CARD。"))
	}
	if e := s.checkIDCard(c, req.ProxyLegalIdCardNumber); e != nil {
		return nil, e
	}
	if utf8.RuneCountInString(req.ProxyAddress) > 500 {
		return nil, paramError(c, "ProxyAddress is longer than 500 characters.", "ProxyAddress 长度不能超过500个字符。")
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orgLocked(ap, req.Agent.ProxyOrganizationOpenId, true)
	o.syncs++
	s.stats.Syncs[ap.AppID+"/"+o.openID]++
	o.name = req.ProxyOrganizationName
	o.creditCode = req.UniformSocialCreditCode
	o.legalName = req.ProxyLegalName
	o.legalIDType = req.ProxyLegalIdCardType
	o.legalID = req.ProxyLegalIdCardNumber
	o.address = req.ProxyAddress
	o.hasLicense = o.hasLicense || req.BusinessLicense != ""
	return struct{}{}, nil
}

type describeRequest struct {
	Agent                   agent
	Limit                   *int64
	OrganizationOpenId      string
	AuthorizationStatusList []string
	Offset                  *int64
}

type orgInfo struct {
	OrganizationId          string
	OrganizationOpenId      string
	OrganizationName        string
	UnifiedSocialCreditCode string
	LegalName               string
	LegalOpenId             string
	AdminName               string
	AdminOpenId             string
	AdminMobile             string
	AuthorizationStatus     string
	AuthorizationType       string
	ActiveStatus            int64
	LicenseExpireTime       int64
	HasSubmittedAuthInfo    bool
}

type describeResponse struct {
	ChannelOrganizationInfos []orgInfo
	Offset                   int64
	Limit                    int64
	Total                    int64
}

func (s *Server) describeChannelOrganizations(c *call, p *params) (any, *apiError) {
	var req describeRequest
	if e := p.into(c, &req); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ap, e := s.checkAgentLocked(c, &req.Agent, true, plainAgentCodes)
	if e != nil {
		return nil, e
	}
	if req.Limit == nil {
		return nil, missing(c, "Limit")
	}
	limit := *req.Limit
	if limit < 1 || limit > 200 {
		return nil, paramError(c, fmt.Sprintf("Limit must be between 1 and 200, got %d.", limit), fmt.Sprintf("Limit 取值范围为1到200，当前为%d。", limit))
	}
	var offset int64
	if req.Offset != nil {
		offset = *req.Offset
	}
	if offset < 0 || offset > 20000 {
		return nil, paramError(c, fmt.Sprintf("Offset must be between 0 and 20000, got %d.", offset), fmt.Sprintf("Offset 取值范围为0到20000，当前为%d。", offset))
	}
	want := map[string]bool{}
	for _, st := range req.AuthorizationStatusList {
		if !isStatus(st) {
			return nil, paramError(c, fmt.Sprintf("Unknown authorization status %q.", st), fmt.Sprintf("未知的认证状态%q。", st))
		}
		want[st] = true
	}
	now := s.now()
	if !s.describeAnyAgent {
		o := ap.orgs[req.Agent.ProxyOrganizationOpenId]
		if o == nil || s.statusLocked(o, now) != StatusVerified || !o.canOperate(req.Agent.operator()) {
			return nil, errf("OperationDenied", "%s", c.msg(
				"The company and employee in Agent must be verified to query companies.",
				"Agent 中的第三方平台子客企业和员工必须已经经过实名认证。"))
		}
	}
	var matches []orgInfo
	for _, o := range ap.order {
		if req.OrganizationOpenId != "" && o.openID != req.OrganizationOpenId {
			continue
		}
		in := s.infoLocked(o, now)
		if len(want) > 0 && !want[in.AuthorizationStatus] {
			continue
		}
		matches = append(matches, in)
	}
	start := offset
	if s.offsetMode == OffsetPage {
		start = offset * limit
	}
	page := []orgInfo{}
	if start < int64(len(matches)) {
		end := min(start+limit, int64(len(matches)))
		page = matches[start:end]
	}
	return describeResponse{ChannelOrganizationInfos: page, Offset: offset, Limit: limit, Total: int64(len(matches))}, nil
}

type modifyRequest struct {
	Agent       agent
	ServiceType string
	Operate     string
	Endpoint    string
}

// linkLifetime is how long an OperateUrl is valid.
const linkLifetime = 24 * time.Hour

func (s *Server) modifyExtendedService(c *call, p *params) (any, *apiError) {
	var req modifyRequest
	if e := p.into(c, &req); e != nil {
		return nil, e
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ap, e := s.checkAgentLocked(c, &req.Agent, true, plainAgentCodes)
	if e != nil {
		return nil, e
	}
	if req.ServiceType == "" {
		return nil, missing(c, "ServiceType")
	}
	withLink, ok := serviceTypes[req.ServiceType]
	if !ok {
		return nil, paramError(c, fmt.Sprintf("Unknown ServiceType %q.", req.ServiceType), fmt.Sprintf("未知的扩展服务类型%q。", req.ServiceType))
	}
	if req.ServiceType == "OVERSEA_SIGN" && s.overseaAtOnce {
		withLink = false
	}
	switch req.Operate {
	case "":
		return nil, missing(c, "Operate")
	case "OPEN", "CLOSE":
	default:
		return nil, paramError(c, fmt.Sprintf("Operate must be OPEN or CLOSE, got %q.", req.Operate), fmt.Sprintf("操作类型只能为 OPEN 或 CLOSE，当前为%q。", req.Operate))
	}
	switch req.Endpoint {
	case "", "WEIXINAPP", "APP", "WEIXIN_QRCODE_URL":
	default:
		return nil, paramError(c, fmt.Sprintf("Unknown Endpoint %q.", req.Endpoint), fmt.Sprintf("未知的 Endpoint %q。", req.Endpoint))
	}
	now := s.now()
	o := ap.orgs[req.Agent.ProxyOrganizationOpenId]
	if o == nil || s.statusLocked(o, now) != StatusVerified {
		return nil, errf("OperationDenied", "%s", c.msg(
			"The company has not completed verification.", "企业未完成认证，无法操作扩展服务。"))
	}
	if !o.canOperate(req.Agent.operator()) {
		return nil, errf("OperationDenied", "%s", c.msg(
			"The operator must be the company's super admin or legal representative.",
			"操作人须为企业超管或法人。"))
	}
	operator := req.Agent.operator()
	sv := s.serviceLocked(o, req.ServiceType, now)
	if sv == nil {
		sv = &serviceState{state: ServiceClosed}
		o.services[req.ServiceType] = sv
	}
	if req.Operate == "CLOSE" {
		*sv = serviceState{state: ServiceClosed, operator: operator, operatedAt: now}
		return modifyResponse{}, nil
	}
	if sv.state == ServiceOpen {
		return modifyResponse{}, nil
	}
	if !withLink {
		*sv = serviceState{state: ServiceOpen, operator: operator, operatedAt: now}
		return modifyResponse{}, nil
	}
	if s.keepLinks && sv.state == ServicePending && now.Before(sv.expires) {
		return modifyResponse{OperateUrl: sv.url}, nil
	}
	expires := now.Add(linkLifetime)
	sv.state, sv.issued, sv.expires, sv.linkFor = ServicePending, now, expires, operator
	sv.url = operateURL(req.ServiceType, req.Endpoint, o.orgID, expires)
	return modifyResponse{OperateUrl: sv.url}, nil
}

type modifyResponse struct {
	OperateUrl string
}

// operateURL builds a link shaped like the documentation's example.
func operateURL(serviceType, endpoint, orgID string, expires time.Time) string {
	to := "OPEN_SERVER_SIGN"
	if serviceType != "AUTO_SIGN" {
		to = "OPEN_" + serviceType
	}
	page := "jump-mp.html"
	switch endpoint {
	case "APP":
		page = "jump-app.html"
	case "WEIXIN_QRCODE_URL":
		page = "jump-qrcode.html"
	}
	q := url.Values{}
	q.Set("to", to)
	q.Set("request_token", randomToken(32))
	q.Set("organizationId", orgID)
	q.Set("channelType", "CHANNEL")
	q.Set("expired_time", strconv.FormatInt(expires.Unix(), 10))
	q.Set("login", "1")
	q.Set("verify", "1")
	// Keep the documented parameter order.
	var b strings.Builder
	b.WriteString("https://res.ess.tencent.cn/cdn/h5-activity/" + page + "?")
	for i, k := range []string{"to", "request_token", "organizationId", "channelType", "expired_time", "login", "verify"} {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k + "=" + url.QueryEscape(q.Get(k)))
	}
	return b.String()
}

type consoleRequest struct {
	Agent                     agent
	ProxyOrganizationName     string
	UniformSocialCreditCode   string
	ProxyOperatorName         string
	ProxyOperatorMobile       string
	Endpoint                  string
	AuthorizationTypes        []int64
	AutoActive                bool
	ProxyOperatorIdCardNumber string
	MenuStatus                string
	TopNavigationStatus       string
}

type consoleResponse struct {
	ConsoleUrl              string
	IsActivated             bool
	ProxyOperatorIsVerified bool
}

var consoleEndpoints = fieldSet("PC", "CHANNEL", "SHORT_URL", "WEIXIN_QRCODE_URL", "APP", "H5", "SHORT_H5")

func (s *Server) createConsoleLoginUrl(c *call, p *params) (any, *apiError) {
	var req consoleRequest
	if e := p.into(c, &req); e != nil {
		return nil, e
	}
	s.mu.Lock()
	ap, e := s.checkAgentLocked(c, &req.Agent, true, consoleCodes)
	s.mu.Unlock()
	if e != nil {
		return nil, e
	}
	if e := checkOrgName(c, "ProxyOrganizationName", req.ProxyOrganizationName); e != nil {
		return nil, e
	}
	if e := s.checkCreditCode(c, req.UniformSocialCreditCode); e != nil {
		return nil, e
	}
	if e := checkPersonName(c, req.ProxyOperatorName); e != nil {
		return nil, e
	}
	if m := req.ProxyOperatorMobile; m != "" && (len(m) != 11 || m[0] != '1' || strings.Trim(m, "0123456789") != "") {
		return nil, paramError(c, "ProxyOperatorMobile must be 11 digits without +86.", "ProxyOperatorMobile 须为11位手机号，不带+86。")
	}
	if e := s.checkIDCard(c, req.ProxyOperatorIdCardNumber); e != nil {
		return nil, e
	}
	if req.Endpoint != "" && !consoleEndpoints[req.Endpoint] {
		return nil, errf("InvalidParameter.EndPoint", "%s", c.msg(fmt.Sprintf("Unknown Endpoint %q.", req.Endpoint), fmt.Sprintf("未知的 Endpoint %q。", req.Endpoint)))
	}
	for _, t := range req.AuthorizationTypes {
		if t != 2 && t != 5 {
			return nil, errf("InvalidParameter.AuthorizationType", "%s", c.msg(fmt.Sprintf("Unknown authorization type %d.", t), fmt.Sprintf("未知的认证方式%d。", t)))
		}
	}
	for _, st := range []string{req.MenuStatus, req.TopNavigationStatus} {
		if st != "" && st != "ENABLE" && st != "DISABLE" {
			return nil, errf("InvalidParameter.MenuStatus", "%s", c.msg("MenuStatus must be ENABLE or DISABLE.", "MenuStatus 只能为 ENABLE 或 DISABLE。"))
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	o := ap.orgs[req.Agent.ProxyOrganizationOpenId]
	if o == nil || o.syncs == 0 && o.manual == "" {
		return nil, errf("FailedOperation.ErrNotSyncProxyOrganization", "%s", c.msg(
			"The company's information has not been synced: call SyncProxyOrganization first.",
			"请先调用 SyncProxyOrganization 同步企业信息。"))
	}
	now := s.now()
	st := s.statusLocked(o, now)
	openID := req.Agent.operator()
	if st != StatusVerified {
		// One link at a time: a link for another employee discards the
		// running verification.
		if o.consoleID != "" && o.consoleID != openID && o.manual == "" && st != StatusUnverified {
			o.started = now
		}
		o.consoleID = openID
		if req.ProxyOperatorName != "" {
			o.operatorName = req.ProxyOperatorName
		}
		if req.ProxyOperatorMobile != "" {
			o.operatorMobile = req.ProxyOperatorMobile
		}
	}
	var link string
	switch req.Endpoint {
	case "", "PC", "CHANNEL":
		link = "https://qian.tencent.com/console/login?token=" + randomToken(40)
	default:
		link = "https://essurl.cn/" + randomToken(10)
	}
	return consoleResponse{
		ConsoleUrl:              link,
		IsActivated:             st == StatusVerified,
		ProxyOperatorIsVerified: st == StatusVerified && o.canOperate(openID),
	}, nil
}
