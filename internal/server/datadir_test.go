package server_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/config"
	"github.com/atelier-dev/atelier/internal/server"
	"github.com/atelier-dev/atelier/internal/server/servertest"
	"github.com/atelier-dev/atelier/internal/store/storetest"
)

// TestDataDirBelongsToOneDatabase starts a server on a data directory,
// then another database with the same data directory: it refuses to start
// and leaves the first database's bootstrap.json as it was; the first
// database still starts on it.
func TestDataDirBelongsToOneDatabase(t *testing.T) {
	t.Parallel()
	for _, engine := range storetest.Engines() {
		t.Run(string(engine), func(t *testing.T) {
			dir := t.TempDir()
			first := servertest.StartWith(t, servertest.Options{DataDir: dir})
			first.Stop(t)
			bootstrap := filepath.Join(dir, server.BootstrapFile)
			before, err := os.ReadFile(bootstrap)
			if err != nil {
				t.Fatal(err)
			}

			other := storetest.DSN(t, engine)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cfg := config.Config{DataDir: dir, Listen: "127.0.0.1:0", Database: other, Region: servertest.Region, Endpoint: "http://127.0.0.1:1", LogLevel: "info"}
			app, err := server.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err == nil {
				app.Close()
				t.Fatalf("a %s database started on a data directory made with another database", engine)
			}
			if !strings.Contains(err.Error(), "belongs to another database") {
				t.Errorf("error %q does not say the data directory belongs to another database", err)
			}
			after, err := os.ReadFile(bootstrap)
			if err != nil || string(after) != string(before) {
				t.Errorf("bootstrap.json changed by the refused start: %v", err)
			}

			again := servertest.StartWith(t, servertest.Options{DataDir: dir, Database: first.Database})
			if again.Account.Password != first.Account.Password {
				t.Errorf("the first database's account changed")
			}
		})
	}
}
