// Package learn is the learning inside Atelier's intelligent tasks: it
// turns images and texts into feature rows, labels unlabeled rows from the
// labeled ones (auto-label, active learning), and groups rows (auto
// grouping). It works in pure Go with no model to download.
//
// It owns the features, the classifier, its calibration, self-training,
// the key-sample rule and k-means. It must not do I/O or know about
// datasets, samples, stores or HTTP: the caller loads each image or text,
// passes rows by index and labels by name, and stores what comes back. Row
// i of every Matrix, label slice and answer is the caller's sample i.
//
// # Use
//
//	x, errs, err := learn.ExtractImages(ctx, len(samples), load) // or learn.TextFeatures(ctx, texts, learn.TextOptions{})
//	res, err := learn.AutoLabel(ctx, x, labels, learn.Options{Algorithm: learn.Accurate, KeySamples: true, Scope: scope})
//	groups, err := learn.KMeans(ctx, x, nClusters, learn.KMeansOptions{Seed: seed})
//
// labels[i] is sample i's label name, "" when it has none; errs[i] is why
// image i could not be read (its row is then absent: neither learned from,
// predicted nor grouped). AutoLabel refuses input that cannot support a
// model with an *InputError (no labels, one label, fewer than MinPerClass
// of a label, nothing unlabeled), which the API answers with 400.
// ParseScope reads the reference's confidence_scope; GroupingFeatures
// narrows image rows to the brightness, colour and clarity aspects that
// auto grouping may be asked to group by.
//
// # Features
//
// Images (ImageDescriptor, 355 values): an HSV colour histogram, a 4×4
// colour layout, a HOG-like orientation pyramid, the rotational symmetry of
// the edges and a centre-distance × alignment histogram of them (both
// independent of where the object is and how big), and eight global
// statistics. About 140 µs of CPU an image at 64×64, besides decoding it
// (a 64×64 PNG takes about 210 µs).
//
// Texts (TextFeatures): TF-IDF over word unigrams and bigrams and character
// 3- to 5-grams within words, sublinear term frequency, unit-length rows, a
// vocabulary fitted on the corpus with a minimum document frequency and a
// size cap. Chinese, Japanese and Korean runs, which have no spaces, count
// each character as a word.
//
// # Classifier and calibration
//
// A multinomial logistic regression with an L2 penalty, fitted by gonum's
// L-BFGS with gonum BLAS doing the dense products. Dense columns are
// standardised and the descriptor's feature blocks weighed equally. The
// penalty is chosen among five by stratified 5-fold cross-validation (3-fold
// from 2,000 labels) on the calibrated log-likelihood, and one temperature, fitted on the same
// out-of-fold predictions, calibrates the probabilities.
//
// The accurate algorithm adds self-training: five rounds in which the
// unlabeled rows predicted with calibrated confidence at least 0.9 join the
// training set, class-balanced, up to a budget. It is kept only when it
// beats the fast model out of fold (every fold self-trains without its own
// labels, so the comparison and its temperature are honest), so accurate is
// never knowingly worse than fast.
//
// # Measured
//
// On the tests' generated data, 10% of each class labeled, accuracy on the
// unlabeled rest (seed 1, TestAutoLabelQuality) and expected calibration
// error (TestCalibration):
//
//	                            fast               accurate
//	shapes, 6 classes, 1,200    0.960, ECE 0.013   0.988, ECE 0.012
//	topics, 5 classes, 1,000    0.837, ECE 0.048   0.861, ECE 0.031
//
// The shapes are circles, squares, triangles, stripes, crosses and rings
// in random colours, places, sizes and tilts, with clutter and noise; the
// topics are English and Chinese documents with shared and off-topic words
// and typos.
//
// Auto-labeling 100,000 64×64 PNG images after 5,000 labeled
// (BenchmarkAutoLabelImages, reading and decoding included) takes 57 CPU
// seconds fast and 65 accurate on this 2-core machine, with a peak resident
// set of 335 and 426 MB, and labels 99.6% of them right.
//
// Results are the same, bit for bit, for the same input and seed on any
// number of cores: parallel sums are split into a fixed number of parts
// added in order. Long loops check their context between iterations.
package learn
