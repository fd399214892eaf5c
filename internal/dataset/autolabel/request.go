package autolabel

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/annotation"
	"github.com/atelier-dev/atelier/internal/dataset/autolabel/learn"
	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/tasks"
)

// The task types of the reference.
const (
	TypeAutoLabel    = "auto-label"
	TypePreLabel     = "pre-label"
	TypeAutoGrouping = "auto-grouping"
)

// StartRequest is the body of POST /datasets/{id}/tasks.
type StartRequest struct {
	CollectKeySample *bool           `json:"collect_key_sample,omitempty"`
	Config           *SmartConfig    `json:"config,omitempty"`
	ModelID          string          `json:"model_id,omitempty"`
	TaskType         string          `json:"task_type,omitempty"`
	Extra            json.RawMessage `json:"-"`
}

// FlexInt is an integer the reference's own examples sometimes send as a
// string ("n_clusters": "2").
type FlexInt int

// UnmarshalJSON accepts 2 and "2".
func (f *FlexInt) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("%q is not an integer", s)
		}
		*f = FlexInt(n)
		return nil
	}
	var n int
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*f = FlexInt(n)
	return nil
}

// SmartConfig is SmartTaskConfig: every field of the reference is
// accepted and shown back; the ones the work reads are checked. Fields
// about the cloud's training and inference resources (flavor, pool_id,
// inf_config_list, worker_server_num…) have no meaning here: the learning
// runs in the server and pre-label uses the configured model servers.
type SmartConfig struct {
	AlgorithmType        string          `json:"algorithm_type,omitempty"`
	Ambiguity            bool            `json:"ambiguity,omitempty"`
	AnnotationOutput     string          `json:"annotation_output,omitempty"`
	CollectRule          string          `json:"collect_rule,omitempty"`
	CollectSample        *bool           `json:"collect_sample,omitempty"`
	ConfidenceScope      string          `json:"confidence_scope,omitempty"`
	Description          string          `json:"description,omitempty"`
	EngineName           string          `json:"engine_name,omitempty"`
	ExportFormat         *int            `json:"export_format,omitempty"`
	ExportParams         json.RawMessage `json:"export_params,omitempty"`
	Flavor               json.RawMessage `json:"flavor,omitempty"`
	ImageBrightness      bool            `json:"image_brightness,omitempty"`
	ImageColorfulness    bool            `json:"image_colorfulness,omitempty"`
	InfClusterID         string          `json:"inf_cluster_id,omitempty"`
	InfConfigList        json.RawMessage `json:"inf_config_list,omitempty"`
	InfOutput            string          `json:"inf_output,omitempty"`
	InferResultOutputDir string          `json:"infer_result_output_dir,omitempty"`
	KeySampleOutput      string          `json:"key_sample_output,omitempty"`
	LogURL               string          `json:"log_url,omitempty"`
	ManifestPath         string          `json:"manifest_path,omitempty"`
	ModelID              string          `json:"model_id,omitempty"`
	ModelName            string          `json:"model_name,omitempty"`
	ModelParameter       string          `json:"model_parameter,omitempty"`
	ModelVersion         string          `json:"model_version,omitempty"`
	NClusters            *FlexInt        `json:"n_clusters,omitempty"`
	Name                 string          `json:"name,omitempty"`
	OutputDir            string          `json:"output_dir,omitempty"`
	Parameters           json.RawMessage `json:"parameters,omitempty"`
	PoolID               string          `json:"pool_id,omitempty"`
	Property             string          `json:"property,omitempty"`
	ReqURI               string          `json:"req_uri,omitempty"`
	ResultType           *int            `json:"result_type,omitempty"`
	Samples              json.RawMessage `json:"samples,omitempty"`
	StopTime             *int            `json:"stop_time,omitempty"`
	Time                 string          `json:"time,omitempty"`
	TrainDataPath        string          `json:"train_data_path,omitempty"`
	TrainURL             string          `json:"train_url,omitempty"`
	VersionFormat        string          `json:"version_format,omitempty"`
	WorkerServerNum      *int            `json:"worker_server_num,omitempty"`
}

// DefaultScope is the confidence scope of key samples when
// collect_key_sample asks for them without one: the predictions a person
// should check first are those the model is least sure of.
const DefaultScope = "0.00-0.60"

// Grouping bounds (the console of the reference offers 2 to 200 groups).
const (
	minGroups = 2
	maxGroups = 200
)

// params is what a task keeps: the request as given (shown back) and
// what the run needs, decided when it was started.
type params struct {
	Request   StartRequest       `json:"request"`
	TaskName  string             `json:"task_name"`
	Type      string             `json:"type"`
	Requester *dataset.Requester `json:"requester,omitempty"`
	// auto-label
	Algorithm learn.Algorithm `json:"algorithm,omitempty"`
	KeySample bool            `json:"key_sample,omitempty"`
	Scope     string          `json:"scope,omitempty"`
	// pre-label
	Model string `json:"model,omitempty"`
	// auto-grouping
	Groups   int    `json:"groups,omitempty"`
	Property string `json:"property,omitempty"`
	Output   string `json:"output,omitempty"` // obs://bucket/dir/ of result_type 0
	Aspects  learn.Aspects
	// The dataset as it was when the task started.
	DatasetType int `json:"dataset_type"`
}

