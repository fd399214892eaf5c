package api

import (
	"net/http"

	"github.com/atelier-dev/atelier/internal/iam"
)

// Users and groups: /v3.0/OS-USER/users (Huawei's extended user API) and the
// Keystone /v3/users and /v3/groups APIs.

func (s *Server) userRoutes() []Route {
	g := func(name, method, path, action string, h HandlerFunc) Route {
		return Route{Name: name, Method: method, Path: path, Action: action, Family: "iam", Service: ServiceGlobal, Handler: h}
	}
	create := g("Creating an IAM user", "POST", "/v3.0/OS-USER/users", iam.ActCreateUser, s.createUser)
	show := g("Querying IAM user details", "GET", "/v3.0/OS-USER/users/{user_id}", iam.ActGetUser, s.showUser)
	update := g("Modifying an IAM user", "PUT", "/v3.0/OS-USER/users/{user_id}", iam.ActUpdateUser, s.updateUser)
	return []Route{
		create,
		show,
		update,
		// Keystone's paths for the same three APIs.
		create.alias("Creating an IAM user (Keystone)", "POST", "/v3/users"),
		g("Listing IAM users", "GET", "/v3/users", iam.ActListUsers, s.listUsers),
		show.alias("Querying IAM user details (Keystone)", "GET", "/v3/users/{user_id}"),
		update.alias("Modifying an IAM user (Keystone)", "PATCH", "/v3/users/{user_id}"),
		g("Deleting an IAM user", "DELETE", "/v3/users/{user_id}", iam.ActDeleteUser, s.deleteUser),
		{Name: "Changing one's own password", Method: "POST", Path: "/v3/users/{user_id}/password", Family: "iam", Service: ServiceGlobal, Self: true, Handler: s.changePassword},
		// Atelier's: the link of a labeling member's notification e-mail.
		{Name: "Setting a first password with a setup link (Atelier)", Method: "POST", Path: "/v3.0/OS-USER/password-setup", Family: "iam",
			Service: ServiceGlobal, Public: true, Handler: s.passwordSetup},
		g("Listing the groups of a user", "GET", "/v3/users/{user_id}/groups", iam.ActListGroupsOfUsr, s.userGroups),
		g("Creating a user group", "POST", "/v3/groups", iam.ActCreateGroup, s.createGroup),
		g("Listing user groups", "GET", "/v3/groups", iam.ActListGroups, s.listGroups),
		g("Querying user group details", "GET", "/v3/groups/{group_id}", iam.ActGetGroup, s.showGroup),
		g("Updating a user group", "PATCH", "/v3/groups/{group_id}", iam.ActUpdateGroup, s.updateGroup),
		g("Deleting a user group", "DELETE", "/v3/groups/{group_id}", iam.ActDeleteGroup, s.deleteGroup),
		g("Adding a user to a group", "PUT", "/v3/groups/{group_id}/users/{user_id}", iam.ActAddUserToGroup, s.addMember),
		g("Checking group membership", "HEAD", "/v3/groups/{group_id}/users/{user_id}", iam.ActCheckUserGroup, s.checkMember),
		g("Removing a user from a group", "DELETE", "/v3/groups/{group_id}/users/{user_id}", iam.ActRemoveUserGroup, s.removeMember),
		g("Listing the users of a group", "GET", "/v3/groups/{group_id}/users", iam.ActListUsersForGrp, s.groupUsers),
	}
}

// userJSON carries every field the SDK's user result types read.
func (s *Server) userJSON(r *http.Request, u *iam.User) map[string]any {
	links := map[string]any{"self": s.endpoint(r) + "/v3/users/" + u.ID}
	return map[string]any{
		"id": u.ID, "name": u.Name, "domain_id": u.DomainID, "enabled": u.Enabled, "email": u.Email,
		"description": u.Description, "is_domain_owner": u.IsDomainOwner, "links": links,
		"password_expires_at": "", "pwd_status": u.PwdStatus, "access_mode": u.AccessMode,
		"phone": u.Phone, "areacode": u.AreaCode, "xuser_type": u.XUserType, "xuser_id": u.XUserID,
		"create_time": isoTime(u.CreatedAt), "update_time": isoTime(u.UpdatedAt),
		"last_login_time": isoTimeOrEmpty(u.LastLoginAt), "pwd_create_time": isoTimeOrEmpty(u.PwdChangedAt),
		"modify_pwd_time": isoTimeOrEmpty(u.PwdChangedAt),
	}
}

type userBody struct {
	User struct {
		Name        *string `json:"name"`
		DomainID    *string `json:"domain_id"`
		Password    *string `json:"password"`
		Email       *string `json:"email"`
		Enabled     *bool   `json:"enabled"`
		Description *string `json:"description"`
		Phone       *string `json:"phone"`
		AreaCode    *string `json:"areacode"`
		AccessMode  *string `json:"access_mode"`
		PwdStatus   *bool   `json:"pwd_status"`
		XUserType   *string `json:"xuser_type"`
		XUserID     *string `json:"xuser_id"`
	} `json:"user"`
}

