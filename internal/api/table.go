package api

import "maps"

// table assembles the route table: every API of the product, implemented or
// not. Handlers are attached to ModelArts seed rows by pattern, so a row's
// method, path and action stay exactly as the seed test holds them.
func (s *Server) table() []Route {
	var routes []Route
	routes = append(routes, s.systemRoutes()...)
	routes = append(routes, s.iamRoutes()...)
	routes = append(routes, s.workspaceRoutes()...)
	routes = append(routes, s.objectRoutes()...)
	training := &trainingAPI{svc: s.cfg.Training}
	handlers, resolvers := training.handlers(), training.resolvers()
	datasets := &datasetAPI{svc: s.cfg.Datasets}
	maps.Copy(handlers, datasets.handlers())
	maps.Copy(resolvers, datasets.resolvers())
	for _, rt := range append(modelArtsRoutes(), trainingExtraRoutes()...) {
		if h, ok := handlers[rt.Pattern()]; ok {
			rt.Handler, rt.Resolve = h, resolvers[rt.Pattern()]
		}
		routes = append(routes, rt)
	}
	return routes
}

// Table returns the route table of a server built without services: for
// `atelier routes` and the tests that hold the table against the seeds.
func Table() []Route {
	s := &Server{}
	return s.table()
}
