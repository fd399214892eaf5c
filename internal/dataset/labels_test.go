package dataset

import (
	"strings"
	"testing"
)

func ptr(v int) *int { return &v }

func names(s *labelSet) string {
	var out []string
	for _, l := range s.list() {
		out = append(out, l.Name)
	}
	return strings.Join(out, ",")
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	e, ok := AsError(err)
	if code == "" {
		if err != nil {
			t.Fatalf("unexpected error %v", err)
		}
		return
	}
	if !ok || e.Code != code {
		t.Fatalf("error %v, want %s", err, code)
	}
}

func TestLabelSetRules(t *testing.T) {
	s := newLabelSet(labelRules{datasetType: TypeTextTriplet}, nil)
	wantCode(t, s.add("l", Label{Name: "person"}), "")
	if *s.byName["person"].l.Type != LabelTripletEntity {
		t.Errorf("default label type of a triplet dataset: %d, want 103", *s.byName["person"].l.Type)
	}
	wantCode(t, s.add("l", Label{Name: "city", Type: ptr(103), Property: map[string]string{PropShortcut: "c"}}), "")
	wantCode(t, s.add("l", Label{Name: "town", Property: map[string]string{PropShortcut: "c"}}), CodeShortcutExists)
	wantCode(t, s.add("l", Label{Name: "x", Type: ptr(0)}), CodeLabelIncompatible)
	wantCode(t, s.add("l", Label{Name: "rel", Type: ptr(102), Property: map[string]string{PropFromType: "person", PropToType: "nowhere"}}), CodeTripletEntity)
	wantCode(t, s.add("l", Label{Name: "rel", Type: ptr(102), Property: map[string]string{PropFromType: "person", PropToType: "city"}}), "")
	wantCode(t, s.add("l", Label{Name: "rel"}), CodeLabelExists)
	wantCode(t, s.remove("l", "city"), CodeEntityInUse)
	wantCode(t, s.update("l", Label{Name: "city", Type: ptr(102)}), CodeEntityInUse)
	wantCode(t, s.update("l", Label{Name: "city", Property: map[string]string{PropRenameTo: "rel"}}), CodeLabelExists)
	wantCode(t, s.update("l", Label{Name: "nobody"}), CodeLabelNotFound)
	wantCode(t, s.update("l", Label{Name: "city", Property: map[string]string{PropRenameTo: "town", PropShortcut: ""}}), "")
	if got := s.byName["rel"].l.Property[PropToType]; got != "town" {
		t.Errorf("relationship follows the rename: %q", got)
	}
	if _, ok := s.byName["town"].l.Property[PropShortcut]; ok {
		t.Error("an empty property value must remove the property")
	}
	// A failed relationship change leaves the set as it was.
	wantCode(t, s.update("l", Label{Name: "rel", Property: map[string]string{PropFromType: "ghost"}}), CodeTripletEntity)
	if s.byName["rel"].l.Property[PropFromType] != "person" || names(s) != "person,town,rel" {
		t.Errorf("set changed by a failed update: %s %v", names(s), s.byName["rel"].l.Property)
	}
	wantCode(t, s.remove("l", "rel"), "")
	wantCode(t, s.remove("l", "town"), "")
	wantCode(t, s.remove("l", "town"), CodeLabelNotFound)
	if names(s) != "person" {
		t.Errorf("labels %s", names(s))
	}
}

func TestTableDatasetHasNoLabels(t *testing.T) {
	s := newLabelSet(labelRules{datasetType: TypeTable}, nil)
	wantCode(t, s.add("l", Label{Name: "a"}), CodeLabelIncompatible)
}
