package server_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/server/servertest"
	"github.com/atelier-dev/atelier/internal/store"
)

// chromium finds Debian's Chromium, which .ci/run installs; without it the
// browser tests skip, except in CI, where its absence is a failure.
func chromium(t *testing.T) string {
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

// browser starts a headless Chromium with a fresh profile and returns a
// context to drive one tab; on failure the test saves a screenshot of the
// page and names the file.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)), chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.WindowSize(1280, 900))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
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
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf), listen)
	ctx, cancelTime := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() {
		mu.Lock()
		for _, e := range pageErrors {
			t.Errorf("the page reported %s", e)
		}
		mu.Unlock()
		if t.Failed() {
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
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
		cancelTab()
		cancelAlloc()
	})
	return ctx
}

// pngOf draws a small image of one colour.
func pngOf(t *testing.T, c color.Color) []byte {
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
	actions := []chromedp.Action[chromedp.Void]{
		chromedp.Navigate(env.URL + "/console/"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=domain]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=domain]`), a.DomainName),
		chromedp.SendKeys(chromedp.CSS(`input[name=user]`), a.UserName),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), a.Password),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.Click(chromedp.Search(`//a[text()="New dataset"]`)),
		chromedp.WaitVisible(chromedp.CSS(`input[name=name]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=name]`), "pets"),
		chromedp.SendKeys(chromedp.CSS(`input[name=input]`), "obs://data-in/pets/"),
		chromedp.SendKeys(chromedp.CSS(`input[name=work]`), "obs://data-out/pets/"),
		chromedp.SendKeys(chromedp.CSS(`input[name=labels]`), "cat, dog"),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		// The import ends and the dataset's page shows its six images.
		chromedp.WaitVisible(chromedp.Search(`//span[contains(., "6 samples")]`)),
		chromedp.Click(chromedp.Search(`//a[text()="Label from the first"]`)),
	}
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
