// Package onboard holds the domain types shared by the importer, the
// repository and the workers. It imports only the standard library.
package onboard

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// ServiceType is an essbasic extended service a company can ask for
// (ModifyExtendedService.ServiceType).
type ServiceType string

// The extended services the spreadsheet contract accepts.
const (
	ServiceAutoSign            ServiceType = "AUTO_SIGN"
	ServiceOverseaSign         ServiceType = "OVERSEA_SIGN"
	ServiceMobileCheckApprover ServiceType = "MOBILE_CHECK_APPROVER"
	ServicePagingSeal          ServiceType = "PAGING_SEAL"
	ServiceDownloadFlow        ServiceType = "DOWNLOAD_FLOW"
	ServiceAgeLimitExpansion   ServiceType = "AGE_LIMIT_EXPANSION"
	ServiceHideOperatorDisplay ServiceType = "HIDE_OPERATOR_DISPLAY"
)

// ServiceTypes lists every accepted service in a stable order.
var ServiceTypes = []ServiceType{
	ServiceAutoSign, ServiceOverseaSign, ServiceMobileCheckApprover, ServicePagingSeal,
	ServiceDownloadFlow, ServiceAgeLimitExpansion, ServiceHideOperatorDisplay,
}

// Field names as the API spells them; used in rejections and warnings.
const (
	FieldOpenID            = "ProxyOrganizationOpenId"
	FieldName              = "ProxyOrganizationName"
	FieldCreditCode        = "UniformSocialCreditCode"
	FieldLegalName         = "ProxyLegalName"
	FieldLegalIDCardType   = "ProxyLegalIdCardType"
	FieldLegalIDCardNumber = "ProxyLegalIdCardNumber"
	FieldAddress           = "ProxyAddress"
	FieldBusinessLicense   = "BusinessLicense"
	FieldAdminOpenID       = "AdminOpenId"
	FieldExtendedServices  = "ExtendedServices"
)

// Image is a license picture, stored once by the hex SHA-256 of its bytes.
type Image struct {
	SHA256 string // hex SHA-256 of Data
	MIME   string // "image/png" or "image/jpeg"
	Data   []byte
}

// NewImage returns an Image for data with its hash filled in.
func NewImage(mime string, data []byte) *Image {
	sum := sha256.Sum256(data)
	return &Image{SHA256: hex.EncodeToString(sum[:]), MIME: mime, Data: data}
}

// OrgData is one sub-company's license data as imported and normalised.
type OrgData struct {
	OpenID            string // ProxyOrganizationOpenId
	Name              string // ProxyOrganizationName, full-width brackets
	CreditCode        string // UniformSocialCreditCode, may be empty
	LegalName         string
	LegalIDCardType   string // "ID_CARD" when a number is given or the column says so
	LegalIDCardNumber string
	Address           string
	AdminOpenID       string
	License           *Image        // nil when the row has none
	Services          []ServiceType // upper-cased, de-duplicated, in file order
}

// Fingerprint is a stable hash of everything that is sent to the platform or
// drives onboarding. Two imports with the same fingerprint are the same data.
func (d *OrgData) Fingerprint() string {
	h := sha256.New()
	put := func(s string) { h.Write([]byte(s)); h.Write([]byte{0}) }
	put(d.OpenID)
	put(d.Name)
	put(d.CreditCode)
	put(d.LegalName)
	put(d.LegalIDCardType)
	put(d.LegalIDCardNumber)
	put(d.Address)
	put(d.AdminOpenID)
	if d.License != nil {
		put(d.License.SHA256)
	} else {
		put("")
	}
	svc := make([]string, len(d.Services))
	for i, s := range d.Services {
		svc[i] = string(s)
	}
	put(strings.Join(svc, ","))
	return hex.EncodeToString(h.Sum(nil))
}

// RowError is one reason a row was rejected. Row is the 1-based row number as
// Excel shows it; Column is the header as written in the file. Code is the
// stable reason code (docs/reason-codes.md) and Params its parameters; Reason
// is the text rendered from them in the reader's language (package locale).
// A reason stored before codes existed has Reason alone.
type RowError struct {
	Row    int               `json:"row"`
	Column string            `json:"column"`
	Field  string            `json:"field"`
	Code   string            `json:"code"`
	Params map[string]string `json:"params"`
	Reason string            `json:"reason"`
}

// RowWarning is a change the importer made to a value, or a doubt about it,
// that does not reject the row. Code and Params are as in RowError; Message
// is the text rendered from them.
type RowWarning struct {
	Row     int               `json:"row"`
	Field   string            `json:"field"`
	Code    string            `json:"code"`
	Params  map[string]string `json:"params"`
	Message string            `json:"message"`
}

// Row is one non-blank data row of an imported file.
type Row struct {
	Number   int      // 1-based, as Excel shows it
	Cells    []string // the cells as displayed, one per header column, in file order
	Data     OrgData  // meaningful only when Errors is empty
	Errors   []RowError
	Warnings []RowWarning
}

// Accepted reports whether the row had no errors.
func (r *Row) Accepted() bool { return len(r.Errors) == 0 }

// Onboarding states of an organization.
const (
	StateQueued          = "queued"           // waiting for SyncProxyOrganization
	StateAwaitingAuth    = "awaiting_auth"    // synced; waiting for the company to verify itself
	StateOpeningServices = "opening_services" // verified; service requests in flight
	StateAwaitingAdmin   = "awaiting_admin"   // every service requested; an admin must still open a link
	StateDone            = "done"             // verified and every requested service open
	StateFailed          = "failed"           // a permanent error, or transient errors out of tries
	StateAuthRejected    = "auth_rejected"    // the platform rejected the company's authorization
	StateTimedOut        = "timed_out"        // not verified before the polling deadline
)

// FinalStates are the states no work follows.
var FinalStates = []string{StateDone, StateFailed, StateAuthRejected, StateTimedOut}

// IsFinal reports whether state is final.
func IsFinal(state string) bool {
	for _, s := range FinalStates {
		if s == state {
			return true
		}
	}
	return false
}

// Service request states.
const (
	ServiceRequested = "requested" // waiting for ModifyExtendedService
	ServiceLinked    = "linked"    // an OperateUrl was issued; the admin must open it
	ServiceOpened    = "opened"    // open: at once (no link needed), or the platform says ENABLE
	ServiceFailed    = "failed"
)
