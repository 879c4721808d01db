package ess

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// One case per entry of the reference's classification (§7), written out
// independently of the table in errors.go.
func TestClassifyTable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code     string
		class    Class
		maxTries int
	}{
		{"InternalError", ClassTransient, 0},
		{"InternalError.System", ClassTransient, 0},
		{"InternalError.DbRead", ClassTransient, 0},
		{"FailedOperation", ClassTransient, 3},
		{"FailedOperation.ErrNotSyncProxyOrganization", ClassPermanent, 0},
		{"InvalidParameter", ClassPermanent, 0},
		{"InvalidParameter.BusinessLicense", ClassPermanent, 0},
		{"InvalidParameter.CardNumber", ClassPermanent, 0},
		{"InvalidParameter.CardType", ClassPermanent, 0},
		{"InvalidParameter.FileType", ClassPermanent, 0},
		{"InvalidParameter.Name", ClassPermanent, 0},
		{"InvalidParameter.OrganizationId", ClassPermanent, 0},
		{"InvalidParameter.OrganizationName", ClassPermanent, 0},
		{"InvalidParameter.ParamError", ClassPermanent, 0},
		{"InvalidParameter.UniformSocialCreditCode", ClassPermanent, 0},
		{"InvalidParameter.AuthorizationType", ClassPermanent, 0},
		{"InvalidParameter.DataNotFound", ClassPermanent, 0},
		{"InvalidParameter.EndPoint", ClassPermanent, 0},
		{"InvalidParameter.MenuStatus", ClassPermanent, 0},
		{"InvalidParameter.OpenId", ClassPermanent, 0},
		{"InvalidParameterValue", ClassPermanent, 0},
		{"MissingParameter", ClassPermanent, 0},
		{"MissingParameter.CompanyActiveInfo", ClassPermanent, 0},
		{"MissingParameter.OrgOpenId", ClassPermanent, 0},
		{"MissingParameter.ProxyOperatorOpenId", ClassPermanent, 0},
		{"LimitExceeded.FileSize", ClassPermanent, 0},
		{"RequestSizeLimitExceeded", ClassPermanent, 0},
		{"ResponseSizeLimitExceeded", ClassPermanent, 0},
		{"OperationDenied", ClassPermanent, 0},
		{"OperationDenied.UserNotInOrganization", ClassPermanent, 0},
		{"OperationDenied.NotSupportOrgType", ClassPermanent, 0},
		{"OperationDenied.OrganizationClosing", ClassPermanent, 0},
		{"ResourceNotFound", ClassPermanent, 0},
		{"ResourceNotFound.Flow", ClassPermanent, 0},
		{"UnsupportedOperation", ClassPermanent, 0},
		{"OperationDenied.BannedApplication", ClassSystemic, 0},
		{"OperationDenied.ErrNotOpenWeakAuthorization", ClassSystemic, 0},
		{"ResourceNotFound.Application", ClassSystemic, 0},
		{"ResourceNotFound.ApplicationId", ClassSystemic, 0},
		{"UnauthorizedOperation", ClassSystemic, 0},
		{"UnauthorizedOperation.NoPermissionFeature", ClassSystemic, 0},
		{"UnknownParameter", ClassSystemic, 0},
		{"AuthFailure", ClassSystemic, 0},
		{"AuthFailure.InvalidAuthorization", ClassSystemic, 0},
		{"AuthFailure.SecretIdNotFound", ClassSystemic, 0},
		{"AuthFailure.InvalidSecretId", ClassSystemic, 0},
		{"AuthFailure.SignatureFailure", ClassSystemic, 0},
		{"AuthFailure.SignatureExpire", ClassSystemic, 2},
		{"AuthFailure.TokenFailure", ClassSystemic, 0},
		{"AuthFailure.UnauthorizedOperation", ClassSystemic, 0},
		{"AuthFailure.MFAFailure", ClassSystemic, 0},
		{"IpInBlacklist", ClassSystemic, 0},
		{"IpNotInWhitelist", ClassSystemic, 0},
		{"LimitExceeded", ClassSystemic, 0},
		{"InvalidAction", ClassSystemic, 0},
		{"ActionOffline", ClassSystemic, 0},
		{"NoSuchProduct", ClassSystemic, 0},
		{"NoSuchVersion", ClassSystemic, 0},
		{"UnsupportedProtocol", ClassSystemic, 0},
		{"UnsupportedRegion", ClassSystemic, 0},
		{"InvalidRequest", ClassSystemic, 0},
		{"ResourceUnavailable", ClassTransient, 3},
		{"ResourceInUse", ClassTransient, 0},
		{"ResourceInsufficient", ClassTransient, 0},
		{"ServiceUnavailable", ClassTransient, 0},
		{"RequestLimitExceeded", ClassRateLimited, 0},
		{"RequestLimitExceeded.UinLimitExceeded", ClassRateLimited, 0},
		{"RequestLimitExceeded.IPLimitExceeded", ClassRateLimited, 0},
		{"RequestLimitExceeded.GlobalRegionUinLimitExceeded", ClassRateLimited, 0},
		{"ClientError.NetworkError", ClassTransient, 0},
		{"ClientError.HttpStatusCodeError", ClassTransient, 0},
		{"ClientError.IOError", ClassTransient, 0},
		{"ClientError.ParseJsonError", ClassTransient, 0},
		{"ClientError.InvalidParameter", ClassSystemic, 0},
		{"ClientError.BuildRequestError", ClassSystemic, 0},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			if !KnownCode(tt.code) {
				t.Errorf("%s is not in the table", tt.code)
			}
			class, n := Classify(tt.code)
			if class != tt.class || n != tt.maxTries {
				t.Errorf("Classify(%s) = %s, %d; want %s, %d", tt.code, class, n, tt.class, tt.maxTries)
			}
			e := &APIError{Code: tt.code, Class: class}
			if got := ClassOf(fmt.Errorf("wrapped: %w", e)); got != tt.class {
				t.Errorf("ClassOf(wrapped %s) = %s", tt.code, got)
			}
			if e.MaxTries() != tt.maxTries {
				t.Errorf("MaxTries = %d, want %d", e.MaxTries(), tt.maxTries)
			}
		})
		seen[tt.code] = true
	}
	// The table has no entry the cases above do not check.
	for code := range codeClasses {
		if !seen[code] {
			t.Errorf("table entry %s has no test case", code)
		}
	}
}

