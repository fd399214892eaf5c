package api

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/atelier-dev/atelier/internal/dataset"
	"github.com/atelier-dev/atelier/internal/dataset/annotation"
	"github.com/atelier-dev/atelier/internal/obs"
)

// Samples, manual labeling and statistics:
// /v2/{project_id}/datasets/{dataset_id}/data-annotations/{samples,stats,search-condition} and …/metrics.
// The rows, with these handlers bound, are in modelarts_routes.go.

// sampleRefs are the objects of samples (inline text has none).
func sampleRefs(samples []*dataset.Sample) []ObjectRef {
	refs := make([]ObjectRef, 0, len(samples))
	for _, s := range samples {
		if p, ok := dataset.ObjectOf(s.Stored); ok {
			refs = append(refs, p)
		}
	}
	return refs
}

// parseSampleQuery reads the list's query parameters.
func parseSampleQuery(r *http.Request) (dataset.SampleQuery, bool, error) {
	v := r.URL.Query()
	var q dataset.SampleQuery
	var err error
	if q.Offset, q.Limit, err = datasetPage(v, 10, 100); err != nil {
		return q, false, err
	}
	switch v.Get("order") {
	case "", "desc":
	case "asc":
		q.Asc = true
	default:
		return q, false, datasetBad("Invalid parameter(order): want asc or desc.")
	}
	preview, err := boolParam(v.Get("preview"), "preview")
	if err != nil {
		return q, false, err
	}
	if s := v.Get("sample_state"); s != "" {
		st, team, err := dataset.ParseSampleState("sample_state", s)
		if err != nil {
			return q, false, err
		}
		q.TeamState = team
		q.State = &st
	}
	q.LabelName = v.Get("label_name")
	for _, p := range []struct {
		name string
		dst  **int
		ok   func(int) bool
	}{
		{"label_type", &q.LabelType, dataset.ValidLabelType},
		{"sample_type", &q.SampleType, func(t int) bool { return t == 0 || t == 1 || t == 2 || t == 4 || t == 6 || t == 9 }},
	} {
		if s := v.Get(p.name); s != "" {
			n, err := strconv.Atoi(s)
			if err != nil || !p.ok(n) {
				return q, false, datasetBad("Invalid parameter(%s): %q is not a value of the reference.", p.name, s)
			}
			*p.dst = &n
		}
	}
	for _, p := range []struct {
		name string
		dst  **float64
	}{{"low_score", &q.LowScore}, {"high_score", &q.HighScore}} {
		if s := v.Get(p.name); s != "" {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil || f < 0 || f > 1 {
				return q, false, datasetBad("Invalid parameter(%s): want a number from 0 to 1.", p.name)
			}
			*p.dst = &f
		}
	}
	if s := v.Get("search_conditions"); s != "" {
		// An array of conditions, or one condition; keys the reference
		// does not define are refused by name rather than ignored.
		if strings.HasPrefix(strings.TrimSpace(s), "{") {
			var one dataset.SearchCondition
			if err := DecodeJSON([]byte(s), &one); err != nil {
				return q, false, datasetBad("Invalid parameter(search_conditions): %v", err)
			}
			q.Conditions = []dataset.SearchCondition{one}
		} else if err := DecodeJSON([]byte(s), &q.Conditions); err != nil {
			return q, false, datasetBad("Invalid parameter(search_conditions): want a JSON array of search conditions: %v", err)
		}
	}
	q.Marker = v.Get("marker")
	return q, preview, nil
}

// sampleStateParam reads an optional sample_state filter: nil when absent;
// a team-labeling state matches no sample until team labeling exists.
func sampleStateParam(r *http.Request) (*int, error) {
	s := r.URL.Query().Get("sample_state")
	if s == "" {
		return nil, nil
	}
	st, _, err := dataset.ParseSampleState("sample_state", s)
	if err != nil {
		return nil, err
	}
	return &st, nil
}

