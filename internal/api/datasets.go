package api

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/exporter"
	"github.com/atelier-dev/atelier/internal/dataset/importer"
	"github.com/atelier-dev/atelier/internal/dataset/versions"
	"github.com/atelier-dev/atelier/internal/iam"
	"github.com/atelier-dev/atelier/internal/obs"
)

// Datasets and their labels: /v2/{project_id}/datasets[/{dataset_id}[/data-annotations/labels…]].
// The rows, with these handlers bound, are in modelarts_routes.go.

// datasetAPI serves the dataset routes over a dataset service.
type datasetAPI struct {
	svc      *dataset.Service
	imports  *importer.Service
	versions *versions.Service
	exports  *exporter.Service
}

// storedDataset resolves the workspace of the stored dataset that the path
// parameter param names, for the routes on one dataset.
func (d *datasetAPI) storedDataset(param string) Resolver {
	return func(r *http.Request, c *Call) (Target, error) {
		ws, err := d.svc.Workspace(r.Context(), c.ProjectID, r.PathValue(param))
		return Target{WorkspaceID: ws}, err
	}
}

// newDatasetWorkspace is the workspace a new dataset is created into: the
// body's workspace_id (default "0").
func (d *datasetAPI) newDatasetWorkspace(r *http.Request, c *Call) (Target, error) {
	var b struct {
		WorkspaceID string `json:"workspace_id"`
	}
	return bodyWorkspace(c, &b, func() string { return b.WorkspaceID })
}

// datasetBad is a 400 naming the field with the data-management code.
func datasetBad(format string, args ...any) *Error {
	return Errorf(http.StatusBadRequest, dataset.CodeInvalid, format, args...)
}

// decodeDataset decodes a body, answering malformed ones with the
// data-management code.
func decodeDataset(r *http.Request, v any) error {
	if err := Decode(r, v); err != nil {
		var ae *Error
		if errors.As(err, &ae) {
			return datasetBad("%s", ae.Msg)
		}
		return err
	}
	return nil
}

// requester is the caller as background work (dataset tasks, training
// jobs) authorizes them, object by object, when it runs.
func requester(c *Call) *obs.Requester {
	r := c.Actor()
	return &r
}

func datasetScope(c *Call) dataset.Scope {
	sc := dataset.Scope{ProjectID: c.ProjectID, WorkspaceID: iam.DefaultWorkspaceID, EnterpriseProjectID: c.EnterpriseProjectID}
	if c.Workspace != nil {
		sc.WorkspaceID = c.Workspace.ID
	}
	if sc.EnterpriseProjectID == "" {
		sc.EnterpriseProjectID = "0"
	}
	return sc
}

func (d *datasetAPI) create(w http.ResponseWriter, r *http.Request, c *Call) error {
	var req dataset.CreateRequest
	if err := decodeDataset(r, &req); err != nil {
		return err
	}
	plan, err := d.svc.PlanCreate(datasetScope(c), &req)
	if err != nil {
		return err
	}
	// The seed's related actions (HeadBucket, ListBucket, PutObject,
	// ListAllMyBuckets) on the input and work directories and their buckets.
	if err := c.AuthorizeObjects(append(plan.Inputs, plan.Work)...); err != nil {
		return err
	}
	plan.Requester = requester(c)
	id, err := d.svc.CommitCreate(r.Context(), plan, d.imports.EnqueueCreateImport)
	if err != nil {
		return err
	}
	out := map[string]any{"dataset_id": id}
	if plan.ImportTaskID != "" {
		out["import_task_id"] = plan.ImportTaskID
	}
	return WriteJSON(w, http.StatusCreated, out)
}

// boolParam parses an optional boolean query parameter.
func boolParam(v, name string) (bool, error) {
	switch v {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, datasetBad("Invalid parameter(%s): want true or false.", name)
}

// datasetInt parses an optional integer query parameter within [lo, hi].
func datasetInt(v, name string, def, lo, hi int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, datasetBad("Invalid parameter(%s): want an integer from %d to %d.", name, lo, hi)
	}
	return n, nil
}

// maxPage bounds the page index a list accepts.
const maxPage = 1<<31 - 1

