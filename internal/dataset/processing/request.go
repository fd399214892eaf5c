package processing

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/processing/imageops"
	"github.com/atelier-dev/atelier/internal/obs"
)

// The request bodies of the processing-task APIs, and their checks.

// DataSource is an input of a task (ProcessorDataSource).
type DataSource struct {
	Name        string `json:"name,omitempty"`
	Source      string `json:"source,omitempty"`
	Type        string `json:"type,omitempty"`
	VersionID   string `json:"version_id,omitempty"`
	VersionName string `json:"version_name,omitempty"`
}

// OperatorParam is one operator of a template with its parameters.
type OperatorParam struct {
	AdvancedParamsSwitch *bool          `json:"advanced_params_switch,omitempty"`
	ID                   string         `json:"id,omitempty"`
	Name                 string         `json:"name,omitempty"`
	Params               map[string]any `json:"params,omitempty"`
}

// TemplateParam is the processing template a task runs (TemplateParam).
type TemplateParam struct {
	ID             string          `json:"id,omitempty"`
	Name           string          `json:"name,omitempty"`
	OperatorParams []OperatorParam `json:"operator_params,omitempty"`
}

// WorkPath is where a task's output goes (WorkPath).
type WorkPath struct {
	Name        string `json:"name,omitempty"`
	OutputPath  string `json:"output_path,omitempty"`
	Path        string `json:"path,omitempty"`
	Type        string `json:"type,omitempty"`
	VersionID   string `json:"version_id,omitempty"`
	VersionName string `json:"version_name,omitempty"`
}

// TaskRequest is the body of POST …/processor-tasks and of POST
// …/processor-tasks/{task_id}/versions, which the reference gives the same
// fields: a version runs its task's request with the fields its own body
// gives in their place.
type TaskRequest struct {
	CreateVersion *bool          `json:"create_version,omitempty"`
	DataSource    *DataSource    `json:"data_source,omitempty"`
	Description   string         `json:"description,omitempty"`
	Inputs        []DataSource   `json:"inputs,omitempty"`
	Name          string         `json:"name"`
	Template      *TemplateParam `json:"template,omitempty"`
	VersionID     string         `json:"version_id,omitempty"`
	WorkPath      *WorkPath      `json:"work_path,omitempty"`
	WorkspaceID   string         `json:"workspace_id,omitempty"`
}

// Input types (ProcessorDataSource.type) and work path types.
const (
	SourceOBS     = "OBS"
	SourceDataset = "DATASET"
	SourceTask    = "TASK"
	SourceCustom  = "CUSTOM"
)

// Scenarios: what the labels of an OBS directory are (the operators'
// task_type parameter, which the reference's examples give every operator).
const (
	ScenarioClassification = "image_classification"
	ScenarioDetection      = "object_detection"
)

// Limits of a request.
const (
	MaxInputs      = 10
	MaxNameLen     = 64
	MaxDescription = 256
)

// descForbidden are the characters the reference forbids in a description.
const descForbidden = "^!<>=&\"'"

// input is one resolved input of a version.
type input struct {
	Type string `json:"type"`
	// Path is an OBS input's directory or manifest, "/bucket/key"; a TASK
	// input's is the manifest of the task's newest completed version.
	Path     string `json:"path,omitempty"`
	Manifest bool   `json:"manifest,omitempty"`
	// A DATASET input: the dataset, and its version or, without one, its
	// samples up to MaxSeq (fixed when the version is created).
	DatasetID   string `json:"dataset_id,omitempty"`
	DatasetName string `json:"dataset_name,omitempty"`
	VersionID   string `json:"version_id,omitempty"`
	VersionName string `json:"version_name,omitempty"`
	MaxSeq      int64  `json:"max_seq,omitempty"`
	TaskID      string `json:"task_id,omitempty"`
}

