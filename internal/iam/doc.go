// Package iam owns identity: accounts (domains), users, groups, projects,
// enterprise projects, ModelArts workspaces, AK/SK credentials, policies and
// the grants that bind policies to groups at a scope. It answers "who is this
// caller and which policies apply to them"; the policy grammar and decision
// live in iam/policy, authentication protocols in iam/authn, and the
// Huawei-IAM-compatible HTTP API in iam/iamapi. It must not know HTTP.
package iam
