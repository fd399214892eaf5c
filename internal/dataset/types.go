package dataset

import "encoding/json"

// Dataset types of the reference (dataset_type).
const (
	TypeImageClassification = 0
	TypeObjectDetection     = 1
	TypeImageSegmentation   = 3
	TypeTextClassification  = 100
	TypeNamedEntity         = 101
	TypeTextTriplet         = 102
	TypeSoundClassification = 200
	TypeSpeechContent       = 201
	TypeSpeechParagraph     = 202
	TypeTable               = 400
	TypeVideo               = 600
	TypeCustom              = 900
)

// Label types beyond the dataset types: a text triplet dataset has
// relationship labels (102) between entity labels (103).
const (
	LabelTripletRelation = 102
	LabelTripletEntity   = 103
)

// Dataset statuses of the reference (status).
const (
	StatusCreating = 0
	StatusNormal   = 1
)

// Label property keys of the reference (LabelProperty).
const (
	PropColor        = "@modelarts:color"
	PropDefaultShape = "@modelarts:default_shape"
	PropFromType     = "@modelarts:from_type"
	PropRenameTo     = "@modelarts:rename_to"
	PropShortcut     = "@modelarts:shortcut"
	PropToType       = "@modelarts:to_type"
)

// DataSource is one input of a dataset.
type DataSource struct {
	DataPath         string          `json:"data_path,omitempty"`
	DataType         int             `json:"data_type"`
	SchemaMaps       []SchemaMap     `json:"schema_maps,omitempty"`
	SourceInfo       json.RawMessage `json:"source_info,omitempty"`
	WithColumnHeader *bool           `json:"with_column_header,omitempty"`
}

// SchemaMap maps a source column of table data to a destination column.
type SchemaMap struct {
	DestName string `json:"dest_name,omitempty"`
	SrcName  string `json:"src_name,omitempty"`
}

// LabelFormat is how a text dataset's files carry their labels.
type LabelFormat struct {
	LabelType           string `json:"label_type,omitempty"`
	TextLabelSeparator  string `json:"text_label_separator,omitempty"`
	TextSampleSeparator string `json:"text_sample_separator,omitempty"`
}

// Field is one column of a table dataset's schema.
type Field struct {
	Description string `json:"description,omitempty"`
	Name        string `json:"name,omitempty"`
	SchemaID    int    `json:"schema_id,omitempty"`
	Type        string `json:"type,omitempty"`
}

// Label is a dataset label as the reference writes it.
type Label struct {
	Attributes []LabelAttribute  `json:"attributes,omitempty"`
	Name       string            `json:"name"`
	Property   map[string]string `json:"property,omitempty"`
	Type       *int              `json:"type,omitempty"`
}

// LabelAttribute is a multi-dimensional attribute of a label.
type LabelAttribute struct {
	DefaultValue string                `json:"default_value,omitempty"`
	ID           string                `json:"id,omitempty"`
	Name         string                `json:"name,omitempty"`
	Type         string                `json:"type,omitempty"`
	Values       []LabelAttributeValue `json:"values,omitempty"`
}

// LabelAttributeValue is one value of a select attribute.
type LabelAttributeValue struct {
	ID    string `json:"id,omitempty"`
	Value string `json:"value,omitempty"`
}

// CreateRequest is the body of POST /v2/{project_id}/datasets.
type CreateRequest struct {
	DataFormat           string          `json:"data_format,omitempty"`
	DataSources          []DataSource    `json:"data_sources"`
	DatasetName          string          `json:"dataset_name"`
	DatasetType          *int            `json:"dataset_type,omitempty"`
	Description          string          `json:"description,omitempty"`
	ImportAnnotations    *bool           `json:"import_annotations,omitempty"`
	ImportData           *bool           `json:"import_data,omitempty"`
	LabelFormat          *LabelFormat    `json:"label_format,omitempty"`
	Labels               []Label         `json:"labels,omitempty"`
	Managed              *bool           `json:"managed,omitempty"`
	Schema               []Field         `json:"schema,omitempty"`
	WorkPath             string          `json:"work_path"`
	WorkPathType         *int            `json:"work_path_type"`
	WorkforceInformation json.RawMessage `json:"workforce_information,omitempty"`
	WorkspaceID          string          `json:"workspace_id,omitempty"`
}

