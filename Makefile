# outdial: two commands matter — `make demo` and `make test` (see README.md).
SHELL := /bin/bash
CARGO ?= cargo
PGURL ?= postgres://postgres@127.0.0.1:5432/test

.PHONY: demo test lint unit prereqs sipp postgres bench clean

## demo: the main job on the embedded SQLite default.
DEMO_DB ?= outdial.db
OUTDIAL = $(CARGO) run --quiet --bin outdial --
demo:
	$(CARGO) build --bin outdial
	rm -f $(DEMO_DB) $(DEMO_DB)-shm $(DEMO_DB)-wal
	for f in campaigns/*.yaml; do $(OUTDIAL) --db sqlite://$(DEMO_DB) campaign apply $$f; done
	awk 'BEGIN { print "phone,name,external_id,tier,loan_amount"; \
	  for (i = 0; i < 5000; i++) printf "138%08d,Customer %d,APP-%06d,%s,%d\n", 10000000 + i * 7, i, i, (i % 3 ? "B" : "A"), 1000 + (i * 37) % 50000 }' \
	  | $(OUTDIAL) --db sqlite://$(DEMO_DB) campaign load credit-verification -
	$(OUTDIAL) --db sqlite://$(DEMO_DB) campaign list
	$(OUTDIAL) --db sqlite://$(DEMO_DB) campaign stats credit-verification

## test: formatting, lints and every test (SQLite, PostgreSQL, SIPp on loopback).
test: prereqs lint unit

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

unit:
	OUTDIAL_TEST_PG=$(PGURL) $(CARGO) test -- --test-threads=2

prereqs: sipp postgres

# SIPp comes from Debian's package sip-tester; a missing sipp under CI=true fails the tests later.
sipp:
	@command -v sipp >/dev/null || { \
	  echo "installing sip-tester (sipp)"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get install -y sip-tester >/dev/null || (apt-get update >/dev/null && apt-get install -y sip-tester >/dev/null); \
	  else sudo apt-get install -y sip-tester >/dev/null || (sudo apt-get update >/dev/null && sudo apt-get install -y sip-tester >/dev/null); fi; } || true

# PostgreSQL runs as a machine service here and in CI; start it if it stopped.
postgres:
	@pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1 || { \
	  echo "starting PostgreSQL"; \
	  pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start || true; \
	  for i in 1 2 3 4 5 6 7 8 9 10; do pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1 && break; sleep 1; done; }

## bench: the figures in BENCHMARKS.md.
bench:
	$(CARGO) bench

clean:
	$(CARGO) clean
	rm -f outdial.db outdial.db-shm outdial.db-wal
