package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/modelarts/v1/model"

	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/server/servertest"
	"github.com/atelier-dev/atelier/internal/store"
)

// chromium finds Debian's Chromium, which .ci/run installs; without it the
// browser tests skip, except in CI, where its absence is a failure.
func chromium(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no Chromium on this machine: .ci/run installs Debian's chromium")
	}
	t.Skip("no Chromium on this machine (apt-get install chromium)")
	return ""
}

// sharedChromium is the one headless Chromium the package's browser tests
// share: starting one per test cost a few seconds of CPU each. Every test
// (and every user within a test) gets a browser context of its own, which
// shares no cookies, storage or cache with the others, as a fresh profile
// would not either. It ends with the test binary (chromedp kills it when
// its parent dies).
var sharedChromium struct {
	once    sync.Once
	browser context.Context // the first tab's context: its browser is shared
	err     error
}

// chromiumBrowser starts the shared Chromium once and returns its context.
func chromiumBrowser(t testing.TB) context.Context {
	t.Helper()
	path := chromium(t)
	sharedChromium.once.Do(func() {
		dir, err := os.MkdirTemp("", "atelier-chromium-")
		if err != nil {
			sharedChromium.err = err
			return
		}
		opts := append(chromedp.DefaultExecAllocatorOptions[:],
			chromedp.ExecPath(path), chromedp.UserDataDir(dir),
			chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
			chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
			chromedp.WindowSize(1280, 900))
		actx, _ := chromedp.NewExecAllocator(context.Background(), opts...)
		bctx, _ := chromedp.NewContext(actx)
		if err := chromedp.Do(bctx); err != nil {
			sharedChromium.err = fmt.Errorf("start Chromium: %w", err)
			return
		}
		sharedChromium.browser = bctx
	})
	if sharedChromium.err != nil {
		t.Fatal(sharedChromium.err)
	}
	return sharedChromium.browser
}

// browser opens a tab in a new browser context of the shared Chromium and
// returns a context to drive it; on failure the test saves a screenshot of
// the page and names the file.
func browser(t testing.TB) context.Context {
	t.Helper()
	shared := chromiumBrowser(t)
	// Any uncaught exception or console error of the page fails the test
	// (the console reports refused content security policy there too).
	var mu sync.Mutex
	var pageErrors []string
	listen := chromedp.WithListener(func(ev any) {
		var msg string
		switch e := ev.(type) {
		case *cdpruntime.EventExceptionThrown:
			msg = "exception: " + e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				msg += " " + e.ExceptionDetails.Exception.Description
			}
		case *cdpruntime.EventConsoleAPICalled:
			if e.Type != cdpruntime.ConsoleAPICalledTypeError {
				return
			}
			msg = "console error:"
			for _, a := range e.Args {
				msg += " " + string(a.Value) + a.Description
			}
		default:
			return
		}
		mu.Lock()
		pageErrors = append(pageErrors, msg)
		mu.Unlock()
	})
	tab, cancelTab := chromedp.NewContext(shared, chromedp.WithNewBrowserContext(), listen)
	// The tab is opened on its own context, so that it outlives the steps'
	// deadline below and a test that timed out still gets its screenshot.
	if err := chromedp.Do(tab); err != nil {
		cancelTab()
		t.Fatalf("open a tab in Chromium: %v", err)
	}
	ctx, cancelTime := context.WithTimeout(tab, 90*time.Second)
	t.Cleanup(func() {
		mu.Lock()
		for _, e := range pageErrors {
			t.Errorf("the page reported %s", e)
		}
		mu.Unlock()
		if t.Failed() {
			sctx, cancel := context.WithTimeout(tab, 10*time.Second)
			if shot, err := chromedp.Run(sctx, chromedp.FullScreenshot(100)); err == nil {
				dir := filepath.Join(os.TempDir(), "atelier-screenshots")
				_ = os.MkdirAll(dir, 0o755)
				path := filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())+".png")
				if os.WriteFile(path, shot, 0o644) == nil {
					t.Logf("screenshot of the failed page: %s", path)
				}
			}
			cancel()
		}
		cancelTime()
		cancelTab() // closes the tab and disposes of its browser context
	})
	return ctx
}

