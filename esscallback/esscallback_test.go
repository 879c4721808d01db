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
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

// A fixed key and token for the vectors.
const (
	testKey   = "0123456789abcdefGHIJKLMNOPQRSTUV" // 32 bytes; IV "0123456789abcdef"
	testToken = "callback-signature-token"
)

// testEnvelope is an OrgOpenTsignBiz callback written as Encode writes it
// (envelope fields, then MsgData fields, in declaration order).
const testEnvelope = `{"MsgId":"msg-0001","MsgType":"OrgOpenTsignBiz","MsgVersion":"ThirdPartyApp","MsgData":{"ApplicationId":"app-1","ProxyOrganizationOpenId":"org-1","ProxyOperatorOpenId":"admin-1","ProxyAppId":"proxy-app-1","OpenSuccess":true,"OrganizationName":"测试企业（一）","USCC":"91350100M000100Y43","LegalName":"张三"}}`

// vector encrypts plain by the documented algorithm, written out here with
// crypto/aes and crypto/cipher directly: AES-256-CBC, IV = key[:16], PKCS#7,
// standard base64, body {"encrypt": ...}; and signs the body with
// HMAC-SHA256 of the token.
func vector(t *testing.T, key string, plain []byte, pad bool) (body []byte, signature string) {
	t.Helper()
	block, err := aes.NewCipher([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	if pad {
		n := aes.BlockSize - len(plain)%aes.BlockSize
		for range n {
			plain = append(plain[:len(plain):len(plain)], byte(n))
		}
	}
	ct := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, []byte(key)[:16]).CryptBlocks(ct, plain)
	body = []byte(`{"encrypt":"` + base64.StdEncoding.EncodeToString(ct) + `"}`)
	return body, sign(testToken, body)
}

func sign(token string, body []byte) string {
	h := hmac.New(sha256.New, []byte(token))
	h.Write(body)
	return "sha256=" + hex.EncodeToString(h.Sum(nil))
}

func codec(t *testing.T, key, token string) *Codec {
	t.Helper()
	c, err := New(key, token)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDecodeVector(t *testing.T) {
	t.Parallel()
	body, sig := vector(t, testKey, []byte(testEnvelope), true)
	c := codec(t, testKey, testToken)
	m, err := c.Decode(body, sig)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	want := &OrgOpenTsignBiz{ApplicationId: "app-1", ProxyOrganizationOpenId: "org-1", ProxyOperatorOpenId: "admin-1",
		ProxyAppId: "proxy-app-1", OpenSuccess: true, OrganizationName: "测试企业（一）", USCC: "91350100M000100Y43", LegalName: "张三"}
	if m.MsgId != "msg-0001" || m.MsgType != TypeOrgOpenTsignBiz || m.MsgVersion != MsgVersion ||
		m.ApplicationId != "app-1" || m.ProxyOrganizationOpenId != "org-1" || !m.Time.IsZero() {
		t.Errorf("message: %+v", m)
	}
	if !reflect.DeepEqual(m.Event, want) {
		t.Errorf("event %#v, want %#v", m.Event, want)
	}

	// Encode writes the same bytes and the same signature.
	gotBody, gotSig, err := c.Encode("msg-0001", want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(gotBody, body) || gotSig != sig {
		t.Errorf("Encode:\n %s %s\nwant\n %s %s", gotBody, gotSig, body, sig)
	}

	// A replayed body decodes again, to the same MsgId: de-duplication is
	// the receiver's work.
	again, err := c.Decode(body, sig)
	if err != nil || again.MsgId != m.MsgId {
		t.Errorf("replay: %+v, %v", again, err)
	}
}

func TestDecodePlainAndUnsigned(t *testing.T) {
	t.Parallel()
	// No key: the body is the envelope; no token: no header needed.
	m, err := codec(t, "", "").Decode([]byte(testEnvelope), "")
	if err != nil || m.MsgId != "msg-0001" || m.Event == nil {
		t.Fatalf("plain: %+v, %v", m, err)
	}
	// A token without a key signs the plain envelope.
	c := codec(t, "", testToken)
	if _, err := c.Decode([]byte(testEnvelope), sign(testToken, []byte(testEnvelope))); err != nil {
		t.Errorf("signed plain: %v", err)
	}
	body, sig, err := c.Encode("msg-0001", m.Event)
	if err != nil || string(body) != testEnvelope || sig != sign(testToken, []byte(testEnvelope)) {
		t.Errorf("Encode without key: %s %s %v", body, sig, err)
	}
	// A key without a token: no signature.
	body, sig, err = codec(t, testKey, "").Encode("m", &OrgAuth{})
	if err != nil || sig != "" || !bytes.HasPrefix(body, []byte(`{"encrypt":"`)) {
		t.Errorf("Encode without token: %s %q %v", body, sig, err)
	}
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	good, goodSig := vector(t, testKey, []byte(testEnvelope), true)

	// Flip the last byte of the second-to-last block: in CBC that flips the
	// last plaintext byte, the padding length.
	var enc struct{ Encrypt string }
	_ = json.Unmarshal(good, &enc)
	ct, _ := base64.StdEncoding.DecodeString(enc.Encrypt)
	ct[len(ct)-aes.BlockSize-1] ^= 0xFF
	tampered := []byte(`{"encrypt":"` + base64.StdEncoding.EncodeToString(ct) + `"}`)

	// A tampered byte of the body under the original signature.
	tamperedBody := bytes.Clone(good)
	i := len(`{"encrypt":"`)
	if tamperedBody[i] == 'A' {
		tamperedBody[i] = 'B'
	} else {
		tamperedBody[i] = 'A'
	}

	// Whole blocks without PKCS#7: zero bytes, and a last byte 4 after
	// bytes that are not 4.
	fill := func(tail ...byte) []byte {
		b := []byte(testEnvelope)
		for (len(b)+len(tail))%aes.BlockSize != 0 {
			b = append(b, ' ')
		}
		return append(b, tail...)
	}
	unpadded, _ := vector(t, testKey, fill(0, 0), false)
	mixedPad, _ := vector(t, testKey, fill(1, 2, 3, 4), false)
	notJSON, _ := vector(t, testKey, []byte("not json at all"), true)
	noMsgID, _ := vector(t, testKey, []byte(`{"MsgType":"OrgAuth","MsgData":{}}`), true)
	badField, _ := vector(t, testKey, []byte(`{"MsgId":"m","MsgType":"OrgAuth","MsgData":{"AuthSuccess":"yes"}}`), true)
	noData, _ := vector(t, testKey, []byte(`{"MsgId":"m","MsgType":"OrgCertify"}`), true)
	otherKey, _ := vector(t, "ZYXWVUTSRQPONMLKJIHGFEDCBA987654", []byte(testEnvelope), true)
	short := []byte(`{"encrypt":"` + base64.StdEncoding.EncodeToString(make([]byte, 15)) + `"}`)

	keyed := codec(t, testKey, "")
	tests := []struct {
		name   string
		c      *Codec
		body   []byte
		header string
		want   []error // any of these
		status int
	}{
		{"tampered body, signature checked", codec(t, testKey, testToken), tamperedBody, goodSig, []error{ErrSignature}, 401},
		{"missing signature", codec(t, testKey, testToken), good, "", []error{ErrSignature}, 401},
		{"signature of another token", codec(t, testKey, testToken), good, sign("other", good), []error{ErrSignature}, 401},
		{"not sha256=", codec(t, testKey, testToken), good, "sha1=" + goodSig[7:], []error{ErrSignature}, 401},
		{"signature not hex", codec(t, testKey, testToken), good, "sha256=zz", []error{ErrSignature}, 401},
		{"tampered ciphertext", keyed, tampered, "", []error{ErrPadding}, 400},
		{"zero padding byte", keyed, unpadded, "", []error{ErrPadding}, 400},
		{"padding bytes that differ", keyed, mixedPad, "", []error{ErrPadding}, 400},
		{"bad base64", keyed, []byte(`{"encrypt":"not base64!"}`), "", []error{ErrBase64}, 400},
		{"url-safe base64", keyed, []byte(`{"encrypt":"-_-_"}`), "", []error{ErrBase64}, 400},
		{"15 bytes", keyed, short, "", []error{ErrCiphertext}, 400},
		{"empty ciphertext", keyed, []byte(`{"encrypt":""}`), "", []error{ErrCiphertext}, 400},
		{"another key", keyed, otherKey, "", []error{ErrPadding, ErrJSON}, 400},
		{"decrypts to non-JSON", keyed, notJSON, "", []error{ErrJSON}, 400},
		{"envelope without MsgId", keyed, noMsgID, "", []error{ErrJSON}, 400},
		{"field of the wrong type", keyed, badField, "", []error{ErrJSON}, 400},
		{"onboarding event without MsgData", keyed, noData, "", []error{ErrJSON}, 400},
		{"body not JSON", keyed, []byte("encrypt=abc"), "", []error{ErrJSON}, 400},
		{"plain envelope with a key", keyed, []byte(testEnvelope), "", []error{ErrEncryption}, 400},
		{"encrypted without a key", codec(t, "", ""), good, "", []error{ErrEncryption}, 400},
	}
	for _, tt := range tests {
		m, err := tt.c.Decode(tt.body, tt.header)
		ok := false
		for _, w := range tt.want {
			ok = ok || errors.Is(err, w)
		}
		if !ok || m != nil {
			t.Errorf("%s: %v (message %+v), want %v", tt.name, err, m, tt.want)
			continue
		}
		if got := HTTPStatus(err); got != tt.status {
			t.Errorf("%s: HTTPStatus %d, want %d", tt.name, got, tt.status)
		}
	}
	// The untouched body still decodes: the cases above failed for their
	// own reasons.
	if _, err := codec(t, testKey, testToken).Decode(good, goodSig); err != nil {
		t.Errorf("good body: %v", err)
	}
}

func TestKeyLength(t *testing.T) {
	t.Parallel()
	for _, key := range []string{"", "0123456789abcdef", "0123456789abcdef01234567", testKey[:31], testKey + "x",
		strings.Repeat("密", 32)} {
		if err := CheckKey(key); !errors.Is(err, ErrKeyLength) || !strings.Contains(err.Error(), "exactly 32 bytes") {
			t.Errorf("CheckKey(%d bytes) = %v", len(key), err)
		}
		if key == "" {
			continue // New with no key means plain callbacks
		}
		if c, err := New(key, testToken); !errors.Is(err, ErrKeyLength) || c != nil {
			t.Errorf("New(%d-byte key) = %v, %v", len(key), c, err)
		}
	}
	if err := CheckKey(testKey); err != nil {
		t.Errorf("32 bytes: %v", err)
	}
	if HTTPStatus(CheckKey("short")) != http.StatusInternalServerError {
		t.Error("a key error is not the receiver's 500")
	}
	c := codec(t, "", "")
	if c.Encrypted() || c.Signed() {
		t.Error("empty key and token: encrypted or signed")
	}
	c = codec(t, testKey, testToken)
	if !c.Encrypted() || !c.Signed() {
		t.Error("key and token: not encrypted or not signed")
	}
}

func TestIsProbe(t *testing.T) {
	t.Parallel()
	for body, want := range map[string]bool{
		"":                       true,
		" \r\n":                  true,
		"{}":                     true,
		` {"hello": "world"} `:   true,
		`{"encrypt":"abc"}`:      false,
		`{"Encrypt":"abc"}`:      false,
		`{"MsgType":"OrgAuth"}`:  false,
		`{"msgtype":"OrgAuth"}`:  false,
		"not json":               false,
		"[]":                     false,
		"null":                   false,
		`{"MsgId":"m","x":1}`:    true,
		`{"encrypt":null,"a":1}`: false,
	} {
		if got := IsProbe([]byte(body)); got != want {
			t.Errorf("IsProbe(%q) = %v, want %v", body, got, want)
		}
	}
}

func TestRoundTripEvents(t *testing.T) {
	t.Parallel()
	c := codec(t, testKey, testToken)
	at := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	events := []Event{
		&OrgAuth{ApplicationId: "a", ProxyOrganizationOpenId: "o", ProxyOperatorOpenId: "op", AuthSuccess: true},
		&OrgCertify{ApplicationId: "a", ProxyOrganizationOpenId: "o", OperateSuccess: false, CertifyReason: "授权书不清晰", OperateTime: FormatTime(at)},
		&OrgOpenTsignBiz{ApplicationId: "a", ProxyOrganizationOpenId: "o", OpenSuccess: true, OrganizationName: "企业"},
		&OperateExtendedService{ApplicationId: "a", ProxyOrganizationOpenId: "o", ServiceType: "AUTO_SIGN", Operate: "OPEN", OperateSuccess: true, OperateTime: FormatTime(at)},
	}
	for i, ev := range events {
		id := "msg-" + ev.MsgType()
		body, sig, err := c.Encode(id, ev)
		if err != nil {
			t.Fatal(err)
		}
		m, err := c.Decode(body, sig)
		if err != nil {
			t.Fatalf("%s: %v", ev.MsgType(), err)
		}
		if m.MsgId != id || m.MsgType != ev.MsgType() || m.ApplicationId != "a" || m.ProxyOrganizationOpenId != "o" ||
			!reflect.DeepEqual(m.Event, ev) {
			t.Errorf("%s: %+v event %#v", ev.MsgType(), m, m.Event)
		}
		hasTime := i == 1 || i == 3
		if hasTime && !m.Time.Equal(at) || !hasTime && !m.Time.IsZero() {
			t.Errorf("%s: time %v, want %v", ev.MsgType(), m.Time, at)
		}
	}
	if FormatTime(at) != "2025-03-04 13:06:07" {
		t.Errorf("FormatTime = %s, want China Standard Time", FormatTime(at))
	}
	if _, _, err := c.Encode("", events[0]); err == nil {
		t.Error("Encode without MsgId")
	}
	if _, _, err := c.Encode("m", nil); err == nil {
		t.Error("Encode without event")
	}
}

func TestOtherMsgTypes(t *testing.T) {
	t.Parallel()
	body := []byte(`{"MsgId":"m-9","MsgType":"VerifyStaffInfo","MsgVersion":"ThirdPartyApp","MsgData":{"ApplicationId":"a","ProxyOrganizationOpenId":"o","ProxyOperatorOpenId":"staff","OperateTime":12}}`)
	m, err := codec(t, "", "").Decode(body, "")
	if err != nil {
		t.Fatal(err)
	}
	if m.Event != nil || m.MsgType != "VerifyStaffInfo" || m.ApplicationId != "a" || m.ProxyOrganizationOpenId != "o" ||
		!m.Time.IsZero() || !bytes.Contains(m.MsgData, []byte("staff")) {
		t.Errorf("other type: %+v", m)
	}
	// MsgData of other types need not be an object.
	if m, err := Parse([]byte(`{"MsgId":"m","MsgType":"CloseOrganization","MsgData":"x"}`)); err != nil || m.ApplicationId != "" {
		t.Errorf("string MsgData: %+v, %v", m, err)
	}
}

func TestHTTPStatus(t *testing.T) {
	t.Parallel()
	for err, want := range map[error]int{
		nil:                    200,
		ErrSignature:           401,
		ErrKeyLength:           500,
		ErrBase64:              400,
		ErrCiphertext:          400,
		ErrPadding:             400,
		ErrJSON:                400,
		ErrEncryption:          400,
		errors.New("db down"):  500,
		errors.Join(ErrJSON):   400,
		errors.Join(ErrBase64): 400,
	} {
		if got := HTTPStatus(err); got != want {
			t.Errorf("HTTPStatus(%v) = %d, want %d", err, got, want)
		}
	}
}

func TestSignature(t *testing.T) {
	t.Parallel()
	body := []byte(`{"encrypt":"abc"}`)
	if Signature(testToken, body) != sign(testToken, body) {
		t.Errorf("Signature = %s, want %s", Signature(testToken, body), sign(testToken, body))
	}
	c := codec(t, "", testToken)
	if err := c.Verify(body, strings.ToUpper(Signature(testToken, body))); err != nil {
		t.Errorf("upper-case hex and prefix: %v", err)
	}
	if err := codec(t, "", "").Verify(body, "sha256=00"); err != nil {
		t.Errorf("no token: %v", err)
	}
}
