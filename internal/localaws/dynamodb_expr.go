package localaws

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// DynamoDB expressions: a tokenizer, a recursive-descent parser and an
// evaluator for exactly this subset, everything else being refused with a
// ValidationException that names what is not supported:
//
//	condition  := and { OR and }
//	and        := not { AND not }
//	not        := NOT not | primary
//	primary    := "(" condition ")" | function | operand comparator operand
//	function   := attribute_exists(path) | attribute_not_exists(path)
//	            | begins_with(path, operand)
//	comparator := = | <> | < | <= | > | >=
//	operand    := path | :value
//	path       := name | #name          (top-level attributes only)
//
//	update     := SET action {, action} [REMOVE path {, path}]  (either order)
//	action     := path = operand | path = if_not_exists(path, operand)
//
// A key condition is a condition of the form "pk = :v" optionally AND-ed
// with one sort key condition (=, <, <=, >, >= or begins_with).
// Keywords are case-insensitive, function names are not, as in DynamoDB.
// Not supported: nested paths (a.b, a[0]), BETWEEN, IN, size, contains,
// attribute_type, arithmetic, list_append, ADD and DELETE.

//go:embed dynamodb_reserved_words.txt
var reservedWordsText string

// reservedWords are DynamoDB's reserved words (AWS's published list, as moto
// also carries it), upper case. A bare attribute name in an expression may
// not be one; a #placeholder must stand in for it.
var reservedWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(reservedWordsText) {
		m[strings.ToUpper(w)] = true
	}
	return m
}()

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tName  // #placeholder
	tValue // :placeholder
	tLParen
	tRParen
	tComma
	tCmp // = <> < <= > >=
	tOther
)

type token struct {
	kind tokKind
	text string
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentPart(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }

// tokenize splits an expression; characters outside the grammar become
// tOther tokens, which the parser names in its error.
func tokenize(expr string) []token {
	var toks []token
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')' || c == ',':
			kind := map[byte]tokKind{'(': tLParen, ')': tRParen, ',': tComma}[c]
			toks = append(toks, token{kind, string(c)})
			i++
		case c == '<' || c == '>' || c == '=':
			op := string(c)
			if i+1 < len(expr) && (c == '<' && (expr[i+1] == '>' || expr[i+1] == '=') || c == '>' && expr[i+1] == '=') {
				op = expr[i : i+2]
			}
			toks = append(toks, token{tCmp, op})
			i += len(op)
		case c == '#' || c == ':':
			j := i + 1
			for j < len(expr) && isIdentPart(expr[j]) {
				j++
			}
			kind := tName
			if c == ':' {
				kind = tValue
			}
			if j == i+1 {
				kind = tOther
			}
			toks = append(toks, token{kind, expr[i:j]})
			i = j
		case isIdentStart(c):
			j := i + 1
			for j < len(expr) && isIdentPart(expr[j]) {
				j++
			}
			toks = append(toks, token{tIdent, expr[i:j]})
			i = j
		default:
			j := i + 1
			for j < len(expr) && !isIdentPart(expr[j]) && !strings.ContainsRune(" \t\n\r()<>=,#:", rune(expr[j])) {
				j++
			}
			toks = append(toks, token{tOther, expr[i:j]})
			i = j
		}
	}
	return append(toks, token{tEOF, "<EOF>"})
}

// exprContext resolves the #name and :value placeholders of one request's
// expressions and remembers which were used, since DynamoDB refuses unused
// ones.
type exprContext struct {
	names      map[string]string
	values     map[string]attrValue
	usedNames  map[string]bool
	usedValues map[string]bool
}

func newExprContext(names map[string]string, rawValues map[string]json.RawMessage, namesGiven, valuesGiven bool) (*exprContext, *awsError) {
	if namesGiven && len(names) == 0 {
		return nil, ddbValidation("ExpressionAttributeNames must not be empty")
	}
	if valuesGiven && len(rawValues) == 0 {
		return nil, ddbValidation("ExpressionAttributeValues must not be empty")
	}
	ctx := &exprContext{names: names, values: map[string]attrValue{}, usedNames: map[string]bool{}, usedValues: map[string]bool{}}
	for _, k := range sortedKeys(names) {
		if len(k) < 2 || k[0] != '#' {
			return nil, ddbValidation(fmt.Sprintf("ExpressionAttributeNames contains invalid key: Syntax error; key: %q", k))
		}
	}
	for _, k := range sortedKeys(rawValues) {
		if len(k) < 2 || k[0] != ':' {
			return nil, ddbValidation(fmt.Sprintf("ExpressionAttributeValues contains invalid key: Syntax error; key: %q", k))
		}
		v, aerr := parseAttrValue(rawValues[k])
		if aerr != nil {
			return nil, aerr
		}
		ctx.values[k] = v
	}
	return ctx, nil
}