// signInSteps open the console and sign a user of the bootstrap account in.
func signInSteps(env *servertest.Env, user, password string) []chromedp.Action[chromedp.Void] {
	return []chromedp.Action[chromedp.Void]{
		chromedp.Navigate(env.URL + "/console/"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=domain]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=domain]`), env.Account.DomainName),
		chromedp.SendKeys(chromedp.CSS(`input[name=user]`), user),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), password),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
	}
}

// pngOf draws a small image of one colour.
func pngOf(t testing.TB, c color.Color) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 320, 240))
	for y := 0; y < 240; y++ {
		for x := 0; x < 320; x++ {
			img.Set(x, y, c)
			if (x/40+y/40)%2 == 0 { // a checkerboard, to see the image is drawn
				img.Set(x, y, color.RGBA{240, 240, 240, 255})
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestConsoleLabelsImagesByKeyboard signs in to the console in Chromium,
// creates a dataset from a folder of images in object storage (the import
// runs and the page follows it), and labels five images with the keyboard
// alone (a label's number toggles it, Enter saves and moves on); the API
// then holds exactly those labels.
func TestConsoleLabelsImagesByKeyboard(t *testing.T) {
	t.Parallel()
	env := servertest.StartWith(t, servertest.Options{Engine: store.SQLite})
	c := newDSClient(t, env) // makes the buckets data-in and data-out
	colors := []color.Color{color.RGBA{200, 30, 30, 255}, color.RGBA{30, 200, 30, 255}, color.RGBA{30, 30, 200, 255},
		color.RGBA{200, 200, 30, 255}, color.RGBA{30, 200, 200, 255}, color.RGBA{200, 30, 200, 255}}
	for i, col := range colors {
		if _, err := env.App.Objects.Put(context.Background(), "data-in", fmt.Sprintf("pets/img%d.png", i), bytes.NewReader(pngOf(t, col)), obs.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	ctx := browser(t)
	a := env.Account
	// The keys a labeler presses on samples 1 to 5: the cat's number, the
	// dog's, and both on the third (multi-label).
	keys := [][]string{{"1"}, {"2"}, {"1", "2"}, {"1"}, {"2"}}
	actions := append(signInSteps(env, a.UserName, a.Password),
		chromedp.Click(chromedp.Search(`//a[text()="New dataset"]`)),
		chromedp.WaitVisible(chromedp.CSS(`input[name=name]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=name]`), "pets"),
		chromedp.SendKeys(chromedp.CSS(`input[name=input]`), "obs://data-in/pets/"),
		chromedp.SendKeys(chromedp.CSS(`input[name=work]`), "obs://data-out/pets/"),
		chromedp.SendKeys(chromedp.CSS(`input[name=labels]`), "cat, dog"),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		// The import ends and the dataset's page shows its six images.
		chromedp.WaitVisible(chromedp.Search(`//span[contains(., "6 samples")]`)),
		chromedp.Click(chromedp.Search(`//a[text()="Label these"]`)))
	for i, ks := range keys {
		actions = append(actions, chromedp.WaitVisible(chromedp.Search(fmt.Sprintf(`//span[text()="Sample %d of 6"]`, i+1))),
			chromedp.WaitVisible(chromedp.CSS(`.stage img`)))
		for _, k := range ks {
			actions = append(actions, chromedp.KeyEvent(k))
		}
		actions = append(actions, chromedp.WaitVisible(chromedp.Search(`//span[text()="not saved"]`)), chromedp.KeyEvent(kb.Enter))
	}
	actions = append(actions, chromedp.WaitVisible(chromedp.Search(`//span[text()="Sample 6 of 6"]`)))
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("drive the console: %v", err)
	}
	// ATELIER_CONSOLE_SCREENSHOT names a file for a picture of the editor
	// (the README's): the sixth image with the cat chosen, not saved yet.
	if path := os.Getenv("ATELIER_CONSOLE_SCREENSHOT"); path != "" {
		if err := chromedp.Do(ctx, chromedp.KeyEvent("1"), chromedp.WaitVisible(chromedp.Search(`//span[text()="not saved"]`))); err != nil {
			t.Fatal(err)
		}
		shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil || os.WriteFile(path, shot, 0o644) != nil {
			t.Fatalf("screenshot to %s: %v", path, err)
		}
		if err := chromedp.Do(ctx, chromedp.KeyEvent("1")); err != nil { // leave the sixth as it was
			t.Fatal(err)
		}
	}

	// The labeled dataset is published as a version from the console.
	err := chromedp.Do(ctx,
		chromedp.Click(chromedp.Search(`//a[text()="← pets"]`)),
		chromedp.Click(chromedp.Search(`//a[starts-with(., "Versions")]`)),
		chromedp.Click(chromedp.Search(`//button[text()="Publish a version"]`)),
		chromedp.WaitVisible(chromedp.Search(`//td[text()="ready"]`)),
		chromedp.WaitVisible(chromedp.Search(`//td[text()="5 / 6 labeled"]`)))
	if err != nil {
		t.Fatalf("publish a version: %v", err)
	}
	// The editor walks the samples in the list's order; the API holds
	// what was pressed on each.
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	ds := strings.Split(strings.SplitN(loc, "#/datasets/", 2)[1], "/")[0]
	_, list := c.do("GET", "/datasets/"+ds+"/data-annotations/samples?limit=6", nil)
	items := list["samples"].([]any)
	want := []string{"cat", "dog", "cat,dog", "cat", "dog", ""}
	for i, it := range items {
		var names []string
		for _, l := range it.(map[string]any)["labels"].([]any) {
			names = append(names, l.(map[string]any)["name"].(string))
		}
		got := strings.Join(sortedCopy(names), ",")
		if got != want[i] {
			t.Errorf("sample %d (%v) has labels %q, want %q", i+1, it.(map[string]any)["sample_name"], got, want[i])
		}
	}
}

