package credreport

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/keywarden/keywarden/internal/event"
)

// ErrMalformedReport is wrapped by every error Parse returns: the report is
// not the CSV AWS documents, so no key ages can be trusted from it.
var ErrMalformedReport = errors.New("malformed credential report")

// RootUser is the user column of the root account's row, as AWS writes it.
const RootUser = "<root_account>"

// isRootRow tells the root account's row: root's ARN, or a user column that
// spells root (event.IsRootName: <root_account>, root, …) beside an ARN that
// is not an IAM user's. An IAM user may be named root; its ARN says so.
func isRootRow(user, arn string) bool {
	return event.IsRootName(arn) || (event.IsRootName(user) && !strings.Contains(arn, ":user/"))
}

// Values AWS writes where a field has no value: N/A (no key, never used),
// not_supported (the root account's password fields), no_information (no
// use recorded since IAM began tracking it).
var absentValues = map[string]bool{"": true, "N/A": true, "not_supported": true, "no_information": true}

// slotColumns are the header names of one key slot.
type slotColumns struct {
	active, lastRotated, lastUsedDate, lastUsedRegion, lastUsedService string
}

func columnsOfSlot(slot int) slotColumns {
	p := fmt.Sprintf("access_key_%d_", slot)
	return slotColumns{p + "active", p + "last_rotated", p + "last_used_date", p + "last_used_region", p + "last_used_service"}
}

var slots = [2]slotColumns{columnsOfSlot(1), columnsOfSlot(2)}

// requiredColumns are the columns without which key ages cannot be read.
// The region and service of last use are optional: without them a key's
// LastUsedRegion and LastUsedService are empty.
var requiredColumns = []string{
	"user", "arn",
	slots[0].active, slots[0].lastRotated, slots[0].lastUsedDate,
	slots[1].active, slots[1].lastRotated, slots[1].lastUsedDate,
}

// Parse reads a credential report (the CSV in GetCredentialReport's
// Content) generated at generated. Columns are found by header name, so
// AWS may reorder or add columns. Every error names the line and wraps
// ErrMalformedReport; no row is ever skipped silently.
//
// Per slot: "true" or "false" in access_key_N_active; a slot holds a key
// when it is active or has a last_rotated date. An active slot without a
// last_rotated date is an error, since its age would be unknown. Dates are
// RFC 3339 ("2026-01-02T15:04:05+00:00"); N/A, not_supported and
// no_information mean no value.
func Parse(data []byte, generated time.Time) (Report, error) {
	rep := Report{Generated: generated.UTC(), Keys: []Key{}}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1 // checked below, with a clearer message
	r.ReuseRecord = true

	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return Report{}, fmt.Errorf("%w: empty: no header line", ErrMalformedReport)
	}
	if err != nil {
		return Report{}, fmt.Errorf("%w: header: %w", ErrMalformedReport, err)
	}
	headerLine, _ := r.FieldPos(0)
	col, err := indexColumns(header, headerLine)
	if err != nil {
		return Report{}, err
	}
	width := len(header)

	seen := map[string]int{} // user → line
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Report{}, fmt.Errorf("%w: %w", ErrMalformedReport, err)
		}
		line, _ := r.FieldPos(0)
		if len(rec) != width {
			return Report{}, fmt.Errorf("%w: line %d: %d fields, the header has %d", ErrMalformedReport, line, len(rec), width)
		}
		user := rec[col["user"]]
		if user == "" {
			return Report{}, fmt.Errorf("%w: line %d: empty user", ErrMalformedReport, line)
		}
		if first, dup := seen[user]; dup {
			return Report{}, fmt.Errorf("%w: line %d: user %q already on line %d", ErrMalformedReport, line, user, first)
		}
		seen[user] = line
		root := isRootRow(user, rec[col["arn"]])
		for i, sc := range slots {
			k, ok, err := parseSlot(rec, col, sc)
			if err != nil {
				return Report{}, fmt.Errorf("%w: line %d (user %s): %w", ErrMalformedReport, line, user, err)
			}
			if !ok {
				continue
			}
			if root {
				rep.RootHasKeys = rep.RootHasKeys || k.Active
				continue
			}
			k.User, k.ARN, k.Slot = user, rec[col["arn"]], i+1
			rep.Keys = append(rep.Keys, k)
		}
		if !root {
			rep.Users++
		}
	}
	return rep, nil
}

// indexColumns maps header names to positions and checks the required ones.
func indexColumns(header []string, line int) (map[string]int, error) {
	col := make(map[string]int, len(header))
	for i, name := range header {
		name = strings.TrimSpace(name)
		if _, dup := col[name]; dup {
			return nil, fmt.Errorf("%w: line %d: column %q appears twice", ErrMalformedReport, line, name)
		}
		col[name] = i
	}
	var missing []string
	for _, name := range requiredColumns {
		if _, ok := col[name]; !ok {
			missing = append(missing, name)
		}
	}
	switch len(missing) {
	case 0:
		return col, nil
	case 1:
		return nil, fmt.Errorf("%w: line %d: missing column %s", ErrMalformedReport, line, missing[0])
	}
	return nil, fmt.Errorf("%w: line %d: missing columns %s", ErrMalformedReport, line, strings.Join(missing, ", "))
}

// parseSlot reads one key slot of a row; ok is false for an empty slot.
func parseSlot(rec []string, col map[string]int, sc slotColumns) (k Key, ok bool, err error) {
	switch v := rec[col[sc.active]]; v {
	case "true":
		k.Active = true
	case "false":
	default:
		return Key{}, false, fmt.Errorf("%s is %q, want true or false", sc.active, v)
	}
	if k.LastRotated, err = parseTime(rec, col, sc.lastRotated); err != nil {
		return Key{}, false, err
	}
	if k.LastUsed, err = parseTime(rec, col, sc.lastUsedDate); err != nil {
		return Key{}, false, err
	}
	k.LastUsedRegion = optional(rec, col, sc.lastUsedRegion)
	k.LastUsedService = optional(rec, col, sc.lastUsedService)
	switch {
	case k.Active && k.LastRotated.IsZero():
		return Key{}, false, fmt.Errorf("%s is true but %s has no date, so the key's age is unknown", sc.active, sc.lastRotated)
	case k.LastRotated.IsZero():
		return Key{}, false, nil
	}
	return k, true, nil
}

// parseTime reads an RFC 3339 date, or the zero time for an absent value.
func parseTime(rec []string, col map[string]int, name string) (time.Time, error) {
	v := rec[col[name]]
	if absentValues[v] {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("%s %q is not an RFC 3339 date such as 2026-01-02T15:04:05+00:00", name, v)
	}
	return t.UTC(), nil
}

// optional reads a column that may be missing from the header.
func optional(rec []string, col map[string]int, name string) string {
	i, ok := col[name]
	if !ok || absentValues[rec[i]] {
		return ""
	}
	return rec[i]
}
