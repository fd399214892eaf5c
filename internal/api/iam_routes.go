package api

func (s *Server) iamRoutes() []Route {
	var routes []Route
	routes = append(routes, s.tokenRoutes()...)
	routes = append(routes, s.userRoutes()...)
	routes = append(routes, s.policyRoutes()...)
	routes = append(routes, s.authorizationCheckRoutes()...)
	routes = append(routes, s.loginPolicyRoutes()...)
	return routes
}
