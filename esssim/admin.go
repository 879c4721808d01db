package esssim

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

const adminHelp = `essbasic simulator admin endpoints (not signed):
  GET    /_sim/stats                 counters as JSON (calls, rate limit, companies, callbacks)
  DELETE /_sim/stats                 reset the counters
  GET    /_sim/faults                faults in force
  PUT    /_sim/faults                replace them: [{"action":"","share":0.3,"code":"InternalError","latency":"300ms","drop":false,"times":0}]
  DELETE /_sim/faults                remove every fault
  GET    /_sim/apps                  known applications
  POST   /_sim/apps                  {"AppId":"...","QueryOrgOpenId":"...","QueryOperatorOpenId":"..."}
  GET    /_sim/orgs?AppId=A[&OrganizationOpenId=O]   companies (all of A, or one)
  POST   /_sim/status                {"AppId":"...","OrganizationOpenId":"...","Status":"VERIFIED"} ("" = automatic again)
  POST   /_sim/services/confirm      {"AppId":"...","OrganizationOpenId":"...","ServiceType":"AUTO_SIGN"} (the admin follows the pending link)
  POST   /_sim/services/status       {"AppId":"...","OrganizationOpenId":"...","ServiceType":"AUTO_SIGN","Status":"ENABLE"} (or DISABLE)
`

// serveAdmin serves /_sim/: unsigned endpoints for tests and operators to
// read counters, inject faults and move companies by hand.
func (s *Server) serveAdmin(w http.ResponseWriter, r *http.Request) {
	route := r.Method + " " + r.URL.Path
	switch route {
	case "GET /_sim", "GET /_sim/":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, adminHelp)
	case "GET /_sim/stats":
		adminJSON(w, http.StatusOK, s.Stats())
	case "DELETE /_sim/stats":
		s.ResetStats()
		adminJSON(w, http.StatusOK, map[string]string{"status": "reset"})
	case "GET /_sim/faults":
		adminJSON(w, http.StatusOK, s.Faults())
	case "PUT /_sim/faults", "POST /_sim/faults":
		var faults []Fault
		if !decodeAdmin(w, r, &faults) {
			return
		}
		if err := s.SetFaults(faults); err != nil {
			adminError(w, http.StatusBadRequest, err)
			return
		}
		adminJSON(w, http.StatusOK, s.Faults())
	case "DELETE /_sim/faults":
		_ = s.SetFaults(nil)
		adminJSON(w, http.StatusOK, []Fault{})
	case "GET /_sim/apps":
		adminJSON(w, http.StatusOK, s.Apps())
	case "POST /_sim/apps":
		var a App
		if !decodeAdmin(w, r, &a) {
			return
		}
		if err := s.AddApp(a); err != nil {
			adminError(w, http.StatusBadRequest, err)
			return
		}
		adminJSON(w, http.StatusOK, a)
	case "GET /_sim/orgs":
		appID, openID := r.URL.Query().Get("AppId"), r.URL.Query().Get("OrganizationOpenId")
		if appID == "" {
			adminError(w, http.StatusBadRequest, fmt.Errorf("give AppId"))
			return
		}
		if openID == "" {
			adminJSON(w, http.StatusOK, s.Orgs(appID))
			return
		}
		v, ok := s.Org(appID, openID)
		if !ok {
			adminError(w, http.StatusNotFound, fmt.Errorf("no company %q in application %q", openID, appID))
			return
		}
		adminJSON(w, http.StatusOK, v)
	case "POST /_sim/status":
		var req struct{ AppId, OrganizationOpenId, Status string }
		if !decodeAdmin(w, r, &req) {
			return
		}
		if err := s.SetStatus(req.AppId, req.OrganizationOpenId, req.Status); err != nil {
			adminError(w, http.StatusBadRequest, err)
			return
		}
		v, _ := s.Org(req.AppId, req.OrganizationOpenId)
		adminJSON(w, http.StatusOK, v)
	case "POST /_sim/services/confirm":
		var req struct{ AppId, OrganizationOpenId, ServiceType string }
		if !decodeAdmin(w, r, &req) {
			return
		}
		if err := s.ConfirmService(req.AppId, req.OrganizationOpenId, req.ServiceType); err != nil {
			adminError(w, http.StatusBadRequest, err)
			return
		}
		v, _ := s.Org(req.AppId, req.OrganizationOpenId)
		adminJSON(w, http.StatusOK, v)
	case "POST /_sim/services/status":
		var req struct{ AppId, OrganizationOpenId, ServiceType, Status string }
		if !decodeAdmin(w, r, &req) {
			return
		}
		if err := s.SetService(req.AppId, req.OrganizationOpenId, req.ServiceType, req.Status); err != nil {
			adminError(w, http.StatusBadRequest, err)
			return
		}
		v, _ := s.Org(req.AppId, req.OrganizationOpenId)
		adminJSON(w, http.StatusOK, v)
	default:
		adminError(w, http.StatusNotFound, fmt.Errorf("no admin endpoint %s; GET /_sim/ lists them", route))
	}
}

func decodeAdmin(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		adminError(w, http.StatusBadRequest, fmt.Errorf("bad JSON body: %v", err))
		return false
	}
	return true
}

func adminJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func adminError(w http.ResponseWriter, status int, err error) {
	adminJSON(w, status, map[string]string{"error": err.Error()})
}
