package sfnlocal

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// Service is a local Step Functions endpoint for one state machine: the
// operations keywarden's intake and the drill's --aws mode call, in the
// awsJson1_0 protocol the SDK speaks. Executions run in the background.
type Service struct {
	Runner          Runner
	StateMachineArn string
	// Now stamps executions; time.Now when nil.
	Now func() time.Time

	mu    sync.Mutex
	execs map[string]*Execution // by name
	order []string
	wg    sync.WaitGroup
	// RunErrors are failures to run the interpreter at all.
	runErrors []error
}

// ExecutionArn is the ARN of the named execution.
func (s *Service) ExecutionArn(name string) string {
	return strings.Replace(s.StateMachineArn, ":stateMachine:", ":execution:", 1) + ":" + name
}

// Wait blocks until every started execution has finished, and returns any
// failure to run the interpreter.
func (s *Service) Wait() error {
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.runErrors) > 0 {
		return fmt.Errorf("local Step Functions: %v", s.runErrors)
	}
	return nil
}

// Executions returns the executions in the order they were started.
func (s *Service) Executions() []Execution {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Execution, 0, len(s.order))
	for _, n := range s.order {
		out = append(out, *s.execs[n])
	}
	return out
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// StartExecution starts a run unless the name was used before; it reports
// whether it started one.
func (s *Service) StartExecution(name string, input json.RawMessage) (Execution, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.execs == nil {
		s.execs = map[string]*Execution{}
	}
	if e, ok := s.execs[name]; ok {
		return *e, false
	}
	arn := s.ExecutionArn(name)
	start := s.now()
	e := &Execution{Name: name, Arn: arn, Input: input, Status: "RUNNING", StartDate: start.UTC()}
	s.execs[name] = e
	s.order = append(s.order, name)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		done, err := s.Runner.Run(context.Background(), arn, name, input, start)
		s.mu.Lock()
		defer s.mu.Unlock()
		if err != nil {
			s.runErrors = append(s.runErrors, err)
			done.Status, done.Error, done.Cause = "FAILED", "States.Runtime", err.Error()
		}
		*e = done
	}()
	return *e, true
}

// find returns the execution, or the child execution of a Map Run, with
// this ARN, and the top-level execution holding it.
func (s *Service) find(arn string) (e, parent Execution, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.execs {
		if e, ok := p.find(arn); ok {
			return e, *p, true
		}
	}
	return Execution{}, Execution{}, false
}

// findMapRun returns the Map Run with this ARN and the top-level execution
// holding it.
func (s *Service) findMapRun(arn string) (MapRun, Execution, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.execs {
		for _, m := range p.MapRuns {
			if m.Arn == arn {
				return m, *p, true
			}
		}
	}
	return MapRun{}, Execution{}, false
}

