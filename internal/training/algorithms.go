package training

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/store"
)

// AlgorithmPlan is a validated algorithm waiting for the caller's OBS
// authorization (Reads) and for CommitAlgorithm.
type AlgorithmPlan struct {
	// Reads are the locations the algorithm's jobs will read (its code).
	Reads []obs.Path
	scope Scope
	doc   Algorithm
	// update is the ID of the algorithm a modify replaces.
	update  string
	oldName string
	dir     *obs.Path
	boot    obs.Path
}

// PlanAlgorithm validates a create request.
func (s *Service) PlanAlgorithm(sc Scope, req *AlgorithmRequest) (*AlgorithmPlan, error) {
	if req.Metadata == nil {
		return nil, badRequest("metadata is required")
	}
	if err := checkName("metadata.name", req.Metadata.Name); err != nil {
		return nil, err
	}
	now := s.now().UnixMilli()
	doc := Algorithm{Metadata: AlgorithmMetadata{ID: store.NewID(), Name: req.Metadata.Name, WorkspaceID: sc.WorkspaceID,
		AIProject: "default-ai-project", UserName: sc.UserName, DomainID: sc.DomainID, Source: "custom",
		IsValid: true, Tags: []map[string]string{}, AttrList: []string{}, CreateTime: now, UpdateTime: now}}
	if req.Metadata.Description != nil {
		doc.Metadata.Description = *req.Metadata.Description
	}
	if req.Metadata.AIProject != "" {
		doc.Metadata.AIProject = req.Metadata.AIProject
	}
	p := &AlgorithmPlan{scope: sc}
	if err := s.applyAlgorithm(p, &doc, req); err != nil {
		return nil, err
	}
	p.doc = doc
	return p, nil
}

// applyAlgorithm validates the parts of req that are present and writes them into doc.
func (s *Service) applyAlgorithm(p *AlgorithmPlan, doc *Algorithm, req *AlgorithmRequest) error {
	if err := checkDescription("metadata.description", doc.Metadata.Description); err != nil {
		return err
	}
	if req.JobConfig != nil {
		jc := *req.JobConfig
		if (jc.CodeDir == "") != (jc.BootFile == "") {
			return badRequest("job_config.code_dir and job_config.boot_file must be given together")
		}
		if jc.Engine.ImageURL == "" {
			if jc.Command != "" {
				return invalid(CodeMustHaveCmdImage, "Custom image jobs command and engine.url cannot be empty: job_config.command needs job_config.engine.image_url.")
			}
			if jc.BootFile == "" {
				return badRequest("job_config needs code_dir and boot_file, or an engine.image_url")
			}
		} else if jc.Command == "" && jc.BootFile == "" {
			return invalid(CodeMustHaveCmdImage, "Custom image jobs command and engine.url cannot be empty: an image needs job_config.command or a boot_file.")
		}
		if jc.Engine.ImageURL == "" && (jc.Engine.EngineID != "" || jc.Engine.EngineName != "") {
			e, ok := s.findEngine(jc.Engine)
			if !ok {
				return invalid(CodeInvalidParam, "Invalid parameter(job_config.engine): no engine %q is available on this host; see GET /v2/{project_id}/training-job-engines.", engineLabel(jc.Engine))
			}
			jc.Engine = EngineRef{EngineID: e.ID, EngineName: e.Name, EngineVersion: e.Version}
		}
		if jc.BootFile != "" {
			dir, boot, err := codeLocation(jc.CodeDir, jc.BootFile)
			if err != nil {
				return err
			}
			// Stored and answered in the caller's form ("/bucket/dir/" or
			// "obs://bucket/dir/"), as the reference's examples echo it;
			// jobs parse it again where they need the location.
			p.dir, p.boot = &dir, boot
			p.Reads = append(p.Reads, dir)
		}
		if err := checkParameters("job_config.parameters", jc.Parameters); err != nil {
			return err
		}
		jc.Parameters = normalizeParameters(jc.Parameters)
		if len(jc.Inputs) > MaxChannels || len(jc.Outputs) > MaxChannels {
			return invalid(CodeParamRange, "The parameter(job_config.inputs/outputs) exceeds the upper limit %d.", MaxChannels)
		}
		seen := map[string]bool{}
		for i, in := range jc.Inputs {
			if !paramNameRe.MatchString(in.Name) || seen[in.Name] {
				return badRequest("job_config.inputs[%d].name %q must be a unique name of letters, digits, '_', '.' and '-'", i, in.Name)
			}
			seen[in.Name] = true
		}
		for i, out := range jc.Outputs {
			if !paramNameRe.MatchString(out.Name) || seen[out.Name] {
				return badRequest("job_config.outputs[%d].name %q must be a unique name of letters, digits, '_', '.' and '-'", i, out.Name)
			}
			seen[out.Name] = true
		}
		if jc.Inputs == nil {
			jc.Inputs = []AlgorithmInput{}
		}
		if jc.Outputs == nil {
			jc.Outputs = []AlgorithmOutput{}
		}
		doc.JobConfig = jc
	}
	if req.ResourceRequirements != nil {
		doc.ResourceRequirements = []ResourceRequirement{}
		for i, r := range req.ResourceRequirements {
			if r.Operator != "" && r.Operator != "in" {
				return badRequest("resource_requirements[%d].operator must be \"in\"", i)
			}
			doc.ResourceRequirements = append(doc.ResourceRequirements, ResourceRequirement{Key: r.Key, Value: r.Values, Operator: r.Operator})
		}
	}
	if doc.ResourceRequirements == nil {
		doc.ResourceRequirements = []ResourceRequirement{}
	}
	if len(req.AdvancedConfig) > 0 {
		if !isJSONObject(req.AdvancedConfig) {
			return badRequest("advanced_config must be an object")
		}
		doc.AdvancedConfig = req.AdvancedConfig
	}
	return nil
}

