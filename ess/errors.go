package ess

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// Class says what a caller should do about a failed call.
type Class string

// Error classes.
const (
	// ClassTransient: back off and try again.
	ClassTransient Class = "transient"
	// ClassRateLimited: the platform's frequency limit; try again soon, it is
	// not a failure of the row.
	ClassRateLimited Class = "rate_limited"
	// ClassPermanent: this row's data or state is wrong; fail the row.
	ClassPermanent Class = "permanent"
	// ClassSystemic: every call of the application will fail the same way
	// (credentials, a banned or unknown application, a missing feature,
	// a request shape the platform rejects); pause the application.
	ClassSystemic Class = "systemic"
	// ClassCanceled: the caller's context ended (shutdown or the caller's
	// deadline); nothing is known about the row: hand the task back.
	ClassCanceled Class = "canceled"
)

// Client-side codes the SDK (or this package) produces. They never come with a
// RequestId.
const (
	CodeNetworkError        = "ClientError.NetworkError"
	CodeHTTPStatusCodeError = "ClientError.HttpStatusCodeError"
	CodeIOError             = "ClientError.IOError"
	CodeParseJSONError      = "ClientError.ParseJsonError"
	CodeInvalidParameter    = "ClientError.InvalidParameter"
	CodeBuildRequestError   = "ClientError.BuildRequestError"
)

// APIError is the error of every failed call of Client. Code, Message and
// RequestID are the platform's (or the SDK's ClientError.* code for failures
// on this side, with an empty RequestID). Class is set when the error is made.
type APIError struct {
	Action    string
	Code      string
	Message   string
	RequestID string
	Class     Class
	Err       error // the underlying SDK or network error, if any
}

// Error returns "essbasic <Action>: <Code>: <Message> (RequestId <id>)".
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("essbasic ")
	if e.Action != "" {
		b.WriteString(e.Action)
		b.WriteString(": ")
	}
	b.WriteString(e.Code)
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " (RequestId %s)", e.RequestID)
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *APIError) Unwrap() error { return e.Err }

// MaxTries is the most attempts worth making for this error's code, counting
// the first, when the platform documents or suggests a low cap (FailedOperation,
// ResourceUnavailable, unknown codes). 0 means: use the caller's default.
func (e *APIError) MaxTries() int {
	if e.Class == ClassCanceled {
		return 0
	}
	_, n := Classify(e.Code)
	return n
}

// ClassOf returns the class of err: the Class of an *APIError in its chain;
// ClassCanceled for context.Canceled or context.DeadlineExceeded; otherwise
// ClassTransient. A nil error has no class ("").
func ClassOf(err error) Class {
	if err == nil {
		return ""
	}
	var ae *APIError
	if errors.As(err, &ae) && ae.Class != "" {
		return ae.Class
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return ClassCanceled
	}
	if ae != nil {
		c, _ := Classify(ae.Code)
		return c
	}
	return ClassTransient
}

// lowCap is the number of tries for codes the reference gives a low cap.
const lowCap = 3

type rule struct {
	class    Class
	maxTries int
}

