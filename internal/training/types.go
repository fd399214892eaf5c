package training

import "encoding/json"

// The types below are ModelArts' wire documents for algorithms and training
// jobs (field names, nesting and types as the API reference and the official
// SDK have them). Stored documents are these same shapes, so what a client
// sent is what it reads back.

// Parameter is a running parameter (hyperparameter) of an algorithm or job.
type Parameter struct {
	Name            string               `json:"name"`
	Value           string               `json:"value"`
	Description     string               `json:"description"`
	Constraint      *ParameterConstraint `json:"constraint,omitempty"`
	I18nDescription *I18nDescription     `json:"i18n_description"`
}

// ParameterConstraint constrains a parameter's value.
type ParameterConstraint struct {
	Type       string   `json:"type"`
	Editable   *bool    `json:"editable"`
	Required   *bool    `json:"required"`
	Sensitive  *bool    `json:"sensitive"`
	ValidType  string   `json:"valid_type"`
	ValidRange []string `json:"valid_range"`
}

// I18nDescription is a parameter's description in one language.
type I18nDescription struct {
	Language    string `json:"language"`
	Description string `json:"description"`
}

// RemoteConstraint constrains an algorithm's data input.
type RemoteConstraint struct {
	DataType   string              `json:"data_type,omitempty"`
	Attributes []map[string]string `json:"attributes,omitempty"`
}

// AlgorithmInput is an input channel an algorithm declares.
type AlgorithmInput struct {
	Name              string             `json:"name"`
	Description       string             `json:"description"`
	RemoteConstraints []RemoteConstraint `json:"remote_constraints,omitempty"`
}

// AlgorithmOutput is an output channel an algorithm declares.
type AlgorithmOutput struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// Engine names the engine a job or algorithm runs with: a configured engine
// (engine_id, or engine_name + engine_version) or a container image.
type EngineRef struct {
	EngineID      string `json:"engine_id,omitempty"`
	EngineName    string `json:"engine_name,omitempty"`
	EngineVersion string `json:"engine_version,omitempty"`
	ImageURL      string `json:"image_url,omitempty"`
	// InstallSysPackages is accepted on jobs and echoed; it means nothing locally.
	InstallSysPackages *bool `json:"install_sys_packages,omitempty"`
}

// AlgorithmMetadataIn is the metadata of an algorithm create or modify request.
type AlgorithmMetadataIn struct {
	// ID is documented as "do not set"; the SDK types it as an integer. It is ignored.
	ID          json.RawMessage `json:"id,omitempty"`
	Name        string          `json:"name"`
	Description *string         `json:"description"`
	WorkspaceID string          `json:"workspace_id"`
	AIProject   string          `json:"ai_project"`
}

// AlgorithmJobConfig is an algorithm's configuration.
type AlgorithmJobConfig struct {
	CodeDir                 string            `json:"code_dir"`
	BootFile                string            `json:"boot_file"`
	Command                 string            `json:"command"`
	Parameters              []Parameter       `json:"parameters"`
	Inputs                  []AlgorithmInput  `json:"inputs"`
	Outputs                 []AlgorithmOutput `json:"outputs"`
	Engine                  EngineRef         `json:"engine"`
	ParametersCustomization *bool             `json:"parameters_customization,omitempty"`
}

// ResourceRequirementIn is a resource constraint as requests write it.
type ResourceRequirementIn struct {
	Key      string   `json:"key"`
	Values   []string `json:"values"`
	Operator string   `json:"operator"`
}

// ResourceRequirement is a resource constraint as responses write it
// ("value", where requests say "values", as in the reference and the SDK).
type ResourceRequirement struct {
	Key      string   `json:"key"`
	Value    []string `json:"value"`
	Operator string   `json:"operator"`
}

// AlgorithmRequest is the body of creating or modifying an algorithm.
type AlgorithmRequest struct {
	Metadata             *AlgorithmMetadataIn    `json:"metadata"`
	JobConfig            *AlgorithmJobConfig     `json:"job_config"`
	ResourceRequirements []ResourceRequirementIn `json:"resource_requirements"`
	AdvancedConfig       json.RawMessage         `json:"advanced_config,omitempty"`
}