func isJSONObject(raw json.RawMessage) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(raw, &m) == nil && m != nil
}

func engineLabel(e EngineRef) string {
	if e.EngineID != "" {
		return e.EngineID
	}
	return strings.TrimSpace(e.EngineName + " " + e.EngineVersion)
}

// CommitAlgorithm checks the code in object storage and stores the algorithm.
func (s *Service) CommitAlgorithm(ctx context.Context, p *AlgorithmPlan) (*Algorithm, error) {
	doc := p.doc
	if p.dir != nil {
		size, err := s.checkCodeExists(ctx, *p.dir, p.boot)
		if err != nil {
			return nil, err
		}
		doc.Metadata.Size = size
	}
	var err error
	if p.update == "" {
		err = s.repo.insertAlgorithm(ctx, p.scope.ProjectID, &doc)
	} else {
		err = s.repo.updateAlgorithm(ctx, p.scope.ProjectID, p.update, &doc)
	}
	if err != nil {
		return nil, err
	}
	return &doc, nil
}

// PlanAlgorithmUpdate validates a modify request against the stored algorithm.
func (s *Service) PlanAlgorithmUpdate(ctx context.Context, sc Scope, id string, req *AlgorithmRequest) (*AlgorithmPlan, error) {
	cur, err := s.GetAlgorithm(ctx, sc.ProjectID, id)
	if err != nil {
		return nil, err
	}
	doc := *cur
	p := &AlgorithmPlan{scope: sc, update: id, oldName: doc.Metadata.Name}
	if req.Metadata != nil {
		if req.Metadata.Name != "" {
			if err := checkName("metadata.name", req.Metadata.Name); err != nil {
				return nil, err
			}
			doc.Metadata.Name = req.Metadata.Name
		}
		if req.Metadata.Description != nil {
			doc.Metadata.Description = *req.Metadata.Description
		}
		if req.Metadata.WorkspaceID != "" && req.Metadata.WorkspaceID != doc.Metadata.WorkspaceID {
			return nil, badRequest("metadata.workspace_id: an algorithm cannot move to another workspace")
		}
	}
	if err := s.applyAlgorithm(p, &doc, req); err != nil {
		return nil, err
	}
	doc.Metadata.UpdateTime = s.now().UnixMilli()
	p.doc = doc
	return p, nil
}

// GetAlgorithm loads an algorithm of the project.
func (s *Service) GetAlgorithm(ctx context.Context, projectID, id string) (*Algorithm, error) {
	return s.repo.algorithm(ctx, projectID, id)
}

// AlgorithmWorkspace returns the workspace an algorithm lives in.
func (s *Service) AlgorithmWorkspace(ctx context.Context, projectID, id string) (string, error) {
	return s.repo.algorithmWorkspace(ctx, projectID, id)
}

// DeleteAlgorithm deletes an algorithm; jobs that ran it keep their copy of
// its configuration.
func (s *Service) DeleteAlgorithm(ctx context.Context, projectID, id string) error {
	return s.repo.deleteAlgorithm(ctx, projectID, id)
}

// AlgorithmQuery selects a page of algorithms.
type AlgorithmQuery struct {
	Offset, Limit int
	SortBy        string // create_time (default), update_time, name
	Desc          bool
	// NameLike is a substring the name must contain.
	NameLike string
}

// ListAlgorithms lists a workspace's algorithms and counts all that match.
func (s *Service) ListAlgorithms(ctx context.Context, sc Scope, q AlgorithmQuery) (int, []Algorithm, error) {
	col := map[string]string{"": "create_time", "create_time": "create_time", "update_time": "update_time", "name": "name"}[q.SortBy]
	if col == "" {
		return 0, nil, invalid(CodeInvalidParam, "Invalid parameter(sort_by): want create_time, update_time or name.")
	}
	return s.repo.algorithms(ctx, sc, q.NameLike, col, q.Desc, q.Limit, q.Offset)
}
