package server_test

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/atelier-dev/atelier/internal/server/servertest"
	"github.com/atelier-dev/atelier/internal/store"
)

// charBoxJS answers the page box [left, top, width, height] of the
// character at a UTF-16 index of the entity editor's text.
const charBoxJS = `(() => {
  const w = document.createTreeWalker(document.querySelector(".ner-text"), NodeFilter.SHOW_TEXT);
  let pos = 0, n;
  while ((n = w.nextNode())) {
    if (%[1]d < pos + n.length) {
      const r = document.createRange();
      r.setStart(n, %[1]d - pos); r.setEnd(n, %[1]d - pos + 1);
      const b = r.getBoundingClientRect();
      return [b.left, b.top, b.width, b.height];
    }
    pos += n.length;
  }
  return [];
})()`

// runeIndex is where word starts in text, in characters (code points), as
// the API counts entity offsets.
func runeIndex(t *testing.T, text, word string) int {
	t.Helper()
	i := strings.Index(text, word)
	if i < 0 {
		t.Fatalf("%q is not in %q", word, text)
	}
	return len([]rune(text[:i]))
}

// spansOf lists a sample's labels as "name start end", sorted, failing on
// a label that is no type-101 entity.
func spansOf(t *testing.T, sample map[string]any) []string {
	t.Helper()
	var out []string
	for _, l := range sample["labels"].([]any) {
		l := l.(map[string]any)
		p, _ := l["property"].(map[string]any)
		if l["type"] != 101.0 || p == nil {
			t.Errorf("label %v is not a named entity", l)
			continue
		}
		out = append(out, fmt.Sprintf("%v %v %v", l["name"], p["@modelarts:start_index"], p["@modelarts:end_index"]))
	}
	sort.Strings(out)
	return out
}

// sampleByText finds the sample of a text dataset whose text is text.
func (c *dsClient) sampleByText(ds, text string) map[string]any {
	c.t.Helper()
	st, list := c.do("GET", "/datasets/"+ds+"/data-annotations/samples?limit=100", nil)
	if st != http.StatusOK {
		c.t.Fatalf("list samples: %d %v", st, list)
	}
	for _, s := range list["samples"].([]any) {
		s := s.(map[string]any)
		if data, _ := s["sample_data"].([]any); len(data) == 1 && data[0] == text {
			return s
		}
	}
	c.t.Fatalf("no sample with the text %q in %v", text, list)
	return nil
}

