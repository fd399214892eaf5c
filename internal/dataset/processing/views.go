package processing

import (
	"github.com/atelier-dev/atelier/internal/dataset/processing/imageops"
)

// The bodies the APIs answer, with the reference's field names.

// Item is a processing template of the catalogue (ProcessorTaskItem).
// Operators is Atelier's: the template's operators with their parameters
// (type, default, range, description), which the reference leaves to its
// user guide.
type Item struct {
	TemplateID string              `json:"template_id"`
	LabelEN    string              `json:"label_en"`
	LabelZH    string              `json:"label_zh"`
	Operators  []imageops.Operator `json:"operators"`
}

// Task is a task as the list and details APIs return it
// (DescribeProcessorTaskResp).
type Task struct {
	CreateTime      int64         `json:"create_time"`
	DataSource      *DataSource   `json:"data_source,omitempty"`
	Description     string        `json:"description"`
	DurationSeconds int64         `json:"duration_seconds"`
	ErrorMsg        string        `json:"error_msg,omitempty"`
	Inputs          []DataSource  `json:"inputs"`
	IsCurrent       bool          `json:"is_current"`
	Name            string        `json:"name"`
	Status          int           `json:"status"`
	TaskID          string        `json:"task_id"`
	Template        TemplateParam `json:"template"`
	VersionCount    int           `json:"version_count"`
	VersionID       string        `json:"version_id,omitempty"`
	VersionName     string        `json:"version_name,omitempty"`
	WorkPath        *WorkPath     `json:"work_path,omitempty"`
	WorkspaceID     string        `json:"workspace_id"`
}

// Version is a version as the list and details APIs return it
// (DescTaskVersionResp). The counts are those of the results committed
// so far: origin = unmodified + modified + deleted, and added are the new
// samples. FailedSampleCount (samples that could not be processed, among
// the deleted), DuplicateSampleCount (de-duplication's removals, among
// the deleted) and ErrorMsg (why a failed version failed) are Atelier's.
type Version struct {
	AddSampleCount        int64         `json:"add_sample_count"`
	CreateTime            int64         `json:"create_time"`
	DeletedSampleCount    int64         `json:"deleted_sample_count"`
	Description           string        `json:"description"`
	DurationSeconds       int64         `json:"duration_seconds"`
	DuplicateSampleCount  int64         `json:"duplicate_sample_count"`
	ErrorMsg              string        `json:"error_msg,omitempty"`
	FailedSampleCount     int64         `json:"failed_sample_count"`
	Inputs                []DataSource  `json:"inputs"`
	ModifiedSampleCount   int64         `json:"modified_sample_count"`
	OriginSampleCount     int64         `json:"origin_sample_count"`
	Status                int           `json:"status"`
	TaskID                string        `json:"task_id"`
	TaskVersionID         string        `json:"task_version_id"`
	Template              TemplateParam `json:"template"`
	UnmodifiedSampleCount int64         `json:"unmodified_sample_count"`
	UpdateTime            int64         `json:"update_time"`
	VersionName           string        `json:"version_name"`
	WorkPath              WorkPath      `json:"work_path"`
}

// Result is one sample's outcome (DescProcessorTaskVersionResultsResp).
// Failed is Atelier's: the sample could not be processed (it is left out
// of the output, result_property 2, and result_description says why).
type Result struct {
	NewSource          string     `json:"new_source"`
	OriginSource       string     `json:"origin_source"`
	ResultDescription  [][]string `json:"result_description"`
	ResultProperty     int        `json:"result_property"`
	SampleID           string     `json:"sample_id"`
	SignedNewSource    string     `json:"signed_new_source"`
	SignedOriginSource string     `json:"signed_origin_source"`
	VersionID          string     `json:"version_id"`
	Failed             bool       `json:"failed,omitempty"`
}

// Items lists the catalogue page: offset is the page index.
func Items(offset, limit int) (int, []Item) {
	var all []Item
	ops := imageops.Catalogue()
	for _, t := range imageops.Templates() {
		it := Item{TemplateID: t.ID, LabelEN: t.LabelEN, LabelZH: t.LabelZH, Operators: []imageops.Operator{}}
		for _, o := range ops {
			if o.Kind == t.Kind {
				it.Operators = append(it.Operators, o)
			}
		}
		all = append(all, it)
	}
	start := min(offset*limit, len(all))
	return len(all), all[start:min(start+limit, len(all))]
}

