# keywarden build. Every tool comes from go.mod, .tools/package.json (with its
# lock file) or the Go module proxy at a pinned version: nothing by hand.
SHELL := /bin/bash
GO    ?= go
TOOLS := .tools/node_modules
CDK   := $(TOOLS)/.bin/cdk --no-notices
# Lambdas: every lambdas/<name> with a main.go.
LAMBDAS := $(patsubst lambdas/%/main.go,%,$(wildcard lambdas/*/main.go))
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
GOLANGCI    := github.com/golangci/golangci-lint/v2/cmd/golangci-lint@v2.15.0
GOVULNCHECK := golang.org/x/vuln/cmd/govulncheck@v1.9.0
# The synthesized template: the drill tests and the drill read its rules.
TEMPLATE := cdk.out/Keywarden.template.json
# The same with revokeWith attachedPolicy (its deny policy, roles and detach
# rule), which the drill's scenarios of that setting run on. Not deployed.
TEMPLATE_ATTACHED := build/variants/attached-policy/Keywarden.template.json
# Organization mode, as the drill's organization scenarios run it: the hub
# and, synthesized into its StackSet, the member template. keyAge is
# cdk.json's, rotation on, so the member template holds the rotate role and
# the members' secrets key.
ORG_DIR := build/variants/organization
TEMPLATE_ORG := $(ORG_DIR)/Keywarden.template.json
TEMPLATE_MEMBER := $(ORG_DIR)/member/KeywardenMember.template.json
ORG_CONTEXT := -c mode=organization -c organizationId=o-exampleorg1 \
	-c organizationalUnits=r-exam -c revokeWith=attachedPolicy
TEMPLATES := $(TEMPLATE) $(TEMPLATE_ATTACHED) $(TEMPLATE_ORG) $(TEMPLATE_MEMBER)

export CDK_DISABLE_CLI_TELEMETRY := true
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export GOFLAGS := -buildvcs=false

.PHONY: deps build sizes test test-unit test-infra synth lint bootstrap reliability fmt-check vet staticcheck golangci-lint tidy-check cfn-lint asl-lint ci diff deploy drill bench clean fuzz-brief vulncheck chromium test-browser

## deps: Go modules and the pinned npm tools (CDK CLI, ASL interpreter, Node 22).
deps: $(TOOLS)/.installed
	$(GO) mod download

$(TOOLS)/.installed: .tools/package.json .tools/package-lock.json
	npm ci --prefix .tools --no-audit --no-fund --loglevel=error
	touch $@

## build: every Lambda to build/<name>/bootstrap for provided.al2023 on arm64.
build:
	@for n in $(LAMBDAS); do \
	  echo "build/$$n/bootstrap"; \
	  GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -ldflags "-s -w" \
	    -o build/$$n/bootstrap ./lambdas/$$n || exit 1; \
	done

## sizes: each function's binary and deployment zip (bootstrap, deflated as
## the CDK asset is), after build. Recorded in BENCHMARKS.md.
sizes: build
	@printf '%-9s %12s %12s\n' function binary zip; \
	for n in $(LAMBDAS); do \
	  rm -f build/$$n.zip; (cd build/$$n && zip -q -9 -X ../$$n.zip bootstrap); \
	  printf '%-9s %12d %12d\n' $$n $$(stat -c %s build/$$n/bootstrap) $$(stat -c %s build/$$n.zip); \
	done

## test: unit and integration tests with the race detector, then the CDK
## assertion tests. The drill tests read the rule patterns from the
## synthesized template, so it is made first when missing or stale.
test: test-unit test-infra

test-unit: $(TOOLS)/.installed $(TEMPLATES)
	$(GO) test -race -count=1 -timeout 20m $$($(GO) list ./... | grep -v /infra)

# CDK tests start a jsii node process and read files Go's test cache cannot
# see: always -count=1, one package.
test-infra: $(TOOLS)/.installed
	$(GO) test -count=1 -timeout 20m ./infra/...

## synth: the CloudFormation template to cdk.out/ (cdk-nag errors fail it),
## the drill's revokeWith attachedPolicy variant and organization mode
## (hub and member templates) to build/variants/.
synth: $(TEMPLATES)

SYNTH_DEPS := $(TOOLS)/.installed cdk.json go.mod $(wildcard infra/*.go statemachine/* internal/settings/*.go internal/event/*.go internal/tamper/*.go internal/exposure/*.go)

$(TEMPLATE): $(SYNTH_DEPS)
	$(CDK) synth -q
	@touch $@

$(TEMPLATE_ATTACHED): $(SYNTH_DEPS)
	$(CDK) synth -q -c revokeWith=attachedPolicy -o $(dir $@)
	@touch $@

$(TEMPLATE_ORG): $(SYNTH_DEPS)
	$(CDK) synth -q $(ORG_CONTEXT) -o $(dir $@)
	@touch $@

# Written by the same synthesis as the hub's.
$(TEMPLATE_MEMBER): $(TEMPLATE_ORG)
	@test -f $@ && touch $@

## drill: the drill scenarios offline, on the emulated account (no AWS account),
## and their HTML report in build/drill-report.html.
## DRILL_FLAGS passes flags, e.g. DRILL_FLAGS="--json" or "--only exposed-key".
drill: $(TOOLS)/.installed $(TEMPLATES)
	$(GO) run ./cmd/keywarden drill $(DRILL_FLAGS)

## chromium: Debian's chromium, for the browser test, installed when missing
## (as root, as CI runs on a fresh Debian machine; about 15 s).
CHROMIUM ?= /usr/bin/chromium
chromium:
	@if [ -x "$(CHROMIUM)" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then echo "$(CHROMIUM) is missing: install Debian's chromium (apt-get install chromium) as root"; exit 1; fi; \
	echo "installing Debian's chromium"; \
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

## test-browser: the drill report in headless Chromium (chromedp): runs every
## scenario, opens build/drill-report.html, checks each graph's marks against
## the executions and that no script failed, and saves build/drill-report.png.
## About 90 s. The test is behind the build tag `browser`: `make test` and
## `go test ./...` neither run nor skip it.
test-browser: chromium $(TOOLS)/.installed $(TEMPLATES)
	CHROMIUM=$(CHROMIUM) $(GO) test -tags browser -run '^TestReportInBrowser$$' -count=1 -timeout 15m ./internal/drill/
	@echo "report: build/drill-report.html, screenshot: build/drill-report.png"

## reliability: the fault matrix (exposed key, daily run, key created, rotation) ×
## (no fault, transient faults, one permanent failure) over SEEDS seeds.
SEEDS ?= 50
reliability: $(TOOLS)/.installed $(TEMPLATES)
	$(GO) run ./cmd/keywarden reliability --seeds $(SEEDS)

## bench: the key-age scan, credential report vs per-user listing, on 10,000
## and 50,000 emulated users (localaws, 2 ms per IAM call). About 2.5 minutes on
## 2 cores (6 when the machine is busy); output also in bench.out. Then the
## organization's daily run on 1,000 emulated accounts of 1,000 users (2 ms per
## IAM call, 5 ms per STS call) at parallelism 10, 50 and 200, the one-Lambda
## loop beside it, and the deployed definition through the interpreter on 20
## accounts; output in bench-org.out. See BENCHMARKS.md for how long each takes.
## Benchmarks only: `make test` runs no benchmark (go test without -bench).
bench: $(TOOLS)/.installed
	set -o pipefail; $(GO) test -run '^$$' -bench . -benchtime 1x -benchmem -timeout 30m ./internal/credreport/ | tee bench.out
	set -o pipefail; $(GO) test -run '^$$' -bench '^BenchmarkOrganization' -benchtime 1x -benchmem -timeout 120m ./internal/lambdafn/all/ | tee bench-org.out

## fuzz-brief: every fuzz target for FUZZTIME (default 100000x: executions, not
## seconds — a duration limit trips go1.26's fuzz-coordinator race,
## golang/go#75804, failing a target at the deadline with "context deadline
## exceeded" and no crasher), one worker each.
## The targets are found, not listed: every package whose _test.go files declare
## a func Fuzz..., then `go test -list` names its targets, so a new target is
## never skipped. The 1M-execution runs are in RELIABILITY.md.
FUZZTIME ?= 100000x
fuzz-brief:
	@set -eo pipefail; n=0; \
	pkgs=$$($(GO) list -f '{{$$d := .Dir}}{{.ImportPath}}{{range .TestGoFiles}} {{$$d}}/{{.}}{{end}}{{range .XTestGoFiles}} {{$$d}}/{{.}}{{end}}' ./... \
	  | while read -r pkg files; do \
	      if [ -n "$$files" ] && grep -qs '^func Fuzz' $$files; then echo "$$pkg"; fi; \
	    done); \
	for pkg in $$pkgs; do \
	  list=$$($(GO) test -list '^Fuzz' "$$pkg"); \
	  for t in $$(grep '^Fuzz' <<<"$$list"); do \
	    echo "fuzz-brief: $$t in $$pkg for $(FUZZTIME)"; \
	    $(GO) test -run='^$$' -fuzz="^$$t\$$" -fuzztime=$(FUZZTIME) -parallel=1 "$$pkg"; \
	    n=$$((n + 1)); \
	  done; \
	done; \
	if [ "$$n" -eq 0 ]; then echo "fuzz-brief: no fuzz targets found"; exit 1; fi; \
	echo "fuzz-brief: $$n targets, $(FUZZTIME) each"

## vulncheck: govulncheck on the module; a finding fails with its ID. The
## database is the public one (https://vuln.go.dev) unless an offline copy is
## given: VULNDB=/path/to/copy (or a URL), else ../shared/vulndb beside the
## checkout when present (the build machines, which cannot reach the public one).
VULNDB ?= $(wildcard ../shared/vulndb)
vulncheck:
	@db='$(VULNDB)'; \
	case "$$db" in ""|*://*) ;; *) [ -d "$$db" ] || { echo "VULNDB=$$db is not a directory"; exit 1; }; db="file://$$(cd "$$db" && pwd)";; esac; \
	echo "govulncheck, database $${db:-https://vuln.go.dev (public)}"; \
	$(GO) run $(GOVULNCHECK) $${db:+-db "$$db"} ./...

## lint: gofmt, go vet, staticcheck, golangci-lint, go.mod tidy, ASL
## validation, cfn-lint on the template.
lint: fmt-check vet staticcheck golangci-lint tidy-check asl-lint cfn-lint

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.tools/*')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck:
	$(GO) run $(STATICCHECK) ./...

# golangci-lint with the linters listed in .golangci.yml.
golangci-lint:
	$(GO) run $(GOLANGCI) run ./...

# go.mod and go.sum say exactly what the code imports.
tidy-check:
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; }

asl-lint: $(TOOLS)/.installed
	$(TOOLS)/.bin/asl-validator --json-path statemachine/keywarden.asl.json
	@mkdir -p build
	$(GO) run ./statemachine/aslprint organization > build/organization.asl.json
	$(TOOLS)/.bin/asl-validator --json-path build/organization.asl.json

cfn-lint: $(TEMPLATES)
	@command -v cfn-lint >/dev/null || { echo "cfn-lint is not installed: pip install 'cfn-lint>=1.51'"; exit 1; }
	cfn-lint --non-zero-exit-code error $(TEMPLATES)

## ci: everything CI runs (.ci/run calls this).
ci: deps build synth test fuzz-brief lint vulncheck drill test-browser

## diff, deploy: against the account in your AWS credentials (us-east-1).
diff: $(TOOLS)/.installed
	$(CDK) diff

deploy: $(TOOLS)/.installed
	$(CDK) deploy

## bootstrap: once per account and region before the first deploy.
bootstrap: $(TOOLS)/.installed
	$(CDK) bootstrap

clean:
	rm -rf build cdk.out
