package dataset

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
)

// entry is one label of a set being changed; seq identifies it across a
// rename.
type entry struct {
	seq   int64
	orig  string // stored name ("" for a new label)
	l     Label
	dirty bool
}

// labelSet is a dataset's labels in creation order, changed in memory one
// operation at a time; each operation checks the set's rules against the
// current state, so the set is valid after every successful operation and a
// failed one leaves it unchanged.
type labelSet struct {
	rules   labelRules
	byName  map[string]*entry
	order   []*entry
	removed []*entry
	nextSeq int64
}

func newLabelSet(rules labelRules, existing []*entry) *labelSet {
	s := &labelSet{rules: rules, byName: map[string]*entry{}}
	for _, e := range existing {
		s.byName[e.l.Name] = e
		s.order = append(s.order, e)
		if e.seq > s.nextSeq {
			s.nextSeq = e.seq
		}
	}
	return s
}

func (s *labelSet) list() []Label {
	out := make([]Label, 0, len(s.order))
	for _, e := range s.order {
		out = append(out, e.l)
	}
	return out
}

// shortcutTaken reports whether another label than self uses shortcut.
func (s *labelSet) shortcutTaken(shortcut string, self *entry) bool {
	if shortcut == "" {
		return false
	}
	for _, e := range s.order {
		if e != self && e.l.Property[PropShortcut] == shortcut {
			return true
		}
	}
	return false
}

// checkRelation checks that a relationship label's entities exist.
func (s *labelSet) checkRelation(field string, l *Label) error {
	if *l.Type != LabelTripletRelation {
		return nil
	}
	for _, k := range []string{PropFromType, PropToType} {
		e, ok := s.byName[l.Property[k]]
		if !ok || *e.l.Type != LabelTripletEntity {
			return Invalid(CodeTripletEntity, "Triplet label's from_entity or to_entity does not exist (%s.property.%s): no entity label %q.", field, k, l.Property[k])
		}
	}
	return nil
}

// usedBy returns a relationship label that refers to entity name.
func (s *labelSet) usedBy(name string) string {
	for _, e := range s.order {
		if *e.l.Type == LabelTripletRelation && (e.l.Property[PropFromType] == name || e.l.Property[PropToType] == name) {
			return e.l.Name
		}
	}
	return ""
}

// add adds a new label.
func (s *labelSet) add(field string, in Label) error {
	l := cloneLabel(in)
	if err := s.rules.checkLabel(field, &l); err != nil {
		return err
	}
	if _, ok := l.Property[PropRenameTo]; ok {
		return badRequest("Invalid parameter(%s.property.%s): a new label cannot be renamed.", field, PropRenameTo)
	}
	if _, ok := s.byName[l.Name]; ok {
		return Invalid(CodeLabelExists, "Label already exists (%s.name): %s.", field, l.Name)
	}
	if s.shortcutTaken(l.Property[PropShortcut], nil) {
		return Invalid(CodeShortcutExists, "Label shortcut already exists (%s.property.%s): %s.", field, PropShortcut, l.Property[PropShortcut])
	}
	if err := s.checkRelation(field, &l); err != nil {
		return err
	}
	s.nextSeq++
	e := &entry{seq: s.nextSeq, l: l, dirty: true}
	s.byName[l.Name] = e
	s.order = append(s.order, e)
	return nil
}

// update changes the label named in.Name: the properties given replace
// those stored (an empty value removes one), @modelarts:rename_to renames
// it, a type or attributes given replace the stored ones.
func (s *labelSet) update(field string, in Label) error {
	cur, ok := s.byName[in.Name]
	if !ok {
		return errLabelNotFound(in.Name)
	}
	l := cloneLabel(cur.l)
	if in.Type != nil {
		t := *in.Type
		l.Type = &t
	}
	if err := checkProperty(field+".property", in.Property); err != nil {
		return err
	}
	newName := l.Name
	for k, v := range in.Property {
		switch {
		case k == PropRenameTo:
			newName = v
		case v == "":
			delete(l.Property, k)
		default:
			if l.Property == nil {
				l.Property = map[string]string{}
			}
			l.Property[k] = v
		}
	}
	if in.Attributes != nil {
		l.Attributes = in.Attributes
	}
	l.Name = newName
	if *cur.l.Type == LabelTripletEntity && *l.Type != LabelTripletEntity {
		if rel := s.usedBy(cur.l.Name); rel != "" {
			return Invalid(CodeEntityInUse, "Entity label can not be changed because it is used by triplet label %s (%s).", rel, field)
		}
	}
	if err := s.rules.checkLabel(field, &l); err != nil {
		return err
	}
	if newName != cur.l.Name {
		if _, ok := s.byName[newName]; ok {
			return Invalid(CodeLabelExists, "Label already exists (%s.property.%s): %s.", field, PropRenameTo, newName)
		}
	}
	if s.shortcutTaken(l.Property[PropShortcut], cur) {
		return Invalid(CodeShortcutExists, "Label shortcut already exists (%s.property.%s): %s.", field, PropShortcut, l.Property[PropShortcut])
	}
	// A relationship's entities are looked up by their names after the
	// rename, so a label cannot relate to itself.
	old := cur.l
	delete(s.byName, old.Name)
	cur.l = l
	s.byName[l.Name] = cur
	if err := s.checkRelation(field, &l); err != nil {
		delete(s.byName, l.Name)
		cur.l = old
		s.byName[old.Name] = cur
		return err
	}
	cur.dirty = true
	if newName != old.Name && *old.Type == LabelTripletEntity {
		// Relationship labels follow their entities' renames.
		for _, e := range s.order {
			if *e.l.Type != LabelTripletRelation {
				continue
			}
			for _, k := range []string{PropFromType, PropToType} {
				if e.l.Property[k] == old.Name {
					e.l = cloneLabel(e.l)
					e.l.Property[k] = newName
					e.dirty = true
				}
			}
		}
	}
	return nil
}

