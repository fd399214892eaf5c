package dataset

import "github.com/atelier-dev/atelier/internal/tasks"

// exportTaskHandlers are the handlers of exports and version publishing.
func (s *Service) exportTaskHandlers() map[string]tasks.Handler {
	return map[string]tasks.Handler{}
}
