# Two commands: `make dev` (local stack + demo tenant) and `make test` (everything).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
SAM_VENV := .venv-sam
FUZZ_VENV := .venv-fuzz
CHECKOV_VENV := .venv-checkov
COMPAT_VENV := .venv-compat
STACK := $(VENV)/bin/python scripts/stack.py

export AWS_REGION ?= us-east-1
export AWS_DEFAULT_REGION ?= $(AWS_REGION)
export SAM_CLI_TELEMETRY := 0

.PHONY: help dev test tools check-template unit stack-test iam-report stop fmt clean bench bench-hot bench-smoke sdk-test contract-test compat-test browser-test screenshots fuzz

help:
	@echo "make dev             start the local stack, seed a demo tenant, print a key and a curl"
	@echo "make test            template checks, then every test against a fresh local stack"
	@echo "make check-template  cfn-lint, sam validate --lint, checkov, OpenAPI validation"
	@echo "make unit            domain unit tests only (no stack)"
	@echo "make stack-test      the local stack's own tests (IAM, filters, TTL, Lambda, gateway)"
	@echo "make iam-report      per function, what its policy grants that the last run never used"
	@echo "make sdk-test        the TypeScript SDK's tests against a running stack (make dev)"
	@echo "make contract-test   schemathesis against a running stack (make dev), from openapi.yaml"
	@echo "make compat-test     the dialects through Chift's and OpenInt's own clients (make dev)"
	@echo "make browser-test    the connect pages in headless Chromium against a running stack"
	@echo "make screenshots     the same, saving the pictures the README shows (docs/screenshots)"
	@echo "make fuzz            coverage-guided fuzzing of the input parsers (cargo fuzz; not in CI)"
	@echo "make stop            stop a stack left running by 'make dev' or a test run"
	@echo "make bench           release-build every function and measure it (bench/RESULTS.md)"
	@echo "make bench-hot       the hot path only, in release, against bench/hot-baseline.json (~15 min)"
	@echo "make bench-smoke     the bench on debug builds with a few samples (part of make test)"

# Pinned Python tools, each set in its own virtualenv (SAM pins an older boto3).
$(VENV)/.installed: requirements/dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements/dev.txt
	touch $@

$(SAM_VENV)/.installed: requirements/sam.txt
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements/sam.txt
	touch $@

$(CHECKOV_VENV)/.installed: requirements/checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements/checkov.txt
	touch $@

