package localaws

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"
)

// DynamoDB attribute values: the types localaws supports are S, N, B, BOOL,
// NULL, M, L and SS. NS and BS are refused with a ValidationException that
// names them, so a caller learns at once that it left the emulated subset.

// maxItemSize is DynamoDB's item size limit, 400 KB.
const maxItemSize = 400 * 1024

// maxNumberDigits is the precision of a DynamoDB number.
const maxNumberDigits = 38

// attrValue is one DynamoDB attribute value. Values are never changed once
// built, so items may share them.
type attrValue struct {
	typ     string // S, N, B, BOOL, NULL, M, L, SS
	str     string // S; N in canonical form (see normalizeNumber)
	bin     []byte // B
	boolean bool   // BOOL
	m       map[string]attrValue
	l       []attrValue
	ss      []string
}

// item is a stored item or an item in a request.
type item map[string]attrValue

func (v attrValue) MarshalJSON() ([]byte, error) {
	var inner any
	switch v.typ {
	case "S", "N":
		inner = v.str
	case "B":
		inner = base64.StdEncoding.EncodeToString(v.bin)
	case "BOOL":
		inner = v.boolean
	case "NULL":
		inner = true
	case "M":
		m := v.m
		if m == nil {
			m = map[string]attrValue{}
		}
		inner = m
	case "L":
		l := v.l
		if l == nil {
			l = []attrValue{}
		}
		inner = l
	case "SS":
		inner = v.ss
	default:
		return nil, fmt.Errorf("attribute value of unknown type %q", v.typ)
	}
	return json.Marshal(map[string]any{v.typ: inner})
}

// unsupportedValueTypes are DynamoDB types localaws does not emulate.
var unsupportedValueTypes = map[string]bool{"NS": true, "BS": true}

// parseAttrValue reads one attribute value from its wire form, such as
// {"S": "x"}, checking it as DynamoDB does.
func parseAttrValue(raw json.RawMessage) (attrValue, *awsError) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil || members == nil {
		return attrValue{}, ddbSerialization(fmt.Sprintf("an attribute value must be a JSON object: %s", truncate(string(raw), 40)))
	}
	switch len(members) {
	case 0:
		return attrValue{}, ddbValidation("Supplied AttributeValue is empty, must contain exactly one of the supported datatypes")
	case 1:
	default:
		return attrValue{}, ddbValidation("Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes")
	}
	for typ, body := range members {
		if unsupportedValueTypes[typ] {
			return attrValue{}, ddbValidation(fmt.Sprintf("localaws does not support attribute values of type %s (supported: S, N, B, BOOL, NULL, M, L, SS)", typ))
		}
		bad := func() *awsError {
			return ddbSerialization(fmt.Sprintf("attribute value of type %s: unexpected %s", typ, truncate(string(body), 40)))
		}
		v := attrValue{typ: typ}
		switch typ {
		case "S":
			if json.Unmarshal(body, &v.str) != nil {
				return attrValue{}, bad()
			}
		case "N":
			var text string
			if json.Unmarshal(body, &text) != nil {
				return attrValue{}, bad()
			}
			canon, aerr := normalizeNumber(text)
			if aerr != nil {
				return attrValue{}, aerr
			}
			v.str = canon
		case "B":
			var text string
			if json.Unmarshal(body, &text) != nil {
				return attrValue{}, bad()
			}
			b, err := base64.StdEncoding.DecodeString(text)
			if err != nil {
				return attrValue{}, ddbSerialization("attribute value of type B is not valid base64")
			}
			v.bin = b
		case "BOOL":
			if json.Unmarshal(body, &v.boolean) != nil {
				return attrValue{}, bad()
			}
		case "NULL":
			var null bool
			if json.Unmarshal(body, &null) != nil {
				return attrValue{}, bad()
			}
			if !null {
				return attrValue{}, ddbValidation("One or more parameter values were invalid: Null attribute value types must have the value of true")
			}
		case "M":
			var raw map[string]json.RawMessage
			if json.Unmarshal(body, &raw) != nil || raw == nil {
				return attrValue{}, bad()
			}
			m, aerr := parseItem(raw)
			if aerr != nil {
				return attrValue{}, aerr
			}
			v.m = m
		case "L":
			var raw []json.RawMessage
			if json.Unmarshal(body, &raw) != nil || raw == nil {
				return attrValue{}, bad()
			}
			v.l = make([]attrValue, 0, len(raw))
			for _, r := range raw {
				e, aerr := parseAttrValue(r)
				if aerr != nil {
					return attrValue{}, aerr
				}
				v.l = append(v.l, e)
			}
		case "SS":
			if json.Unmarshal(body, &v.ss) != nil || v.ss == nil {
				return attrValue{}, bad()
			}
			if len(v.ss) == 0 {
				return attrValue{}, ddbValidation("One or more parameter values were invalid: An string set  may not be empty")
			}
			seen := map[string]bool{}
			for _, s := range v.ss {
				if seen[s] {
					return attrValue{}, ddbValidation(fmt.Sprintf("One or more parameter values were invalid: Input collection %v contains duplicates.", v.ss))
				}
				seen[s] = true
			}
		default:
			return attrValue{}, ddbSerialization(fmt.Sprintf("unknown attribute value type %q", typ))
		}
		return v, nil
	}
	panic("unreachable")
}

// parseItem reads a map of attribute values (an item, a key, a map value).
func parseItem(raw map[string]json.RawMessage) (item, *awsError) {
	out := make(item, len(raw))
	for name, r := range raw {
		v, aerr := parseAttrValue(r)
		if aerr != nil {
			return nil, aerr
		}
		out[name] = v
	}
	return out, nil
}

