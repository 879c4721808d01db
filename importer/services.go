package importer

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/ess-onboard/onboard"
)

// serviceNames maps the Chinese service names of the contract to their types.
var serviceNames = map[string]onboard.ServiceType{
	"企业静默签":    onboard.ServiceAutoSign,
	"自动签署":     onboard.ServiceAutoSign,
	"港澳台居民签署":  onboard.ServiceOverseaSign,
	"手机号验证":    onboard.ServiceMobileCheckApprover,
	"骑缝章":      onboard.ServicePagingSeal,
	"授权渠道下载合同": onboard.ServiceDownloadFlow,
	"拓宽签署方年龄":  onboard.ServiceAgeLimitExpansion,
	"隐藏经办人":    onboard.ServiceHideOperatorDisplay,
}

// ServiceChineseName is the Chinese name of a service as the contract spells
// it (the first one when there are two).
func ServiceChineseName(s onboard.ServiceType) string {
	switch s {
	case onboard.ServiceAutoSign:
		return "企业静默签"
	case onboard.ServiceOverseaSign:
		return "港澳台居民签署"
	case onboard.ServiceMobileCheckApprover:
		return "手机号验证"
	case onboard.ServicePagingSeal:
		return "骑缝章"
	case onboard.ServiceDownloadFlow:
		return "授权渠道下载合同"
	case onboard.ServiceAgeLimitExpansion:
		return "拓宽签署方年龄"
	case onboard.ServiceHideOperatorDisplay:
		return "隐藏经办人"
	}
	return ""
}

// isServiceSep reports whether r separates service names in a cell.
func isServiceSep(r rune) bool {
	switch r {
	case ',', '，', '、', ';', '；':
		return true
	}
	return isTrimSpace(r) || unicode.IsSpace(r)
}

// ParseServices splits a cell of extended services into service types,
// upper-cased and de-duplicated in the order given. Unknown names are returned
// in unknown, as written.
func ParseServices(s string) (services []onboard.ServiceType, unknown []string) {
	seen := map[onboard.ServiceType]bool{}
	for _, tok := range strings.FieldsFunc(s, isServiceSep) {
		st, ok := serviceNames[tok]
		if !ok {
			up := onboard.ServiceType(strings.ToUpper(tok))
			for _, known := range onboard.ServiceTypes {
				if up == known {
					st, ok = known, true
					break
				}
			}
		}
		if !ok {
			unknown = append(unknown, tok)
			continue
		}
		if !seen[st] {
			seen[st] = true
			services = append(services, st)
		}
	}
	return services, unknown
}

// servicesHelp lists the accepted service names for error messages.
func servicesHelp() string {
	var parts []string
	for _, s := range onboard.ServiceTypes {
		parts = append(parts, fmt.Sprintf("%s (%s)", s, ServiceChineseName(s)))
	}
	return strings.Join(parts, ", ")
}