// workTarget is a resolved work path.
type workTarget struct {
	Type string `json:"type"`
	// Dir is the work directory, "/bucket/key/": an OBS work path, or the
	// output directory of a DATASET one's dataset. Each version writes in
	// Dir/<task_version_id>/.
	Dir         string `json:"dir"`
	DatasetID   string `json:"dataset_id,omitempty"`
	DatasetName string `json:"dataset_name,omitempty"`
	VersionName string `json:"version_name,omitempty"`
}

// spec is a checked request: what a version runs.
type spec struct {
	Request  TaskRequest `json:"request"`
	Kind     string      `json:"kind"`
	Scenario string      `json:"scenario"`
	Inputs   []input     `json:"inputs"`
	Work     workTarget  `json:"work"`
}

// reads are the locations a spec's run reads, for the caller's
// authorization.
func (sp *spec) reads() []obs.Path {
	var out []obs.Path
	for _, in := range sp.Inputs {
		if p, err := obs.ParsePath(in.Path); err == nil && in.Path != "" {
			out = append(out, p)
		}
	}
	for _, op := range sp.Request.Template.OperatorParams {
		for _, k := range []string{"prototype_sample_path", "criticism_sample_path"} {
			if s, ok := op.Params[k].(string); ok && s != "" {
				if p, err := obs.ParsePath(s); err == nil {
					out = append(out, p)
				}
			}
		}
	}
	return out
}

// workDir is the spec's work directory.
func (sp *spec) workDir() obs.Path {
	p, _ := obs.ParsePath(sp.Work.Dir)
	return p
}

// checkName checks a task name: 1 to 64 characters, no control character.
func checkName(field, name string) error {
	if name == "" {
		return invalid("Invalid parameter(%s): required.", field)
	}
	if utf8.RuneCountInString(name) > MaxNameLen {
		return invalid("Invalid parameter(%s): at most %d characters.", field, MaxNameLen)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return invalid("Invalid parameter(%s): must not contain control characters.", field)
		}
	}
	return nil
}

func checkDescription(desc string) error {
	if utf8.RuneCountInString(desc) > MaxDescription {
		return invalid("Invalid parameter(description): at most %d characters.", MaxDescription)
	}
	if strings.ContainsAny(desc, descForbidden) {
		return invalid("Invalid parameter(description): must not contain any of %s.", descForbidden)
	}
	return nil
}

// templateIDs lists the templates this room runs, for messages.
func templateIDs() string {
	var ids []string
	for _, t := range imageops.Templates() {
		ids = append(ids, t.ID)
	}
	return strings.Join(ids, ", ")
}

