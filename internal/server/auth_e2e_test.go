package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/services/iam/v3/model"
	mamodel "github.com/huaweicloud/huaweicloud-sdk-go-v3/services/modelarts/v1/model"

	"github.com/atelier-dev/atelier/internal/server/servertest"
)

func ptr[T any](v T) *T { return &v }

// pwdTokenRequest is the SDK's request for a password token.
func pwdTokenRequest(domain, user, password string, scope *model.AuthScope) *model.KeystoneCreateUserTokenByPasswordRequest {
	return &model.KeystoneCreateUserTokenByPasswordRequest{Body: &model.KeystoneCreateUserTokenByPasswordRequestBody{
		Auth: &model.PwdAuth{
			Identity: &model.PwdIdentity{
				Methods: []model.PwdIdentityMethods{model.GetPwdIdentityMethodsEnum().PASSWORD},
				Password: &model.PwdPassword{User: &model.PwdPasswordUser{
					Domain: &model.PwdPasswordUserDomain{Name: domain}, Name: user, Password: password}},
			},
			Scope: scope,
		}}}
}

func TestKeystoneCreateUserTokenByPassword(t *testing.T) {
	t.Parallel()
	servertest.Each(t, func(t *testing.T, env *servertest.Env) {
		a := env.Account
		client := env.IAMClient(t, a.AccessKey, a.SecretKey)

		cases := []struct {
			name        string
			scope       *model.AuthScope
			wantProject bool
		}{
			{"project-by-name", &model.AuthScope{Project: &model.AuthScopeProject{Name: ptr(a.ProjectName)}}, true},
			{"project-by-id", &model.AuthScope{Project: &model.AuthScopeProject{Id: ptr(a.ProjectID)}}, true},
			{"domain-by-id", &model.AuthScope{Domain: &model.AuthScopeDomain{Id: ptr(a.DomainID)}}, false},
			{"domain-by-name", &model.AuthScope{Domain: &model.AuthScopeDomain{Name: ptr(a.DomainName)}}, false},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				before := time.Now().UTC()
				resp, err := client.KeystoneCreateUserTokenByPassword(pwdTokenRequest(a.DomainName, a.UserName, a.Password, tc.scope))
				if err != nil {
					t.Fatalf("KeystoneCreateUserTokenByPassword: %v", err)
				}
				if resp.HttpStatusCode != http.StatusCreated {
					t.Errorf("status = %d; want 201", resp.HttpStatusCode)
				}
				if resp.XSubjectToken == nil || *resp.XSubjectToken == "" {
					t.Errorf("no X-Subject-Token in the response")
				}
				tok := resp.Token
				if tok == nil {
					t.Fatalf("response has no token body")
				}
				if len(tok.Methods) != 1 || tok.Methods[0] != "password" {
					t.Errorf("methods = %v; want [password]", tok.Methods)
				}
				issued, err1 := time.Parse(time.RFC3339Nano, tok.IssuedAt)
				expires, err2 := time.Parse(time.RFC3339Nano, tok.ExpiresAt)
				if err1 != nil || err2 != nil {
					t.Fatalf("issued_at %q / expires_at %q do not parse: %v %v", tok.IssuedAt, tok.ExpiresAt, err1, err2)
				}
				if d := issued.Sub(before); d < -time.Second || d > time.Minute {
					t.Errorf("issued_at %s is %s away from the request time %s", tok.IssuedAt, d, before)
				}
				if d := expires.Sub(issued); d < 24*time.Hour-time.Minute || d > 24*time.Hour+time.Minute {
					t.Errorf("expires_at - issued_at = %s; want about 24h", d)
				}
				if tok.User == nil || tok.User.Id != a.UserID || tok.User.Name != a.UserName {
					t.Errorf("user = %+v; want id %s name %s", tok.User, a.UserID, a.UserName)
				} else if tok.User.Domain == nil || tok.User.Domain.Id != a.DomainID || tok.User.Domain.Name != a.DomainName {
					t.Errorf("user.domain = %+v; want id %s name %s", tok.User.Domain, a.DomainID, a.DomainName)
				}
				if tc.wantProject {
					if tok.Project == nil || tok.Project.Id != a.ProjectID || tok.Project.Name != a.ProjectName {
						t.Errorf("project = %+v; want id %s name %s", tok.Project, a.ProjectID, a.ProjectName)
					} else if tok.Project.Domain == nil || tok.Project.Domain.Id != a.DomainID {
						t.Errorf("project.domain = %+v; want id %s", tok.Project.Domain, a.DomainID)
					}
					if tok.Domain != nil {
						t.Errorf("a project-scoped token has domain %+v", tok.Domain)
					}
				} else {
					if tok.Domain == nil || tok.Domain.Id != a.DomainID || tok.Domain.Name != a.DomainName {
						t.Errorf("domain = %+v; want id %s name %s", tok.Domain, a.DomainID, a.DomainName)
					}
					if tok.Project != nil {
						t.Errorf("a domain-scoped token has project %+v", tok.Project)
					}
				}
				var roles []string
				for _, r := range tok.Roles {
					roles = append(roles, r.Name)
				}
				if !contains(roles, "Tenant Administrator") {
					t.Errorf("roles = %v; want Tenant Administrator among them", roles)
				}
				var modelarts *model.TokenCatalog
				for i := range tok.Catalog {
					if tok.Catalog[i].Type == "modelarts" {
						modelarts = &tok.Catalog[i]
					}
				}
				if modelarts == nil || len(modelarts.Endpoints) == 0 {
					t.Fatalf("catalog %+v has no modelarts endpoint", tok.Catalog)
				}
				ep := modelarts.Endpoints[0]
				if !strings.HasPrefix(ep.Url, env.URL) || ep.Region != servertest.Region || ep.Interface != "public" {
					t.Errorf("modelarts endpoint = %+v; want a public endpoint under %s in region %s", ep, env.URL, servertest.Region)
				}
			})
		}

		errCases := []struct {
			name                   string
			domain, user, password string
			scope                  *model.AuthScope
			wantStatus             int
		}{
			{"wrong-password", a.DomainName, a.UserName, a.Password + "x", nil, http.StatusUnauthorized},
			{"unknown-user", a.DomainName, "nobody", a.Password, nil, http.StatusUnauthorized},
			{"unknown-domain", "nosuchdomain", a.UserName, a.Password, nil, http.StatusUnauthorized},
			{"unknown-project-name", a.DomainName, a.UserName, a.Password,
				&model.AuthScope{Project: &model.AuthScopeProject{Name: ptr("no-such-project")}}, http.StatusBadRequest},
			{"unknown-project-id", a.DomainName, a.UserName, a.Password,
				&model.AuthScope{Project: &model.AuthScopeProject{Id: ptr(strings.Repeat("0", 32))}}, http.StatusBadRequest},
		}
		for _, tc := range errCases {
			t.Run(tc.name, func(t *testing.T) {
				_, err := client.KeystoneCreateUserTokenByPassword(pwdTokenRequest(tc.domain, tc.user, tc.password, tc.scope))
				se := servertest.SDKError(t, err)
				if se.StatusCode != tc.wantStatus {
					t.Errorf("status = %d (%s %s); want %d", se.StatusCode, se.ErrorCode, se.ErrorMessage, tc.wantStatus)
				}
				if !strings.HasPrefix(se.ErrorCode, "IAM.") {
					t.Errorf("error_code = %q; want an IAM.* code", se.ErrorCode)
				}
			})
		}

		// The SDK documents nocatalog as "any non-empty string is true".
		for _, v := range []string{"true", "1"} {
			t.Run("nocatalog="+v, func(t *testing.T) {
				req := pwdTokenRequest(a.DomainName, a.UserName, a.Password, nil)
				req.Nocatalog = ptr(v)
				resp, err := client.KeystoneCreateUserTokenByPassword(req)
				if err != nil {
					t.Fatalf("KeystoneCreateUserTokenByPassword: %v", err)
				}
				if n := len(resp.Token.Catalog); n != 0 {
					t.Errorf("nocatalog=%s: catalog has %d entries; want none", v, n)
				}
			})
		}
	})
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

