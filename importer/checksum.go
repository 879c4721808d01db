package importer

import (
	"fmt"
	"strings"
	"time"
)

// creditCodeAlphabet is the character set of a unified social credit code
// (GB 32100-2015); a character's value is its index.
const creditCodeAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"

// creditCodeWeights are 3^(i-1) mod 31 for positions 1..17.
var creditCodeWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// ValidCreditCode reports whether s is a unified social credit code whose check
// character is right (GB 32100-2015). s must already be upper-case.
func ValidCreditCode(s string) bool {
	return checkCreditCode(s) == nil
}

// CreditCodeCheckChar returns the check character for the first 17 characters
// of a unified social credit code, or an error if they are not 17 characters of
// the code's alphabet.
func CreditCodeCheckChar(first17 string) (byte, error) {
	if len(first17) != 17 {
		return 0, fmt.Errorf("need 17 characters, got %d", len(first17))
	}
	sum := 0
	for i := 0; i < 17; i++ {
		v := strings.IndexByte(creditCodeAlphabet, first17[i])
		if v < 0 {
			return 0, fmt.Errorf("character %q at position %d is not allowed", first17[i], i+1)
		}
		sum += v * creditCodeWeights[i]
	}
	return creditCodeAlphabet[(31-sum%31)%31], nil
}

// checkCreditCode explains why s is not a valid unified social credit code,
// in words a person filling in a spreadsheet understands; nil if it is valid.
func checkCreditCode(s string) error {
	n := len([]rune(s))
	if n != 18 {
		return checkErr(fmt.Sprintf("has %d characters; a unified social credit code has 18", n), "credit_code.length", "Length", itoa(n))
	}
	for i, r := range []rune(s) {
		if r > 0x7f || strings.IndexByte(creditCodeAlphabet, byte(r)) < 0 {
			return checkErr(fmt.Sprintf("character %q at position %d is not allowed (only digits and the capital letters A-Y except I, O, S, V, Z)", r, i+1),
				"credit_code.bad_char", "Char", quoteRune(r), "Position", itoa(i+1))
		}
	}
	want, _ := CreditCodeCheckChar(s[:17])
	if s[17] != want {
		return checkErr(fmt.Sprintf("the check character (the last one) is wrong: with these first 17 characters it must be %c; check the code for a typo", want),
			"credit_code.check_char", "Expected", string(want))
	}
	return nil
}

// idWeights are 2^(18-i) mod 11 for positions 1..17.
var idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// IDCheckChar returns the check character for the first 17 digits of a
// resident ID number (GB 11643-1999), or an error if they are not 17 digits.
func IDCheckChar(first17 string) (byte, error) {
	if len(first17) != 17 {
		return 0, fmt.Errorf("need 17 digits, got %d characters", len(first17))
	}
	sum := 0
	for i := 0; i < 17; i++ {
		c := first17[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("character %q at position %d is not a digit", c, i+1)
		}
		sum += int(c-'0') * idWeights[i]
	}
	return "10X98765432"[sum%11], nil
}

// earliestBirth is the earliest birth date an ID number may carry.
var earliestBirth = time.Date(1800, 1, 1, 0, 0, 0, 0, time.UTC)

// ValidIDNumber checks an 18-character resident ID number (GB 11643-1999): 17
// digits and a check character (a digit or upper-case X), with a real birth
// date between 1800-01-01 and now. The error says what is wrong.
func ValidIDNumber(s string, now time.Time) error {
	n := len([]rune(s))
	if n != 18 {
		return checkErr(fmt.Sprintf("has %d characters; an ID card number has 18", n), "id_number.length", "Length", itoa(n))
	}
	for i, r := range []rune(s) {
		if r >= '0' && r <= '9' {
			continue
		}
		if i == 17 && r == 'X' {
			continue
		}
		if i == 17 {
			return checkErr(fmt.Sprintf("the last character %q must be a digit or X", r), "id_number.last_char", "Char", quoteRune(r))
		}
		return checkErr(fmt.Sprintf("character %q at position %d is not a digit", r, i+1), "id_number.bad_char", "Char", quoteRune(r), "Position", itoa(i+1))
	}
	// The birth date is personal data: the reason says where it is, not
	// what it is.
	birth, err := time.Parse("20060102", s[6:14])
	if err != nil {
		return checkErr("the birth date (characters 7 to 14) is not a real date", "id_number.birth_date")
	}
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	if birth.Before(earliestBirth) || birth.After(today) {
		return checkErr("the birth date (characters 7 to 14) is not between 1800-01-01 and today", "id_number.birth_range")
	}
	want, _ := IDCheckChar(s[:17])
	if s[17] != want {
		return checkErr(fmt.Sprintf("the check character (the last one) is wrong: with these first 17 digits it must be %c; check the number for a typo", want),
			"id_number.check_char", "Expected", string(want))
	}
	return nil
}

// checkErr is what the checks return: text is the error's own text, which
// tells what is wrong with the value; code and pairs are the reason a row
// with the value gets (its parameter Value, the masked value, is added
// there).
func checkErr(text, code string, pairs ...string) error {
	return &reasonError{code: code, params: param(pairs), text: text}
}