// TestConsoleMarksEntities creates a named-entity dataset from a folder of
// text in the console, then marks one entity by selecting it with the
// mouse and clicking its label, and one from the keyboard alone (a caret,
// Shift+arrows, the label's number); an overlapping one is refused. The
// API then holds exactly those two spans, their offsets counted in
// characters (the text starts with a character JavaScript counts twice).
// Deleting one (Tab selects it, Delete removes it) and saving leaves the
// other.
func TestConsoleMarksEntities(t *testing.T) {
	t.Parallel()
	env := servertest.StartWith(t, servertest.Options{Engine: store.SQLite})
	c := newDSClient(t, env)
	c.put("data-in", "news/lines.txt", "🚀 Ada Lovelace was born in London.\n🌍 Grace Hopper worked at Harvard.\n")

	ctx := browser(t)
	a := env.Account
	err := chromedp.Do(ctx, append(signInSteps(env, a.UserName, a.Password),
		chromedp.Click(chromedp.Search(`//a[text()="New dataset"]`)),
		chromedp.WaitVisible(chromedp.CSS(`input[name=name]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=name]`), "news"),
		chromedp.SetValue(chromedp.CSS(`select[name=type]`), "101"),
		chromedp.SendKeys(chromedp.CSS(`input[name=input]`), "obs://data-in/news/"),
		chromedp.SendKeys(chromedp.CSS(`input[name=work]`), "obs://data-out/news/"),
		chromedp.SendKeys(chromedp.CSS(`input[name=labels]`), "person, place"),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.Search(`//span[contains(., "2 samples")]`)),
		chromedp.Click(chromedp.Search(`//a[text()="Label these"]`)),
		chromedp.WaitVisible(chromedp.Search(`//span[text()="Sample 1 of 2"]`)),
		chromedp.WaitVisible(chromedp.Search(`//span[text()="0 entities"]`)))...)
	if err != nil {
		t.Fatalf("create the dataset and open the entity editor: %v", err)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || !strings.Contains(loc, "/ner/0") {
		t.Fatalf("the editor's address: %q (%v), want the entity editor", loc, err)
	}
	ds := strings.Split(strings.SplitN(loc, "#/datasets/", 2)[1], "/")[0]
	text, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(`.ner-text`)))
	if err != nil {
		t.Fatal(err)
	}
	first, second := "Ada Lovelace", "London"
	if !strings.Contains(text, first) {
		first, second = "Grace Hopper", "Harvard"
	}

	// The mouse selects the first name, from its first character's left
	// half to its last one's right half, and clicks "person".
	u16 := func(word string) int { return len(utf16.Encode([]rune(text[:strings.Index(text, word)]))) }
	box := func(i int) []float64 {
		b, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](fmt.Sprintf(charBoxJS, i)))
		if err != nil || len(b) != 4 {
			t.Fatalf("the box of character %d: %v %v", i, b, err)
		}
		return b
	}
	from, to := box(u16(first)), box(u16(first)+len(first)-1)
	err = chromedp.Do(ctx,
		chromedp.MouseEvent(input.DispatchMouseEventTypeMousePressed, from[0]+1, from[1]+from[3]/2, chromedp.ButtonLeft),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, (from[0]+to[0])/2, to[1]+to[3]/2, chromedp.ButtonLeft),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, to[0]+to[2]-1, to[1]+to[3]/2, chromedp.ButtonLeft),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseReleased, to[0]+to[2]-1, to[1]+to[3]/2, chromedp.ButtonLeft),
		chromedp.WaitVisible(chromedp.Search(fmt.Sprintf(`//p[contains(., "“%s”") and contains(., "is selected")]`, first))),
		chromedp.Click(chromedp.Search(`//div[@aria-label="Entity labels"]/button[span[text()="person"]]`)),
		chromedp.WaitVisible(chromedp.Search(`//span[text()="1 entity"]`)),
		chromedp.WaitVisible(chromedp.Search(fmt.Sprintf(`//mark[@data-label="person" and text()="%s"]`, first))))
	if err != nil {
		t.Fatalf("mark an entity with the mouse: %v", err)
	}

	// The keyboard alone: Escape leaves the text, ↓ brings a caret back
	// into it, Home and → move it to the second name, Shift+→ selects the
	// name and 2 marks it a place.
	keys := []chromedp.Action[chromedp.Void]{chromedp.KeyEvent(kb.Escape), chromedp.KeyEvent(kb.ArrowDown), chromedp.KeyEvent(kb.Home)}
	for range runeIndex(t, text, second) {
		keys = append(keys, chromedp.KeyEvent(kb.ArrowRight))
	}
	for range len([]rune(second)) {
		keys = append(keys, chromedp.KeyEvent(kb.ArrowRight, chromedp.KeyModifiers(chromedp.ModifierShift)))
	}
	keys = append(keys, chromedp.KeyEvent("2"),
		chromedp.WaitVisible(chromedp.Search(`//span[text()="2 entities"]`)),
		chromedp.WaitVisible(chromedp.Search(fmt.Sprintf(`//mark[@data-label="place" and text()="%s"]`, second))),
		// A selection over both is refused, with the reason.
		chromedp.KeyEvent(kb.Home, chromedp.KeyModifiers(chromedp.ModifierShift)), chromedp.KeyEvent("1"),
		chromedp.WaitVisible(chromedp.Search(fmt.Sprintf(`//p[@role="alert" and contains(., "overlaps the entity “%s”")]`, first))),
		chromedp.WaitVisible(chromedp.Search(`//span[text()="2 entities"]`)))
	if err := chromedp.Do(ctx, keys...); err != nil {
		t.Fatalf("mark an entity by keyboard: %v", err)
	}
	// Leaving with the entities not saved asks first; the answer here is
	// to stay.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.confirm = (m) => { window.asked = m; return false; }, true`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.Search(`//a[text()="← news"]`))); err != nil {
		t.Fatal(err)
	}
	asked, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.asked || ""`))
	if here, _ := chromedp.Run(ctx, chromedp.Location()); err != nil || !strings.Contains(asked, "unsaved") || here != loc {
		t.Errorf("leaving with unsaved entities: asked %q (%v), at %s, want to be asked and stay at %s", asked, err, here, loc)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.Search(`//span[text()="2 entities"]`)),
		chromedp.KeyEvent(kb.Escape), chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.Search(`//span[text()="Sample 2 of 2"]`))); err != nil {
		t.Fatalf("save the entities: %v", err)
	}
	f, s := runeIndex(t, text, first), runeIndex(t, text, second)
	want := []string{fmt.Sprintf("person %d %d", f, f+len([]rune(first))), fmt.Sprintf("place %d %d", s, s+len([]rune(second)))}
	if got := spansOf(t, c.sampleByText(ds, text)); strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("the sample's entities after saving: %v, want %v", got, want)
	}

	// Back on the first sample: Tab selects the first entity, Delete
	// removes it, Enter saves.
	err = chromedp.Do(ctx,
		chromedp.KeyEvent(kb.ArrowLeft),
		chromedp.WaitVisible(chromedp.Search(`//span[text()="Sample 1 of 2"]`)),
		chromedp.WaitVisible(chromedp.Search(`//span[text()="2 entities"]`)),
		chromedp.KeyEvent(kb.Tab),
		chromedp.WaitVisible(chromedp.Search(fmt.Sprintf(`//mark[contains(@class, "selected") and text()="%s"]`, first))),
		chromedp.KeyEvent(kb.Delete),
		chromedp.WaitVisible(chromedp.Search(`//span[text()="1 entity"]`)),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.Search(`//span[text()="Sample 2 of 2"]`)))
	if err != nil {
		t.Fatalf("delete an entity: %v", err)
	}
	if got := spansOf(t, c.sampleByText(ds, text)); strings.Join(got, "; ") != want[1] {
		t.Errorf("the sample's entities after deleting one: %v, want %v", got, want[1:])
	}
}