type authProjects struct {
	Projects []struct {
		ID       string `json:"id"`
		Name     string `json:"name"`
		DomainID string `json:"domain_id"`
		Enabled  bool   `json:"enabled"`
	} `json:"projects"`
}

func TestKeystoneListAuthProjects(t *testing.T) {
	t.Parallel()
	servertest.Each(t, func(t *testing.T, env *servertest.Env) {
		a := env.Account

		t.Run("sdk-aksk", func(t *testing.T) {
			resp, err := env.IAMClient(t, a.AccessKey, a.SecretKey).KeystoneListAuthProjects(&model.KeystoneListAuthProjectsRequest{})
			if err != nil {
				t.Fatalf("KeystoneListAuthProjects: %v", err)
			}
			if resp.Projects == nil {
				t.Fatalf("no projects in the response")
			}
			found := false
			for _, p := range *resp.Projects {
				if p.Id == a.ProjectID {
					found = true
					if p.Name != a.ProjectName || p.DomainId != a.DomainID || !p.Enabled {
						t.Errorf("bootstrap project = %+v; want name %s, domain %s, enabled", p, a.ProjectName, a.DomainID)
					}
				}
			}
			if !found {
				t.Errorf("projects %+v lack the bootstrap project %s", *resp.Projects, a.ProjectID)
			}
		})

		t.Run("token", func(t *testing.T) {
			resp, body := env.Do(t, http.MethodGet, "/v3/auth/projects", nil, map[string]string{"X-Auth-Token": env.AdminToken(t)})
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET /v3/auth/projects with a token: %s %s", resp.Status, body)
			}
			var got authProjects
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("decode: %v: %s", err, body)
			}
			if len(got.Projects) == 0 || got.Projects[0].ID != a.ProjectID {
				t.Errorf("projects = %+v; want the bootstrap project %s", got.Projects, a.ProjectID)
			}
		})

		unauthenticated := []struct {
			name    string
			headers map[string]string
		}{
			{"unsigned", nil},
			{"garbage-token", map[string]string{"X-Auth-Token": "not-a-token"}},
			{"garbage-authorization", map[string]string{"Authorization": "SDK-HMAC-SHA256 nonsense"}},
		}
		for _, tc := range unauthenticated {
			t.Run(tc.name, func(t *testing.T) {
				resp, body := env.Do(t, http.MethodGet, "/v3/auth/projects", nil, tc.headers)
				if resp.StatusCode != http.StatusUnauthorized {
					t.Fatalf("GET /v3/auth/projects %s: %s %s; want 401", tc.name, resp.Status, body)
				}
				e := servertest.DecodeError(t, body)
				if !strings.HasPrefix(e.ErrorCode, "IAM.") {
					t.Errorf("error_code = %q; want an IAM.* code", e.ErrorCode)
				}
				if e.Error == nil || e.Error.Code != http.StatusUnauthorized {
					t.Errorf("Keystone error object = %+v; want code 401", e.Error)
				}
			})
		}
	})
}

