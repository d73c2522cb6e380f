# alertmesh — the commands a person needs. See README.md.
SWIFT ?= swift
SWIFT_BUILD_FLAGS ?=

.PHONY: all build run test loadtest bench fuzz proto lint clean

all: build

## build: debug build of everything (installs missing Debian packages first when root)
build:
	@scripts/install-deps build
	$(SWIFT) build $(SWIFT_BUILD_FLAGS)

## run: the whole mesh on loopback (redis-server, influxd, alert-services, workers, api-service); Ctrl-C stops it
run:
	@scripts/run-mesh

## test: the whole test suite (unit + integration against real sockets and services), after lint
test: lint
	@scripts/install-deps test
	$(SWIFT) build --build-tests $(SWIFT_BUILD_FLAGS)
	@# A backstop: no test may hang CI (each test also bounds its own waits).
	timeout --signal=KILL $${TEST_TIMEOUT:-1200} $(SWIFT) test --skip-build $(SWIFT_BUILD_FLAGS)

## loadtest: load-test the API `make run` serves (LOADTEST_ARGS, default 20,000 tasks at concurrency 32)
loadtest:
	scripts/loadtest --url http://127.0.0.1:$${HTTP_PORT:-8080} $${LOADTEST_ARGS:---tasks 20000 --concurrency 32}

## bench: every benchmark, each next to its baseline measured in the same run
bench:
	@scripts/install-deps bench
	bench/run

## fuzz: run the frame-decoder fuzzer for a bounded time (FUZZ_SECONDS, default 60)
fuzz:
	@scripts/install-deps build
	scripts/fuzz $${FUZZ_SECONDS:-60}

## proto: regenerate Sources/MeshProto from proto/ (slow: builds protoc-gen-swift once)
proto:
	scripts/gen-proto

## lint: swift-format over our code (generated protobuf code excluded)
lint:
	$(SWIFT) format lint --strict -r $(filter-out Sources/MeshProto,$(wildcard Sources/*)) Tests \
		bench/bench-server bench/bench-detect bench/bench-redis bench/bench-log

clean:
	rm -rf .build .build-*