// checkTemplate checks a template and its operators and returns the
// configured operators. Selection by features needs the feature function.
func (s *Service) checkTemplate(t *TemplateParam) (imageops.Kind, []imageops.Config, error) {
	if t == nil || t.ID == "" {
		return "", nil, invalid("Invalid parameter(template.id): required: one of %s.", templateIDs())
	}
	kind, ok := imageops.KindOf(t.ID)
	if !ok {
		if t.ID == "sys_data_analyse" {
			return "", nil, invalid("Invalid parameter(template.id): feature analysis (sys_data_analyse) is not supported by Atelier; it runs %s.", templateIDs())
		}
		return "", nil, invalid("Invalid parameter(template.id): %q is not a processing template: want one of %s.", t.ID, templateIDs())
	}
	if len(t.OperatorParams) == 0 {
		return "", nil, invalid("Invalid parameter(template.operator_params): name the operator to run.")
	}
	if len(t.OperatorParams) > 1 && kind != imageops.Augmentation {
		return "", nil, invalid("Invalid parameter(template.operator_params): a %s task runs one operator; only augmentation runs several (each makes its own copies).", kind)
	}
	var cfgs []imageops.Config
	for i, op := range t.OperatorParams {
		field := fmt.Sprintf("template.operator_params[%d]", i)
		name := op.Name
		if name == "" {
			name = op.ID
		}
		if name == "" {
			return "", nil, invalid("Invalid parameter(%s.name): required: the operator's name.", field)
		}
		cfg, err := imageops.Parse(name, op.Params)
		var pe *imageops.ParamError
		if errors.As(err, &pe) {
			if pe.Code == imageops.UnknownOperator {
				return "", nil, invalid("Invalid parameter(%s.name): %s.", field, pe.Error())
			}
			return "", nil, invalid("Invalid parameter(%s.params.%s): %s.", field, pe.Param, pe.Error())
		}
		if err != nil {
			return "", nil, err
		}
		o := cfg.Operator()
		if o.Kind != kind {
			return "", nil, invalid("Invalid parameter(%s.name): operator %s is a %s operator; template %s runs %s operators.", field, o.Name, o.Kind, t.ID, kind)
		}
		if (o.Name == "RRD" || o.Name == "PCC") && s.features == nil {
			return "", nil, invalid("Invalid parameter(%s.name): operator %s compares image features, and this server has no feature extractor configured.", field, o.Name)
		}
		if o.Name == "PCC" {
			for _, k := range []string{"prototype_sample_path", "criticism_sample_path"} {
				if v, _ := cfg.Value(k).(string); v != "" {
					if _, err := dataset.ParseDir(field+".params."+k, v); err != nil {
						return "", nil, err
					}
				}
			}
		}
		cfgs = append(cfgs, cfg)
	}
	return kind, cfgs, nil
}

// scenarioOf reads the operators' task_type, the scenario of OBS inputs.
func scenarioOf(t *TemplateParam) (string, error) {
	sc := ""
	for i, op := range t.OperatorParams {
		v, ok := op.Params["task_type"]
		if !ok {
			continue
		}
		s, _ := v.(string)
		if s != ScenarioClassification && s != ScenarioDetection {
			return "", invalid("Invalid parameter(template.operator_params[%d].params.task_type): %v: want %s or %s.", i, v, ScenarioClassification, ScenarioDetection)
		}
		if sc != "" && sc != s {
			return "", invalid("Invalid parameter(template.operator_params[%d].params.task_type): the operators disagree (%s, %s).", i, sc, s)
		}
		sc = s
	}
	return sc, nil
}

// scope is where a task lives.
type scope struct{ projectID, workspaceID string }

// checkSpec checks a request (a task's, or a version's merged into its
// task's) and resolves its inputs and work path.
func (s *Service) checkSpec(ctx context.Context, sc scope, req TaskRequest) (*spec, error) {
	if err := checkDescription(req.Description); err != nil {
		return nil, err
	}
	kind, _, err := s.checkTemplate(req.Template)
	if err != nil {
		return nil, err
	}
	scenario, err := scenarioOf(req.Template)
	if err != nil {
		return nil, err
	}
	sp := &spec{Request: req, Kind: string(kind), Scenario: scenario}
	sources := req.Inputs
	if req.DataSource != nil {
		if len(sources) > 0 {
			return nil, invalid("Invalid parameter(data_source): give data_source or inputs, not both.")
		}
		sources = []DataSource{*req.DataSource}
	}
	if len(sources) == 0 {
		return nil, invalid("Invalid parameter(inputs): required: the dataset or OBS directory to process.")
	}
	if len(sources) > MaxInputs {
		return nil, invalid("Invalid parameter(inputs): at most %d inputs.", MaxInputs)
	}
	for i := range sources {
		field := fmt.Sprintf("inputs[%d]", i)
		if req.DataSource != nil {
			field = "data_source"
		}
		src := sources[i]
		if src.Type == SourceDataset && src.VersionID == "" && i == 0 {
			src.VersionID = req.VersionID
		}
		in, err := s.checkInput(ctx, sc, field, src, sp)
		if err != nil {
			return nil, err
		}
		sp.Inputs = append(sp.Inputs, in)
	}
	if sp.Scenario == "" {
		sp.Scenario = ScenarioClassification
	}
	if err := s.checkWork(ctx, sc, req.WorkPath, sp); err != nil {
		return nil, err
	}
	return sp, nil
}