func TestKeystoneValidateToken(t *testing.T) {
	t.Parallel()
	servertest.Each(t, func(t *testing.T, env *servertest.Env) {
		a := env.Account
		client := env.IAMClient(t, a.AccessKey, a.SecretKey)
		token := env.AdminToken(t)

		t.Run("valid", func(t *testing.T) {
			resp, err := client.KeystoneValidateToken(&model.KeystoneValidateTokenRequest{XSubjectToken: token})
			if err != nil {
				t.Fatalf("KeystoneValidateToken: %v", err)
			}
			if resp.HttpStatusCode != http.StatusOK {
				t.Errorf("status = %d; want 200", resp.HttpStatusCode)
			}
			if resp.XSubjectToken == nil || *resp.XSubjectToken != token {
				t.Errorf("X-Subject-Token is not echoed")
			}
			if resp.Token == nil || resp.Token.User == nil || resp.Token.User.Id != a.UserID {
				t.Fatalf("token = %+v; want user %s", resp.Token, a.UserID)
			}
			if resp.Token.Project == nil || resp.Token.Project.Id != a.ProjectID {
				t.Errorf("token project = %+v; want %s", resp.Token.Project, a.ProjectID)
			}
		})

		t.Run("invalid-subject", func(t *testing.T) {
			_, err := client.KeystoneValidateToken(&model.KeystoneValidateTokenRequest{XSubjectToken: token[:len(token)-2] + "xx"})
			if se := servertest.SDKError(t, err); se.StatusCode != http.StatusNotFound {
				t.Errorf("status = %d (%s); want 404", se.StatusCode, se.ErrorMessage)
			}
		})

		t.Run("with-token-auth", func(t *testing.T) {
			resp, body := env.Do(t, http.MethodGet, "/v3/auth/tokens", nil, map[string]string{"X-Auth-Token": token, "X-Subject-Token": token})
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET /v3/auth/tokens with X-Auth-Token: %s %s; want 200", resp.Status, body)
			}
		})
	})
}

