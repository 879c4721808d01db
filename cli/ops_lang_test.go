package cli

import (
	"bytes"
	"net"
	"strings"
	"testing"

	"github.com/ess-onboard/onboard/esssim"
	"github.com/ess-onboard/onboard/locale"
)

// The usage errors of demo, reconcile, resume, migrate, worker, scheduler
// and simulate are in the reader's language, English by default.
func TestOpsUsageErrorsInBothLanguages(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args   []string
		en, zh string
	}{
		{[]string{"demo", "--timeout", "0s"}, "demo: --timeout must be positive", "demo：--timeout 必须为正数"},
		{[]string{"migrate", "extra"}, `migrate: unexpected argument "extra" (see 'onboard migrate --help')`, `migrate：多余的参数 "extra"`},
		{[]string{"resume", "--query-org-openid", "o"}, "give both --query-org-openid and --query-operator-openid, or neither", "要么都指定，要么都不指定"},
		{[]string{"reconcile", "--app-id", "a", "--all"}, "reconcile: give --app-id or --all, not both", "--app-id 和 --all 只能指定一个"},
		{[]string{"reconcile", "--rate-scope", "secret"}, `reconcile: --rate-scope must be app or credential, not "secret"`, `reconcile: --rate-scope 必须是 app 或 credential，而不是 "secret"`},
		{[]string{"worker", "--concurrency", "-1"}, "worker: --concurrency must not be negative", "worker：--concurrency 不能为负数"},
		{[]string{"worker", "--lease", "1s"}, "worker: --lease must be at least 3s", "worker：--lease 至少为 3s"},
		{[]string{"scheduler", "--cron", "now and then"}, `scheduler: ONBOARD_RECONCILE_CRON (or --cron) "now and then" is not a cron schedule`, `"now and then" 不是有效的 cron 计划`},
		{[]string{"simulate", "--reject", "2"}, "simulate: --reject must be between 0 and 1, got 2", "simulate: --reject 必须在 0 到 1 之间，实际为 2"},
		{[]string{"simulate", "--admin-never", "0.5"}, "simulate: --admin-never needs --admin-open-after", "--admin-never 需要同时指定 --admin-open-after"},
		{[]string{"simulate", "--fault", "x"}, `want [ACTION:]SHARE:WHAT, got "x"`, `格式应为 [动作:]比例:效果，实际为 "x"`},
		{[]string{"simulate", "--fault", "lots:drop"}, `share "lots": want a number in (0, 1]`, `比例 "lots"：应为 (0, 1] 之间的数`},
	} {
		code, _, errOut := runIn(nil, tc.args...)
		if code != exitUsage || !strings.Contains(errOut, tc.en) {
			t.Errorf("%v: exit %d, %q; want a usage error with %q", tc.args, code, errOut, tc.en)
		}
		code, _, errOut = runIn(nil, append([]string{"--lang", "zh-CN"}, tc.args...)...)
		if code != exitUsage || !strings.Contains(errOut, tc.zh) {
			t.Errorf("%v in Chinese: exit %d, %q; want a usage error with %q", tc.args, code, errOut, tc.zh)
		}
	}
}

// The simulator's start-up lines in Chinese, as in English, never show
// the callback key or token.
func TestSimulatorStartUpInChinese(t *testing.T) {
	t.Parallel()
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 18090}
	o := esssim.Options{Apps: []esssim.App{{AppID: "app-1", QueryOrgOpenID: "org-q", QueryOperatorOpenID: "op-q"}},
		Callbacks: &esssim.Callbacks{URL: "http://127.0.0.1:9/cb", Key: "k", Token: "secret-token"}}
	var b bytes.Buffer
	printSimulator(&b, locale.New(locale.Chinese), addr, Config{}, o)
	for _, want := range []string{"essbasic 模拟器监听于 http://127.0.0.1:18090\n",
		"  SecretId " + esssim.DefaultSecretID + "（密钥：模拟器默认的测试密钥）；AppId app-1；查询身份 org-q / op-q\n",
		"  管理接口：http://127.0.0.1:18090/_sim/（不校验签名）\n", "  回调发送到 http://127.0.0.1:9/cb（已加密，已签名）\n"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("start-up lines lack %q:\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), "secret-token") {
		t.Errorf("the token is printed:\n%s", b.String())
	}
}
