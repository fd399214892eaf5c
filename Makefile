# The whole test suite: formatting, vet, and every test with the race
# detector. Store tests also run on PostgreSQL when ATELIER_TEST_POSTGRES
# holds a connection URL (CI sets it).
.PHONY: test lint bench build

# -race also turns on the compiler's pointer checks (checkptr) in every
# package. In modernc.org's SQLite and libc, C translated to Go, they check
# nothing of ours and cost more than half of a SQLite-heavy test's time.
# The race detector itself stays on everywhere but in argon2id (with
# blake2b under it): a pure function of its own buffers, shared with no
# other goroutine, where instrumentation finds nothing and makes each
# password hash cost 200 ms instead of 60 ms, which every test that signs
# in pays.
RACEFLAGS := -gcflags='modernc.org/...=-d=checkptr=0' \
	-gcflags='golang.org/x/crypto/argon2=-race=false' -gcflags='golang.org/x/crypto/blake2b=-race=false'

# The packages whose tests take longest are named first: go test starts
# them first, so that they do not run alone at the end while a core idles.
SLOWEST := ./internal/server ./cmd/atelier ./internal/iam ./internal/dataset/teamtask ./internal/dataset/versions ./internal/dataset/importer ./internal/training ./internal/obs/s3store ./internal/tasks

# Beside the race-detector run, the learner's accuracy measurements run
# without it (they skip under -race, where they take minutes), so that the
# accuracies the docs state are asserted on every run; -short leaves out the
# minimum-per-label curve (36 trainings). So do the allocation counts, which
# the race detector's instrumentation changes. They run at the same time as
# the race run, whose last minutes leave a core idle, and their output is
# shown after it.
NORACE := go test -short -count=1 -run 'TestAutoLabelQuality|TestCalibration' ./internal/dataset/autolabel/learn && \
	go test -count=1 -run 'Allocates' ./internal/reqid
test:
	@unformatted=$$(gofmt -l cmd internal bench); if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	@log=$$(mktemp); ( $(NORACE) ) >"$$log" 2>&1 & norace=$$!; \
	echo "go test -race -count=1 -timeout 20m $(RACEFLAGS) $(SLOWEST) ./..."; \
	race=0; go test -race -count=1 -timeout 20m $(RACEFLAGS) $(SLOWEST) ./... || race=$$?; \
	other=0; wait $$norace || other=$$?; \
	echo "$(NORACE)"; cat "$$log"; rm -f "$$log"; \
	[ $$race -eq 0 ] && [ $$other -eq 0 ]

lint:
	staticcheck ./...

# The benchmark set of the hot paths, at reduced size (BENCH_SAMPLES samples
# instead of a million; a few minutes in all), in go test's format, which
# benchstat compares:
#   make bench > old.txt; …change…; make bench > new.txt; benchstat old.txt new.txt
# ATELIER_BENCH_ENGINE=postgres (with ATELIER_TEST_POSTGRES) runs the import
# on PostgreSQL. docs/performance.md has the full-size figures and the
# side-by-side runs against ../shared/floors.
BENCH_SAMPLES ?= 100000
BENCH_COUNT ?= 5
bench:
	go test -run '^$$' -count $(BENCH_COUNT) -benchmem -bench 'Decide|Verify$$|TokenVerify' ./internal/iam/policy/ ./internal/iam/authn/
	go test -run '^$$' -count $(BENCH_COUNT) -benchmem -bench 'AuthenticatedGET' ./internal/server/
	ATELIER_BENCH_SAMPLES=$(BENCH_SAMPLES) go test -run '^$$' -count $(BENCH_COUNT) -benchmem -bench 'ListSamples|SamplePageResponse|SampleStats' ./internal/dataset/
	ATELIER_BENCH_SAMPLES=$(BENCH_SAMPLES) go test -run '^$$' -count $(BENCH_COUNT) -benchmem -bench 'ImportManifest' ./internal/dataset/importer/
	ATELIER_BENCH_SAMPLES=$(BENCH_SAMPLES) go test -run '^$$' -count $(BENCH_COUNT) -benchmem -bench 'ExportManifest' ./internal/dataset/exporter/

build:
	go build -o bin/atelier ./cmd/atelier