func TestAKSKSigning(t *testing.T) {
	t.Parallel()
	servertest.Each(t, func(t *testing.T, env *servertest.Env) {
		a := env.Account
		date := func(d time.Duration) map[string]string {
			return map[string]string{"X-Sdk-Date": time.Now().UTC().Add(d).Format("20060102T150405Z")}
		}
		workspaces := "/v1/" + a.ProjectID + "/workspaces"

		cases := []struct {
			name       string
			req        func(t *testing.T) *http.Request
			wantStatus int
			wantCode   string
		}{
			{"valid", func(t *testing.T) *http.Request {
				return env.SignedRequest(t, http.MethodGet, "/v3/auth/projects", nil, a.AccessKey, a.SecretKey, nil)
			}, http.StatusOK, ""},
			{"date-14-minutes-old", func(t *testing.T) *http.Request {
				return env.SignedRequest(t, http.MethodGet, "/v3/auth/projects", nil, a.AccessKey, a.SecretKey, date(-14*time.Minute))
			}, http.StatusOK, ""},
			{"date-20-minutes-old", func(t *testing.T) *http.Request {
				return env.SignedRequest(t, http.MethodGet, "/v3/auth/projects", nil, a.AccessKey, a.SecretKey, date(-20*time.Minute))
			}, http.StatusUnauthorized, "IAM.0001"},
			{"date-20-minutes-ahead", func(t *testing.T) *http.Request {
				return env.SignedRequest(t, http.MethodGet, "/v3/auth/projects", nil, a.AccessKey, a.SecretKey, date(20*time.Minute))
			}, http.StatusUnauthorized, "IAM.0001"},
			{"unknown-access-key", func(t *testing.T) *http.Request {
				return env.SignedRequest(t, http.MethodGet, "/v3/auth/projects", nil, "AAAAAAAAAAAAAAAAAAAA", a.SecretKey, nil)
			}, http.StatusUnauthorized, "IAM.0001"},
			{"wrong-secret-key", func(t *testing.T) *http.Request {
				return env.SignedRequest(t, http.MethodGet, "/v3/auth/projects", nil, a.AccessKey, a.SecretKey+"x", nil)
			}, http.StatusUnauthorized, "IAM.0001"},
			{"signed-body", func(t *testing.T) *http.Request {
				return env.SignedRequest(t, http.MethodPost, "/v3/groups", []byte(`{"group":{"name":"signed-a"}}`), a.AccessKey, a.SecretKey, nil)
			}, http.StatusCreated, ""},
			{"tampered-body", func(t *testing.T) *http.Request {
				req := env.SignedRequest(t, http.MethodPost, "/v3/groups", []byte(`{"group":{"name":"signed-b"}}`), a.AccessKey, a.SecretKey, nil)
				tampered := []byte(`{"group":{"name":"signed-c"}}`)
				req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(tampered)), int64(len(tampered))
				return req
			}, http.StatusUnauthorized, "IAM.0001"},
			{"unsigned-payload-swapped-body", func(t *testing.T) *http.Request {
				// A captured request that declared its body unsigned cannot
				// have the body replaced: JSON routes refuse UNSIGNED-PAYLOAD.
				req := env.SignedRequest(t, http.MethodPost, "/v3/groups", []byte(`{"group":{"name":"unsigned-a"}}`), a.AccessKey, a.SecretKey,
					map[string]string{"X-Sdk-Content-Sha256": "UNSIGNED-PAYLOAD"})
				swapped := []byte(`{"group":{"name":"unsigned-b"}}`)
				req.Body, req.ContentLength = io.NopCloser(bytes.NewReader(swapped)), int64(len(swapped))
				return req
			}, http.StatusUnauthorized, "IAM.0001"},
			{"unsigned-payload-modelarts-body", func(t *testing.T) *http.Request {
				return env.SignedRequest(t, http.MethodPost, "/v2/"+a.ProjectID+"/training-job-searches", []byte(`{}`), a.AccessKey, a.SecretKey,
					map[string]string{"X-Sdk-Content-Sha256": "UNSIGNED-PAYLOAD"})
			}, http.StatusUnauthorized, "ModelArts.0206"},
			{"unsigned-payload-without-body", func(t *testing.T) *http.Request {
				return env.SignedRequest(t, http.MethodGet, "/v3/auth/projects", nil, a.AccessKey, a.SecretKey,
					map[string]string{"X-Sdk-Content-Sha256": "UNSIGNED-PAYLOAD"})
			}, http.StatusOK, ""},
			{"tampered-path-project", func(t *testing.T) *http.Request {
				req := env.SignedRequest(t, http.MethodGet, workspaces, nil, a.AccessKey, a.SecretKey, nil)
				req.URL.Path = "/v1/" + strings.Repeat("0", 32) + "/workspaces"
				return req
			}, http.StatusUnauthorized, "ModelArts.0206"},
			{"x-project-id-matches-path", func(t *testing.T) *http.Request {
				return env.SignedRequest(t, http.MethodGet, workspaces, nil, a.AccessKey, a.SecretKey, map[string]string{"X-Project-Id": a.ProjectID})
			}, http.StatusOK, ""},
			{"x-project-id-differs-from-path", func(t *testing.T) *http.Request {
				return env.SignedRequest(t, http.MethodGet, workspaces, nil, a.AccessKey, a.SecretKey, map[string]string{"X-Project-Id": strings.Repeat("f", 32)})
			}, http.StatusForbidden, "ModelArts.0210"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				req := tc.req(t)
				resp, body := env.Send(t, req)
				if resp.StatusCode != tc.wantStatus {
					t.Fatalf("%s %s: %s %s; want %d", req.Method, req.URL.Path, resp.Status, body, tc.wantStatus)
				}
				if tc.wantCode != "" {
					if e := servertest.DecodeError(t, body); e.ErrorCode != tc.wantCode {
						t.Errorf("error_code = %s (%s); want %s", e.ErrorCode, e.ErrorMsg, tc.wantCode)
					}
				}
			})
		}
	})
}

