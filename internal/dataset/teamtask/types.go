package teamtask

import (
	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/annotation"
)

// Task statuses of the reference.
const (
	StatusStarting  = 0
	StatusRunning   = 1
	StatusAccepting = 2
	StatusAccepted  = 3
	StatusRejected  = 4
	StatusCreated   = 6
)

// Allocation states as stored (team_samples.state).
const (
	StateUnlabeled  = 0 // __NONE__
	StateUnreviewed = 1 // __UNREVIEWED__: labeled, waiting for a reviewer
	StateRejected   = 2 // __REJECTED__: back with its labeler
	StateUncheck    = 3 // __UNCHECK__: passed review, waiting for acceptance
	StateAccepted   = 4 // __ACCEPTED__
)

// stateNames are the sample_status strings of the reference.
var stateNames = map[int]string{StateUnlabeled: "__NONE__", StateUnreviewed: "__UNREVIEWED__",
	StateRejected: "__REJECTED__", StateUncheck: "__UNCHECK__", StateAccepted: "__ACCEPTED__"}

// Caller is who asks: the account, project and user, and whether a policy
// other than the labeling system policies grants it the route's action
// (then it is the task's owner; a member acts only in its member roles).
type Caller struct {
	DomainID    string
	ProjectID   string
	WorkspaceID string
	UserID      string
	UserName    string
	Owner       bool
}

// WorkerRef is a member in a task's workforces_config.
type WorkerRef struct {
	CreateTime  int64  `json:"create_time,omitempty"`
	Description string `json:"description,omitempty"`
	Email       string `json:"email"`
	Role        int    `json:"role"`
	Status      int    `json:"status"`
	UpdateTime  int64  `json:"update_time,omitempty"`
	WorkerID    string `json:"worker_id"`
	WorkforceID string `json:"workforce_id"`
}

// WorkforceConfig is one team of a task and the members it gives it.
type WorkforceConfig struct {
	Workers       []WorkerRef `json:"workers"`
	WorkforceID   string      `json:"workforce_id"`
	WorkforceName string      `json:"workforce_name,omitempty"`
}

// WorkforcesConfig is the teams of a task.
type WorkforcesConfig struct {
	Agency     string            `json:"agency,omitempty"`
	Workforces []WorkforceConfig `json:"workforces"`
}

// CreateRequest is the body of creating a task.
type CreateRequest struct {
	AutoSyncDataset             *bool             `json:"auto_sync_dataset"`
	DataSyncType                *int              `json:"data_sync_type"`
	Repetition                  *int              `json:"repetition"`
	SampleConditions            string            `json:"sample_conditions"`
	SynchronizeAutoLabelingData bool              `json:"synchronize_auto_labeling_data"`
	WorkforcesConfig            *WorkforcesConfig `json:"workforces_config"`
	TaskName                    string            `json:"task_name"`
	Description                 string            `json:"description"`
	SynchronizeData             bool              `json:"synchronize_data"`
}

// UpdateRequest is the body of updating (and of starting) a task; absent
// fields stay.
type UpdateRequest struct {
	DatasetID        string            `json:"dataset_id"`
	TaskID           string            `json:"task_id"`
	Description      *string           `json:"description"`
	TaskName         *string           `json:"task_name"`
	WorkforcesConfig *WorkforcesConfig `json:"workforces_config"`
}

// SampleStats are a task's (or a member's) allocations by state.
type SampleStats struct {
	Accepted       int64 `json:"accepted_sample_count"`
	AutoAnnotation int64 `json:"auto_annotation_sample_count"`
	Deleted        int64 `json:"deleted_sample_count"`
	Rejected       int64 `json:"rejected_sample_count"`
	Sampled        int64 `json:"sampled_sample_count"`
	Total          int64 `json:"total_sample_count"`
	Unannotated    int64 `json:"unannotated_sample_count"`
	Uncheck        int64 `json:"uncheck_sample_count"`
	Unreviewed     int64 `json:"unreviewed_sample_count"`
}

// WorkforceStats counts a task's teams and members.
type WorkforceStats struct {
	LabelerCount   int `json:"labeler_count"`
	ReviewerCount  int `json:"reviewer_count"`
	WorkforceCount int `json:"workforce_count"`
}

// CheckStats is an acceptance round's report (CheckTaskStats).
type CheckStats struct {
	Accepted   int64   `json:"accepted_sample_count"`
	Checked    int64   `json:"checked_sample_count"`
	PassRate   float64 `json:"pass_rate"`
	Rejected   int64   `json:"rejected_sample_count"`
	Sampled    int64   `json:"sampled_sample_count"`
	SamplingN  int     `json:"sampling_num"`
	SamplingR  float64 `json:"sampling_rate"`
	Score      string  `json:"score"`
	TaskID     string  `json:"task_id,omitempty"`
	Total      int64   `json:"total_sample_count"`
	TotalScore int64   `json:"total_score"`
	Unchecked  int64   `json:"unchecked_sample_count"`
}

// CheckingDesc is the task's current acceptance round.
type CheckingDesc struct {
	Action         *int        `json:"action,omitempty"`
	CheckingStats  *CheckStats `json:"checking_stats,omitempty"`
	CheckingTaskID string      `json:"checking_task_id"`
	TotalStats     *CheckStats `json:"total_stats,omitempty"`
}