// checkUnused refuses placeholders no expression of the request used.
func (c *exprContext) checkUnused() *awsError {
	var unused []string
	for _, k := range sortedKeys(c.values) {
		if !c.usedValues[k] {
			unused = append(unused, k)
		}
	}
	if len(unused) > 0 {
		return ddbValidation(fmt.Sprintf("Value provided in ExpressionAttributeValues unused in expressions: keys: {%s}", strings.Join(unused, ", ")))
	}
	for _, k := range sortedKeys(c.names) {
		if !c.usedNames[k] {
			unused = append(unused, k)
		}
	}
	if len(unused) > 0 {
		return ddbValidation(fmt.Sprintf("Value provided in ExpressionAttributeNames unused in expressions: keys: {%s}", strings.Join(unused, ", ")))
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// operand is an attribute of the item (path) or a literal value.
type operand struct {
	isPath bool
	path   string
	value  attrValue
}

func (o operand) resolve(it item) (attrValue, bool) {
	if !o.isPath {
		return o.value, true
	}
	v, ok := it[o.path]
	return v, ok
}

// condNode is a parsed condition.
type condNode interface {
	eval(it item) bool
}

type (
	orCond    struct{ l, r condNode }
	andCond   struct{ l, r condNode }
	notCond   struct{ c condNode }
	parenCond struct{ c condNode }
	cmpCond   struct {
		op   string
		l, r operand
	}
	existsCond struct {
		path   string
		exists bool
	}
	beginsCond struct {
		l, prefix operand
	}
)

func (c orCond) eval(it item) bool    { return c.l.eval(it) || c.r.eval(it) }
func (c andCond) eval(it item) bool   { return c.l.eval(it) && c.r.eval(it) }
func (c notCond) eval(it item) bool   { return !c.c.eval(it) }
func (c parenCond) eval(it item) bool { return c.c.eval(it) }

func (c existsCond) eval(it item) bool {
	_, ok := it[c.path]
	return ok == c.exists
}

// eval compares as DynamoDB does: a missing attribute equals nothing and
// differs from any value; ordering holds only between two values of the
// same type N, S or B.
func (c cmpCond) eval(it item) bool {
	l, lok := c.l.resolve(it)
	r, rok := c.r.resolve(it)
	switch c.op {
	case "=":
		return lok && rok && equalValues(l, r)
	case "<>":
		if !lok || !rok {
			return lok != rok
		}
		return !equalValues(l, r)
	}
	if !lok || !rok {
		return false
	}
	cmp, ok := compareValues(l, r)
	if !ok {
		return false
	}
	switch c.op {
	case "<":
		return cmp < 0
	case "<=":
		return cmp <= 0
	case ">":
		return cmp > 0
	default: // >=
		return cmp >= 0
	}
}

func (c beginsCond) eval(it item) bool {
	v, ok := c.l.resolve(it)
	p, pok := c.prefix.resolve(it)
	if !ok || !pok || v.typ != p.typ {
		return false
	}
	switch v.typ {
	case "S":
		return strings.HasPrefix(v.str, p.str)
	case "B":
		return strings.HasPrefix(string(v.bin), string(p.bin))
	}
	return false
}

// updateExpr is a parsed update expression.
type updateExpr struct {
	sets    []setAction
	removes []string
}

type setAction struct {
	path string
	// value, or, when ifNotExists is set, the item's ifNotExists attribute
	// if present and value otherwise.
	ifNotExists string
	value       operand
}

// exprError carries a ValidationException out of the parser.
type exprError struct{ aerr *awsError }

type exprParser struct {
	what string // ConditionExpression, KeyConditionExpression, UpdateExpression
	toks []token
	pos  int
	ctx  *exprContext
}

func (p *exprParser) fail(format string, args ...any) {
	panic(exprError{ddbValidation("Invalid " + p.what + ": " + fmt.Sprintf(format, args...))})
}

func (p *exprParser) unsupported(what string) {
	panic(exprError{ddbValidation(fmt.Sprintf("Invalid %s: localaws does not support %s", p.what, what))})
}

func (p *exprParser) peek() token { return p.toks[p.pos] }

func (p *exprParser) peekAt(n int) token {
	if p.pos+n < len(p.toks) {
		return p.toks[p.pos+n]
	}
	return token{tEOF, "<EOF>"}
}

func (p *exprParser) next() token {
	t := p.toks[p.pos]
	if t.kind != tEOF {
		p.pos++
	}
	return t
}

func (p *exprParser) syntaxError(t token) {
	near := ""
	for i := max(0, p.pos-1); i < len(p.toks) && i <= p.pos+1; i++ {
		if p.toks[i].kind != tEOF {
			near += p.toks[i].text + " "
		}
	}
	p.fail("Syntax error; token: %q, near: %q", t.text, strings.TrimSpace(near))
}

func (p *exprParser) expect(kind tokKind) token {
	t := p.next()
	if t.kind != kind {
		p.pos--
		p.syntaxError(t)
	}
	return t
}

func (p *exprParser) isKeyword(t token, word string) bool {
	return t.kind == tIdent && strings.EqualFold(t.text, word)
}

// parse runs fn, turning the parser's panics into a ValidationException.
func (p *exprParser) parse(fn func()) (aerr *awsError) {
	defer func() {
		if v := recover(); v != nil {
			e, ok := v.(exprError)
			if !ok {
				panic(v)
			}
			aerr = e.aerr
		}
	}()
	if p.peek().kind == tEOF {
		p.fail("The expression can not be empty;")
	}
	fn()
	if t := p.peek(); t.kind != tEOF {
		p.syntaxError(t)
	}
	return nil
}

func parseCondition(what, expr string, ctx *exprContext) (condNode, *awsError) {
	p := &exprParser{what: what, toks: tokenize(expr), ctx: ctx}
	var c condNode
	aerr := p.parse(func() { c = p.or() })
	return c, aerr
}

func (p *exprParser) or() condNode {
	c := p.and()
	for p.isKeyword(p.peek(), "OR") {
		p.next()
		c = orCond{c, p.and()}
	}
	return c
}

func (p *exprParser) and() condNode {
	c := p.not()
	for p.isKeyword(p.peek(), "AND") {
		p.next()
		c = andCond{c, p.not()}
	}
	return c
}

func (p *exprParser) not() condNode {
	if p.isKeyword(p.peek(), "NOT") {
		p.next()
		return notCond{p.not()}
	}
	return p.primary()
}

func (p *exprParser) primary() condNode {
	t := p.peek()
	if t.kind == tLParen {
		p.next()
		inner := p.or()
		p.expect(tRParen)
		if _, ok := inner.(parenCond); ok {
			p.fail("The expression has redundant parentheses;")
		}
		return parenCond{inner}
	}
	if t.kind == tIdent && p.peekAt(1).kind == tLParen {
		return p.function()
	}
	l := p.operand()
	op := p.next()
	switch {
	case op.kind == tCmp:
	case p.isKeyword(op, "BETWEEN"), p.isKeyword(op, "IN"):
		p.unsupported("the " + strings.ToUpper(op.text) + " operator")
	default:
		p.pos--
		p.syntaxError(op)
	}
	r := p.operand()
	if op.text != "=" && op.text != "<>" {
		for _, o := range []operand{l, r} {
			if !o.isPath && o.value.typ != "N" && o.value.typ != "S" && o.value.typ != "B" {
				p.fail("Incorrect operand type for operator or function; operator or function: %s, operand type: %s", op.text, o.value.typ)
			}
		}
	}
	return cmpCond{op: op.text, l: l, r: r}
}

var unsupportedFunctions = map[string]bool{"size": true, "contains": true, "attribute_type": true, "list_append": true, "if_not_exists": true}

func (p *exprParser) function() condNode {
	name := p.next().text
	p.expect(tLParen)
	switch name {
	case "attribute_exists", "attribute_not_exists":
		path := p.path()
		p.expect(tRParen)
		return existsCond{path: path, exists: name == "attribute_exists"}
	case "begins_with":
		l := operand{isPath: true, path: p.path()}
		p.expect(tComma)
		prefix := p.operand()
		p.expect(tRParen)
		if !prefix.isPath && prefix.value.typ != "S" && prefix.value.typ != "B" {
			p.fail("Incorrect operand type for operator or function; operator or function: begins_with, operand type: %s", prefix.value.typ)
		}
		return beginsCond{l: l, prefix: prefix}
	}
	if unsupportedFunctions[name] {
		p.unsupported("the function " + name + " here")
	}
	p.fail("Invalid function name; function: %s", name)
	return nil
}

// operand reads a path or a :value.
func (p *exprParser) operand() operand {
	t := p.peek()
	switch t.kind {
	case tValue:
		p.next()
		v, ok := p.ctx.values[t.text]
		if !ok {
			p.fail("An expression attribute value used in expression is not defined; attribute value: %s", t.text)
		}
		p.ctx.usedValues[t.text] = true
		return operand{value: v}
	case tIdent:
		if p.peekAt(1).kind == tLParen {
			p.unsupported("the function " + t.text + " as an operand")
		}
	}
	return operand{isPath: true, path: p.path()}
}

// path reads a top-level attribute name: a bare name or a #placeholder.
func (p *exprParser) path() string {
	t := p.next()
	var name string
	switch t.kind {
	case tName:
		n, ok := p.ctx.names[t.text]
		if !ok {
			p.fail("An expression attribute name used in the document path is not defined; attribute name: %s", t.text)
		}
		p.ctx.usedNames[t.text] = true
		name = n
	case tIdent:
		if reservedWords[strings.ToUpper(t.text)] {
			p.fail("Attribute name is a reserved keyword; reserved keyword: %s", t.text)
		}
		name = t.text
	default:
		p.pos--
		p.syntaxError(t)
	}
	if next := p.peek(); next.kind == tOther && (next.text[0] == '.' || next.text[0] == '[') {
		p.unsupported("nested attribute paths (a.b, a[0]); only top-level attributes")
	}
	return name
}

func parseUpdate(expr string, ctx *exprContext) (updateExpr, *awsError) {
	p := &exprParser{what: "UpdateExpression", toks: tokenize(expr), ctx: ctx}
	var u updateExpr
	aerr := p.parse(func() { u = p.update() })
	return u, aerr
}

func (p *exprParser) update() updateExpr {
	var u updateExpr
	seen := map[string]bool{}
	paths := map[string]bool{}
	addPath := func(path string) {
		if paths[path] {
			p.fail("Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [%s], path two: [%s]", path, path)
		}
		paths[path] = true
	}
	for p.peek().kind != tEOF {
		t := p.next()
		clause := strings.ToUpper(t.text)
		switch {
		case t.kind != tIdent:
			p.pos--
			p.syntaxError(t)
		case clause == "ADD" || clause == "DELETE":
			p.unsupported("the " + clause + " clause (only SET and REMOVE)")
		case clause != "SET" && clause != "REMOVE":
			p.pos--
			p.syntaxError(t)
		}
		if seen[clause] {
			p.fail("The %q section can only be used once in an update expression;", clause)
		}
		seen[clause] = true
		for {
			path := p.path()
			addPath(path)
			if clause == "REMOVE" {
				u.removes = append(u.removes, path)
			} else {
				p.expect(tCmp)
				if p.toks[p.pos-1].text != "=" {
					p.pos--
					p.syntaxError(p.peek())
				}
				u.sets = append(u.sets, p.setValue(path))
			}
			if p.peek().kind != tComma {
				break
			}
			p.next()
		}
	}
	return u
}

func (p *exprParser) setValue(path string) setAction {
	t := p.peek()
	a := setAction{path: path}
	if t.kind == tIdent && p.peekAt(1).kind == tLParen {
		if t.text != "if_not_exists" {
			if unsupportedFunctions[t.text] {
				p.unsupported("the function " + t.text + " in SET")
			}
			p.fail("Invalid function name; function: %s", t.text)
		}
		p.next()
		p.expect(tLParen)
		a.ifNotExists = p.path()
		p.expect(tComma)
		a.value = p.operand()
		p.expect(tRParen)
	} else {
		a.value = p.operand()
	}
	if t := p.peek(); t.kind == tOther && (t.text == "+" || t.text == "-") {
		p.unsupported("arithmetic (+, -) in SET")
	}
	return a
}

// apply runs u on old (nil if there is no item), giving the new item and the
// names of the attributes it set or removed. Values are read from old, as
// DynamoDB evaluates every action against the item before the update.
func (u updateExpr) apply(old, key item) (item, []string, *awsError) {
	next := item{}
	for k, v := range old {
		next[k] = v
	}
	for k, v := range key {
		next[k] = v
	}
	var changed []string
	for _, a := range u.sets {
		var v attrValue
		var ok bool
		if a.ifNotExists != "" {
			if v, ok = old[a.ifNotExists]; !ok {
				v, ok = a.value.resolve(old)
			}
		} else {
			v, ok = a.value.resolve(old)
		}
		if !ok {
			return nil, nil, ddbValidation("The provided expression refers to an attribute that does not exist in the item")
		}
		next[a.path] = v
		changed = append(changed, a.path)
	}
	for _, path := range u.removes {
		delete(next, path)
		changed = append(changed, path)
	}
	return next, changed, nil
}

// keyCondition is a Query's parsed key condition.
type keyCondition struct {
	partition attrValue
	sort      condNode // nil: the whole partition
}

// parseKeyCondition parses a KeyConditionExpression and checks it against
// the table's key schema.
func parseKeyCondition(expr string, ctx *exprContext, t *ddbTable) (keyCondition, *awsError) {
	c, aerr := parseCondition("KeyConditionExpression", expr, ctx)
	if aerr != nil {
		return keyCondition{}, aerr
	}
	var leaves []condNode
	var walk func(condNode) *awsError
	walk = func(n condNode) *awsError {
		switch n := n.(type) {
		case parenCond:
			return walk(n.c)
		case andCond:
			if aerr := walk(n.l); aerr != nil {
				return aerr
			}
			return walk(n.r)
		case orCond:
			return ddbValidation("Invalid operator used in KeyConditionExpression: OR")
		case notCond:
			return ddbValidation("Invalid operator used in KeyConditionExpression: NOT")
		case existsCond:
			fn := "attribute_not_exists"
			if n.exists {
				fn = "attribute_exists"
			}
			return ddbValidation("Invalid operator used in KeyConditionExpression: " + fn)
		}
		leaves = append(leaves, n)
		return nil
	}
	if aerr := walk(c); aerr != nil {
		return keyCondition{}, aerr
	}
	if len(leaves) > 2 {
		return keyCondition{}, ddbValidation("Conditions can be of length 1 or 2 only")
	}
	var kc keyCondition
	havePartition := false
	for _, leaf := range leaves {
		var path string
		var value operand
		var op string
		switch n := leaf.(type) {
		case cmpCond:
			if !n.l.isPath || n.r.isPath {
				return keyCondition{}, ddbValidation("Invalid KeyConditionExpression: a key condition compares a key attribute (on the left) with a :value")
			}
			path, value, op = n.l.path, n.r, n.op
		case beginsCond:
			if n.prefix.isPath {
				return keyCondition{}, ddbValidation("Invalid KeyConditionExpression: begins_with needs a :value prefix")
			}
			path, value, op = n.l.path, n.prefix, "begins_with"
		}
		switch {
		case path == t.hashKey:
			if op != "=" {
				return keyCondition{}, ddbValidation("Query key condition not supported")
			}
			if havePartition {
				return keyCondition{}, ddbValidation("KeyConditionExpressions must only contain one condition per key")
			}
			if value.value.typ != t.keyTypes[path] {
				return keyCondition{}, ddbValidation("One or more parameter values were invalid: Condition parameter type does not match schema type")
			}
			havePartition = true
			kc.partition = value.value
		case t.rangeKey != "" && path == t.rangeKey:
			if kc.sort != nil {
				return keyCondition{}, ddbValidation("KeyConditionExpressions must only contain one condition per key")
			}
			if value.value.typ != t.keyTypes[path] {
				if op == "begins_with" {
					return keyCondition{}, ddbValidation(fmt.Sprintf("Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: %s", t.keyTypes[path]))
				}
				return keyCondition{}, ddbValidation("One or more parameter values were invalid: Condition parameter type does not match schema type")
			}
			if op == "<>" {
				return keyCondition{}, ddbValidation("Unsupported operator on KeyConditionExpression: operator: <>")
			}
			kc.sort = leaf
		default:
			return keyCondition{}, ddbValidation("Query condition missed key schema element: " + t.hashKey)
		}
	}
	if !havePartition {
		return keyCondition{}, ddbValidation("Query condition missed key schema element: " + t.hashKey)
	}
	return kc, nil
}
