# outdial: two commands matter — `make demo` and `make test` (see README.md).
SHELL := /bin/bash
CARGO ?= cargo
PGURL ?= postgres://postgres@127.0.0.1:5432/test

.PHONY: demo explore test lint unit prereqs peers postgres fuzzer bench probe clean

## demo: the main job on the embedded SQLite default — a fresh store, the shipped campaigns and the
## lab campaign (sim/demo: window open all day) applied, 3,000 generated leads loaded, outdial's
## synthetic trunk and 20 synthetic agents on loopback (durations divided by 10), `outdial run` for
## one minute with a live progress line, then the per-hour report from the call records. Media
## anchored (agents nailed up), every answered call recorded into $(DEMO_REC)/ (the lab campaign's
## `recording.dir`, relative to this directory), the first few listed at the end.
DEMO_DB ?= outdial.db
DEMO_REC = demo-recordings
BIN = target/debug/outdial
DEMO = --db sqlite://$(DEMO_DB)
# The demo's store: fresh, campaigns applied, 3,000 generated leads (shared by demo and explore).
define demo_store
	$(CARGO) build --bin outdial
	rm -f $(DEMO_DB) $(DEMO_DB)-shm $(DEMO_DB)-wal
	rm -rf $(DEMO_REC)
	for f in campaigns/*.yaml sim/demo/campaign.yaml; do $(BIN) $(DEMO) campaign apply $$f || exit 1; done
	awk 'BEGIN { print "phone,name,external_id,tier,loan_amount"; \
	  for (i = 0; i < 3000; i++) printf "9%07d,Customer %d,APP-%06d,%s,%d\n", 1000000 + i * 7, i, i, (i % 3 ? "B" : "A"), 1000 + (i * 37) % 50000 }' \
	  | $(BIN) $(DEMO) campaign load demo-verification -
endef
# The demo's synthetic peers: trunk-sim and 20 agents (run in the same shell line as the engine).
DEMO_PEERS = $(BIN) trunk-sim --listen 127.0.0.1:5070 --scenario sim/small-team.yaml --time-scale 10 >/dev/null & T=$$!; \
	$(BIN) agent-sim --listen 127.0.0.1:5080 --agents 20 --scenario sim/small-team.yaml --time-scale 10 --hold-until-bye >/dev/null & A=$$!; \
	sleep 1
demo:
	$(demo_store)
	$(BIN) $(DEMO) campaign list
	@$(DEMO_PEERS); \
	echo "pages while it runs: http://127.0.0.1:8089/ui/ (token demo-token-not-secret)"; \
	$(BIN) $(DEMO) run --config sim/demo/engine.yaml --progress \
	  && $(BIN) $(DEMO) report demo-verification \
	  && $(BIN) $(DEMO) campaign stats demo-verification \
	  && echo "recordings: $$($(BIN) $(DEMO) recordings list | tail -n +2 | wc -l) (play one: play FILE.wav)" \
	  && $(BIN) $(DEMO) recordings list | head -n 4; \
	rc=$$?; kill $$T $$A 2>/dev/null; exit $$rc

## explore: the demo's setup with the engine kept up (a day of run_for) until Ctrl-C, for the
## browser pages: it prints their URL and the supervisor token.
explore:
	$(demo_store)
	@sed 's/^run_for: .*/run_for: 24h/' sim/demo/engine.yaml > $(DEMO_DB).explore.yaml
	@$(DEMO_PEERS); \
	trap 'kill $$T $$A 2>/dev/null' EXIT; \
	echo; echo "  wallboard: http://127.0.0.1:8089/ui/   token: demo-token-not-secret   (Ctrl-C to stop)"; echo; \
	$(BIN) $(DEMO) run --config $(DEMO_DB).explore.yaml --progress; true

## test: formatting, lints and every test (SQLite, PostgreSQL, SIPp, Kamailio, baresip and
## rtpengine on loopback).
## The lints run inside the test build: clippy-driver as cargo's workspace wrapper with warnings
## denied, so the dependencies are compiled once, for the tests, instead of once more for a
## separate `cargo clippy` (CI_TARGET keeps those artefacts apart from a plain `cargo build`'s).
## Under CI=true the build lives in a cache outside the clone ($(CI_CACHE), like any CI's cargo
## cache) so the third-party crates compiled by one run serve the next; outdial's own artefacts
## and everything its tests generate (tmp/, the CPA corpus) are removed first, so every run
## compiles the crate from its sources and regenerates its test data. A cold cache (a fresh
## machine) builds everything. Incremental compilation is off there: the crate is rebuilt whole.
ifeq ($(CI),true)
CI_CACHE ?= $(if $(HOME),$(HOME)/.cache/outdial,target)
CI_TARGET ?= $(CI_CACHE)/target-ci
endif
CI_TARGET ?= target/ci
LINTED = CARGO_TARGET_DIR=$(CI_TARGET) RUSTC_WORKSPACE_WRAPPER=clippy-driver RUSTFLAGS="-D warnings"
ifeq ($(CI),true)
LINTED += CARGO_INCREMENTAL=0
endif
test: prereqs
	$(CARGO) fmt --all -- --check
