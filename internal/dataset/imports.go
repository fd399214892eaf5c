package dataset

import "github.com/atelier-dev/atelier/internal/tasks"

// importTaskHandlers are the handlers of imports and syncs.
func (s *Service) importTaskHandlers() map[string]tasks.Handler {
	return map[string]tasks.Handler{}
}