// normalizeNumber checks a DynamoDB number (at most 38 significant digits,
// magnitude 1E-130 to below 1E+126) and returns its canonical decimal text,
// so that "1.50", "15E-1" and "1.5" are the same number, as in DynamoDB.
func normalizeNumber(text string) (string, *awsError) {
	invalid := ddbValidation("A value provided cannot be converted into a number")
	s := text
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	mant, expText, hasExp := strings.Cut(strings.ToLower(s), "e")
	exp := 0
	if hasExp {
		t := expText
		sign := 1
		if t != "" && (t[0] == '-' || t[0] == '+') {
			if t[0] == '-' {
				sign = -1
			}
			t = t[1:]
		}
		if t == "" || len(t) > 6 {
			return "", invalid
		}
		for _, c := range t {
			if c < '0' || c > '9' {
				return "", invalid
			}
			exp = exp*10 + int(c-'0')
		}
		exp *= sign
	}
	intPart, frac, _ := strings.Cut(mant, ".")
	if intPart == "" && frac == "" {
		return "", invalid
	}
	digits := intPart + frac
	for _, c := range digits {
		if c < '0' || c > '9' {
			return "", invalid
		}
	}
	exp -= len(frac)
	digits = strings.TrimLeft(digits, "0")
	if digits == "" {
		return "0", nil
	}
	trimmed := strings.TrimRight(digits, "0")
	exp += len(digits) - len(trimmed)
	digits = trimmed
	if len(digits) > maxNumberDigits {
		return "", ddbValidation("Attempting to store more than 38 significant digits in a Number")
	}
	switch sci := exp + len(digits) - 1; {
	case sci > 125:
		return "", ddbValidation("Number overflow. Attempting to store a number with magnitude larger than supported range")
	case sci < -130:
		return "", ddbValidation("Number underflow. Attempting to store a number with magnitude smaller than supported range")
	}
	var out string
	switch {
	case exp >= 0:
		out = digits + strings.Repeat("0", exp)
	case len(digits) > -exp:
		out = digits[:len(digits)+exp] + "." + digits[len(digits)+exp:]
	default:
		out = "0." + strings.Repeat("0", -exp-len(digits)) + digits
	}
	if neg {
		out = "-" + out
	}
	return out, nil
}

func numberRat(canon string) *big.Rat {
	r, ok := new(big.Rat).SetString(canon)
	if !ok {
		// Canonical numbers always parse; treat the impossible as zero.
		return new(big.Rat)
	}
	return r
}

// equalValues is DynamoDB's = : same type and same value, numbers by value,
// string sets regardless of order.
func equalValues(a, b attrValue) bool {
	if a.typ != b.typ {
		return false
	}
	switch a.typ {
	case "S", "N":
		return a.str == b.str // N is canonical
	case "B":
		return bytes.Equal(a.bin, b.bin)
	case "BOOL":
		return a.boolean == b.boolean
	case "NULL":
		return true
	case "M":
		if len(a.m) != len(b.m) {
			return false
		}
		for k, av := range a.m {
			bv, ok := b.m[k]
			if !ok || !equalValues(av, bv) {
				return false
			}
		}
		return true
	case "L":
		return slices.EqualFunc(a.l, b.l, equalValues)
	case "SS":
		x, y := slices.Clone(a.ss), slices.Clone(b.ss)
		sort.Strings(x)
		sort.Strings(y)
		return slices.Equal(x, y)
	}
	return false
}

// compareValues orders two values of the same ordered type (N, S, B):
// numbers by value, strings and binaries byte by byte (UTF-8), as DynamoDB
// does. ok is false for other or mixed types, which no ordering holds for.
func compareValues(a, b attrValue) (cmp int, ok bool) {
	if a.typ != b.typ {
		return 0, false
	}
	switch a.typ {
	case "N":
		return numberRat(a.str).Cmp(numberRat(b.str)), true
	case "S":
		return strings.Compare(a.str, b.str), true
	case "B":
		return bytes.Compare(a.bin, b.bin), true
	}
	return 0, false
}

// itemSize is an item's size by DynamoDB's rules: names and values in
// UTF-8 bytes, numbers about one byte per two significant digits plus one,
// one byte for BOOL and NULL, three bytes plus one per element for M and L.
func itemSize(it item) int {
	n := 0
	for name, v := range it {
		n += len(name) + valueSize(v)
	}
	return n
}

func valueSize(v attrValue) int {
	switch v.typ {
	case "S":
		return len(v.str)
	case "N":
		digits := strings.TrimLeft(strings.NewReplacer("-", "", ".", "").Replace(v.str), "0")
		return (len(digits)+1)/2 + 1
	case "B":
		return len(v.bin)
	case "BOOL", "NULL":
		return 1
	case "M":
		n := 3
		for k, e := range v.m {
			n += len(k) + valueSize(e) + 1
		}
		return n
	case "L":
		n := 3
		for _, e := range v.l {
			n += valueSize(e) + 1
		}
		return n
	case "SS":
		n := 0
		for _, s := range v.ss {
			n += len(s)
		}
		return n
	}
	return 0
}

// plainValue converts v to plain Go values for inspection: S string, N
// json.Number (exact), B []byte, BOOL bool, NULL nil, M map[string]any,
// L []any, SS []string.
func plainValue(v attrValue) any {
	switch v.typ {
	case "S":
		return v.str
	case "N":
		return json.Number(v.str)
	case "B":
		return slices.Clone(v.bin)
	case "BOOL":
		return v.boolean
	case "NULL":
		return nil
	case "M":
		m := make(map[string]any, len(v.m))
		for k, e := range v.m {
			m[k] = plainValue(e)
		}
		return m
	case "L":
		l := make([]any, 0, len(v.l))
		for _, e := range v.l {
			l = append(l, plainValue(e))
		}
		return l
	case "SS":
		return slices.Clone(v.ss)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
