package datasettest

import (
	"fmt"
	"os"
	"strconv"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/annotation"
)

// BenchLabels is how many classification labels BenchInputs spreads the
// samples over.
const BenchLabels = 20

// BenchSize is the size of the benchmarks' datasets: ATELIER_BENCH_SAMPLES,
// 1,000,000 by default.
func BenchSize() int {
	if v, err := strconv.Atoi(os.Getenv("ATELIER_BENCH_SAMPLES")); err == nil && v > 0 {
		return v
	}
	return 1_000_000
}

// BenchInputs are n image samples from number start on, each with one of
// BenchLabels labels.
func BenchInputs(start, n int) []dataset.SampleInput {
	in := make([]dataset.SampleInput, n)
	for i := range in {
		k := start + i
		in[i] = dataset.SampleInput{Source: fmt.Sprintf("obs://data/in/%07d.jpg", k), SampleType: 0, Size: 1000,
			SampleTime: 1_700_000_000_000, Labels: []annotation.Label{{Name: fmt.Sprintf("label-%02d", k%BenchLabels)}}}
	}
	return in
}
