package importer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/tasks"
)

// ---- Views ----

// ImportTask is an import task as the list and details APIs return it
// (ImportTaskStatusResp). FailedSampleCount, FailedFiles and
// FailedFilesOmitted are Atelier's: the lines and files that were not
// imported and why (the first ones; the others are only counted).
type ImportTask struct {
	AnnotatedSampleCount   int64              `json:"annotated_sample_count"`
	CreateTime             int64              `json:"create_time"`
	DataSource             dataset.DataSource `json:"data_source"`
	DatasetID              string             `json:"dataset_id"`
	ElapsedTime            int64              `json:"elapsed_time"`
	ErrorCode              string             `json:"error_code,omitempty"`
	ErrorMsg               string             `json:"error_msg,omitempty"`
	FileStatistics         FileCopyProgress   `json:"file_statistics"`
	FinishedFileCount      int64              `json:"finished_file_count"`
	FinishedFileSize       int64              `json:"finished_file_size"`
	ImportPath             string             `json:"import_path"`
	ImportType             int                `json:"import_type"`
	ImportedSampleCount    int64              `json:"imported_sample_count"`
	ImportedSubSampleCount int64              `json:"imported_sub_sample_count"`
	Status                 string             `json:"status"`
	TaskID                 string             `json:"task_id"`
	TotalFileCount         int64              `json:"total_file_count"`
	TotalFileSize          int64              `json:"total_file_size"`
	TotalSampleCount       int64              `json:"total_sample_count"`
	TotalSubSampleCount    int64              `json:"total_sub_sample_count"`
	UnconfirmedSampleCount int64              `json:"unconfirmed_sample_count"`
	UpdateMs               int64              `json:"update_ms"`
	FailedSampleCount      int64              `json:"failed_sample_count"`
	FailedFiles            []FailedFile       `json:"failed_files,omitempty"`
	FailedFilesOmitted     int64              `json:"failed_files_omitted,omitempty"`
}

// FileCopyProgress is the reference's file replication progress. Atelier
// copies nothing: it counts the objects an import examined.
type FileCopyProgress struct {
	FileNumFinished  int64 `json:"file_num_finished"`
	FileNumTotal     int64 `json:"file_num_total"`
	FileSizeFinished int64 `json:"file_size_finished"`
	FileSizeTotal    int64 `json:"file_size_total"`
}

// FailedFile is one line, file or sample an import could not take.
type FailedFile struct {
	Item   string `json:"item"`
	Reason string `json:"reason"`
}

// taskStats reads a task's figures: its result, written with its progress,
// or else its checkpoint.
func taskStats(t *tasks.Task) importStats {
	var st importStats
	if len(t.Result) > 0 && json.Unmarshal(t.Result, &st) == nil {
		return st
	}
	var cur importCursor
	if t.Cursor != "" && json.Unmarshal([]byte(t.Cursor), &cur) == nil {
		return cur.Stats
	}
	return st
}

// taskStatus is the reference's status of a task.
func taskStatus(t *tasks.Task) string {
	switch t.Status {
	case tasks.Queued:
		return "QUEUING"
	case tasks.Running:
		if t.Started.IsZero() {
			return "STARTING"
		}
		return "RUNNING"
	case tasks.Succeeded:
		return "COMPLETED"
	}
	return "FAILED"
}

// taskError is the error code and message of a task that did not succeed.
func taskErrorOf(t *tasks.Task) (string, string) {
	switch t.Status {
	case tasks.Failed:
		return CodeImportFailed, t.ErrorMessage
	case tasks.Cancelled:
		return CodeTaskStopped, "The task was cancelled."
	}
	return "", ""
}

// taskTimes are a task's running time and the time it last changed.
func (s *Service) taskTimes(t *tasks.Task) (elapsed time.Duration, updated time.Time) {
	end := t.Finished
	if end.IsZero() {
		end = s.now()
	}
	updated = t.Created
	if !t.Started.IsZero() {
		elapsed = end.Sub(t.Started)
		updated = end
	}
	return max(elapsed, 0), updated
}

// importTask looks up an import task of the dataset.
func (s *Service) importTask(ctx context.Context, projectID, datasetID, taskID string) (*tasks.Task, error) {
	if s.tasks == nil {
		return nil, errors.New("dataset: imports need a tasks manager")
	}
	t, err := s.tasks.Get(ctx, taskID)
	if errors.Is(err, tasks.ErrNotFound) || err == nil && (t.Kind != TaskImport || t.ProjectID != projectID || t.ResourceID != datasetID) {
		return nil, &dataset.Error{Kind: dataset.KindNotFound, Code: CodeTaskNotFound, Msg: fmt.Sprintf("The resource not exists: import task %s of dataset %s.", taskID, datasetID)}
	}
	return t, err
}

