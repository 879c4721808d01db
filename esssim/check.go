package esssim

import (
	"strings"
	"time"
)

// usccAlphabet is the character set of a unified social credit code
// (GB 32100-2015); a character's value is its index.
const usccAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"

var usccWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// ValidCreditCode reports whether s is an 18-character unified social credit
// code with a correct check character. Lower-case letters are accepted.
func ValidCreditCode(s string) bool {
	if len(s) != 18 {
		return false
	}
	s = strings.ToUpper(s)
	sum := 0
	for i := 0; i < 17; i++ {
		v := strings.IndexByte(usccAlphabet, s[i])
		if v < 0 {
			return false
		}
		sum += v * usccWeights[i]
	}
	check := strings.IndexByte(usccAlphabet, s[17])
	return check >= 0 && check == (31-sum%31)%31
}

var idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// ValidIDCardNumber reports whether s is an 18-character resident identity
// card number (GB 11643-1999): 17 digits with a real, not future, birth date
// (relative to now) and a correct check character (digit or upper-case X).
func ValidIDCardNumber(s string, now time.Time) bool {
	if len(s) != 18 {
		return false
	}
	sum := 0
	for i := 0; i < 17; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return false
		}
		sum += int(c-'0') * idWeights[i]
	}
	birth, err := time.Parse("20060102", s[6:14])
	if err != nil || birth.After(now) || birth.Year() < 1800 {
		return false
	}
	want := byte('0' + (12-sum%11)%11)
	if (12-sum%11)%11 == 10 {
		want = 'X'
	}
	return s[17] == want
}
