package imageops

// Decoding and encoding go through github.com/disintegration/imaging (with
// the golang.org/x/image decoders registered): it applies a JPEG's EXIF
// orientation on decode, so pixels are in the orientation the console shows
// and the boxes drawn there were drawn in, and it encodes every format we
// write back with one call. Nothing here reads storage.

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // registered with image.Decode
	"path"
	"strings"

	"github.com/disintegration/imaging"
	_ "golang.org/x/image/bmp"  // registered with image.Decode
	_ "golang.org/x/image/tiff" // registered with image.Decode
	_ "golang.org/x/image/webp" // registered with image.Decode

	"github.com/atelier-dev/atelier/internal/dataset/annotation"
)

// Sample is one image sample as the operators read it.
type Sample struct {
	// Key names the sample in findings and groups (its sample ID, or its
	// path); an augmentation's random draws depend on it.
	Key string
	// Name is the file name (or path); validation checks its extension
	// against the content ("": not checked).
	Name string
	Data []byte
	// Labels are the sample's labels; boxes are checked and transformed,
	// other labels are carried over as they are.
	Labels []annotation.Label
	// Metadata is the sample's SampleMetadata; its @modelarts:size is the
	// image size the annotation declares.
	Metadata map[string]any
}

// Image formats by the names image.Decode gives them.
const (
	FormatJPEG = "jpeg"
	FormatPNG  = "png"
	FormatGIF  = "gif"
	FormatBMP  = "bmp"
	FormatTIFF = "tiff"
	FormatWebP = "webp"
)

// extFormats maps a file extension (lower case, without the dot) to the
// format it names.
var extFormats = map[string]string{
	"jpg": FormatJPEG, "jpeg": FormatJPEG, "jpe": FormatJPEG, "png": FormatPNG,
	"gif": FormatGIF, "bmp": FormatBMP, "tif": FormatTIFF, "tiff": FormatTIFF, "webp": FormatWebP,
}

// Ext returns the usual file extension of a format, with its dot.
func Ext(format string) string {
	switch format {
	case FormatJPEG:
		return ".jpg"
	case "":
		return ""
	}
	return "." + format
}

// formatOfName is the format a file name's extension names, "" if none.
func formatOfName(name string) string {
	ext := strings.ToLower(strings.TrimPrefix(path.Ext(name), "."))
	return extFormats[ext]
}

// MaxPixels bounds the images decoded here: a few bytes of PNG header
// can claim a size whose pixels would not fit in memory, so the size is
// read first and such an image is refused before any pixel is allocated.
const MaxPixels = 64 << 20

var errEmpty = errors.New("the file is empty")

// tooManyPixels is decode's error for an image beyond MaxPixels.
type tooManyPixels struct{ w, h int }

func (e tooManyPixels) Error() string {
	return fmt.Sprintf("the image is %dx%d, more than the %d pixels an image may have here", e.w, e.h, MaxPixels)
}

// sniff returns the format of the data's header and its size, without
// decoding the pixels.
func sniff(data []byte) (format string, w, h int, err error) {
	if len(data) == 0 {
		return "", 0, 0, errEmpty
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return "", 0, 0, err
	}
	return format, cfg.Width, cfg.Height, nil
}

// decode decodes the whole image, turned upright by its EXIF orientation.
// An image beyond MaxPixels is a tooManyPixels error.
func decode(data []byte) (image.Image, string, error) {
	format, w, h, err := sniff(data)
	if err != nil {
		return nil, "", err
	}
	if int64(w)*int64(h) > MaxPixels {
		return nil, format, tooManyPixels{w, h}
	}
	img, err := imaging.Decode(bytes.NewReader(data), imaging.AutoOrientation(true))
	if err != nil {
		return nil, format, err
	}
	if b := img.Bounds(); b.Dx() <= 0 || b.Dy() <= 0 {
		return nil, format, errors.New("the image has no pixels")
	}
	return img, format, nil
}

// Decode decodes an image as the operators do: upright by its EXIF
// orientation, refused beyond MaxPixels before any pixel is allocated. The
// processing layer uses it to compute the feature vectors of selection.
func Decode(data []byte) (image.Image, string, error) { return decode(data) }

// encode writes img in format, or as PNG when format has no encoder here
// (WebP); it returns the format written.
func encode(img image.Image, format string, jpegQuality int) ([]byte, string, error) {
	var f imaging.Format
	switch format {
	case FormatJPEG:
		f = imaging.JPEG
	case FormatGIF:
		f = imaging.GIF
	case FormatBMP:
		f = imaging.BMP
	case FormatTIFF:
		f = imaging.TIFF
	default:
		f, format = imaging.PNG, FormatPNG
	}
	var buf bytes.Buffer
	if err := imaging.Encode(&buf, img, f, imaging.JPEGQuality(jpegQuality)); err != nil {
		return nil, "", fmt.Errorf("encode %s: %w", format, err)
	}
	return buf.Bytes(), format, nil
}

// withSize returns a copy of metadata whose @modelarts:size is w×h with 3
// channels (every image written here is RGB).
func withSize(metadata map[string]any, w, h int) map[string]any {
	out := make(map[string]any, len(metadata)+1)
	for k, v := range metadata {
		out[k] = v
	}
	out[annotation.MetaSize] = []any{float64(w), float64(h), float64(3)}
	return out
}

// declaredSize reads @modelarts:size ([width, height] or [width, height,
// depth]) from metadata; ok is false when absent or malformed.
func declaredSize(metadata map[string]any) (w, h int, ok bool) {
	var nums []float64
	switch v := metadata[annotation.MetaSize].(type) {
	case []any:
		for _, x := range v {
			f, err := number(x)
			if err != nil {
				return 0, 0, false
			}
			nums = append(nums, f)
		}
	case []int:
		for _, x := range v {
			nums = append(nums, float64(x))
		}
	case []float64:
		nums = v
	default:
		return 0, 0, false
	}
	if len(nums) < 2 || nums[0] <= 0 || nums[1] <= 0 {
		return 0, 0, false
	}
	return int(nums[0]), int(nums[1]), true
}
