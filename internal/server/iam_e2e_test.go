package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	iamv3 "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/iam/v3"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/iam/v3/model"

	"github.com/atelier-dev/atelier/internal/server/servertest"
)

// steps runs dependent steps of one scenario in order, stopping at the
// first that fails (later steps would only fail for the same reason).
func steps(t *testing.T, list []step) {
	t.Helper()
	for _, s := range list {
		if !t.Run(s.name, s.fn) {
			t.Fatalf("step %q failed; the scenario stops here", s.name)
		}
	}
}

type step struct {
	name string
	fn   func(t *testing.T)
}

func statement(effect model.ServiceStatementEffect, actions ...string) model.ServiceStatement {
	return model.ServiceStatement{Effect: effect, Action: actions}
}

func customPolicyRequest(name string, statements ...model.ServiceStatement) *model.CreateCloudServiceCustomPolicyRequest {
	return &model.CreateCloudServiceCustomPolicyRequest{Body: &model.CreateCloudServiceCustomPolicyRequestBody{
		Role: &model.ServicePolicyRoleOption{DisplayName: name, Type: "XA", Description: "e2e test policy",
			Policy: &model.ServicePolicy{Version: "1.1", Statement: statements}}}}
}

func countCustomPolicies(t *testing.T, admin *iamv3.IamClient) int {
	t.Helper()
	resp, err := admin.ListCustomPolicies(&model.ListCustomPoliciesRequest{})
	if err != nil {
		t.Fatalf("ListCustomPolicies: %v", err)
	}
	if resp.Roles == nil {
		return 0
	}
	return len(*resp.Roles)
}

// authzCheck is the response of POST /v2/{project_id}/authorization-checks
// (internal/api/authorization_checks.go).
type authzCheck struct {
	Allowed  bool   `json:"allowed"`
	Decision string `json:"decision"`
	Reason   string `json:"reason"`
	User     struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	} `json:"user"`
	Policy *struct {
		ID          string `json:"id"`
		DisplayName string `json:"display_name"`
	} `json:"policy"`
	StatementIndex *int `json:"statement_index"`
	Statement      *struct {
		Effect string   `json:"Effect"`
		Action []string `json:"Action"`
	} `json:"statement"`
	GrantScope *struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	} `json:"grant_scope"`
	WorkspaceAccess  bool `json:"workspace_access"`
	GrantsConsidered int  `json:"grants_considered"`
}

