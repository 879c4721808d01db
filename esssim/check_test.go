package esssim

import (
	"testing"
	"time"
)

func TestValidCreditCode(t *testing.T) {
	t.Parallel()
	tests := []struct {
		code string
		want bool
	}{
		{"91350100M000100Y43", true},
		{"914403001234567810", true},
		{"91110108MA01C2D3EG", true},
		{"91110108ma01c2d3eg", true}, // upper-cased first
		{"91350100M000100Y44", false},
		{"BOLIU101304662708A", false},  // I and O are not in the alphabet
		{"BOLIU101304662708A ", false}, // the spec pages' value, trailing space
		{"X1440101304662708B", false},  // wrong check, expect M
		{"X1440101304662708M", true},
		{"91350100M000100Y4", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := ValidCreditCode(tt.code); got != tt.want {
			t.Errorf("ValidCreditCode(%q) = %v, want %v", tt.code, got, tt.want)
		}
	}
}

func TestValidIDCardNumber(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		id   string
		want bool
	}{
		{"11010519491231002X", true},
		{"440524188001010014", true},
		{"440306198511207832", true},
		{"110101200001010010", true},
		{"110105194912310021", false}, // wrong check, expect X
		{"110105194902300028", false}, // no 30 February
		{"620000198802020000", false}, // the spec pages' value, expect 6
		{"620000198802020006", true},
		{"11010519491231002x", false}, // lower-case x
		{"110101203001010019", false}, // born in the future
		{"11010519491231002", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := ValidIDCardNumber(tt.id, now); got != tt.want {
			t.Errorf("ValidIDCardNumber(%q) = %v, want %v", tt.id, got, tt.want)
		}
	}
}

func FuzzValidCreditCode(f *testing.F) {
	f.Add("91350100M000100Y43")
	f.Add("BOLIU101304662708A")
	f.Fuzz(func(t *testing.T, s string) {
		if !ValidCreditCode(s) {
			return
		}
		// A valid code stays valid upper-cased, and changing its check
		// character makes it invalid.
		b := []byte(s)
		for i := range b {
			if b[i] >= 'a' && b[i] <= 'z' {
				b[i] -= 32
			}
		}
		if !ValidCreditCode(string(b)) {
			t.Fatalf("%q valid but its upper-case form is not", s)
		}
		if b[17] == '0' {
			b[17] = '1'
		} else {
			b[17] = '0'
		}
		if ValidCreditCode(string(b)) {
			t.Fatalf("%q and %q both valid", s, b)
		}
	})
}

func FuzzValidIDCardNumber(f *testing.F) {
	f.Add("11010519491231002X")
	f.Fuzz(func(t *testing.T, s string) {
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		if !ValidIDCardNumber(s, now) {
			return
		}
		b := []byte(s)
		if b[17] == '0' {
			b[17] = '1'
		} else {
			b[17] = '0'
		}
		if ValidIDCardNumber(string(b), now) {
			t.Fatalf("%q and %q both valid", s, b)
		}
	})
}