func TestRoutingEnvelope(t *testing.T) {
	t.Parallel()
	servertest.Each(t, func(t *testing.T, env *servertest.Env) {
		a := env.Account
		token := env.AdminToken(t)
		cases := []struct {
			name       string
			method     string
			path       string
			headers    map[string]string
			wantStatus int
			wantCode   string
		}{
			{"health-without-auth", http.MethodGet, "/health", nil, http.StatusOK, ""},
			{"unknown-path", http.MethodGet, "/v2/" + a.ProjectID + "/no-such-thing", map[string]string{"X-Auth-Token": token}, http.StatusNotFound, "ModelArts.2836"},
			{"unknown-path-without-auth", http.MethodGet, "/nothing/here", nil, http.StatusNotFound, "ModelArts.2836"},
			{"wrong-method-on-built-route", http.MethodPatch, "/v1/" + a.ProjectID + "/workspaces", map[string]string{"X-Auth-Token": token}, http.StatusNotFound, "ModelArts.2836"},
		}
		if path, ok := unbuiltPath(a.ProjectID); ok {
			cases = append(cases, struct {
				name       string
				method     string
				path       string
				headers    map[string]string
				wantStatus int
				wantCode   string
			}{"seed-route-not-built", http.MethodGet, path, map[string]string{"X-Auth-Token": token}, http.StatusNotFound, "ModelArts.4204"})
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				resp, body := env.Do(t, tc.method, tc.path, nil, tc.headers)
				if resp.StatusCode != tc.wantStatus {
					t.Fatalf("%s %s: %s %s; want %d", tc.method, tc.path, resp.Status, body, tc.wantStatus)
				}
				if resp.Header.Get("X-Request-Id") == "" {
					t.Errorf("no X-Request-Id in the response")
				}
				if tc.wantCode != "" {
					if e := servertest.DecodeError(t, body); e.ErrorCode != tc.wantCode {
						t.Errorf("error_code = %s (%s); want %s", e.ErrorCode, e.ErrorMsg, tc.wantCode)
					}
				}
			})
		}
	})
}

