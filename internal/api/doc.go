// Package api is the HTTP layer: the route table that declares every API with
// its IAM action, the middleware chain that authenticates and authorizes each
// request from that table, the ModelArts and IAM error envelopes, and JSON
// helpers. Handlers here decode, validate, call a domain service and encode;
// they hold no business rules and no SQL.
package api
