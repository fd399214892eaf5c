package iam

import (
	"crypto/sha256"
	"encoding/hex"
)

// systemPolicy is a built-in policy. Its ID is derived from its name so that
// every installation (and every replica) agrees on it without coordination.
type systemPolicy struct {
	Name        string
	Type        string
	Catalog     string
	Description string
	Document    string
}

// System policy names.
const (
	PolicyTenantAdministrator   = "Tenant Administrator"
	PolicyTenantGuest           = "Tenant Guest"
	PolicySecurityAdministrator = "Security Administrator"
	PolicyModelArtsFullAccess   = "ModelArts FullAccess"
	PolicyModelArtsCommonOps    = "ModelArts CommonOperations"
	PolicyOBSAdministrator      = "OBS Administrator"
	PolicyOBSReadOnly           = "OBS ReadOnlyAccess"
	PolicyOBSOperate            = "OBS OperateAccess"
	// The labeling policies are what a labeling team's member needs in its
	// project; Atelier grants them through managed groups (labelers.go),
	// and the team labeling data layer narrows them to the member's team.
	PolicyLabeler   = "ModelArts Team Labeler"
	PolicyReviewer  = "ModelArts Team Reviewer"
	PolicyTeamAdmin = "ModelArts Team Administrator"
	// PolicyTeamObjects lets team members read the objects of the samples
	// their tasks give them. OBS is a global service, so it is granted on
	// the account; like the role policies it counts only on team labeling
	// routes.
	PolicyTeamObjects = "ModelArts Team Labeling Objects"
)

// SystemPolicyID returns the fixed ID of a system policy.
func SystemPolicyID(name string) string {
	sum := sha256.Sum256([]byte("atelier-system-policy:" + name))
	return hex.EncodeToString(sum[:16])
}

const obsReadOnlyActions = `"obs:bucket:ListAllMyBuckets","obs:bucket:HeadBucket","obs:bucket:ListBucket","obs:bucket:ListBucketVersions","obs:bucket:GetBucketLocation"`

// teamTaskActions are the worker-facing actions of the seed's team-labeling
// tables (001, tables 6, 7 and 9): seeing one's team tasks and their
// samples, labeling, reviewing and accepting them. Managing teams and
// members (modelarts:processTask:*) is left out on purpose: a team
// administrator of one team must not manage another, and nothing in those
// actions tells one team from another.
const teamTaskActions = `"modelarts:dataset:listWorkforceTasks","modelarts:dataset:getWorkforceTask","modelarts:dataset:updateWorkforceTask",` +
	`"modelarts:sample:listSamples","modelarts:sample:getSample"`

// labelingPolicyIDs are the labeling system policies. What they grant
// counts only on team labeling routes (Snapshot.TeamSet), whose room
// scopes every query to the member's part of its tasks; everywhere else
// (the dataset's own sample list, object storage) they grant nothing.
var labelingPolicyIDs = map[string]bool{
	SystemPolicyID(PolicyLabeler): true, SystemPolicyID(PolicyReviewer): true, SystemPolicyID(PolicyTeamAdmin): true,
	SystemPolicyID(PolicyTeamObjects): true,
}

var systemPolicies = []systemPolicy{
	{PolicyTenantAdministrator, "AA", "BASE", "Administrator of all services except IAM.",
		`{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["modelarts:*:*","obs:*:*","eps:*:*"]}]}`},
	{PolicyTenantGuest, "AA", "BASE", "Read-only access to all services except IAM.",
		`{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["modelarts:*:get*","modelarts:*:list*","modelarts:*:preview*","obs:*:get*","obs:*:list*","obs:*:head*","eps:*:get","eps:*:list"]}]}`},
	{PolicySecurityAdministrator, "AX", "BASE", "Full access to IAM: users, groups, policies, grants and access keys.",
		`{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["iam:*:*"]}]}`},
	{PolicyModelArtsFullAccess, "XA", "ModelArts", "All ModelArts operations.",
		`{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["modelarts:*:*"]}]}`},
	{PolicyModelArtsCommonOps, "XA", "ModelArts", "All ModelArts operations except managing dedicated resource pools.",
		`{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["modelarts:*:*"]},{"Effect":"Deny","Action":["modelarts:pool:create","modelarts:pool:update","modelarts:pool:delete"]}]}`},
	{PolicyOBSAdministrator, "AX", "OBS", "All OBS operations.",
		`{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["obs:*:*"]}]}`},
	{PolicyOBSReadOnly, "AX", "OBS", "List buckets, read bucket information and metadata, list objects.",
		`{"Version":"1.1","Statement":[{"Effect":"Allow","Action":[` + obsReadOnlyActions + `]}]}`},
	{PolicyOBSOperate, "AX", "OBS", "OBS ReadOnlyAccess plus uploading, downloading and deleting objects and reading object ACLs.",
		`{"Version":"1.1","Statement":[{"Effect":"Allow","Action":[` + obsReadOnlyActions + `,"obs:object:GetObject","obs:object:GetObjectVersion","obs:object:PutObject","obs:object:DeleteObject","obs:object:DeleteObjectVersion","obs:object:GetObjectAcl","obs:object:GetObjectVersionAcl","obs:object:ListMultipartUploadParts","obs:object:AbortMultipartUpload"]}]}`},
	{PolicyLabeler, "XA", "ModelArts", "What a labeling team's labeler needs: its team labeling tasks and the samples allocated to it. Granted by Atelier to team members.",
		`{"Version":"1.1","Statement":[{"Effect":"Allow","Action":[` + teamTaskActions + `]}]}`},
	{PolicyReviewer, "XA", "ModelArts", "What a labeling team's reviewer needs: its team labeling tasks and the samples to review. Granted by Atelier to team members.",
		`{"Version":"1.1","Statement":[{"Effect":"Allow","Action":[` + teamTaskActions + `]}]}`},
	{PolicyTeamAdmin, "XA", "ModelArts", "What a labeling team's administrator needs: its team labeling tasks, their review and acceptance. Granted by Atelier to team members.",
		`{"Version":"1.1","Statement":[{"Effect":"Allow","Action":[` + teamTaskActions + `]}]}`},
	{PolicyTeamObjects, "AX", "OBS", "Lets labeling team members read the files of the samples their team labeling tasks give them (on team labeling routes only). Granted by Atelier to team members.",
		`{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["obs:object:GetObject"]}]}`},
}
