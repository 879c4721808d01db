package esscallback

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// The MsgTypes that matter for onboarding.
const (
	// TypeOrgAuth: first step of activation, the company authorises.
	TypeOrgAuth = "OrgAuth"
	// TypeOrgCertify: a letter of authorisation was reviewed
	// (OperateSuccess false: rejected).
	TypeOrgCertify = "OrgCertify"
	// TypeOrgOpenTsignBiz: the company finished verification and opened
	// e-signing.
	TypeOrgOpenTsignBiz = "OrgOpenTsignBiz"
	// TypeOperateExtendedService: an extended service was operated, such as
	// an admin opening AUTO_SIGN through its link.
	TypeOperateExtendedService = "OperateExtendedService"
)

// Event is the typed MsgData of a callback: *OrgAuth, *OrgCertify,
// *OrgOpenTsignBiz or *OperateExtendedService when decoded; any type with a
// MsgType method for Encode.
type Event interface {
	MsgType() string
}

// OrgAuth is the MsgData of TypeOrgAuth.
type OrgAuth struct {
	ApplicationId           string `json:"ApplicationId"`
	ProxyOrganizationOpenId string `json:"ProxyOrganizationOpenId"`
	ProxyOperatorOpenId     string `json:"ProxyOperatorOpenId"`
	AuthSuccess             bool   `json:"AuthSuccess"`
}

// MsgType returns TypeOrgAuth.
func (*OrgAuth) MsgType() string { return TypeOrgAuth }

// OrgCertify is the MsgData of TypeOrgCertify.
type OrgCertify struct {
	ApplicationId           string `json:"ApplicationId"`
	ProxyOrganizationOpenId string `json:"ProxyOrganizationOpenId"`
	// OperateSuccess is false when the letter was rejected.
	OperateSuccess bool   `json:"OperateSuccess"`
	CertifyReason  string `json:"CertifyReason"`
	// OperateTime is in TimeLayout, China Standard Time.
	OperateTime string `json:"OperateTime"`
}

// MsgType returns TypeOrgCertify.
func (*OrgCertify) MsgType() string { return TypeOrgCertify }

// OrgOpenTsignBiz is the MsgData of TypeOrgOpenTsignBiz.
type OrgOpenTsignBiz struct {
	ApplicationId           string `json:"ApplicationId"`
	ProxyOrganizationOpenId string `json:"ProxyOrganizationOpenId"`
	ProxyOperatorOpenId     string `json:"ProxyOperatorOpenId"`
	ProxyAppId              string `json:"ProxyAppId"`
	OpenSuccess             bool   `json:"OpenSuccess"`
	OrganizationName        string `json:"OrganizationName"`
	USCC                    string `json:"USCC"`
	LegalName               string `json:"LegalName"`
}

// MsgType returns TypeOrgOpenTsignBiz.
func (*OrgOpenTsignBiz) MsgType() string { return TypeOrgOpenTsignBiz }

// OperateExtendedService is the MsgData of TypeOperateExtendedService. The
// platform's pages do not publish this payload. ApplicationId and
// ProxyOrganizationOpenId are the names every other event uses; ServiceType
// and Operate ("OPEN" or "CLOSE") are ModifyExtendedService's names for the
// service and the operation; ProxyOperatorOpenId, OperateSuccess and
// OperateTime follow OrgAuth and OrgCertify. Treat the event as a trigger to
// ask DescribeExtendedServiceAuthInfo, not as the service's status.
type OperateExtendedService struct {
	ApplicationId           string `json:"ApplicationId"`
	ProxyOrganizationOpenId string `json:"ProxyOrganizationOpenId"`
	ProxyOperatorOpenId     string `json:"ProxyOperatorOpenId"`
	ServiceType             string `json:"ServiceType"`
	Operate                 string `json:"Operate"`
	OperateSuccess          bool   `json:"OperateSuccess"`
	// OperateTime is in TimeLayout, China Standard Time.
	OperateTime string `json:"OperateTime"`
}

// MsgType returns TypeOperateExtendedService.
func (*OperateExtendedService) MsgType() string { return TypeOperateExtendedService }

// FormatTime formats t as the MsgData times are written.
func FormatTime(t time.Time) string { return t.In(platformZone).Format(TimeLayout) }

// Message is one decoded callback.
type Message struct {
	MsgId      string
	MsgType    string
	MsgVersion string
	// ApplicationId and ProxyOrganizationOpenId are read from MsgData for
	// every MsgType that has them, onboarding events or not.
	ApplicationId           string
	ProxyOrganizationOpenId string
	// Time is MsgData's OperateTime, zero when the event has none or it is
	// not in TimeLayout.
	Time time.Time
	// Event is the typed MsgData of the onboarding MsgTypes; nil for the
	// others, which a receiver records and ignores.
	Event Event
	// MsgData is the MsgData as received.
	MsgData json.RawMessage
}

// Parse reads a callback envelope in the clear (Codec.Open's result). It
// fails with ErrJSON when the envelope is not a JSON object with a MsgId and
// a MsgType, or when an onboarding event's MsgData does not have the types of
// its fields; unknown fields are ignored.
func Parse(envelopeJSON []byte) (*Message, error) {
	var env envelope
	if err := json.Unmarshal(envelopeJSON, &env); err != nil {
		return nil, fmt.Errorf("%w: envelope: %v", ErrJSON, err)
	}
	if env.MsgId == "" || env.MsgType == "" {
		return nil, fmt.Errorf("%w: envelope without MsgId or MsgType", ErrJSON)
	}
	m := &Message{MsgId: env.MsgId, MsgType: env.MsgType, MsgVersion: env.MsgVersion, MsgData: env.MsgData}

	var ev Event
	switch env.MsgType {
	case TypeOrgAuth:
		ev = &OrgAuth{}
	case TypeOrgCertify:
		ev = &OrgCertify{}
	case TypeOrgOpenTsignBiz:
		ev = &OrgOpenTsignBiz{}
	case TypeOperateExtendedService:
		ev = &OperateExtendedService{}
	}
	data := bytes.TrimSpace(env.MsgData)
	if ev != nil {
		if len(data) == 0 || data[0] != '{' {
			return nil, fmt.Errorf("%w: %s without a MsgData object", ErrJSON, env.MsgType)
		}
		if err := json.Unmarshal(data, ev); err != nil {
			return nil, fmt.Errorf("%w: MsgData of %s: %v", ErrJSON, env.MsgType, err)
		}
		m.Event = ev
	}
	// The common fields, leniently: other MsgTypes may lack them or carry
	// them with other types.
	var common struct {
		ApplicationId           any
		ProxyOrganizationOpenId any
		OperateTime             any
	}
	_ = json.Unmarshal(data, &common)
	m.ApplicationId, _ = common.ApplicationId.(string)
	m.ProxyOrganizationOpenId, _ = common.ProxyOrganizationOpenId.(string)
	if s, ok := common.OperateTime.(string); ok {
		if t, err := time.ParseInLocation(TimeLayout, s, platformZone); err == nil {
			m.Time = t
		}
	}
	return m, nil
}