// checkInput resolves one input.
func (s *Service) checkInput(ctx context.Context, sc scope, field string, src DataSource, sp *spec) (input, error) {
	in := input{Type: src.Type}
	switch src.Type {
	case SourceOBS:
		if strings.HasSuffix(src.Source, ".manifest") {
			p, err := obs.ParsePath(src.Source)
			if err != nil || p.Key == "" {
				return in, dataset.Invalid(dataset.CodeInvalidPath, "Invalid path (%s.source): %q: want /bucket/path/ or obs://bucket/path/.", field, src.Source)
			}
			in.Path, in.Manifest = "/"+p.Bucket+"/"+p.Key, true
			return in, nil
		}
		p, err := dataset.ParseDir(field+".source", src.Source)
		if err != nil {
			return in, err
		}
		in.Path = "/" + p.Bucket + "/" + p.Key
		return in, nil
	case SourceDataset:
		r, err := s.datasetOf(ctx, sc, src.Source)
		if err != nil {
			return in, err
		}
		if err := scenarioFits(field, r.Type, sp); err != nil {
			return in, err
		}
		in.DatasetID, in.DatasetName = r.ID, r.Name
		if src.VersionID == "" {
			// The samples as they are when the version is made: those
			// added later are not part of it.
			in.MaxSeq = r.SampleSeq
			return in, nil
		}
		v, err := s.versions.Published(ctx, r.ID, src.VersionID)
		if err != nil {
			return in, err
		}
		in.VersionID, in.VersionName = src.VersionID, v.Name
		in.Path = "/" + v.Manifest.Bucket + "/" + v.Manifest.Key
		return in, nil
	case SourceTask:
		t, err := s.repo.task(ctx, s.db, sc.projectID, src.Source)
		if err != nil || t.WorkspaceID != sc.workspaceID {
			return in, invalid("Invalid parameter(%s.source): processing task %s does not exist.", field, src.Source)
		}
		m, err := s.repo.newestOutput(ctx, t.ID)
		if err != nil {
			return in, err
		}
		if m == "" {
			return in, invalid("Invalid parameter(%s.source): processing task %s has no completed version to read.", field, src.Source)
		}
		in.TaskID, in.Path, in.Manifest = t.ID, m, true
		return in, nil
	case SourceCustom:
		return in, invalid("Invalid parameter(%s.type): CUSTOM inputs (data of resource tenants) are not supported by Atelier.", field)
	case "":
		return in, invalid("Invalid parameter(%s.type): required: OBS, DATASET or TASK.", field)
	}
	return in, invalid("Invalid parameter(%s.type): %q: want OBS, DATASET or TASK.", field, src.Type)
}

// datasetOf loads a dataset of the task's workspace: one of another
// workspace does not exist for the task.
func (s *Service) datasetOf(ctx context.Context, sc scope, id string) (*dataset.Row, error) {
	r, err := s.ds.LoadRow(ctx, s.db, sc.projectID, id, false)
	if err != nil {
		return nil, err
	}
	if r.WorkspaceID != sc.workspaceID {
		return nil, dataset.Invalid(dataset.CodeDatasetNotFound, "Dataset does not exist: %s.", id)
	}
	return r, nil
}

// scenarioFits checks a dataset's type against the task's scenario (and
// sets it when the operators left it open).
func scenarioFits(field string, typ int, sp *spec) error {
	var sc string
	switch typ {
	case dataset.TypeImageClassification:
		sc = ScenarioClassification
	case dataset.TypeObjectDetection:
		sc = ScenarioDetection
	default:
		return invalid("Invalid parameter(%s.source): data processing reads image classification and object detection datasets; this one is of type %d.", field, typ)
	}
	if sp.Scenario != "" && sp.Scenario != sc {
		return invalid("Invalid parameter(%s.source): the dataset is %s, the operators' task_type %s.", field, sc, sp.Scenario)
	}
	sp.Scenario = sc
	return nil
}