// AlgorithmMetadata is an algorithm's metadata as stored and answered.
type AlgorithmMetadata struct {
	ID          string              `json:"id"`
	Name        string              `json:"name"`
	Description string              `json:"description"`
	WorkspaceID string              `json:"workspace_id"`
	AIProject   string              `json:"ai_project"`
	UserName    string              `json:"user_name"`
	DomainID    string              `json:"domain_id"`
	Source      string              `json:"source"`
	APIVersion  string              `json:"api_version"`
	IsValid     bool                `json:"is_valid"`
	State       string              `json:"state"`
	Tags        []map[string]string `json:"tags"`
	AttrList    []string            `json:"attr_list"`
	VersionNum  int                 `json:"version_num"`
	Size        int64               `json:"size"`
	CreateTime  int64               `json:"create_time"`
	UpdateTime  int64               `json:"update_time"`
}

// Algorithm is a stored algorithm: the response document.
type Algorithm struct {
	Metadata             AlgorithmMetadata     `json:"metadata"`
	JobConfig            AlgorithmJobConfig    `json:"job_config"`
	ResourceRequirements []ResourceRequirement `json:"resource_requirements"`
	AdvancedConfig       json.RawMessage       `json:"advanced_config,omitempty"`
}

// OBSRef is {"obs_url": ...}.
type OBSRef struct {
	OBSURL string `json:"obs_url"`
}

// DatasetRef is a dataset version used as a job input.
type DatasetRef struct {
	ID        string `json:"id"`
	VersionID string `json:"version_id,omitempty"`
	OBSURL    string `json:"obs_url,omitempty"`
}

// InputRemote is where a job input's data comes from.
type InputRemote struct {
	Dataset *DatasetRef `json:"dataset,omitempty"`
	OBS     *OBSRef     `json:"obs,omitempty"`
}

// JobInput is a job's data input channel.
type JobInput struct {
	Name             string          `json:"name"`
	Description      string          `json:"description,omitempty"`
	LocalDir         string          `json:"local_dir,omitempty"`
	AccessMethod     string          `json:"access_method,omitempty"`
	Remote           *InputRemote    `json:"remote"`
	RemoteConstraint json.RawMessage `json:"remote_constraint,omitempty"`
}

// OutputRemote is where a job output's data goes.
type OutputRemote struct {
	OBS *OBSRef `json:"obs"`
}

// JobOutput is a job's data output channel.
type JobOutput struct {
	Name         string        `json:"name"`
	Description  string        `json:"description,omitempty"`
	LocalDir     string        `json:"local_dir,omitempty"`
	AccessMethod string        `json:"access_method,omitempty"`
	Remote       *OutputRemote `json:"remote"`
}

// JobAlgorithmIn is the algorithm part of a job create request.
type JobAlgorithmIn struct {
	ID                      string            `json:"id"`
	Name                    string            `json:"name"`
	SubscriptionID          string            `json:"subscription_id"`
	ItemVersionID           string            `json:"item_version_id"`
	CodeDir                 string            `json:"code_dir"`
	BootFile                string            `json:"boot_file"`
	AutosearchConfigPath    string            `json:"autosearch_config_path"`
	AutosearchFrameworkPath string            `json:"autosearch_framework_path"`
	Command                 string            `json:"command"`
	Parameters              []Parameter       `json:"parameters"`
	Policies                json.RawMessage   `json:"policies,omitempty"`
	Inputs                  []JobInput        `json:"inputs"`
	Outputs                 []JobOutput       `json:"outputs"`
	Engine                  *EngineRef        `json:"engine"`
	LocalCodeDir            string            `json:"local_code_dir"`
	WorkingDir              string            `json:"working_dir"`
	Environments            map[string]string `json:"environments"`
	Summary                 json.RawMessage   `json:"summary,omitempty"`
}

// JobMetadataIn is the metadata of a job create request.
type JobMetadataIn struct {
	Name                        string            `json:"name"`
	WorkspaceID                 string            `json:"workspace_id"`
	Description                 string            `json:"description"`
	Annotations                 map[string]string `json:"annotations"`
	TrainingExperimentReference json.RawMessage   `json:"training_experiment_reference,omitempty"`
}

