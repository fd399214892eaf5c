package iam

import (
	"sort"
	"strings"

	"github.com/atelier-dev/atelier/internal/iam/policy"
)

// OBSActions are the object-storage actions Atelier checks: the related
// actions of the seed tables and the ones the system policies name.
var OBSActions = []string{
	"obs:bucket:ListAllMyBuckets", "obs:bucket:HeadBucket", "obs:bucket:ListBucket",
	"obs:bucket:ListBucketVersions", "obs:bucket:GetBucketLocation", "obs:bucket:CreateBucket",
	"obs:bucket:DeleteBucket", "obs:bucket:PutBucketAcl", "obs:bucket:GetBucketAcl",
	"obs:bucket:PutBucketPolicy", "obs:bucket:GetBucketPolicy", "obs:bucket:DeleteBucketPolicy",
	"obs:object:GetObject", "obs:object:GetObjectVersion", "obs:object:PutObject",
	"obs:object:DeleteObject", "obs:object:DeleteObjectVersion", "obs:object:GetObjectAcl",
	"obs:object:GetObjectVersionAcl", "obs:object:PutObjectAcl", "obs:object:ListMultipartUploadParts",
	"obs:object:AbortMultipartUpload", "obs:object:ModifyObjectMetaData",
}

// IAM actions guarding the identity API, named as Huawei IAM names them.
const (
	ActCreateUser      = "iam:users:createUser"
	ActGetUser         = "iam:users:getUser"
	ActListUsers       = "iam:users:listUsers"
	ActUpdateUser      = "iam:users:updateUser"
	ActDeleteUser      = "iam:users:deleteUser"
	ActListUsersForGrp = "iam:users:listUsersForGroup"
	ActListGroupsOfUsr = "iam:groups:listGroupsForUser"
	ActCreateGroup     = "iam:groups:createGroup"
	ActGetGroup        = "iam:groups:getGroup"
	ActListGroups      = "iam:groups:listGroups"
	ActUpdateGroup     = "iam:groups:updateGroup"
	ActDeleteGroup     = "iam:groups:deleteGroup"
	ActAddUserToGroup  = "iam:permissions:addUserToGroup"
	ActRemoveUserGroup = "iam:permissions:removeUserFromGroup"
	ActCheckUserGroup  = "iam:permissions:checkUserInGroup"
	ActCreateProject   = "iam:projects:createProject"
	ActListProjects    = "iam:projects:listProjects"
	ActGetProject      = "iam:projects:getProject"
	ActUpdateProject   = "iam:projects:updateProject"
	ActCreateRole      = "iam:roles:createRole"
	ActGetRole         = "iam:roles:getRole"
	ActListRoles       = "iam:roles:listRoles"
	ActUpdateRole      = "iam:roles:updateRole"
	ActDeleteRole      = "iam:roles:deleteRole"
	ActGrantProject    = "iam:permissions:grantRoleToGroupOnProject"
	ActRevokeProject   = "iam:permissions:revokeRoleFromGroupOnProject"
	ActCheckProject    = "iam:permissions:checkRoleForGroupOnProject"
	ActListProject     = "iam:permissions:listRolesForGroupOnProject"
	ActGrantDomain     = "iam:permissions:grantRoleToGroupOnDomain"
	ActRevokeDomain    = "iam:permissions:revokeRoleFromGroupOnDomain"
	ActCheckDomain     = "iam:permissions:checkRoleForGroupOnDomain"
	ActListDomain      = "iam:permissions:listRolesForGroupOnDomain"
	ActGrantEP         = "iam:permissions:grantRoleToGroupOnEnterpriseProject"
	ActRevokeEP        = "iam:permissions:revokeRoleFromGroupOnEnterpriseProject"
	ActListEP          = "iam:permissions:listRolesForGroupOnEnterpriseProject"
	ActCreateCred      = "iam:credentials:createCredential"
	ActGetCred         = "iam:credentials:getCredential"
	ActListCreds       = "iam:credentials:listCredentials"
	ActUpdateCred      = "iam:credentials:updateCredential"
	ActDeleteCred      = "iam:credentials:deleteCredential"
	ActSimulate        = "iam:permissions:simulatePolicy"

	ActCreateEP = "eps:enterpriseProjects:create"
	ActGetEP    = "eps:enterpriseProjects:get"
	ActListEP2  = "eps:enterpriseProjects:list"
	ActUpdateEP = "eps:enterpriseProjects:update"

	ActCreateWorkspace = "modelarts:workspace:create"
	ActGetWorkspace    = "modelarts:workspace:get"
	ActListWorkspaces  = "modelarts:workspace:list"
	ActUpdateWorkspace = "modelarts:workspace:update"
	ActDeleteWorkspace = "modelarts:workspace:delete"
)

