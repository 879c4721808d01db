# onboard: make demo runs the whole story locally, make test runs every test.
GO        ?= go
BIN       := bin/onboard
FUZZTIME  ?= 5s
DEMO_DIR  ?= out/demo
DEMO_SERVE ?= 127.0.0.1:8080

.PHONY: all build services browser demo test vet fmt-check fuzz bench-import bench-rate bench-callbacks clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/onboard

# Start Postgres and Redis when they are installed but stopped.
services:
	@./scripts/services.sh

# Install Chromium for the browser test when missing (Debian, as root).
browser:
	@./scripts/chromium.sh

demo: services build
	./$(BIN) demo --out $(DEMO_DIR) --serve '$(DEMO_SERVE)'

# The full test suite: vet, formatting, every package with the race detector,
# then each fuzz target for $(FUZZTIME). Installs Chromium for the browser test
# when it is missing and the machine can.
test: services browser vet fmt-check
	$(GO) test -race -count=1 -timeout 30m ./...
	@$(MAKE) --no-print-directory fuzz

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# Targets whose single runs can take seconds (a whole workbook per input) get
# a number of inputs instead of a time: with a time limit, Go's fuzzing
# coordinator reports "context deadline exceeded" as a failure when the limit
# passes while such an input still runs.
FUZZ_BY_COUNT ?= FuzzSheetXML FuzzWorkbook
FUZZCOUNT     ?= 300x

fuzz:
	@for pkg in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -r -n1 dirname | sort -u); do \
	  for fn in $$(grep -h '^func Fuzz' $$pkg/*_test.go | sed 's/^func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
	    t=$(FUZZTIME); case " $(FUZZ_BY_COUNT) " in *" $$fn "*) t=$(FUZZCOUNT);; esac; \
	    echo "fuzz $$pkg $$fn for $$t"; \
	    $(GO) test -run='^$$' -fuzz="^$$fn$$" -fuzztime=$$t $$pkg || exit 1; \
	  done; \
	done

bench-import: services build
	./scripts/bench-import.sh

bench-rate: services build
	./scripts/bench-rate.sh

# Time from a company's verification to its service request, with the
# platform's callbacks and with polling only (p50, p99).
bench-callbacks: services
	$(GO) run ./internal/benchcallbacks

clean:
	rm -rf bin out