// SpecResourceIn is the resource a job asks for.
type SpecResourceIn struct {
	FlavorID                      string          `json:"flavor_id"`
	NodeCount                     *int            `json:"node_count"`
	PoolID                        string          `json:"pool_id"`
	PoolGroupID                   string          `json:"pool_group_id,omitempty"`
	MainContainerCustomizedFlavor json.RawMessage `json:"main_container_customized_flavor,omitempty"`
}

// LogExportPath is where a job's logs are exported.
type LogExportPath struct {
	OBSURL   string `json:"obs_url,omitempty"`
	HostPath string `json:"host_path,omitempty"`
}

// AutoStop stops a job after a running time.
type AutoStop struct {
	TimeUnit string `json:"time_unit"`
	Duration int    `json:"duration"`
}

// SchedulePolicy is a job's scheduling policy.
type SchedulePolicy struct {
	RequiredAffinity  json.RawMessage `json:"required_affinity,omitempty"`
	PreferredAffinity json.RawMessage `json:"preferred_affinity,omitempty"`
	Priority          *int            `json:"priority,omitempty"`
	Preemptible       *bool           `json:"preemptible,omitempty"`
}

// JobSpecIn is the spec of a job create request.
type JobSpecIn struct {
	Resource        *SpecResourceIn `json:"resource"`
	Volumes         json.RawMessage `json:"volumes,omitempty"`
	LogExportPath   *LogExportPath  `json:"log_export_path"`
	AutoStop        *AutoStop       `json:"auto_stop"`
	SchedulePolicy  *SchedulePolicy `json:"schedule_policy"`
	LogExportConfig json.RawMessage `json:"log_export_config,omitempty"`
	Notification    json.RawMessage `json:"notification,omitempty"`
	CustomMetrics   json.RawMessage `json:"custom_metrics,omitempty"`
	OutputModel     json.RawMessage `json:"output_model,omitempty"`
	AssetModel      json.RawMessage `json:"asset_model,omitempty"`
	AssetID         string          `json:"asset_id,omitempty"`
}

// JobRequest is the body of creating a training job.
type JobRequest struct {
	Kind        string          `json:"kind"`
	Metadata    *JobMetadataIn  `json:"metadata"`
	Algorithm   *JobAlgorithmIn `json:"algorithm"`
	Tasks       json.RawMessage `json:"tasks,omitempty"`
	Spec        *JobSpecIn      `json:"spec"`
	Endpoints   json.RawMessage `json:"endpoints,omitempty"`
	TrainType   string          `json:"train_type,omitempty"`
	FtjobConfig json.RawMessage `json:"ftjob_config,omitempty"`
}

