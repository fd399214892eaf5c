package imageops

import (
	"bytes"
	"fmt"
	"image"
	"image/jpeg"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/disintegration/imaging"

	"github.com/atelier-dev/atelier/internal/dataset/annotation"
)

// dedupBenchSet is 100,000 JPEG images of 128×96: 90,000 distinct pictures
// and 10,000 near or exact duplicates of some of them (re-encoded, 2%
// cropped, brighter, downscaled, copied). dupOf[i] is the original of
// duplicate i, -1 for originals. It is made once per process, on every
// CPU, outside any timing.
var dedupBenchSet = sync.OnceValue(func() (set struct {
	samples []Sample
	dupOf   []int
}) {
	const originals, duplicates = 90_000, 10_000
	set.samples = make([]Sample, originals+duplicates)
	set.dupOf = make([]int, originals+duplicates)
	parallelFor(originals+duplicates, func(i int) {
		if i < originals {
			set.samples[i] = Sample{Key: fmt.Sprint("o", i), Data: jpegBytes(scene(uint64(i), 128, 96), 85)}
			set.dupOf[i] = -1
			return
		}
		o := (i - originals) * 9 // originals spread over the set
		img := scene(uint64(o), 128, 96)
		var data []byte
		switch i % 5 {
		case 0:
			data = jpegBytes(img, 50)
		case 1:
			data = jpegBytes(crop(img, 2), 85)
		case 2:
			data = jpegBytes(imaging.AdjustBrightness(img, 12), 85)
		case 3:
			data = jpegBytes(imaging.Resize(img, 96, 72, imaging.Lanczos), 85)
		default:
			data = jpegBytes(img, 85) // the same bytes as the original
		}
		set.samples[i] = Sample{Key: fmt.Sprint("d", i), Data: data}
		set.dupOf[i] = o
	})
	return set
})

// cpuTime is the CPU time this process has used (user and system): on a
// machine other work shares, wall time says little, but CPU time per image
// says how many images per second the cores give when they are ours.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportThroughput reports images per second of wall time, CPU
// milliseconds per image, and the images per second GOMAXPROCS cores give
// at that CPU cost.
func reportThroughput(b *testing.B, n int, wall, cpu time.Duration) {
	b.ReportMetric(float64(n)/wall.Seconds(), "images/s")
	if cpu > 0 {
		perImage := cpu.Seconds() / float64(n)
		b.ReportMetric(perImage*1000, "cpu-ms/image")
		b.ReportMetric(float64(runtime.GOMAXPROCS(0))/perImage, "images/s-at-full-cpu")
	}
}

// jpegBytes encodes for the benchmark's set, built outside any test.
func jpegBytes(img image.Image, quality int) []byte {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: quality}); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

func parallelFor(n int, f func(i int)) {
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				f(i)
			}
		}()
	}
	wg.Wait()
}

// BenchmarkNearDuplicates100k hashes 100,000 images (decode, 32×32 grey,
// DCT, SHA-256) on every CPU and groups them at similarity 0.9. Run it
// with -benchtime=1x: one operation is the whole set.
func BenchmarkNearDuplicates100k(b *testing.B) {
	set := dedupBenchSet()
	var total int
	for _, s := range set.samples {
		total += len(s.Data)
	}
	b.ReportAllocs()
	b.ResetTimer()
	var groups []Group
	var hashTime, groupTime, cpu, groupCPU time.Duration
	for b.Loop() {
		cpu0 := cpuTime()
		start := time.Now()
		fps := make([]Fingerprint, len(set.samples))
		parallelFor(len(fps), func(i int) {
			f, err := Hash(set.samples[i])
			if err != nil {
				panic(err)
			}
			fps[i] = f
		})
		hashTime = time.Since(start)
		start, cpu1 := time.Now(), cpuTime()
		groups = Deduplicator{MaxDistance: MaxDistance(0.9)}.Groups(fps)
		groupTime = time.Since(start)
		cpu, groupCPU = cpuTime()-cpu0, cpuTime()-cpu1
	}
	b.StopTimer()
	// How many planted duplicates share a group with their original.
	groupOf := map[string]string{}
	for _, g := range groups {
		groupOf[g.Keep] = g.Keep
		for _, d := range g.Duplicates {
			groupOf[d.Key] = g.Keep
		}
	}
	planted, found := 0, 0
	for i, o := range set.dupOf {
		if o < 0 {
			continue
		}
		planted++
		if g, ok := groupOf[set.samples[i].Key]; ok && g == groupOf[set.samples[o].Key] {
			found++
		}
	}
	reportThroughput(b, len(set.samples), hashTime+groupTime, cpu)
	b.ReportMetric(hashTime.Seconds(), "hash-s")
	b.ReportMetric(groupTime.Seconds(), "group-s")
	b.ReportMetric(groupCPU.Seconds(), "group-cpu-s")
	b.ReportMetric(float64(len(groups)), "groups")
	b.ReportMetric(float64(found)/float64(planted), "recall")
	b.ReportMetric(float64(total)/float64(len(set.samples)), "bytes/image")
}

// BenchmarkAugment256 makes one augmented copy per call of 256×256 JPEG
// images with three boxes each, on GOMAXPROCS goroutines: decode,
// transform, boxes and JPEG encode (quality 90) are all in the time.
func BenchmarkAugment256(b *testing.B) {
	var samples []Sample
	for i := range 32 {
		samples = append(samples, Sample{Key: fmt.Sprint(i), Name: "s.jpg", Data: encodeJPEG(b, scene(uint64(i), 256, 256), 90),
			Labels: []annotation.Label{boxLabel("a", 20, 20, 120, 100), boxLabel("b", 100, 90, 200, 220), boxLabel("c", 180, 10, 250, 60)}})
	}
	ops := []struct {
		name   string
		op     string
		params map[string]any
	}{
		{"Flip", "Flip", nil},
		{"Rotate90s", "Rotate", map[string]any{"right_angles": true}},
		{"RotateSmall", "Rotate", map[string]any{"angle_min": -15, "angle_max": 15}},
		{"Crop", "Crop", nil},
		{"Brightness", "LightArithmetic", nil},
		{"Contrast", "LightContrast", map[string]any{"func": "linear"}},
		{"HueSaturation", "Saturation", nil},
	}
	for _, o := range ops {
		b.Run(o.name, func(b *testing.B) {
			a := mustAugmenter(b, o.op, o.params)
			var next sync.Mutex
			n := 0
			b.ResetTimer()
			cpu0 := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					next.Lock()
					s := samples[n%len(samples)]
					n++
					next.Unlock()
					if _, err := a.Augment(s); err != nil {
						panic(err)
					}
				}
			})
			reportThroughput(b, b.N, b.Elapsed(), cpuTime()-cpu0)
		})
	}
}

// BenchmarkSelect measures selecting among 20,000 feature vectors of 128
// values, keeping 10% and 90% (both beyond fpsBudget: clusters, then
// farthest-point sampling in each).
func BenchmarkSelect(b *testing.B) {
	points, _ := blobs(1, 50, 400, 128)
	for _, ratio := range []float64{0.1, 0.9} {
		b.Run(fmt.Sprint(ratio), func(b *testing.B) {
			cpu0 := cpuTime()
			for b.Loop() {
				if _, err := (Selector{Ratio: ratio, Count: -1}).Select(points); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
		})
	}
}
