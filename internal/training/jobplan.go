package training

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/store"
)

// Planning a job: a create request is checked field by field, against the
// reference's rules, into a JobPlan, before any object storage is touched;
// the API then authorizes the paths the plan names and CommitJob stores it.

// JobPlan is a validated job waiting for the caller's OBS authorization and
// for CommitJob.
type JobPlan struct {
	// Reads are read with obs:object:GetObject and listed with
	// obs:bucket:ListBucket: the code directory and the inputs.
	Reads []obs.Path
	// Writes are written with obs:object:PutObject: the outputs and the log path.
	Writes []obs.Path
	// Requester is who creates the job (the API fills it in); the job's
	// downloads and uploads are authorized for them.
	Requester *obs.Requester

	scope    Scope
	row      jobRow
	code     *obs.Path
	boot     obs.Path
	inputs   []obs.Path
	outputs  []obs.Path
	logPath  *obs.Path
	priority int
}

// PlanJob validates a create request: everything that needs no object
// storage I/O.
func (s *Service) PlanJob(ctx context.Context, sc Scope, req *JobRequest) (*JobPlan, error) {
	if s.exec == nil {
		if s.opts.ExecutorUnavailable != "" {
			return nil, badRequest("%s", s.opts.ExecutorUnavailable)
		}
		return nil, badRequest("this Atelier installation has no executor configured to run training jobs")
	}
	if req.Kind == "" {
		req.Kind = "job"
	}
	if req.Kind != "job" {
		return nil, badRequest("kind %q is not supported: only \"job\" (visualization jobs are not available)", req.Kind)
	}
	if req.Metadata == nil {
		return nil, badRequest("metadata is required")
	}
	if err := checkName("metadata.name", req.Metadata.Name); err != nil {
		return nil, err
	}
	if err := checkDescription("metadata.description", req.Metadata.Description); err != nil {
		return nil, err
	}
	if len(req.Tasks) > 0 && string(req.Tasks) != "null" && string(req.Tasks) != "[]" {
		return nil, badRequest("tasks (heterogeneous jobs) are not supported; use spec")
	}
	if req.Algorithm == nil {
		return nil, badRequest("algorithm is required")
	}
	if req.Spec == nil || req.Spec.Resource == nil {
		return nil, badRequest("spec.resource is required")
	}
	p := &JobPlan{scope: sc}
	now := s.now()
	id := store.NewID()
	doc := storedDoc{Kind: req.Kind, Endpoints: req.Endpoints}
	doc.Metadata = JobMetadata{ID: id, Name: req.Metadata.Name, WorkspaceID: sc.WorkspaceID, Description: req.Metadata.Description,
		CreateTime: now.UnixMilli(), UserName: sc.UserName, Annotations: req.Metadata.Annotations}

	alg, err := s.planAlgorithm(ctx, sc, req.Algorithm, p, &doc)
	if err != nil {
		return nil, err
	}
	doc.Algorithm = *alg
	if err := s.planSpec(req.Spec, p, &doc); err != nil {
		return nil, err
	}
	p.row = jobRow{ID: id, ProjectID: sc.ProjectID, WorkspaceID: sc.WorkspaceID, Phase: PhaseCreating, Secondary: PhaseCreating,
		Priority: p.priority, CreateTime: now.UnixMilli(), Description: req.Metadata.Description, Doc: doc}
	return p, nil
}