// codeClasses is the one table of every code the platform documents for the
// actions and of the platform's common codes, with the SDK's client-side
// codes. Codes not listed fall back to prefixRules, then to transient with a
// low cap.
var codeClasses = map[string]rule{
	// Server faults.
	"InternalError":        {ClassTransient, 0},
	"InternalError.System": {ClassTransient, 0},
	"InternalError.DbRead": {ClassTransient, 0},

	// Unspecified failure: a few tries, then give up on the row.
	"FailedOperation": {ClassTransient, lowCap},
	"FailedOperation.ErrNotSyncProxyOrganization": {ClassPermanent, 0},

	// This row's data.
	"InvalidParameter":                         {ClassPermanent, 0},
	"InvalidParameter.BusinessLicense":         {ClassPermanent, 0},
	"InvalidParameter.CardNumber":              {ClassPermanent, 0},
	"InvalidParameter.CardType":                {ClassPermanent, 0},
	"InvalidParameter.FileType":                {ClassPermanent, 0},
	"InvalidParameter.Name":                    {ClassPermanent, 0},
	"InvalidParameter.OrganizationId":          {ClassPermanent, 0},
	"InvalidParameter.OrganizationName":        {ClassPermanent, 0},
	"InvalidParameter.ParamError":              {ClassPermanent, 0},
	"InvalidParameter.UniformSocialCreditCode": {ClassPermanent, 0},
	"InvalidParameter.AuthorizationType":       {ClassPermanent, 0},
	"InvalidParameter.DataNotFound":            {ClassPermanent, 0},
	"InvalidParameter.EndPoint":                {ClassPermanent, 0},
	"InvalidParameter.MenuStatus":              {ClassPermanent, 0},
	"InvalidParameter.OpenId":                  {ClassPermanent, 0},
	"InvalidParameterValue":                    {ClassPermanent, 0},
	"MissingParameter":                         {ClassPermanent, 0},
	"MissingParameter.CompanyActiveInfo":       {ClassPermanent, 0},
	"MissingParameter.OrgOpenId":               {ClassPermanent, 0},
	"MissingParameter.ProxyOperatorOpenId":     {ClassPermanent, 0},
	"LimitExceeded.FileSize":                   {ClassPermanent, 0},
	"RequestSizeLimitExceeded":                 {ClassPermanent, 0},
	"ResponseSizeLimitExceeded":                {ClassPermanent, 0},

	// Company or operator state or role.
	"OperationDenied":                       {ClassPermanent, 0},
	"OperationDenied.UserNotInOrganization": {ClassPermanent, 0},
	"OperationDenied.NotSupportOrgType":     {ClassPermanent, 0},
	"OperationDenied.OrganizationClosing":   {ClassPermanent, 0},
	"ResourceNotFound":                      {ClassPermanent, 0},
	"ResourceNotFound.Flow":                 {ClassPermanent, 0},
	"UnsupportedOperation":                  {ClassPermanent, 0},

	// The application as a whole.
	"OperationDenied.BannedApplication":           {ClassSystemic, 0},
	"OperationDenied.ErrNotOpenWeakAuthorization": {ClassSystemic, 0},
	"ResourceNotFound.Application":                {ClassSystemic, 0},
	"ResourceNotFound.ApplicationId":              {ClassSystemic, 0},
	"UnauthorizedOperation":                       {ClassSystemic, 0},
	"UnauthorizedOperation.NoPermissionFeature":   {ClassSystemic, 0},
	"UnknownParameter":                            {ClassSystemic, 0},
	"AuthFailure":                                 {ClassSystemic, 0},
	"AuthFailure.InvalidAuthorization":            {ClassSystemic, 0},
	"AuthFailure.SecretIdNotFound":                {ClassSystemic, 0},
	"AuthFailure.InvalidSecretId":                 {ClassSystemic, 0},
	"AuthFailure.SignatureFailure":                {ClassSystemic, 0},
	"AuthFailure.SignatureExpire":                 {ClassSystemic, 2}, // one fresh retry is harmless
	"AuthFailure.TokenFailure":                    {ClassSystemic, 0},
	"AuthFailure.UnauthorizedOperation":           {ClassSystemic, 0},
	"AuthFailure.MFAFailure":                      {ClassSystemic, 0},
	"IpInBlacklist":                               {ClassSystemic, 0},
	"IpNotInWhitelist":                            {ClassSystemic, 0},
	"LimitExceeded":                               {ClassSystemic, 0},
	"InvalidAction":                               {ClassSystemic, 0},
	"ActionOffline":                               {ClassSystemic, 0},
	"NoSuchProduct":                               {ClassSystemic, 0},
	"NoSuchVersion":                               {ClassSystemic, 0},
	"UnsupportedProtocol":                         {ClassSystemic, 0},
	"UnsupportedRegion":                           {ClassSystemic, 0},
	"InvalidRequest":                              {ClassSystemic, 0},

	// Momentary.
	"ResourceUnavailable":  {ClassTransient, lowCap},
	"ResourceInUse":        {ClassTransient, 0},
	"ResourceInsufficient": {ClassTransient, 0},
	"ServiceUnavailable":   {ClassTransient, 0},

	// Frequency limits.
	"RequestLimitExceeded":                              {ClassRateLimited, 0},
	"RequestLimitExceeded.UinLimitExceeded":             {ClassRateLimited, 0},
	"RequestLimitExceeded.IPLimitExceeded":              {ClassRateLimited, 0},
	"RequestLimitExceeded.GlobalRegionUinLimitExceeded": {ClassRateLimited, 0},

	// Client side. Every action is safe to repeat. A ParseJsonError
	// from building the request is reclassified as systemic where it happens.
	CodeNetworkError:        {ClassTransient, 0},
	CodeHTTPStatusCodeError: {ClassTransient, 0},
	CodeIOError:             {ClassTransient, 0},
	CodeParseJSONError:      {ClassTransient, 0},
	CodeInvalidParameter:    {ClassSystemic, 0},
	CodeBuildRequestError:   {ClassSystemic, 0},
}

// prefixRules classify codes missing from codeClasses, first match wins.
var prefixRules = []struct {
	prefix string
	class  Class
}{
	{"InternalError.", ClassTransient},
	{"RequestLimitExceeded.", ClassRateLimited},
	{"AuthFailure.", ClassSystemic},
	{"UnauthorizedOperation.", ClassSystemic},
	{"InvalidParameter", ClassPermanent}, // also InvalidParameterValue.*
	{"MissingParameter", ClassPermanent},
	{"OperationDenied.", ClassPermanent},
	{"ResourceNotFound.", ClassPermanent},
	{"FailedOperation.", ClassPermanent},
	{"LimitExceeded.", ClassPermanent},
}

// Classify returns the class of an error code and the most tries worth making
// for it (0: the caller's default). Unknown codes are classified by prefix;
// codes matching no prefix are transient with a low cap.
func Classify(code string) (Class, int) {
	if r, ok := codeClasses[code]; ok {
		return r.class, r.maxTries
	}
	for _, p := range prefixRules {
		if strings.HasPrefix(code, p.prefix) {
			return p.class, 0
		}
	}
	return ClassTransient, lowCap
}

// KnownCode reports whether code is one the classification table lists by
// name (not by prefix or fallback).
func KnownCode(code string) bool {
	_, ok := codeClasses[code]
	return ok
}