// Plan is a checked start request, ready to queue.
type Plan struct {
	projectID, datasetID string
	p                    params
	// Locations are where the task reads and writes: the dataset's input
	// directories and work path, and auto-grouping's output directory.
	// The caller authorizes the route's object actions there first.
	Locations []obs.Path
	// Requester is who starts the task; the caller sets it.
	Requester *dataset.Requester
}

func bad(format string, args ...any) error {
	return dataset.Invalid(dataset.CodeInvalid, format, args...)
}

// which task types learn from which dataset types.
var supports = map[string]map[int]bool{
	TypeAutoLabel:    {annotation.TypeImageClassification: true, annotation.TypeTextClassification: true},
	TypePreLabel:     {annotation.TypeImageClassification: true, annotation.TypeObjectDetection: true, annotation.TypeTextClassification: true},
	TypeAutoGrouping: {annotation.TypeImageClassification: true, annotation.TypeObjectDetection: true},
}

// PlanStart checks a start request against the dataset.
func (s *Service) PlanStart(ctx context.Context, projectID, datasetID string, req *StartRequest) (*Plan, error) {
	d, err := s.ds.Get(ctx, projectID, datasetID)
	if err != nil {
		return nil, err
	}
	typ := req.TaskType
	if typ == "" {
		typ = TypeAutoLabel
	}
	if supports[typ] == nil {
		return nil, bad("Invalid parameter(task_type): %q: want auto-label, pre-label or auto-grouping.", req.TaskType)
	}
	if !supports[typ][d.DatasetType] {
		return nil, bad("Invalid parameter(task_type): %s does not apply to a dataset of type %d; it applies to types %s.", typ, d.DatasetType, typeList(supports[typ]))
	}
	cfg := SmartConfig{}
	if req.Config != nil {
		cfg = *req.Config
	}
	p := params{Request: *req, Type: typ, DatasetType: d.DatasetType, TaskName: cfg.Name}
	p.Request.TaskType = typ
	if p.TaskName == "" {
		p.TaskName = typ + "-" + s.now().UTC().Format("20060102150405")
	}
	if req.CollectKeySample != nil && *req.CollectKeySample && typ != TypeAutoGrouping {
		p.KeySample = true
		p.Scope = cfg.ConfidenceScope
		if p.Scope == "" {
			p.Scope = DefaultScope
		}
		if _, err := learn.ParseScope(p.Scope); err != nil {
			return nil, bad("Invalid parameter(config.confidence_scope): %v", err)
		}
	}
	switch typ {
	case TypeAutoLabel:
		err = s.planAutoLabel(ctx, projectID, datasetID, cfg, &p)
	case TypePreLabel:
		err = s.planPreLabel(req, cfg, &p)
	case TypeAutoGrouping:
		err = planGrouping(cfg, &p)
	}
	if err != nil {
		return nil, err
	}
	if err := s.checkIdle(ctx, datasetID); err != nil {
		return nil, err
	}
	inputs, work, _, err := s.ds.DataPaths(ctx, projectID, datasetID)
	if err != nil {
		return nil, err
	}
	pl := &Plan{projectID: projectID, datasetID: datasetID, p: p, Locations: append(inputs, work)}
	if p.Output != "" {
		out, err := obs.ParsePath(p.Output)
		if err != nil {
			return nil, err
		}
		pl.Locations = append(pl.Locations, out)
	}
	return pl, nil
}

func typeList(m map[int]bool) string {
	var out []string
	for _, t := range []int{annotation.TypeImageClassification, annotation.TypeObjectDetection, annotation.TypeTextClassification} {
		if m[t] {
			out = append(out, strconv.Itoa(t))
		}
	}
	return strings.Join(out, ", ")
}

// planAutoLabel refuses a dataset that gives the learner too little to
// learn from: no labeled sample, one label only, or a label with fewer
// than learn.MinPerClass labeled samples.
func (s *Service) planAutoLabel(ctx context.Context, projectID, datasetID string, cfg SmartConfig, p *params) error {
	switch learn.Algorithm(cfg.AlgorithmType) {
	case "", learn.Fast:
		p.Algorithm = learn.Fast
	case learn.Accurate:
		p.Algorithm = learn.Accurate
	default:
		return bad("Invalid parameter(config.algorithm_type): %q: want fast or accurate.", cfg.AlgorithmType)
	}
	labeled := dataset.StateLabeled
	st, err := s.ds.SampleStats(ctx, projectID, datasetID, &labeled)
	if err != nil {
		return err
	}
	var with, total int
	for _, l := range st.LabelStats {
		if l.SampleCount > 0 {
			with++
			total += int(l.SampleCount)
		}
	}
	if total == 0 {
		return bad("auto-label learns from labeled samples and this dataset has none: label at least %d samples of each of two labels first.", learn.MinPerClass)
	}
	if with < 2 {
		return bad("auto-label needs labeled samples of at least two labels; this dataset has labeled samples of %d.", with)
	}
	for _, l := range st.LabelStats {
		if l.SampleCount > 0 && l.SampleCount < int64(learn.MinPerClass) {
			return bad("auto-label needs at least %d labeled samples of each label it learns; label %q has %d.", learn.MinPerClass, l.Name, l.SampleCount)
		}
	}
	return nil
}

