package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/atelier-dev/atelier/internal/api"
)

func TestRoutesListsEveryAPI(t *testing.T) {
	var out bytes.Buffer
	root := newRoot(&out)
	root.SetArgs([]string{"routes"})
	if err := root.Execute(); err != nil {
		t.Fatalf("atelier routes: %v", err)
	}
	text := out.String()
	table := api.Table()
	implemented := 0
	for _, rt := range table {
		line := ""
		for _, l := range strings.Split(text, "\n") {
			f := strings.Fields(l)
			if len(f) >= 5 && f[0] == rt.Method && f[1] == rt.Path {
				line = l
				break
			}
		}
		if line == "" {
			t.Errorf("routes output has no line for %s %s", rt.Method, rt.Path)
			continue
		}
		if rt.Action != "" && !strings.Contains(line, rt.Action) {
			t.Errorf("line for %s %s does not name action %s: %q", rt.Method, rt.Path, rt.Action, line)
		}
		want := " no "
		if rt.Implemented() {
			want = " yes "
			implemented++
		}
		if !strings.Contains(line, want) {
			t.Errorf("line for %s %s does not say %q: %q", rt.Method, rt.Path, strings.TrimSpace(want), line)
		}
	}
	if summary := fmt.Sprintf("%d routes, %d implemented", len(table), implemented); !strings.Contains(text, summary) {
		t.Errorf("routes output lacks the summary %q", summary)
	}
}

func TestRoutesFamilyFilter(t *testing.T) {
	var out bytes.Buffer
	root := newRoot(&out)
	root.SetArgs([]string{"routes", "--family", "training"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "17 routes") || strings.Contains(out.String(), "/v3/") {
		t.Fatalf("training family: want the 17 training routes and nothing else, got:\n%s", out.String())
	}
}