// remove deletes the label called name.
func (s *labelSet) remove(field, name string) error {
	cur, ok := s.byName[name]
	if !ok {
		return errLabelNotFound(name)
	}
	if *cur.l.Type == LabelTripletEntity {
		if rel := s.usedBy(name); rel != "" {
			return Invalid(CodeEntityInUse, "Entity label can not be deleted because it is used by triplet label %s (%s).", rel, field)
		}
	}
	delete(s.byName, name)
	for i, e := range s.order {
		if e == cur {
			s.order = append(s.order[:i], s.order[i+1:]...)
			break
		}
	}
	if cur.orig != "" {
		s.removed = append(s.removed, cur)
	}
	return nil
}

func cloneLabel(l Label) Label {
	out := l
	if l.Property != nil {
		out.Property = maps.Clone(l.Property)
	}
	if l.Type != nil {
		t := *l.Type
		out.Type = &t
	}
	return out
}

func (s *Service) labels(ctx context.Context, q querier, datasetID string) ([]Label, error) {
	es, err := s.repo.labelEntries(ctx, q, datasetID, 0, -1)
	if err != nil {
		return nil, err
	}
	out := make([]Label, 0, len(es))
	for _, e := range es {
		out = append(out, e.l)
	}
	return out, nil
}

func (s *Service) loadSet(ctx context.Context, tx *sql.Tx, r *Row) (*labelSet, error) {
	es, err := s.repo.labelEntries(ctx, tx, r.ID, 0, -1)
	if err != nil {
		return nil, err
	}
	set := newLabelSet(labelRules{datasetType: r.Type}, es)
	if r.LabelSeq > set.nextSeq {
		set.nextSeq = r.LabelSeq
	}
	return set, nil
}

// ListLabels returns a page of a dataset's labels in creation order and
// their total number.
func (s *Service) ListLabels(ctx context.Context, projectID, id string, offset, limit int) (int, []Label, error) {
	if _, err := s.Workspace(ctx, projectID, id); err != nil {
		return 0, nil, err
	}
	total, err := s.repo.countLabels(ctx, id)
	if err != nil {
		return 0, nil, err
	}
	es, err := s.repo.labelEntries(ctx, s.db, id, offset, limit)
	if err != nil {
		return 0, nil, err
	}
	out := make([]Label, 0, len(es))
	for _, e := range es {
		out = append(out, e.l)
	}
	return total, out, nil
}

// ItemResult is the outcome of one item of a label batch.
type ItemResult struct {
	Success   bool   `json:"success"`
	ErrorCode string `json:"error_code,omitempty"`
	ErrorMsg  string `json:"error_msg,omitempty"`
}

// BatchResult is the answer of a label batch: each item is applied on its
// own, in order; the items that fail are reported and change nothing.
type BatchResult struct {
	Success   bool         `json:"success"`
	ErrorCode string       `json:"error_code,omitempty"`
	ErrorMsg  string       `json:"error_msg,omitempty"`
	Results   []ItemResult `json:"results,omitempty"`

	deletedSources []string
}

// DeletedSources are the sources of the samples a label delete removed.
func (b *BatchResult) DeletedSources() []string { return b.deletedSources }

