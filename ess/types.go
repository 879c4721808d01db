package ess

// Version is the essbasic API version every call uses.
const Version = "2021-05-26"

// Action names.
const (
	ActionSyncProxyOrganization        = "SyncProxyOrganization"
	ActionDescribeChannelOrganizations = "DescribeChannelOrganizations"
	ActionModifyExtendedService        = "ModifyExtendedService"
	ActionCreateConsoleLoginUrl        = "CreateConsoleLoginUrl"

	ActionDescribeExtendedServiceAuthInfo = "DescribeExtendedServiceAuthInfo"
)

// UserInfo identifies an employee of a sub-company by the channel's own OpenId.
// The API's deprecated internal fields are deliberately absent.
type UserInfo struct {
	OpenId string `json:"OpenId,omitempty"`
}

// Agent names the channel application and the sub-company a call acts for.
type Agent struct {
	AppId                   string    `json:"AppId"`
	ProxyOrganizationOpenId string    `json:"ProxyOrganizationOpenId,omitempty"`
	ProxyOperator           *UserInfo `json:"ProxyOperator,omitempty"`
	ProxyAppId              string    `json:"ProxyAppId,omitempty"`
}

// SyncProxyOrganizationRequest sends a sub-company's license data.
type SyncProxyOrganizationRequest struct {
	Agent                   Agent  `json:"Agent"`
	ProxyOrganizationName   string `json:"ProxyOrganizationName"`
	BusinessLicense         string `json:"BusinessLicense,omitempty"` // base64 PNG/JPEG
	UniformSocialCreditCode string `json:"UniformSocialCreditCode,omitempty"`
	ProxyLegalName          string `json:"ProxyLegalName,omitempty"`
	ProxyLegalIdCardType    string `json:"ProxyLegalIdCardType,omitempty"`
	ProxyLegalIdCardNumber  string `json:"ProxyLegalIdCardNumber,omitempty"`
	ProxyAddress            string `json:"ProxyAddress,omitempty"`
}

// SyncProxyOrganizationResponse carries only the RequestId.
type SyncProxyOrganizationResponse struct {
	RequestId string `json:"RequestId"`
}

// DescribeChannelOrganizationsRequest asks for one company (OrganizationOpenId)
// or a page of all the application's companies.
type DescribeChannelOrganizationsRequest struct {
	Agent                   Agent    `json:"Agent"`
	Limit                   int64    `json:"Limit"`
	OrganizationOpenId      string   `json:"OrganizationOpenId,omitempty"`
	AuthorizationStatusList []string `json:"AuthorizationStatusList,omitempty"`
	Offset                  *int64   `json:"Offset,omitempty"`
}

// ChannelOrganizationInfo is one company as the platform knows it.
type ChannelOrganizationInfo struct {
	OrganizationId          string `json:"OrganizationId"`
	OrganizationOpenId      string `json:"OrganizationOpenId"`
	OrganizationName        string `json:"OrganizationName"`
	UnifiedSocialCreditCode string `json:"UnifiedSocialCreditCode"`
	LegalName               string `json:"LegalName"`
	LegalOpenId             string `json:"LegalOpenId"`
	AdminName               string `json:"AdminName"`
	AdminOpenId             string `json:"AdminOpenId"`
	AdminMobile             string `json:"AdminMobile"`
	AuthorizationStatus     string `json:"AuthorizationStatus"`
	AuthorizationType       string `json:"AuthorizationType"`
	ActiveStatus            int64  `json:"ActiveStatus"`
	LicenseExpireTime       int64  `json:"LicenseExpireTime"`
	HasSubmittedAuthInfo    bool   `json:"HasSubmittedAuthInfo"`
}

// DescribeChannelOrganizationsResponse is one page of companies.
type DescribeChannelOrganizationsResponse struct {
	ChannelOrganizationInfos []ChannelOrganizationInfo `json:"ChannelOrganizationInfos"`
	Offset                   int64                     `json:"Offset"`
	Limit                    int64                     `json:"Limit"`
	Total                    int64                     `json:"Total"`
	RequestId                string                    `json:"RequestId"`
}