func TestRequestBodies(t *testing.T) {
	t.Parallel()
	servertest.Each(t, func(t *testing.T, env *servertest.Env) {
		big := bytes.Repeat([]byte("x"), 9<<20)

		t.Run("over-limit-with-content-length", func(t *testing.T) {
			resp, body := env.Do(t, http.MethodPost, "/v3/auth/tokens", big, nil)
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Fatalf("9 MiB POST /v3/auth/tokens: %s; want 413", resp.Status)
			}
			// An IAM route answers in the IAM envelope, with an IAM code.
			if e := servertest.DecodeError(t, body); !strings.HasPrefix(e.ErrorCode, "IAM.") || e.Error == nil || e.Error.Code != http.StatusRequestEntityTooLarge {
				t.Errorf("413 envelope on an IAM route = %s; want an IAM.* error_code and error.code 413", body)
			}
		})

		t.Run("over-limit-chunked", func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, env.URL+"/v3/auth/tokens", io.MultiReader(bytes.NewReader(big)))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			resp, body := env.Send(t, req)
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Fatalf("9 MiB chunked POST /v3/auth/tokens: %s; want 413", resp.Status)
			}
			// An IAM route answers in the IAM envelope, with an IAM code.
			if e := servertest.DecodeError(t, body); !strings.HasPrefix(e.ErrorCode, "IAM.") || e.Error == nil || e.Error.Code != http.StatusRequestEntityTooLarge {
				t.Errorf("413 envelope on an IAM route = %s; want an IAM.* error_code and error.code 413", body)
			}
		})

		a := env.Account
		good, err := json.Marshal(servertest.TokenRequest(a.DomainName, a.UserName, a.Password, ""))
		if err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name     string
			body     string
			wantCode string
			wantMsg  string
		}{
			{"empty", "", "IAM.0007", "empty"},
			{"truncated", `{"auth":{"identity":`, "IAM.0007", "malformed JSON"},
			{"syntax-error", `{"auth":}`, "IAM.0007", "malformed JSON"},
			{"unknown-top-level-field", `{"auth":{},"surprise":1}`, "IAM.0007", `"surprise"`},
			{"unknown-nested-field", strings.Replace(string(good), `"methods"`, `"method":1,"methods"`, 1), "IAM.0007", `"method"`},
			{"wrong-type", `{"auth":{"identity":{"methods":"password"}}}`, "IAM.0007", "auth.identity.methods"},
			{"trailing-data", string(good) + `{}`, "IAM.0007", "after the JSON"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				resp, body := env.Do(t, http.MethodPost, "/v3/auth/tokens", tc.body, map[string]string{"Content-Type": "application/json"})
				if resp.StatusCode != http.StatusBadRequest {
					t.Fatalf("POST /v3/auth/tokens %s: %s %s; want 400", tc.name, resp.Status, body)
				}
				e := servertest.DecodeError(t, body)
				if e.ErrorCode != tc.wantCode || !strings.Contains(e.ErrorMsg, tc.wantMsg) {
					t.Errorf("error = %s %q; want %s mentioning %q", e.ErrorCode, e.ErrorMsg, tc.wantCode, tc.wantMsg)
				}
			})
		}
	})
}