func TestIAMManagementSDK(t *testing.T) {
	t.Parallel()
	servertest.Each(t, func(t *testing.T, env *servertest.Env) {
		a := env.Account
		admin := env.IAMClient(t, a.AccessKey, a.SecretKey)
		const (
			userName  = "alice"
			password1 = "Alice-Passw0rd!"
			password2 = "Alice-Passw0rd-2"
			groupName = "trainers"
		)
		allow, deny := model.GetServiceStatementEffectEnum().ALLOW, model.GetServiceStatementEffectEnum().DENY
		var (
			userID, groupID, policyID, obsReadOnlyID string
			userAK, userSK, userToken                string
			user                                     *iamv3.IamClient
			policiesBefore                           int
		)

		steps(t, []step{
			{"CreateUser", func(t *testing.T) {
				resp, err := admin.CreateUser(&model.CreateUserRequest{Body: &model.CreateUserRequestBody{User: &model.CreateUserOption{
					Name: userName, DomainId: a.DomainID, Password: ptr(password1), Email: ptr("alice@example.com"),
					Enabled: ptr(true), Description: ptr("trains models")}}})
				if err != nil {
					t.Fatalf("CreateUser: %v", err)
				}
				u := resp.User
				if resp.HttpStatusCode != http.StatusCreated || u == nil {
					t.Fatalf("CreateUser: status %d, user %+v; want 201 with a user", resp.HttpStatusCode, u)
				}
				if !hex32.MatchString(u.Id) || u.Name != userName || u.DomainId != a.DomainID || !u.Enabled {
					t.Errorf("created user = %+v; want a 32-hex id, name %s, domain %s, enabled", u, userName, a.DomainID)
				}
				userID = u.Id
			}},
			{"ShowUser", func(t *testing.T) {
				resp, err := admin.ShowUser(&model.ShowUserRequest{UserId: userID})
				if err != nil {
					t.Fatalf("ShowUser: %v", err)
				}
				u := resp.User
				if u == nil || u.Id != userID || u.Name != userName || u.DomainId != a.DomainID || u.IsDomainOwner ||
					u.Email == nil || *u.Email != "alice@example.com" || u.Description != "trains models" {
					t.Errorf("ShowUser = %+v; want alice as created, not the domain owner", u)
				}
			}},
			{"KeystoneCreateGroup", func(t *testing.T) {
				resp, err := admin.KeystoneCreateGroup(&model.KeystoneCreateGroupRequest{Body: &model.KeystoneCreateGroupRequestBody{
					Group: &model.KeystoneCreateGroupOption{Name: groupName, Description: ptr("people who train"), DomainId: ptr(a.DomainID)}}})
				if err != nil {
					t.Fatalf("KeystoneCreateGroup: %v", err)
				}
				if resp.HttpStatusCode != http.StatusCreated || resp.Group == nil || resp.Group.Name != groupName || resp.Group.DomainId != a.DomainID {
					t.Fatalf("KeystoneCreateGroup: status %d, group %+v", resp.HttpStatusCode, resp.Group)
				}
				groupID = resp.Group.Id
			}},
			{"KeystoneAddUserToGroup", func(t *testing.T) {
				resp, err := admin.KeystoneAddUserToGroup(&model.KeystoneAddUserToGroupRequest{GroupId: groupID, UserId: userID})
				if err != nil {
					t.Fatalf("KeystoneAddUserToGroup: %v", err)
				}
				if resp.HttpStatusCode != http.StatusNoContent {
					t.Errorf("status = %d; want 204", resp.HttpStatusCode)
				}
				if _, err := admin.KeystoneCheckUserInGroup(&model.KeystoneCheckUserInGroupRequest{GroupId: groupID, UserId: userID}); err != nil {
					t.Errorf("KeystoneCheckUserInGroup after adding: %v", err)
				}
			}},
			{"CreateCloudServiceCustomPolicy", func(t *testing.T) {
				policiesBefore = countCustomPolicies(t, admin)
				resp, err := admin.CreateCloudServiceCustomPolicy(customPolicyRequest("train-readers",
					statement(allow, "modelarts:trainJob:get"), statement(deny, "modelarts:trainJob:delete")))
				if err != nil {
					t.Fatalf("CreateCloudServiceCustomPolicy: %v", err)
				}
				r := resp.Role
				if resp.HttpStatusCode != http.StatusCreated || r == nil {
					t.Fatalf("status %d, role %+v; want 201 with a role", resp.HttpStatusCode, r)
				}
				if r.DisplayName != "train-readers" || r.Type != "XA" || r.DomainId != a.DomainID || r.Catalog != "CUSTOMED" {
					t.Errorf("role = %+v; want display name train-readers, type XA, domain %s, catalog CUSTOMED", r, a.DomainID)
				}
				if r.Policy == nil || len(r.Policy.Statement) != 2 || r.Policy.Statement[1].Effect.Value() != "Deny" ||
					len(r.Policy.Statement[1].Action) != 1 || r.Policy.Statement[1].Action[0] != "modelarts:trainJob:delete" {
					t.Errorf("role.policy = %+v; want the two statements as sent", r.Policy)
				}
				policyID = r.Id
				if n := countCustomPolicies(t, admin); n != policiesBefore+1 {
					t.Errorf("custom policies after creating one = %d; want %d", n, policiesBefore+1)
				}
			}},
			{"KeystoneAssociateGroupWithProjectPermission", func(t *testing.T) {
				resp, err := admin.KeystoneAssociateGroupWithProjectPermission(&model.KeystoneAssociateGroupWithProjectPermissionRequest{
					ProjectId: a.ProjectID, GroupId: groupID, RoleId: policyID})
				if err != nil {
					t.Fatalf("KeystoneAssociateGroupWithProjectPermission: %v", err)
				}
				if resp.HttpStatusCode != http.StatusNoContent {
					t.Errorf("status = %d; want 204", resp.HttpStatusCode)
				}
			}},
			{"KeystoneListPermissions", func(t *testing.T) {
				sys, err := admin.KeystoneListPermissions(&model.KeystoneListPermissionsRequest{})
				if err != nil {
					t.Fatalf("KeystoneListPermissions (system): %v", err)
				}
				var names []string
				for _, r := range deref(sys.Roles) {
					if r.DisplayName != nil {
						names = append(names, *r.DisplayName)
						if *r.DisplayName == "OBS ReadOnlyAccess" {
							obsReadOnlyID = r.Id
						}
					}
				}
				if !contains(names, "Tenant Administrator") || obsReadOnlyID == "" {
					t.Errorf("system policies = %v; want Tenant Administrator and OBS ReadOnlyAccess among them", names)
				}
				custom, err := admin.KeystoneListPermissions(&model.KeystoneListPermissionsRequest{DomainId: ptr(a.DomainID)})
				if err != nil {
					t.Fatalf("KeystoneListPermissions (custom): %v", err)
				}
				found := false
				for _, r := range deref(custom.Roles) {
					found = found || r.Id == policyID
				}
				if !found {
					t.Errorf("custom policies %+v lack %s", deref(custom.Roles), policyID)
				}
			}},
			{"KeystoneAssociateGroupWithDomainPermission", func(t *testing.T) {
				resp, err := admin.KeystoneAssociateGroupWithDomainPermission(&model.KeystoneAssociateGroupWithDomainPermissionRequest{
					DomainId: a.DomainID, GroupId: groupID, RoleId: obsReadOnlyID})
				if err != nil {
					t.Fatalf("KeystoneAssociateGroupWithDomainPermission: %v", err)
				}
				if resp.HttpStatusCode != http.StatusNoContent {
					t.Errorf("status = %d; want 204", resp.HttpStatusCode)
				}
			}},
			{"AssociateRoleToGroupOnEnterpriseProject", func(t *testing.T) {
				resp, err := admin.AssociateRoleToGroupOnEnterpriseProject(&model.AssociateRoleToGroupOnEnterpriseProjectRequest{
					EnterpriseProjectId: "0", GroupId: groupID, RoleId: policyID})
				if err != nil {
					t.Fatalf("AssociateRoleToGroupOnEnterpriseProject: %v", err)
				}
				if resp.HttpStatusCode != http.StatusNoContent {
					t.Errorf("status = %d; want 204", resp.HttpStatusCode)
				}
			}},
			{"CreatePermanentAccessKey", func(t *testing.T) {
				create := func() (*model.CreatePermanentAccessKeyResponse, error) {
					return admin.CreatePermanentAccessKey(&model.CreatePermanentAccessKeyRequest{Body: &model.CreatePermanentAccessKeyRequestBody{
						Credential: &model.CreateCredentialOption{UserId: userID, Description: ptr("e2e")}}})
				}
				for i := 1; i <= 2; i++ {
					resp, err := create()
					if err != nil {
						t.Fatalf("CreatePermanentAccessKey #%d: %v", i, err)
					}
					c := resp.Credential
					if resp.HttpStatusCode != http.StatusCreated || c == nil || c.Access == "" || c.Secret == "" || c.UserId != userID || c.Status != "active" {
						t.Fatalf("CreatePermanentAccessKey #%d: status %d, credential %+v", i, resp.HttpStatusCode, c)
					}
					if i == 1 {
						userAK, userSK = c.Access, c.Secret
					}
				}
				_, err := create()
				if se := servertest.SDKError(t, err); se.StatusCode != http.StatusBadRequest {
					t.Errorf("third access key: status %d (%s %s); want 400", se.StatusCode, se.ErrorCode, se.ErrorMessage)
				}
				user = env.IAMClient(t, userAK, userSK)
			}},
			{"ListPermanentAccessKeys", func(t *testing.T) {
				resp, err := admin.ListPermanentAccessKeys(&model.ListPermanentAccessKeysRequest{UserId: ptr(userID)})
				if err != nil {
					t.Fatalf("ListPermanentAccessKeys: %v", err)
				}
				var keys []string
				for _, c := range deref(resp.Credentials) {
					keys = append(keys, c.Access)
					if c.UserId != userID {
						t.Errorf("listed key %s belongs to %s; want %s", c.Access, c.UserId, userID)
					}
				}
				if len(keys) != 2 || !contains(keys, userAK) {
					t.Errorf("access keys of %s = %v; want 2 including %s", userName, keys, userAK)
				}
				r, body := env.Do(t, http.MethodGet, "/v3.0/OS-CREDENTIAL/credentials?user_id="+userID, nil, map[string]string{"X-Auth-Token": env.AdminToken(t)})
				if r.StatusCode != http.StatusOK || strings.Contains(string(body), userSK) || strings.Contains(string(body), `"secret"`) {
					t.Errorf("listing access keys: %s; the body must not carry secrets: %s", r.Status, body)
				}
			}},
			{"KeystoneListUsers", func(t *testing.T) {
				resp, err := admin.KeystoneListUsers(&model.KeystoneListUsersRequest{})
				if err != nil {
					t.Fatalf("KeystoneListUsers: %v", err)
				}
				var names []string
				for _, u := range deref(resp.Users) {
					names = append(names, u.Name)
				}
				if !contains(names, userName) || !contains(names, a.UserName) {
					t.Errorf("users = %v; want %s and %s", names, a.UserName, userName)
				}
				byName, err := admin.KeystoneListUsers(&model.KeystoneListUsersRequest{Name: ptr(userName)})
				if err != nil {
					t.Fatalf("KeystoneListUsers name=%s: %v", userName, err)
				}
				if us := deref(byName.Users); len(us) != 1 || us[0].Id != userID {
					t.Errorf("users named %s = %+v; want only %s", userName, us, userID)
				}
			}},
			{"KeystoneListGroups", func(t *testing.T) {
				resp, err := admin.KeystoneListGroups(&model.KeystoneListGroupsRequest{})
				if err != nil {
					t.Fatalf("KeystoneListGroups: %v", err)
				}
				var names []string
				for _, g := range deref(resp.Groups) {
					names = append(names, g.Name)
				}
				if !contains(names, groupName) {
					t.Errorf("groups = %v; want %s among them", names, groupName)
				}
			}},
			{"user-signs-with-own-aksk", func(t *testing.T) {
				if _, err := user.KeystoneListAuthProjects(&model.KeystoneListAuthProjectsRequest{}); err != nil {
					t.Errorf("KeystoneListAuthProjects as %s: %v", userName, err)
				}
				userToken = env.Token(t, a.DomainName, userName, password1, a.ProjectName)
			}},
			{"user-cannot-manage-iam", func(t *testing.T) {
				_, err := user.KeystoneListUsers(&model.KeystoneListUsersRequest{})
				if se := servertest.SDKError(t, err); se.StatusCode != http.StatusForbidden {
					t.Errorf("KeystoneListUsers as %s: status %d (%s); want 403", userName, se.StatusCode, se.ErrorMessage)
				}
			}},
			{"KeystoneUpdateUserPassword", func(t *testing.T) {
				resp, err := user.KeystoneUpdateUserPassword(&model.KeystoneUpdateUserPasswordRequest{UserId: userID,
					Body: &model.KeystoneUpdateUserPasswordRequestBody{User: &model.KeystoneUpdatePasswordOption{
						OriginalPassword: password1, Password: password2}}})
				if err != nil {
					t.Fatalf("KeystoneUpdateUserPassword: %v", err)
				}
				if resp.HttpStatusCode != http.StatusNoContent {
					t.Errorf("status = %d; want 204", resp.HttpStatusCode)
				}
				r, body := env.Do(t, http.MethodGet, "/v3/auth/projects", nil, map[string]string{"X-Auth-Token": userToken})
				if r.StatusCode != http.StatusUnauthorized {
					t.Errorf("token issued before the password change: %s %s; want 401", r.Status, body)
				}
				r, body = env.Do(t, http.MethodPost, "/v3/auth/tokens", servertest.TokenRequest(a.DomainName, userName, password1, a.ProjectName), nil)
				if r.StatusCode != http.StatusUnauthorized {
					t.Errorf("login with the old password: %s %s; want 401", r.Status, body)
				}
				userToken = env.Token(t, a.DomainName, userName, password2, a.ProjectName)
			}},
			{"malformed-custom-policies-are-rejected", func(t *testing.T) {
				before := countCustomPolicies(t, admin)
				nine := make([]model.ServiceStatement, 9)
				for i := range nine {
					nine[i] = statement(allow, "modelarts:trainJob:get")
				}
				cases := []struct {
					name     string
					req      *model.CreateCloudServiceCustomPolicyRequest
					wantCode string
				}{
					{"nine-statements", customPolicyRequest("too-many", nine...), "IAM.1028"},
					{"unregistered-action", customPolicyRequest("unknown-action", statement(allow, "modelarts:trainJob:fly")), "IAM.1036"},
					{"wildcard-matching-nothing", customPolicyRequest("typo", statement(allow, "modelarts:trainjobs:*")), "IAM.1036"},
					{"action-not-three-parts", customPolicyRequest("format", statement(allow, "modelarts:get")), "IAM.1035"},
				}
				for _, tc := range cases {
					t.Run(tc.name, func(t *testing.T) {
						_, err := admin.CreateCloudServiceCustomPolicy(tc.req)
						se := servertest.SDKError(t, err)
						if se.StatusCode != http.StatusBadRequest || se.ErrorCode != tc.wantCode {
							t.Errorf("status %d code %s (%s); want 400 %s", se.StatusCode, se.ErrorCode, se.ErrorMessage, tc.wantCode)
						}
					})
				}
				if n := countCustomPolicies(t, admin); n != before {
					t.Errorf("custom policies after rejected creations = %d; want %d (nothing stored)", n, before)
				}
			}},
			{"authorization-checks", func(t *testing.T) {
				cases := []struct {
					action      string
					wantAllowed bool
					wantReason  string
					wantEffect  string
				}{
					{"modelarts:trainJob:get", true, "explicit_allow", "Allow"},
					{"modelarts:trainJob:delete", false, "explicit_deny", "Deny"},
					{"modelarts:trainJob:create", false, "implicit_deny", ""},
				}
				for _, tc := range cases {
					t.Run(tc.action, func(t *testing.T) {
						resp, body := env.Do(t, http.MethodPost, "/v2/"+a.ProjectID+"/authorization-checks",
							map[string]string{"user_id": userID, "action": tc.action}, map[string]string{"X-Auth-Token": env.AdminToken(t)})
						if resp.StatusCode != http.StatusOK {
							t.Fatalf("authorization check: %s %s; want 200", resp.Status, body)
						}
						var got authzCheck
						if err := json.Unmarshal(body, &got); err != nil {
							t.Fatalf("decode: %v: %s", err, body)
						}
						if got.Allowed != tc.wantAllowed || got.Reason != tc.wantReason || got.User.ID != userID {
							t.Errorf("allowed %v reason %q user %s; want %v %q %s: %s", got.Allowed, got.Reason, got.User.ID, tc.wantAllowed, tc.wantReason, userID, body)
						}
						if tc.wantEffect == "" {
							if got.Policy != nil {
								t.Errorf("an implicit deny names policy %+v", got.Policy)
							}
							return
						}
						if got.Policy == nil || got.Policy.ID != policyID || got.Policy.DisplayName != "train-readers" {
							t.Errorf("deciding policy = %+v; want %s (train-readers): %s", got.Policy, policyID, body)
						}
						if got.Statement == nil || !strings.EqualFold(got.Statement.Effect, tc.wantEffect) || !contains(got.Statement.Action, tc.action) {
							t.Errorf("deciding statement = %+v; want Effect %s with action %s", got.Statement, tc.wantEffect, tc.action)
						}
						if got.GrantScope == nil || got.GrantScope.Type == "account" {
							t.Errorf("grant scope = %+v; want the project or enterprise project grant", got.GrantScope)
						}
					})
				}
			}},
			{"KeystoneDeleteUser", func(t *testing.T) {
				resp, err := admin.KeystoneDeleteUser(&model.KeystoneDeleteUserRequest{UserId: userID})
				if err != nil {
					t.Fatalf("KeystoneDeleteUser: %v", err)
				}
				if resp.HttpStatusCode != http.StatusNoContent {
					t.Errorf("status = %d; want 204", resp.HttpStatusCode)
				}
				_, err = user.KeystoneListAuthProjects(&model.KeystoneListAuthProjectsRequest{})
				if se := servertest.SDKError(t, err); se.StatusCode != http.StatusUnauthorized {
					t.Errorf("the deleted user's AK/SK: status %d (%s); want 401", se.StatusCode, se.ErrorMessage)
				}
				r, body := env.Do(t, http.MethodGet, "/v3/auth/projects", nil, map[string]string{"X-Auth-Token": userToken})
				if r.StatusCode != http.StatusUnauthorized {
					t.Errorf("the deleted user's token: %s %s; want 401", r.Status, body)
				}
				_, err = admin.ShowUser(&model.ShowUserRequest{UserId: userID})
				if se := servertest.SDKError(t, err); se.StatusCode != http.StatusNotFound {
					t.Errorf("ShowUser of the deleted user: status %d; want 404", se.StatusCode)
				}
			}},
		})
	})
}

