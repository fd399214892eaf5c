package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/atelier-dev/atelier/internal/obs"
	"github.com/atelier-dev/atelier/internal/training"
)

// Algorithms: /v2/{project_id}/algorithms.

// authorizeReads checks that the caller may list and read the locations
// (code directories, inputs) a job will read, before anything is created.
func authorizeReads(c *Call, locs []obs.Path) error {
	for _, l := range locs {
		if err := c.AuthorizeOBS("obs:bucket:ListBucket", ObjectRef{Bucket: l.Bucket}); err != nil {
			return err
		}
		if err := c.AuthorizeOBS("obs:object:GetObject", l); err != nil {
			return err
		}
	}
	return nil
}

func (t *trainingAPI) createAlgorithm(w http.ResponseWriter, r *http.Request, c *Call) error {
	var req training.AlgorithmRequest
	if err := Decode(r, &req); err != nil {
		return err
	}
	plan, err := t.svc.PlanAlgorithm(scopeOf(c), &req)
	if err != nil {
		return err
	}
	if err := authorizeReads(c, plan.Reads); err != nil {
		return err
	}
	a, err := t.svc.CommitAlgorithm(r.Context(), plan)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusCreated, a)
}

func (t *trainingAPI) changeAlgorithm(w http.ResponseWriter, r *http.Request, c *Call) error {
	var req training.AlgorithmRequest
	if err := Decode(r, &req); err != nil {
		return err
	}
	plan, err := t.svc.PlanAlgorithmUpdate(r.Context(), scopeOf(c), r.PathValue("algorithm_id"), &req)
	if err != nil {
		return err
	}
	if err := authorizeReads(c, plan.Reads); err != nil {
		return err
	}
	a, err := t.svc.CommitAlgorithm(r.Context(), plan)
	if err != nil {
		return err
	}
	// The reference answers a modification with 201.
	return WriteJSON(w, http.StatusCreated, a)
}

func (t *trainingAPI) showAlgorithm(w http.ResponseWriter, r *http.Request, c *Call) error {
	a, err := t.svc.GetAlgorithm(r.Context(), c.ProjectID, r.PathValue("algorithm_id"))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, a)
}

func (t *trainingAPI) deleteAlgorithm(w http.ResponseWriter, r *http.Request, c *Call) error {
	if err := t.svc.DeleteAlgorithm(r.Context(), c.ProjectID, r.PathValue("algorithm_id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// listAlgorithms answers GET /algorithms: offset, limit (1 to 50, default
// 50), sort_by (create_time, update_time or name), order (desc by default),
// group_by (echoed) and searches ("name:<substring>", several joined by ';').
func (t *trainingAPI) listAlgorithms(w http.ResponseWriter, r *http.Request, c *Call) error {
	v := r.URL.Query()
	q := training.AlgorithmQuery{Limit: 50, SortBy: v.Get("sort_by"), Desc: true}
	var err error
	if q.Offset, err = intParam(v.Get("offset"), "offset", 0, 0, 1<<31-1); err != nil {
		return err
	}
	if q.Limit, err = intParam(v.Get("limit"), "limit", 50, 1, 50); err != nil {
		return err
	}
	switch v.Get("order") {
	case "", "desc":
	case "asc":
		q.Desc = false
	default:
		return Errorf(http.StatusBadRequest, training.CodeInvalidParam, "Invalid parameter(order): want asc or desc.")
	}
	for _, s := range strings.Split(v.Get("searches"), ";") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		key, val, ok := strings.Cut(s, ":")
		if !ok || key != "name" {
			return Errorf(http.StatusBadRequest, "ModelArts.2764", "Invalid query parameter (searches=%s): want name:<part of the name>.", s)
		}
		q.NameLike = val
	}
	total, items, err := t.svc.ListAlgorithms(r.Context(), scopeOf(c), q)
	if err != nil {
		return err
	}
	sortBy := q.SortBy
	if sortBy == "" {
		sortBy = "create_time"
	}
	order := "desc"
	if !q.Desc {
		order = "asc"
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"total": total, "count": len(items), "limit": q.Limit, "offset": q.Offset,
		"sort_by": sortBy, "order": order, "group_by": v.Get("group_by"), "items": items})
}

// intParam parses an optional integer query parameter within [lo, hi].
func intParam(s, name string, def, lo, hi int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, Errorf(http.StatusBadRequest, training.CodeInvalidParam, "Invalid parameter(%s): want an integer from %d to %d.", name, lo, hi)
	}
	return n, nil
}