// listSamples pages samples with the reference's filters; marker (the last
// sample_id of the previous page) is Atelier's cursor: it costs the same on
// any page, where a deep offset walks the index.
func (d *datasetAPI) listSamples(w http.ResponseWriter, r *http.Request, c *Call) error {
	q, preview, err := parseSampleQuery(r)
	if err != nil {
		return err
	}
	if vid := r.URL.Query().Get("version_id"); vid != "" {
		// A version's samples, as its manifest froze them.
		count, samples, err := d.versions.ListVersionSamples(r.Context(), c.ProjectID, r.PathValue("dataset_id"), vid, q)
		if err != nil {
			return err
		}
		return d.writeSamplePage(w, r, c, count, samples, preview)
	}
	return d.writeDatasetSamples(w, r, c, q, preview)
}

// writeDatasetSamples answers a page of the dataset's samples, which hands
// out their objects: GetObject on each, decided before anything is sent.
// Without preview URLs the page is written as its rows are read
// (AppendSamplePage).
func (d *datasetAPI) writeDatasetSamples(w http.ResponseWriter, r *http.Request, c *Call, q dataset.SampleQuery, preview bool) error {
	if preview {
		count, samples, err := d.svc.ListSamples(r.Context(), c.ProjectID, r.PathValue("dataset_id"), q)
		if err != nil {
			return err
		}
		return d.writeSamplePage(w, r, c, count, samples, preview)
	}
	return WriteJSONWith(w, http.StatusOK, func(b []byte) ([]byte, error) {
		b, objects, err := d.svc.AppendSamplePage(r.Context(), c.ProjectID, r.PathValue("dataset_id"), q, b)
		if err != nil {
			return b, err
		}
		return b, c.AuthorizeObjects(objects...)
	})
}

// writeSamplePage answers a page of samples, which hands out their
// objects: GetObject on each.
func (d *datasetAPI) writeSamplePage(w http.ResponseWriter, r *http.Request, c *Call, count int64, samples []*dataset.Sample, preview bool) error {
	if err := c.AuthorizeObjects(sampleRefs(samples)...); err != nil {
		return err
	}
	if preview {
		for _, s := range samples {
			var err error
			if s.Source, s.SourceError, err = d.svc.PreviewURL(r.Context(), s.Stored); err != nil {
				return err
			}
		}
	}
	return WriteJSONWith(w, http.StatusOK, func(b []byte) ([]byte, error) {
		return dataset.AppendSampleList(b, count, samples)
	})
}

// showSample returns one sample with a presigned URL of its object as
// source (the reference's list example shows signed URLs there).
func (d *datasetAPI) showSample(w http.ResponseWriter, r *http.Request, c *Call) error {
	state, err := sampleStateParam(r)
	if err != nil {
		return err
	}
	return d.writeSample(w, r, c, state)
}

// writeSample answers one sample (in state, when not nil).
func (d *datasetAPI) writeSample(w http.ResponseWriter, r *http.Request, c *Call, state *int) error {
	s, err := d.svc.GetSample(r.Context(), c.ProjectID, r.PathValue("dataset_id"), r.PathValue("sample_id"), state)
	if err != nil {
		return err
	}
	if err := c.AuthorizeObjects(sampleRefs([]*dataset.Sample{s})...); err != nil {
		return err
	}
	if s.Source, s.SourceError, err = d.svc.PreviewURL(r.Context(), s.Stored); err != nil {
		return err
	}
	// One sample's page says whether its file is still there (a list
	// does not look: a HEAD per sample would cost the page).
	if p, ok := dataset.ObjectOf(s.Stored); ok && s.SourceError == "" {
		if _, err := d.svc.Object(r.Context(), p); errors.Is(err, obs.ErrNotFound) || errors.Is(err, obs.ErrBucketNotFound) {
			s.SourceError = "the sample's file " + p.String() + " does not exist"
		}
	}
	return WriteJSON(w, http.StatusOK, s)
}

