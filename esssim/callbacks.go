package esssim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/ess-onboard/onboard/esscallback"
)

// Callback defaults, used when the Callbacks field is zero.
const (
	DefaultCallbackAttempts  = 5
	DefaultCallbackRetryWait = time.Second
	DefaultCallbackMaxDelay  = 2 * time.Second
	DefaultCallbackTimeout   = 5 * time.Second
	DefaultCallbackScan      = 200 * time.Millisecond
)

// Callbacks configures the callbacks the simulator posts, as the platform
// does to an application's callback URL (one URL, key and token for every
// application the simulator knows). Each event is one message with a MsgId
// of its own (a random UUID); a duplicate or a resend carries the same body.
type Callbacks struct {
	// URL receives the callbacks (http or https); empty: no callbacks.
	URL string
	// Key, if set, must be exactly 32 bytes: bodies are then
	// {"encrypt": ...}; empty: plain envelopes.
	Key string
	// Token, if set, signs every body in Content-Signature; empty: unsigned.
	Token string
	// DropShare of events is never sent (0..1).
	DropShare float64
	// DuplicateShare of the events sent is sent twice, with the same body
	// (0..1).
	DuplicateShare float64
	// DelayShare of the deliveries waits a random time up to MaxDelay
	// before its first attempt, so that later events overtake it (0..1).
	DelayShare float64
	// MaxDelay of a delayed delivery; 0: DefaultCallbackMaxDelay.
	MaxDelay time.Duration
	// Attempts per delivery: an answer other than HTTP 200, or none, is
	// tried again until Attempts have been made; 0: DefaultCallbackAttempts.
	// The platform's pages promise resends but no count or interval.
	Attempts int
	// RetryWait before the first resend, doubling for each further one;
	// 0: DefaultCallbackRetryWait.
	RetryWait time.Duration
	// Timeout of one POST; 0: DefaultCallbackTimeout.
	Timeout time.Duration
	// Scan is how often the simulator looks for companies and services
	// that moved on their schedules, to send their callbacks without
	// waiting for a call to notice; 0: DefaultCallbackScan.
	Scan time.Duration
}

// Validate checks the configuration; New panics with its error.
func (cb Callbacks) Validate() error {
	if cb.URL == "" {
		if cb.Key != "" || cb.Token != "" {
			return errors.New("esssim: callbacks: a key or token without a URL")
		}
		return nil
	}
	u, err := url.Parse(cb.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("esssim: callbacks: URL %q: want http://host[:port]/path or https://...", cb.URL)
	}
	if cb.Key != "" {
		if err := esscallback.CheckKey(cb.Key); err != nil {
			return fmt.Errorf("esssim: callbacks: %w", err)
		}
	}
	for name, v := range map[string]float64{"drop share": cb.DropShare, "duplicate share": cb.DuplicateShare, "delay share": cb.DelayShare} {
		if v < 0 || v > 1 {
			return fmt.Errorf("esssim: callbacks: %s must be between 0 and 1, got %v", name, v)
		}
	}
	if cb.MaxDelay < 0 || cb.Attempts < 0 || cb.RetryWait < 0 || cb.Timeout < 0 || cb.Scan < 0 {
		return errors.New("esssim: callbacks: durations and attempts must not be negative")
	}
	return nil
}

func (cb Callbacks) withDefaults() Callbacks {
	if cb.MaxDelay == 0 {
		cb.MaxDelay = DefaultCallbackMaxDelay
	}
	if cb.Attempts == 0 {
		cb.Attempts = DefaultCallbackAttempts
	}
	if cb.RetryWait == 0 {
		cb.RetryWait = DefaultCallbackRetryWait
	}
	if cb.Timeout == 0 {
		cb.Timeout = DefaultCallbackTimeout
	}
	if cb.Scan == 0 {
		cb.Scan = DefaultCallbackScan
	}
	return cb
}

