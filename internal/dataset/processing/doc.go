// Package processing is the dataset room of data processing tasks
// (ModelArts' processor-tasks APIs): the operator catalogue, tasks and
// their versions, each version's run as a durable background task, and the
// per-sample results.
//
// A task names a processing template (validation, cleansing, selection,
// augmentation), its operators with their parameters, its inputs (a
// dataset or one of its versions, an OBS directory or manifest, another
// task's output) and its work path (an OBS directory, or a dataset). Each
// version runs the task once: it reads every input sample, each object
// authorized for the user who asked when it is touched, and writes the
// output under <work directory>/<task_version_id>/: the kept, repaired and
// added files in Data/ (with a Pascal VOC file beside each image with
// boxes) and output.manifest listing them. A version whose work path is a
// dataset then becomes a new version of that dataset, published by the
// versions room from the output manifest. The input is never changed:
// cleaning and de-duplication remove samples from the output, not from the
// source.
//
// What the operators do to an image is package imageops; this package
// owns reading and writing, the whole-set phases, checkpoints, results and
// the API's vocabulary. It reaches datasets through the core's seams
// (dataset.Service: LoadRow, Select, ObjectAccess, Denied) and versions
// through the versions room, and runs no SQL on their tables.
package processing
