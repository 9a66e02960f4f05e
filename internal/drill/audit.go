package drill

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"html"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// produced is everything a scenario left behind, by kind: what the drill
// shows, every message and event, every execution's full history (each
// Lambda's input and output), the ledger, the API call log. The handlers'
// logs go to slog's default logger, which the caller captures. Options.Audit
// searches it for secrets.
func (st *stack) produced(ctx context.Context, oc Outcome) (map[string][]byte, error) {
	out := map[string][]byte{}
	// As text, not base64: a secret in them must be findable.
	var deliveries []string
	for _, d := range st.aws.Deliveries() {
		deliveries = append(deliveries, d.Rule+" "+string(d.Event)+" "+d.Err)
	}
	for kind, v := range map[string]any{
		"drill outcome": oc, "alerts": st.aws.Published(), "emails": st.aws.Emails(), "eventbridge deliveries": deliveries,
		"lambda invocations": st.aws.Invocations(), "ledger items": st.aws.Items(ledgerTable), "api calls": st.aws.Calls(),
		"intake results": st.matched,
	} {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("encode the %s: %w", kind, err)
		}
		out[kind] = b
	}
	if st.org != nil {
		// The members' own: their call logs and forwarded events.
		for _, id := range st.org.AccountIDs() {
			if a := st.org.Account(id); a != st.aws {
				b, err := json.Marshal(map[string]any{"calls": a.Calls(), "deliveries": a.Deliveries()})
				if err != nil {
					return nil, fmt.Errorf("encode account %s: %w", id, err)
				}
				out["account "+id] = b
			}
		}
	}
	api := sfn.NewFromConfig(st.cfg)
	for _, x := range oc.Executions {
		b, err := fullHistory(ctx, api, x)
		if err != nil {
			return nil, err
		}
		out["execution history "+x.Name] = b
	}
	return out, nil
}

// reportText is the HTML report of one outcome with its escapes undone: a
// secret access key's '+' is written &#43; in HTML, and the search for it
// must still find it.
func reportText(root string, oc Outcome) ([]byte, error) {
	r, err := LoadReport(root, "audit", []Outcome{oc}, time.Time{})
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := WriteReport(&b, r); err != nil {
		return nil, err
	}
	return []byte(html.UnescapeString(b.String())), nil
}

// fullHistory is an execution's history with every state's input and
// output, as JSON.
func fullHistory(ctx context.Context, api sfn.GetExecutionHistoryAPIClient, x ExecutionView) ([]byte, error) {
	var events []sfntypes.HistoryEvent
	p := sfn.NewGetExecutionHistoryPaginator(api, &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(x.Arn), IncludeExecutionData: aws.Bool(true)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("history of %s: %w", x.Name, err)
		}
		events = append(events, page.Events...)
	}
	return json.Marshal(events)
}