// checkWork resolves the work path.
func (s *Service) checkWork(ctx context.Context, sc scope, wp *WorkPath, sp *spec) error {
	if wp == nil {
		return invalid("Invalid parameter(work_path): required: the OBS directory (type OBS) or the dataset (type DATASET) the output goes to.")
	}
	switch wp.Type {
	case SourceOBS:
		dir, err := dataset.ParseDir("work_path.path", wp.Path)
		if err != nil {
			return err
		}
		if wp.VersionName != "" || wp.VersionID != "" {
			return invalid("Invalid parameter(work_path.version_name): a version is made only in a dataset (work_path type DATASET).")
		}
		sp.Work = workTarget{Type: SourceOBS, Dir: "/" + dir.Bucket + "/" + dir.Key}
	case SourceDataset:
		r, err := s.datasetOf(ctx, sc, wp.Path)
		if err != nil {
			return err
		}
		if err := scenarioFits("work_path", r.Type, sp); err != nil {
			return err
		}
		if wp.VersionID != "" {
			return invalid("Invalid parameter(work_path.version_id): the version is made by the task; name it with version_name.")
		}
		if err := s.versions.CheckVersionName(ctx, sc.projectID, r.ID, wp.VersionName); err != nil {
			return err
		}
		dir, err := obs.ParsePath(r.Doc.WorkPath)
		if err != nil || dir.Key == "" {
			return invalid("Invalid parameter(work_path.path): dataset %s has no output directory to write to.", r.ID)
		}
		if !strings.HasSuffix(dir.Key, "/") {
			dir.Key += "/"
		}
		sp.Work = workTarget{Type: SourceDataset, Dir: "/" + dir.Bucket + "/" + dir.Key, DatasetID: r.ID, DatasetName: r.Name, VersionName: wp.VersionName}
	case "":
		return invalid("Invalid parameter(work_path.type): required: OBS or DATASET.")
	default:
		return invalid("Invalid parameter(work_path.type): %q: want OBS or DATASET.", wp.Type)
	}
	out := sp.workDir()
	for i, in := range sp.Inputs {
		if in.Type != SourceOBS || in.Manifest {
			continue
		}
		p, _ := obs.ParsePath(in.Path)
		if dataset.Within(out, p) {
			return invalid("Invalid parameter(work_path.path): %s is inside input %d, whose files the output would join.", sp.Work.Dir, i)
		}
	}
	return nil
}

// merge is a version's request: its task's, with the fields the
// version's body gives in their place.
func merge(task TaskRequest, v *TaskRequest) (TaskRequest, error) {
	out := task
	out.CreateVersion = nil
	if v == nil {
		return out, nil
	}
	if v.Name != "" && v.Name != task.Name {
		return out, invalid("Invalid parameter(name): %q is not the task's name (%s).", v.Name, task.Name)
	}
	if v.WorkspaceID != "" && v.WorkspaceID != task.WorkspaceID && !(v.WorkspaceID == "0" && task.WorkspaceID == "") {
		return out, invalid("Invalid parameter(workspace_id): a version runs in its task's workspace.")
	}
	if v.DataSource != nil || len(v.Inputs) > 0 {
		out.DataSource, out.Inputs = v.DataSource, slices.Clone(v.Inputs)
	}
	if v.VersionID != "" {
		out.VersionID = v.VersionID
	}
	if v.WorkPath != nil {
		wp := *v.WorkPath
		out.WorkPath = &wp
	}
	if v.Template != nil {
		out.Template = v.Template
	}
	if v.Description != "" {
		out.Description = v.Description
	}
	return out, nil
}
