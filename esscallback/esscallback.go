// Package esscallback reads and writes the callbacks the essbasic channel
// platform posts to an application's callback URL: the Content-Signature
// check (HMAC-SHA256 of the raw body with the signature token), the
// encrypted envelope (standard base64 of AES-256-CBC with the IV the key's
// first 16 bytes and PKCS#7 padding) and the MsgData of the events that
// matter for onboarding. It uses the standard library only, so the
// simulator produces callbacks with the same code that reads them.
//
// A receiving handler reads the raw body, answers 200 at once to a probe
// (IsProbe), else calls Codec.Decode and answers HTTPStatus(err): 401 for a
// bad or missing signature, 400 for a body that does not decode, 200 once the
// message is stored. Answer every 400 with the same body: which step failed
// is for the log, not for the sender. The platform resends until it gets a
// 200 and promises no order: de-duplicate on Message.MsgId, and treat an
// event as a reason to ask the platform about that one company, not as the
// truth.
package esscallback

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// KeySize is the length in bytes of the callback encryption key
// (回调加密 key): the key string's bytes are the AES-256 key.
const KeySize = 32

// SignatureHeader carries "sha256=<lower-case hex HMAC-SHA256(token, body)>".
const SignatureHeader = "Content-Signature"

// signaturePrefix starts the value of SignatureHeader.
const signaturePrefix = "sha256="

// MsgVersion is the envelope's MsgVersion for channel (third-party) applications.
const MsgVersion = "ThirdPartyApp"

// TimeLayout is the layout of the time fields in MsgData (OperateTime).
const TimeLayout = "2006-01-02 15:04:05"

// platformZone is the zone of the MsgData times: the platform's pages give
// them without one; they are China Standard Time.
var platformZone = time.FixedZone("CST", 8*3600)

// Errors of Decode, Verify, New and CheckKey; test with errors.Is. HTTPStatus
// maps them to the answer a handler should give.
var (
	// ErrSignature: the Content-Signature header is missing, malformed or
	// does not match the body (answer 401).
	ErrSignature = errors.New("esscallback: bad signature")
	// ErrKeyLength: the encryption key is not exactly KeySize bytes (a
	// configuration error).
	ErrKeyLength = errors.New("esscallback: wrong key length")
	// ErrBase64: the encrypt field is not standard base64.
	ErrBase64 = errors.New("esscallback: bad base64")
	// ErrCiphertext: the ciphertext is empty or not a whole number of AES
	// blocks, so it cannot be decrypted.
	ErrCiphertext = errors.New("esscallback: undecryptable ciphertext")
	// ErrPadding: the decrypted text does not end in valid PKCS#7 padding
	// (typically: encrypted with another key).
	ErrPadding = errors.New("esscallback: bad padding")
	// ErrJSON: the body or the decrypted envelope is not the documented
	// JSON, or an onboarding event's MsgData does not have its fields' types.
	ErrJSON = errors.New("esscallback: bad JSON")
	// ErrEncryption: a plain envelope arrived while a key is configured, or
	// an encrypted one while none is.
	ErrEncryption = errors.New("esscallback: encryption does not match the configuration")
)

// HTTPStatus is the status a callback handler answers for err: 200 for nil,
// 401 for ErrSignature, 500 for ErrKeyLength (the receiver's configuration),
// 400 for the other errors of this package and 500 for any other error
// (such as failing to store the message, so that the platform sends it
// again).
func HTTPStatus(err error) int {
	switch {
	case err == nil:
		return http.StatusOK
	case errors.Is(err, ErrSignature):
		return http.StatusUnauthorized
	case errors.Is(err, ErrKeyLength):
		return http.StatusInternalServerError
	case errors.Is(err, ErrBase64), errors.Is(err, ErrCiphertext), errors.Is(err, ErrPadding),
		errors.Is(err, ErrJSON), errors.Is(err, ErrEncryption):
		return http.StatusBadRequest
	}
	return http.StatusInternalServerError
}

// CheckKey reports whether key can be the callback encryption key: exactly
// KeySize bytes. Call it when a server starts: Go's AES would silently use
// AES-128 or AES-192 for a 16- or 24-byte key.
func CheckKey(key string) error {
	if len(key) != KeySize {
		return fmt.Errorf("%w: the callback key must be exactly %d bytes, got %d", ErrKeyLength, KeySize, len(key))
	}
	return nil
}

// Codec reads and writes callbacks of one application. It is safe for
// concurrent use.
type Codec struct {
	key   []byte       // nil: plain envelopes
	block cipher.Block // AES-256 of key
	token []byte       // nil: no signature
}

// New returns a Codec for the application's callback key and signature
// token. An empty key means callbacks are plain envelopes; otherwise it must
// be exactly KeySize bytes (ErrKeyLength). An empty token means callbacks are
// not signed: anyone who knows the URL can then post one.
func New(key, token string) (*Codec, error) {
	c := &Codec{}
	if key != "" {
		if err := CheckKey(key); err != nil {
			return nil, err
		}
		c.key = []byte(key)
		b, err := aes.NewCipher(c.key)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrKeyLength, err)
		}
		c.block = b
	}
	if token != "" {
		c.token = []byte(token)
	}
	return c, nil
}

// Encrypted reports whether the Codec has a key.
func (c *Codec) Encrypted() bool { return c.block != nil }

// Signed reports whether the Codec has a signature token.
func (c *Codec) Signed() bool { return c.token != nil }

// Signature returns the value of SignatureHeader for body signed with token:
// "sha256=" and the lower-case hex HMAC-SHA256.
func Signature(token string, body []byte) string {
	return signaturePrefix + hex.EncodeToString(mac([]byte(token), body))
}