# The seed services' official clients (chift, openint), for the dialect tests.
$(COMPAT_VENV)/.installed: requirements/compat.txt
	$(PYTHON) -m venv $(COMPAT_VENV)
	$(COMPAT_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements/compat.txt
	touch $@

$(FUZZ_VENV)/.installed: requirements/fuzz.txt
	$(PYTHON) -m venv $(FUZZ_VENV)
	$(FUZZ_VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements/fuzz.txt
	touch $@

SDK := sdk/typescript
$(SDK)/node_modules/.installed: $(SDK)/package.json $(SDK)/package-lock.json
	npm ci --prefix $(SDK) --no-audit --no-fund --loglevel=error
	touch $@

# The connect pages' browser tests: Debian's Chromium (installed here if missing; root or
# sudo) driven by playwright-core and axe-core from npm.
BROWSER := tests/browser
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	$$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $$( [ "$$(id -u)" = 0 ] || echo sudo -E ) \
		apt-get install -y -qq --no-install-recommends chromium

$(BROWSER)/node_modules/.installed: $(BROWSER)/package.json $(BROWSER)/package-lock.json
	npm ci --prefix $(BROWSER) --no-audit --no-fund --loglevel=error
	touch $@

tools: $(VENV)/.installed $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed $(FUZZ_VENV)/.installed $(COMPAT_VENV)/.installed $(SDK)/node_modules/.installed \
	$(BROWSER)/node_modules/.installed $(CHROMIUM)

dev: $(VENV)/.installed
	$(STACK) dev

# checkov reads what `sam deploy` submits (its own SAM reader stops on this template);
# skipped checks and why: .checkov.yaml. BC_SKIP_MAPPING: no call home for guidelines.
check-template: tools
	$(SAM_VENV)/bin/cfn-lint template.yaml
	AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test $(SAM_VENV)/bin/sam validate --lint --template-file template.yaml
	mkdir -p target && $(VENV)/bin/python scripts/stack.py cfn > target/template.cfn.json
	BC_SKIP_MAPPING=TRUE $(CHECKOV_VENV)/bin/checkov -f target/template.cfn.json --config-file .checkov.yaml
	$(VENV)/bin/openapi-spec-validator openapi.yaml compat/*.openapi.yaml

unit:
	cargo test -p linkgate

# The local stack's own parts against real ones (moto, the Lambda service, the gateway):
# the IAM check, filters, TTL, Lambda's limits, API Gateway's. Own ports; no stack needed.
stack-test: $(VENV)/.installed
	cd scripts && ../$(VENV)/bin/python -m unittest discover -s tests -t . $(if $(V),-v,)

iam-report: $(VENV)/.installed
	$(VENV)/bin/python scripts/iam_report.py

sdk-test: $(SDK)/node_modules/.installed
	npm test --prefix $(SDK)

# The dialects through the seed services' own clients (tests/compat), against a running stack.
COMPAT_TEST := cd tests/compat && ../../$(COMPAT_VENV)/bin/python -m unittest discover -v
compat-test: $(COMPAT_VENV)/.installed
	$(COMPAT_TEST)

browser-test: $(BROWSER)/node_modules/.installed $(CHROMIUM)
	npm test --prefix $(BROWSER)

screenshots: $(BROWSER)/node_modules/.installed $(CHROMIUM)
	LINKGATE_SCREENSHOTS=docs/screenshots npm test --prefix $(BROWSER)

# Coverage-guided fuzzing of the parsers that take outside input, FUZZ_SECONDS per target
# (not part of make test: it needs nightly and takes a while). Findings land in
# fuzz/artifacts/<target>/; replay one with `cargo +nightly fuzz run <target> <file>`.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := cursor ids redirect_url webhook_url connect_form json_fields
fuzz:
	rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
	cd fuzz && for t in $(FUZZ_TARGETS); do \
		cargo +nightly fuzz run $$t -- -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=4096 || exit 1; \
	done

# Seeded schemathesis run (at least 2,000 requests, every check) on a fresh tenant.
contract-test: $(FUZZ_VENV)/.installed
	$(FUZZ_VENV)/bin/python scripts/contract_fuzz.py

test: tools check-template
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --quiet -- -D warnings
	cargo build --workspace --all-targets
	$(MAKE) --no-print-directory stack-test
	LINKGATE_LOG_LEVEL=TRACE $(STACK) up
	status=0; cargo test --workspace --no-fail-fast || status=$$?; \
		npm test --prefix $(SDK) || status=$$?; \
		npm test --prefix $(BROWSER) || status=$$?; \
		( $(COMPAT_TEST) ) || status=$$?; \
		$(FUZZ_VENV)/bin/python scripts/contract_fuzz.py || status=$$?; \
		$(VENV)/bin/python scripts/status_coverage.py || status=$$?; \
		$(VENV)/bin/python scripts/iam_report.py --check || status=$$?; \
		$(STACK) down; exit $$status
	$(MAKE) --no-print-directory bench-smoke

# Every function, built as `sam build` builds it (cargo lambda, release profile), measured
# against a bare lambda_http baseline. Takes ~55 min on 2 cores: ~27 building (fat-LTO links), ~28 measuring.
FUNCTION_PACKAGES := -p linkgate-functions
LAMBDA := PATH="$(CURDIR)/$(VENV)/bin:$$PATH" cargo lambda
# Non-PIE, as .cargo/config.toml builds the deployed (arm64) functions; set here for x86_64,
# where a config entry would also reach host builds (proc macros must stay PIC). With
# --target (cargo lambda's --x86-64), RUSTFLAGS never reach build scripts or proc macros.
LAMBDA_RUSTFLAGS := CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C relocation-model=static"

# Building the harness without --output-format moves every binary cargo lambda built to
# target/lambda/<name>/bootstrap, next to its zip: that is where the harness finds them.
HARNESS := target/lambda/linkgate-bench/bootstrap

bench: $(VENV)/.installed
	$(LAMBDA_RUSTFLAGS) $(LAMBDA) build --release --x86-64 --output-format zip $(FUNCTION_PACKAGES) -p bench-baseline
	# the harness on its own, so its dependencies' features do not leak into the functions
	$(LAMBDA_RUSTFLAGS) $(LAMBDA) build --release --x86-64 -p linkgate-bench
	$(HARNESS) --bins target/lambda --zips target/lambda --out bench
	# before and after: the committed run against this one
	git show HEAD:bench/results.json > target/bench-before.json
	$(PYTHON) bench/compare.py target/bench-before.json bench/results.json >> bench/RESULTS.md

# The hot path only (a connect link's life), built and measured as `make bench` does but
# alone: the five functions, the two the fixtures are made with, the baseline. Compared with
# bench/hot-baseline.json; `make bench-hot ACCEPT=1` makes the run the accepted one.
# ~15 min from a clean tree on 2 cores, ~6 min when only our crates changed.
HOT_FUNCTIONS := consumers-create connections-create connect-page connect-submit links-get
HOT_SETUP := integrations-create webhooks-create providers-custom-create
# CATALOG_SIZE=N builds them with a generated catalogue of N providers instead (never accepted).
HOT_CATALOG := $(if $(CATALOG_SIZE),$(CURDIR)/target/bench-hot/catalog-$(CATALOG_SIZE).json)
bench-hot: $(VENV)/.installed
	@if [ -n "$(CATALOG_SIZE)" ] && [ -n "$(ACCEPT)" ]; then \
		echo "a grown catalogue's run is compared, never accepted"; exit 2; fi
	$(if $(HOT_CATALOG),$(PYTHON) bench/grow_catalog.py $(CATALOG_SIZE) $(HOT_CATALOG))
	$(if $(HOT_CATALOG),LINKGATE_CATALOG=$(HOT_CATALOG)) $(LAMBDA_RUSTFLAGS) $(LAMBDA) build --release --x86-64 --output-format zip \
		$(FUNCTION_PACKAGES) $(foreach f,$(HOT_FUNCTIONS) $(HOT_SETUP),--bin $(f)) \
		-p bench-baseline --bin bench-baseline --bin bench-baseline-sdk
	$(LAMBDA_RUSTFLAGS) $(LAMBDA) build --release --x86-64 -p linkgate-bench
	$(HARNESS) --hot --baseline-repeats 3 --spawns 20 --invocations 500 \
		--bins target/lambda --zips target/lambda --out target/bench-hot$(if $(CATALOG_SIZE),-$(CATALOG_SIZE)) \
		--build "release profile, cargo lambda build --release --x86-64$(if $(CATALOG_SIZE),; a generated catalogue of $(CATALOG_SIZE) providers)" \
		$(if $(ACCEPT),--accept)

# Proves the harness still measures every function (a new function needs a scenario);
# debug builds and a handful of samples, so its numbers mean nothing.
# Built as `make test` builds (same packages, same features), so after it this is no build at
# all: a subset would unify features differently and link every function a second time
# (~2 GB more of a clean clone's disk).
bench-smoke: $(VENV)/.installed
	cargo build --quiet --workspace --all-targets
	target/debug/linkgate-bench --bins target/debug --spawns 3 --invocations 20 \
		--out target/bench-smoke --build "debug profile: a smoke run, the numbers mean nothing"

stop:
	@if [ -x $(VENV)/bin/python ]; then $(STACK) down; fi

fmt:
	cargo fmt --all

clean: stop
	rm -rf target/dev $(VENV) $(SAM_VENV) $(FUZZ_VENV) $(CHECKOV_VENV) $(COMPAT_VENV)