func (b *userBody) profile() iam.Profile {
	return iam.Profile{Phone: b.User.Phone, AreaCode: b.User.AreaCode, AccessMode: b.User.AccessMode,
		PwdStatus: b.User.PwdStatus, XUserType: b.User.XUserType, XUserID: b.User.XUserID}
}

func (s *Server) decodeUser(r *http.Request, c *Call) (*userBody, error) {
	var b userBody
	if err := Decode(r, &b); err != nil {
		return nil, err
	}
	if b.User.DomainID != nil && *b.User.DomainID != c.Principal.DomainID {
		return nil, Errorf(http.StatusForbidden, "IAM.0002", "user.domain_id must be the caller's own domain")
	}
	return &b, nil
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request, c *Call) error {
	b, err := s.decodeUser(r, c)
	if err != nil {
		return err
	}
	in := iam.UserInput{Enabled: b.User.Enabled, Profile: b.profile()}
	if b.User.Name == nil {
		return Errorf(http.StatusBadRequest, "IAM.0007", "user.name is required")
	}
	in.Name = *b.User.Name
	in.Password, in.Email, in.Description = deref(b.User.Password), deref(b.User.Email), deref(b.User.Description)
	u, err := s.iam.CreateUser(r.Context(), c.Principal.DomainID, in)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusCreated, map[string]any{"user": s.userJSON(r, u)})
}

func (s *Server) showUser(w http.ResponseWriter, r *http.Request, c *Call) error {
	u, err := s.iam.GetUser(r.Context(), c.Principal.DomainID, r.PathValue("user_id"))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"user": s.userJSON(r, u)})
}

func (s *Server) updateUser(w http.ResponseWriter, r *http.Request, c *Call) error {
	b, err := s.decodeUser(r, c)
	if err != nil {
		return err
	}
	u, err := s.iam.UpdateUser(r.Context(), c.Principal.DomainID, r.PathValue("user_id"), iam.UserUpdate{
		Name: b.User.Name, Password: b.User.Password, Email: b.User.Email, Description: b.User.Description, Enabled: b.User.Enabled,
		Profile: b.profile()})
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"user": s.userJSON(r, u)})
}

func (s *Server) listUsers(w http.ResponseWriter, r *http.Request, c *Call) error {
	q := r.URL.Query()
	if err := ownDomainQuery(r, c); err != nil {
		return err
	}
	us, err := s.iam.ListUsers(r.Context(), c.Principal.DomainID, q.Get("name"))
	if err != nil {
		return err
	}
	out := make([]map[string]any, 0, len(us))
	for _, u := range us {
		if e := q.Get("enabled"); e != "" && (e == "true") != u.Enabled {
			continue
		}
		out = append(out, s.userJSON(r, u))
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"users": out, "links": s.links(r)})
}

func (s *Server) deleteUser(w http.ResponseWriter, r *http.Request, c *Call) error {
	if err := s.iam.DeleteUser(r.Context(), c.Principal.DomainID, r.PathValue("user_id")); err != nil {
		return err
	}
	return noContent(w)
}

func (s *Server) changePassword(w http.ResponseWriter, r *http.Request, c *Call) error {
	if r.PathValue("user_id") != c.Principal.UserID {
		return Errorf(http.StatusForbidden, "IAM.0002", "users can change only their own password; administrators use PUT /v3.0/OS-USER/users/{user_id}")
	}
	var b struct {
		User struct {
			Password         string `json:"password"`
			OriginalPassword string `json:"original_password"`
		} `json:"user"`
	}
	if err := Decode(r, &b); err != nil {
		return err
	}
	if b.User.Password == "" || b.User.OriginalPassword == "" {
		return Errorf(http.StatusBadRequest, "IAM.0007", "user.password and user.original_password are required")
	}
	if err := s.iam.ChangePassword(r.Context(), c.Principal.UserID, b.User.OriginalPassword, b.User.Password); err != nil {
		return err
	}
	return noContent(w)
}

func (s *Server) userGroups(w http.ResponseWriter, r *http.Request, c *Call) error {
	gs, err := s.iam.UserGroups(r.Context(), c.Principal.DomainID, r.PathValue("user_id"))
	if err != nil {
		return err
	}
	return s.writeGroups(w, r, gs)
}

// --- groups

func (s *Server) groupJSON(r *http.Request, g *iam.Group) map[string]any {
	return map[string]any{"id": g.ID, "name": g.Name, "domain_id": g.DomainID, "description": g.Description,
		"create_time": g.CreatedAt.UnixMilli(), "links": map[string]any{"self": s.endpoint(r) + "/v3/groups/" + g.ID}}
}

type groupBody struct {
	Group struct {
		Name        *string `json:"name"`
		Description *string `json:"description"`
		DomainID    *string `json:"domain_id"`
	} `json:"group"`
}

