package policy

import (
	"bytes"
	"reflect"
	"testing"
	"time"
)

// corpus lists every policy form the parser accepts. Stored policies were
// accepted by some version of Parse: removing a form from this list (or
// making it fail) breaks them, so only add to it.
var corpus = []struct{ name, json string }{
	{"minimal-allow", `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["modelarts:trainJob:get"]}]}`},
	{"minimal-deny", `{"Version":"1.1","Statement":[{"Effect":"Deny","Action":["modelarts:trainJob:delete"]}]}`},
	{"effect-lower-case", `{"Version":"1.1","Statement":[{"Effect":"deny","Action":["modelarts:trainJob:delete"]}]}`},
	{"effect-upper-case", `{"Version":"1.1","Statement":[{"Effect":"ALLOW","Action":["modelarts:trainJob:get"]}]}`},
	{"action-as-string", `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":"modelarts:trainJob:get"}]}`},
	{"statement-as-object", `{"Version":"1.1","Statement":{"Effect":"Allow","Action":["modelarts:trainJob:get"]}}`},
	{"fields-in-any-order", `{"Statement":[{"Action":["modelarts:trainJob:get"],"Effect":"Allow"}],"Version":"1.1"}`},
	{"pretty-printed", "{\n  \"Version\": \"1.1\",\n  \"Statement\": [\n    {\n      \"Effect\": \"Allow\",\n      \"Action\": [\n        \"modelarts:trainJob:get\"\n      ]\n    }\n  ]\n}\n"},
	{"several-actions", `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["modelarts:trainJob:get","modelarts:trainJob:list","modelarts:dataset:getDataset"]}]}`},
	{"action-mixed-case", `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["ModelArts:TrainJob:Get"]}]}`},
	{"wildcard-service-all", `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["modelarts:*:*"]}]}`},
	{"wildcard-everything", `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["*:*:*"]}]}`},
	{"wildcard-operation-prefix", `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["modelarts:dataset:get*"]}]}`},
	{"wildcard-type-and-operation-prefix", `{"Version":"1.1","Statement":[{"Effect":"Deny","Action":["modelarts:*:delete*"]}]}`},
	{"wildcard-in-service", `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["model*:*:*"]}]}`},
	{"wildcard-any-service-type", `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["*:object:*"]}]}`},
	{"wildcard-question-mark", `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["modelarts:trainJob:?et"]}]}`},
	{"allow-and-deny", `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["modelarts:*:*"]},{"Effect":"Deny","Action":["modelarts:trainJob:delete"]}]}`},
	{"eight-statements", `{"Version":"1.1","Statement":[` +
		`{"Effect":"Allow","Action":["modelarts:trainJob:get"]},{"Effect":"Allow","Action":["modelarts:trainJob:list"]},` +
		`{"Effect":"Allow","Action":["modelarts:trainJob:create"]},{"Effect":"Allow","Action":["modelarts:trainJob:update"]},` +
		`{"Effect":"Deny","Action":["modelarts:trainJob:delete"]},{"Effect":"Allow","Action":["modelarts:dataset:*"]},` +
		`{"Effect":"Allow","Action":["obs:bucket:ListAllMyBuckets"]},{"Effect":"Allow","Action":["iam:users:listUsers"]}]}`},
	{"resource-bucket", `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["obs:bucket:ListBucket","obs:bucket:HeadBucket"],"Resource":["obs:*:*:bucket:train-data"]}]}`},
	{"resource-object-prefix", `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["obs:object:GetObject"],"Resource":["obs:*:*:object:train-data/*"]}]}`},
	{"resource-service-upper-case", `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["obs:object:*"],"Resource":["OBS:*:*:object:*"]}]}`},
	{"resource-as-string", `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["obs:object:GetObject"],"Resource":"obs:*:*:object:train-data/*"}]}`},
	{"resource-region-account", `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["obs:object:*"],"Resource":["obs:cn-north-4:d-1:object:train-data/output/*","obs:cn-*:*:bucket:train-*"]}]}`},
	{"resource-backslash-and-dots", `{"Version":"1.1","Statement":[{"Effect":"Deny","Action":["obs:object:DeleteObject"],"Resource":["obs:*:*:object:train-data/v1.2/a\\b"]}]}`},
	{"resource-deny-with-allow", `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["obs:*:*"]},{"Effect":"Deny","Action":["obs:object:DeleteObject","obs:object:PutObject"],"Resource":["obs:*:*:object:train-data/raw/*"]}]}`},
	{"condition-string-equals", `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["modelarts:*:*"],"Condition":{"StringEquals":{"g:UserName":["alice","bob"]}}}]}`},
	{"condition-single-string-value", `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["modelarts:*:*"],"Condition":{"StringEquals":{"g:UserName":"alice"}}}]}`},
	{"condition-string-family", `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["modelarts:*:*"],"Condition":{` +
		`"StringNotEquals":{"g:UserName":["mallory"]},"StringEqualsIgnoreCase":{"g:DomainName":["ACME"]},` +
		`"StringNotEqualsIgnoreCase":{"g:ProjectName":["AP-SOUTHEAST-1"]},"StringLike":{"g:UserId":["u-*"]},` +
		`"StringNotLike":{"g:DomainId":["x?"]},"StringMatch":{"g:ProjectId":["p-?"]},"StringNotMatch":{"g:EnterpriseProjectId":["ep-9*"]},` +
		`"StringStartWith":{"g:ServiceName":["model"]},"StringEndWith":{"g:ResourceTag/env":["prod"]},"StringNotStartWith":{"g:RequestTag/owner":["tmp-"]}}}]}`},
	{"condition-string-not-end-with", `{"Version":"1.1","Statement":[{"Effect":"Deny","Action":["modelarts:*:*"],"Condition":{"StringNotEndWith":{"g:DomainName":["acme"]}}}]}`},
	{"condition-ifexists", `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["modelarts:*:*"],"Condition":{"StringEndWithIfExists":{"g:UserName":["ice"]},"NotIpAddressIfExists":{"g:SourceIp":["192.168.0.0/16"]}}}]}`},
	{"condition-numbers", `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["modelarts:*:*"],"Condition":{` +
		`"NumberEquals":{"g:MFAAge":["300"]},"NumberNotEquals":{"g:MFAAge":[1,2]},"NumberLessThan":{"g:MFAAge":"3600"},` +
		`"NumberLessThanEquals":{"g:MFAAge":["3600.5"]},"NumberGreaterThan":{"g:MFAAge":["-1"]},"NumberGreaterThanEquals":{"g:MFAAge":["+0"]}}}]}`},
	{"condition-dates", `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["modelarts:*:*"],"Condition":{` +
		`"DateGreaterThanEquals":{"g:CurrentTime":["2024-01-01"]},"DateLessThan":{"g:CurrentTime":["2025-01-01T00:00:00Z"]},` +
		`"DateLessThanEquals":{"g:CurrentTime":["2025-01-01T08:00:00+08:00"]},"DateGreaterThan":{"g:CurrentTime":["2023-12-31T23:59:59.5-0100"]},` +
		`"DateNotEquals":{"g:CurrentTime":["2024-06-01T12:00"]},"DateEqualsIfExists":{"g:RequestTag/expiry":["2024-06-01T12:00:00,25+02"]}}}]}`},
	{"condition-bool-and-null", `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["modelarts:*:*"],"Condition":{"Bool":{"g:MFAPresent":[true]},"Null":{"g:SourceIp":"false","g:ResourceTag/tmp":["TRUE"]}}}]}`},
	{"condition-ip", `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["modelarts:*:*"],"Condition":{"IpAddress":{"g:SourceIp":["10.0.0.0/8","192.168.1.7","2001:db8::/32","::ffff:172.16.0.0/108"]}}}]}`},
	{"condition-not-ip", `{"Version":"1.1","Statement":[{"Effect":"Deny","Action":["*:*:*"],"Condition":{"NotIpAddress":{"g:SourceIp":["10.0.0.0/8","fd00::/8"]}}}]}`},
	{"condition-set-operators", `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["modelarts:*:*"],"Condition":{` +
		`"ForAnyValue:StringEquals":{"g:TagKeys":["env"]},"ForAllValues:StringLike":{"g:TagKeys":["e*","t*"]},` +
		`"ForAllValues:StringNotEquals":{"g:RequestTag/x":["y"]},"ForAnyValue:StringEqualsIgnoreCaseIfExists":{"g:RequestTag/y":["Z"]}}}]}`},
	{"condition-pool-type", `{"Version":"1.1","Statement":[{"Effect":"Deny","Action":["modelarts:trainJob:create"],"Condition":{"StringEquals":{"modelarts:poolType":["public"]}}}]}`},
	{"condition-names-any-case", `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["modelarts:*:*"],"Condition":{"stringequals":{"G:USERNAME":["alice"]},"forallvalues:stringlikeifexists":{"g:tagkeys":["*"]}}}]}`},
	{"condition-ten-keys", `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["modelarts:*:*"],"Condition":{"StringEquals":{` +
		`"g:UserName":["alice"],"g:UserId":["u-1"],"g:DomainName":["acme"],"g:DomainId":["d-1"],"g:ProjectName":["cn-north-4"],` +
		`"g:ProjectId":["p-1"],"g:EnterpriseProjectId":["ep-1"],"g:ServiceName":["modelarts"]},"IpAddress":{"g:SourceIp":["10.0.0.0/8"]},"Bool":{"g:MFAPresent":["true"]}}}]}`},
	{"condition-escapes-and-unicode", `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["modelarts:*:*"],"Condition":{"StringEquals":{"g:UserName":["\u00e9l\u00e8ve","quote\"back\\slash","<tag>&amp","用户","a\u2028b"]}}}]}`},
	{"resource-and-condition", `{"Version":"1.1","Statement":[{"Effect":"Allow","Action":["obs:object:GetObject","obs:object:PutObject"],"Resource":["obs:*:*:object:train-data/*"],"Condition":{"IpAddress":{"g:SourceIp":["10.0.0.0/8"]}}}]}`},
}

