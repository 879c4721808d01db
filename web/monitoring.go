package web

import (
	"encoding/json"
	"fmt"

	"github.com/hibiken/asynqmon"
)

// monitoringPath is where asynqmon is mounted.
const monitoringPath = "/monitoring"

// monitoring builds asynqmon on the same Redis as the workers. Payloads and
// results are shown only when they are JSON (onboard's carry ids, codes and
// states); anything else is shown by its size, never its bytes.
func (s *Server) monitoring() *asynqmon.HTTPHandler {
	return asynqmon.New(asynqmon.Options{
		RootPath:         monitoringPath,
		RedisConnOpt:     s.opts.Redis,
		PayloadFormatter: asynqmon.PayloadFormatterFunc(func(_ string, b []byte) string { return formatJSON(b) }),
		ResultFormatter:  asynqmon.ResultFormatterFunc(func(_ string, b []byte) string { return formatJSON(b) }),
		ReadOnly:         !s.opts.MonitoringWrite,
	})
}

// formatJSON returns b when it is a JSON value, else a placeholder naming its
// size.
func formatJSON(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if json.Valid(b) {
		return string(b)
	}
	return fmt.Sprintf("(%d bytes, not JSON)", len(b))
}
