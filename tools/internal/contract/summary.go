package contract

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
)

// operation is one operation of the OpenAPI document.
type operation struct {
	ID, Method, Path, Owner string
	// ErrorPath says the document lists a 4xx for it (other than 413,
	// 429 and 431, which no ordinary request meets): the run must send
	// it at least one request that should fail.
	ErrorPath bool
	re        *regexp.Regexp
}

// readOperations lists the document's operations.
func readOperations(raw []byte) ([]operation, error) {
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("read the OpenAPI document: %w", err)
	}
	var ops []operation
	for path, item := range doc.Paths {
		for method, rawOp := range item {
			if !slices.Contains([]string{"get", "put", "post", "patch", "delete", "head", "options"}, method) {
				continue
			}
			var o struct {
				ID        string                     `json:"operationId"`
				Owner     string                     `json:"x-owner"`
				Responses map[string]json.RawMessage `json:"responses"`
			}
			if err := json.Unmarshal(rawOp, &o); err != nil {
				return nil, fmt.Errorf("operation %s %s: %w", method, path, err)
			}
			op := operation{ID: o.ID, Method: strings.ToUpper(method), Path: path, Owner: cmp.Or(o.Owner, "?")}
			for code := range o.Responses {
				if strings.HasPrefix(code, "4") && !slices.Contains([]string{"413", "429", "431"}, code) {
					op.ErrorPath = true
				}
			}
			pattern := regexp.QuoteMeta(path)
			pattern = regexp.MustCompile(`\\\{[^/]+?\\\}`).ReplaceAllString(pattern, `[^/]+`)
			op.re = regexp.MustCompile("^" + pattern + "$")
			ops = append(ops, op)
		}
	}
	// Literal paths before templated ones, so /exports/audit-logs is not
	// taken for /exports/{entity}.
	slices.SortFunc(ops, func(a, b operation) int {
		return cmp.Or(cmp.Compare(strings.Count(a.Path, "{"), strings.Count(b.Path, "{")), cmp.Compare(a.Path, b.Path), cmp.Compare(a.Method, b.Method))
	})
	return ops, nil
}

// match is the operation a request is for, or nil.
func match(ops []operation, method, path string) *operation {
	for i := range ops {
		if ops[i].Method == method && ops[i].re.MatchString(path) {
			return &ops[i]
		}
	}
	return nil
}

// report is the part of newman's JSON report the summary reads.
type report struct {
	Run struct {
		Stats map[string]struct {
			Failed int `json:"failed"`
		} `json:"stats"`
		Executions []struct {
			Item struct {
				Name string `json:"name"`
			} `json:"item"`
			Request struct {
				Method string `json:"method"`
				URL    struct {
					Path  []string `json:"path"`
					Query []struct {
						Key      string `json:"key"`
						Value    string `json:"value"`
						Disabled bool   `json:"disabled"`
					} `json:"query"`
				} `json:"url"`
				Body struct {
					Raw string `json:"raw"`
				} `json:"body"`
			} `json:"request"`
			Response struct {
				Code int `json:"code"`
			} `json:"response"`
			RequestError *struct {
				Message string `json:"message"`
			} `json:"requestError"`
			Assertions []struct {
				Assertion string `json:"assertion"`
				Error     *struct {
					Message string `json:"message"`
				} `json:"error"`
			} `json:"assertions"`
		} `json:"executions"`
	} `json:"run"`
}

// Failure is one request the tester found disagreeing with the document.
type Failure struct {
	Operation, Owner string
	// Test is the collection's name for the request: the operation's
	// summary, and [variation] for an error path.
	Test    string
	Request string // METHOD path?query and body
	Status  int
	// Messages are the failed assertions (or the request error).
	Messages []string
}

// Summary is the outcome of one run.
type Summary struct {
	Operations, Requests, Assertions, FailedAssertions int
	// ScriptErrors counts pre-request and test scripts that threw (a
	// broken TOTP script, say): their assertions never ran.
	ScriptErrors int
	// Uncovered says, per operation, what the run did not send it.
	Uncovered map[string]string
	Failures  []Failure
}

