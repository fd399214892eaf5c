package api

// table assembles the route table: every API of the product, implemented or
// not. Each family declares its rows with their handlers and resolvers
// bound (Route.serve); the ModelArts seed rows keep the seed's method, path,
// action and related actions exactly as seed_test.go holds them.
func (s *Server) table() []Route {
	training := &trainingAPI{svc: s.cfg.Training}
	datasets := &datasetAPI{svc: s.cfg.Datasets, imports: s.cfg.Imports, versions: s.cfg.Versions, exports: s.cfg.Exports}
	autoLabel := &autoLabelAPI{svc: s.cfg.AutoLabel, datasets: datasets}
	workforces := &workforceAPI{svc: s.cfg.Workforces, tasks: s.cfg.TeamTasks}
	teamTasks := &teamTaskAPI{svc: s.cfg.TeamTasks, datasets: s.cfg.Datasets}
	processing := &processingAPI{svc: s.cfg.Processing}
	var routes []Route
	routes = append(routes, s.systemRoutes()...)
	routes = append(routes, s.iamRoutes()...)
	routes = append(routes, s.workspaceRoutes()...)
	routes = append(routes, s.objectRoutes()...)
	routes = append(routes, modelArtsRoutes(training, datasets, autoLabel, workforces, teamTasks, processing)...)
	routes = append(routes, teamTasks.teamTaskRoutes(datasets.storedDataset("dataset_id"))...)
	routes = append(routes, training.extraRoutes()...)
	return routes
}

// Table returns the route table of a server built without services: for
// `atelier routes` and the tests that hold the table against the seeds.
func Table() []Route {
	s := &Server{}
	return s.table()
}
