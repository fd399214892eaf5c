package policy

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func repeatJoin(s string, n int) string {
	parts := make([]string, n)
	for i := range parts {
		parts[i] = s
	}
	return strings.Join(parts, ",")
}

func stmtWithCond(cond string) string {
	return pol(`{"Effect":"Allow","Action":["modelarts:trainJob:get"],"Condition":` + cond + `}`)
}

func stmtWithResource(res string) string {
	return pol(`{"Effect":"Allow","Action":["obs:object:GetObject"],"Resource":` + res + `}`)
}

func stmtWithAction(act string) string {
	return pol(`{"Effect":"Allow","Action":` + act + `}`)
}

func TestParseErrors(t *testing.T) {
	manyActions := `["` + strings.Repeat(`modelarts:trainJob:get","`, 100) + `modelarts:trainJob:get"]`
	bigStatement := `{"Effect":"Allow","Action":["` + strings.Repeat(`modelarts:trainJob:get","`, 99) + `modelarts:trainJob:get"]}`
	elevenConds := `{"StringEquals":{` + func() string {
		var kv []string
		for i := 0; i < 11; i++ {
			kv = append(kv, fmt.Sprintf(`"g:ResourceTag/k%d":["v"]`, i))
		}
		return strings.Join(kv, ",")
	}() + `}}`
	cases := []struct {
		name string
		raw  string
		code string
		loc  string // the message must start with loc + ":"
		text string // and contain this
	}{
		// Malformed documents.
		{"not-json", `{"Version":`, "IAM.1001", "policy", "not valid JSON"},
		{"garbage", `hello`, "IAM.1001", "policy", "not valid JSON"},
		{"empty-input", ``, "IAM.1001", "policy", "unexpected end"},
		{"trailing-data", pol(allowTrainGet) + ` {}`, "IAM.1001", "policy", "after the document"},
		{"invalid-utf8", "{\"Version\":\"1.1\xff\"}", "IAM.1001", "policy", "UTF-8"},
		{"duplicate-field", `{"Version":"1.1","Version":"1.1","Statement":[` + allowTrainGet + `]}`, "IAM.1001", "policy", `"Version" appears twice`},
		{"duplicate-field-in-statement", pol(`{"Effect":"Allow","Effect":"Deny","Action":["modelarts:trainJob:get"]}`), "IAM.1001", "policy", `"Effect" appears twice`},
		{"nested-too-deeply", `{"Version":"1.1","Statement":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, "IAM.1001", "policy", "nested too deeply"},
		{"top-level-array", `[]`, "IAM.1002", "policy", "must be a JSON object"},
		{"top-level-null", `null`, "IAM.1002", "policy", "not null"},

		// Version.
		{"version-missing", `{"Statement":[` + allowTrainGet + `]}`, "IAM.1003", "Version", "required"},
		{"version-number", `{"Version":1.1,"Statement":[` + allowTrainGet + `]}`, "IAM.1002", "Version", "not a number"},
		{"version-role", `{"Version":"1.0","Statement":[` + allowTrainGet + `]}`, "IAM.1006", "Version", "role"},
		{"version-aws", `{"Version":"2012-10-17","Statement":[` + allowTrainGet + `]}`, "IAM.1006", "Version", "not supported"},

		// Unknown fields.
		{"unknown-top-field", `{"Version":"1.1","Id":"x","Statement":[` + allowTrainGet + `]}`, "IAM.1059", "policy", `unknown field "Id"`},
		{"lower-case-field", `{"version":"1.1","Statement":[` + allowTrainGet + `]}`, "IAM.1059", "policy", `write "Version"`},
		{"unknown-statement-field", pol(`{"Sid":"x","Effect":"Allow","Action":["modelarts:trainJob:get"]}`), "IAM.1059", "Statement[0]", `unknown field "Sid"`},
		{"not-action", pol(`{"Effect":"Allow","NotAction":["modelarts:trainJob:get"]}`), "IAM.1059", "Statement[0]", "NotAction is not supported"},
		{"not-resource", pol(`{"Effect":"Allow","Action":["obs:*:*"],"NotResource":["obs:*:*:bucket:x"]}`), "IAM.1059", "Statement[0]", "NotResource is not supported"},
		{"principal", pol(`{"Effect":"Allow","Principal":"*","Action":["obs:*:*"]}`), "IAM.1059", "Statement[0]", "Principal is not supported"},

		// Statements.
		{"statement-missing", `{"Version":"1.1"}`, "IAM.1003", "Statement", "required"},
		{"statement-string", `{"Version":"1.1","Statement":"x"}`, "IAM.1002", "Statement", "not a string"},
		{"statement-empty", `{"Version":"1.1","Statement":[]}`, "IAM.1028", "Statement", "has 0 statements"},
		{"statement-nine", pol(repeatJoin(allowTrainGet, 9)), "IAM.1028", "Statement", "has 9 statements"},
		{"statement-not-object", pol(allowTrainGet, `"x"`), "IAM.1002", "Statement[1]", "must be a JSON object"},

		// Effect.
		{"effect-missing", pol(`{"Action":["modelarts:trainJob:get"]}`), "IAM.1003", "Statement[0].Effect", "required"},
		{"effect-unknown", pol(`{"Effect":"Permit","Action":["modelarts:trainJob:get"]}`), "IAM.1029", "Statement[0].Effect", `"Permit"`},
		{"effect-number", pol(`{"Effect":1,"Action":["modelarts:trainJob:get"]}`), "IAM.1002", "Statement[0].Effect", "not a number"},

		// Actions.
		{"action-missing", pol(`{"Effect":"Allow"}`), "IAM.1003", "Statement[0].Action", "required"},
		{"action-number", stmtWithAction(`1`), "IAM.1002", "Statement[0].Action", "not a number"},
		{"action-element-number", stmtWithAction(`["modelarts:trainJob:get",7]`), "IAM.1002", "Statement[0].Action[1]", "must be a string"},
		{"action-empty-list", stmtWithAction(`[]`), "IAM.1033", "Statement[0].Action", "has 0 actions"},
		{"action-101", stmtWithAction(manyActions), "IAM.1033", "Statement[0].Action", "has 101 actions"},
		{"action-too-long", stmtWithAction(`["modelarts:trainJob:` + strings.Repeat("x", 110) + `"]`), "IAM.1034", "Statement[0].Action[0]", "limit is 128"},
		{"action-two-parts", stmtWithAction(`["modelarts:get"]`), "IAM.1035", "Statement[0].Action[0]", "three parts"},
		{"action-four-parts", stmtWithAction(`["modelarts:a:b:c"]`), "IAM.1035", "Statement[0].Action[0]", "three parts"},
		{"action-empty-part", stmtWithAction(`["modelarts::get"]`), "IAM.1035", "Statement[0].Action[0]", "empty part"},
		{"action-empty-string", stmtWithAction(`[""]`), "IAM.1035", "Statement[0].Action[0]", "is empty"},
		{"action-space", stmtWithAction(`["modelarts:train job:get"]`), "IAM.1035", "Statement[0].Action[0]", "character ' '"},
		{"action-bare-star", stmtWithAction(`["*"]`), "IAM.1035", "Statement[0].Action[0]", "three parts"},
		{"action-unregistered", pol(allowTrainGet, allowTrainGet, `{"Effect":"Allow","Action":["modelarts:foo:bar"]}`), "IAM.1036", "Statement[2].Action[0]", `action "modelarts:foo:bar" is not registered`},
		{"action-wildcard-matches-nothing", stmtWithAction(`["modelarts:trainJob:get","modelarts:foo*:*"]`), "IAM.1036", "Statement[0].Action[1]", "matches no registered action"},
		{"action-wildcard-other-service", stmtWithAction(`["ecs:*:*"]`), "IAM.1036", "Statement[0].Action[0]", "matches no registered action"},

		// Resources.
		{"resource-empty-list", stmtWithResource(`[]`), "IAM.1037", "Statement[0].Resource", "has 0 resources"},
		{"resource-21", stmtWithResource(`[` + repeatJoin(`"obs:*:*:object:a/*"`, 21) + `]`), "IAM.1037", "Statement[0].Resource", "has 21 resources"},
		{"resource-number", stmtWithResource(`5`), "IAM.1002", "Statement[0].Resource", "not a number"},
		{"resource-element-object", stmtWithResource(`[{}]`), "IAM.1002", "Statement[0].Resource[0]", "not an object"},
		{"resource-empty-string", stmtWithResource(`["obs:*:*:object:a","" ]`), "IAM.1041", "Statement[0].Resource[1]", "empty"},
		{"resource-too-long", stmtWithResource(`["obs:*:*:object:` + strings.Repeat("a", 1500) + `"]`), "IAM.1042", "Statement[0].Resource[0]", "limit is 1500"},
		{"resource-space", stmtWithResource(`["obs:*:*:object:my bucket/*"]`), "IAM.1043", "Statement[0].Resource[0]", "contains a space"},
		{"resource-bad-character", stmtWithResource(`["obs:*:*:object:a?b"]`), "IAM.1043", "Statement[0].Resource[0]", "'?'"},
		{"resource-too-few-parts", stmtWithResource(`["obs:bucket:data"]`), "IAM.1044", "Statement[0].Resource[0]", "service:region:accountID:resourceType:path"},
		{"resource-bare-star", stmtWithResource(`["*"]`), "IAM.1044", "Statement[0].Resource[0]", "service:region:accountID:resourceType:path"},
		{"resource-empty-segment", stmtWithResource(`["obs::*:bucket:data"]`), "IAM.1044", "Statement[0].Resource[0]", "empty region"},
		{"resource-empty-path", stmtWithResource(`["obs:*:*:bucket:"]`), "IAM.1044", "Statement[0].Resource[0]", "empty path"},

		// Conditions.
		{"condition-not-object", stmtWithCond(`[]`), "IAM.1002", "Statement[0].Condition", "not an array"},
		{"condition-empty", stmtWithCond(`{}`), "IAM.1050", "Statement[0].Condition", "is empty"},
		{"condition-operator-empty", stmtWithCond(`{"StringEquals":{}}`), "IAM.1050", "Statement[0].Condition.StringEquals", "names no condition key"},
		{"condition-operator-not-object", stmtWithCond(`{"StringEquals":"x"}`), "IAM.1002", "Statement[0].Condition.StringEquals", "not a string"},
		{"condition-eleven", stmtWithCond(elevenConds), "IAM.1050", "Statement[0].Condition.StringEquals.g:ResourceTag/k10", "more than 10"},
		{"condition-eleven-across-operators", stmtWithCond(`{"StringEquals":{` + repeatKeys(6) + `},"StringLike":{` + repeatKeys(5) + `}}`), "IAM.1050", "Statement[0].Condition.StringLike.g:ResourceTag/k4", "more than 10"},
		{"operator-unknown", stmtWithCond(`{"StringContains":{"g:UserName":["a"]}}`), "IAM.1051", "Statement[0].Condition.StringContains", "unknown condition operator"},
		{"operator-aws-numeric", stmtWithCond(`{"NumericEquals":{"g:MFAAge":["1"]}}`), "IAM.1051", "Statement[0].Condition.NumericEquals", "unknown condition operator"},
		{"operator-bad-prefix", stmtWithCond(`{"ForEachValue:StringEquals":{"g:TagKeys":["a"]}}`), "IAM.1051", "Statement[0].Condition.ForEachValue:StringEquals", "unknown"},
		{"operator-null-qualified", stmtWithCond(`{"ForAnyValue:Null":{"g:TagKeys":["true"]}}`), "IAM.1051", "Statement[0].Condition.ForAnyValue:Null", "Null takes neither"},
		{"operator-null-ifexists", stmtWithCond(`{"NullIfExists":{"g:UserName":["true"]}}`), "IAM.1051", "Statement[0].Condition.NullIfExists", "Null takes neither"},
		{"operator-duplicate-case", stmtWithCond(`{"StringEquals":{"g:UserName":["a"]},"stringequals":{"g:UserId":["b"]}}`), "IAM.1051", "Statement[0].Condition.stringequals", "appears twice"},
		{"key-unknown", stmtWithCond(`{"StringEquals":{"g:Foo":["a"]}}`), "IAM.1059", "Statement[0].Condition.StringEquals.g:Foo", `unknown condition key "g:Foo"`},
		{"key-aws", stmtWithCond(`{"StringEquals":{"aws:username":["a"]}}`), "IAM.1059", "Statement[0].Condition.StringEquals.aws:username", "unknown condition key"},
		{"key-tag-empty", stmtWithCond(`{"StringEquals":{"g:ResourceTag/":["a"]}}`), "IAM.1059", "Statement[0].Condition.StringEquals.g:ResourceTag/", "must be 1–128"},
		{"key-time-string-operator", stmtWithCond(`{"StringEquals":{"g:CurrentTime":["2024-01-01"]}}`), "IAM.1052", "Statement[0].Condition.StringEquals.g:CurrentTime", "use a Date operator"},
		{"values-empty", stmtWithCond(`{"StringEquals":{"g:UserName":[]}}`), "IAM.1053", "Statement[0].Condition.StringEquals.g:UserName", "no values"},
		{"value-null", stmtWithCond(`{"StringEquals":{"g:UserName":null}}`), "IAM.1002", "Statement[0].Condition.StringEquals.g:UserName", "not null"},
		{"value-element-object", stmtWithCond(`{"StringEquals":{"g:UserName":["a",{}]}}`), "IAM.1002", "Statement[0].Condition.StringEquals.g:UserName[1]", "not an object"},
		{"value-bad-number", stmtWithCond(`{"NumberEquals":{"g:MFAAge":["12a"]}}`), "IAM.1055", "Statement[0].Condition.NumberEquals.g:MFAAge[0]", "decimal number"},
		{"value-number-exponent", stmtWithCond(`{"NumberLessThan":{"g:MFAAge":["1",1e3]}}`), "IAM.1055", "Statement[0].Condition.NumberLessThan.g:MFAAge[1]", "decimal number"},
		{"value-bad-month", stmtWithCond(`{"DateLessThan":{"g:CurrentTime":["2024-13-01T00:00:00Z"]}}`), "IAM.1055", "Statement[0].Condition.DateLessThan.g:CurrentTime[0]", "ISO 8601"},
		{"value-bad-day", stmtWithCond(`{"DateLessThan":{"g:CurrentTime":["2023-02-29"]}}`), "IAM.1055", "Statement[0].Condition.DateLessThan.g:CurrentTime[0]", "ISO 8601"},
		{"value-not-date", stmtWithCond(`{"DateGreaterThan":{"g:CurrentTime":["yesterday"]}}`), "IAM.1055", "Statement[0].Condition.DateGreaterThan.g:CurrentTime[0]", "ISO 8601"},
		{"value-bad-cidr", stmtWithCond(`{"IpAddress":{"g:SourceIp":["10.0.0.0/33"]}}`), "IAM.1055", "Statement[0].Condition.IpAddress.g:SourceIp[0]", "CIDR"},
		{"value-bad-ip", stmtWithCond(`{"NotIpAddress":{"g:SourceIp":["10.0.0.1","10.0.0.300"]}}`), "IAM.1055", "Statement[0].Condition.NotIpAddress.g:SourceIp[1]", "CIDR"},
		{"value-ip-zone", stmtWithCond(`{"IpAddress":{"g:SourceIp":["fe80::1%eth0"]}}`), "IAM.1055", "Statement[0].Condition.IpAddress.g:SourceIp[0]", "CIDR"},
		{"value-bad-bool", stmtWithCond(`{"Bool":{"g:MFAPresent":["yes"]}}`), "IAM.1055", "Statement[0].Condition.Bool.g:MFAPresent[0]", `"true" or "false"`},
		{"value-bad-null", stmtWithCond(`{"Null":{"g:UserName":["maybe"]}}`), "IAM.1055", "Statement[0].Condition.Null.g:UserName[0]", `"true" or "false"`},
		{"value-control-character", stmtWithCond(`{"StringEquals":{"g:UserName":["a\nb"]}}`), "IAM.1055", "Statement[0].Condition.StringEquals.g:UserName[0]", "control character"},
		{"value-empty", stmtWithCond(`{"StringEquals":{"g:UserName":[""]}}`), "IAM.1056", "Statement[0].Condition.StringEquals.g:UserName[0]", "1–1024"},
		{"value-too-long", stmtWithCond(`{"StringEquals":{"g:UserName":["` + strings.Repeat("é", 1025) + `"]}}`), "IAM.1056", "Statement[0].Condition.StringEquals.g:UserName[0]", "1025 characters"},

		// Size.
		{"policy-too-long", pol(bigStatement, bigStatement, bigStatement), "IAM.1021", "policy", "limit is 6144"},
		{"input-too-large", pol(allowTrainGet) + strings.Repeat(" ", 70000), "IAM.1021", "policy", "bytes of input"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Parse([]byte(tc.raw), testReg)
			if err == nil {
				t.Fatalf("Parse accepted an invalid policy: %+v", d)
			}
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error is %T (%v), want *Error", err, err)
			}
			if pe.Code != tc.code {
				t.Errorf("code = %s, want %s (message %q)", pe.Code, tc.code, pe.Message)
			}
			if !strings.HasPrefix(pe.Message, tc.loc+": ") {
				t.Errorf("message %q does not start with location %q", pe.Message, tc.loc+": ")
			}
			if !strings.Contains(pe.Message, tc.text) {
				t.Errorf("message %q does not contain %q", pe.Message, tc.text)
			}
		})
	}
}

func repeatKeys(n int) string {
	kv := make([]string, n)
	for i := range kv {
		kv[i] = fmt.Sprintf(`"g:ResourceTag/k%d":["v"]`, i)
	}
	return strings.Join(kv, ",")
}

func TestParseLimitsAccepted(t *testing.T) {
	cases := []struct{ name, raw string }{
		{"eight-statements", pol(repeatJoin(allowTrainGet, 8))},
		{"hundred-actions", stmtWithAction(`["` + strings.Repeat(`modelarts:trainJob:get","`, 99) + `modelarts:trainJob:get"]`)},
		{"action-128-characters", stmtWithAction(`["modelarts:trainJob:g` + strings.Repeat("*", 128-len("modelarts:trainJob:g")) + `"]`)},
		{"twenty-resources", stmtWithResource(`[` + repeatJoin(`"obs:*:*:object:a/*"`, 20) + `]`)},
		{"resource-1500-characters", stmtWithResource(`["obs:*:*:object:` + strings.Repeat("a", 1500-len("obs:*:*:object:")) + `"]`)},
		{"ten-conditions", stmtWithCond(`{"StringEquals":{` + repeatKeys(10) + `}}`)},
		{"value-1024-characters", stmtWithCond(`{"StringEquals":{"g:UserName":["` + strings.Repeat("é", 1024) + `"]}}`)},
		{"whitespace-not-counted", "{\n  \"Version\": \"1.1\",\n  \"Statement\": [\n" + strings.Repeat(" ", 8000) + allowTrainGet + "\n  ]\n}"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse([]byte(tc.raw), testReg); err != nil {
				t.Fatalf("Parse rejected a policy within the limits: %v", err)
			}
		})
	}
}

func TestParseNilRegistry(t *testing.T) {
	_, err := Parse([]byte(pol(allowTrainGet)), nil)
	var pe *Error
	if !errors.As(err, &pe) || pe.Code != codeActionUnknown {
		t.Fatalf("Parse with nil registry: got %v, want %s", err, codeActionUnknown)
	}
}

func TestParseRegistryCaseInsensitive(t *testing.T) {
	if _, err := Parse([]byte(pol(`{"Effect":"Allow","Action":["MODELARTS:TRAINJOB:GET"]}`)), testReg); err != nil {
		t.Fatalf("upper-case spelling of a registered action rejected: %v", err)
	}
}
