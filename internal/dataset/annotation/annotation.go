// Package annotation owns the labels a sample carries (the reference's
// SampleLabel) and the rules that make one valid for a dataset type. It is a
// leaf package so that the dataset service, the manifest and directory
// formats and the import/export tasks can share one model without cycles.
package annotation

// Label types of a sample label (SampleLabel.type).
const (
	TypeImageClassification = 0
	TypeObjectDetection     = 1
	TypeImageSegmentation   = 3
	TypeTextClassification  = 100
	TypeNamedEntity         = 101
	TypeTripletRelation     = 102
	TypeTripletEntity       = 103
	TypeSoundClassification = 200
	TypeSpeechContent       = 201
	TypeSpeechParagraph     = 202
	TypeVideo               = 600
)

// Sample types (sample_type).
const (
	SampleImage  = 0
	SampleText   = 1
	SampleAudio  = 2
	SampleTable  = 4
	SampleVideo  = 6
	SampleCustom = 9
)

// Property keys of a sample label (SampleLabelProperty).
const (
	PropContent    = "@modelarts:content"
	PropStartIndex = "@modelarts:start_index"
	PropEndIndex   = "@modelarts:end_index"
	PropStartTime  = "@modelarts:start_time"
	PropEndTime    = "@modelarts:end_time"
	PropSource     = "@modelarts:source"
	PropFeature    = "@modelarts:feature"
	PropShape      = "@modelarts:shape"
	PropFrom       = "@modelarts:from"
	PropTo         = "@modelarts:to"
	PropHard       = "@modelarts:hard"
)

// Metadata keys of a sample (SampleMetadata).
const (
	MetaSize         = "@modelarts:size"
	MetaImportOrigin = "@modelarts:import_origin"
	MetaHard         = "@modelarts:hard"
)

// Label is one label on a sample, as the reference writes it (SampleLabel).
// Property holds the reference's @modelarts:* keys and any user key; values
// keep their JSON types (numbers as float64, shapes as nested arrays).
type Label struct {
	AnnotatedBy string         `json:"annotated_by,omitempty"`
	ID          string         `json:"id,omitempty"`
	Name        string         `json:"name"`
	Property    map[string]any `json:"property,omitempty"`
	Score       *float64       `json:"score,omitempty"`
	Type        int            `json:"type"`
}

// Difficulty keys of the reference: on a label (SampleLabelProperty, where
// the value is a string) and on a sample (SampleMetadata, a number).
const (
	PropHardCoefficient = "@modelarts:hard_coefficient"
	MetaHardCoefficient = "@modelarts:hard_coefficient"
)
