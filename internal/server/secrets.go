package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/atelier-dev/atelier/internal/iam"
	"github.com/atelier-dev/atelier/internal/secrets"
)

// openSecretsKey loads the key-encryption key that seals secrets in the
// database: --secrets-key-file, or DATA_DIR/secrets.key. A missing file is
// created only while the database holds nothing sealed, or when the
// operator rotates (--previous-secrets-key-file); otherwise the server
// refuses to start, since a new key would strand every sealed secret (and
// the refusal leaves no new file behind to confuse the next attempt).
func (a *App) openSecretsKey(ctx context.Context) error {
	path, explicit := a.Config.SecretsKeyFile, a.Config.SecretsKeyFile != ""
	if !explicit {
		path = filepath.Join(a.Config.DataDir, SecretsKeyFile)
	}
	a.secretsKeyPath = path
	if prev := a.Config.PreviousSecretsKeyFile; prev != "" {
		box, err := secrets.LoadFile(prev)
		if err != nil {
			return fmt.Errorf("load the previous key-encryption key: %w", err)
		}
		a.previousSecrets = box
	}
	box, err := secrets.LoadFile(path)
	switch {
	case err == nil:
		a.secrets = box
		return a.checkKeyFileMode(path, explicit)
	case !secrets.IsNotExist(err):
		return fmt.Errorf("load the key-encryption key: %w", err)
	}
	sealed, err := iam.HasSealedSecrets(ctx, a.DB)
	if err != nil {
		return err
	}
	if sealed && a.previousSecrets == nil {
		return fmt.Errorf("refusing to start: the key-encryption key file %s is missing, but the database holds secrets sealed with a "+
			"key-encryption key; restore that file (from the backup of the data directory, or the file the other replicas use "+
			"through --secrets-key-file): a new key would make every access key and token unusable", path)
	}
	box, err = secrets.CreateFile(path)
	if errors.Is(err, fs.ErrExist) {
		// Another process sharing the file made it first: use theirs.
		box, err = secrets.LoadFile(path)
	}
	if err != nil {
		return err
	}
	a.secrets = box
	a.createdSecretsKey = sealed
	a.Log.Info("created the key-encryption key that seals secrets in the database; back it up apart from the database",
		"file", path, "kek_id", box.ID())
	return nil
}

// checkKeyFileMode makes the default key file private again if its mode was
// widened; a file the operator placed (a mounted secret, say) is theirs to
// manage, so it only gets a warning.
func (a *App) checkKeyFileMode(path string, explicit bool) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if fi.Mode().Perm()&0o077 == 0 {
		return nil
	}
	if explicit {
		a.Log.Warn("the key-encryption key file is readable by other users; make it mode 0600", "file", path, "mode", fmt.Sprintf("%o", fi.Mode().Perm()))
		return nil
	}
	if err := os.Chmod(path, secrets.FileMode); err != nil {
		return fmt.Errorf("make %s private: %w", path, err)
	}
	return nil
}
