package obs

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
)

// meta is what Put records about an object besides its content.
type meta struct {
	Key         string `json:"key"`
	ETag        string `json:"etag"`
	ContentType string `json:"content_type"`
}

// metaPath is where the record of key's file with FileInfo fi lives, below
// .atelier/meta: <2 hex>/<sha256 of key>.<identity>. Hashing keeps the
// metadata tree flat whatever the keys' depth and free of the file/directory
// conflicts keys have; naming the record after the file's identity (inode,
// size, modification time) makes it valid for exactly that file, so a file
// replaced behind the store's back simply has no record. Records of files
// removed by hand are left behind; they are small and never match again.
func metaPath(key string, fi fs.FileInfo) string {
	sum := sha256.Sum256([]byte(key))
	h := hex.EncodeToString(sum[:])
	return fmt.Sprintf("%s/%s.%x.%x.%x", h[:2], h, fileID(fi), fi.Size(), fi.ModTime().UnixNano())
}

// writeMeta records m for key's file fi. It need not be atomic: nothing
// looks a record up before the file is renamed into place, and a record torn
// by a crash fails to parse and counts as missing.
func writeMeta(br *os.Root, key string, fi fs.FileInfo, m meta) error {
	p := metaDir + "/" + metaPath(key, fi)
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if err := mkdirAll(br, path.Dir(p)); err != nil {
		return fmt.Errorf("write metadata: %w", err)
	}
	if err := writeFile(br, p, b); err != nil {
		return fmt.Errorf("write metadata: %w", err)
	}
	return nil
}

// readMeta returns the record of key's file fi, if there is a valid one.
// mr is the bucket's .atelier/meta directory; nil if it does not exist.
func readMeta(mr *os.Root, key string, fi fs.FileInfo) (meta, bool) {
	if mr == nil {
		return meta{}, false
	}
	b, err := mr.ReadFile(metaPath(key, fi))
	if err != nil {
		return meta{}, false
	}
	var m meta
	if json.Unmarshal(b, &m) != nil || m.Key != key || m.ETag == "" {
		return meta{}, false
	}
	return m, true
}

// removeMeta removes the record of key's file fi, if any.
func removeMeta(br *os.Root, key string, fi fs.FileInfo) {
	br.Remove(metaDir + "/" + metaPath(key, fi))
}

// openMeta opens the bucket's metadata directory, or returns nil.
func openMeta(br *os.Root) *os.Root {
	mr, err := br.OpenRoot(metaDir)
	if err != nil {
		return nil
	}
	return mr
}
