package drill

// What a drill reports. The text timeline (WriteText) reads these types;
// their JSON encoding is what `keywarden drill --json` prints.

// PutResult is what one put-events file did.
type PutResult struct {
	File          string        `json:"file"`
	FailedEntries int           `json:"failedEntries"`
	EntryErrors   []string      `json:"entryErrors,omitempty"`
	Matches       []matchRecord `json:"matches"`
}

// Outcome is one scenario's result.
type Outcome struct {
	Scenario   string          `json:"scenario"`
	Title      string          `json:"title"`
	Puts       []PutResult     `json:"puts"`
	Executions []ExecutionView `json:"executions"`
	Alerts     []Alert         `json:"alerts"`
	Emails     []Email         `json:"emails"`
	Keys       []KeyView       `json:"keys"`
	Checks     []Check         `json:"checks"`
	Passed     bool            `json:"passed"`
	Error      string          `json:"error,omitempty"`
}

// Alert is a message published to the alert topic.
type Alert struct {
	Subject string `json:"subject"`
	Body    string `json:"body"`
}

// Email is a message sent through SES (owner notices).
type Email struct {
	To      string `json:"to"`
	Subject string `json:"subject"`
	Body    string `json:"body"`
}

// KeyView is an access key's state after the scenario.
type KeyView struct {
	AccessKeyID string `json:"accessKeyId"`
	UserName    string `json:"userName"`
	Status      string `json:"status"` // Active, Inactive, deleted, absent
}

// Check is one expectation and whether it held.
type Check struct {
	What   string `json:"what"`
	Passed bool   `json:"passed"`
	Detail string `json:"detail,omitempty"`
}
