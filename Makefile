# The whole test suite: formatting, vet, and every test with the race
# detector. Store tests also run on PostgreSQL when ATELIER_TEST_POSTGRES
# holds a connection URL (CI sets it).
.PHONY: test lint bench build

test:
	@unformatted=$$(gofmt -l cmd internal bench); if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	go test -race -count=1 -timeout 20m ./...

lint:
	staticcheck ./...

bench:
	go test -run '^$$' -bench . -benchmem ./internal/iam/policy/ ./internal/iam/authn/

build:
	go build -o bin/atelier ./cmd/atelier