// uploadSample is one item of POST data-annotations/samples.
type uploadSample struct {
	Data       *string             `json:"data"`
	DataSource *dataset.DataSource `json:"data_source"`
	Encoding   string              `json:"encoding"`
	Labels     []annotation.Label  `json:"labels"`
	Metadata   map[string]any      `json:"metadata"`
	Name       string              `json:"name"`
	SampleType *int                `json:"sample_type"`
}

type batchItem struct {
	ErrorCode string `json:"error_code,omitempty"`
	ErrorMsg  string `json:"error_msg,omitempty"`
	Info      string `json:"info,omitempty"`
	Name      string `json:"name,omitempty"`
	Success   bool   `json:"success"`
}

func itemError(err error) batchItem {
	if de, ok := dataset.AsError(err); ok {
		return batchItem{ErrorCode: de.Code, ErrorMsg: de.Msg}
	}
	return batchItem{ErrorCode: dataset.CodeUploadFailed, ErrorMsg: err.Error()}
}

// writeItemResults answers a batch whose items succeed or fail alone:
// success is false when any failed, results has one entry per item.
func writeItemResults(w http.ResponseWriter, errs []error) error {
	results := make([]batchItem, len(errs))
	ok := true
	for i, e := range errs {
		if e != nil {
			results[i], ok = itemError(e), false
			continue
		}
		results[i].Success = true
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"success": ok, "results": results})
}

// MaxSampleFile bounds one uploaded file (decoded); the body limit bounds
// the batch.
const MaxSampleFile = 5 << 20

const sampleNameForbidden = `!<>=&"'`

