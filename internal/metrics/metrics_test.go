package metrics

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func scrape(t *testing.T, m *Metrics) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body)
}

// A nil *Metrics counts nothing and does not fail: the API calls it
// whether or not metrics are on.
func TestNilRecordsNothing(t *testing.T) {
	var m *Metrics
	m.ObserveRequest("GET /x", http.MethodGet, 200, time.Millisecond)
	m.ObserveDecision(DecisionRoute, false, true)
}

// A set's gauges come from one read per scrape; a set whose read fails is
// left out of that scrape and the rest is served.
func TestGaugeReadFailure(t *testing.T) {
	m := New()
	reads := 0
	err := m.AddGauges(
		GaugeSet{Gauges: []Gauge{{Name: "test_ok", Help: "ok", Labels: []string{"k"}}, {Name: "test_too", Help: "too"}},
			Read: func(context.Context) ([][]Sample, error) {
				reads++
				return [][]Sample{{{Labels: []string{"a"}, Value: 2}}, {{Value: 3}}}, nil
			}},
		GaugeSet{Gauges: []Gauge{{Name: "test_broken", Help: "broken"}}, Read: func(context.Context) ([][]Sample, error) {
			return nil, errors.New("database away")
		}},
	)
	if err != nil {
		t.Fatal(err)
	}
	m.ObserveRequest("", http.MethodGet, 404, 3*time.Millisecond)
	m.ObserveDecision(DecisionObject, true, false)
	code, body := scrape(t, m)
	if reads != 1 {
		t.Errorf("one scrape read the set %d times; want once for both its gauges", reads)
	}
	for _, want := range []string{`test_ok{k="a"} 2`, "test_too 3", `atelier_http_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`atelier_authorization_decisions_total{kind="object",result="allow"} 1`} {
		if !strings.Contains(body, want) {
			t.Errorf("scrape (%d) lacks %q:\n%s", code, want, body)
		}
	}
	if strings.Contains(body, "test_broken ") {
		t.Errorf("the failed gauge was served:\n%s", body)
	}
}