func mac(token, body []byte) []byte {
	h := hmac.New(sha256.New, token)
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks header (the value of SignatureHeader) against the raw body
// in constant time. Without a token every body passes.
func (c *Codec) Verify(body []byte, header string) error {
	if c.token == nil {
		return nil
	}
	header = strings.TrimSpace(header)
	if header == "" {
		return fmt.Errorf("%w: no %s header", ErrSignature, SignatureHeader)
	}
	if len(header) < len(signaturePrefix) || !strings.EqualFold(header[:len(signaturePrefix)], signaturePrefix) {
		return fmt.Errorf("%w: %s does not start with %q", ErrSignature, SignatureHeader, signaturePrefix)
	}
	got, err := hex.DecodeString(header[len(signaturePrefix):])
	if err != nil {
		return fmt.Errorf("%w: %s is not hex", ErrSignature, SignatureHeader)
	}
	if !hmac.Equal(got, mac(c.token, body)) {
		return fmt.Errorf("%w: %s does not match the body", ErrSignature, SignatureHeader)
	}
	return nil
}

// IsProbe reports whether body is a reachability probe rather than a
// callback: empty (or only white space), or a JSON object with neither an
// encrypt nor a MsgType field (the platform's probes post {}). Answer 200 and
// do nothing.
func IsProbe(body []byte) bool {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return true
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil || m == nil {
		return false
	}
	for k := range m {
		// encoding/json matches field names without regard to case; so
		// does this test, so that Decode and IsProbe agree.
		if strings.EqualFold(k, "encrypt") || strings.EqualFold(k, "MsgType") {
			return false
		}
	}
	return true
}

// encrypted is the body of an encrypted callback.
type encrypted struct {
	Encrypt *string `json:"encrypt"`
}

// envelope is the callback's JSON, in the clear or inside encrypt.
type envelope struct {
	MsgId      string          `json:"MsgId"`
	MsgType    string          `json:"MsgType"`
	MsgVersion string          `json:"MsgVersion"`
	MsgData    json.RawMessage `json:"MsgData"`
}

// Decode verifies the signature (header is the value of SignatureHeader),
// decrypts the body when the Codec has a key and parses the envelope. The
// same body always decodes to the same message: a replay or a duplicate
// has the MsgId of the original, and de-duplicating is the caller's work.
func (c *Codec) Decode(body []byte, header string) (*Message, error) {
	if err := c.Verify(body, header); err != nil {
		return nil, err
	}
	plain, err := c.Open(body)
	if err != nil {
		return nil, err
	}
	return Parse(plain)
}

// Open returns the envelope JSON of a callback body: the body itself without
// a key, the decrypted encrypt field with one. It does not check the
// signature.
func (c *Codec) Open(body []byte) ([]byte, error) {
	var enc encrypted
	if err := json.Unmarshal(body, &enc); err != nil {
		return nil, fmt.Errorf("%w: body: %v", ErrJSON, err)
	}
	if c.block == nil {
		if enc.Encrypt != nil {
			return nil, fmt.Errorf("%w: the callback is encrypted and no key is configured", ErrEncryption)
		}
		return body, nil
	}
	if enc.Encrypt == nil {
		return nil, fmt.Errorf("%w: a key is configured and the callback has no encrypt field", ErrEncryption)
	}
	ct, err := base64.StdEncoding.DecodeString(*enc.Encrypt)
	if err != nil {
		return nil, fmt.Errorf("%w: encrypt: %v", ErrBase64, err)
	}
	if len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("%w: %d bytes is not a whole number of %d-byte blocks", ErrCiphertext, len(ct), aes.BlockSize)
	}
	plain := make([]byte, len(ct))
	cipher.NewCBCDecrypter(c.block, c.key[:aes.BlockSize]).CryptBlocks(plain, ct)
	n := int(plain[len(plain)-1])
	if n == 0 || n > aes.BlockSize {
		return nil, fmt.Errorf("%w: last byte %d", ErrPadding, n)
	}
	for _, b := range plain[len(plain)-n:] {
		if int(b) != n {
			return nil, fmt.Errorf("%w: padding bytes differ", ErrPadding)
		}
	}
	return plain[:len(plain)-n], nil
}

// Encode returns the body and the SignatureHeader value ("" without a
// token) of a callback carrying ev under msgID, as the platform sends it.
func (c *Codec) Encode(msgID string, ev Event) (body []byte, signature string, err error) {
	if msgID == "" || ev == nil || ev.MsgType() == "" {
		return nil, "", errors.New("esscallback: Encode needs a MsgId and an event with a MsgType")
	}
	data, err := json.Marshal(ev)
	if err != nil {
		return nil, "", fmt.Errorf("esscallback: encode MsgData: %w", err)
	}
	body, err = json.Marshal(envelope{MsgId: msgID, MsgType: ev.MsgType(), MsgVersion: MsgVersion, MsgData: data})
	if err != nil {
		return nil, "", fmt.Errorf("esscallback: encode envelope: %w", err)
	}
	if c.block != nil {
		n := aes.BlockSize - len(body)%aes.BlockSize
		padded := append(body, bytes.Repeat([]byte{byte(n)}, n)...)
		ct := make([]byte, len(padded))
		cipher.NewCBCEncrypter(c.block, c.key[:aes.BlockSize]).CryptBlocks(ct, padded)
		s := base64.StdEncoding.EncodeToString(ct)
		body, err = json.Marshal(encrypted{Encrypt: &s})
		if err != nil {
			return nil, "", err
		}
	}
	if c.token != nil {
		signature = signaturePrefix + hex.EncodeToString(mac(c.token, body))
	}
	return body, signature, nil
}
