package policy

import (
	"slices"
	"strconv"
	"strings"
)

// Stage is where a key stands in its lifecycle. Warning stages are named for
// their day ("warning-70"), so a ledger entry stays meaningful after the
// thresholds change.
type Stage string

// The fixed stages; warning stages come from WarningStage.
const (
	StageOK    Stage = "ok"
	StageFinal Stage = "final"
	// StageRotate: an opted-in user's key is replaced by a new one (the
	// notice tells where the new key is); it stays in this stage until it
	// is retired.
	StageRotate     Stage = "rotate"
	StageDeactivate Stage = "deactivate"
	StageDelete     Stage = "delete"
)

const warningPrefix = "warning-"

// WarningStage is the stage that starts at the given age in days.
func WarningStage(days int) Stage {
	return Stage(warningPrefix + strconv.Itoa(days))
}

// WarningDays returns N for a stage "warning-N" (N ≥ 1, written without
// leading zeros or sign) and false for every other stage.
func (s Stage) WarningDays() (int, bool) {
	rest, ok := strings.CutPrefix(string(s), warningPrefix)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 1 || strconv.Itoa(n) != rest {
		return 0, false
	}
	return n, true
}

// Ranks of the stages after the warnings; warnings rank by their day,
// capped just below rankRotate.
const (
	rankRotate     = rankFinal - 1
	rankFinal      = 1 << 30
	rankDeactivate = rankFinal + 1
	rankDelete     = rankFinal + 2
)

// Rank orders stages for reports: ok (0) < warnings by day < rotate < final <
// deactivate < delete. Unknown stages rank -1. Warnings rank by their day
// alone, so stages from different WarnDays settings still compare sensibly.
func (s Stage) Rank() int {
	switch s {
	case StageOK:
		return 0
	case StageRotate:
		return rankRotate
	case StageFinal:
		return rankFinal
	case StageDeactivate:
		return rankDeactivate
	case StageDelete:
		return rankDelete
	}
	if n, ok := s.WarningDays(); ok {
		return min(n, rankRotate-1)
	}
	return -1
}

// Stages lists the stages a key can reach under cfg, in order, for reports:
// ok, each warning, rotate when RotationDays > 0, final, deactivate, and
// delete when DeleteAfterDays or RotationDays is above 0.
// Warning days that are not positive are left out and duplicates appear once,
// so even an invalid config gives a usable list.
func Stages(cfg Config) []Stage {
	warn := slices.Clone(cfg.WarnDays)
	slices.Sort(warn)
	warn = slices.Compact(warn)
	out := []Stage{StageOK}
	for _, w := range warn {
		if w > 0 {
			out = append(out, WarningStage(w))
		}
	}
	if cfg.RotationDays > 0 {
		out = append(out, StageRotate)
	}
	out = append(out, StageFinal, StageDeactivate)
	if cfg.DeleteAfterDays > 0 || cfg.RotationDays > 0 {
		out = append(out, StageDelete)
	}
	return out
}

// Action is what a run must do about a key.
type Action string

// The actions: none, notify, deactivate and delete from least to most
// drastic, and rotate, which issues a new key and takes nothing away.
const (
	ActionNone       Action = "none"
	ActionNotify     Action = "notify"
	ActionDeactivate Action = "deactivate"
	ActionDelete     Action = "delete"
	// ActionRotate creates a new key for the user, stores it in Secrets
	// Manager and leaves this one active until it is retired.
	ActionRotate Action = "rotate"
)
