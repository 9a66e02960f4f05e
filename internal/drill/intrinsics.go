package drill

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// intrinsics resolves the CloudFormation intrinsic functions a template
// keywarden synthesizes uses outside its functions' code: Ref, Fn::Sub (the
// string form), Fn::Join and Fn::GetAtt (an attribute the drill was given,
// "<logical id>.<attribute>"). values holds the drill's own value for each
// name: parameters, pseudo parameters (AWS::AccountId, AWS::Partition,
// AWS::Region) and resources. A name the drill has no value for is an
// error, never a literal left in a policy.
type intrinsics map[string]string

// resolve returns v, decoded JSON, with every intrinsic replaced by its
// value.
func (in intrinsics) resolve(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 {
			for fn, arg := range x {
				if r, ok, err := in.call(fn, arg); ok || err != nil {
					return r, err
				}
			}
		}
		out := make(map[string]any, len(x))
		for _, k := range sortedKeys(x) {
			r, err := in.resolve(x[k])
			if err != nil {
				return nil, err
			}
			out[k] = r
		}
		return out, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := in.resolve(e)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	}
	return v, nil
}

// resolveRaw is resolve on raw JSON.
func (in intrinsics) resolveRaw(raw json.RawMessage) (any, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, err
	}
	return in.resolve(v)
}

// resolveJSON is resolve on raw JSON, returning JSON.
func (in intrinsics) resolveJSON(raw json.RawMessage) (string, error) {
	r, err := in.resolveRaw(raw)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(r)
	return string(b), err
}

// resolveString resolves raw JSON that must come out a string (an ARN, a
// name).
func (in intrinsics) resolveString(raw json.RawMessage) (string, error) {
	r, err := in.resolveRaw(raw)
	if err != nil {
		return "", err
	}
	s, ok := r.(string)
	if !ok {
		return "", fmt.Errorf("%s does not resolve to a string", raw)
	}
	return s, nil
}

var subVariable = regexp.MustCompile(`\$\{([^}!][^}]*)\}`)

// call resolves one intrinsic function; ok is false when fn is none.
func (in intrinsics) call(fn string, arg any) (any, bool, error) {
	switch fn {
	case "Ref":
		name, _ := arg.(string)
		v, err := in.value(name)
		return v, true, err
	case "Fn::GetAtt":
		parts, _ := arg.([]any)
		if len(parts) != 2 {
			return nil, true, fmt.Errorf("Fn::GetAtt %v: want [logical id, attribute]", arg)
		}
		v, err := in.value(fmt.Sprint(parts[0]) + "." + fmt.Sprint(parts[1]))
		return v, true, err
	case "Fn::Sub":
		tpl, ok := arg.(string)
		if !ok {
			return nil, true, fmt.Errorf("Fn::Sub with variables is not resolved by the drill")
		}
		var missing error
		out := subVariable.ReplaceAllStringFunc(tpl, func(m string) string {
			v, err := in.value(m[2 : len(m)-1])
			if err != nil && missing == nil {
				missing = err
			}
			return v
		})
		return out, true, missing
	case "Fn::Join":
		parts, _ := arg.([]any)
		if len(parts) != 2 {
			return nil, true, fmt.Errorf("Fn::Join %v: want [separator, list]", arg)
		}
		list, _ := parts[1].([]any)
		var items []string
		for _, e := range list {
			r, err := in.resolve(e)
			if err != nil {
				return nil, true, err
			}
			s, ok := r.(string)
			if !ok {
				return nil, true, fmt.Errorf("Fn::Join item %v is not a string", e)
			}
			items = append(items, s)
		}
		return strings.Join(items, fmt.Sprint(parts[0])), true, nil
	}
	if strings.HasPrefix(fn, "Fn::") {
		return nil, true, fmt.Errorf("%s is not resolved by the drill", fn)
	}
	return nil, false, nil
}

func (in intrinsics) value(name string) (string, error) {
	v, ok := in[name]
	if !ok {
		known := make([]string, 0, len(in))
		for k := range in {
			known = append(known, k)
		}
		sort.Strings(known)
		return "", fmt.Errorf("the template refers to %s, which the drill has no value for (it has %s)", name, strings.Join(known, ", "))
	}
	return v, nil
}
