package server_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"image/color"
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	mamodel "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/modelarts/v1/model"

	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/server/servertest"
	"github.com/atelier-dev/atelier/internal/store"
)

// putImages stores n small PNGs of different colours as prefix0.png …
// under bucket/folder/.
func putImages(t *testing.T, env *servertest.Env, bucket, folder, prefix string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		c := color.RGBA{uint8(40 * i), uint8(255 - 30*i), uint8(90 + 20*i), 255}
		key := fmt.Sprintf("%s/%s%d.png", folder, prefix, i)
		if _, err := env.App.Objects.Put(context.Background(), bucket, key, bytes.NewReader(pngOf(t, c)), obs.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// sampleIDsByName lists a dataset's samples through the API: name → ID,
// and name → label names.
func (c *dsClient) samplesByName(id string) (map[string]string, map[string][]string) {
	c.t.Helper()
	ids, labels := map[string]string{}, map[string][]string{}
	st, out := c.do("GET", "/datasets/"+id+"/data-annotations/samples?limit=100", nil)
	if st != http.StatusOK {
		c.t.Fatalf("list samples: %d %v", st, out)
	}
	for _, it := range out["samples"].([]any) {
		s := it.(map[string]any)
		name := s["sample_name"].(string)
		ids[name] = s["sample_id"].(string)
		for _, l := range s["labels"].([]any) {
			labels[name] = append(labels[name], l.(map[string]any)["name"].(string))
		}
	}
	return ids, labels
}

// TestConsoleSampleDetailSearchAndFilter finds a sample by part of its name,
// opens its detail (its box shown with its corners), goes back to the grid
// with the search kept, then labels the unlabeled samples through the
// filtered editor: each one saved leaves the filter, and the editor shows
// the next at the same place.
func TestConsoleSampleDetailSearchAndFilter(t *testing.T) {
	t.Parallel()
	env := servertest.StartWith(t, servertest.Options{Engine: store.SQLite})
	c := newDSClient(t, env)
	putImages(t, env, "data-in", "street", "cam", 5)
	id := c.create("street", 1, map[string]any{"labels": []any{map[string]any{"name": "car", "type": 1}, map[string]any{"name": "person", "type": 1}}})
	c.waitIdle(id)
	ids, _ := c.samplesByName(id)
	box := map[string]any{"name": "car", "type": 1, "property": map[string]any{"@modelarts:shape": "bndbox", "@modelarts:feature": [][]int{{10, 20}, {100, 120}}}}
	if st, out := c.do("PUT", "/datasets/"+id+"/data-annotations/samples", map[string]any{"samples": []any{
		map[string]any{"sample_id": ids["cam2.png"], "labels": []any{box}}}}); st != http.StatusOK {
		t.Fatalf("label cam2.png: %d %v", st, out)
	}

	ctx := browser(t)
	a := env.Account
	err := chromedp.Do(ctx, append(signInSteps(env, a.UserName, a.Password),
		chromedp.Click(chromedp.Search(`//a[text()="street"]`)),
		chromedp.WaitVisible(chromedp.Search(`//span[contains(., "5 samples")]`)),
		// Search by part of the name: one sample.
		chromedp.SendKeys(chromedp.CSS(`input[name=name]`), "cam2"+kb.Enter),
		chromedp.WaitVisible(chromedp.Search(`//span[contains(., "· 1 samples")]`)),
		chromedp.Click(chromedp.CSS(`a.tile`)),
		// The detail: the sample's name, its box and its facts.
		chromedp.WaitVisible(chromedp.Search(`//h1[text()="cam2.png"]`)),
		chromedp.WaitVisible(chromedp.Search(`//td[text()="bndbox (10, 20) – (100, 120)"]`)),
		chromedp.WaitVisible(chromedp.Search(`//dd[text()="`+ids["cam2.png"]+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`svg.boxes rect.box`)),
		// Escape goes back to the grid, the search kept.
		chromedp.KeyEvent(kb.Escape),
		chromedp.WaitVisible(chromedp.Search(`//span[contains(., "· 1 samples")]`)))...)
	if err != nil {
		t.Fatalf("search and open a sample: %v", err)
	}
	if v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("input[name=name]").value`)); err != nil || v != "cam2" {
		t.Errorf("the search box holds %q (%v) after coming back; want cam2", v, err)
	}

	// The unlabeled samples, labeled one after the other in the filtered
	// editor: two boxes added from the keyboard, each saved with Enter.
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.Search(`//a[text()="← Datasets"]`)),
		chromedp.Click(chromedp.Search(`//a[text()="street"]`)),
		chromedp.WaitVisible(chromedp.Search(`//span[contains(., "5 samples")]`)),
		chromedp.Focus(chromedp.CSS(`select[aria-label="Sample state"]`)),
		chromedp.KeyEvent(kb.ArrowDown), // Unlabeled
		chromedp.WaitVisible(chromedp.Search(`//span[contains(., "· 4 samples")]`)),
		chromedp.Click(chromedp.Search(`//a[text()="Label these"]`)),
		chromedp.WaitVisible(chromedp.Search(`//span[text()="Sample 1 of 4"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.boxframe img`)),
		chromedp.KeyEvent("b"), chromedp.KeyEvent(kb.Escape), chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.Search(`//span[text()="Sample 1 of 3"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.boxframe img`)),
		chromedp.KeyEvent("b"), chromedp.KeyEvent(kb.Escape), chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(chromedp.Search(`//span[text()="Sample 1 of 2"]`)))
	if err != nil {
		t.Fatalf("label through the filtered editor: %v", err)
	}
	_, labels := c.samplesByName(id)
	labeled := 0
	for name, ls := range labels {
		if len(ls) > 0 {
			labeled++
		}
		if name != "cam2.png" && len(ls) > 1 {
			t.Errorf("%s has labels %v; want one box", name, ls)
		}
	}
	if labeled != 3 || len(labels["cam2.png"]) != 1 {
		t.Errorf("labels after the console: %v; want cam2.png's box and two more samples with one box each", labels)
	}
}