// TestUserOptionalSDKFields sends CreateUser and UpdateUser with every
// optional field the SDK's CreateUserOption and UpdateUserOption have, as a
// caller filling in Huawei's example would.
func TestUserOptionalSDKFields(t *testing.T) {
	t.Parallel()
	servertest.Each(t, func(t *testing.T, env *servertest.Env) {
		a := env.Account
		admin := env.IAMClient(t, a.AccessKey, a.SecretKey)
		created, err := admin.CreateUser(&model.CreateUserRequest{Body: &model.CreateUserRequestBody{User: &model.CreateUserOption{
			Name: "carol", DomainId: a.DomainID, Password: ptr("Carol-Passw0rd!")}}})
		if err != nil {
			t.Fatalf("CreateUser with only the required fields: %v", err)
		}
		var bobID string
		cases := []struct {
			name string
			call func() error
		}{
			{"CreateUser", func() error {
				resp, err := admin.CreateUser(&model.CreateUserRequest{Body: &model.CreateUserRequestBody{User: &model.CreateUserOption{
					AccessMode: ptr("default"), Name: "bob", DomainId: a.DomainID, Password: ptr("Bob-Passw0rd!"),
					Email: ptr("bob@example.com"), Areacode: ptr("0086"), Phone: ptr("13800000000"), Enabled: ptr(true),
					PwdStatus: ptr(false), XuserType: ptr("TenantIdp"), XuserId: ptr("bob-external"), Description: ptr("all fields")}}})
				if err == nil {
					bobID = resp.User.Id
				}
				return err
			}},
			{"ShowUser-returns-them", func() error {
				if bobID == "" {
					return fmt.Errorf("bob was not created")
				}
				resp, err := admin.ShowUser(&model.ShowUserRequest{UserId: bobID})
				if err != nil {
					return err
				}
				u := resp.User
				got := fmt.Sprintf("access_mode=%s xuser_type=%s xuser_id=%s email=%s description=%s",
					u.AccessMode, str(u.XuserType), str(u.XuserId), str(u.Email), u.Description)
				want := "access_mode=default xuser_type=TenantIdp xuser_id=bob-external email=bob@example.com description=all fields"
				if got != want {
					return fmt.Errorf("ShowUser: %s; want %s", got, want)
				}
				return nil
			}},
			{"UpdateUser", func() error {
				_, err := admin.UpdateUser(&model.UpdateUserRequest{UserId: created.User.Id, Body: &model.UpdateUserRequestBody{User: &model.UpdateUserOption{
					AccessMode: ptr("default"), Email: ptr("carol@example.com"), Areacode: ptr("0086"), Phone: ptr("13800000001"),
					Enabled: ptr(true), PwdStatus: ptr(false), XuserType: ptr("TenantIdp"), XuserId: ptr("carol-external"), Description: ptr("updated")}}})
				return err
			}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				if err := tc.call(); err != nil {
					t.Errorf("%s with every optional SDK field (access_mode, areacode, phone, pwd_status, xuser_type, xuser_id): %v", tc.name, err)
				}
			})
		}
	})
}

func str(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

func deref[T any](p *[]T) []T {
	if p == nil {
		return nil
	}
	return *p
}
