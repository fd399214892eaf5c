package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/atelier-dev/atelier/internal/iam"
	"github.com/atelier-dev/atelier/internal/iam/authn"
	"github.com/atelier-dev/atelier/internal/iam/policy"
	"github.com/atelier-dev/atelier/internal/store"
	"github.com/atelier-dev/atelier/internal/store/storetest"
)

// A route with related OBS actions is allowed only when the caller holds the
// route's action and every related action on the objects the handler names;
// a denial is a 403 naming the action and the resource, before any side effect.
func TestRelatedActionsEnforced(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		related := []string{"obs:bucket:ListBucket", "obs:object:PutObject"}
		svc, err := iam.NewService(ctx, db, iam.NewCatalog([]string{"modelarts:dataset:createDataset", "modelarts:trainJob:previewLog"}), iam.Options{})
		if err != nil {
			t.Fatal(err)
		}
		acct, err := svc.CreateAccount(ctx, iam.AccountInput{DomainName: "acme", Region: "r-1"})
		if err != nil {
			t.Fatal(err)
		}
		codec, err := authn.NewCodec(bytes.Repeat([]byte("k"), 32))
		if err != nil {
			t.Fatal(err)
		}
		sideEffects := 0
		handler := func(w http.ResponseWriter, r *http.Request, c *Call) error {
			if err := c.AuthorizeObjects(ObjectRef{Bucket: "data", Key: "images/"}); err != nil {
				return err
			}
			sideEffects++
			return WriteJSON(w, http.StatusCreated, map[string]string{"ok": "yes"})
		}
		s, err := newServer(Config{IAM: svc, Tokens: codec, Region: "r-1", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}, func(s *Server) []Route {
			return []Route{{Name: "create", Method: "POST", Path: "/v2/{project_id}/things", Action: "modelarts:dataset:createDataset",
				Related: related, Family: "data", Service: ServiceModelArts, Handler: handler}}
		})
		if err != nil {
			t.Fatal(err)
		}
		// A user holding the ModelArts action, and OBS actions as the case says.
		user, err := svc.CreateUser(ctx, acct.DomainID, iam.UserInput{Name: "dana", Password: "Dana-pass1"})
		if err != nil {
			t.Fatal(err)
		}
		group, err := svc.CreateGroup(ctx, acct.DomainID, "data-team", "")
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.AddUserToGroup(ctx, acct.DomainID, group.ID, user.ID); err != nil {
			t.Fatal(err)
		}
		grant := func(name, typ, doc string, scope policy.Scope) {
			t.Helper()
			p, err := svc.CreateCustomPolicy(ctx, acct.DomainID, iam.PolicyInput{DisplayName: name, Type: typ, Document: []byte(doc)})
			if err != nil {
				t.Fatal(err)
			}
			if err := svc.Grant(ctx, acct.DomainID, group.ID, p.ID, scope); err != nil {
				t.Fatal(err)
			}
		}
		grant("ma", "XA", `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["modelarts:dataset:createDataset"]}]}`,
			policy.Scope{Kind: policy.ScopeProject, ID: acct.ProjectID})
		snap, err := svc.Snapshot(ctx, user.ID)
		if err != nil {
			t.Fatal(err)
		}
		token, err := codec.Issue(authn.Claims{UserID: user.ID, DomainID: acct.DomainID, ProjectID: acct.ProjectID, Methods: []string{"password"},
			IssuedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour), CredentialEpoch: snap.User.CredentialEpoch})
		if err != nil {
			t.Fatal(err)
		}
		call := func() (int, string) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("POST", "/v2/"+acct.ProjectID+"/things", strings.NewReader(`{}`))
			req.Header.Set("X-Auth-Token", token)
			s.ServeHTTP(rec, req)
			return rec.Code, rec.Body.String()
		}

		code, body := call()
		var env struct {
			ErrorCode string `json:"error_code"`
			ErrorMsg  string `json:"error_msg"`
		}
		if err := json.Unmarshal([]byte(body), &env); err != nil {
			t.Fatalf("error body %q is not the envelope: %v", body, err)
		}
		if code != http.StatusForbidden || env.ErrorCode != codeNotAuthorized ||
			!strings.Contains(env.ErrorMsg, "obs:bucket:ListBucket") || !strings.Contains(env.ErrorMsg, "bucket:data") {
			t.Fatalf("ModelArts action without OBS actions: %d %s; want 403 naming obs:bucket:ListBucket on bucket data", code, body)
		}
		// Bucket listing granted on another bucket only: still denied.
		grant("obs-other", "AX", `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["obs:bucket:ListBucket","obs:object:PutObject"],"Resource":["obs:*:*:bucket:other","obs:*:*:object:other/*"]}]}`,
			policy.Scope{Kind: policy.ScopeAccount, ID: acct.DomainID})
		if code, body := call(); code != http.StatusForbidden || !strings.Contains(body, "obs:bucket:ListBucket") {
			t.Fatalf("OBS actions on another bucket: %d %s; want 403", code, body)
		}
		// Listing allowed on the bucket, writing not: the 403 names PutObject and the object.
		grant("obs-list", "AX", `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["obs:bucket:ListBucket"],"Resource":["obs:*:*:bucket:data"]}]}`,
			policy.Scope{Kind: policy.ScopeAccount, ID: acct.DomainID})
		if code, body := call(); code != http.StatusForbidden || !strings.Contains(body, "obs:object:PutObject") || !strings.Contains(body, "object:data/images/") {
			t.Fatalf("without PutObject: %d %s; want 403 naming obs:object:PutObject on data/images/", code, body)
		}
		// A project-scoped OBS grant does not count: OBS is a global service.
		grant("obs-put-project", "XA", `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["obs:object:PutObject"]}]}`,
			policy.Scope{Kind: policy.ScopeProject, ID: acct.ProjectID})
		if code, body := call(); code != http.StatusForbidden {
			t.Fatalf("PutObject granted only on a project: %d %s; want 403", code, body)
		}
		if sideEffects != 0 {
			t.Fatalf("handler ran its side effect %d times while denied", sideEffects)
		}
		grant("obs-put", "AX", `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["obs:object:PutObject"],"Resource":["obs:*:*:object:data/*"]}]}`,
			policy.Scope{Kind: policy.ScopeAccount, ID: acct.DomainID})
		if code, body := call(); code != http.StatusCreated || sideEffects != 1 {
			t.Fatalf("with every related action: %d %s (side effects %d); want 201", code, body, sideEffects)
		}
	})
}