// batch applies op to each item in one transaction. A domain error fails
// only its item; any other error fails the request.
func (s *Service) batch(ctx context.Context, projectID, id string, n, policy int, op func(set *labelSet, i int) error) (*BatchResult, error) {
	res := &BatchResult{Success: true, Results: make([]ItemResult, n)}
	err := s.db.InTx(ctx, func(tx *sql.Tx) error {
		r, err := s.LoadRow(ctx, tx, projectID, id, true)
		if err != nil {
			return err
		}
		set, err := s.loadSet(ctx, tx, r)
		if err != nil {
			return err
		}
		for i := range n {
			err := op(set, i)
			if e, ok := AsError(err); ok {
				res.Results[i] = ItemResult{ErrorCode: e.Code, ErrorMsg: e.Msg}
				if res.Success {
					res.Success, res.ErrorCode, res.ErrorMsg = false, e.Code, e.Msg
				}
				continue
			}
			if err != nil {
				return err
			}
			res.Results[i] = ItemResult{Success: true}
		}
		if err := s.repo.saveLabelSet(ctx, tx, r, set, s.now().UnixMilli()); err != nil {
			return err
		}
		res.deletedSources, err = s.applyLabelChanges(ctx, tx, r, set, policy)
		return err
	})
	if err != nil {
		return nil, err
	}
	if res.Success {
		res.Results = nil
	}
	return res, nil
}

func checkBatch(labels []Label) error {
	if len(labels) == 0 {
		return badRequest("Invalid parameter(labels): at least one label is required.")
	}
	if len(labels) > MaxLabels {
		return badRequest("Invalid parameter(labels): at most %d labels.", MaxLabels)
	}
	return nil
}

// CreateLabels adds labels to a dataset.
func (s *Service) CreateLabels(ctx context.Context, projectID, id string, labels []Label) (*BatchResult, error) {
	if err := checkBatch(labels); err != nil {
		return nil, err
	}
	return s.batch(ctx, projectID, id, len(labels), DeleteLabelOnly, func(set *labelSet, i int) error {
		return set.add(fmt.Sprintf("labels[%d]", i), labels[i])
	})
}

// UpdateLabels changes labels of a dataset, each found by its name.
func (s *Service) UpdateLabels(ctx context.Context, projectID, id string, labels []Label) (*BatchResult, error) {
	if err := checkBatch(labels); err != nil {
		return nil, err
	}
	return s.batch(ctx, projectID, id, len(labels), DeleteLabelOnly, func(set *labelSet, i int) error {
		return set.update(fmt.Sprintf("labels[%d]", i), labels[i])
	})
}

// DeleteLabels deletes labels of a dataset, each found by its name, and
// removes them from the samples; with policy 1 or 2 the samples left with
// only deleted labels are deleted instead (their sources are in the
// result's DeletedSources for the caller to remove with policy 2).
func (s *Service) DeleteLabels(ctx context.Context, projectID, id string, labels []Label, policy int) (*BatchResult, error) {
	if err := checkBatch(labels); err != nil {
		return nil, err
	}
	return s.batch(ctx, projectID, id, len(labels), policy, func(set *labelSet, i int) error {
		return set.remove(fmt.Sprintf("labels[%d]", i), labels[i].Name)
	})
}

// DeleteLabelWithSamples deletes one label (of labelType when not nil),
// removes it from the samples and deletes the samples that carried only
// it; it returns their sources.
func (s *Service) DeleteLabelWithSamples(ctx context.Context, projectID, id, name string, labelType *int) ([]string, error) {
	var sources []string
	err := s.withLabel(ctx, projectID, id, name, labelType, func(tx *sql.Tx, r *Row, set *labelSet) error {
		if err := set.remove("label_name", name); err != nil {
			return err
		}
		if err := s.repo.saveLabelSet(ctx, tx, r, set, s.now().UnixMilli()); err != nil {
			return err
		}
		var err error
		sources, err = s.applyLabelChanges(ctx, tx, r, set, DeleteLabelAndSamples)
		return err
	})
	return sources, err
}

// UpdateLabel changes the properties of the label called name; labelType,
// when not nil, must be its type.
func (s *Service) UpdateLabel(ctx context.Context, projectID, id, name string, labelType *int, property map[string]string) error {
	return s.withLabel(ctx, projectID, id, name, labelType, func(tx *sql.Tx, r *Row, set *labelSet) error {
		if err := set.update("body", Label{Name: name, Property: property}); err != nil {
			return err
		}
		if err := s.repo.saveLabelSet(ctx, tx, r, set, s.now().UnixMilli()); err != nil {
			return err
		}
		_, err := s.applyLabelChanges(ctx, tx, r, set, DeleteLabelOnly)
		return err
	})
}

// withLabel runs fn in a transaction on the dataset's label set, once the
// label called name (of labelType when not nil) is found in it.
func (s *Service) withLabel(ctx context.Context, projectID, id, name string, labelType *int, fn func(tx *sql.Tx, r *Row, set *labelSet) error) error {
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		r, err := s.LoadRow(ctx, tx, projectID, id, true)
		if err != nil {
			return err
		}
		set, err := s.loadSet(ctx, tx, r)
		if err != nil {
			return err
		}
		if e, ok := set.byName[name]; !ok || labelType != nil && *e.l.Type != *labelType {
			return errLabelNotFound(name)
		}
		return fn(tx, r, set)
	})
}