// TestConsoleLabelsTextByKeyboard labels three text samples in the
// classification editor by keyboard: each sample's text is shown, and the
// API then holds the chosen labels, of the text classification type.
func TestConsoleLabelsTextByKeyboard(t *testing.T) {
	t.Parallel()
	env := servertest.StartWith(t, servertest.Options{Engine: store.SQLite})
	c := newDSClient(t, env)
	c.put("data-in", "reviews/r.txt", "great phone\nbroke in a day\nworks as promised\n")
	ds := c.create("reviews", 100, map[string]any{"labels": []any{map[string]any{"name": "positive", "type": 100}, map[string]any{"name": "negative", "type": 100}}})
	c.waitIdle(ds)
	keyOf := map[string]string{"great phone": "1", "broke in a day": "2", "works as promised": "1"}

	ctx := browser(t)
	a := env.Account
	if err := chromedp.Do(ctx, append(signInSteps(env, a.UserName, a.Password),
		chromedp.Click(chromedp.Search(`//tr[td/a[text()="reviews"]]//a[text()="Label"]`)))...); err != nil {
		t.Fatalf("open the editor: %v", err)
	}
	seen := map[string]bool{}
	for i := range 3 {
		if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.Search(fmt.Sprintf(`//span[text()="Sample %d of 3"]`, i+1)))); err != nil {
			t.Fatalf("sample %d: %v", i+1, err)
		}
		text, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(`.stage pre.text-sample`)))
		if err != nil {
			t.Fatalf("sample %d: %v", i+1, err)
		}
		key, ok := keyOf[text]
		if !ok || seen[text] {
			t.Fatalf("sample %d shows %q, not one of the texts still to label", i+1, text)
		}
		seen[text] = true
		if err := chromedp.Do(ctx, chromedp.KeyEvent(key), chromedp.WaitVisible(chromedp.Search(`//span[text()="not saved"]`)),
			chromedp.KeyEvent(kb.Enter)); err != nil {
			t.Fatalf("label sample %d: %v", i+1, err)
		}
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.Search(`//span[text()="saved"]`))); err != nil {
		t.Fatal(err)
	}
	names := map[string]string{"1": "positive", "2": "negative"}
	for text, key := range keyOf {
		s := c.sampleByText(ds, text)
		labels := s["labels"].([]any)
		if len(labels) != 1 || labels[0].(map[string]any)["name"] != names[key] || labels[0].(map[string]any)["type"] != 100.0 {
			t.Errorf("%q has labels %v, want %s of type 100", text, labels, names[key])
		}
	}
}