// Task is a team labeling task as the API answers it.
type Task struct {
	AutoSyncDataset             bool                      `json:"auto_sync_dataset"`
	CheckRate                   float64                   `json:"check_rate"`
	CheckingTaskDesc            *CheckingDesc             `json:"checking_task_desc,omitempty"`
	CreateTime                  int64                     `json:"create_time"`
	DatasetID                   string                    `json:"dataset_id"`
	DataSyncType                int                       `json:"data_sync_type"`
	Description                 string                    `json:"description"`
	LabelStats                  []*LabelStats             `json:"label_stats,omitempty"`
	PassRate                    float64                   `json:"pass_rate"`
	Repetition                  int                       `json:"repetition"`
	SampleConditions            string                    `json:"-"`
	SampleSearchConditions      []dataset.SearchCondition `json:"sample_search_conditions,omitempty"`
	SampleStats                 *SampleStats              `json:"sample_stats,omitempty"`
	Score                       float64                   `json:"score"`
	Status                      int                       `json:"status"`
	SynchronizeAutoLabelingData bool                      `json:"synchronize_auto_labeling_data"`
	SynchronizeData             bool                      `json:"synchronize_data"`
	TaskID                      string                    `json:"task_id"`
	TaskName                    string                    `json:"task_name"`
	UpdateTime                  int64                     `json:"update_time"`
	VersionID                   string                    `json:"version_id,omitempty"`
	WorkerStats                 []*WorkerTask             `json:"worker_stats,omitempty"`
	WorkforceStats              *WorkforceStats           `json:"workforce_stats,omitempty"`
	WorkforcesConfig            *WorkforcesConfig         `json:"workforces_config"`

	projectID   string
	workspaceID string
	syncedSeq   int64
	allocated   int64
	checkingID  string
}

// WorkerTask is a member's view of a task (worker-tasks, worker_stats).
type WorkerTask struct {
	CreateTime        int64        `json:"create_time"`
	DatasetID         string       `json:"dataset_id"`
	DatasetType       int          `json:"dataset_type"`
	Email             string       `json:"email"`
	EmailStatus       int          `json:"email_status"`
	LastNotifyTime    int64        `json:"last_notify_time"`
	PassRate          float64      `json:"pass_rate"`
	Role              int          `json:"role"`
	SampleStats       *SampleStats `json:"sample_stats"`
	Score             float64      `json:"score"`
	TaskID            string       `json:"task_id"`
	TaskStatus        int          `json:"task_status"`
	UpdateTime        int64        `json:"update_time"`
	WorkerID          string       `json:"worker_id"`
	WorkforceTaskName string       `json:"workforce_task_name"`
}

// ListQuery pages the tasks of a dataset (Offset in records).
type ListQuery struct {
	Offset, Limit int
}

// WorkerTaskQuery pages the caller's tasks.
type WorkerTaskQuery struct {
	Offset, Limit int
	Search        string
	SortBy        string // create_time or workforce_task_name
	Desc          bool
}

// SampleQuery pages a task's allocations.
type SampleQuery struct {
	Offset, Limit int
	State         string // a sample_state of the reference, "" for any
	LabelName     string
	LabelType     *int
	WorkerID      string // only this member's allocations
}

// SampleLabels is one item of a batch label update.
type SampleLabels struct {
	Labels   []annotation.Label `json:"labels"`
	Metadata map[string]any     `json:"metadata"`
	SampleID string             `json:"sample_id"`
	WorkerID string             `json:"worker_id"`
	// The reference's other fields, accepted and not used by a team
	// member's update (the sample itself is the dataset's).
	SampleType  *int   `json:"sample_type"`
	SampleUsage string `json:"sample_usage"`
	Source      string `json:"source"`
}

// Comment is one verdict of a review or an acceptance round.
type Comment struct {
	Accept   *bool  `json:"accept"`
	Comment  string `json:"comment"`
	SampleID string `json:"sample_id"`
	Score    string `json:"score"`
	WorkerID string `json:"worker_id"`
}

// Event is one state change of an allocation (Atelier's history API).
type Event struct {
	At        int64  `json:"time"`
	Action    string `json:"action"`
	ActorID   string `json:"operator_id"`
	ActorName string `json:"operator_name"`
	WorkerID  string `json:"worker_id"`
	From      string `json:"from_status"`
	To        string `json:"to_status"`
	Comment   string `json:"comment,omitempty"`
	Score     string `json:"score,omitempty"`
}

// MemberReport is a member's figures in the acceptance report and its
// agreement with the other labelers of the same samples.
type MemberReport struct {
	WorkerID  string   `json:"worker_id"`
	Email     string   `json:"email"`
	Sampled   int64    `json:"sampled_sample_count"`
	Checked   int64    `json:"checked_sample_count"`
	Accepted  int64    `json:"accepted_sample_count"`
	Rejected  int64    `json:"rejected_sample_count"`
	PassRate  float64  `json:"pass_rate"`
	Score     string   `json:"score"`
	Agreement *float64 `json:"agreement,omitempty"`
	Compared  int64    `json:"compared_count"`
}

// Report is the acceptance report: the round asked for, all rounds, and
// (Atelier's) per-member figures and agreement.
type Report struct {
	CheckingStats *CheckStats     `json:"checking_stats,omitempty"`
	TotalStats    *CheckStats     `json:"total_stats"`
	MemberStats   []*MemberReport `json:"member_stats"`
	Agreement     *float64        `json:"agreement,omitempty"`
}

// LabelStats is a label of the dataset and how the task's allocations use
// it: occurrences (count) and allocations carrying it (sample_count).
type LabelStats struct {
	Name        string            `json:"name"`
	Type        *int              `json:"type,omitempty"`
	Property    map[string]string `json:"property,omitempty"`
	Count       int64             `json:"count"`
	SampleCount int64             `json:"sample_count"`
}
