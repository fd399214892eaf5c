package dataset

import (
	"maps"

	"github.com/atelier-dev/atelier/internal/tasks"
)

// Task kinds the dataset service runs through the tasks manager. Each
// kind's handler is registered by registerTasks, before the manager starts.
const (
	TaskExport  = "dataset_export"
	TaskPublish = "dataset_publish"
)

// registerTasks registers the handler of every task kind.
func (s *Service) registerTasks() {
	for kind, fn := range s.taskHandlers() {
		s.tasks.Register(kind, fn)
	}
}

// taskHandlers maps each task kind to its handler.
func (s *Service) taskHandlers() map[string]tasks.Handler {
	h := map[string]tasks.Handler{}
	maps.Copy(h, s.exportTaskHandlers())
	return h
}