// datasetPage reads a data-management list's paging: limit (records per
// page, lo to hi, def by default) and offset, which the reference defines
// as the index of the page ("Start page of the paging list", 0 first). It
// returns the records to skip and the limit.
func datasetPage(v url.Values, def, hi int) (skip, limit int, err error) {
	if limit, err = datasetInt(v.Get("limit"), "limit", def, 1, hi); err != nil {
		return 0, 0, err
	}
	page, err := datasetInt(v.Get("offset"), "offset", 0, 0, maxPage)
	if err != nil {
		return 0, 0, err
	}
	return page * limit, limit, nil
}

// checkRunningTaskParams validates check_running_task and running_task_type.
func checkRunningTaskParams(v map[string][]string) error {
	get := func(k string) string {
		if len(v[k]) > 0 {
			return v[k][0]
		}
		return ""
	}
	if _, err := boolParam(get("check_running_task"), "check_running_task"); err != nil {
		return err
	}
	_, err := datasetInt(get("running_task_type"), "running_task_type", 0, 0, 7)
	return err
}

// list answers GET /datasets with the reference's filters: dataset_type,
// search_content (part of the name), support_export, contain_versions,
// train_evaluate_ratio and version_format (versions' properties: a dataset
// matches through a version), with_labels, file_preview, check_running_task,
// running_task_type, dataset_version; sorted by sort_by (create_time or
// dataset_name) in order (desc by default); offset (the page index) and
// limit (1 to 100, default 10).
func (d *datasetAPI) list(w http.ResponseWriter, r *http.Request, c *Call) error {
	v := r.URL.Query()
	q := dataset.Query{Desc: true, Search: v.Get("search_content")}
	var err error
	if q.Offset, q.Limit, err = datasetPage(v, 10, 100); err != nil {
		return err
	}
	switch v.Get("order") {
	case "", "desc":
	case "asc":
		q.Desc = false
	default:
		return datasetBad("Invalid parameter(order): want asc or desc.")
	}
	switch q.SortBy = v.Get("sort_by"); q.SortBy {
	case "", "create_time", "dataset_name":
	default:
		return datasetBad("Invalid parameter(sort_by): want create_time or dataset_name.")
	}
	if s := v.Get("dataset_type"); s != "" {
		t, err := strconv.Atoi(s)
		if err != nil || !dataset.ValidType(t) {
			return datasetBad("Invalid parameter(dataset_type): %q is not a dataset type.", s)
		}
		q.Type = &t
	}
	for _, b := range []struct {
		name string
		dst  *bool
	}{{"support_export", &q.SupportExport}, {"contain_versions", &q.ContainVersions}, {"with_labels", &q.WithLabels}, {"file_preview", &q.FilePreview}} {
		if *b.dst, err = boolParam(v.Get(b.name), b.name); err != nil {
			return err
		}
	}
	if err := checkRunningTaskParams(v); err != nil {
		return err
	}
	switch v.Get("dataset_version") {
	case "", "v1", "v2", "all":
	default:
		return datasetBad("Invalid parameter(dataset_version): want v1, v2 or all.")
	}
	if s := v.Get("train_evaluate_ratio"); s != "" {
		lo, hi, ok := strings.Cut(s, ",")
		a, err1 := strconv.ParseFloat(strings.TrimSpace(lo), 64)
		b, err2 := strconv.ParseFloat(strings.TrimSpace(hi), 64)
		if !ok || err1 != nil || err2 != nil || a < 0 || b > 1 || a > b {
			return datasetBad("Invalid parameter(train_evaluate_ratio): want min,max with 0 <= min <= max <= 1, e.g. 0.0,1.0.")
		}
		q.TrainRatio = &[2]float64{a, b}
	}
	if s := v.Get("version_format"); s != "" {
		f, err := datasetInt(s, "version_format", 0, 0, 2)
		if err != nil {
			return err
		}
		q.VersionFormat = &f
	}
	total, items, err := d.svc.List(r.Context(), datasetScope(c), q)
	if err != nil {
		return err
	}
	if q.FilePreview {
		if err := d.presignPreviews(r, c, items); err != nil {
			return err
		}
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"total_number": total, "datasets": items})
}