// addSamples adds samples by object path (data_source.data_path) or with
// their content (data, base64), stored under the dataset's first input
// directory. Every item is checked before anything is written; the
// results say per item what happened.
func (d *datasetAPI) addSamples(w http.ResponseWriter, r *http.Request, c *Call) error {
	var body struct {
		FinalAnnotation *bool                `json:"final_annotation"`
		LabelFormat     *dataset.LabelFormat `json:"label_format"`
		Samples         []uploadSample       `json:"samples"`
	}
	if err := decodeDataset(r, &body); err != nil {
		return err
	}
	if len(body.Samples) == 0 {
		return datasetBad("Invalid parameter(samples): at least one sample is required.")
	}
	if len(body.Samples) > 100 {
		return datasetBad("Invalid parameter(samples): at most 100 samples per request.")
	}
	ctx := r.Context()
	id := r.PathValue("dataset_id")
	inputs, work, typ, err := d.svc.DataPaths(ctx, c.ProjectID, id)
	if err != nil {
		return err
	}
	uploadDir := work
	if len(inputs) > 0 {
		uploadDir = inputs[0]
	}
	items := make([]dataset.NewSample, len(body.Samples))
	var refs []ObjectRef
	for i, s := range body.Samples {
		field := fmt.Sprintf("samples[%d]", i)
		if len(s.Name) > 1024 || strings.ContainsAny(s.Name, sampleNameForbidden) || !utf8.ValidString(s.Name) {
			return datasetBad("Invalid parameter(%s.name): at most 1,024 characters, none of %s.", field, sampleNameForbidden)
		}
		switch s.Encoding {
		case "", "UTF-8", "GBK", "GB2312":
		default:
			return datasetBad("Invalid parameter(%s.encoding): want UTF-8, GBK or GB2312.", field)
		}
		sampleType := annotation.SampleTypeOf(typ)
		if s.SampleType != nil {
			sampleType = *s.SampleType
		}
		it := dataset.NewSample{Input: dataset.SampleInput{SampleType: sampleType, Labels: s.Labels, Metadata: s.Metadata, Labeler: c.Principal.UserName}}
		switch {
		case s.Data != nil:
			if s.Name == "" || strings.Contains(s.Name, "/") {
				return datasetBad("Invalid parameter(%s.name): a file name is required with data.", field)
			}
			if base64.StdEncoding.DecodedLen(len(*s.Data)) > MaxSampleFile+3 {
				return Errorf(http.StatusRequestEntityTooLarge, dataset.CodeInvalid, "%s.data exceeds %d bytes.", field, MaxSampleFile)
			}
			data, err := base64.StdEncoding.DecodeString(*s.Data)
			if err != nil {
				return datasetBad("Invalid parameter(%s.data): not base64: %v", field, err)
			}
			if len(data) > MaxSampleFile {
				return Errorf(http.StatusRequestEntityTooLarge, dataset.CodeInvalid, "%s.data exceeds %d bytes.", field, MaxSampleFile)
			}
			it.Data = data
			it.Target = obs.Path{Bucket: uploadDir.Bucket, Key: uploadDir.Key + s.Name}
		case s.DataSource != nil && s.DataSource.DataPath != "":
			if s.DataSource.DataType != 0 {
				return datasetBad("Invalid parameter(%s.data_source.data_type): only OBS (0) is supported.", field)
			}
			p, err := obs.ParsePath(s.DataSource.DataPath)
			if err != nil || p.Key == "" || strings.HasSuffix(p.Key, "/") {
				return datasetBad("Invalid parameter(%s.data_source.data_path): want an object path such as /bucket/dir/file.jpg.", field)
			}
			it.Target = p
		default:
			return datasetBad("Invalid parameter(%s): give data or data_source.data_path.", field)
		}
		it.Input.Source = "obs://" + it.Target.Bucket + "/" + it.Target.Key
		refs = append(refs, ObjectRef{Bucket: it.Target.Bucket, Key: it.Target.Key})
		items[i] = it
	}
	if err := c.AuthorizeObjects(refs...); err != nil {
		return err
	}
	opts := dataset.WriteOptions{Unconfirmed: body.FinalAnnotation != nil && !*body.FinalAnnotation}
	res, err := d.svc.AddSamples(ctx, c.ProjectID, id, items, opts)
	if err != nil {
		return err
	}
	results := make([]batchItem, len(items))
	ok := true
	for i, wr := range res {
		if wr.Err != nil {
			results[i] = itemError(wr.Err)
		} else {
			results[i].Success, results[i].Info = true, wr.SampleID
		}
		results[i].Name = "/" + items[i].Target.Bucket + "/" + items[i].Target.Key
	}
	for _, r := range results {
		ok = ok && r.Success
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"success": ok, "results": results})
}

// updateSamples replaces the labels of samples (PUT data-annotations/samples);
// each item succeeds or fails alone, as the reference's BatchResponse list.
func (d *datasetAPI) updateSamples(w http.ResponseWriter, r *http.Request, c *Call) error {
	var body struct {
		Email   string `json:"email"`
		Samples []struct {
			Labels      []annotation.Label `json:"labels"`
			Metadata    map[string]any     `json:"metadata"`
			SampleID    string             `json:"sample_id"`
			SampleType  *int               `json:"sample_type"`
			SampleUsage string             `json:"sample_usage"`
			Source      string             `json:"source"`
			WorkerID    string             `json:"worker_id"`
		} `json:"samples"`
	}
	if err := decodeDataset(r, &body); err != nil {
		return err
	}
	if len(body.Samples) == 0 {
		return datasetBad("Invalid parameter(samples): at least one sample is required.")
	}
	if len(body.Samples) > dataset.MaxLabelUpdates {
		return datasetBad("Invalid parameter(samples): at most %d samples per request.", dataset.MaxLabelUpdates)
	}
	items := make([]dataset.LabelUpdate, len(body.Samples))
	for i, s := range body.Samples {
		if s.SampleID == "" {
			return datasetBad("Invalid parameter(samples[%d].sample_id): required.", i)
		}
		switch s.SampleUsage {
		case "", "TRAIN", "EVAL", "TEST", "INFERENCE":
		default:
			return datasetBad("Invalid parameter(samples[%d].sample_usage): want TRAIN, EVAL, TEST or INFERENCE.", i)
		}
		items[i] = dataset.LabelUpdate{SampleID: s.SampleID, Labels: s.Labels, Metadata: s.Metadata, Usage: s.SampleUsage,
			Labeler: c.Principal.UserName}
	}
	inputs, work, _, err := d.svc.DataPaths(r.Context(), c.ProjectID, r.PathValue("dataset_id"))
	if err != nil {
		return err
	}
	// Labeling reads the samples: GetObject on the dataset's data.
	if err := c.AuthorizeObjects(append(inputs, work)...); err != nil {
		return err
	}
	errs, err := d.svc.UpdateSampleLabels(r.Context(), c.ProjectID, r.PathValue("dataset_id"), items)
	if err != nil {
		return err
	}
	return writeItemResults(w, errs)
}

