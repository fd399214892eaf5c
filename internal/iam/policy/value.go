package policy

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// The parsers below serve both Parse (policy values) and Decide (request
// values), so both sides read numbers, dates and addresses the same way. They
// check syntax before calling strconv or netip, whose error values would
// allocate on the decision path.

const maxNumberLen = 64

// parseNumber accepts an optional sign, digits, and an optional fraction:
// "5", "-3", "+0.25". No exponent, no hex, no Inf/NaN.
func parseNumber(s string) (float64, bool) {
	if s == "" || len(s) > maxNumberLen {
		return 0, false
	}
	i := 0
	if s[0] == '+' || s[0] == '-' {
		i++
	}
	digits := 0
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
		digits++
	}
	if digits == 0 {
		return 0, false
	}
	if i < len(s) {
		if s[i] != '.' {
			return 0, false
		}
		i++
		frac := 0
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
			frac++
		}
		if frac == 0 || i != len(s) {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false
	}
	return f, true
}

// parseBool accepts "true" and "false" in any case.
func parseBool(s string) (value, ok bool) {
	switch {
	case strings.EqualFold(s, "true"):
		return true, true
	case strings.EqualFold(s, "false"):
		return false, true
	}
	return false, false
}

// parseDate accepts ISO 8601 dates and date-times:
//
//	2024-05-01                      midnight UTC
//	2024-05-01T13:45                minutes
//	2024-05-01T13:45:30             seconds
//	2024-05-01T13:45:30.123456789   up to nanoseconds ('.' or ',')
//
// each date-time optionally followed by Z or an offset +hh:mm, +hhmm or +hh.
// A date-time without a zone is UTC.
func parseDate(s string) (time.Time, bool) {
	if len(s) < 10 || len(s) > 64 || s[4] != '-' || s[7] != '-' {
		return time.Time{}, false
	}
	year, ok1 := atoiN(s[0:4])
	month, ok2 := atoiN(s[5:7])
	day, ok3 := atoiN(s[8:10])
	if !ok1 || !ok2 || !ok3 || month < 1 || month > 12 || day < 1 || day > 31 {
		return time.Time{}, false
	}
	var hour, minute, sec, nsec, offset int
	rest := s[10:]
	if rest != "" {
		if rest[0] != 'T' && rest[0] != 't' || len(rest) < 6 || rest[3] != ':' {
			return time.Time{}, false
		}
		var ok bool
		if hour, ok = atoiN(rest[1:3]); !ok || hour > 23 {
			return time.Time{}, false
		}
		if minute, ok = atoiN(rest[4:6]); !ok || minute > 59 {
			return time.Time{}, false
		}
		rest = rest[6:]
		if rest != "" && rest[0] == ':' {
			if len(rest) < 3 {
				return time.Time{}, false
			}
			if sec, ok = atoiN(rest[1:3]); !ok || sec > 59 {
				return time.Time{}, false
			}
			rest = rest[3:]
			if rest != "" && (rest[0] == '.' || rest[0] == ',') {
				i := 1
				scale := 100000000
				for i < len(rest) && '0' <= rest[i] && rest[i] <= '9' {
					if i > 9 {
						return time.Time{}, false
					}
					nsec += int(rest[i]-'0') * scale
					scale /= 10
					i++
				}
				if i == 1 {
					return time.Time{}, false
				}
				rest = rest[i:]
			}
		}
		switch {
		case rest == "":
		case rest == "Z" || rest == "z":
		case rest[0] == '+' || rest[0] == '-':
			var oh, om int
			z := rest[1:]
			switch len(z) {
			case 2:
				oh, ok = atoiN(z)
			case 4:
				oh, ok = atoiN(z[:2])
				if ok {
					om, ok = atoiN(z[2:])
				}
			case 5:
				ok = z[2] == ':'
				if ok {
					oh, ok = atoiN(z[:2])
				}
				if ok {
					om, ok = atoiN(z[3:])
				}
			default:
				ok = false
			}
			if !ok || oh > 23 || om > 59 {
				return time.Time{}, false
			}
			offset = oh*3600 + om*60
			if rest[0] == '-' {
				offset = -offset
			}
		default:
			return time.Time{}, false
		}
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if t.Day() != day { // 2023-02-30 normalises to March
		return time.Time{}, false
	}
	return t.Add(-time.Duration(offset) * time.Second), true
}

// atoiN parses a string made only of ASCII digits.
func atoiN(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// parsePrefix reads a policy address: a CIDR block or a single IPv4/IPv6
// address (a /32 or /128). IPv4-mapped IPv6 forms are unmapped. Zones are not
// allowed.
func parsePrefix(s string) (netip.Prefix, bool) {
	if !ipChars(s, true) {
		return netip.Prefix{}, false
	}
	if strings.IndexByte(s, '/') >= 0 {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		a := p.Addr()
		if a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}

// parseAddr reads a request address, dropping any zone and unmapping
// IPv4-mapped IPv6.
func parseAddr(s string) (netip.Addr, bool) {
	if i := strings.IndexByte(s, '%'); i >= 0 {
		s = s[:i]
	}
	if !ipChars(s, false) {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

func ipChars(s string, slash bool) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' || c == '.' || c == ':' || slash && c == '/') {
			return false
		}
	}
	return true
}