// extraActions are registered so that system and custom policies can name
// them although no route of this build uses them yet (ModelArts' dedicated
// resource pools, which ModelArts CommonOperations excludes), or which a
// system policy names whatever routes a build mounts (the team labeling
// actions of the labeling policies).
var extraActions = []string{
	"modelarts:pool:create", "modelarts:pool:update", "modelarts:pool:delete",
	"modelarts:pool:get", "modelarts:pool:list",
	"modelarts:dataset:listWorkforceTasks", "modelarts:dataset:getWorkforceTask", "modelarts:dataset:updateWorkforceTask",
	"modelarts:sample:listSamples", "modelarts:sample:getSample",
}

// Catalog is the set of registered actions policies may name: the route
// table's ModelArts actions, the IAM, EPS and OBS actions above.
type Catalog struct {
	set  map[string]struct{}
	list []string
}

var _ policy.ActionRegistry = (*Catalog)(nil)

// NewCatalog registers the given route actions together with the built-in
// IAM, EPS, OBS and workspace actions.
func NewCatalog(routeActions []string) *Catalog {
	c := &Catalog{set: map[string]struct{}{}}
	add := func(a string) {
		k := strings.ToLower(a)
		if _, ok := c.set[k]; ok || a == "" {
			return
		}
		c.set[k] = struct{}{}
		c.list = append(c.list, a)
	}
	for _, a := range routeActions {
		add(a)
	}
	for _, a := range OBSActions {
		add(a)
	}
	for _, a := range iamActions() {
		add(a)
	}
	for _, a := range extraActions {
		add(a)
	}
	sort.Strings(c.list)
	return c
}

// IsRegistered reports whether action names a registered action (resource
// type and operation compare case-insensitively).
func (c *Catalog) IsRegistered(action string) bool {
	_, ok := c.set[strings.ToLower(action)]
	return ok
}

// Actions lists every registered action, sorted.
func (c *Catalog) Actions() []string { return c.list }

func iamActions() []string {
	return []string{
		ActCreateUser, ActGetUser, ActListUsers, ActUpdateUser, ActDeleteUser, ActListUsersForGrp, ActListGroupsOfUsr,
		ActCreateGroup, ActGetGroup, ActListGroups, ActUpdateGroup, ActDeleteGroup,
		ActAddUserToGroup, ActRemoveUserGroup, ActCheckUserGroup,
		ActCreateProject, ActListProjects, ActGetProject, ActUpdateProject,
		ActCreateRole, ActGetRole, ActListRoles, ActUpdateRole, ActDeleteRole,
		ActGrantProject, ActRevokeProject, ActCheckProject, ActListProject,
		ActGrantDomain, ActRevokeDomain, ActCheckDomain, ActListDomain,
		ActGrantEP, ActRevokeEP, ActListEP,
		ActCreateCred, ActGetCred, ActListCreds, ActUpdateCred, ActDeleteCred, ActSimulate,
		ActCreateEP, ActGetEP, ActListEP2, ActUpdateEP,
		ActCreateWorkspace, ActGetWorkspace, ActListWorkspaces, ActUpdateWorkspace, ActDeleteWorkspace,
	}
}
