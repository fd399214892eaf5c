package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/atelier-dev/atelier/internal/dataset/versions"
)

// Dataset versions: /v2/{project_id}/datasets/{dataset_id}/versions.
// The rows, with these handlers bound, are in modelarts_routes.go.

// createVersion publishes a version in the background: 201 with its ID
// once it is recorded (status 0, creating).
func (d *datasetAPI) createVersion(w http.ResponseWriter, r *http.Request, c *Call) error {
	var req versions.VersionRequest
	if err := decodeDataset(r, &req); err != nil {
		return err
	}
	plan, err := d.versions.PlanVersion(r.Context(), c.ProjectID, r.PathValue("dataset_id"), &req)
	if err != nil {
		return err
	}
	// The seed's related action (PutObject) on the version's directory.
	if err := c.AuthorizeObjects(plan.Output); err != nil {
		return err
	}
	// export_images copies the samples' files: reading them is the
	// caller's right to have.
	if len(plan.Reads) > 0 {
		if err := c.AuthorizeOBS("obs:object:GetObject", plan.Reads...); err != nil {
			return err
		}
	}
	plan.Requester = requester(c)
	id, err := d.versions.CommitVersion(r.Context(), plan)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusCreated, map[string]any{"version_id": id})
}

// listVersions answers the version list with the reference's filters:
// status, train_evaluate_ratio ("min,max"), version_format (0 Default, 1
// CarbonData, 2 CSV), offset (the page index) and limit (1 to 1000,
// default 1000).
func (d *datasetAPI) listVersions(w http.ResponseWriter, r *http.Request, c *Call) error {
	v := r.URL.Query()
	var q versions.VersionQuery
	var err error
	if q.Offset, q.Limit, err = datasetPage(v, 1000, 1000); err != nil {
		return err
	}
	if s := v.Get("status"); s != "" {
		n, err := datasetInt(s, "status", 0, 0, 4)
		if err != nil {
			return err
		}
		q.Status = &n
	}
	if s := v.Get("version_format"); s != "" {
		n, err := datasetInt(s, "version_format", 0, 0, 2)
		if err != nil {
			return err
		}
		q.Format = &n
	}
	if s := v.Get("train_evaluate_ratio"); s != "" {
		lo, hi, ok := strings.Cut(s, ",")
		a, err1 := strconv.ParseFloat(strings.TrimSpace(lo), 64)
		b, err2 := strconv.ParseFloat(strings.TrimSpace(hi), 64)
		if !ok || err1 != nil || err2 != nil || a < 0 || b > 1 || a > b {
			return datasetBad("Invalid parameter(train_evaluate_ratio): want min,max with 0 <= min <= max <= 1, e.g. 0.0,1.0.")
		}
		q.RatioSet, q.RatioMin, q.RatioMax = true, a, b
	}
	total, list, err := d.versions.ListVersions(r.Context(), c.ProjectID, r.PathValue("dataset_id"), q)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"total_number": total, "versions": list})
}

func (d *datasetAPI) showVersion(w http.ResponseWriter, r *http.Request, c *Call) error {
	v, err := d.versions.GetVersion(r.Context(), c.ProjectID, r.PathValue("dataset_id"), r.PathValue("version_id"))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, v)
}

// deleteVersion deletes a version and its files (manifest, VOC files,
// copies); the dataset's samples are untouched.
func (d *datasetAPI) deleteVersion(w http.ResponseWriter, r *http.Request, c *Call) error {
	plan, err := d.versions.PlanDeleteVersion(r.Context(), c.ProjectID, r.PathValue("dataset_id"), r.PathValue("version_id"))
	if err != nil {
		return err
	}
	// The seed's related actions (ListAllMyBuckets, ListBucket,
	// DeleteObject) on the version's directory.
	if err := c.AuthorizeObjects(plan.Files); err != nil {
		return err
	}
	if err := d.versions.CommitDeleteVersion(r.Context(), plan); err != nil {
		return err
	}
	return noContent(w)
}
