package workforce

import (
	"strings"
	"unicode/utf8"
)

// forbiddenDescription are the characters the reference excludes from
// team and member descriptions.
const forbiddenDescription = "^!<>=&\"'"

func checkName(field, name string) error {
	n := utf8.RuneCountInString(name)
	if n < 1 || n > 64 {
		return invalid("Invalid parameter(%s): the name must be 1 to 64 characters.", field)
	}
	for _, r := range name {
		if !(r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return invalid("Invalid parameter(%s): only letters, digits, underscores (_) and hyphens (-) are allowed.", field)
		}
	}
	return nil
}

func checkDescription(d string) error {
	if utf8.RuneCountInString(d) > 256 {
		return invalid("Invalid parameter(description): at most 256 characters.")
	}
	if strings.ContainsAny(d, forbiddenDescription) {
		return invalid("Invalid parameter(description): the characters ^!<>=&\"' are not allowed.")
	}
	return nil
}

// checkEmail accepts one address: something@something, no spaces, at most
// 255 characters (what an IAM user's email attribute holds).
func checkEmail(e string) error {
	at := strings.IndexByte(e, '@')
	if e == "" {
		return invalid("Invalid parameter(emails): the member's e-mail address is required.")
	}
	if len(e) > 255 || at < 1 || at == len(e)-1 || strings.ContainsAny(e, " \t\r\n,;") || strings.Count(e, "@") != 1 {
		return invalid("Invalid parameter(emails): %q is not one e-mail address.", e)
	}
	return nil
}

func checkRole(r *int, update bool) error {
	if r == nil {
		return invalid("Invalid parameter(role): the member's role is required (0 labeler, 1 reviewer, 2 team administrator).")
	}
	hi := RoleTeamAdmin
	if update {
		hi = RoleDatasetOwner
	}
	if *r < 0 || *r > hi {
		if update {
			return invalid("Invalid parameter(role): want 0 (labeler), 1 (reviewer), 2 (team administrator) or 3 (dataset owner).")
		}
		return invalid("Invalid parameter(role): want 0 (labeler), 1 (reviewer) or 2 (team administrator).")
	}
	return nil
}
