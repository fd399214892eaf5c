package processing

import (
	"context"
	"strings"
	"testing"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/datasettest"
	"github.com/atelier-dev/atelier/internal/store"
)

// Every bad request is refused before anything is stored, with the code
// of its kind and a message naming the field (and the operator and
// parameter) at fault.
func TestPlanTaskRejects(t *testing.T) {
	e := newProcEnv(t, store.SQLite, false)
	ctx := context.Background()
	other, err := e.Core.PlanCreate(dataset.Scope{ProjectID: datasettest.Project, WorkspaceID: "ws2"}, &dataset.CreateRequest{
		DatasetName: "elsewhere", WorkPath: "/data/work2/", WorkPathType: new(int), DataSources: []dataset.DataSource{{DataPath: "/data/in2/"}}})
	if err != nil {
		t.Fatal(err)
	}
	otherID, err := e.Core.CommitCreate(ctx, other, nil)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(params map[string]any) *TemplateParam {
		return &TemplateParam{ID: "sys_data_augmentation", OperatorParams: []OperatorParam{{Name: "Flip", Params: params}}}
	}
	valid := func() *TaskRequest {
		return &TaskRequest{Name: "t", Inputs: []DataSource{{Type: SourceOBS, Source: "obs://data/proc/"}},
			WorkPath: &WorkPath{Type: SourceOBS, Path: "obs://out/x/"}, Template: flip(nil)}
	}
	for _, c := range []struct {
		name   string
		change func(r *TaskRequest)
		code   string
		msg    string
	}{
		{"name-missing", func(r *TaskRequest) { r.Name = "" }, dataset.CodeInvalid, "(name)"},
		{"name-too-long", func(r *TaskRequest) { r.Name = strings.Repeat("n", 65) }, dataset.CodeInvalid, "(name)"},
		{"name-control", func(r *TaskRequest) { r.Name = "a\nb" }, dataset.CodeInvalid, "(name)"},
		{"description-forbidden", func(r *TaskRequest) { r.Description = "a&b" }, dataset.CodeInvalid, "(description)"},
		{"description-too-long", func(r *TaskRequest) { r.Description = strings.Repeat("d", 257) }, dataset.CodeInvalid, "(description)"},
		{"template-missing", func(r *TaskRequest) { r.Template = nil }, dataset.CodeInvalid, "(template.id)"},
		{"template-unknown", func(r *TaskRequest) { r.Template.ID = "sys_data_magic" }, dataset.CodeInvalid, `"sys_data_magic"`},
		{"feature-analysis", func(r *TaskRequest) { r.Template.ID = "sys_data_analyse" }, dataset.CodeInvalid, "sys_data_analyse"},
		{"no-operator", func(r *TaskRequest) { r.Template.OperatorParams = nil }, dataset.CodeInvalid, "(template.operator_params)"},
		{"operator-unnamed", func(r *TaskRequest) { r.Template.OperatorParams[0].Name = "" }, dataset.CodeInvalid, "operator_params[0].name"},
		{"operator-unknown", func(r *TaskRequest) { r.Template.OperatorParams[0].Name = "Flop" }, dataset.CodeInvalid, `"Flop"`},
		{"param-unknown", func(r *TaskRequest) { r.Template = flip(map[string]any{"flip_q": 1}) }, dataset.CodeInvalid, "params.flip_q"},
		{"param-bad-value", func(r *TaskRequest) { r.Template = flip(map[string]any{"lr_ud": "diagonal"}) }, dataset.CodeInvalid, "params.lr_ud"},
		{"param-out-of-range", func(r *TaskRequest) { r.Template = flip(map[string]any{"copies": 0}) }, dataset.CodeInvalid, "params.copies"},
		{"task-type-unknown", func(r *TaskRequest) { r.Template = flip(map[string]any{"task_type": "segmentation"}) }, dataset.CodeInvalid, "params.task_type"},
		{"operator-of-another-kind", func(r *TaskRequest) { r.Template.ID = "sys_data_validation" }, dataset.CodeInvalid, "augmentation operator"},
		{"two-validations", func(r *TaskRequest) {
			r.Template = &TemplateParam{ID: "sys_data_validation", OperatorParams: []OperatorParam{{Name: "MetaValidation"}, {Name: "MetaValidation"}}}
		}, dataset.CodeInvalid, "runs one operator"},
		{"rrd-without-features", func(r *TaskRequest) {
			r.Template = &TemplateParam{ID: "sys_data_selection", OperatorParams: []OperatorParam{{Name: "RRD"}}}
		}, dataset.CodeInvalid, "feature"},
		{"pcc-without-prototypes", func(r *TaskRequest) {
			r.Template = &TemplateParam{ID: "sys_data_cleaning", OperatorParams: []OperatorParam{{Name: "PCC"}}}
		}, dataset.CodeInvalid, "prototype_sample_path"},
		{"inputs-missing", func(r *TaskRequest) { r.Inputs = nil }, dataset.CodeInvalid, "(inputs)"},
		{"inputs-and-data-source", func(r *TaskRequest) { r.DataSource = &DataSource{Type: SourceOBS, Source: "obs://data/a/"} }, dataset.CodeInvalid, "(data_source)"},
		{"input-type-missing", func(r *TaskRequest) { r.Inputs[0].Type = "" }, dataset.CodeInvalid, "(inputs[0].type)"},
		{"input-type-custom", func(r *TaskRequest) { r.Inputs[0].Type = SourceCustom }, dataset.CodeInvalid, "CUSTOM"},
		{"input-type-unknown", func(r *TaskRequest) { r.Inputs[0].Type = "FTP" }, dataset.CodeInvalid, `"FTP"`},
		{"input-bucket-only", func(r *TaskRequest) { r.Inputs[0].Source = "obs://data/" }, dataset.CodeSubdirRequired, "inputs[0].source"},
		{"input-not-obs", func(r *TaskRequest) { r.Inputs[0].Source = "data/proc/" }, dataset.CodeInvalidPath, "inputs[0].source"},
		{"input-dataset-missing", func(r *TaskRequest) { r.Inputs[0] = DataSource{Type: SourceDataset, Source: "nope"} }, dataset.CodeDatasetNotFound, "nope"},
		{"input-dataset-other-workspace", func(r *TaskRequest) { r.Inputs[0] = DataSource{Type: SourceDataset, Source: otherID} }, dataset.CodeDatasetNotFound, otherID},
		{"input-dataset-version-missing", func(r *TaskRequest) { r.Inputs[0] = DataSource{Type: SourceDataset, Source: e.ID, VersionID: "nov"} }, dataset.CodeVersionNotFound, "nov"},
		{"input-dataset-scenario", func(r *TaskRequest) {
			r.Inputs[0] = DataSource{Type: SourceDataset, Source: e.ID}
			r.Template = flip(map[string]any{"task_type": ScenarioDetection})
		}, dataset.CodeInvalid, "task_type"},
		{"input-task-missing", func(r *TaskRequest) { r.Inputs[0] = DataSource{Type: SourceTask, Source: "nope"} }, dataset.CodeInvalid, "processing task nope"},
		{"too-many-inputs", func(r *TaskRequest) {
			for range MaxInputs {
				r.Inputs = append(r.Inputs, r.Inputs[0])
			}
		}, dataset.CodeInvalid, "(inputs)"},
		{"work-path-missing", func(r *TaskRequest) { r.WorkPath = nil }, dataset.CodeInvalid, "(work_path)"},
		{"work-path-type", func(r *TaskRequest) { r.WorkPath.Type = "" }, dataset.CodeInvalid, "(work_path.type)"},
		{"work-path-bucket-only", func(r *TaskRequest) { r.WorkPath.Path = "obs://out/" }, dataset.CodeSubdirRequired, "work_path.path"},
		{"work-path-in-input", func(r *TaskRequest) { r.WorkPath.Path = "obs://data/proc/out/" }, dataset.CodeInvalid, "inside input"},
		{"work-path-obs-version", func(r *TaskRequest) { r.WorkPath.VersionName = "V1" }, dataset.CodeInvalid, "(work_path.version_name)"},
		{"work-path-dataset-missing", func(r *TaskRequest) { r.WorkPath = &WorkPath{Type: SourceDataset, Path: "nope"} }, dataset.CodeDatasetNotFound, "nope"},
		{"work-path-version-id", func(r *TaskRequest) { r.WorkPath = &WorkPath{Type: SourceDataset, Path: e.ID, VersionID: "v"} }, dataset.CodeInvalid, "(work_path.version_id)"},
		{"work-path-version-name", func(r *TaskRequest) { r.WorkPath = &WorkPath{Type: SourceDataset, Path: e.ID, VersionName: "V 1"} }, dataset.CodeInvalid, "(version_name)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := valid()
			c.change(req)
			_, err := e.svc.PlanTask(ctx, datasettest.Project, "0", req)
			de, ok := dataset.AsError(err)
			if !ok || de.Code != c.code || !strings.Contains(de.Msg, c.msg) {
				t.Errorf("got %v; want %s mentioning %q", err, c.code, c.msg)
			}
		})
	}

	// The valid request resolves its inputs and output.
	req := valid()
	req.Inputs = append(req.Inputs, DataSource{Type: SourceDataset, Source: e.ID})
	req.CreateVersion = new(true)
	p, err := e.svc.PlanTask(ctx, datasettest.Project, "0", req)
	if err != nil {
		t.Fatal(err)
	}
	sp := p.version.Doc.Spec
	if sp.Kind != "augmentation" || sp.Scenario != ScenarioClassification || len(sp.Inputs) != 2 || sp.Inputs[1].DatasetName != "ds" ||
		sp.Work.Dir != "/out/x/" || p.Output.String() != "obs://out/x/"+p.version.ID+"/" || len(p.Reads) != 1 {
		t.Errorf("planned: %+v, output %s, reads %v", sp, p.Output, p.Reads)
	}
}