// UpdateRequest is the body of PUT /v2/{project_id}/datasets/{dataset_id}.
type UpdateRequest struct {
	AddLabels        []Label `json:"add_labels,omitempty"`
	CurrentVersionID *string `json:"current_version_id,omitempty"`
	DatasetName      *string `json:"dataset_name,omitempty"`
	DeleteLabels     []Label `json:"delete_labels,omitempty"`
	Description      *string `json:"description,omitempty"`
	UpdateLabels     []Label `json:"update_labels,omitempty"`
}

// doc is the stored part of a dataset that no query filters on.
type doc struct {
	DataFormat        string       `json:"data_format"`
	DataSources       []DataSource `json:"data_sources"`
	WorkPath          string       `json:"work_path"`
	WorkPathType      int          `json:"work_path_type"`
	ImportAnnotations bool         `json:"import_annotations"`
	ImportData        bool         `json:"import_data"`
	LabelFormat       *LabelFormat `json:"label_format,omitempty"`
	Managed           bool         `json:"managed"`
	Schema            []Field      `json:"schema,omitempty"`
	EnterpriseProject string       `json:"enterprise_project_id"`
	ContentLabeling   bool         `json:"content_labeling"`
}

// Dataset is a dataset as the list and details APIs return it
// (DatasetAndFilePreview). Counters are the stored columns.
type Dataset struct {
	AnnotatedSampleCount    int64            `json:"annotated_sample_count"`
	AnnotatedSubSampleCount int64            `json:"annotated_sub_sample_count"`
	ContentLabeling         bool             `json:"content_labeling"`
	CreateTime              int64            `json:"create_time"`
	CurrentVersionID        string           `json:"current_version_id,omitempty"`
	CurrentVersionName      string           `json:"current_version_name,omitempty"`
	DataFormat              string           `json:"data_format"`
	DataSources             []DataSource     `json:"data_sources"`
	DataUpdateTime          int64            `json:"data_update_time"`
	DatasetFormat           int              `json:"dataset_format"`
	DatasetID               string           `json:"dataset_id"`
	DatasetName             string           `json:"dataset_name"`
	DatasetTags             []string         `json:"dataset_tags"`
	DatasetType             int              `json:"dataset_type"`
	DatasetVersionCount     int              `json:"dataset_version_count"`
	DeletedSampleCount      int64            `json:"deleted_sample_count"`
	Description             string           `json:"description"`
	EnterpriseProjectID     string           `json:"enterprise_project_id"`
	ExistRunningTask        bool             `json:"exist_running_task"`
	ExistWorkforceTask      bool             `json:"exist_workforce_task"`
	FeatureSupports         []string         `json:"feature_supports"`
	ImportData              bool             `json:"import_data"`
	InnerAnnotationPath     string           `json:"inner_annotation_path"`
	InnerDataPath           string           `json:"inner_data_path"`
	InnerLogPath            string           `json:"inner_log_path"`
	InnerTaskPath           string           `json:"inner_task_path"`
	InnerTempPath           string           `json:"inner_temp_path"`
	InnerWorkPath           string           `json:"inner_work_path"`
	LabelFormat             *LabelFormat     `json:"label_format,omitempty"`
	LabelTaskCount          int              `json:"label_task_count"`
	Labels                  []Label          `json:"labels,omitempty"`
	LoadingSampleCount      int64            `json:"loading_sample_count"`
	Managed                 bool             `json:"managed"`
	NextVersionNum          int              `json:"next_version_num"`
	RunningTasksID          []string         `json:"running_tasks_id"`
	Samples                 *[]SamplePreview `json:"samples,omitempty"`
	Schema                  []Field          `json:"schema,omitempty"`
	Status                  int              `json:"status"`
	TotalSampleCount        int64            `json:"total_sample_count"`
	TotalSubSampleCount     int64            `json:"total_sub_sample_count"`
	UnconfirmedSampleCount  int64            `json:"unconfirmed_sample_count"`
	UpdateTime              int64            `json:"update_time"`
	WorkPath                string           `json:"work_path"`
	WorkPathType            int              `json:"work_path_type"`
	WorkforceTaskCount      int              `json:"workforce_task_count"`
	WorkspaceID             string           `json:"workspace_id"`
}

// SamplePreview is one file of a list's file preview (file_preview=true).
type SamplePreview struct {
	URL        string `json:"url"`
	CreateTime int64  `json:"create_time"`
}