func sortedCopy(s []string) []string {
	out := append([]string(nil), s...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// signInAs signs a user in to the console in its own browser context
// (its own storage), as a second person at another desk would.
func signInAs(t *testing.T, parent context.Context, env *servertest.Env, user, password string) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(parent, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	// A team member has no dataset of its own: the console opens its tasks.
	err := chromedp.Do(ctx, append(signInSteps(env, user, password), chromedp.WaitVisible(chromedp.Search(`//h1[text()="My tasks"]`)))...)
	if err != nil {
		t.Fatalf("sign %s in: %v", user, err)
	}
	return ctx
}

// TestConsoleTeamFlow runs team labeling in the console as two labelers and
// a reviewer, each in a browser context of its own: the labelers label
// their own samples by keyboard, the reviewer passes three and rejects one
// with a comment, and the rejected labeler sees the comment on its sample.
func TestConsoleTeamFlow(t *testing.T) {
	t.Parallel()
	env := servertest.StartWith(t, servertest.Options{Engine: store.SQLite})
	c := newDSClient(t, env)
	ds := c.create("fruit", 0, map[string]any{"labels": []any{map[string]any{"name": "apple", "type": 0}, map[string]any{"name": "pear", "type": 0}}})
	var samples []any
	for i := range 4 {
		samples = append(samples, map[string]any{"name": fmt.Sprintf("f%d.png", i),
			"data": base64.StdEncoding.EncodeToString(pngOf(t, color.RGBA{uint8(60 * i), 120, 40, 255}))})
	}
	if st, out := c.do("POST", "/datasets/"+ds+"/data-annotations/samples", map[string]any{"samples": samples}); st != http.StatusOK {
		t.Fatalf("add samples: %d %v", st, out)
	}
	_, out := c.do("POST", "/workforces", map[string]any{"workforce_name": "fruit-team"})
	team := out["workforce_id"].(string)
	ann := addMember(t, env, c, team, "ann@example.com", 0)
	bob := addMember(t, env, c, team, "bob@example.com", 0)
	rita := addMember(t, env, c, team, "rita@example.com", 1)
	st, out := c.do("POST", "/datasets/"+ds+"/workforce-tasks", map[string]any{"task_name": "fruit-labeling",
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
	for _, lab := range []struct {
		m   *member
		key string
	}{{ann, "1"}, {bob, "2"}} {
		ctx := signInAs(t, root, env, lab.m.name, pass(lab.m))
		steps := []chromedp.Action[chromedp.Void]{chromedp.Click(chromedp.Search(`//a[text()="Label"]`))}
		for i := range 2 {
			steps = append(steps, chromedp.WaitVisible(chromedp.Search(fmt.Sprintf(`//span[text()="Sample %d of 2"]`, i+1))),
				chromedp.WaitVisible(chromedp.CSS(`.stage img`)), chromedp.KeyEvent(lab.key),
				chromedp.WaitVisible(chromedp.Search(`//span[text()="not saved"]`)), chromedp.KeyEvent(kb.Enter))
		}
		steps = append(steps, chromedp.WaitVisible(chromedp.Search(`//span[text()="saved"]`)))
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s labels: %v", lab.m.email, err)
		}
	}
	// The reviewer: pass, reject one of bob's with a comment, pass the rest.
	rev := signInAs(t, root, env, rita.name, pass(rita))
	steps := []chromedp.Action[chromedp.Void]{chromedp.Click(chromedp.Search(`//a[text()="Review"]`))}
	rejected := ""
	for i := range 4 {
		steps = append(steps, chromedp.WaitVisible(chromedp.Search(fmt.Sprintf(`//span[text()="%d waiting for review"]`, 4-i))))
		if i == 2 {
			steps = append(steps, chromedp.KeyEvent("r"), chromedp.SendKeys(chromedp.CSS(`input[name=comment]`), "this is an apple"),
				chromedp.KeyEvent(kb.Enter))
			continue
		}
		steps = append(steps, chromedp.KeyEvent("p"))
	}
	steps = append(steps, chromedp.WaitVisible(chromedp.Search(`//p[text()="Nothing waits for review."]`)))
	if err := chromedp.Do(rev, steps...); err != nil {
		t.Fatalf("the reviewer reviews: %v", err)
	}
	_, page := c.do("GET", task+"/data-annotations/samples?sample_state=__REJECTED__", nil)
	items := page["samples"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["review_comment"] != "this is an apple" {
		t.Fatalf("rejected samples after the review: %v", page)
	}
	rejected = items[0].(map[string]any)["worker_id"].(string)
	owner := ann
	if rejected == bob.workerID {
		owner = bob
	}
	// Its labeler sees the comment on the sample in the console.
	lctx := signInAs(t, root, env, owner.name, pass(owner))
	if err := chromedp.Do(lctx, chromedp.Click(chromedp.Search(`//a[text()="Fix 1 rejected"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[contains(., "Rejected in review: this is an apple")]`)),
		chromedp.WaitVisible(chromedp.CSS(`.stage img`)),
		// It fixes the labels: off the one it chose, on the other, and saves.
		chromedp.KeyEvent("1"), chromedp.KeyEvent("2"), chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.Search(`//p[text()="No sample here."]`))); err != nil {
		t.Fatalf("the labeler fixes the rejected sample: %v", err)
	}
	if _, page = c.do("GET", task+"/data-annotations/samples?sample_state=__UNREVIEWED__", nil); page["sample_count"] != 1.0 {
		t.Errorf("samples waiting for review after the fix: %v, want 1", page["sample_count"])
	}
	_, page = c.do("GET", task+"/data-annotations/samples?sample_state=__UNCHECK__", nil)
	if page["sample_count"] != 3.0 {
		t.Errorf("samples passed in review: %v, want 3", page["sample_count"])
	}

	// The reviewer passes the fixed sample; the dataset's owner accepts
	// the task by sampling half of it, reads the report and passes all.
	if err := chromedp.Do(rev, chromedp.Navigate(env.URL+"/console/#/tasks"), chromedp.Click(chromedp.Search(`//a[text()="Review"]`)),
		chromedp.WaitVisible(chromedp.Search(`//span[text()="1 waiting for review"]`)), chromedp.KeyEvent("p"),
		chromedp.WaitVisible(chromedp.Search(`//p[text()="Nothing waits for review."]`))); err != nil {
		t.Fatalf("the reviewer passes the fixed sample: %v", err)
	}
	admin := signInOwner(t, root, env)
	err := chromedp.Do(admin,
		chromedp.Click(chromedp.Search(`//a[text()="fruit"]`)),
		chromedp.Click(chromedp.Search(`//a[text()="Team labeling"]`)),
		chromedp.Click(chromedp.Search(`//a[text()="fruit-labeling"]`)),
		chromedp.Click(chromedp.Search(`//button[text()="Accept by sampling 50%"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[starts-with(., "This round: 2 sampled")]`)),
		chromedp.WaitVisible(chromedp.Search(`//table[@aria-label="Members"]//td[text()="ann@example.com"]`)),
		chromedp.WaitVisible(chromedp.Search(`//table[@aria-label="Members"]//td[text()="bob@example.com"]`)),
		chromedp.Click(chromedp.Search(`//button[text()="Pass all"]`)),
		chromedp.WaitVisible(chromedp.Search(`//span[text()="accepted"]`)))
	if err != nil {
		t.Fatalf("the owner accepts the task: %v", err)
	}
	_, stats := c.do("GET", "/datasets/"+ds+"/data-annotations/stats", nil)
	if ss := stats["sample_stats"].(map[string]any); ss["manual_annotation"] != 4.0 {
		t.Errorf("the dataset after the acceptance: %v, want its 4 samples labeled", ss)
	}
}

// signInOwner signs the account's administrator in, in a browser context
// of its own, and waits for the dataset list.
func signInOwner(t *testing.T, parent context.Context, env *servertest.Env) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(parent, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, append(signInSteps(env, env.Account.UserName, env.Account.Password),
		chromedp.WaitVisible(chromedp.Search(`//h1[text()="Datasets"]`)))...); err != nil {
		t.Fatalf("sign the administrator in: %v", err)
	}
	return ctx
}

// TestConsoleDrawsBoxes draws two boxes in the object detection editor —
// one with the mouse, one from the keyboard alone (B adds it, a label's
// number relabels it, Shift+arrows resize it) — and saves them: the API
// then holds both, as bndbox features within the image.
func TestConsoleDrawsBoxes(t *testing.T) {
	t.Parallel()
	env := servertest.StartWith(t, servertest.Options{Engine: store.SQLite})
	c := newDSClient(t, env)
	ds := c.create("street", 1, map[string]any{"labels": []any{map[string]any{"name": "car", "type": 1}, map[string]any{"name": "person", "type": 1}}})
	if st, out := c.do("POST", "/datasets/"+ds+"/data-annotations/samples", map[string]any{"samples": []any{
		map[string]any{"name": "street.png", "data": base64.StdEncoding.EncodeToString(pngOf(t, color.RGBA{90, 90, 90, 255}))}}}); st != http.StatusOK {
		t.Fatalf("add sample: %d %v", st, out)
	}
	ctx := browser(t)
	a := env.Account
	err := chromedp.Do(ctx, append(signInSteps(env, a.UserName, a.Password),
		chromedp.WaitVisible(chromedp.Search(`//a[text()="street"]`)),
		chromedp.Click(chromedp.Search(`//tr[td/a[text()="street"]]//a[text()="Label"]`)),
		chromedp.WaitVisible(chromedp.CSS(`svg.boxes`)),
		chromedp.WaitVisible(chromedp.Search(`//span[text()="0 boxes"]`)))...)
	if err != nil {
		t.Fatalf("open the editor: %v", err)
	}
	// Where the image is on the page, to drag over it.
	rect, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => { const r = document.querySelector("svg.boxes").getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()`))
	if err != nil || len(rect) != 4 || rect[2] < 50 {
		t.Fatalf("image box on the page: %v, %v", rect, err)
	}
	x, y, w, hgt := rect[0], rect[1], rect[2], rect[3]
	err = chromedp.Do(ctx,
		// The mouse draws a car from 10% to 40% of the image.
		chromedp.MouseEvent(input.DispatchMouseEventTypeMousePressed, x+w*0.1, y+hgt*0.1, chromedp.ButtonLeft),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, x+w*0.25, y+hgt*0.25, chromedp.ButtonLeft),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, x+w*0.4, y+hgt*0.4, chromedp.ButtonLeft),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseReleased, x+w*0.4, y+hgt*0.4, chromedp.ButtonLeft),
		chromedp.WaitVisible(chromedp.Search(`//span[text()="1 box"]`)),
		// The keyboard adds a person in the middle and makes it bigger.
		chromedp.KeyEvent(kb.Escape), chromedp.KeyEvent("2"), chromedp.KeyEvent("b"),
		chromedp.WaitVisible(chromedp.Search(`//span[text()="2 boxes"]`)),
		chromedp.KeyEvent(kb.ArrowRight, chromedp.KeyModifiers(chromedp.ModifierShift)),
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.Search(`//span[text()="saved"]`)))
	if err != nil {
		t.Fatalf("draw boxes: %v", err)
	}
	_, list := c.do("GET", "/datasets/"+ds+"/data-annotations/samples", nil)
	labels := list["samples"].([]any)[0].(map[string]any)["labels"].([]any)
	got := map[string][]any{}
	for _, l := range labels {
		l := l.(map[string]any)
		p := l["property"].(map[string]any)
		if p["@modelarts:shape"] != "bndbox" {
			t.Errorf("label %v is not a bndbox", l)
		}
		got[l["name"].(string)] = p["@modelarts:feature"].([]any)
	}
	near := func(v any, want float64) bool { f, _ := v.(float64); return f > want-8 && f < want+8 }
	car, person := got["car"], got["person"]
	if len(car) != 2 || !near(car[0].([]any)[0], 32) || !near(car[1].([]any)[1], 96) {
		t.Errorf("the car drawn from 10%% to 40%% of a 320×240 image: %v (all: %v)", car, got)
	}
	// B puts a box from 35% to 65%; Shift+→ widens it by 1% of the width.
	if len(person) != 2 || !near(person[0].([]any)[0], 112) || !near(person[1].([]any)[0], 211) {
		t.Errorf("the person added from the keyboard: %v (all: %v)", person, got)
	}
}

// TestConsoleFollowsTrainingLog starts a training job (through the SDK, as
// a script would) and follows it in the console: the job is in the list,
// and its page shows the job's log lines as the job prints them, and its
// phase once it ends.
func TestConsoleFollowsTrainingLog(t *testing.T) {
	t.Parallel()
	env := servertest.StartWith(t, servertest.Options{Engine: store.SQLite})
	a := env.Account
	c := env.ModelArtsClient(t, a.AccessKey, a.SecretKey, a.ProjectID)
	const bucket = "console-train"
	putObject(t, env, bucket, "code/train.py", "import time\nprint('epoch 1 loss 0.93', flush=True)\ntime.sleep(1.5)\nprint('epoch 2 loss 0.41', flush=True)\n")
	_, err := c.CreateTrainingJob(&model.CreateTrainingJobRequest{Body: &model.Job{Kind: "job",
		Metadata: &model.JobMetadata{Name: "console-job"},
		Algorithm: &model.JobAlgorithm{CodeDir: tp("obs://" + bucket + "/code/"), BootFile: tp("obs://" + bucket + "/code/train.py"),
			Outputs: &[]model.Output{{Name: "train_url", Remote: &model.Remote{Obs: &model.RemoteObs{ObsUrl: "obs://" + bucket + "/out/"}}}}},
		Spec: &model.Spec{Resource: &model.SpecResource{FlavorId: tp("local.cpu.1u2g"), NodeCount: 1}}}})
	if err != nil {
		t.Fatalf("create the job: %v", err)
	}
	ctx := browser(t)
	err = chromedp.Do(ctx, append(signInSteps(env, a.UserName, a.Password),
		chromedp.WaitVisible(chromedp.Search(`//h1[text()="Datasets"]`)),
		chromedp.Click(chromedp.Search(`//nav/a[text()="Training"]`)),
		chromedp.Click(chromedp.Search(`//a[text()="console-job"]`)),
		chromedp.WaitVisible(chromedp.Search(`//pre[contains(., "epoch 1 loss 0.93")]`)),
		chromedp.WaitVisible(chromedp.Search(`//pre[contains(., "epoch 2 loss 0.41")]`)),
		chromedp.WaitVisible(chromedp.Search(`//strong[text()="Completed"]`)))...)
	if err != nil {
		t.Fatalf("follow the job in the console: %v", err)
	}
}

// TestConsoleSwitchesProject switches the console to the account's second
// project: the password is asked again for a token scoped there, and the
// datasets shown are that project's.
func TestConsoleSwitchesProject(t *testing.T) {
	t.Parallel()
	env := servertest.StartWith(t, servertest.Options{Engine: store.SQLite})
	a := env.Account
	second, err := env.App.IAM.CreateProject(context.Background(), a.DomainID, servertest.Region, servertest.Region+"_second", "")
	if err != nil {
		t.Fatal(err)
	}
	c := newDSClient(t, env)
	c.create("first-project-data", 0, nil)
	ctx := browser(t)
	err = chromedp.Do(ctx, append(signInSteps(env, a.UserName, a.Password),
		chromedp.WaitVisible(chromedp.Search(`//a[text()="first-project-data"]`)),
		// The keyboard picks the second project in the header's list.
		chromedp.Focus(chromedp.CSS(`#project`)),
		chromedp.KeyEvent(kb.ArrowDown),
		chromedp.WaitVisible(chromedp.CSS(`dialog#reauth input[name=password]`)),
		chromedp.SendKeys(chromedp.CSS(`dialog#reauth input[name=password]`), a.Password),
		chromedp.Click(chromedp.Search(`//dialog//button[text()="Switch"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[text()="No dataset yet."]`)))...)
	if err != nil {
		t.Fatalf("switch project: %v", err)
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.parse(sessionStorage.getItem("atelier.session")).project.id`))
	if err != nil || got != second.ID {
		t.Errorf("the console works in project %q (%v), want %s", got, err, second.ID)
	}
}
