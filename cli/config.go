package cli

import (
	"strconv"
	"time"

	"github.com/ess-onboard/onboard/esscallback"
	"github.com/ess-onboard/onboard/locale"
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
	{"ONBOARD_LANG", "", "language of the command line: zh-CN or en (--lang overrides it; unset: LC_ALL, LC_MESSAGES, LANG, then English)"},
	{"ONBOARD_TIMEZONE", "", "IANA time zone times are shown in, such as Asia/Shanghai (unset: Asia/Shanghai in Chinese, UTC in English)"},
}

// envHelp is the help text of variable v in the language of p.
func envHelp(p *locale.Printer, v envVar) string {
	if id := "cli.env." + v.name; p.Has(id) {
		return p.T(id)
	}
	return v.help
}

// configError is a variable whose value onboard cannot use. Its Error is
// English; In renders it for the reader.
type configError struct {
	Var   string // the variable
	Value string // its value
	id    string // the message: cli.config.<what>, with Var and Value
	cause string // what the check said, when it says more
}

func (e *configError) Error() string { return e.In(locale.New(locale.English)) }

// In is the error in the language of p.
func (e *configError) In(p *locale.Printer) string {
	return p.T(e.id, "Var", e.Var, "Value", e.Value, "Cause", e.cause)
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
	// TimeZone is ONBOARD_TIMEZONE; nil when unset (each language's
	// default zone then applies: locale.DefaultZone).
	TimeZone *time.Location
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
			return c, &configError{Var: "ESS_CALLBACK_KEY", id: "cli.config.callback_key", cause: err.Error()}
		}
	}
	switch v := get("ONBOARD_MONITORING_WRITE"); v {
	case "", "0", "false":
	case "1", "true":
		c.MonitoringWrite = true
	default:
		return c, &configError{Var: "ONBOARD_MONITORING_WRITE", Value: v, id: "cli.config.monitoring_write"}
	}
	var err error
	if c.ESSTimeout, err = time.ParseDuration(get("ESS_TIMEOUT")); err != nil || c.ESSTimeout <= 0 {
		return c, &configError{Var: "ESS_TIMEOUT", Value: get("ESS_TIMEOUT"), id: "cli.config.timeout"}
	}
	if c.ESSRateLimit, err = strconv.Atoi(get("ESS_RATE_LIMIT")); err != nil || c.ESSRateLimit <= 0 {
		return c, &configError{Var: "ESS_RATE_LIMIT", Value: get("ESS_RATE_LIMIT"), id: "cli.config.rate_limit"}
	}
	if c.TimeZone, err = timeZone(get("ONBOARD_TIMEZONE")); err != nil {
		return c, err
	}
	return c, nil
}

// timeZone is the IANA zone v names; nil for "" (the language's default).
func timeZone(v string) (*time.Location, error) {
	if v == "" {
		return nil, nil
	}
	// time.LoadLocation takes "" and "UTC" and "Local"; only named zones
	// and UTC mean the same on every machine.
	z, err := time.LoadLocation(v)
	if err != nil || v == "Local" {
		return nil, &configError{Var: "ONBOARD_TIMEZONE", Value: v, id: "cli.config.timezone"}
	}
	return z, nil
}

// zoneFor is the zone times are shown in for lang: ONBOARD_TIMEZONE, else
// the language's default.
func (c Config) zoneFor(lang string) *time.Location {
	if c.TimeZone != nil {
		return c.TimeZone
	}
	return locale.DefaultZone(lang)
}