// Summarize reads newman's JSON report against the document's operations.
func Summarize(doc, newmanReport []byte) (Summary, error) {
	ops, err := readOperations(doc)
	if err != nil {
		return Summary{}, err
	}
	var r report
	if err := json.Unmarshal(newmanReport, &r); err != nil {
		return Summary{}, fmt.Errorf("read newman's report: %w", err)
	}
	s := Summary{Operations: len(ops), Uncovered: map[string]string{}}
	s.ScriptErrors = r.Run.Stats["prerequestScripts"].Failed + r.Run.Stats["testScripts"].Failed
	happy, errorPath := map[string]bool{}, map[string]bool{}
	for _, e := range r.Run.Executions {
		s.Requests++
		path := "/" + strings.Join(e.Request.URL.Path, "/")
		op := match(ops, e.Request.Method, path)
		id, owner := "(no operation)", "document"
		if op != nil {
			id, owner = op.ID, op.Owner
			if strings.HasSuffix(e.Item.Name, "]") {
				errorPath[id] = true
			} else {
				happy[id] = true
			}
		}
		f := Failure{Operation: id, Owner: owner, Test: e.Item.Name, Status: e.Response.Code, Request: e.Request.Method + " " + path}
		var q []string
		for _, p := range e.Request.URL.Query {
			if !p.Disabled {
				q = append(q, p.Key+"="+p.Value)
			}
		}
		if len(q) > 0 {
			f.Request += "?" + strings.Join(q, "&")
		}
		if b := strings.Join(strings.Fields(e.Request.Body.Raw), " "); b != "" {
			f.Request += " " + b
		}
		if e.RequestError != nil {
			f.Messages = append(f.Messages, "request error: "+e.RequestError.Message)
		}
		for _, a := range e.Assertions {
			s.Assertions++
			if a.Error != nil {
				s.FailedAssertions++
				f.Messages = append(f.Messages, a.Error.Message)
			}
		}
		if len(f.Messages) > 0 {
			s.Failures = append(s.Failures, f)
		}
	}
	for _, op := range ops {
		switch {
		case !happy[op.ID]:
			s.Uncovered[op.ID] = "no happy-path request"
		case op.ErrorPath && !errorPath[op.ID]:
			s.Uncovered[op.ID] = "no error-path request (the document lists a 4xx)"
		}
	}
	slices.SortStableFunc(s.Failures, func(a, b Failure) int {
		return cmp.Or(cmp.Compare(a.Owner, b.Owner), cmp.Compare(a.Operation, b.Operation), cmp.Compare(len(a.Request), len(b.Request)))
	})
	return s, nil
}

// Err is nil when every request passed and every operation was covered.
func (s Summary) Err() error {
	if s.FailedAssertions == 0 && len(s.Failures) == 0 && len(s.Uncovered) == 0 && s.ScriptErrors == 0 {
		return nil
	}
	return fmt.Errorf("%d failed assertions in %d requests, %d operations not fully covered, %d script errors", s.FailedAssertions, len(s.Failures), len(s.Uncovered), s.ScriptErrors)
}

// Print writes the summary: failures grouped by owner and operation,
// shortest request first, then what was not covered, then the counts.
func (s Summary) Print(w io.Writer) {
	owner, op := "", ""
	for _, f := range s.Failures {
		if f.Owner != owner {
			owner, op = f.Owner, ""
			fmt.Fprintf(w, "\n== %s\n", owner)
		}
		if f.Operation != op {
			op = f.Operation
			fmt.Fprintf(w, "-- %s\n", op)
		}
		fmt.Fprintf(w, "   %s → %d  (%s)\n", truncate(f.Request, 300), f.Status, f.Test)
		for _, m := range f.Messages {
			fmt.Fprintf(w, "      %s\n", truncate(strings.Join(strings.Fields(m), " "), 400))
		}
	}
	if len(s.Uncovered) > 0 {
		fmt.Fprintln(w, "\n== not covered")
		for _, id := range slices.Sorted(maps.Keys(s.Uncovered)) {
			fmt.Fprintf(w, "   %s: %s\n", id, s.Uncovered[id])
		}
	}
	covered := s.Operations - len(s.Uncovered)
	fmt.Fprintf(w, "\ncontract: %d/%d operations covered, %d requests, %d assertions, %d failed (in %d requests), %d script errors\n",
		covered, s.Operations, s.Requests, s.Assertions, s.FailedAssertions, len(s.Failures), s.ScriptErrors)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// readReport reads newman's report and the document and summarizes them.
func readReport(docPath, reportPath string) (Summary, error) {
	doc, err := os.ReadFile(docPath)
	if err != nil {
		return Summary{}, err
	}
	rep, err := os.ReadFile(reportPath)
	if err != nil {
		return Summary{}, errors.Join(errors.New("newman's report"), err)
	}
	return Summarize(doc, rep)
}
