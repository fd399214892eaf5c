// Package imageops owns the image operators of data processing (ModelArts'
// processing tasks, sys_data_*): their catalogue and parameter parsing, and
// the work each does on real images.
//
//   - Templates, KindOf, Catalogue, Lookup and Parse: the processing
//     templates, every operator with its wire name, kind and parameters
//     (type, default, range), and a typed *ParamError for an unknown
//     operator, an unknown parameter or a bad value.
//   - Validator (MetaValidation): corrupt files, wrong or unaccepted formats,
//     size limits and robust size outliers, and annotations that do not fit
//     their image; Repair applies the fixes the user guide lists.
//   - Augmenter: flips, rotations, crops, colour changes, noise, blur and the
//     other augmentation operators, deterministic for a seed, with each
//     copy's bounding boxes transformed with its pixels.
//   - Hash and Deduplicator (SimDeduplication): exact duplicates by SHA-256,
//     near duplicates by a 64-bit perceptual hash, without comparing every
//     pair.
//   - Selector (RRD) and Cleaner (PCC): a diverse subset, and the samples
//     like or unlike given examples, from feature vectors the caller supplies
//     (Decode gives the upright image to compute them from).
//
// It works on one sample's bytes, labels and metadata at a time (or on the
// compact records those give), never on storage: reading samples, writing
// outputs, computing features, tasks, versions and results belong to the
// processing-task layer above it. Everything here is safe for concurrent
// use and deterministic; no image beyond MaxPixels is decoded.
//
// Labels are annotation.Label values with boxes as the dataset keeps them
// (@modelarts:shape "bndbox", @modelarts:feature [[xmin, ymin], [xmax,
// ymax]] in pixels of the image plane, whose origin is the upper-left
// corner of the first pixel).
package imageops
