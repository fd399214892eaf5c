package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/modelarts/v1/model"

	"github.com/atelier-dev/atelier/internal/iam"
	"github.com/atelier-dev/atelier/internal/server/servertest"
	"github.com/atelier-dev/atelier/internal/store"
)

// burnScript is the algorithm of the console's training test: it prints
// its hyperparameters, keeps a core busy for about 3 s while holding some
// memory (so that there is usage to chart), and writes a result to its
// output.
const burnScript = `import argparse, os, time
p = argparse.ArgumentParser()
p.add_argument("--data_url")
p.add_argument("--train_url")
p.add_argument("--epochs", type=int)
p.add_argument("--lr", type=float)
a = p.parse_args()
print(f"training with epochs={a.epochs} lr={a.lr} on {len(os.listdir(a.data_url))} file(s)", flush=True)
ballast = b"x" * (48 << 20)
end, n = time.time() + 3, 0
while time.time() < end:
    n += 1
with open(os.path.join(a.train_url, "result.txt"), "w") as f:
    f.write(f"epochs={a.epochs} loops={n}\n")
print("done", flush=True)
`

// TestConsoleCreatesJobFromAlgorithm creates an algorithm through the SDK,
// then, in the console, opens the algorithms, creates a job from it through
// the form (a flavor picked, the input and output located, one
// hyperparameter changed) and follows the job to Completed: its log, and
// its CPU and memory chart with points of both. The server's refusal of a
// job without its output is shown in the form first. The API then holds
// the job as the form described it. A user who may not create jobs sees
// the controls disabled with the denied action.
func TestConsoleCreatesJobFromAlgorithm(t *testing.T) {
	t.Parallel()
	env := servertest.StartWith(t, servertest.Options{Engine: store.SQLite})
	a := env.Account
	c := env.ModelArtsClient(t, a.AccessKey, a.SecretKey, a.ProjectID)
	const bucket = "console-algo"
	putObject(t, env, bucket, "code/burn.py", burnScript)
	putObject(t, env, bucket, "data/words.txt", "alpha\nbeta\n")
	created, err := c.CreateAlgorithm(&model.CreateAlgorithmRequest{Body: &model.Algorithm{
		Metadata: &model.AlgorithmMetadata{Name: "burner", Description: tp("keeps a core busy for 3 s")},
		JobConfig: &model.AlgorithmJobConfig{
			CodeDir: tp("obs://" + bucket + "/code/"), BootFile: tp("obs://" + bucket + "/code/burn.py"),
			Parameters: &[]model.Parameters{
				{Name: tp("epochs"), Value: tp("1"), Description: tp("passes over the data"),
					Constraint: &model.ParametersConstraint{Type: tp("Integer"), Editable: tp(true), Required: tp(true), ValidType: tp("Range"), ValidRange: &[]string{"1", "10"}}},
				{Name: tp("lr"), Value: tp("0.01"), Description: tp("learning rate"),
					Constraint: &model.ParametersConstraint{Type: tp("Float"), Editable: tp(true)}},
			},
			Inputs:  &[]model.AlgorithmCreateInput{{Name: tp("data_url"), Description: tp("words")}},
			Outputs: &[]model.AlgorithmCreateOutput{{Name: "train_url", Description: tp("the result")}},
		},
	}})
	if err != nil {
		t.Fatalf("CreateAlgorithm: %v", err)
	}
	algID := tv(created.Metadata.Id)

	ctx := browser(t)
	err = chromedp.Do(ctx, append(signInSteps(env, a.UserName, a.Password),
		chromedp.WaitVisible(chromedp.Search(`//h1[text()="Datasets"]`)),
		chromedp.Click(chromedp.Search(`//nav/a[text()="Training"]`)),
		chromedp.Click(chromedp.Search(`//main//a[text()="Algorithms"]`)),
		chromedp.WaitVisible(chromedp.Search(`//tr[td[text()="burner"] and td[text()="keeps a core busy for 3 s"] and td/code[text()="obs://console-algo/code/burn.py"]]`)),
		chromedp.Click(chromedp.Search(`//tr[td[text()="burner"]]//a[text()="Create job from this"]`)),
		chromedp.WaitVisible(chromedp.CSS(`input[name="param:epochs"]`)))...)
	if err != nil {
		t.Fatalf("open the form from the algorithm: %v", err)
	}
	// The form is the algorithm's: its parameters with their defaults and
	// range, its input and output, and the server's flavors.
	type formState struct {
		Algorithm, Epochs, Min, Max, LR, Flavor string
		Flavors                                 []string
		Channels                                []string
	}
	form, err := chromedp.Run(ctx, chromedp.Evaluate[formState](`(() => {
		const q = (s) => document.querySelector(s);
		return { algorithm: q("select[name=algorithm]").value, epochs: q('input[name="param:epochs"]').value,
			min: q('input[name="param:epochs"]').min, max: q('input[name="param:epochs"]').max, lr: q('input[name="param:lr"]').value,
			flavor: q("select[name=flavor]").value, flavors: [...document.querySelectorAll("select[name=flavor] option")].map((o) => o.value),
			channels: [...document.querySelectorAll("[data-channel]")].map((el) => el.name) };
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if form.Algorithm != algID || form.Epochs != "1" || form.Min != "1" || form.Max != "10" || form.LR != "0.01" ||
		!slices.Contains(form.Flavors, "local.cpu.1u2g") || !slices.Equal(form.Channels, []string{"in:data_url", "out:train_url"}) {
		t.Fatalf("the form shows %+v; want the algorithm's parameters, channels and the server's flavors", form)
	}
	// The flavor is picked from the keyboard: the next one in the list,
	// when there is more than one.
	flavor := form.Flavor
	if i := slices.Index(form.Flavors, flavor); i+1 < len(form.Flavors) {
		flavor = form.Flavors[i+1]
	}

	// Refused: the output has no location. The server's answer is shown
	// and the output's field is marked and focused.
	err = chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS(`input[name=name]`), "burn-run"),
		chromedp.SendKeys(chromedp.CSS(`input[name="in:data_url"]`), "obs://"+bucket+"/data/"),
		chromedp.SetValue(chromedp.CSS(`input[name="param:epochs"]`), "3"),
		chromedp.Focus(chromedp.CSS(`select[name=flavor]`)),
		chromedp.KeyEvent(kb.ArrowDown),
		chromedp.Click(chromedp.Search(`//button[text()="Create job"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[@role="alert" and contains(., 'output "train_url" needs a destination')]`)),
		chromedp.WaitVisible(chromedp.CSS(`input[name="out:train_url"][aria-invalid="true"]:focus`)))
	if err != nil {
		t.Fatalf("the refusal of a job without its output: %v", err)
	}
	picked, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("select[name=flavor]").value`))
	if err != nil || picked != flavor {
		t.Fatalf("the flavor list shows %q (%v) after ↓; want %q", picked, err, flavor)
	}

	// Accepted: the job's page follows it to the end.
	err = chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`input[name="out:train_url"]`), "obs://"+bucket+"/out/"),
		chromedp.Click(chromedp.Search(`//button[text()="Create job"]`)),
		chromedp.WaitVisible(chromedp.Search(`//h1[text()="burn-run"]`)),
		chromedp.WaitVisible(chromedp.Search(`//pre[contains(., "training with epochs=3 lr=0.01 on 1 file(s)")]`)),
		chromedp.WaitVisible(chromedp.Search(`//strong[text()="Completed"]`)))
	if err != nil {
		t.Fatalf("create the job and follow it: %v", err)
	}
	type chartState struct {
		CPU, Mem     int
		Drawn        []int // the circles of the CPU and memory charts
		CPULabel     string
		Rows         [][]string
		Hash, Detail string
	}
	var chart chartState
	for deadline := time.Now().Add(15 * time.Second); ; {
		chart, err = chromedp.Run(ctx, chromedp.Evaluate[chartState](`(() => {
			const n = (s) => Number(document.querySelector(s)?.dataset.points || 0);
			// One snapshot: the charts follow the job live and may gain a
			// point between two evaluations.
			return { cpu: n("svg.usage.cpu"), mem: n("svg.usage.mem"),
				drawn: ["svg.usage.cpu circle.pt", "svg.usage.mem circle.pt"].map((s) => document.querySelectorAll(s).length),
				cpuLabel: document.querySelector("svg.usage.cpu")?.getAttribute("aria-label") || "",
				rows: [...document.querySelectorAll("table.usage-latest tbody tr")].map((r) => [...r.cells].map((c) => c.textContent)),
				hash: location.hash, detail: document.querySelector("dl.summary")?.textContent || "" };
		})()`))
		if err != nil {
			t.Fatal(err)
		}
		if chart.CPU >= 2 && chart.Mem >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if chart.CPU < 2 || chart.Mem < 2 {
		t.Fatalf("the chart has %d CPU and %d memory points; want at least 2 of each", chart.CPU, chart.Mem)
	}
	if len(chart.Drawn) != 2 || chart.Drawn[0] != chart.CPU || chart.Drawn[1] != chart.Mem {
		t.Errorf("the charts draw %v points; want %d and %d", chart.Drawn, chart.CPU, chart.Mem)
	}
	// The table's rows: metric, latest, peak, points. The script holds a
	// 48 MiB ballast: the memory's peak is at least that.
	var peakMiB float64
	if len(chart.Rows) == 2 && len(chart.Rows[1]) == 4 {
		_, _ = fmt.Sscanf(chart.Rows[1][2], "%g MiB", &peakMiB)
	}
	if !strings.Contains(chart.CPULabel, "latest") || len(chart.Rows) != 2 || len(chart.Rows[0]) != 4 || chart.Rows[0][0] != "CPU" ||
		!strings.Contains(chart.Rows[0][1], "% of ") || chart.Rows[1][0] != "Memory" || peakMiB < 48 ||
		!strings.Contains(chart.Detail, "epochs=3") || !strings.Contains(chart.Detail, flavor) {
		t.Errorf("the page's text says %+v; want the latest and peak values in words (memory peaking above 48 MiB) and the job's algorithm, flavor and hyperparameters", chart)
	}

	// The API holds the job as the form described it.
	jobID := strings.TrimPrefix(chart.Hash, "#/training/")
	job, err := c.ShowTrainingJobDetails(&model.ShowTrainingJobDetailsRequest{TrainingJobId: jobID})
	if err != nil {
		t.Fatalf("ShowTrainingJobDetails(%s): %v", jobID, err)
	}
	alg, spec := job.Algorithm, job.Spec
	params := map[string]string{}
	for _, p := range tv(alg.Parameters) {
		params[tv(p.Name)] = tv(p.Value)
	}
	ins, outs := tv(alg.Inputs), tv(alg.Outputs)
	if tv(alg.Id) != algID || spec.Resource.FlavorId != flavor || params["epochs"] != "3" || params["lr"] != "0.01" ||
		len(ins) != 1 || tv(ins[0].Remote.Obs).ObsUrl != "obs://"+bucket+"/data/" || len(outs) != 1 || outs[0].Remote.Obs.ObsUrl != "obs://"+bucket+"/out/" ||
		job.Metadata.Name != "burn-run" || tv(job.Status.Phase) != "Completed" {
		t.Errorf("job %s: algorithm %s, flavor %s, parameters %v, inputs %v, outputs %v, name %s, phase %s; want algorithm %s, flavor %s, epochs 3",
			jobID, tv(alg.Id), spec.Resource.FlavorId, params, ins, outs, job.Metadata.Name, tv(job.Status.Phase), algID, flavor)
	}
	if out, ok := getObject(t, env, bucket, "out/result.txt"); !ok || !strings.HasPrefix(out, "epochs=3 ") {
		t.Errorf("the job's output is %q (%v); want its result for 3 epochs", out, ok)
	}
	// Only the accepted job exists: the refused one left nothing.
	list, err := c.ListTrainingJobs(&model.ListTrainingJobsRequest{Body: &model.JobSearches{Limit: tp(int32(10))}})
	if err != nil || tv(list.Total) != 1 {
		t.Errorf("ListTrainingJobs = %v, %v; want the one job", list, err)
	}

	// The usage the chart drew is measured, by the second. (How much of a
	// core the busy loop gets depends on the machine's load.)
	token := env.AdminToken(t)
	metrics := func(query string) (int, map[string][]float64) {
		resp, data := env.Do(t, "GET", "/v2/"+a.ProjectID+"/training-jobs/"+jobID+"/metrics/worker-0"+query, nil, map[string]string{"X-Auth-Token": token})
		var out struct {
			Metrics []struct {
				Metric string    `json:"metric"`
				Value  []float64 `json:"value"`
			} `json:"metrics"`
		}
		_ = json.Unmarshal(data, &out)
		m := map[string][]float64{}
		for _, x := range out.Metrics {
			m[x.Metric] = x.Value
		}
		return resp.StatusCode, m
	}
	st, bySecond := metrics("?step=1")
	measured := func(vs []float64) (n int, peak float64) {
		for _, v := range vs {
			if v >= 0 {
				n, peak = n+1, max(peak, v)
			}
		}
		return n, peak
	}
	nCPU, peakCPU := measured(bySecond["cpuUsage"])
	nMem, peakMem := measured(bySecond["memUsage"])
	if st != http.StatusOK || nCPU < 2 || nMem < 2 || peakCPU <= 0 || peakMem <= 0 {
		t.Errorf("metrics by the second: %d %v; want at least 2 samples of CPU and memory in use", st, bySecond)
	}
	if st, byMinute := metrics(""); st != http.StatusOK || len(byMinute["cpuUsage"]) != 1 || byMinute["cpuUsage"][0] <= 0 || len(byMinute["gpuUtil"]) != 1 {
		t.Errorf("metrics by the minute (the reference's): %d %v; want one average", st, byMinute)
	}
	if st, _ := metrics("?step=0"); st != http.StatusBadRequest {
		t.Errorf("metrics with step=0 answered %d; want 400", st)
	}

	// A user who may read training but not create jobs: the controls are
	// there, disabled, with the action they lack.
	admin := env.IAMClient(t, a.AccessKey, a.SecretKey)
	newUserWithActions(t, admin, a.DomainID, a.ProjectID, "train-reader",
		"modelarts:trainJob:list", "modelarts:trainJob:get", "modelarts:aiAlgorithm:get", iam.ActSimulate)
	rctx, cancel := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	defer cancel()
	const denied = "Denied: modelarts:trainJob:create"
	err = chromedp.Do(rctx, append(signInSteps(env, "train-reader", "Secret-Passw0rd!"),
		chromedp.WaitVisible(chromedp.Search(`//span[@id="who" and text()="train-reader"]`)),
		chromedp.Click(chromedp.Search(`//nav/a[text()="Training"]`)),
		chromedp.WaitVisible(chromedp.Search(`//a[text()="burn-run"]`)),
		chromedp.WaitVisible(chromedp.Search(`//button[text()="New job" and @disabled and @title="`+denied+`"]`)),
		chromedp.Click(chromedp.Search(`//main//a[text()="Algorithms"]`)),
		chromedp.WaitVisible(chromedp.Search(`//tr[td[text()="burner"]]//button[text()="Create job from this" and @disabled and @title="`+denied+`"]`)))...)
	if err != nil {
		t.Fatalf("the reader's view: %v", err)
	}
	if _, err := chromedp.Run(rctx, chromedp.Evaluate[string](`location.hash = "#/training/new/`+algID+`"`)); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(rctx, chromedp.WaitVisible(chromedp.Search(`//button[text()="Create job" and @disabled and @title="`+denied+`"]`))); err != nil {
		t.Fatalf("the reader's form: %v", err)
	}
}