// A version's body replaces its task's fields; its name, when given, is
// the task's.
func TestMergeVersionRequest(t *testing.T) {
	task := TaskRequest{Name: "t", Description: "task", VersionID: "v1", WorkspaceID: "0",
		Inputs:   []DataSource{{Type: SourceDataset, Source: "d", VersionID: "v1"}},
		WorkPath: &WorkPath{Type: SourceDataset, Path: "d", VersionName: "V1"}, Template: &TemplateParam{ID: "sys_data_validation"}}
	for _, c := range []struct {
		name  string
		v     *TaskRequest
		check func(TaskRequest) bool
		err   string
	}{
		{"no-body", nil, func(m TaskRequest) bool { return m.Inputs[0].VersionID == "v1" && m.WorkPath.VersionName == "V1" }, ""},
		{"new-input-version", &TaskRequest{Name: "t", Inputs: []DataSource{{Type: SourceDataset, Source: "d", VersionID: "v2"}},
			WorkPath: &WorkPath{Type: SourceDataset, Path: "d", VersionName: "V2"}},
			func(m TaskRequest) bool {
				return m.Inputs[0].VersionID == "v2" && m.WorkPath.VersionName == "V2" && m.Description == "task"
			}, ""},
		{"data-source", &TaskRequest{DataSource: &DataSource{Type: SourceOBS, Source: "obs://b/k/"}},
			func(m TaskRequest) bool { return m.DataSource != nil && len(m.Inputs) == 0 }, ""},
		{"other-name", &TaskRequest{Name: "u"}, nil, "(name)"},
		{"other-workspace", &TaskRequest{WorkspaceID: "ws2"}, nil, "(workspace_id)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, err := merge(task, c.v)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Errorf("got %v; want an error about %s", err, c.err)
				}
				return
			}
			if err != nil || !c.check(m) {
				t.Errorf("merged %+v, %v", m, err)
			}
		})
	}
}
