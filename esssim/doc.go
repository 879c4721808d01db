// Package esssim is a local essbasic (the e-signature channel platform, API
// 2021-05-26) for tests, demos and benchmarks. It uses the standard library
// only. A Server is an http.Handler: start it with httptest.NewServer or
// http.Server and point the client's endpoint at it (http://host:port).
//
// What it does, in the platform's order: the TC3-HMAC-SHA256 signature
// (malformed Authorization → AuthFailure.InvalidAuthorization; unknown
// SecretId → AuthFailure.SecretIdNotFound; timestamp more than 5 minutes off
// → AuthFailure.SignatureExpire; wrong scope or signature →
// AuthFailure.SignatureFailure), the action and version, the rate limit
// (RequestLimitExceeded with the gateway's message), faults on demand, unknown
// fields (UnknownParameter), then each action's field checks. Every answer has
// HTTP status 200 and a RequestId; errors use the platform's envelope.
// Messages are Chinese unless X-TC-Language is en-US.
//
// Actions: SyncProxyOrganization, DescribeChannelOrganizations,
// ModifyExtendedService, CreateConsoleLoginUrl and
// DescribeExtendedServiceAuthInfo, with the field checks and
// codes of the project's essbasic reference (§12): credit code and ID number
// checksums, full-width brackets, license as base64 PNG/JPEG of at most 5 MiB,
// Limit 1..200, Offset 0..20000, the operator must be the admin or legal
// representative and the company VERIFIED before services change, unknown
// AppId → ResourceNotFound.Application. Options.Lenient accepts the
// documentation's placeholder values instead.
//
// Companies. A company exists from its first successful sync and from then on
// shows in DescribeChannelOrganizations, as UNVERIFIED until its schedule
// (Options.Lifecycle, counted from the first sync) moves it through VERIFYING
// and the pending step of its path to VERIFIED, or to
// VERIFYINGAUTHORIZATIONFILEREJECT for a share of them; another share never
// verifies. Once VERIFIED it has an AdminOpenId (the OpenId the latest console
// link was created for, else a generated one) and a generated LegalOpenId.
// SetStatus (or POST /_sim/status) sets a status by hand. A console link for a
// different employee while verification runs restarts the schedule.
// Re-syncing updates the company's data and counts in Stats().Syncs.
//
// Each application may have a query identity (App.QueryOrgOpenID and
// App.QueryOperatorOpenID), created VERIFIED with that operator as admin:
// bulk DescribeChannelOrganizations acts as it. With no Options.Apps the
// simulator knows DefaultAppID with DefaultQueryOrgOpenID and
// DefaultQueryOperatorOpenID.
//
// Services. ModifyExtendedService OPEN of AUTO_SIGN, DOWNLOAD_FLOW and
// OVERSEA_SIGN returns an OperateUrl whose expired_time is now + 86400 and
// leaves the service pending until its admin follows the link: by itself
// Options.Admins.OpenAfter after the latest link was issued (if that link is
// still valid then), except for Options.Admins.NeverShare of the companies
// (by a hash of AppId and OpenId); with Options.Admins nil, never by itself.
// ConfirmService (POST /_sim/services/confirm) follows the link by hand and
// SetService (POST /_sim/services/status) sets ENABLE or DISABLE outright.
// Other services open at once with an empty OperateUrl; OPEN of an open
// service and CLOSE return an empty OperateUrl.
// DescribeExtendedServiceAuthInfo (Agent only; the company VERIFIED and the
// operator its admin or legal representative, else OperationDenied) lists
// every service type with Status ENABLE (open) or DISABLE (closed or
// pending), the operator and the time of its latest operation.
//
// Callbacks. With Options.Callbacks.URL set, the simulator posts the
// platform's callbacks there, built by package esscallback (encrypted with
// Callbacks.Key, signed with Callbacks.Token): OrgAuth when a company leaves
// UNVERIFIED; OrgCertify when a letter of authorisation is rejected
// (OperateSuccess false) or a company verifies by letter (true);
// OrgOpenTsignBiz when it becomes VERIFIED; OperateExtendedService when its
// admin opens a service through the link (or ConfirmService/SetService
// changes one). Changes the channel makes itself through
// ModifyExtendedService send none, and the configured query identity sends
// none. Moves on a schedule are noticed by the next call, admin read or scan
// (every Callbacks.Scan). A share of events is dropped, a share duplicated
// (same body, same MsgId), a share of deliveries delayed up to
// Callbacks.MaxDelay so later ones overtake them; an answer other than HTTP
// 200 is resent, Callbacks.Attempts in all, waiting Callbacks.RetryWait and
// doubling. Delays and resends run on real time, not Options.Now.
// Stats().Callbacks counts them; WaitCallbacks waits for the deliveries in
// flight; Close stops them.
//
// Behaviour the documentation leaves open is a switch; the defaults are:
//   - a company only synced shows as UNVERIFIED (not absent);
//   - bulk Describe needs a VERIFIED company and its admin or legal
//     representative in Agent (Options.DescribeAnyAgent lifts it);
//   - Offset is a record offset (Options.OffsetMode = OffsetPage: page index);
//   - the limit of 20 calls in any one-second window counts per SecretId and
//     action (Options.RateKey = RateKeyAppID: per AppId and action); rejected
//     calls do not count toward the window;
//   - OVERSEA_SIGN returns a link (Options.OverseaSignAtOnce: opened at once);
//   - a repeated OPEN replaces the earlier link (Options.KeepEarlierLinks:
//     the earlier one stays valid and is returned again);
//   - admins never follow service links by themselves (Options.Admins);
//   - DescribeExtendedServiceAuthInfo lists the seven service types
//     ModifyExtendedService knows, PAGING_SEAL included;
//   - the OperateExtendedService callback's MsgData, which the pages do not
//     publish, has ApplicationId, ProxyOrganizationOpenId,
//     ProxyOperatorOpenId, ServiceType, Operate, OperateSuccess and
//     OperateTime;
//   - a callback is resent at most 4 times (Callbacks.Attempts 5), 1 s, 2 s,
//     4 s and 8 s apart;
//   - the test environment's requirement of 测试 in company names is not
//     simulated.
//
// Admin endpoints live under /_sim/ and are not signed: GET /_sim/ lists them
// (counters, faults, applications, companies, status by hand, confirming a
// service link, service status by hand). Expose the simulator on loopback only. State is in memory
// and safe for concurrent use; the clock is Options.Now.
package esssim
