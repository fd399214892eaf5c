// Package imageprobe reads an image's width and height from its header, for
// the dataset code that needs a sample's size without decoding its pixels
// (YOLO labels on import, VOC files on export). It owns the set of formats
// recognised: JPEG, PNG, GIF, BMP, WebP and TIFF.
package imageprobe

import (
	"bufio"
	"errors"
	"fmt"
	"image"
	_ "image/gif"  // registered with image.DecodeConfig
	_ "image/jpeg" // registered with image.DecodeConfig
	_ "image/png"  // registered with image.DecodeConfig
	"io"

	_ "golang.org/x/image/bmp"  // registered with image.DecodeConfig
	_ "golang.org/x/image/tiff" // registered with image.DecodeConfig
	_ "golang.org/x/image/webp" // registered with image.DecodeConfig
)

// Size returns the width and height the image's header gives, and its
// format's name ("jpeg", "png", "gif", "bmp", "webp", "tiff"). Only the
// header is read. A size that is not positive is an error: nothing that
// needs the size can use it.
func Size(r io.Reader) (w, h int, format string, err error) {
	cfg, format, err := image.DecodeConfig(bufio.NewReader(r))
	if err != nil {
		return 0, 0, "", fmt.Errorf("read the image's header: %w", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return 0, 0, "", errors.New("read the image's header: its size is not positive")
	}
	return cfg.Width, cfg.Height, format, nil
}
