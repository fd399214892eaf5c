package learn

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// TestMinPerClassCurve is the measurement behind MinPerClass: accuracy and
// calibration error on the unlabeled rest when each class has n labels,
// averaged over three labelings. It asserts the property that decided the
// minimum: at MinPerClass labels per class, the learner is right on most
// of the rest and its confidences are not far off.
func TestMinPerClassCurve(t *testing.T) {
	skipMeasurementUnderRace(t)
	if testing.Short() {
		t.Skip("a measurement of 36 trainings")
	}
	ns := []int{2, 3, 4, 5, 8, 12}
	cases := []struct {
		name    string
		fixture func(*testing.T) (*Matrix, []int)
		classes []string
		acc     float64 // least mean accuracy at MinPerClass
		ece     float64 // largest mean calibration error at MinPerClass
	}{
		{"shapes", shapeFixture, shapeClasses, 0.72, 0.08},
		{"topics", textFixture, topicNames, 0.55, 0.13},
	}
	var table strings.Builder
	for _, tc := range cases {
		x, ys := tc.fixture(t)
		fmt.Fprintf(&table, "\n%-8s", tc.name)
		for _, n := range ns {
			var acc, ece float64
			seeds := []uint64{1, 2, 3}
			for _, seed := range seeds {
				labels := handLabelN(ys, tc.classes, n, seed)
				res, err := autoLabel(context.Background(), x, labels, Options{Seed: seed}, 2)
				if err != nil {
					t.Fatalf("%s, %d per class: %v", tc.name, n, err)
				}
				acc += accuracyOf(res, ys, tc.classes) / float64(len(seeds))
				ece += expectedCalibrationError(res, ys, tc.classes) / float64(len(seeds))
			}
			fmt.Fprintf(&table, "  %d: %.3f/%.3f", n, acc, ece)
			if n == MinPerClass {
				if acc < tc.acc {
					t.Errorf("%s: %d labels per class give accuracy %.3f, want at least %.2f", tc.name, n, acc, tc.acc)
				}
				if ece > tc.ece {
					t.Errorf("%s: %d labels per class give calibration error %.3f, want at most %.2f", tc.name, n, ece, tc.ece)
				}
			}
		}
	}
	t.Logf("accuracy/calibration error by labels per class:%s", table.String())
}