// presignPreviews turns each previewed file into a download link for the
// caller: only files the caller may read (GetObject) are shown, since a
// link hands the object out; others are left out of the preview.
func (d *datasetAPI) presignPreviews(r *http.Request, c *Call, items []*dataset.Dataset) error {
	for _, ds := range items {
		if ds.Samples == nil {
			continue
		}
		shown := []dataset.SamplePreview{}
		for _, p := range *ds.Samples {
			if obj, ok := dataset.ObjectOf(p.URL); ok {
				err := c.AuthorizeOBS("obs:object:GetObject", obj)
				var ae *Error
				if errors.As(err, &ae) && ae.Status == http.StatusForbidden {
					continue
				}
				if err != nil {
					return err
				}
			}
			url, problem, err := d.svc.PreviewURL(r.Context(), p.URL)
			if err != nil {
				return err
			}
			if problem != "" {
				continue // a file that is gone or unreadable has nothing to show
			}
			p.URL = url
			shown = append(shown, p)
		}
		ds.Samples = &shown
	}
	return nil
}

func (d *datasetAPI) show(w http.ResponseWriter, r *http.Request, c *Call) error {
	if err := checkRunningTaskParams(r.URL.Query()); err != nil {
		return err
	}
	ds, err := d.svc.Get(r.Context(), c.ProjectID, r.PathValue("dataset_id"))
	if err != nil {
		return err
	}
	if ds.Labels == nil {
		ds.Labels = []dataset.Label{}
	}
	return WriteJSON(w, http.StatusOK, ds)
}

func (d *datasetAPI) update(w http.ResponseWriter, r *http.Request, c *Call) error {
	var req dataset.UpdateRequest
	if err := decodeDataset(r, &req); err != nil {
		return err
	}
	id := r.PathValue("dataset_id")
	if err := d.svc.Update(r.Context(), c.ProjectID, id, &req, d.versions.SwitchVersionTx); err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"dataset_id": id})
}

func (d *datasetAPI) delete(w http.ResponseWriter, r *http.Request, c *Call) error {
	plan, err := d.svc.PlanDelete(r.Context(), c.ProjectID, r.PathValue("dataset_id"))
	if err != nil {
		return err
	}
	// The seed's related actions (ListAllMyBuckets, ListBucket,
	// DeleteObject) on the dataset's inner work directory.
	if err := c.AuthorizeObjects(plan.Files); err != nil {
		return err
	}
	if err := d.svc.CommitDelete(r.Context(), plan); err != nil {
		return err
	}
	return noContent(w)
}

func (d *datasetAPI) listLabels(w http.ResponseWriter, r *http.Request, c *Call) error {
	v := r.URL.Query()
	offset, limit, err := datasetPage(v, dataset.MaxLabels, dataset.MaxLabels)
	if err != nil {
		return err
	}
	var total int
	var labels []dataset.Label
	if id := v.Get("version_id"); id != "" {
		total, labels, err = d.versions.ListVersionLabels(r.Context(), c.ProjectID, r.PathValue("dataset_id"), id, offset, limit)
	} else {
		total, labels, err = d.svc.ListLabels(r.Context(), c.ProjectID, r.PathValue("dataset_id"), offset, limit)
	}
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"total_number": total, "labels": labels})
}

type labelsBody struct {
	Labels []dataset.Label `json:"labels"`
}

func (d *datasetAPI) createLabels(w http.ResponseWriter, r *http.Request, c *Call) error {
	var b labelsBody
	if err := decodeDataset(r, &b); err != nil {
		return err
	}
	res, err := d.svc.CreateLabels(r.Context(), c.ProjectID, r.PathValue("dataset_id"), b.Labels)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, res)
}

func (d *datasetAPI) updateLabels(w http.ResponseWriter, r *http.Request, c *Call) error {
	var b labelsBody
	if err := decodeDataset(r, &b); err != nil {
		return err
	}
	res, err := d.svc.UpdateLabels(r.Context(), c.ProjectID, r.PathValue("dataset_id"), b.Labels)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, res)
}