func (s *Server) decodeGroup(r *http.Request, c *Call) (*groupBody, error) {
	var b groupBody
	if err := Decode(r, &b); err != nil {
		return nil, err
	}
	if b.Group.DomainID != nil && *b.Group.DomainID != c.Principal.DomainID {
		return nil, Errorf(http.StatusForbidden, "IAM.0002", "group.domain_id must be the caller's own domain")
	}
	return &b, nil
}

func (s *Server) createGroup(w http.ResponseWriter, r *http.Request, c *Call) error {
	b, err := s.decodeGroup(r, c)
	if err != nil {
		return err
	}
	if b.Group.Name == nil {
		return Errorf(http.StatusBadRequest, "IAM.0007", "group.name is required")
	}
	g, err := s.iam.CreateGroup(r.Context(), c.Principal.DomainID, *b.Group.Name, deref(b.Group.Description))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusCreated, map[string]any{"group": s.groupJSON(r, g)})
}

func (s *Server) writeGroups(w http.ResponseWriter, r *http.Request, gs []*iam.Group) error {
	out := make([]map[string]any, 0, len(gs))
	for _, g := range gs {
		out = append(out, s.groupJSON(r, g))
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"groups": out, "links": s.links(r)})
}

func (s *Server) listGroups(w http.ResponseWriter, r *http.Request, c *Call) error {
	if err := ownDomainQuery(r, c); err != nil {
		return err
	}
	gs, err := s.iam.ListGroups(r.Context(), c.Principal.DomainID, r.URL.Query().Get("name"))
	if err != nil {
		return err
	}
	return s.writeGroups(w, r, gs)
}

func (s *Server) showGroup(w http.ResponseWriter, r *http.Request, c *Call) error {
	g, err := s.iam.GetGroup(r.Context(), c.Principal.DomainID, r.PathValue("group_id"))
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"group": s.groupJSON(r, g)})
}

func (s *Server) updateGroup(w http.ResponseWriter, r *http.Request, c *Call) error {
	b, err := s.decodeGroup(r, c)
	if err != nil {
		return err
	}
	g, err := s.iam.UpdateGroup(r.Context(), c.Principal.DomainID, r.PathValue("group_id"), b.Group.Name, b.Group.Description)
	if err != nil {
		return err
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"group": s.groupJSON(r, g)})
}

func (s *Server) deleteGroup(w http.ResponseWriter, r *http.Request, c *Call) error {
	if err := s.iam.DeleteGroup(r.Context(), c.Principal.DomainID, r.PathValue("group_id")); err != nil {
		return err
	}
	return noContent(w)
}

func (s *Server) addMember(w http.ResponseWriter, r *http.Request, c *Call) error {
	if err := s.iam.AddUserToGroup(r.Context(), c.Principal.DomainID, r.PathValue("group_id"), r.PathValue("user_id")); err != nil {
		return err
	}
	return noContent(w)
}

func (s *Server) checkMember(w http.ResponseWriter, r *http.Request, c *Call) error {
	ok, err := s.iam.IsUserInGroup(r.Context(), c.Principal.DomainID, r.PathValue("group_id"), r.PathValue("user_id"))
	if err != nil {
		return err
	}
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		return nil
	}
	return noContent(w)
}

func (s *Server) removeMember(w http.ResponseWriter, r *http.Request, c *Call) error {
	if err := s.iam.RemoveUserFromGroup(r.Context(), c.Principal.DomainID, r.PathValue("group_id"), r.PathValue("user_id")); err != nil {
		return err
	}
	return noContent(w)
}

func (s *Server) groupUsers(w http.ResponseWriter, r *http.Request, c *Call) error {
	us, err := s.iam.GroupUsers(r.Context(), c.Principal.DomainID, r.PathValue("group_id"))
	if err != nil {
		return err
	}
	out := make([]map[string]any, 0, len(us))
	for _, u := range us {
		out = append(out, s.userJSON(r, u))
	}
	return WriteJSON(w, http.StatusOK, map[string]any{"users": out, "links": s.links(r)})
}

// ownDomainQuery refuses a ?domain_id= filter naming another account:
// IAM lists only ever cover the caller's own account.
func ownDomainQuery(r *http.Request, c *Call) error {
	if d := r.URL.Query().Get("domain_id"); d != "" && d != c.Principal.DomainID {
		return Errorf(http.StatusForbidden, "IAM.0002", "domain_id must be the caller's own domain")
	}
	return nil
}

// passwordSetup sets a user's first password with the token of a setup
// link (iam.RedeemPasswordSetup); the token is the caller's only
// credential, so the route is public.
func (s *Server) passwordSetup(w http.ResponseWriter, r *http.Request, c *Call) error {
	var body struct {
		Token    string `json:"token"`
		Password string `json:"password"`
	}
	if err := Decode(r, &body); err != nil {
		return err
	}
	if err := s.iam.RedeemPasswordSetup(r.Context(), body.Token, body.Password); err != nil {
		return err
	}
	return noContent(w)
}