// TestConsoleImportsAndExports adds a folder of images to a dataset from its
// Import page and exports all its samples from its Export page, following
// both tasks to their end; a bad path is refused in the form and an export
// into a bucket that does not exist shows the API's error.
func TestConsoleImportsAndExports(t *testing.T) {
	t.Parallel()
	env := servertest.StartWith(t, servertest.Options{Engine: store.SQLite})
	c := newDSClient(t, env)
	putImages(t, env, "data-in", "more", "first", 2)
	putImages(t, env, "data-in", "extra", "second", 3)
	id := c.create("more", 0, map[string]any{"labels": []any{map[string]any{"name": "cat", "type": 0}}})
	c.waitIdle(id)

	ctx := browser(t)
	a := env.Account
	err := chromedp.Do(ctx, append(signInSteps(env, a.UserName, a.Password),
		chromedp.Click(chromedp.Search(`//a[text()="more"]`)),
		chromedp.WaitVisible(chromedp.Search(`//span[contains(., "2 samples")]`)),
		chromedp.Click(chromedp.Search(`//a[text()="Import"]`)),
		chromedp.WaitVisible(chromedp.Search(`//td[text()="COMPLETED"]`)), // the dataset's first import
		chromedp.SendKeys(chromedp.CSS(`input[name=path]`), "not a path"),
		chromedp.Click(chromedp.Search(`//button[text()="Import"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[contains(., "Give an obs://bucket/folder/")]`)),
		clearField(`input[name=path]`),
		chromedp.SendKeys(chromedp.CSS(`input[name=path]`), "obs://data-in/extra/"),
		chromedp.Click(chromedp.Search(`//button[text()="Import"]`)),
		chromedp.WaitVisible(chromedp.Search(`//tr[td[contains(., "data-in/extra/")]][td[text()="COMPLETED"]][td[contains(., "3 of 3")]]`)),
		chromedp.Click(chromedp.Search(`//a[text()="← more"]`)),
		chromedp.WaitVisible(chromedp.Search(`//span[contains(., "5 samples")]`)),
		// Export: a bucket that does not exist is the API's error; then all
		// samples into data-out/exp/.
		chromedp.Click(chromedp.Search(`//a[text()="Export"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[text()="None yet."]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=path]`), "obs://no-such-bucket/exp/"),
		chromedp.Focus(chromedp.CSS(`select[name=type]`)),
		chromedp.KeyEvent(kb.ArrowDown), chromedp.KeyEvent(kb.ArrowDown), // All samples
		chromedp.Click(chromedp.Search(`//button[text()="Export"]`)),
		chromedp.WaitVisible(chromedp.Search(`//form//p[contains(@class, "error") and string-length(.) > 0]`)))...)
	if err != nil {
		t.Fatalf("import, then a refused export: %v", err)
	}
	refusal, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("form p.error").textContent`))
	if err != nil || !strings.Contains(refusal, "no-such-bucket") {
		t.Errorf("the refused export says %q (%v); want the API's message naming the bucket", refusal, err)
	}
	err = chromedp.Do(ctx,
		clearField(`input[name=path]`),
		chromedp.SendKeys(chromedp.CSS(`input[name=path]`), "obs://data-out/exp/"),
		chromedp.Focus(chromedp.CSS(`select[name=type]`)),
		chromedp.KeyEvent(kb.ArrowDown), chromedp.KeyEvent(kb.ArrowDown),
		chromedp.Click(chromedp.Search(`//button[text()="Export"]`)),
		chromedp.WaitVisible(chromedp.Search(`//tr[td[text()="SUCCESSED"]][td[contains(., "5 of 5")]]`)))
	if err != nil {
		t.Fatalf("export all samples: %v", err)
	}
	page, err := env.App.Objects.List(context.Background(), "data-out", obs.ListOptions{Prefix: "exp/"})
	if err != nil {
		t.Fatal(err)
	}
	// The export is a manifest whose lines name the five samples.
	var manifest []string
	for _, o := range page.Objects {
		if strings.HasSuffix(o.Key, ".manifest") {
			body, _ := getObject(t, env, "data-out", o.Key)
			for _, line := range strings.Split(body, "\n") {
				if strings.TrimSpace(line) != "" {
					manifest = append(manifest, line)
				}
			}
		}
	}
	if len(manifest) != 5 {
		t.Errorf("the export under data-out/exp/ (%d objects) holds %d manifest lines; want 5: %q", len(page.Objects), len(manifest), manifest)
	}
}

