package teamtask_test

import (
	"testing"

	"github.com/atelier-dev/atelier/internal/dataset/annotation"
	"github.com/atelier-dev/atelier/internal/dataset/datasettest"
	"github.com/atelier-dev/atelier/internal/dataset/teamtask"
)

func span(name string, start, end int) annotation.Label {
	return annotation.Label{Name: name, Type: annotation.TypeNamedEntity, Property: map[string]any{
		annotation.PropStartIndex: float64(start), annotation.PropEndIndex: float64(end)}}
}

func TestAgree(t *testing.T) {
	box := datasettest.Box
	withID := func(l annotation.Label, id string) annotation.Label { l.ID = id; return l }
	cases := []struct {
		name string
		x, y []annotation.Label
		want bool
	}{
		{"no-labels", nil, nil, true},
		{"same-class", cls("cat"), cls("cat"), true},
		{"same-classes-other-order", cls("cat", "dog"), cls("dog", "cat"), true},
		{"class-twice-is-one", cls("cat", "cat"), cls("cat"), true},
		{"different-class", cls("cat"), cls("dog"), false},
		{"extra-class", cls("cat"), cls("cat", "dog"), false},
		{"class-against-nothing", cls("cat"), nil, false},
		{"ids-do-not-matter", []annotation.Label{withID(cls("cat")[0], "a")}, []annotation.Label{withID(cls("cat")[0], "b")}, true},
		{"same-box", []annotation.Label{box("car", 0, 0, 10, 10)}, []annotation.Label{box("car", 0, 0, 10, 10)}, true},
		// 10×10 against 10×8 inside it: IoU 0.8.
		{"box-iou-above", []annotation.Label{box("car", 0, 0, 10, 10)}, []annotation.Label{box("car", 0, 0, 10, 8)}, true},
		// Shifted by 5: intersection 50, union 150, IoU 1/3.
		{"box-iou-below", []annotation.Label{box("car", 0, 0, 10, 10)}, []annotation.Label{box("car", 5, 0, 15, 10)}, false},
		// Exactly 0.5: 10×10 against 10×5 inside it.
		{"box-iou-at-threshold", []annotation.Label{box("car", 0, 0, 10, 10)}, []annotation.Label{box("car", 0, 0, 10, 5)}, true},
		{"box-other-name", []annotation.Label{box("car", 0, 0, 10, 10)}, []annotation.Label{box("bus", 0, 0, 10, 10)}, false},
		{"box-count-mismatch", []annotation.Label{box("car", 0, 0, 10, 10)},
			[]annotation.Label{box("car", 0, 0, 10, 10), box("car", 20, 20, 30, 30)}, false},
		{"two-boxes-other-order", []annotation.Label{box("car", 0, 0, 10, 10), box("car", 20, 20, 30, 30)},
			[]annotation.Label{box("car", 21, 20, 31, 30), box("car", 1, 0, 11, 10)}, true},
		// Both of y's boxes overlap x's first box best; one-to-one
		// matching must still fail the second.
		{"boxes-not-one-to-one", []annotation.Label{box("car", 0, 0, 10, 10), box("car", 50, 50, 60, 60)},
			[]annotation.Label{box("car", 0, 0, 10, 10), box("car", 0, 0, 10, 9)}, false},
		{"same-span", []annotation.Label{span("PER", 0, 5)}, []annotation.Label{span("PER", 0, 5)}, true},
		{"span-other-end", []annotation.Label{span("PER", 0, 5)}, []annotation.Label{span("PER", 0, 6)}, false},
		{"span-other-name", []annotation.Label{span("PER", 0, 5)}, []annotation.Label{span("LOC", 0, 5)}, false},
		{"spans-other-order", []annotation.Label{span("PER", 0, 5), span("LOC", 7, 9)},
			[]annotation.Label{span("LOC", 7, 9), span("PER", 0, 5)}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := teamtask.Agree(tc.x, tc.y); got != tc.want {
				t.Errorf("Agree(%+v, %+v) = %v, want %v", tc.x, tc.y, got, tc.want)
			}
			if got := teamtask.Agree(tc.y, tc.x); got != tc.want {
				t.Errorf("Agree is not symmetric: Agree(y, x) = %v, want %v", got, tc.want)
			}
		})
	}
}