func epoch(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// ServeHTTP answers the awsJson1_0 operations.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AWSStepFunctions.")
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		writeError(w, 400, "SerializationException", err.Error())
		return
	}
	var in struct {
		StateMachineArn string          `json:"stateMachineArn"`
		ExecutionArn    string          `json:"executionArn"`
		Name            string          `json:"name"`
		Input           string          `json:"input"`
		StatusFilter    string          `json:"statusFilter"`
		MapRunArn       string          `json:"mapRunArn"`
		ReverseOrder    bool            `json:"reverseOrder"`
		Extra           json.RawMessage `json:"-"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		writeError(w, 400, "SerializationException", err.Error())
		return
	}
	switch op {
	case "StartExecution":
		if in.StateMachineArn != s.StateMachineArn {
			writeError(w, 400, "StateMachineDoesNotExist", "State Machine Does Not Exist: '"+in.StateMachineArn+"'")
			return
		}
		if in.Name == "" || len(in.Name) > 80 {
			writeError(w, 400, "InvalidName", "Invalid Name: '"+in.Name+"'")
			return
		}
		if !json.Valid([]byte(in.Input)) {
			writeError(w, 400, "InvalidExecutionInput", "Invalid State Machine Execution Input")
			return
		}
		e, started := s.StartExecution(in.Name, json.RawMessage(in.Input))
		if !started {
			writeError(w, 400, "ExecutionAlreadyExists", "Execution Already Exists: '"+e.Arn+"'")
			return
		}
		writeJSON(w, map[string]any{"executionArn": e.Arn, "startDate": epoch(e.StartDate)})
	case "DescribeExecution":
		e, _, ok := s.find(in.ExecutionArn)
		if !ok {
			writeError(w, 400, "ExecutionDoesNotExist", "Execution Does Not Exist: '"+in.ExecutionArn+"'")
			return
		}
		out := map[string]any{
			"executionArn": e.Arn, "stateMachineArn": s.StateMachineArn, "name": e.Name, "status": e.Status,
			"startDate": epoch(e.StartDate), "input": string(e.Input),
		}
		if e.Status != "RUNNING" {
			out["stopDate"] = epoch(e.StopDate)
		}
		if e.Output != nil {
			out["output"] = string(e.Output)
		}
		if e.Error != "" {
			out["error"], out["cause"] = e.Error, e.Cause
		}
		if e.MapRunArn != "" {
			out["mapRunArn"] = e.MapRunArn
		}
		writeJSON(w, out)
	case "ListExecutions":
		var list []map[string]any
		execs := s.Executions()
		if in.MapRunArn != "" {
			// A Map Run's child executions, listed by its ARN as in AWS.
			_, parent, ok := s.findMapRun(in.MapRunArn)
			if !ok {
				writeError(w, 400, "ResourceNotFound", "Map Run Does Not Exist: '"+in.MapRunArn+"'")
				return
			}
			execs = nil
			for _, c := range parent.Children {
				if c.MapRunArn == in.MapRunArn {
					execs = append(execs, c)
				}
			}
		}
		for _, e := range execs {
			if in.StatusFilter != "" && e.Status != in.StatusFilter {
				continue
			}
			item := map[string]any{"executionArn": e.Arn, "stateMachineArn": s.StateMachineArn, "name": e.Name, "status": e.Status, "startDate": epoch(e.StartDate)}
			if e.Status != "RUNNING" {
				item["stopDate"] = epoch(e.StopDate)
			}
			list = append(list, item)
		}
		// Newest first, as AWS lists them.
		sort.SliceStable(list, func(i, j int) bool { return list[i]["startDate"].(float64) > list[j]["startDate"].(float64) })
		if list == nil {
			list = []map[string]any{}
		}
		writeJSON(w, map[string]any{"executions": list})
	case "GetExecutionHistory":
		e, _, ok := s.find(in.ExecutionArn)
		if !ok {
			writeError(w, 400, "ExecutionDoesNotExist", "Execution Does Not Exist: '"+in.ExecutionArn+"'")
			return
		}
		events := History(e)
		if in.ReverseOrder {
			for i, j := 0, len(events)-1; i < j; i, j = i+1, j-1 {
				events[i], events[j] = events[j], events[i]
			}
		}
		writeJSON(w, map[string]any{"events": events})
	case "ListMapRuns":
		_, parent, ok := s.find(in.ExecutionArn)
		if !ok {
			writeError(w, 400, "ExecutionDoesNotExist", "Execution Does Not Exist: '"+in.ExecutionArn+"'")
			return
		}
		runs := []map[string]any{}
		for _, m := range parent.MapRuns {
			if m.ExecutionArn == in.ExecutionArn {
				runs = append(runs, map[string]any{"executionArn": m.ExecutionArn, "mapRunArn": m.Arn, "stateMachineArn": s.StateMachineArn, "startDate": epoch(m.StartDate), "stopDate": epoch(m.StopDate)})
			}
		}
		writeJSON(w, map[string]any{"mapRuns": runs})
	case "DescribeMapRun":
		m, parent, ok := s.findMapRun(in.MapRunArn)
		if !ok {
			writeError(w, 400, "ResourceNotFound", "Map Run Does Not Exist: '"+in.MapRunArn+"'")
			return
		}
		items, execs := parent.MapRunCounts(m.Arn)
		writeJSON(w, map[string]any{
			"mapRunArn": m.Arn, "executionArn": m.ExecutionArn, "status": m.Status,
			"startDate": epoch(m.StartDate), "stopDate": epoch(m.StopDate),
			"maxConcurrency": m.MaxConcurrency, "toleratedFailurePercentage": m.ToleratedFailurePercentage,
			"toleratedFailureCount": m.ToleratedFailureCount, "itemCounts": items, "executionCounts": execs,
		})
	default:
		writeError(w, 400, "UnknownOperationException", "local Step Functions does not serve "+op)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-Errortype", code)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
}