// deleteLabels deletes labels; delete_policy 1 also deletes the samples
// left with only deleted labels, 2 their files too (DeleteObject on each,
// authorized before anything changes).
func (d *datasetAPI) deleteLabels(w http.ResponseWriter, r *http.Request, c *Call) error {
	policy, err := datasetInt(r.URL.Query().Get("delete_policy"), "delete_policy", 0, 0, 2)
	if err != nil {
		return err
	}
	var b labelsBody
	if err := decodeDataset(r, &b); err != nil {
		return err
	}
	id := r.PathValue("dataset_id")
	var allowed map[string]bool
	if policy == dataset.DeleteLabelSamplesSource {
		names := make([]string, len(b.Labels))
		for i, l := range b.Labels {
			names[i] = l.Name
		}
		if allowed, err = d.authorizeSourceDeletes(r, c, id, names); err != nil {
			return err
		}
	}
	res, err := d.svc.DeleteLabels(r.Context(), c.ProjectID, id, b.Labels, policy)
	if err != nil {
		return err
	}
	if err := d.deleteSources(r, allowed, res.DeletedSources()); err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, res)
}

// authorizeSourceDeletes checks DeleteObject on the files of the samples
// that carry only the named labels and returns them.
func (d *datasetAPI) authorizeSourceDeletes(r *http.Request, c *Call, id string, names []string) (map[string]bool, error) {
	sources, err := d.svc.OnlyLabelSources(r.Context(), c.ProjectID, id, names)
	if err != nil {
		return nil, err
	}
	allowed := map[string]bool{}
	var refs []ObjectRef
	for _, src := range sources {
		if p, ok := dataset.ObjectOf(src); ok {
			refs = append(refs, p)
			allowed[src] = true
		}
	}
	if err := c.AuthorizeOBS("obs:object:DeleteObject", refs...); err != nil {
		return nil, err
	}
	return allowed, nil
}

// deleteSources removes the files of deleted samples that were authorized
// (a sample that qualified only after the check keeps its file).
func (d *datasetAPI) deleteSources(r *http.Request, allowed map[string]bool, deleted []string) error {
	var doomed []string
	for _, src := range deleted {
		if allowed[src] {
			doomed = append(doomed, src)
		}
	}
	return d.svc.DeleteObjects(r.Context(), doomed)
}

// deleteLabelWithSamples deletes one label and the samples that carry only
// it; with delete_source their files too.
func (d *datasetAPI) deleteLabelWithSamples(w http.ResponseWriter, r *http.Request, c *Call) error {
	v := r.URL.Query()
	deleteSource, err := boolParam(v.Get("delete_source"), "delete_source")
	if err != nil {
		return err
	}
	var labelType *int
	if s := v.Get("label_type"); s != "" {
		t, err := strconv.Atoi(s)
		if err != nil || !dataset.ValidLabelType(t) {
			return datasetBad("Invalid parameter(label_type): %q is not a label type.", s)
		}
		labelType = &t
	}
	id, name := r.PathValue("dataset_id"), r.PathValue("label_name")
	allowed := map[string]bool{}
	if deleteSource {
		sources, err := d.svc.OnlyLabelSources(r.Context(), c.ProjectID, id, []string{name})
		if err != nil {
			return err
		}
		var refs []ObjectRef
		for _, src := range sources {
			if p, ok := dataset.ObjectOf(src); ok {
				refs = append(refs, p)
				allowed[src] = true
			}
		}
		if err := c.AuthorizeObjects(refs...); err != nil {
			return err
		}
	} else if err := c.AuthorizeObjects(); err != nil {
		return err
	}
	deleted, err := d.svc.DeleteLabelWithSamples(r.Context(), c.ProjectID, id, name, labelType)
	if err != nil {
		return err
	}
	if err := d.deleteSources(r, allowed, deleted); err != nil {
		return err
	}
	return noContent(w)
}

func (d *datasetAPI) updateLabel(w http.ResponseWriter, r *http.Request, c *Call) error {
	var labelType *int
	if s := r.URL.Query().Get("label_type"); s != "" {
		t, err := strconv.Atoi(s)
		if err != nil || !dataset.ValidLabelType(t) {
			return datasetBad("Invalid parameter(label_type): %q is not a label type.", s)
		}
		labelType = &t
	}
	var prop map[string]string
	if err := decodeDataset(r, &prop); err != nil {
		return err
	}
	if err := d.svc.UpdateLabel(r.Context(), c.ProjectID, r.PathValue("dataset_id"), r.PathValue("label_name"), labelType, prop); err != nil {
		return err
	}
	return noContent(w)
}