// JobMetadata is a job's metadata as answered.
type JobMetadata struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	WorkspaceID string            `json:"workspace_id"`
	Description string            `json:"description"`
	CreateTime  int64             `json:"create_time"`
	UserName    string            `json:"user_name"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// TaskStatus is one task's status.
type TaskStatus struct {
	Task     string `json:"task"`
	ExitCode int    `json:"exit_code"`
	Message  string `json:"message"`
}

// RunningRecord is one run of a job, in Unix seconds.
type RunningRecord struct {
	StartAt        int64  `json:"start_at"`
	EndAt          int64  `json:"end_at,omitempty"`
	StartType      string `json:"start_type"`
	EndReason      string `json:"end_reason,omitempty"`
	EndRelatedTask string `json:"end_related_task,omitempty"`
}

// JobStatus is a job's status as answered.
type JobStatus struct {
	Phase            string          `json:"phase"`
	SecondaryPhase   string          `json:"secondary_phase"`
	Duration         int64           `json:"duration"`
	NodeCountMetrics [][]int         `json:"node_count_metrics"`
	Tasks            []string        `json:"tasks"`
	StartTime        int64           `json:"start_time"`
	TaskStatuses     []TaskStatus    `json:"task_statuses,omitempty"`
	RunningRecords   []RunningRecord `json:"running_records,omitempty"`
}

// JobAlgorithm is the algorithm part of a job as stored and answered: the
// request's, completed from the algorithm it names.
type JobAlgorithm struct {
	ID                      string              `json:"id,omitempty"`
	Name                    string              `json:"name,omitempty"`
	CodeDir                 string              `json:"code_dir,omitempty"`
	BootFile                string              `json:"boot_file,omitempty"`
	AutosearchConfigPath    string              `json:"autosearch_config_path,omitempty"`
	AutosearchFrameworkPath string              `json:"autosearch_framework_path,omitempty"`
	Command                 string              `json:"command,omitempty"`
	Parameters              []Parameter         `json:"parameters"`
	Policies                json.RawMessage     `json:"policies,omitempty"`
	Inputs                  []JobInput          `json:"inputs,omitempty"`
	Outputs                 []JobOutput         `json:"outputs,omitempty"`
	Engine                  *EngineRef          `json:"engine,omitempty"`
	LocalCodeDir            string              `json:"local_code_dir,omitempty"`
	WorkingDir              string              `json:"working_dir,omitempty"`
	Environments            []map[string]string `json:"environments,omitempty"`
	Summary                 json.RawMessage     `json:"summary,omitempty"`
}

// FlavorDetail describes a flavor as jobs and the flavor list answer it.
type FlavorDetail struct {
	FlavorType string      `json:"flavor_type"`
	Billing    BillingInfo `json:"billing"`
	FlavorInfo FlavorInfo  `json:"flavor_info"`
}

// BillingInfo is a flavor's billing code (always unit_num 1 locally).
type BillingInfo struct {
	Code    string `json:"code"`
	UnitNum int    `json:"unit_num"`
}

// FlavorInfo is a flavor's resources.
type FlavorInfo struct {
	MaxNum int        `json:"max_num"`
	CPU    CPUInfo    `json:"cpu"`
	GPU    *GPUInfo   `json:"gpu,omitempty"`
	Memory MemoryInfo `json:"memory"`
	Disk   *DiskInfo  `json:"disk,omitempty"`
}

// CPUInfo is a flavor's CPU.
type CPUInfo struct {
	Arch    string `json:"arch"`
	CoreNum int    `json:"core_num"`
}

// GPUInfo is a flavor's GPUs.
type GPUInfo struct {
	UnitNum     int    `json:"unit_num"`
	ProductName string `json:"product_name"`
	Memory      string `json:"memory"`
}

// MemoryInfo is a flavor's memory.
type MemoryInfo struct {
	Size int64  `json:"size"`
	Unit string `json:"unit"`
}

// DiskInfo is a flavor's disk. Its size is a string in a job's flavor_detail
// and an integer in the flavor list, as in the reference.
type DiskInfo struct {
	Size any    `json:"size"`
	Unit string `json:"unit"`
}

// JobResource is the resource part of a job's spec as answered.
type JobResource struct {
	Policy       string        `json:"policy"`
	FlavorID     string        `json:"flavor_id"`
	FlavorName   string        `json:"flavor_name"`
	NodeCount    int           `json:"node_count"`
	FlavorDetail *FlavorDetail `json:"flavor_detail,omitempty"`
}

// JobSpec is a job's spec as stored and answered.
type JobSpec struct {
	Resource       JobResource     `json:"resource"`
	Volumes        json.RawMessage `json:"volumes,omitempty"`
	LogExportPath  LogExportPath   `json:"log_export_path"`
	AutoStop       *AutoStop       `json:"auto_stop,omitempty"`
	SchedulePolicy SchedulePolicy  `json:"schedule_policy"`
}

// Job is a training job as answered.
type Job struct {
	Kind      string          `json:"kind"`
	Metadata  JobMetadata     `json:"metadata"`
	Status    JobStatus       `json:"status"`
	Algorithm JobAlgorithm    `json:"algorithm"`
	Spec      JobSpec         `json:"spec"`
	Endpoints json.RawMessage `json:"endpoints,omitempty"`
}

// Event is one entry of a job's event list.
type Event struct {
	Time    string `json:"time"`
	Level   string `json:"level"`
	Message string `json:"message"`
	Source  string `json:"source"`
}