func TestCorpus(t *testing.T) {
	for _, tc := range corpus {
		t.Run(tc.name, func(t *testing.T) {
			d1, err := Parse([]byte(tc.json), testReg)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			out1, err := d1.MarshalJSON()
			if err != nil {
				t.Fatalf("MarshalJSON: %v", err)
			}
			d2, err := Parse(out1, testReg)
			if err != nil {
				t.Fatalf("Parse(MarshalJSON()) = %v; canonical form: %s", err, out1)
			}
			if !reflect.DeepEqual(d1, d2) {
				t.Errorf("round trip changed the document:\n first %+v\nsecond %+v", d1, d2)
			}
			out2, err := d2.MarshalJSON()
			if err != nil || !bytes.Equal(out1, out2) {
				t.Errorf("MarshalJSON is not stable (err %v):\n first %s\nsecond %s", err, out1, out2)
			}
			assertSameDecisions(t, d1, d2)
		})
	}
}

// assertSameDecisions asks both documents the same battery of questions.
func assertSameDecisions(t *testing.T, a, b *Document) {
	t.Helper()
	sa := Compile([]Grant{{PolicyID: "x", Document: a, Scope: Scope{Kind: ScopeAccount}}})
	sb := Compile([]Grant{{PolicyID: "x", Document: b, Scope: Scope{Kind: ScopeAccount}}})
	later := testKeys()
	later.CurrentTime = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	later.SourceIP = "2001:db8::7"
	later.UserName = "bob"
	keySets := []*Keys{nil, testKeys(), later, {UserName: "élève", SourceIP: "192.168.0.1"}}
	resources := []string{"", "obs:cn-north-4:d-1:bucket:train-data", "obs:cn-north-4:d-1:object:train-data/raw/1.jpg",
		"obs:cn-north-4:d-1:object:train-data/output/m.bin", "obs:ap-1:d-2:object:Other/x"}
	actions := append(testReg.Actions(), "ecs:server:list", "MODELARTS:TRAINJOB:GET")
	for _, act := range actions {
		for _, res := range resources {
			for _, k := range keySets {
				r := Request{Action: act, Resource: res, ProjectID: "p-1", Keys: k}
				if ga, gb := sa.Decide(&r), sb.Decide(&r); ga != gb {
					t.Errorf("decision differs after round trip for %+v: %+v vs %+v", r, ga, gb)
				}
			}
		}
	}
}
