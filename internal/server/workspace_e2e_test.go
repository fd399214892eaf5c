package server_test

import (
	"context"
	"net/http"
	"testing"

	iammodel "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/iam/v3/model"
	mamodel "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/modelarts/v1/model"

	"github.com/atelier-dev/atelier/internal/server/servertest"
)

// Workspaces through the official SDK, and enterprise-project scope end to
// end: a user granted ModelArts only on enterprise project "research" may
// create and manage workspaces bound to it, and nothing bound to the
// default enterprise project.
func TestWorkspacesAndEnterpriseProjectScope(t *testing.T) {
	t.Parallel()
	servertest.Each(t, func(t *testing.T, env *servertest.Env) {
		ctx := context.Background()
		a := env.Account
		admin := env.IAMClient(t, a.AccessKey, a.SecretKey)
		ep, err := env.App.IAM.CreateEnterpriseProject(ctx, a.DomainID, "research", "")
		if err != nil {
			t.Fatal(err)
		}
		// A user holding ModelArts FullAccess on the enterprise project only.
		u, err := admin.CreateUser(&iammodel.CreateUserRequest{Body: &iammodel.CreateUserRequestBody{User: &iammodel.CreateUserOption{
			Name: "researcher", DomainId: a.DomainID, Password: tp("Secret-Passw0rd!")}}})
		if err != nil {
			t.Fatal(err)
		}
		g, err := admin.KeystoneCreateGroup(&iammodel.KeystoneCreateGroupRequest{Body: &iammodel.KeystoneCreateGroupRequestBody{
			Group: &iammodel.KeystoneCreateGroupOption{Name: "researchers"}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := admin.KeystoneAddUserToGroup(&iammodel.KeystoneAddUserToGroupRequest{GroupId: g.Group.Id, UserId: u.User.Id}); err != nil {
			t.Fatal(err)
		}
		roles, err := admin.KeystoneListPermissions(&iammodel.KeystoneListPermissionsRequest{DisplayName: tp("ModelArts FullAccess")})
		if err != nil || len(*roles.Roles) != 1 {
			t.Fatalf("find ModelArts FullAccess: %v", err)
		}
		if _, err := admin.AssociateRoleToGroupOnEnterpriseProject(&iammodel.AssociateRoleToGroupOnEnterpriseProjectRequest{
			EnterpriseProjectId: ep.ID, GroupId: g.Group.Id, RoleId: (*roles.Roles)[0].Id}); err != nil {
			t.Fatalf("AssociateRoleToGroupOnEnterpriseProject: %v", err)
		}
		key, err := admin.CreatePermanentAccessKey(&iammodel.CreatePermanentAccessKeyRequest{Body: &iammodel.CreatePermanentAccessKeyRequestBody{
			Credential: &iammodel.CreateCredentialOption{UserId: u.User.Id}}})
		if err != nil {
			t.Fatal(err)
		}
		c := env.ModelArtsClient(t, key.Credential.Access, key.Credential.Secret, a.ProjectID)
		status := func(err error) int {
			t.Helper()
			if err == nil {
				return http.StatusOK
			}
			return int(servertest.SDKError(t, err).StatusCode)
		}

		// Into the default enterprise project: denied; into "research": created.
		_, err = c.CreateWorkspace(&mamodel.CreateWorkspaceRequest{Body: &mamodel.CreateWorkspaceReq{Name: "ws-default"}})
		if got := status(err); got != http.StatusForbidden {
			t.Fatalf("CreateWorkspace in enterprise project 0 without a grant there: %d (%v); want 403", got, err)
		}
		internal := mamodel.GetCreateWorkspaceReqAuthTypeEnum().INTERNAL
		created, err := c.CreateWorkspace(&mamodel.CreateWorkspaceRequest{Body: &mamodel.CreateWorkspaceReq{Name: "ws-research",
			Description: tp("research team"), EnterpriseProjectId: tp(ep.ID), AuthType: &internal,
			Grants: &[]mamodel.CreateWorkspaceReqGrants{{UserId: tp(u.User.Id)}}}})
		if err != nil {
			t.Fatalf("CreateWorkspace in enterprise project research: %v", err)
		}
		id := tv(created.Id)
		if tv(created.EnterpriseProjectId) != ep.ID || tv(created.EnterpriseProjectName) != "research" || tv(created.AuthType) != "INTERNAL" ||
			tv(created.Owner) != "researcher" || len(tv(created.Grants)) != 1 {
			t.Fatalf("created workspace %+v", created)
		}
		shown, err := c.ShowWorkspace(&mamodel.ShowWorkspaceRequest{WorkspaceId: id})
		if err != nil || tv(shown.Name) != "ws-research" || tv(shown.Description) != "research team" {
			t.Fatalf("ShowWorkspace: %+v, %v", shown, err)
		}
		if _, err := c.ShowWorkspace(&mamodel.ShowWorkspaceRequest{WorkspaceId: "0"}); status(err) != http.StatusForbidden {
			t.Fatalf("ShowWorkspace of the default workspace without a grant on its enterprise project: %v; want 403", err)
		}
		if _, err := c.UpdateWorkspace(&mamodel.UpdateWorkspaceRequest{WorkspaceId: id, Body: &mamodel.UpdateWorkspaceReq{Description: tp("renamed team")}}); err != nil {
			t.Fatalf("UpdateWorkspace: %v", err)
		}
		// The administrator sees both workspaces; filtered by enterprise project, one.
		ac := env.ModelArtsClient(t, a.AccessKey, a.SecretKey, a.ProjectID)
		all, err := ac.ListWorkspace(&mamodel.ListWorkspaceRequest{})
		if err != nil || tv(all.TotalCount) != 2 {
			t.Fatalf("ListWorkspace as administrator: %+v, %v; want 2", all, err)
		}
		only, err := ac.ListWorkspace(&mamodel.ListWorkspaceRequest{EnterpriseProjectId: tp(ep.ID)})
		if err != nil || tv(only.TotalCount) != 1 || tv((*only.Workspaces)[0].Description) != "renamed team" {
			t.Fatalf("ListWorkspace filtered by enterprise project: %+v, %v; want the research workspace", only, err)
		}
		if _, err := c.DeleteWorkspace(&mamodel.DeleteWorkspaceRequest{WorkspaceId: id}); err != nil {
			t.Fatalf("DeleteWorkspace: %v", err)
		}
		if _, err := ac.ShowWorkspace(&mamodel.ShowWorkspaceRequest{WorkspaceId: id}); status(err) < 400 {
			t.Fatalf("ShowWorkspace after delete: %v; want an error", err)
		}
		if _, err := ac.DeleteWorkspace(&mamodel.DeleteWorkspaceRequest{WorkspaceId: "0"}); status(err) != http.StatusForbidden {
			t.Fatalf("DeleteWorkspace of the default workspace: %v; want 403", err)
		}
	})
}
