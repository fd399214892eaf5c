package api

import "net/http"

func (s *Server) systemRoutes() []Route {
	return []Route{
		{Name: "Health check", Method: "GET", Path: "/health", Family: "system", Service: ServiceGlobal, Public: true, Handler: s.health},
	}
}

// health answers 200 once the server is ready to serve, 503 before.
func (s *Server) health(w http.ResponseWriter, r *http.Request, c *Call) error {
	if !s.ready.Load() {
		return WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "starting"})
	}
	return WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}
