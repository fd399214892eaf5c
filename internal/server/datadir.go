package server

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// DatabaseIDFile names, in the data directory, the database the directory
// belongs to. A data directory holds what only makes sense with one
// database: bootstrap.json (that database's first account), the objects
// its datasets and jobs name, the jobs' working directories. Starting with
// another database (a postgres:// URL next to a SQLite data directory,
// say) would overwrite bootstrap.json and mix two accounts' objects, so the
// server refuses.
const DatabaseIDFile = "database-id"

// claimDataDir records which database the data directory belongs to, or
// refuses a data directory that belongs to another one. The database's
// identity is a random value it keeps among its server secrets; a data
// directory from before this check is claimed by the first database that
// starts with it.
func (a *App) claimDataDir(ctx context.Context) error {
	raw, err := a.secretBytes(ctx, "database-id")
	if err != nil {
		return fmt.Errorf("read the database's identity: %w", err)
	}
	id := hex.EncodeToString(raw[:16])
	path := filepath.Join(a.Config.DataDir, DatabaseIDFile)
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := writeFilePrivate(path, []byte(id+"\n")); err != nil {
			return fmt.Errorf("record the data directory's database in %s: %w", path, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("read %s: %w", path, err)
	}
	if got := strings.TrimSpace(string(data)); got != id {
		return fmt.Errorf("data directory %s belongs to another database (its %s, objects and jobs were made with that one; %s says %s, this database is %s): "+
			"start this database with its own --data-dir, or start with the database this directory was made with", a.Config.DataDir, BootstrapFile, path, got, id)
	}
	return nil
}

// writeFilePrivate writes a small file readable by the server's user only.
func writeFilePrivate(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
