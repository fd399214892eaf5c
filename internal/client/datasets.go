package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// DatasetTypes maps the CLI's names of dataset types to the reference's
// numbers.
var DatasetTypes = map[string]int{
	"image_classification": 0, "object_detection": 1, "image_segmentation": 3, "text_classification": 100,
	"named_entity": 101, "text_triplet": 102, "sound_classification": 200, "speech_content": 201,
	"speech_paragraph": 202, "table": 400, "video": 600, "free_format": 900,
}

// DatasetTypeName is the CLI's name of a dataset type ("" when unknown).
func DatasetTypeName(t int) string {
	for name, n := range DatasetTypes {
		if n == t {
			return name
		}
	}
	return ""
}

// DatasetStatuses names the reference's dataset statuses (status).
var DatasetStatuses = map[int]string{0: "creating", 1: "normal", 2: "deleting", 3: "deleted", 4: "abnormal",
	5: "synchronizing", 6: "releasing", 7: "switching version", 8: "importing"}

// Dataset is the part of a dataset's details the CLI shows.
type Dataset struct {
	DatasetID            string `json:"dataset_id"`
	DatasetName          string `json:"dataset_name"`
	DatasetType          int    `json:"dataset_type"`
	Status               int    `json:"status"`
	TotalSampleCount     int64  `json:"total_sample_count"`
	AnnotatedSampleCount int64  `json:"annotated_sample_count"`
	DataSources          []struct {
		DataPath string `json:"data_path"`
	} `json:"data_sources"`
	WorkPath string `json:"work_path"`
}

// DatasetList is one page of GET /datasets.
type DatasetList struct {
	TotalNumber int       `json:"total_number"`
	Datasets    []Dataset `json:"datasets"`
}