// CallbackStats count the callbacks. Every event generated is dropped or
// becomes one delivery (two when duplicated); every delivery ends delivered,
// failed or abandoned, or is in flight:
// sum(Events) - Dropped + Duplicated = Delivered + Failed + Abandoned + InFlight.
type CallbackStats struct {
	// Events generated, per MsgType.
	Events map[string]int `json:"events"`
	// Dropped events, never sent.
	Dropped int `json:"dropped"`
	// Duplicated events, sent twice.
	Duplicated int `json:"duplicated"`
	// Delayed deliveries, held back before their first attempt.
	Delayed int `json:"delayed"`
	// Sent counts POSTs made, resends included.
	Sent int `json:"sent"`
	// Retried counts resends after an answer other than 200 or none.
	Retried int `json:"retried"`
	// Delivered deliveries, answered with HTTP 200.
	Delivered int `json:"delivered"`
	// Failed deliveries, given up after the last attempt.
	Failed int `json:"failed"`
	// Abandoned deliveries, cut short by Close.
	Abandoned int `json:"abandoned"`
	// InFlight deliveries: waiting, being sent or between attempts.
	InFlight int `json:"in_flight"`
}

// callbacks is the running delivery of callbacks.
type callbacks struct {
	cfg    Callbacks
	codec  *esscallback.Codec
	client *http.Client
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// Guarded by Server.mu.
	inFlight int
	idle     chan struct{} // closed when inFlight drops to 0
	closed   bool
}

// startCallbacks sets up delivery and the scan for scheduled moves.
func (s *Server) startCallbacks(cfg Callbacks) {
	cfg = cfg.withDefaults()
	codec, err := esscallback.New(cfg.Key, cfg.Token)
	if err != nil {
		panic(err) // Validate has checked the key
	}
	ctx, cancel := context.WithCancel(context.Background())
	cb := &callbacks{
		cfg:    cfg,
		codec:  codec,
		client: &http.Client{Timeout: cfg.Timeout, Transport: http.DefaultTransport.(*http.Transport).Clone()},
		ctx:    ctx,
		cancel: cancel,
		idle:   make(chan struct{}),
	}
	close(cb.idle)
	s.cb = cb
	cb.wg.Add(1)
	go func() {
		defer cb.wg.Done()
		t := time.NewTicker(cfg.Scan)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				s.scan()
			}
		}
	}()
}

// scan looks at every company and service, so that moves on their
// schedules send their callbacks.
func (s *Server) scan() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for _, ap := range s.apps {
		for _, o := range ap.order {
			s.statusLocked(o, now)
			for typ := range o.services {
				s.serviceLocked(o, typ, now)
			}
		}
	}
}

// emitLocked sends the callback of an event, if callbacks are configured.
func (s *Server) emitLocked(ev esscallback.Event) {
	cb := s.cb
	if cb == nil {
		return
	}
	st := &s.stats.Callbacks
	st.Events[ev.MsgType()]++
	body, sig, err := cb.codec.Encode(newRequestID(), ev)
	if err != nil {
		st.Failed++
		return
	}
	if s.rng.Float64() < cb.cfg.DropShare {
		st.Dropped++
		return
	}
	copies := 1
	if s.rng.Float64() < cb.cfg.DuplicateShare {
		st.Duplicated++
		copies = 2
	}
	for range copies {
		var delay time.Duration
		if s.rng.Float64() < cb.cfg.DelayShare {
			st.Delayed++
			delay = time.Duration(s.rng.Int64N(int64(cb.cfg.MaxDelay))) + 1
		}
		if cb.closed {
			st.Abandoned++
			continue
		}
		if cb.inFlight == 0 {
			cb.idle = make(chan struct{})
		}
		cb.inFlight++
		cb.wg.Add(1)
		go s.deliver(body, sig, delay)
	}
}

