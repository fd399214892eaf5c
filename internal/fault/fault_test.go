package fault

import (
	"errors"
	"fmt"
	"testing"
)

func TestKindThroughWrapping(t *testing.T) {
	e := New(NotFound, "ModelArts.4352", "Dataset does not exist: %s.", "d1")
	wrapped := fmt.Errorf("load dataset: %w", e)
	cases := []struct {
		name string
		err  error
		kind Kind
		code string
	}{
		{"domain-error", e, NotFound, "ModelArts.4352"},
		{"wrapped", wrapped, NotFound, "ModelArts.4352"},
		{"plain-error", errors.New("disk full"), Internal, ""},
		{"nil", nil, Internal, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := KindOf(tc.err); got != tc.kind {
				t.Errorf("KindOf = %d, want %d", got, tc.kind)
			}
			got, ok := As(tc.err)
			if ok != (tc.code != "") || ok && got.Code != tc.code {
				t.Errorf("As = %+v, %v; want code %q", got, ok, tc.code)
			}
		})
	}
	if e.Error() != "Dataset does not exist: d1." {
		t.Errorf("Error() = %q: the message alone, the code is the envelope's", e.Error())
	}
}