// ListDatasets returns one page of the project's datasets, oldest first.
// page is the reference's offset, which for the data-management lists is
// the index of the page (0 first), not a number of records to skip.
func (c *Client) ListDatasets(ctx context.Context, page, limit int) (*DatasetList, error) {
	q := url.Values{"offset": {strconv.Itoa(page)}, "limit": {strconv.Itoa(limit)}, "order": {"asc"}}
	var out DatasetList
	if err := c.do(ctx, call{method: http.MethodGet, path: c.v2("/datasets"), query: q}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// LabelStats is one label of a dataset's statistics.
type LabelStats struct {
	Name        string `json:"name"`
	Type        int    `json:"type"`
	Count       int64  `json:"count"`        // occurrences
	SampleCount int64  `json:"sample_count"` // samples that carry it
}

// DatasetStats returns each label's counts (GET …/data-annotations/stats).
func (c *Client) DatasetStats(ctx context.Context, id string) ([]LabelStats, error) {
	var out struct {
		LabelStats []LabelStats `json:"label_stats"`
	}
	if err := c.do(ctx, call{method: http.MethodGet, path: c.v2("/datasets/" + id + "/data-annotations/stats")}, &out); err != nil {
		return nil, err
	}
	return out.LabelStats, nil
}

// OBSURL writes an object path as obs://bucket/key, whichever form
// (obs://, s3:// or /bucket/key) it came in; other strings are returned as
// they are.
func OBSURL(p string) string {
	bucket, key, err := ParseOBSPath(p)
	if err != nil {
		return p
	}
	return "obs://" + bucket + "/" + key
}

// HasObjects reports whether any object's key starts with prefix.
func (c *Client) HasObjects(ctx context.Context, bucket, prefix string) (bool, error) {
	page, err := c.ListObjects(ctx, bucket, ListOptions{Prefix: prefix, MaxKeys: 1})
	if err != nil {
		return false, err
	}
	return len(page.Objects) > 0, nil
}

// CreateDataset creates a dataset from a request body of the reference
// and returns its ID and the import of its data source ("" when none).
func (c *Client) CreateDataset(ctx context.Context, body any) (id, importTaskID string, err error) {
	var out struct {
		DatasetID    string `json:"dataset_id"`
		ImportTaskID string `json:"import_task_id"`
	}
	err = c.do(ctx, call{method: http.MethodPost, path: c.v2("/datasets"), json: body}, &out)
	return out.DatasetID, out.ImportTaskID, err
}

// GetDataset returns one dataset.
func (c *Client) GetDataset(ctx context.Context, id string) (*Dataset, error) {
	var d Dataset
	if err := c.do(ctx, call{method: http.MethodGet, path: c.v2("/datasets/" + id)}, &d); err != nil {
		return nil, err
	}
	return &d, nil
}

// DatasetTask is the status of an import, export or version publishing, in
// the fields the three share.
type DatasetTask struct {
	TaskID    string `json:"task_id"`
	Status    any    `json:"status"` // a string for tasks, a number for versions
	ErrorCode string `json:"error_code"`
	ErrorMsg  string `json:"error_msg"`
	// Counters as the import and export pages name them.
	TotalSampleCount    int64  `json:"total_sample_count"`
	ImportedSampleCount int64  `json:"imported_sample_count"`
	FinishedSampleCount int64  `json:"finished_sample_count"`
	Path                string `json:"path"`
}

// Running reports whether a task's status is not final yet.
func (t *DatasetTask) Running() bool {
	s := strings.ToUpper(fmt.Sprint(t.Status))
	switch s {
	case "QUEUING", "STARTING", "RUNNING", "INIT", "CREATING", "0":
		return true
	}
	return false
}

// Failed reports whether a final status is a failure.
func (t *DatasetTask) Failed() bool {
	s := strings.ToUpper(fmt.Sprint(t.Status))
	return strings.Contains(s, "FAIL") || s == "3" || t.ErrorCode != ""
}

// CreateImportTask starts an import (POST …/import-tasks) and returns its task ID.
func (c *Client) CreateImportTask(ctx context.Context, datasetID string, body any) (string, error) {
	var out struct {
		TaskID string `json:"task_id"`
	}
	err := c.do(ctx, call{method: http.MethodPost, path: c.v2("/datasets/" + datasetID + "/import-tasks"), json: body}, &out)
	return out.TaskID, err
}

// GetImportTask returns an import's status.
func (c *Client) GetImportTask(ctx context.Context, datasetID, taskID string) (*DatasetTask, error) {
	var t DatasetTask
	err := c.do(ctx, call{method: http.MethodGet, path: c.v2("/datasets/" + datasetID + "/import-tasks/" + taskID)}, &t)
	return &t, err
}

// CreateExportTask starts an export (POST …/export-tasks) and returns its task ID.
func (c *Client) CreateExportTask(ctx context.Context, datasetID string, body any) (string, error) {
	var out struct {
		TaskID string `json:"task_id"`
	}
	err := c.do(ctx, call{method: http.MethodPost, path: c.v2("/datasets/" + datasetID + "/export-tasks"), json: body}, &out)
	return out.TaskID, err
}

// GetExportTask returns an export's status.
func (c *Client) GetExportTask(ctx context.Context, datasetID, taskID string) (*DatasetTask, error) {
	var t DatasetTask
	err := c.do(ctx, call{method: http.MethodGet, path: c.v2("/datasets/" + datasetID + "/export-tasks/" + taskID)}, &t)
	return &t, err
}

// WaitTask polls get until the task is final, calling progress after each
// poll; a failed task is an error.
func WaitTask(ctx context.Context, get func(context.Context) (*DatasetTask, error), interval time.Duration, progress func(*DatasetTask)) (*DatasetTask, error) {
	for {
		t, err := get(ctx)
		if err != nil {
			return nil, err
		}
		if progress != nil {
			progress(t)
		}
		if !t.Running() {
			if t.Failed() {
				return t, fmt.Errorf("task %s %v: %s %s", t.TaskID, t.Status, t.ErrorCode, t.ErrorMsg)
			}
			return t, nil
		}
		if err := sleep(ctx, interval); err != nil {
			return nil, err
		}
	}
}

// ParseOBSPath splits obs://bucket/key, s3://bucket/key or /bucket/key.
func ParseOBSPath(s string) (bucket, key string, err error) {
	rest := s
	for _, p := range []string{"obs://", "s3://", "/"} {
		if strings.HasPrefix(s, p) {
			rest = s[len(p):]
			break
		}
	}
	if rest == s {
		return "", "", fmt.Errorf("%q is not an object path (obs://bucket/dir/ or /bucket/dir/)", s)
	}
	bucket, key, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return "", "", fmt.Errorf("%q names no bucket", s)
	}
	return bucket, key, nil
}

// DownloadProgress reports a download as it goes.
type DownloadProgress struct {
	Files int
	Bytes int64
	File  string
	Done  bool
}

// DownloadPrefix copies every object under bucket/prefix into dir, keeping
// the keys' relative paths; keys that would leave dir are refused.
func (c *Client) DownloadPrefix(ctx context.Context, bucket, prefix, dir string, progress func(DownloadProgress)) (DownloadProgress, error) {
	var p DownloadProgress
	opts := ListOptions{Prefix: prefix}
	for {
		page, err := c.ListObjects(ctx, bucket, opts)
		if err != nil {
			return p, err
		}
		for _, o := range page.Objects {
			rel := strings.TrimPrefix(o.Key, prefix)
			if rel == "" || strings.HasSuffix(rel, "/") {
				continue
			}
			target := filepath.Join(dir, filepath.FromSlash(path.Clean("/"+rel)))
			if !strings.HasPrefix(target, filepath.Clean(dir)+string(filepath.Separator)) {
				return p, fmt.Errorf("object %s would be written outside %s", o.Key, dir)
			}
			n, err := c.downloadObject(ctx, bucket, o.Key, target)
			if err != nil {
				return p, err
			}
			p.Files, p.Bytes, p.File = p.Files+1, p.Bytes+n, rel
			if progress != nil {
				progress(p)
			}
		}
		if !page.IsTruncated {
			break
		}
		opts.StartAfter = page.NextStartAfter
	}
	p.Done = true
	if progress != nil {
		progress(p)
	}
	return p, nil
}

func (c *Client) downloadObject(ctx context.Context, bucket, key, target string) (int64, error) {
	rc, err := c.GetObject(ctx, bucket, key)
	if err != nil {
		return 0, fmt.Errorf("download obs://%s/%s: %w", bucket, key, err)
	}
	defer rc.Close()
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return 0, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(target), ".download-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name())
	n, err := io.Copy(tmp, rc)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("download obs://%s/%s: %w", bucket, key, err)
	}
	return n, os.Rename(tmp.Name(), target)
}
