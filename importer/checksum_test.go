package importer

import (
	"strings"
	"testing"
	"time"
)

func TestValidCreditCode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		code  string
		valid bool
		why   string // part of the explanation for an invalid code
	}{
		{"91350100M000100Y43", true, ""},
		{"914403001234567810", true, ""},
		{"91110108MA01C2D3EG", true, ""},
		{"91350100M000100Y44", false, "must be 3"},
		{"BOLIU101304662708A", false, `'O' at position 2`},
		{"X1440101304662708B", false, "must be M"},
		{"BOLIU101304662708A ", false, "19 characters"},
		{"9135010", false, "7 characters"},
		{"91350100m000100Y43", false, `'m' at position 9`},
		{"91350100M000100Y4３", false, "position 18"},
	} {
		if got := ValidCreditCode(tc.code); got != tc.valid {
			t.Errorf("ValidCreditCode(%q) = %v; want %v", tc.code, got, tc.valid)
		}
		err := checkCreditCode(tc.code)
		if tc.valid != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.why)) {
			t.Errorf("checkCreditCode(%q) = %v; want mention of %q", tc.code, err, tc.why)
		}
	}
	if c, err := CreditCodeCheckChar("X144010130466270"); err == nil {
		t.Errorf("16 characters gave check char %c", c)
	}
	if c, _ := CreditCodeCheckChar("X1440101304662708"); c != 'M' {
		t.Errorf("check char of the spec pages' example = %c; want M", c)
	}
}

func TestValidIDNumber(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		id  string
		why string // "" for valid
	}{
		{"11010519491231002X", ""},
		{"440524188001010014", ""},
		{"440306198511207832", ""},
		{"110101200001010010", ""},
		{"110105194912310021", "must be X"},
		{"110105194902300028", "not a real date"},
		{"620000198802020000", "must be 6"},
		{"11010519491231002x", "must be a digit or X"},
		{"1101051949123100", "16 characters"},
		{"110105491231002", "15 characters"},
		{"11010517991231002X", "between 1800-01-01 and today"},
		{"110105A9491231002X", `'A' at position 7`},
	} {
		err := ValidIDNumber(tc.id, now)
		if (tc.why == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.why)) {
			t.Errorf("ValidIDNumber(%q) = %v; want %q", tc.id, err, tc.why)
		}
	}
	// A birth date after today is refused; today itself is fine.
	first17 := "11010520250601001"
	c, _ := IDCheckChar(first17)
	if err := ValidIDNumber(first17+string(c), now); err != nil {
		t.Errorf("born today: %v", err)
	}
	first17 = "11010520250602001"
	c, _ = IDCheckChar(first17)
	if err := ValidIDNumber(first17+string(c), now); err == nil || !strings.Contains(err.Error(), "today") {
		t.Errorf("born tomorrow: %v", err)
	}
}

// FuzzCreditCode checks that the explanation and the check agree, and that a
// code completed with its computed check character is valid.
func FuzzCreditCode(f *testing.F) {
	for _, s := range []string{"91350100M000100Y43", "914403001234567810", "BOLIU101304662708A", "X1440101304662708", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := checkCreditCode(s)
		if ValidCreditCode(s) != (err == nil) {
			t.Fatalf("ValidCreditCode and checkCreditCode disagree on %q", s)
		}
		if len(s) >= 17 {
			if c, err := CreditCodeCheckChar(s[:17]); err == nil && !ValidCreditCode(s[:17]+string(c)) {
				t.Fatalf("%q completed with %c is not valid", s[:17], c)
			}
		}
	})
}

// FuzzIDNumber checks that an ID completed with its check character is valid
// whenever its birth date is, and that nothing else panics.
func FuzzIDNumber(f *testing.F) {
	for _, s := range []string{"11010519491231002X", "440524188001010014", "110105194902300028", "x"} {
		f.Add(s)
	}
	now := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		err := ValidIDNumber(s, now)
		if err == nil && (len(s) != 18 || strings.ContainsRune(s[:17], 'X')) {
			t.Fatalf("%q accepted", s)
		}
		if len(s) < 17 {
			return
		}
		c, err := IDCheckChar(s[:17])
		if err != nil {
			return
		}
		birth, perr := time.Parse("20060102", s[6:14])
		dateOK := perr == nil && !birth.Before(earliestBirth) && !birth.After(now)
		if got := ValidIDNumber(s[:17]+string(c), now); (got == nil) != dateOK {
			t.Fatalf("%q+%c: %v (date ok %v)", s[:17], c, got, dateOK)
		}
	})
}