func (s *Service) planAlgorithm(ctx context.Context, sc Scope, in *JobAlgorithmIn, p *JobPlan, doc *storedDoc) (*JobAlgorithm, error) {
	if in.SubscriptionID != "" || in.ItemVersionID != "" {
		return nil, badRequest("algorithm.subscription_id: subscribed (AI Gallery) algorithms are not available in Atelier")
	}
	if in.AutosearchConfigPath != "" || in.AutosearchFrameworkPath != "" {
		return nil, badRequest("algorithm.autosearch_*: auto search jobs are not supported")
	}
	out := &JobAlgorithm{Policies: in.Policies, LocalCodeDir: in.LocalCodeDir, WorkingDir: in.WorkingDir, Summary: in.Summary}
	if len(out.Policies) == 0 {
		out.Policies = json.RawMessage(`{}`)
	}
	var engine EngineRef
	if in.Engine != nil {
		engine = *in.Engine
	}
	codeDir, bootFile, command := in.CodeDir, in.BootFile, in.Command
	params := in.Parameters
	var algInputs []AlgorithmInput
	var algOutputs []AlgorithmOutput
	if in.ID != "" {
		a, err := s.GetAlgorithm(ctx, sc.ProjectID, in.ID)
		if err != nil {
			return nil, err
		}
		if codeDir != "" || bootFile != "" {
			return nil, badRequest("algorithm: give either id or code_dir and boot_file, not both")
		}
		out.ID, out.Name = a.Metadata.ID, a.Metadata.Name
		jc := a.JobConfig
		codeDir, bootFile = jc.CodeDir, jc.BootFile
		if command == "" {
			command = jc.Command
		}
		if in.Engine == nil {
			engine = jc.Engine
		}
		// The job's parameters override the algorithm's defaults by name.
		merged := append([]Parameter(nil), jc.Parameters...)
		for _, jp := range params {
			found := false
			for i := range merged {
				if merged[i].Name == jp.Name {
					if merged[i].Constraint != nil && merged[i].Constraint.Editable != nil && !*merged[i].Constraint.Editable && jp.Value != merged[i].Value {
						return nil, badRequest("algorithm.parameters: parameter %q of algorithm %s is not editable", jp.Name, a.Metadata.ID)
					}
					merged[i].Value = jp.Value
					found = true
				}
			}
			if !found {
				if jc.ParametersCustomization != nil && !*jc.ParametersCustomization {
					return nil, badRequest("algorithm.parameters: algorithm %s does not allow custom parameter %q", a.Metadata.ID, jp.Name)
				}
				merged = append(merged, jp)
			}
		}
		params = merged
		algInputs, algOutputs = jc.Inputs, jc.Outputs
	}
	if err := checkParameters("algorithm.parameters", params); err != nil {
		return nil, err
	}
	for _, prm := range params {
		if prm.Constraint != nil && prm.Constraint.Required != nil && *prm.Constraint.Required && prm.Value == "" {
			return nil, badRequest("algorithm.parameters: parameter %q is required", prm.Name)
		}
	}
	out.Parameters = normalizeParameters(params)

	// Engine and code.
	if engine.ImageURL != "" {
		if command == "" && bootFile == "" {
			return nil, invalid(CodeMustHaveCmdImage, "Custom image jobs command and engine.url cannot be empty.")
		}
		doc.Run.Image = engine.ImageURL
	} else if command != "" {
		return nil, invalid(CodeMustHaveCmdImage, "Custom image jobs command and engine.url cannot be empty: algorithm.command needs algorithm.engine.image_url.")
	}
	if bootFile == "" && codeDir == "" && engine.ImageURL == "" {
		return nil, badRequest("algorithm needs id, or code_dir and boot_file, or engine.image_url and command")
	}
	if (codeDir == "") != (bootFile == "") {
		return nil, badRequest("algorithm.code_dir and algorithm.boot_file must be given together")
	}
	if bootFile != "" {
		dir, boot, err := codeLocation(codeDir, bootFile)
		if err != nil {
			return nil, err
		}
		p.code, p.boot = &dir, boot
		out.CodeDir, out.BootFile = codeDir, bootFile // echoed as the caller sent them
		p.Reads = append(p.Reads, dir)
		doc.Run.CodeDir, doc.Run.BootFile = dir.String(), boot.String()
	}
	out.Command = command
	if engine.ImageURL == "" {
		var e Engine
		var ok bool
		if engine.EngineID != "" || engine.EngineName != "" {
			if e, ok = s.findEngine(engine); !ok {
				return nil, invalid(CodeInvalidParam, "Invalid parameter(algorithm.engine): no engine %q is available on this host; see GET /v2/{project_id}/training-job-engines.", engineLabel(engine))
			}
		} else if e, ok = s.engineForBootFile(bootFile); !ok {
			return nil, invalid(CodeInvalidParam, "Invalid parameter(algorithm.engine): no available engine runs %q; name one (GET /v2/{project_id}/training-job-engines).", path.Base(bootFile))
		}
		engine = EngineRef{EngineID: e.ID, EngineName: e.Name, EngineVersion: e.Version, InstallSysPackages: engine.InstallSysPackages}
		doc.Run.Launch = append(append([]string(nil), e.path), e.Launch[1:]...)
	}
	out.Engine = &engine

	// Environments.
	if len(in.Environments) > MaxEnvironments {
		return nil, invalid(CodeParamRange, "The parameter(algorithm.environments) exceeds the upper limit %d.", MaxEnvironments)
	}
	for k, v := range in.Environments {
		if len(k) > MaxEnvKeyLen || !envKeyRe.MatchString(k) {
			return nil, badRequest("algorithm.environments: %q is not a valid variable name (letters, digits and '_', not starting with a digit)", k)
		}
		if len(v) > MaxEnvValueLen || strings.ContainsAny(v, "$\x00") {
			return nil, badRequest("algorithm.environments[%s]: values are at most %d characters and cannot contain '$'", k, MaxEnvValueLen)
		}
		out.Environments = append(out.Environments, map[string]string{k: v})
	}
	doc.Run.Env = in.Environments

	// Inputs and outputs.
	if len(in.Inputs) > MaxChannels {
		return nil, invalid(CodeParamRange, "The parameter(algorithm.inputs) exceeds the upper limit %d.", MaxChannels)
	}
	if len(in.Outputs) > MaxChannels {
		return nil, invalid(CodeParamRange, "The parameter(algorithm.outputs) exceeds the upper limit %d.", MaxChannels)
	}
	seen := map[string]bool{}
	for _, prm := range out.Parameters {
		seen[prm.Name] = true
	}
	for i, ch := range in.Inputs {
		field := fmt.Sprintf("algorithm.inputs[%d]", i)
		if !paramNameRe.MatchString(ch.Name) || seen[ch.Name] {
			return nil, badRequest("%s.name %q must be unique among inputs, outputs and parameters and contain only letters, digits, '_', '.' and '-'", field, ch.Name)
		}
		seen[ch.Name] = true
		if ch.Remote == nil || (ch.Remote.OBS == nil && ch.Remote.Dataset == nil) {
			return nil, badRequest("%s.remote needs obs.obs_url", field)
		}
		if ch.Remote.Dataset != nil {
			return nil, badRequest("%s.remote.dataset: dataset inputs are not supported by this Atelier build; give the dataset version's export folder or manifest as remote.obs.obs_url", field)
		}
		loc, err := parseOBSAny(field+".remote.obs.obs_url", ch.Remote.OBS.OBSURL)
		if err != nil {
			return nil, err
		}
		p.inputs = append(p.inputs, loc)
		p.Reads = append(p.Reads, loc)
		ch.LocalDir = "/home/ma-user/modelarts/inputs/" + ch.Name + "/"
		out.Inputs = append(out.Inputs, ch)
	}
	for i, ch := range in.Outputs {
		field := fmt.Sprintf("algorithm.outputs[%d]", i)
		if !paramNameRe.MatchString(ch.Name) || seen[ch.Name] {
			return nil, badRequest("%s.name %q must be unique among inputs, outputs and parameters and contain only letters, digits, '_', '.' and '-'", field, ch.Name)
		}
		seen[ch.Name] = true
		if ch.Remote == nil || ch.Remote.OBS == nil {
			return nil, badRequest("%s.remote.obs.obs_url is required", field)
		}
		loc, err := parseOBSDir(field+".remote.obs.obs_url", ch.Remote.OBS.OBSURL)
		if err != nil {
			return nil, err
		}
		p.outputs = append(p.outputs, loc)
		p.Writes = append(p.Writes, loc)
		ch.LocalDir = "/home/ma-user/modelarts/outputs/" + ch.Name + "/"
		out.Outputs = append(out.Outputs, ch)
	}
	for _, ai := range algInputs {
		if !hasInput(in.Inputs, ai.Name) {
			return nil, badRequest("algorithm.inputs: the algorithm's input %q needs a data source (remote.obs.obs_url)", ai.Name)
		}
	}
	for _, ao := range algOutputs {
		if !hasOutput(in.Outputs, ao.Name) {
			return nil, badRequest("algorithm.outputs: the algorithm's output %q needs a destination (remote.obs.obs_url)", ao.Name)
		}
	}
	return out, nil
}