ifeq ($(CI),true)
	CARGO_TARGET_DIR=$(CI_TARGET) $(CARGO) clean -p outdial
	rm -rf $(CI_TARGET)/tmp $(CI_TARGET)/cpa-corpus
endif
	$(LINTED) OUTDIAL_TEST_PG=$(PGURL) CARGO=$(CARGO) python3 .ci/test-lanes $(LANES)
	$(LINTED) OUTDIAL_TEST_PG=$(PGURL) $(CARGO) test --doc

CLIPPY = $(CARGO) clippy --all-targets -- -D warnings
lint:
	$(CARGO) fmt --all -- --check
	$(CLIPPY)

# Every test binary, LANES at a time (.ci/test-lanes: slowest first; the end-to-end suites wait
# on peers and time-scaled clocks, not on the CPU: 4 lanes took 137 s where 2 took 240 s, each
# binary's own time unchanged), then the doc tests.
LANES ?= 4
unit:
	OUTDIAL_TEST_PG=$(PGURL) CARGO=$(CARGO) python3 .ci/test-lanes $(LANES)
	OUTDIAL_TEST_PG=$(PGURL) $(CARGO) test --doc

prereqs: peers postgres fuzzer

# The real peers the tests run against, as Debian packages: `command:package` pairs. A missing one
# is installed (apt-get, with one `apt-get update` retry); under CI=true one still missing afterwards
# fails here, before any test runs, and the tests themselves fail rather than skip.
PEERS = sipp:sip-tester kamailio:kamailio baresip:baresip espeak-ng:espeak-ng sox:sox \
  rtpengine:rtpengine-daemon chromium:chromium chromedriver:chromium-driver
APT = $(if $(filter 0,$(shell id -u)),,sudo) env DEBIAN_FRONTEND=noninteractive apt-get
peers:
	@missing=""; for p in $(PEERS); do cmd=$${p%%:*}; pkg=$${p#*:}; \
	  command -v $$cmd >/dev/null || test -x /usr/sbin/$$cmd || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then echo "installing$$missing"; \
	  $(APT) install -y $$missing >/dev/null 2>&1 || { $(APT) update >/dev/null 2>&1 && $(APT) install -y $$missing >/dev/null; } || true; fi; \
	for p in $(PEERS); do cmd=$${p%%:*}; \
	  command -v $$cmd >/dev/null || test -x /usr/sbin/$$cmd || { \
	    echo "missing test peer: $$cmd (Debian package $${p#*:})"; [ "$$CI" != true ] || exit 1; }; done

# The API fuzzer of tests/it/api_fuzz.rs: schemathesis from PyPI, pinned, in a virtual environment
# of its own ($(VENV)/, ignored by git), made once and remade when the pin changes. Debian's
# python3 needs python3-venv for `-m venv`: installed if missing. Under CI=true a failed install
# fails here (and the test fails without the tool); elsewhere the test says it is missing.
SCHEMATHESIS = 4.32.5
VENV = .venv
fuzzer:
	@$(VENV)/bin/schemathesis --version 2>/dev/null | grep -qx "schemathesis, version $(SCHEMATHESIS)" || { \
	  echo "installing schemathesis $(SCHEMATHESIS) in $(VENV)/"; rm -rf $(VENV); \
	  { python3 -m venv $(VENV) || { $(APT) install -y python3-venv >/dev/null 2>&1 && python3 -m venv $(VENV); }; } \
	  && $(VENV)/bin/pip install -q --disable-pip-version-check "schemathesis==$(SCHEMATHESIS)" \
	  || { echo "missing API fuzzer: schemathesis $(SCHEMATHESIS) (python3 -m venv, pip)"; \
	       rm -rf $(VENV); [ "$$CI" != true ] || exit 1; }; }

# PostgreSQL runs as a machine service here and in CI; start it if it stopped.
postgres:
	@pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1 || { \
	  echo "starting PostgreSQL"; \
	  pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start || true; \
	  for i in 1 2 3 4 5 6 7 8 9 10; do pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1 && break; sleep 1; done; }

## bench: the figures in BENCHMARKS.md.
bench:
	$(CARGO) bench

## probe: the hostile probes of issue 15 at full size, on loopback (tests/it/probe.rs under
## PROBE_SCALE=full): 100,000 mutated SIP datagrams and 1,000 TCP streams at a running engine next
## to a clean run of the same length, 5,000 admin API requests, 2,000 mutated call lists. A few
## minutes; prints the table of counts in BENCHMARKS.md ("Reliability").
probe:
	set -o pipefail; PROBE_SCALE=full $(CARGO) test --test it probe:: -- --nocapture --test-threads=1 \
	  2>&1 | tee target/probe.log; rc=$$?; \
	echo; grep -m1 '^| probe ' target/probe.log; grep -m1 '^|---' target/probe.log; \
	grep '^| [^p-]' target/probe.log; exit $$rc

clean:
	$(CARGO) clean
	rm -rf $(VENV)
	rm -f outdial.db outdial.db-shm outdial.db-wal