// ImportTask returns one import task of a dataset with the failures kept.
func (s *Service) ImportTask(ctx context.Context, projectID, datasetID, taskID string) (*ImportTask, error) {
	if _, err := s.ds.Workspace(ctx, projectID, datasetID); err != nil {
		return nil, err
	}
	t, err := s.importTask(ctx, projectID, datasetID, taskID)
	if err != nil {
		return nil, err
	}
	v := s.importView(t)
	fails, err := s.tasks.Failures(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	v.FailedFiles = make([]FailedFile, len(fails))
	for i, f := range fails {
		v.FailedFiles[i] = FailedFile{Item: f.Item, Reason: f.Reason}
	}
	v.FailedFilesOmitted = t.FailuresOmitted
	return v, nil
}

// ImportTasks lists a dataset's import tasks, newest first: the page from
// offset and the number of all.
func (s *Service) ImportTasks(ctx context.Context, projectID, datasetID string, offset, limit int) (int, []*ImportTask, error) {
	if s.tasks == nil {
		return 0, nil, errors.New("dataset: imports need a tasks manager")
	}
	if _, err := s.ds.Workspace(ctx, projectID, datasetID); err != nil {
		return 0, nil, err
	}
	list, err := s.tasks.List(ctx, datasetID, TaskImport)
	if err != nil {
		return 0, nil, err
	}
	out := []*ImportTask{}
	for i := offset; i < len(list) && len(out) < limit; i++ {
		out = append(out, s.importView(list[i]))
	}
	return len(list), out, nil
}

// importView maps a task record to the reference's fields.
func (s *Service) importView(t *tasks.Task) *ImportTask {
	var prm importParams
	_ = json.Unmarshal(t.Params, &prm)
	st := taskStats(t)
	elapsed, updated := s.taskTimes(t)
	v := &ImportTask{AnnotatedSampleCount: st.Annotated, CreateTime: t.Created.UnixMilli(),
		DataSource: dataset.DataSource{DataPath: prm.Path, DataType: 0}, DatasetID: t.ResourceID,
		ElapsedTime: int64(elapsed / time.Second), ImportPath: prm.Path, ImportedSampleCount: st.Imported,
		Status: taskStatus(t), TaskID: t.ID, TotalSampleCount: st.Imported + st.Failed + st.Skipped,
		UnconfirmedSampleCount: st.Unconfirmed, UpdateMs: updated.UnixMilli(), FailedSampleCount: st.Failed}
	if prm.Manifest {
		v.ImportType = 1
	}
	v.ErrorCode, v.ErrorMsg = taskErrorOf(t)
	// Examined objects: those a directory listing gave, or the manifest.
	v.FinishedFileCount, v.FinishedFileSize = st.Files, st.Bytes
	v.TotalFileCount, v.TotalFileSize = st.Files, st.Bytes
	v.FileStatistics = FileCopyProgress{FileNumFinished: st.Files, FileNumTotal: st.Files, FileSizeFinished: st.Bytes, FileSizeTotal: st.Bytes}
	return v
}

// SyncStatus is the latest sync of a dataset (SyncDataSourceState).
// DurationTime is in milliseconds.
type SyncStatus struct {
	AddSampleCount     int64  `json:"add_sample_count"`
	CreateTime         int64  `json:"create_time,omitempty"`
	DatasetID          string `json:"dataset_id"`
	DeletedSampleCount int64  `json:"deleted_sample_count"`
	DurationTime       int64  `json:"duration_time"`
	ErrorCode          string `json:"error_code,omitempty"`
	ErrorMsg           string `json:"error_msg,omitempty"`
	Status             string `json:"status"`
	TaskID             string `json:"task_id,omitempty"`
	TotalSampleCount   int64  `json:"total_sample_count"`
}

// SyncStatus answers the status of the dataset's latest sync; NOT_EXIST
// when it never synced.
func (s *Service) SyncStatus(ctx context.Context, projectID, datasetID string) (*SyncStatus, error) {
	if s.tasks == nil {
		return nil, errors.New("dataset: syncs need a tasks manager")
	}
	r, err := s.ds.LoadRow(ctx, s.db, projectID, datasetID, false)
	if err != nil {
		return nil, err
	}
	list, err := s.tasks.List(ctx, datasetID, TaskSync)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return &SyncStatus{DatasetID: datasetID, Status: "NOT_EXIST", TotalSampleCount: r.Total}, nil
	}
	t := list[0]
	st := taskStats(t)
	elapsed, _ := s.taskTimes(t)
	out := &SyncStatus{AddSampleCount: st.Added, CreateTime: t.Created.UnixMilli(), DatasetID: datasetID,
		DeletedSampleCount: st.Deleted, DurationTime: elapsed.Milliseconds(), Status: taskStatus(t), TaskID: t.ID,
		TotalSampleCount: r.Total}
	out.ErrorCode, out.ErrorMsg = taskErrorOf(t)
	return out, nil
}
