package fault

import (
	"errors"
	"testing"
)

func TestWrap(t *testing.T) {
	domain := New(NotFound, "ModelArts.4619", "no such task")
	infra := errors.New("disk full")
	if Wrap("save", nil) != nil {
		t.Error("nil wrapped into an error")
	}
	if got := Wrap("save", domain); got != domain {
		t.Errorf("a domain error changed: %v", got)
	}
	got := Wrap("save labels", infra)
	if got.Error() != "save labels: disk full" || !errors.Is(got, infra) || KindOf(got) != Internal {
		t.Errorf("an infrastructure error wrapped as %q (kind %v)", got, KindOf(got))
	}
}
