package web

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ess-onboard/onboard"
	"github.com/ess-onboard/onboard/esscallback"
)

// CallbackPath is where the platform posts its callbacks.
const CallbackPath = "/callbacks/essbasic"

// maxCallbackBody bounds a callback's body.
const maxCallbackBody = 1 << 20

// CallbackStore records a callback and makes due the check its company
// waits for (*repository.Store satisfies it).
type CallbackStore interface {
	RecordCallback(ctx context.Context, cb onboard.Callback, now time.Time) (string, error)
}

// CallbackReceiver answers the platform's callbacks: it checks the
// signature, decrypts, stores the callback once per MsgId (with the check
// of its company made due, in the same transaction) and answers 200 at
// once; the workers do the rest. Probes (an empty body, or one with neither
// encrypt nor MsgType) get 200 and change nothing. A bad signature gets
// 401 and a body it cannot read 400; both are counted and logged without
// the body. It needs no dashboard credentials: the platform cannot send
// them.
type CallbackReceiver struct {
	codec *esscallback.Codec
	store CallbackStore
	log   *slog.Logger
	now   func() time.Time
	count *prometheus.CounterVec
}

// NewCallbackReceiver returns the receiver; reg (nil: none) gets its
// counter, onboard_callbacks_total by MsgType and verdict.
func NewCallbackReceiver(codec *esscallback.Codec, store CallbackStore, reg prometheus.Registerer, log *slog.Logger) (*CallbackReceiver, error) {
	if log == nil {
		log = slog.Default()
	}
	c := &CallbackReceiver{codec: codec, store: store, log: slog.New(MaskLogs(log.Handler())), now: time.Now,
		count: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "onboard_callbacks_total",
			Help: "Platform callbacks received, by MsgType and what onboard made of them."}, []string{"type", "verdict"})}
	if reg != nil {
		if err := reg.Register(c.count); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *CallbackReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxCallbackBody+1))
	if err != nil {
		http.Error(w, "could not read the body", http.StatusBadRequest)
		return
	}
	if len(body) > maxCallbackBody {
		c.count.WithLabelValues("", "too_large").Inc()
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	if esscallback.IsProbe(body) {
		c.count.WithLabelValues("", "probe").Inc()
		w.WriteHeader(http.StatusOK)
		return
	}
	msg, err := c.codec.Decode(body, r.Header.Get(esscallback.SignatureHeader))
	if err != nil {
		status := esscallback.HTTPStatus(err)
		verdict := "unreadable"
		if errors.Is(err, esscallback.ErrSignature) {
			verdict = "bad_signature"
		}
		c.count.WithLabelValues("", verdict).Inc()
		c.log.Warn("callback refused", "verdict", verdict, "status", status, "error", err, "remote", r.RemoteAddr, "bytes", len(body))
		http.Error(w, http.StatusText(status), status)
		return
	}
	cb := onboard.Callback{MsgID: msg.MsgId, MsgType: msg.MsgType, AppID: msg.ApplicationId,
		OpenID: msg.ProxyOrganizationOpenId, EventAt: msg.Time, Onboarding: msg.Event != nil}
	verdict, err := c.store.RecordCallback(r.Context(), cb, c.now())
	if err != nil {
		// Not 200: the platform sends it again.
		c.log.Error("callback not stored", "msg_id", cb.MsgID, "type", cb.MsgType, "error", err)
		http.Error(w, "not stored", http.StatusInternalServerError)
		return
	}
	c.count.WithLabelValues(cb.MsgType, verdict).Inc()
	c.log.Info("callback", "msg_id", cb.MsgID, "type", cb.MsgType, "app_id", cb.AppID, "verdict", verdict)
	w.WriteHeader(http.StatusOK)
}