// Every business code the actions document (reference §7) is in the table.
func TestEveryDocumentedCodeIsKnown(t *testing.T) {
	t.Parallel()
	sync := []string{"FailedOperation", "InternalError", "InternalError.System", "InvalidParameter",
		"InvalidParameter.BusinessLicense", "InvalidParameter.CardNumber", "InvalidParameter.CardType",
		"InvalidParameter.FileType", "InvalidParameter.Name", "InvalidParameter.OrganizationId",
		"InvalidParameter.OrganizationName", "InvalidParameter.ParamError", "InvalidParameter.UniformSocialCreditCode",
		"LimitExceeded.FileSize", "MissingParameter", "OperationDenied", "OperationDenied.BannedApplication",
		"OperationDenied.UserNotInOrganization", "ResourceNotFound", "ResourceNotFound.Application",
		"ResourceNotFound.ApplicationId", "UnauthorizedOperation", "UnauthorizedOperation.NoPermissionFeature",
		"UnknownParameter", "UnsupportedOperation"}
	describe := []string{"FailedOperation", "InternalError", "InvalidParameter", "InvalidParameter.ParamError"}
	modify := []string{"FailedOperation", "InternalError", "InternalError.DbRead", "InvalidParameter",
		"InvalidParameter.ParamError", "MissingParameter", "OperationDenied", "UnauthorizedOperation.NoPermissionFeature"}
	console := []string{"FailedOperation.ErrNotSyncProxyOrganization", "InvalidParameter.AuthorizationType",
		"InvalidParameter.DataNotFound", "InvalidParameter.EndPoint", "InvalidParameter.MenuStatus",
		"InvalidParameter.OpenId", "MissingParameter.CompanyActiveInfo", "MissingParameter.OrgOpenId",
		"MissingParameter.ProxyOperatorOpenId", "OperationDenied.ErrNotOpenWeakAuthorization",
		"OperationDenied.NotSupportOrgType", "OperationDenied.OrganizationClosing", "ResourceNotFound.Flow",
		"ResourceUnavailable"}
	// The project's documentation names no codes of its own for
	// DescribeExtendedServiceAuthInfo; these are the ones its rules imply
	// (Agent, verified company, admin or legal representative, per-action
	// limit), as the simulator answers them.
	extendedAuth := []string{"FailedOperation", "InternalError", "InvalidParameter", "MissingParameter",
		"OperationDenied", "UnknownParameter", "ResourceNotFound.Application", "RequestLimitExceeded"}
	for _, list := range [][]string{sync, describe, modify, console, extendedAuth} {
		for _, code := range list {
			if !KnownCode(code) {
				t.Errorf("documented code %s is not in the table", code)
			}
		}
	}
}

func TestClassifyUnknownCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code     string
		class    Class
		maxTries int
	}{
		{"InternalError.Timeout", ClassTransient, 0},
		{"RequestLimitExceeded.AppLimit", ClassRateLimited, 0},
		{"AuthFailure.Something", ClassSystemic, 0},
		{"UnauthorizedOperation.Edition", ClassSystemic, 0},
		{"InvalidParameter.Mobile", ClassPermanent, 0},
		{"InvalidParameterValue.Limit", ClassPermanent, 0},
		{"MissingParameter.Name", ClassPermanent, 0},
		{"OperationDenied.NoQuota", ClassPermanent, 0},
		{"ResourceNotFound.Organization", ClassPermanent, 0},
		{"FailedOperation.Other", ClassPermanent, 0},
		{"LimitExceeded.Other", ClassPermanent, 0},
		{"SomethingNew", ClassTransient, 3},
		{"ResourceUnavailable.Busy", ClassTransient, 3},
		{"", ClassTransient, 3},
	}
	for _, tt := range tests {
		if KnownCode(tt.code) {
			t.Errorf("%s is in the table; pick another unknown code", tt.code)
		}
		class, n := Classify(tt.code)
		if class != tt.class || n != tt.maxTries {
			t.Errorf("Classify(%q) = %s, %d; want %s, %d", tt.code, class, n, tt.class, tt.maxTries)
		}
	}
}

func TestClassOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want Class
	}{
		{"nil", nil, ""},
		{"canceled", context.Canceled, ClassCanceled},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), ClassCanceled},
		{"plain error", errors.New("boom"), ClassTransient},
		{"APIError class wins over its cause", &APIError{Code: CodeNetworkError, Class: ClassTransient, Err: context.DeadlineExceeded}, ClassTransient},
		{"canceled APIError", &APIError{Code: CodeNetworkError, Class: ClassCanceled, Err: context.Canceled}, ClassCanceled},
		{"APIError without class", &APIError{Code: "UnknownParameter"}, ClassSystemic},
	}
	for _, tt := range tests {
		if got := ClassOf(tt.err); got != tt.want {
			t.Errorf("%s: ClassOf = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestAPIErrorText(t *testing.T) {
	t.Parallel()
	e := &APIError{Action: ActionSyncProxyOrganization, Code: "InvalidParameter.CardNumber", Message: "证件号码错误", RequestID: "r-1"}
	if got, want := e.Error(), "essbasic SyncProxyOrganization: InvalidParameter.CardNumber: 证件号码错误 (RequestId r-1)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	cause := errors.New("cause")
	if !errors.Is(&APIError{Err: cause}, cause) {
		t.Error("Unwrap does not reach Err")
	}
}