// TestConsoleTeamMarksEntities labels a named-entity dataset as a team: the
// labeler's queue opens the entity editor, where the keyboard marks each
// sample's first two words (Ctrl+Shift+→ twice) as a person; the reviewer
// sees the entity drawn in the text.
func TestConsoleTeamMarksEntities(t *testing.T) {
	t.Parallel()
	env := servertest.StartWith(t, servertest.Options{Engine: store.SQLite})
	c := newDSClient(t, env)
	texts := map[string]string{"Alan Turing lived in Wilmslow.": "person 0 11", "Grace Hopper worked at Harvard.": "person 0 12"}
	c.put("data-in", "people/p.txt", "Alan Turing lived in Wilmslow.\nGrace Hopper worked at Harvard.\n")
	ds := c.create("people", 101, map[string]any{"labels": []any{map[string]any{"name": "person", "type": 101}, map[string]any{"name": "place", "type": 101}}})
	c.waitIdle(ds)
	_, out := c.do("POST", "/workforces", map[string]any{"workforce_name": "people-team"})
	team := out["workforce_id"].(string)
	ann := addMember(t, env, c, team, "ann@example.com", 0)
	rita := addMember(t, env, c, team, "rita@example.com", 1)
	st, out := c.do("POST", "/datasets/"+ds+"/workforce-tasks", map[string]any{"task_name": "people-labeling",
		"workforces_config": map[string]any{"workforces": []any{map[string]any{"workforce_id": team}}}})
	if st != http.StatusOK {
		t.Fatalf("create task: %d %v", st, out)
	}
	task := "/datasets/" + ds + "/workforce-tasks/" + out["task_id"].(string)
	if st, out := c.do("POST", task, map[string]any{}); st != http.StatusOK {
		t.Fatalf("start task: %d %v", st, out)
	}

	root := browser(t)
	if err := chromedp.Do(root, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	pass := func(m *member) string { return "Member-pass-" + fmt.Sprint(len(m.email)) + "x" } // addMember's
	lab := signInAs(t, root, env, ann.name, pass(ann))
	steps := []chromedp.Action[chromedp.Void]{chromedp.Click(chromedp.Search(`//a[text()="Label"]`))}
	for i := range 2 {
		steps = append(steps, chromedp.WaitVisible(chromedp.Search(fmt.Sprintf(`//span[text()="Sample %d of 2"]`, i+1))),
			chromedp.WaitVisible(chromedp.CSS(`.ner-text`)), chromedp.KeyEvent(kb.ArrowDown),
			chromedp.KeyEvent(kb.ArrowRight, chromedp.KeyModifiers(chromedp.ModifierCtrl|chromedp.ModifierShift)),
			chromedp.KeyEvent(kb.ArrowRight, chromedp.KeyModifiers(chromedp.ModifierCtrl|chromedp.ModifierShift)),
			chromedp.KeyEvent("1"), chromedp.WaitVisible(chromedp.Search(`//span[text()="1 entity"]`)),
			chromedp.WaitVisible(chromedp.Search(`//span[text()="not saved"]`)), chromedp.KeyEvent(kb.Enter))
	}
	steps = append(steps, chromedp.WaitVisible(chromedp.Search(`//span[text()="saved"]`)))
	if err := chromedp.Do(lab, steps...); err != nil {
		t.Fatalf("the labeler marks entities: %v", err)
	}
	_, page := c.do("GET", task+"/data-annotations/samples?limit=10", nil)
	samples := page["samples"].([]any)
	if len(samples) != 2 {
		t.Fatalf("the task's samples: %v", page)
	}
	for _, s := range samples {
		s := s.(map[string]any)
		data, _ := s["sample_data"].([]any)
		if len(data) != 1 {
			t.Fatalf("a team sample without its text: %v", s)
		}
		if got := strings.Join(spansOf(t, s), "; "); got != texts[data[0].(string)] {
			t.Errorf("%q has the entities %q, want %q", data[0], got, texts[data[0].(string)])
		}
	}

	rev := signInAs(t, root, env, rita.name, pass(rita))
	if err := chromedp.Do(rev, chromedp.Click(chromedp.Search(`//a[text()="Review"]`)),
		chromedp.WaitVisible(chromedp.Search(`//span[text()="2 waiting for review"]`)),
		chromedp.WaitVisible(chromedp.Search(`//pre[contains(@class, "text-sample")]/mark[@data-label="person"]`))); err != nil {
		t.Fatalf("the reviewer sees the entity: %v", err)
	}
}
