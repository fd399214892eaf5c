// Package formats owns the on-disk formats of ModelArts data management and
// their conversion to and from Atelier's sample-label model
// (annotation.Label):
//
//   - the manifest, JSON Lines with one sample per line (Reader, Writer);
//   - Pascal VOC XML files, which carry the boxes and polygons of object
//     detection and image segmentation samples (ParseVOC, WriteVOC,
//     LabelsFromVOC, VOCFromLabels);
//   - the layout rules of an import from an OBS directory: which object is a
//     sample, which one carries its labels, and what is skipped (Classifier),
//     plus the small text formats found there (text classification lines,
//     label files beside images, YOLO label files).
//
// It is pure: no I/O beyond the readers and writers it is handed, no object
// store, no database, no HTTP, no context. It never fetches what a manifest
// or a listing points at (annotation-loc, inference-loc, label files); it
// says where they are and parses them once the caller has fetched them. It
// does not decide whether a label fits a dataset (its labels, its type):
// that belongs to the dataset service. Per-line problems of a file are
// reported as *LineError values so that an import can report them and go on.
package formats