// planPreLabel finds the model server: model_id, or config.model_name,
// names one the operator configured.
func (s *Service) planPreLabel(req *StartRequest, cfg SmartConfig, p *params) error {
	name := req.ModelID
	if name == "" {
		name = cfg.ModelName
	}
	if name == "" {
		name = cfg.ModelID
	}
	if len(s.models) == 0 {
		return bad("pre-label sends samples to a model server, and this server has none configured (atelier serve --model-server name=http://host:port/model).")
	}
	if name == "" {
		return bad("Invalid parameter(model_id): name the model server to use: one of %s.", strings.Join(s.modelNames(), ", "))
	}
	if _, ok := s.models[name]; !ok {
		return bad("Invalid parameter(model_id): %q is not a configured model server; configured: %s.", name, strings.Join(s.modelNames(), ", "))
	}
	p.Model = name
	return nil
}

// planGrouping checks auto-grouping's groups and where its result goes.
func planGrouping(cfg SmartConfig, p *params) error {
	if cfg.NClusters == nil {
		return bad("Invalid parameter(config.n_clusters): auto-grouping needs the number of groups (%d to %d).", minGroups, maxGroups)
	}
	if n := int(*cfg.NClusters); n < minGroups || n > maxGroups {
		return bad("Invalid parameter(config.n_clusters): %d: want %d to %d.", n, minGroups, maxGroups)
	}
	p.Groups = int(*cfg.NClusters)
	p.Aspects = learn.Aspects{Brightness: cfg.ImageBrightness, Colour: cfg.ImageColorfulness, Clarity: cfg.Ambiguity}
	rt := 1
	if cfg.ResultType != nil {
		rt = *cfg.ResultType
	}
	switch rt {
	case 1:
		name := strings.TrimSpace(cfg.Property)
		if name == "" {
			return bad("Invalid parameter(config.property): auto-grouping with result_type 1 writes each sample's group into this sample attribute; name it.")
		}
		if len(name) > 64 || strings.HasPrefix(name, "@modelarts:") {
			return bad("Invalid parameter(config.property): %q: want a name of up to 64 characters that does not start with @modelarts:.", name)
		}
		p.Property = name
	case 0:
		dir, err := dataset.ParseDir("config.output_dir", cfg.OutputDir)
		if err != nil {
			return err
		}
		p.Output = dir.String()
	default:
		return bad("Invalid parameter(config.result_type): %d: want 0 (save to OBS) or 1 (save to samples).", rt)
	}
	return nil
}

// checkIdle refuses a second intelligent task on a dataset while one is
// queued or running: two would write the same samples.
func (s *Service) checkIdle(ctx context.Context, datasetID string) error {
	if s.tasks == nil {
		return nil
	}
	ts, err := s.tasks.List(ctx, datasetID, TaskSmart)
	if err != nil {
		return err
	}
	for _, t := range ts {
		if !t.Status.Final() {
			return &dataset.Error{Kind: dataset.KindConflict, Code: dataset.CodeInvalid,
				Msg: fmt.Sprintf("The dataset already has an intelligent task in progress (%s); stop it or wait for it to end.", t.ID)}
		}
	}
	return nil
}

// CommitStart queues the planned task and returns its ID.
func (s *Service) CommitStart(ctx context.Context, pl *Plan) (string, error) {
	if s.tasks == nil {
		return "", fmt.Errorf("start an intelligent task: the background-task manager is not configured")
	}
	pl.p.Requester = pl.Requester
	t, err := s.tasks.Enqueue(ctx, nil, TaskSmart, pl.projectID, pl.datasetID, pl.p)
	if err != nil {
		return "", err
	}
	return t.ID, nil
}

// taskOf loads one intelligent task of a dataset; another dataset's, or
// another kind's, is not found.
func (s *Service) taskOf(ctx context.Context, projectID, datasetID, taskID string) (*tasks.Task, error) {
	if _, err := s.ds.Workspace(ctx, projectID, datasetID); err != nil {
		return nil, err
	}
	notFound := &dataset.Error{Kind: dataset.KindNotFound, Code: CodeTaskNotFound, Msg: fmt.Sprintf("Task does not exist: %s.", taskID)}
	if s.tasks == nil {
		return nil, notFound
	}
	t, err := s.tasks.Get(ctx, taskID)
	if errors.Is(err, tasks.ErrNotFound) || err == nil && (t.Kind != TaskSmart || t.ResourceID != datasetID || t.ProjectID != projectID) {
		return nil, notFound
	}
	return t, err
}

// CodeTaskNotFound is the reference's "the dataset ID or labeling task ID
// does not exist".
const CodeTaskNotFound = "ModelArts.4338"