// inputsView echoes a spec's inputs with the names of their datasets and
// versions filled in.
func inputsView(sp *spec) []DataSource {
	given := sp.Request.Inputs
	if sp.Request.DataSource != nil {
		given = []DataSource{*sp.Request.DataSource}
	}
	out := make([]DataSource, len(given))
	for i, g := range given {
		out[i] = g
		if i < len(sp.Inputs) && sp.Inputs[i].Type == SourceDataset {
			in := sp.Inputs[i]
			out[i].Name, out[i].VersionID, out[i].VersionName = in.DatasetName, in.VersionID, in.VersionName
		}
	}
	return out
}

// templateView echoes the template, named after the processing template
// when the caller gave no name.
func templateView(t *TemplateParam) TemplateParam {
	if t == nil {
		return TemplateParam{OperatorParams: []OperatorParam{}}
	}
	out := *t
	if out.Name == "" {
		if k, ok := imageops.KindOf(t.ID); ok {
			out.Name = k.Template().LabelEN
		}
	}
	if out.OperatorParams == nil {
		out.OperatorParams = []OperatorParam{}
	}
	return out
}

// workView is a spec's work path as given, with its dataset's name.
func workView(sp *spec) WorkPath {
	var w WorkPath
	if sp.Request.WorkPath != nil {
		w = *sp.Request.WorkPath
	}
	if sp.Work.Type == SourceDataset {
		w.Name = sp.Work.DatasetName
	}
	return w
}

// durationOf is a run's length in seconds (up to now while it runs).
func durationOf(v *versionRow, now int64) int64 {
	switch {
	case v == nil || v.StartTime == 0:
		return 0
	case v.EndTime > 0:
		return (v.EndTime - v.StartTime) / 1000
	}
	return max(0, now-v.StartTime) / 1000
}

func (t *taskRow) view(current bool, now int64) *Task {
	sp := &t.Spec
	out := &Task{CreateTime: t.CreateTime, Description: t.Description, Inputs: inputsView(sp), IsCurrent: current, Name: t.Name,
		TaskID: t.ID, Template: templateView(sp.Request.Template), VersionCount: t.VersionCount, WorkspaceID: t.WorkspaceID}
	if len(out.Inputs) > 0 {
		ds := out.Inputs[0]
		out.DataSource = &ds
		if sp.Inputs[0].Type == SourceDataset {
			out.VersionID, out.VersionName = sp.Inputs[0].VersionID, sp.Inputs[0].VersionName
		}
	}
	w := workView(sp)
	if v := t.Latest; v != nil {
		out.Status, out.DurationSeconds = v.Status, durationOf(v, now)
		if v.Status == StatusFailed {
			out.ErrorMsg = v.ErrorMsg
		}
		w.OutputPath = v.Doc.Output
		if v.Doc.DatasetVersionID != "" {
			w.VersionID, w.VersionName = v.Doc.DatasetVersionID, v.Doc.DatasetVersionName
		}
	}
	out.WorkPath = &w
	return out
}

func (v *versionRow) view(now int64) *Version {
	sp := &v.Doc.Spec
	c := v.Counts
	out := &Version{AddSampleCount: c.Added, CreateTime: v.CreateTime, DeletedSampleCount: c.Deleted, Description: v.Description,
		DurationSeconds: durationOf(v, now), DuplicateSampleCount: c.Duplicate, FailedSampleCount: c.Failed, Inputs: inputsView(sp),
		ModifiedSampleCount: c.Modified, OriginSampleCount: c.Origin, Status: v.Status, TaskID: v.TaskID, TaskVersionID: v.ID,
		Template: templateView(sp.Request.Template), UnmodifiedSampleCount: c.Unmodified, UpdateTime: v.UpdateTime, VersionName: v.Name,
		WorkPath: workView(sp)}
	if v.Status == StatusFailed {
		out.ErrorMsg = v.ErrorMsg
	}
	out.WorkPath.OutputPath = v.Doc.Output
	if v.Doc.DatasetVersionID != "" {
		out.WorkPath.VersionID, out.WorkPath.VersionName = v.Doc.DatasetVersionID, v.Doc.DatasetVersionName
	}
	return out
}

func (r *resultRow) view(versionID string) *Result {
	d := r.Description
	if d == nil {
		d = [][]string{}
	}
	return &Result{NewSource: r.NewSource, OriginSource: r.OriginSource, ResultDescription: d, ResultProperty: r.Property,
		SampleID: r.SampleID, VersionID: versionID, Failed: r.Failed}
}
