// Package console serves Atelier's web console: static assets embedded in
// the binary (plain ES modules, no build step), served at /console/. The
// console is a client of the public API like any other: it signs in with
// POST /v3/auth/tokens, keeps the token in the tab's session storage (never
// in a cookie) and calls the same routes, so every permission holds in it
// exactly as in the API.
package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed assets
var assets embed.FS

// Prefix is where the console is served.
const Prefix = "/console/"

// Options configures the handler.
type Options struct {
	// ImageOrigins are origins besides the server's own that sample files
	// are read from (an S3-compatible store's presigned URLs), allowed by
	// the content security policy.
	ImageOrigins []string
}

type file struct {
	body  []byte
	etag  string
	ctype string
}

// Handler serves the console under Prefix: a file of the assets by path,
// and index.html for the console's own paths (it routes by URL fragment,
// so any path that is not a file is the app).
func Handler(opts Options) (http.Handler, error) {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		return nil, err
	}
	files := map[string]*file{}
	err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(sub, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		ctype := mime.TypeByExtension(path.Ext(p))
		if ctype == "" {
			ctype = "application/octet-stream"
		}
		files[p] = &file{body: body, etag: `"` + hex.EncodeToString(sum[:8]) + `"`, ctype: ctype}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sources := strings.Join(append([]string{"'self'", "data:", "blob:"}, opts.ImageOrigins...), " ")
	csp := "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src " + sources +
		"; media-src " + sources + "; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; object-src 'none'"
	modified := time.Now()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, Prefix)
		f, ok := files[name]
		if !ok || name == "" {
			f = files["index.html"]
		}
		h := w.Header()
		h.Set("Content-Type", f.ctype)
		h.Set("ETag", f.etag)
		// Revalidate every time: the binary's assets change with it, and an
		// unchanged file costs a 304.
		h.Set("Cache-Control", "no-cache")
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		http.ServeContent(w, r, name, modified, bytes.NewReader(f.body))
	}), nil
}
