package drill

import (
	"context"
	"strings"
	"testing"
)

// --aws follows executions through ListExecutions, DescribeExecution and
// GetExecutionHistory; here the account is the local one.
func TestRunAWSFollowsExecutions(t *testing.T) {
	o := options(t)
	ctx := context.Background()
	st, err := newStack(ctx, o, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	outcomes, err := RunAWS(ctx, st.cfg, AWSOptions{Root: root, StateMachineArn: st.machine,
		Files: []string{"events/exposed-key.json", "events/exposed-key-malformed.json"}, Poll: 50_000_000})
	if err != nil {
		t.Fatal(err)
	}
	if len(outcomes) != 2 {
		t.Fatalf("%d outcomes", len(outcomes))
	}
	report(t, outcomes[0])
	x := outcomes[0].Executions
	if len(x) != 1 || x[0].Name != exposedName || len(x[0].States) != 10 {
		t.Errorf("exposed-key: %d executions, first %s", len(x), names(x))
	}
	// The malformed payload's execution fails, so --aws reports a failure.
	bad := outcomes[1]
	if bad.Passed || len(bad.Executions) != 1 || bad.Executions[0].Error != "InvalidEvent" {
		t.Errorf("malformed payload: passed=%v executions %s", bad.Passed, names(bad.Executions))
	}
	if _, err := RunAWS(ctx, st.cfg, AWSOptions{Root: root}); err == nil {
		t.Error("RunAWS without a state machine ARN must fail")
	}
}

func names(views []ExecutionView) string {
	var out []string
	for _, v := range views {
		out = append(out, v.Name+" "+v.Status+" "+v.Error)
	}
	return strings.Join(out, "; ")
}