// deleteSamples removes samples and, with delete_source, their files.
func (d *datasetAPI) deleteSamples(w http.ResponseWriter, r *http.Request, c *Call) error {
	var body struct {
		DeleteSource *bool    `json:"delete_source"`
		Samples      []string `json:"samples"`
	}
	if err := decodeDataset(r, &body); err != nil {
		return err
	}
	if len(body.Samples) == 0 {
		return datasetBad("Invalid parameter(samples): at least one sample ID is required.")
	}
	if len(body.Samples) > dataset.MaxLabelUpdates {
		return datasetBad("Invalid parameter(samples): at most %d sample IDs per request.", dataset.MaxLabelUpdates)
	}
	plan, errs, err := d.svc.PlanDeleteSamples(r.Context(), c.ProjectID, r.PathValue("dataset_id"), body.Samples)
	if err != nil {
		return err
	}
	deleteSource := body.DeleteSource != nil && *body.DeleteSource
	var refs []ObjectRef
	if deleteSource {
		for _, src := range plan.Sources {
			if p, ok := dataset.ObjectOf(src); ok {
				refs = append(refs, p)
			}
		}
	}
	// DeleteObject on the files only when they are deleted.
	if err := c.AuthorizeObjects(refs...); err != nil {
		return err
	}
	if err := d.svc.CommitDeleteSamples(r.Context(), plan); err != nil {
		return err
	}
	if deleteSource {
		if err := d.svc.DeleteObjects(r.Context(), plan.Sources); err != nil {
			return err
		}
	}
	return writeItemResults(w, errs)
}

func (d *datasetAPI) searchCondition(w http.ResponseWriter, r *http.Request, c *Call) error {
	out, err := d.svc.SampleSearchConditions(r.Context(), c.ProjectID, r.PathValue("dataset_id"))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, out)
}

func (d *datasetAPI) stats(w http.ResponseWriter, r *http.Request, c *Call) error {
	state, err := sampleStateParam(r)
	if err != nil {
		return err
	}
	out, err := d.svc.SampleStats(r.Context(), c.ProjectID, r.PathValue("dataset_id"), state)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, out)
}

func (d *datasetAPI) metrics(w http.ResponseWriter, r *http.Request, c *Call) error {
	v := r.URL.Query()
	var bounds [2]int64
	for i, name := range []string{"start_time", "end_time"} {
		s := v.Get(name)
		n, err := strconv.ParseInt(s, 10, 64)
		if s == "" || err != nil || n < 0 {
			return datasetBad("Invalid parameter(%s): a time in milliseconds is required.", name)
		}
		bounds[i] = n
	}
	if bounds[0] > bounds[1] {
		return datasetBad("Invalid parameter(start_time): after end_time.")
	}
	out, err := d.svc.Metrics(r.Context(), c.ProjectID, r.PathValue("dataset_id"), bounds[0], bounds[1])
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"metrics": out})
}
