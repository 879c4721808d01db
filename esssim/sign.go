package esssim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// signAlgorithm is the only signature method the simulator accepts.
const signAlgorithm = "TC3-HMAC-SHA256"

// maxClockSkew is how far a request's X-TC-Timestamp may be from the
// simulator's clock.
const maxClockSkew = 300 * time.Second

// authorization is a parsed Authorization header.
type authorization struct {
	secretID      string
	date          string // from the credential scope
	service       string
	terminal      string // tc3_request
	signedHeaders []string
	signature     string
}

// parseAuthorization parses
// "TC3-HMAC-SHA256 Credential=ID/DATE/SERVICE/tc3_request, SignedHeaders=a;b, Signature=HEX".
func parseAuthorization(h string) (authorization, bool) {
	var a authorization
	alg, rest, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || alg != signAlgorithm {
		return a, false
	}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return a, false
		}
		switch k {
		case "Credential":
			f := strings.Split(v, "/")
			if len(f) != 4 || f[0] == "" {
				return a, false
			}
			a.secretID, a.date, a.service, a.terminal = f[0], f[1], f[2], f[3]
		case "SignedHeaders":
			a.signedHeaders = strings.Split(v, ";")
		case "Signature":
			a.signature = v
		default:
			return a, false
		}
	}
	if a.secretID == "" || a.signature == "" || len(a.signedHeaders) == 0 {
		return a, false
	}
	has := map[string]bool{}
	for _, n := range a.signedHeaders {
		if n == "" || n != strings.ToLower(n) {
			return a, false
		}
		has[n] = true
	}
	if !has["content-type"] || !has["host"] {
		return a, false
	}
	return a, true
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func hmacSHA256(key []byte, msg string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// headerValue returns a request header's value as it is signed; Go servers
// keep the Host header in r.Host.
func headerValue(r *http.Request, name string) string {
	if name == "host" {
		return r.Host
	}
	return strings.Join(r.Header.Values(name), ",")
}

// canonicalHeaders returns the TC3 canonical headers and signed headers of
// the named headers.
func canonicalHeaders(names []string, value func(string) string) (canonical, signed string) {
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	var hb strings.Builder
	for _, n := range sorted {
		hb.WriteString(n)
		hb.WriteByte(':')
		hb.WriteString(strings.ToLower(strings.TrimSpace(value(n))))
		hb.WriteByte('\n')
	}
	return hb.String(), strings.Join(sorted, ";")
}

// canonicalRequest builds the TC3 canonical request for a POST to "/".
func canonicalRequest(names []string, value func(string) string, hashedPayload string) string {
	headers, signed := canonicalHeaders(names, value)
	return "POST\n/\n\n" + headers + "\n" + signed + "\n" + hashedPayload
}

// signingKey derives kSigning from the secret key, date and service.
func signingKey(secretKey, date, service string) []byte {
	kDate := hmacSHA256([]byte("TC3"+secretKey), date)
	kService := hmacSHA256(kDate, service)
	return hmacSHA256(kService, "tc3_request")
}

// stringToSign builds the TC3 string to sign.
func stringToSign(timestamp, date, service, canonical string) string {
	return signAlgorithm + "\n" + timestamp + "\n" + date + "/" + service + "/tc3_request\n" + sha256Hex([]byte(canonical))
}

// signature computes the hex TC3 signature of a request with the given
// signed headers and body.
func signature(secretKey, timestamp string, names []string, value func(string) string, body []byte, unsignedPayload bool) string {
	ts, _ := strconv.ParseInt(timestamp, 10, 64)
	date := time.Unix(ts, 0).UTC().Format("2006-01-02")
	payload := sha256Hex(body)
	if unsignedPayload {
		payload = sha256Hex([]byte("UNSIGNED-PAYLOAD"))
	}
	canonical := canonicalRequest(names, value, payload)
	return hex.EncodeToString(hmacSHA256(signingKey(secretKey, date, service), stringToSign(timestamp, date, service, canonical)))
}

// SignRequest signs r (a POST to "/" with the given body) as the SDK does:
// Content-Type and Host signed, X-TC-Timestamp set to ts unless already
// present. It is meant for tests and tools that talk to the simulator
// without the SDK.
func SignRequest(r *http.Request, body []byte, secretID, secretKey string, ts time.Time) {
	if r.Header.Get("X-TC-Timestamp") == "" {
		r.Header.Set("X-TC-Timestamp", strconv.FormatInt(ts.Unix(), 10))
	}
	if r.Header.Get("Content-Type") == "" {
		r.Header.Set("Content-Type", "application/json")
	}
	timestamp := r.Header.Get("X-TC-Timestamp")
	tsv, _ := strconv.ParseInt(timestamp, 10, 64)
	date := time.Unix(tsv, 0).UTC().Format("2006-01-02")
	host := r.Host
	if host == "" && r.URL != nil {
		host = r.URL.Host
	}
	names := []string{"content-type", "host"}
	value := func(n string) string {
		if n == "host" {
			return host
		}
		return r.Header.Get(n)
	}
	sig := signature(secretKey, timestamp, names, value, body, r.Header.Get("X-TC-Content-SHA256") == "UNSIGNED-PAYLOAD")
	r.Header.Set("Authorization", signAlgorithm+" Credential="+secretID+"/"+date+"/"+service+"/tc3_request, SignedHeaders=content-type;host, Signature="+sig)
}
