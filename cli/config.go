package cli

import (
	"fmt"
	"github.com/ess-onboard/onboard/esscallback"
	"strconv"
	"time"
)

// envVar documents one environment variable read by onboard.
type envVar struct{ name, def, help string }

// envVars lists every variable onboard reads, with its default. No other
// package reads the environment.
var envVars = []envVar{
	{"DATABASE_URL", "postgres:///onboard?host=/var/run/postgresql", "Postgres connection URL"},
	{"REDIS_URL", "redis://127.0.0.1:6379/0", "Redis URL (redis://, rediss://, redis-socket://, redis-sentinel://)"},
	{"ESS_APP_ID", "", "channel application (Agent.AppId) files belong to by default"},
	{"ESS_ENDPOINT", "essbasic.tencentcloudapi.com", "essbasic host, or a full URL such as http://127.0.0.1:18090"},
	{"ESS_SECRET_ID", "", "Tencent Cloud API SecretId"},
	{"ESS_SECRET_KEY", "", "Tencent Cloud API SecretKey (never printed)"},
	{"ESS_REGION", "", "X-TC-Region to send (empty: none)"},
	{"ESS_TIMEOUT", "10s", "timeout of one essbasic request"},
	{"ESS_RATE_LIMIT", "20", "calls per second per action allowed by the platform"},
	{"ESS_QUERY_ORG_OPENID", "", "verified company OpenId used to query authorization status"},
	{"ESS_QUERY_OPERATOR_OPENID", "", "verified operator OpenId of that company"},
	{"ONBOARD_RECONCILE_CRON", "*/10 * * * *", "schedule of the reconciliation sweep"},
	{"ONBOARD_DASHBOARD_TOKEN", "", "bearer token required by 'serve' off loopback"},
	{"ONBOARD_DASHBOARD_USER", "", "basic-auth user 'serve' accepts (with ONBOARD_DASHBOARD_PASSWORD)"},
	{"ONBOARD_DASHBOARD_PASSWORD", "", "basic-auth password of ONBOARD_DASHBOARD_USER (never printed)"},
	{"ONBOARD_MONITORING_WRITE", "", "1 lets 'serve' /monitoring delete, archive and run tasks (needs credentials)"},
	{"ESS_CALLBACK_KEY", "", "the application's callback encryption key, exactly 32 bytes (never printed); enables POST /callbacks/essbasic"},
	{"ESS_CALLBACK_TOKEN", "", "the application's callback signature token (never printed); enables POST /callbacks/essbasic"},
}

// Config is everything read from the environment, with defaults applied.
// Flags of individual commands override fields after it is loaded.
type Config struct {
	DatabaseURL         string
	RedisURL            string
	AppID               string
	ESSEndpoint         string
	ESSSecretID         string
	ESSSecretKey        string
	ESSRegion           string
	ESSTimeout          time.Duration
	ESSRateLimit        int
	QueryOrgOpenID      string
	QueryOperatorOpenID string
	ReconcileCron       string
	DashboardToken      string
	DashboardUser       string
	DashboardPassword   string
	MonitoringWrite     bool // asynqmon may delete, archive and run tasks
	CallbackKey         string
	CallbackToken       string
}

// loadConfig reads the environment through getenv. Its errors name the variable.
func loadConfig(getenv func(string) string) (Config, error) {
	get := func(name string) string {
		if v := getenv(name); v != "" {
			return v
		}
		for _, e := range envVars {
			if e.name == name {
				return e.def
			}
		}
		return ""
	}
	c := Config{
		DatabaseURL:         get("DATABASE_URL"),
		RedisURL:            get("REDIS_URL"),
		AppID:               get("ESS_APP_ID"),
		ESSEndpoint:         get("ESS_ENDPOINT"),
		ESSSecretID:         get("ESS_SECRET_ID"),
		ESSSecretKey:        get("ESS_SECRET_KEY"),
		ESSRegion:           get("ESS_REGION"),
		QueryOrgOpenID:      get("ESS_QUERY_ORG_OPENID"),
		QueryOperatorOpenID: get("ESS_QUERY_OPERATOR_OPENID"),
		ReconcileCron:       get("ONBOARD_RECONCILE_CRON"),
		DashboardToken:      get("ONBOARD_DASHBOARD_TOKEN"),
		DashboardUser:       get("ONBOARD_DASHBOARD_USER"),
		DashboardPassword:   get("ONBOARD_DASHBOARD_PASSWORD"),
		CallbackKey:         get("ESS_CALLBACK_KEY"),
		CallbackToken:       get("ESS_CALLBACK_TOKEN"),
	}
	if c.CallbackKey != "" {
		if err := esscallback.CheckKey(c.CallbackKey); err != nil {
			return c, fmt.Errorf("ESS_CALLBACK_KEY: %w", err)
		}
	}
	switch v := get("ONBOARD_MONITORING_WRITE"); v {
	case "", "0", "false":
	case "1", "true":
		c.MonitoringWrite = true
	default:
		return c, fmt.Errorf("ONBOARD_MONITORING_WRITE: want 1 or 0, got %q", v)
	}
	var err error
	if c.ESSTimeout, err = time.ParseDuration(get("ESS_TIMEOUT")); err != nil || c.ESSTimeout <= 0 {
		return c, fmt.Errorf("ESS_TIMEOUT: want a positive duration such as 10s, got %q", get("ESS_TIMEOUT"))
	}
	if c.ESSRateLimit, err = strconv.Atoi(get("ESS_RATE_LIMIT")); err != nil || c.ESSRateLimit <= 0 {
		return c, fmt.Errorf("ESS_RATE_LIMIT: want a positive whole number of calls per second, got %q", get("ESS_RATE_LIMIT"))
	}
	return c, nil
}
