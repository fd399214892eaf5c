package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/atelier-dev/atelier/internal/api"
)

// maxRoutesWidth is the widest line `atelier routes` may print: it must fit
// a terminal of 80 to 120 columns.
const maxRoutesWidth = 120

func TestRoutesListsEveryAPI(t *testing.T) {
	var out bytes.Buffer
	root := newRoot(&out)
	root.SetArgs([]string{"routes"})
	if err := root.Execute(); err != nil {
		t.Fatalf("atelier routes: %v", err)
	}
	text := out.String()
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if w := len([]rune(l)); w > maxRoutesWidth {
			t.Errorf("line %d is %d columns wide, more than %d: %q", i+1, w, maxRoutesWidth, l)
		}
	}
	table := api.Table()
	implemented := 0
	for _, rt := range table {
		// A route is a block: "METHOD PATH", then indented lines until a
		// blank line.
		start := slices.IndexFunc(lines, func(l string) bool { return l == rt.Method+" "+rt.Path })
		if start < 0 {
			t.Errorf("routes output has no block for %s %s", rt.Method, rt.Path)
			continue
		}
		end := start + 1
		for end < len(lines) && lines[end] != "" {
			end++
		}
		block := strings.Join(lines[start:end], "\n")
		action := rt.Action
		switch {
		case rt.Public:
			action = "(public)"
		case rt.Self:
			action = "(self)"
		}
		want := "not implemented"
		if rt.Implemented() {
			want = "implemented"
			implemented++
		}
		if !strings.Contains(block, "  "+action+"  ") || !strings.Contains(block, "  "+want+"\n") {
			t.Errorf("block of %s %s does not say %q and %q:\n%s", rt.Method, rt.Path, action, want, block)
		}
		// Related actions may wrap; each one is a whole word of the block.
		for _, rel := range rt.Related {
			if !slices.Contains(strings.FieldsFunc(block, func(r rune) bool { return r == ' ' || r == ',' || r == '\n' }), rel) {
				t.Errorf("block of %s %s does not name related action %s:\n%s", rt.Method, rt.Path, rel, block)
			}
		}
		if !strings.Contains(strings.Join(strings.Fields(block), " "), rt.Name) {
			t.Errorf("block of %s %s does not name %q:\n%s", rt.Method, rt.Path, rt.Name, block)
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
	want := 0
	for _, rt := range api.Table() {
		if rt.Family == "training" {
			want++
		}
	}
	if !strings.Contains(out.String(), fmt.Sprintf("%d routes", want)) || strings.Contains(out.String(), "/v3/") {
		t.Fatalf("training family: want the %d training routes and nothing else, got:\n%s", want, out.String())
	}
}

// TestRoutesJSON holds `atelier routes --json` to the route table: one
// object per row with every field a script needs.
func TestRoutesJSON(t *testing.T) {
	var out bytes.Buffer
	root := newRoot(&out)
	root.SetArgs([]string{"routes", "--json"})
	if err := root.Execute(); err != nil {
		t.Fatalf("atelier routes --json: %v", err)
	}
	var got []struct {
		Name        string   `json:"name"`
		Method      string   `json:"method"`
		Path        string   `json:"path"`
		Action      string   `json:"action"`
		Related     []string `json:"related"`
		Family      string   `json:"family"`
		Implemented bool     `json:"implemented"`
		Public      bool     `json:"public"`
		Self        bool     `json:"self"`
	}
	dec := json.NewDecoder(&out)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("routes --json is not a JSON array of routes: %v", err)
	}
	table := api.Table()
	if len(got) != len(table) {
		t.Fatalf("routes --json has %d routes, the table %d", len(got), len(table))
	}
	for i, rt := range table {
		g := got[i]
		related := rt.Related
		if related == nil {
			related = []string{}
		}
		if g.Name != rt.Name || g.Method != rt.Method || g.Path != rt.Path || g.Action != rt.Action || g.Family != rt.Family ||
			g.Implemented != rt.Implemented() || g.Public != rt.Public || g.Self != rt.Self || !slices.Equal(g.Related, related) || g.Related == nil {
			t.Errorf("route %d: got %+v, want the row %s %s (%s, action %q, related %v, family %s, implemented %v)",
				i, g, rt.Method, rt.Path, rt.Name, rt.Action, rt.Related, rt.Family, rt.Implemented())
		}
	}
}

// TestUnknownCommand: a mistyped command is an error that names it, with
// suggestions, for the root and for every command group; it never prints
// the help and succeeds.
func TestUnknownCommand(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		want    string
		suggest string
	}{
		{"root", []string{"rotes"}, `unknown command "rotes" for "atelier"`, "routes"},
		{"train", []string{"train", "lst"}, `unknown command "lst" for "atelier train"`, "list"},
		{"data", []string{"data", "shwo"}, `unknown command "shwo" for "atelier data"`, "show"},
		{"data-after-flags", []string{"data", "--endpoint", "http://127.0.0.1:1", "shwo"}, `unknown command "shwo" for "atelier data"`, "show"},
		{"data-list", []string{"data", "lst"}, `unknown command "lst" for "atelier data"`, "list"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			root := newRoot(&out)
			root.SetOut(&out)
			root.SetErr(&out)
			root.SetArgs(tc.args)
			err := root.Execute()
			if err == nil {
				t.Fatalf("atelier %s succeeded; want an error naming the unknown command. Output:\n%s", strings.Join(tc.args, " "), out.String())
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "Did you mean this?\n\t"+tc.suggest) {
				t.Errorf("atelier %s: error %q; want %q suggesting %q", strings.Join(tc.args, " "), err, tc.want, tc.suggest)
			}
		})
	}
	t.Run("group-alone-prints-help", func(t *testing.T) {
		var out bytes.Buffer
		root := newRoot(&out)
		root.SetOut(&out)
		root.SetArgs([]string{"train"})
		if err := root.Execute(); err != nil || !strings.Contains(out.String(), "Available Commands") {
			t.Errorf("atelier train: %v; want its help:\n%s", err, out.String())
		}
	})
}