func hasInput(ins []JobInput, name string) bool {
	for _, in := range ins {
		if in.Name == name {
			return true
		}
	}
	return false
}

func hasOutput(outs []JobOutput, name string) bool {
	for _, o := range outs {
		if o.Name == name {
			return true
		}
	}
	return false
}

func (s *Service) planSpec(in *JobSpecIn, p *JobPlan, doc *storedDoc) error {
	r := in.Resource
	if r.PoolID != "" || r.PoolGroupID != "" {
		return badRequest("spec.resource.pool_id: dedicated resource pools are not available; use a flavor_id of GET /v2/{project_id}/training-job-flavors")
	}
	if r.FlavorID == "" {
		return badRequest("spec.resource.flavor_id is required (see GET /v2/{project_id}/training-job-flavors)")
	}
	f, ok := s.flavor(r.FlavorID)
	if !ok {
		return invalid(CodeFlavorInvalid, "The selected flavor is invalid: %q is not offered here (see GET /v2/{project_id}/training-job-flavors).", r.FlavorID)
	}
	nodes := 1
	if r.NodeCount != nil {
		nodes = *r.NodeCount
	}
	if nodes < 1 {
		return badRequest("spec.resource.node_count must be at least 1")
	}
	if nodes > f.MaxNum {
		return invalid(CodeFlavorOutOfRange, "The number of flavor instances (%d) exceeds the maximum (%d).", nodes, f.MaxNum)
	}
	detail := f.Detail(true)
	doc.Spec.Resource = JobResource{Policy: "regular", FlavorID: f.ID, FlavorName: f.Name, NodeCount: nodes, FlavorDetail: &detail}
	doc.Run.Flavor = f.Flavor
	doc.Spec.Volumes = in.Volumes
	if in.LogExportPath != nil {
		if in.LogExportPath.HostPath != "" {
			return badRequest("spec.log_export_path.host_path is not supported; use obs_url")
		}
		if in.LogExportPath.OBSURL != "" {
			loc, err := parseOBSDir("spec.log_export_path.obs_url", in.LogExportPath.OBSURL)
			if err != nil {
				return err
			}
			p.logPath = &loc
			p.Writes = append(p.Writes, loc)
			doc.Spec.LogExportPath = LogExportPath{OBSURL: loc.String()}
			doc.Run.LogDir = loc.String()
		}
	}
	if in.AutoStop != nil {
		if _, err := autoStopDuration(in.AutoStop); err != nil {
			return err
		}
		doc.Spec.AutoStop = in.AutoStop
	}
	p.priority = 1
	if sp := in.SchedulePolicy; sp != nil {
		doc.Spec.SchedulePolicy = *sp
		if sp.Priority != nil {
			if *sp.Priority < 1 || *sp.Priority > 3 {
				return badRequest("spec.schedule_policy.priority must be 1, 2 or 3")
			}
			p.priority = *sp.Priority
		}
	}
	prio := p.priority
	doc.Spec.SchedulePolicy.Priority = &prio
	return nil
}

func autoStopDuration(a *AutoStop) (time.Duration, error) {
	if a.Duration < 1 {
		return 0, badRequest("spec.auto_stop.duration must be at least 1")
	}
	if a.TimeUnit != "HOURS" {
		return 0, badRequest("spec.auto_stop.time_unit must be HOURS")
	}
	return time.Duration(a.Duration) * time.Hour, nil
}
