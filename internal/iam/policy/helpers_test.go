package policy

import (
	"strings"
	"testing"
)

// testRegistry is a small ActionRegistry; IsRegistered is exact, as a real
// registry's might be, so Parse's case-insensitive fallback is exercised.
type testRegistry struct {
	list []string
	set  map[string]bool
}

func newTestRegistry(actions ...string) *testRegistry {
	r := &testRegistry{list: actions, set: make(map[string]bool)}
	for _, a := range actions {
		r.set[a] = true
	}
	return r
}

func (r *testRegistry) IsRegistered(a string) bool { return r.set[a] }
func (r *testRegistry) Actions() []string          { return r.list }

var testReg = newTestRegistry(
	"modelarts:trainJob:create", "modelarts:trainJob:get", "modelarts:trainJob:list",
	"modelarts:trainJob:delete", "modelarts:trainJob:update",
	"modelarts:dataset:getDataset", "modelarts:dataset:listDatasets", "modelarts:dataset:createDataset",
	"modelarts:dataset:updateDataset", "modelarts:dataset:deleteDataset",
	"obs:object:GetObject", "obs:object:PutObject", "obs:object:DeleteObject",
	"obs:bucket:ListBucket", "obs:bucket:HeadBucket", "obs:bucket:ListAllMyBuckets",
	"iam:users:createUser", "iam:users:listUsers",
)

// pol wraps statements (JSON objects) into a policy document.
func pol(statements ...string) string {
	return `{"Version":"1.1","Statement":[` + strings.Join(statements, ",") + `]}`
}

func mustParse(t testing.TB, raw string) *Document {
	t.Helper()
	d, err := Parse([]byte(raw), testReg)
	if err != nil {
		t.Fatalf("Parse(%s): %v", raw, err)
	}
	return d
}
