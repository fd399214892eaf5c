package authn

import (
	"go/parser"
	"go/token"
	"strings"
	"testing"
)

// TestPackageComment keeps the package's statement of what it owns.
func TestPackageComment(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "doc.go", nil, parser.PackageClauseOnly|parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	if f.Doc == nil || !strings.HasPrefix(f.Doc.Text(), "Package authn ") {
		t.Error("doc.go lacks the package comment")
	}
}