// deliver posts one callback after delay, resending it until it is answered
// with 200 or the attempts are used up.
func (s *Server) deliver(body []byte, sig string, delay time.Duration) {
	cb := s.cb
	defer cb.wg.Done()
	outcome := func(f func(*CallbackStats)) {
		s.mu.Lock()
		f(&s.stats.Callbacks)
		cb.inFlight--
		if cb.inFlight == 0 {
			close(cb.idle)
		}
		s.mu.Unlock()
	}
	if !sleepCtx(cb.ctx, delay) {
		outcome(func(st *CallbackStats) { st.Abandoned++ })
		return
	}
	wait := cb.cfg.RetryWait
	for attempt := 1; ; attempt++ {
		s.mu.Lock()
		s.stats.Callbacks.Sent++
		if attempt > 1 {
			s.stats.Callbacks.Retried++
		}
		s.mu.Unlock()
		if s.post(body, sig) {
			outcome(func(st *CallbackStats) { st.Delivered++ })
			return
		}
		if cb.ctx.Err() != nil {
			outcome(func(st *CallbackStats) { st.Abandoned++ })
			return
		}
		if attempt >= cb.cfg.Attempts {
			outcome(func(st *CallbackStats) { st.Failed++ })
			return
		}
		if !sleepCtx(cb.ctx, wait) {
			outcome(func(st *CallbackStats) { st.Abandoned++ })
			return
		}
		wait *= 2
	}
}

// post sends one attempt; it reports whether the answer was HTTP 200.
func (s *Server) post(body []byte, sig string) bool {
	cb := s.cb
	req, err := http.NewRequestWithContext(cb.ctx, http.MethodPost, cb.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	if sig != "" {
		req.Header.Set(esscallback.SignatureHeader, sig)
	}
	resp, err := cb.client.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// WaitCallbacks returns when no callback is in flight (waiting, being sent
// or between attempts), or with ctx's error. Events that are still to
// happen on a schedule are not waited for. Without callbacks it returns at
// once.
func (s *Server) WaitCallbacks(ctx context.Context) error {
	for {
		s.mu.Lock()
		if s.cb == nil || s.cb.inFlight == 0 {
			s.mu.Unlock()
			return nil
		}
		idle := s.cb.idle
		s.mu.Unlock()
		select {
		case <-idle:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Close stops sending callbacks: deliveries in flight are abandoned, and
// the scan for scheduled moves ends. The API keeps working. Without
// callbacks it does nothing.
func (s *Server) Close() error {
	s.mu.Lock()
	cb := s.cb
	if cb == nil || cb.closed {
		s.mu.Unlock()
		return nil
	}
	cb.closed = true
	s.mu.Unlock()
	cb.cancel()
	cb.wg.Wait()
	cb.client.CloseIdleConnections()
	return nil
}

// observeLocked sends the callbacks of a company's move to status st.
func (s *Server) observeLocked(o *org, st string, now time.Time) {
	if st == o.seen {
		return
	}
	o.seen = st
	if st == StatusUnverified {
		o.authorized = false
		return
	}
	if !o.authorized {
		o.authorized = true
		operator := o.consoleID
		if operator == "" {
			operator = s.adminIDLocked(o)
		}
		s.emitLocked(&esscallback.OrgAuth{
			ApplicationId: o.appID, ProxyOrganizationOpenId: o.openID, ProxyOperatorOpenId: operator, AuthSuccess: true,
		})
	}
	switch st {
	case StatusVerifyingFileRejected:
		s.emitLocked(&esscallback.OrgCertify{
			ApplicationId: o.appID, ProxyOrganizationOpenId: o.openID, OperateSuccess: false,
			CertifyReason: "授权书审核未通过：授权书内容不清晰，请重新上传", OperateTime: esscallback.FormatTime(now),
		})
	case StatusVerified:
		if o.fate != fateLegal { // verified by a letter of authorisation
			s.emitLocked(&esscallback.OrgCertify{
				ApplicationId: o.appID, ProxyOrganizationOpenId: o.openID, OperateSuccess: true,
				OperateTime: esscallback.FormatTime(now),
			})
		}
		s.emitLocked(&esscallback.OrgOpenTsignBiz{
			ApplicationId: o.appID, ProxyOrganizationOpenId: o.openID, ProxyOperatorOpenId: o.adminOpenID,
			ProxyAppId: orgIDFor("proxyapp\x00" + o.appID + "\x00" + o.openID), OpenSuccess: true,
			OrganizationName: o.name, USCC: o.creditCode, LegalName: o.legalName,
		})
	}
}
