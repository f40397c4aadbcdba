# The registry's build. `make run` serves on :5000 with data in ./data;
# `make test` runs every test (unit, integration, real clients), plain and
# under AddressSanitizer + UBSan. Missing Debian packages are installed by
# deploy/install-deps.sh (as root) or named for you to install.

CC      ?= cc
# libcurl: headers only; common/curl_load.c dlopens it when upstreams, notify receivers or storage = s3 need it.
# libpq: headers only; storage/pq_load.c dlopens it when metadata = postgres.
# gnutls: libmicrohttpd's TLS, linked for the certificate callback (server/tls.c)
# zlib: the web UI gzips its pages (server/ui_page.c)
PKGS    := libmicrohttpd gnutls libcrypto jansson sqlite3 libcrypt zlib
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
           -fno-strict-aliasing -MMD -MP
LIBS     = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread
INCS     = $(shell pkg-config --cflags $(PKGS) libcurl libpq 2>/dev/null)
SANFLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

B        := build
LIB_SRC  := $(wildcard common/*.c oci/*.c storage/*.c auth/*.c proxy/*.c core/*.c server/*.c)
LIB_SRC  := $(filter-out server/main.c,$(LIB_SRC))
UNIT_SRC := $(wildcard tests/unit/test_*.c)

OBJ      := $(LIB_SRC:%.c=$(B)/obj/%.o)
ASAN_OBJ := $(LIB_SRC:%.c=$(B)/asan/%.o)
UNIT_OBJ := $(UNIT_SRC:%.c=$(B)/obj/%.o)
UNIT_ASAN_OBJ := $(UNIT_SRC:%.c=$(B)/asan/%.o)

VERSION  := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
# Every build of the sources (plain, sanitizers, fuzz, unit) gets the same
# defines: a rule that forgets one fails to compile only in that build.
INCS    += -DREGISTRY_VERSION='"$(VERSION)"'

.PHONY: all deps test-deps run test unit integration integration-s3 clients asan fmt clean bench tsan check-layers \
	install
all: deps $(B)/registry

deps:
	@deploy/install-deps.sh
test-deps:
	@deploy/install-deps.sh --test

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INCS) -c $< -o $@
$(B)/asan/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SANFLAGS) $(INCS) -c $< -o $@

$(B)/registry: $(OBJ) $(B)/obj/server/main.o
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS)
$(B)/registry-asan: $(ASAN_OBJ) $(B)/asan/server/main.o
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ $(LIBS)

# The unit runner knows its suites from the test file names: each
# tests/unit/test_NAME.c exports `Suite *make_NAME_suite(void)`.
$(B)/suites.h: $(UNIT_SRC)
	@mkdir -p $(B)
	@for f in $(UNIT_SRC); do n=$${f#tests/unit/test_}; echo "SUITE($${n%.c})"; done > $@.tmp
	@mv $@.tmp $@
$(B)/obj/tests/unit/runner.o $(B)/asan/tests/unit/runner.o: $(B)/suites.h
$(B)/obj/tests/unit/runner.o: tests/unit/runner.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -I$(B) $(INCS) -c $< -o $@
$(B)/asan/tests/unit/runner.o: tests/unit/runner.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SANFLAGS) -I$(B) $(INCS) -c $< -o $@
$(B)/unit: $(OBJ) $(UNIT_OBJ) $(B)/obj/tests/unit/runner.o
	$(CC) $(CFLAGS) -o $@ $^ $(shell pkg-config --libs check) $(LIBS)
$(B)/unit-asan: $(ASAN_OBJ) $(UNIT_ASAN_OBJ) $(B)/asan/tests/unit/runner.o
	$(CC) $(CFLAGS) $(SANFLAGS) -o $@ $^ $(shell pkg-config --libs check) $(LIBS)

run: all
	$(B)/registry serve -c registry.conf

# Every suite runs under a time limit, so a hang fails with a name instead
# of stalling CI (the integration runner limits each script on its own).
UNIT_TIMEOUT ?= 600
unit: $(B)/unit $(B)/unit-asan
	CK_FORK=no timeout -k 10 $(UNIT_TIMEOUT) $(B)/unit || { echo "unit: failed or hung (limit $(UNIT_TIMEOUT) s)"; exit 1; }
	ASAN_OPTIONS=detect_leaks=1 CK_FORK=no timeout -k 10 $(UNIT_TIMEOUT) $(B)/unit-asan || { echo "unit-asan: failed or hung (limit $(UNIT_TIMEOUT) s)"; exit 1; }

# test_container builds its own binary inside the image, so the ASan pass
# would only build and run the same image again.
# INTEGRATION_JOBS scripts at once: most of a script's time is spent
# waiting on its server, so two at a time on two cores halves the pass.
INTEGRATION_JOBS ?= 2
integration: $(B)/registry $(B)/registry-asan
	INTEGRATION_JOBS=$(INTEGRATION_JOBS) tests/integration/run.sh $(B)/registry
	ASAN_OPTIONS=detect_leaks=1 INTEGRATION_EXCLUDE="test_container.sh" \
		INTEGRATION_JOBS=$(INTEGRATION_JOBS) tests/integration/run.sh $(B)/registry-asan

# storage = s3 against a test-started Ceph RGW (tests/rgw.sh, ~15 s to
# start): test_s3.sh plain and under ASan, then the API, pull-through cache
# and kill-loop scripts that apply to S3 with the plain binary
# (tests/integration/run_s3.sh lists which are left out and why), then the
# real-client suite with every server on S3; then the API scripts, the kill
# loop and the real-client suite on PostgreSQL + S3, and through three
# replicas behind nginx (registry-lb.sh, test_replicas_lb.sh). Scripts run
# INTEGRATION_JOBS at once, as in `make integration`.
integration-s3: $(B)/registry $(B)/registry-asan
	INTEGRATION_JOBS=$(INTEGRATION_JOBS) tests/integration/run_s3.sh $(B)/registry $(B)/registry-asan

clients: $(B)/registry $(B)/registry-asan
	tests/clients/run.sh $(B)/registry
	ASAN_OPTIONS=detect_leaks=1 tests/clients/run.sh $(B)/registry-asan

# A test that cannot run something says so (tests/skip.sh, tests/unit/skip.h)
# into this file; `make test` ends with the count and the reasons. Under CI
# (CI=true) a skip fails the run instead.
export REGISTRY_SKIP_FILE ?= $(abspath $(B))/skips.txt

# Each phase's time is printed at the end (and kept in $(B)/phases.txt),
# so a slower `make test` names the phase that grew.
TEST_PHASES = check-layers unit unit-pg integration integration-s3 fuzz-short clients
test: test-deps
	@mkdir -p $(B) && : >$(REGISTRY_SKIP_FILE)
	@: >$(B)/phases.txt; for t in $(TEST_PHASES); do s=$$(date +%s); \
		$(MAKE) $$t || exit 1; \
		echo "$$t $$(( $$(date +%s) - s )) s" >>$(B)/phases.txt; done
	@echo "make test: seconds per phase:"; sed 's/^/   /' $(B)/phases.txt
	@tests/skips.sh $(REGISTRY_SKIP_FILE)

# `make install` (PREFIX, DESTDIR as usual): the binary, the man pages,
# the systemd unit (its ExecStart naming this PREFIX's binary) and, unless
# one is there already, /etc/registry/registry.conf: the documented
# defaults with data = /var/lib/registry, the unit's StateDirectory. An
# existing configuration is never overwritten.
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
UNITDIR    ?= $(SYSCONFDIR)/systemd/system
install: $(B)/registry
	install -D -m 755 $(B)/registry $(DESTDIR)$(BINDIR)/registry
	install -D -m 644 doc/registry.8 $(DESTDIR)$(MANDIR)/man8/registry.8
	install -D -m 644 doc/registry.conf.5 $(DESTDIR)$(MANDIR)/man5/registry.conf.5
	install -d -m 755 $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCONFDIR)/registry
	sed -e 's@/usr/local/bin/registry@$(BINDIR)/registry@' \
	    -e 's@/etc/registry/@$(SYSCONFDIR)/registry/@' \
	    deploy/registry.service >$(DESTDIR)$(UNITDIR)/registry.service
	chmod 644 $(DESTDIR)$(UNITDIR)/registry.service
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/registry/registry.conf ]; then \
		echo "kept $(DESTDIR)$(SYSCONFDIR)/registry/registry.conf (compare with registry.conf)"; \
	else \
		sed 's@^data = ./data$$@data = /var/lib/registry@' registry.conf \
			>$(DESTDIR)$(SYSCONFDIR)/registry/registry.conf && \
		chmod 644 $(DESTDIR)$(SYSCONFDIR)/registry/registry.conf && \
		echo "wrote $(DESTDIR)$(SYSCONFDIR)/registry/registry.conf"; \
	fi

fmt:
	clang-format -i $$(git ls-files '*.c' '*.h')

# Which folder may include which, and no circles of includes or calls
# (tests/check-layers.sh writes the directions down); after a build, so the
# objects' symbols can be read.
check-layers: $(B)/registry
	tests/check-layers.sh

clean:
	rm -rf $(B)

# ---- robustness: fuzzing, stress, valgrind (issue 4) ----
# One libFuzzer target per parser that sees request bytes:
# tests/fuzz/fuzz_NAME.c, seeds in tests/fuzz/corpus/NAME/. `make fuzz` runs
# each for FUZZ_SECONDS, `make fuzz-short` (part of `make test`) for
# FUZZ_SHORT_SECONDS. They link every object but main.c, built with clang.
FUZZ_CC            ?= clang
FUZZ_SECONDS       ?= 60
FUZZ_SHORT_SECONDS ?= 10
FUZZ_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
              -fno-sanitize-recover=undefined
FUZZ_BIN   := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_OBJ   := $(LIB_SRC:%.c=$(B)/fuzz/%.o)
KILLS      ?= 100

.PHONY: fuzz fuzz-short stress valgrind
$(B)/fuzz/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link $(INCS) -c $< -o $@
$(FUZZ_BIN): $(B)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_OBJ)
	$(FUZZ_CC) $(CFLAGS) $(FUZZ_FLAGS) -fsanitize=fuzzer $(INCS) -o $@ $< $(FUZZ_OBJ) $(LIBS)
fuzz: $(FUZZ_BIN)
	tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_BIN)
fuzz-short: $(FUZZ_BIN)
	tests/fuzz/run.sh $(FUZZ_SHORT_SECONDS) $(FUZZ_BIN)

# SIGKILL at random moments during concurrent pushes, KILLS times (a
# 10-kill version runs in the integration suite).
stress: $(B)/registry
	KILLS=$(KILLS) tests/stress/kill_loop.sh $(B)/registry

# The API integration test against the server under valgrind (slow, so not
# part of `make test`): any leak or memory error fails it.
valgrind: $(B)/registry
	REGISTRY_BIN=$(abspath $(B)/registry) bash tests/integration/test_api.sh tests/valgrind/registry.sh

# ThreadSanitizer over the threaded parts (staged uploads, held logins, the
# worker pool, the collector thread): the unit tests and the integration
# tests that push in parallel, hold logins, stop with requests in flight and
# collect every second while serving, against a -fsanitize=thread build in
# $(B)/tsan (not in `make test`: a build of its own).
TSAN_FLAGS := -O1 -g -fsanitize=thread -fno-omit-frame-pointer
TSAN_TESTS := test_api test_concurrent test_auth test_shutdown test_gc_collect
tsan:
	$(MAKE) --no-print-directory B=$(B)/tsan SANFLAGS="$(TSAN_FLAGS)" \
		$(B)/tsan/registry-asan $(B)/tsan/unit-asan
	TSAN_OPTIONS=halt_on_error=1 $(B)/tsan/unit-asan
	for t in $(TSAN_TESTS); do \
		out=$$(bash tests/integration/$$t.sh $(B)/tsan/registry-asan 2>&1); rc=$$?; \
		echo "$$t: $$(echo "$$out" | tail -n 1)"; \
		[ $$rc = 0 ] || { echo "$$out" | grep -A20 -m1 -E 'FAIL|ThreadSanitizer'; exit 1; }; \
	done

-include $(FUZZ_OBJ:.o=.d) $(FUZZ_BIN:=.d)

-include $(OBJ:.o=.d) $(ASAN_OBJ:.o=.d) $(UNIT_OBJ:.o=.d) $(UNIT_ASAN_OBJ:.o=.d) \
	$(B)/obj/server/main.d $(B)/asan/server/main.d

# ---- benchmarks (issue 3) ----
# `make bench`: the registry built with optimisation in $(B)/bench, side by
# side with Debian's docker-registry (the reference) and nginx (the ceiling),
# on 127.0.0.1 (bench/run.sh; BENCH_* variables tune it). Prints a table and
# writes bench/results/ (git-ignored): results.csv, results.md, chart.png.
BENCH_CFLAGS ?= -O2 -g -DNDEBUG
$(B)/bench/loadgen: bench/loadgen.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(shell pkg-config --libs libcrypto 2>/dev/null) -lpthread
bench:
	@deploy/install-deps.sh --bench
	env CFLAGS="$(BENCH_CFLAGS)" $(MAKE) --no-print-directory B=$(B)/bench $(B)/bench/registry
	$(MAKE) --no-print-directory $(B)/bench/loadgen
	bench/run.sh $(B)/bench/registry $(B)/bench/loadgen

# ---- metadata on PostgreSQL (issue 16) ----
# `make integration-pg`: the integration scripts against metadata = postgres
# (one PostgreSQL 15 for the run, tests/pg.sh; a database per script; PG_JOBS
# at once, 2 by default), test_replicas.sh among them; `make unit-pg`: the
# shared tests of test_meta.c on PostgreSQL too (in `make test`).
.PHONY: integration-pg unit-pg
integration-pg: $(B)/registry
	tests/integration/run_pg.sh $(B)/registry
unit-pg: $(B)/unit
	@d=$$(mktemp -d /tmp/unitpg.XXXXXX); ci=$$(tests/pg.sh start $$d) || exit 1; \
	REGISTRY_TEST_PG="$$ci" REGISTRY_TEST_PG_DIR="$$d" CK_RUN_SUITE=meta CK_FORK=no $(B)/unit; rc=$$?; \
	tests/pg.sh stop $$d; rm -rf $$d; exit $$rc

# ---- mutants (issue 18) ----
# `make mutants`: each deliberate bug of tests/mutants/mutants.txt in a
# scratch copy, one at a time; fails if the tests named let one survive.
# Not in `make test` (a build and a test run per mutant); run it before
# resolving an issue that touches auth, storage, the core or the cache.
.PHONY: mutants
mutants:
	tests/mutants/run.sh $(MUTANTS)