// Authorization statuses (ChannelOrganizationInfo.AuthorizationStatus).
const (
	StatusUnverified            = "UNVERIFIED"
	StatusVerifying             = "VERIFYING"
	StatusVerifyingLegalPending = "VERIFYINGLEGALPENDINGAUTHORIZATION"
	StatusVerifyingFilePending  = "VERIFYINGAUTHORIZATIONFILEPENDING"
	StatusVerifyingFileRejected = "VERIFYINGAUTHORIZATIONFILEREJECT"
	StatusVerified              = "VERIFIED"
)

// ModifyExtendedServiceRequest opens or closes an extended service.
type ModifyExtendedServiceRequest struct {
	Agent       Agent  `json:"Agent"`
	ServiceType string `json:"ServiceType"`
	Operate     string `json:"Operate"`            // "OPEN" or "CLOSE"
	Endpoint    string `json:"Endpoint,omitempty"` // WEIXINAPP (default), APP, WEIXIN_QRCODE_URL
}

// ModifyExtendedServiceResponse has a link when the admin must still confirm.
type ModifyExtendedServiceResponse struct {
	OperateUrl string `json:"OperateUrl"`
	RequestId  string `json:"RequestId"`
}

// CreateConsoleLoginUrlRequest asks for a console (activation) link for an
// employee of a sub-company.
type CreateConsoleLoginUrlRequest struct {
	Agent                   Agent  `json:"Agent"`
	ProxyOrganizationName   string `json:"ProxyOrganizationName"`
	UniformSocialCreditCode string `json:"UniformSocialCreditCode,omitempty"`
	ProxyOperatorName       string `json:"ProxyOperatorName,omitempty"`
	ProxyOperatorMobile     string `json:"ProxyOperatorMobile,omitempty"`
	Endpoint                string `json:"Endpoint,omitempty"` // PC (default), CHANNEL, SHORT_URL, WEIXIN_QRCODE_URL, APP, H5, SHORT_H5
	AutoActive              bool   `json:"AutoActive,omitempty"`
}

// CreateConsoleLoginUrlResponse carries the single-use console link.
type CreateConsoleLoginUrlResponse struct {
	ConsoleUrl              string `json:"ConsoleUrl"`
	IsActivated             bool   `json:"IsActivated"`
	ProxyOperatorIsVerified bool   `json:"ProxyOperatorIsVerified"`
	RequestId               string `json:"RequestId"`
}

// DescribeExtendedServiceAuthInfoRequest asks for every extended service of
// a verified company. The documentation gives it no field besides Agent (no
// filter by service type): the platform answers an unknown field with
// UnknownParameter, so none is sent. Agent.ProxyOperator must be the
// company's super admin or legal representative.
type DescribeExtendedServiceAuthInfoRequest struct {
	Agent Agent `json:"Agent"`
}

// Extended service statuses (ExtendedServiceAuthInfo.Status).
const (
	ServiceEnable  = "ENABLE"
	ServiceDisable = "DISABLE"
)

// ExtendedServiceAuthInfo is one extended service of a company. A service
// asked for with ModifyExtendedService is open only once it is ENABLE; a
// link not yet followed leaves it DISABLE.
type ExtendedServiceAuthInfo struct {
	Type           string `json:"Type"`   // AUTO_SIGN, DOWNLOAD_FLOW, …
	Name           string `json:"Name"`   // the service's name in Chinese
	Status         string `json:"Status"` // ServiceEnable or ServiceDisable
	OperatorOpenId string `json:"OperatorOpenId"`
	OperateOn      int64  `json:"OperateOn"` // Unix seconds of the latest operation; 0: never
}

// DescribeExtendedServiceAuthInfoResponse lists the company's services, one
// entry per service type.
type DescribeExtendedServiceAuthInfoResponse struct {
	AuthInfo  []ExtendedServiceAuthInfo `json:"AuthInfo"`
	RequestId string                    `json:"RequestId"`
}

// Service returns the entry of service type typ, or false.
func (r *DescribeExtendedServiceAuthInfoResponse) Service(typ string) (ExtendedServiceAuthInfo, bool) {
	for _, in := range r.AuthInfo {
		if in.Type == typ {
			return in, true
		}
	}
	return ExtendedServiceAuthInfo{}, false
}

// Enabled reports whether service type typ is ENABLE.
func (r *DescribeExtendedServiceAuthInfoResponse) Enabled(typ string) bool {
	in, ok := r.Service(typ)
	return ok && in.Status == ServiceEnable
}