// TestConsoleSwitchesWorkspace works in a second workspace of the project:
// the dataset list shows that workspace's datasets only, and a dataset
// created from the console lands in it.
func TestConsoleSwitchesWorkspace(t *testing.T) {
	t.Parallel()
	env := servertest.StartWith(t, servertest.Options{Engine: store.SQLite})
	a := env.Account
	c := newDSClient(t, env)
	ma := env.ModelArtsClient(t, a.AccessKey, a.SecretKey, a.ProjectID)
	ws, err := ma.CreateWorkspace(&mamodel.CreateWorkspaceRequest{Body: &mamodel.CreateWorkspaceReq{Name: "vision"}})
	if err != nil {
		t.Fatalf("create a workspace: %v", err)
	}
	putImages(t, env, "data-in", "base-data", "b", 1)
	putImages(t, env, "data-in", "ws-data", "w", 1)
	putImages(t, env, "data-in", "made-here", "m", 1)
	c.create("base-data", 0, nil)
	c.create("ws-data", 0, map[string]any{"workspace_id": *ws.Id})

	ctx := browser(t)
	err = chromedp.Do(ctx, append(signInSteps(env, a.UserName, a.Password),
		chromedp.WaitVisible(chromedp.Search(`//a[text()="base-data"]`)),
		chromedp.WaitReady(chromedp.Search(`//select[@id="workspace"]/option[text()="vision"]`)), // options of a closed list are not visible
		chromedp.Focus(chromedp.CSS(`#workspace`)),
		chromedp.KeyEvent(kb.ArrowDown),
		chromedp.WaitVisible(chromedp.Search(`//a[text()="ws-data"]`)),
		chromedp.Click(chromedp.Search(`//a[text()="New dataset"]`)),
		chromedp.WaitVisible(chromedp.CSS(`input[name=name]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=name]`), "made-here"),
		chromedp.SendKeys(chromedp.CSS(`input[name=input]`), "obs://data-in/made-here/"),
		chromedp.SendKeys(chromedp.CSS(`input[name=work]`), "obs://data-out/made-here/"),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(chromedp.Search(`//span[contains(., "1 samples")]`)),
		chromedp.Click(chromedp.Search(`//a[text()="← Datasets"]`)),
		chromedp.WaitVisible(chromedp.Search(`//a[text()="made-here"]`)))...)
	if err != nil {
		t.Fatalf("switch workspace: %v", err)
	}
	if n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("main tbody tr").length`)); err != nil || n != 2 {
		t.Errorf("the vision workspace lists %d datasets (%v); want ws-data and made-here", n, err)
	}
	// The API agrees: made-here is in vision, not in the default workspace.
	_, def := c.do("GET", "/datasets?limit=100", nil)
	_, vis := c.do("GET", "/datasets?limit=100&workspace_id="+*ws.Id, nil)
	names := func(out map[string]any) string {
		var n []string
		for _, d := range out["datasets"].([]any) {
			n = append(n, d.(map[string]any)["dataset_name"].(string))
		}
		return strings.Join(sortedCopy(n), ",")
	}
	if got := names(def); got != "base-data" {
		t.Errorf("the default workspace holds %s; want base-data", got)
	}
	if got := names(vis); got != "made-here,ws-data" {
		t.Errorf("the vision workspace holds %s; want made-here,ws-data", got)
	}
}

// clearField empties an input the user typed into (chromedp.Clear resets
// the attribute, not what was typed).
func clearField(css string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](fmt.Sprintf(`(e => { e.value = ""; return true })(document.querySelector(%q))`, css))(ctx, t)
		return err
	})
}

// wavOf is a second of a sine tone at freq Hz: 16-bit mono PCM at 8 kHz.
func wavOf(freq float64) []byte {
	const rate, n = 8000, 8000
	var b bytes.Buffer
	le := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	b.WriteString("RIFF")
	le(uint32(36 + 2*n))
	b.WriteString("WAVEfmt ")
	le(uint32(16))
	le(uint16(1)) // PCM
	le(uint16(1)) // mono
	le(uint32(rate))
	le(uint32(2 * rate))
	le(uint16(2))
	le(uint16(16))
	b.WriteString("data")
	le(uint32(2 * n))
	for i := 0; i < n; i++ {
		le(int16(12000 * math.Sin(2*math.Pi*freq*float64(i)/rate)))
	}
	return b.Bytes()
}

// TestConsoleLabelsAudioByKeyboard labels sound samples in the
// classification editor: each sample's player has loaded the sound (its
// duration is known), and the keys pressed are the labels the API holds.
func TestConsoleLabelsAudioByKeyboard(t *testing.T) {
	t.Parallel()
	env := servertest.StartWith(t, servertest.Options{Engine: store.SQLite})
	c := newDSClient(t, env)
	for i, f := range []float64{220, 440, 880} {
		if _, err := env.App.Objects.Put(context.Background(), "data-in", fmt.Sprintf("tones/tone%d.wav", i), bytes.NewReader(wavOf(f)), obs.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	id := c.create("tones", 200, map[string]any{"labels": []any{map[string]any{"name": "low", "type": 200}, map[string]any{"name": "high", "type": 200}}})
	c.waitIdle(id)

	ctx := browser(t)
	a := env.Account
	actions := append(signInSteps(env, a.UserName, a.Password),
		chromedp.Click(chromedp.Search(`//a[text()="tones"]`)),
		chromedp.Click(chromedp.Search(`//a[text()="Label these"]`)))
	shown := map[string]string{} // sample name → label pressed
	for i := 0; i < 3; i++ {
		actions = append(actions, chromedp.WaitVisible(chromedp.Search(fmt.Sprintf(`//span[text()="Sample %d of 3"]`, i+1))),
			chromedp.WaitVisible(chromedp.CSS(`.stage audio`)),
			waitTrue(`(() => { const a = document.querySelector(".stage audio"); return !!a && a.readyState >= 1 && Math.abs(a.duration - 1) < 0.05; })()`))
		actions = append(actions, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			name, err := chromedp.Evaluate[string](`document.querySelector(".toolbar span.muted").textContent`)(ctx, tg)
			if err != nil {
				return err
			}
			key, label := "1", "low"
			if strings.Contains(name, "tone2") {
				key, label = "2", "high"
			}
			shown[name] = label
			_, err = chromedp.KeyEvent(key)(ctx, tg)
			return err
		}), chromedp.WaitVisible(chromedp.Search(`//span[text()="not saved"]`)), chromedp.KeyEvent(kb.Enter))
	}
	actions = append(actions, chromedp.WaitVisible(chromedp.Search(`//span[text()="saved"]`)))
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("label the sounds: %v", err)
	}
	_, labels := c.samplesByName(id)
	if len(shown) != 3 {
		t.Fatalf("the editor showed %v; want the three tones", shown)
	}
	for name, want := range shown {
		if got := strings.Join(labels[name], ","); got != want {
			t.Errorf("%s has labels %q; want %q", name, got, want)
		}
	}
}

// waitTrue waits until a JavaScript expression is true.
func waitTrue(js string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Poll[bool](js)(ctx, t)
		return err
	})
}