func TestProjectIsolation(t *testing.T) {
	t.Parallel()
	servertest.Each(t, func(t *testing.T, env *servertest.Env) {
		a := env.Account
		b := env.NewAccount(t, "second")
		tokenA := env.AdminToken(t)
		tokenB := env.Token(t, b.DomainName, b.UserName, b.Password, b.ProjectName)
		domainTokenA := env.Token(t, a.DomainName, a.UserName, a.Password, "")

		cases := []struct {
			name       string
			req        func(t *testing.T) *http.Request
			wantStatus int
			wantCode   string
		}{
			{"token-a-on-project-a", tokenReq(env, tokenA, a.ProjectID), http.StatusOK, ""},
			{"token-b-on-project-b", tokenReq(env, tokenB, b.ProjectID), http.StatusOK, ""},
			{"token-a-on-project-b", tokenReq(env, tokenA, b.ProjectID), http.StatusForbidden, "ModelArts.0210"},
			{"token-b-on-project-a", tokenReq(env, tokenB, a.ProjectID), http.StatusForbidden, "ModelArts.0210"},
			{"domain-token-on-project", tokenReq(env, domainTokenA, a.ProjectID), http.StatusUnauthorized, "ModelArts.0212"},
			{"aksk-a-on-project-b", func(t *testing.T) *http.Request {
				return env.SignedRequest(t, http.MethodGet, "/v1/"+b.ProjectID+"/workspaces", nil, a.AccessKey, a.SecretKey, nil)
			}, http.StatusForbidden, "ModelArts.0210"},
			{"aksk-a-on-project-b-with-matching-header", func(t *testing.T) *http.Request {
				return env.SignedRequest(t, http.MethodGet, "/v1/"+b.ProjectID+"/workspaces", nil, a.AccessKey, a.SecretKey, map[string]string{"X-Project-Id": b.ProjectID})
			}, http.StatusForbidden, "ModelArts.0210"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				req := tc.req(t)
				resp, body := env.Send(t, req)
				if resp.StatusCode != tc.wantStatus {
					t.Fatalf("%s %s: %s %s; want %d", req.Method, req.URL.Path, resp.Status, body, tc.wantStatus)
				}
				if tc.wantCode != "" {
					if e := servertest.DecodeError(t, body); e.ErrorCode != tc.wantCode {
						t.Errorf("error_code = %s (%s); want %s", e.ErrorCode, e.ErrorMsg, tc.wantCode)
					}
				}
			})
		}
	})
}

func tokenReq(env *servertest.Env, token, projectID string) func(t *testing.T) *http.Request {
	return func(t *testing.T) *http.Request {
		req, err := http.NewRequest(http.MethodGet, env.URL+"/v1/"+projectID+"/workspaces", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Auth-Token", token)
		return req
	}
}

func TestModelArtsClientProjectScope(t *testing.T) {
	t.Parallel()
	servertest.Each(t, func(t *testing.T, env *servertest.Env) {
		a := env.Account
		b := env.NewAccount(t, "second")

		t.Run("own-project", func(t *testing.T) {
			resp, err := env.ModelArtsClient(t, a.AccessKey, a.SecretKey, a.ProjectID).ListWorkspace(&mamodel.ListWorkspaceRequest{})
			if err != nil {
				t.Fatalf("ListWorkspace: %v", err)
			}
			var ids []string
			if resp.Workspaces != nil {
				for _, w := range *resp.Workspaces {
					if w.Id != nil {
						ids = append(ids, *w.Id)
					}
				}
			}
			if !contains(ids, "0") {
				t.Errorf("workspaces = %v; want the default workspace 0", ids)
			}
		})

		t.Run("other-accounts-project", func(t *testing.T) {
			_, err := env.ModelArtsClient(t, a.AccessKey, a.SecretKey, b.ProjectID).ListWorkspace(&mamodel.ListWorkspaceRequest{})
			se := servertest.SDKError(t, err)
			if se.StatusCode != http.StatusForbidden || se.ErrorCode != "ModelArts.0210" {
				t.Errorf("ListWorkspace on another account's project: %d %s (%s); want 403 ModelArts.0210", se.StatusCode, se.ErrorCode, se.ErrorMessage)
			}
		})
	})
}
