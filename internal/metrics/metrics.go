// Package metrics owns the server's Prometheus metrics: the registry, the
// request and authorization counters the API layer feeds, and gauges read
// at scrape time from functions the server hands it (task queue, training
// jobs). It exposes them in Prometheus' text format for --metrics-listen.
//
// Labels are bounded on purpose: a route is its route-table pattern
// ("GET /v2/{project_id}/datasets/{dataset_id}"), never a path with IDs, and
// nothing names a tenant, a user or an object, so the endpoint carries
// aggregate figures only.
package metrics

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is one server's set of metrics. A nil *Metrics records nothing,
// so that code paths need not ask whether metrics are on.
type Metrics struct {
	reg       *prometheus.Registry
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	decisions *prometheus.CounterVec
}

// Unmatched is the route label of a request no route matched.
const Unmatched = "unmatched"

// New makes the registry with the request and authorization metrics and Go's
// and the process's own.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "atelier_http_requests_total",
			Help: "HTTP requests answered, by route-table pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "atelier_http_request_duration_seconds",
			Help: "Time from a request's arrival to its handler's return, by route-table pattern and method.",
			// From a cached authorization (well under a millisecond) to a
			// large upload or a slow page.
			Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}, []string{"route", "method"}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "atelier_authorization_decisions_total",
			Help: "Authorization decisions, by what was decided (a route's action, an object's) and result (allow, deny: no statement allowed, explicit_deny: a Deny statement matched).",
		}, []string{"kind", "result"}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.decisions,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Handler serves the metrics in Prometheus' exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// ObserveRequest counts one answered request.
func (m *Metrics) ObserveRequest(route, method string, code int, took time.Duration) {
	if m == nil {
		return
	}
	if route == "" {
		route = Unmatched
	}
	m.requests.WithLabelValues(route, method, strconv.Itoa(code)).Inc()
	m.latency.WithLabelValues(route, method).Observe(took.Seconds())
}

// Decision kinds.
const (
	DecisionRoute  = "route"
	DecisionObject = "object"
)

// ObserveDecision counts one authorization decision.
func (m *Metrics) ObserveDecision(kind string, allowed, explicitDeny bool) {
	if m == nil {
		return
	}
	result := "allow"
	switch {
	case explicitDeny:
		result = "explicit_deny"
	case !allowed:
		result = "deny"
	}
	m.decisions.WithLabelValues(kind, result).Inc()
}

// Sample is one value of a gauge read at scrape time, with its label values
// in the order the gauge declares its labels.
type Sample struct {
	Labels []string
	Value  float64
}

// Gauge declares a gauge whose samples read calls at every scrape (with a
// deadline of its own: a slow database must not stall the scrape). A read
// that fails leaves the gauge out of that scrape and reports the error to
// the scraper, which marks the scrape as partial.
type Gauge struct {
	Name   string
	Help   string
	Labels []string
	Read   func(ctx context.Context) ([]Sample, error)
}

// AddGauges registers gauges read at scrape time.
func (m *Metrics) AddGauges(gs ...Gauge) error {
	for _, g := range gs {
		if err := m.reg.Register(&gaugeCollector{g: g, desc: prometheus.NewDesc(g.Name, g.Help, g.Labels, nil)}); err != nil {
			return err
		}
	}
	return nil
}

// scrapeTimeout bounds each gauge's read.
const scrapeTimeout = 5 * time.Second

type gaugeCollector struct {
	g    Gauge
	desc *prometheus.Desc
}

func (c *gaugeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *gaugeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	samples, err := c.g.Read(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	for _, s := range samples {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, s.Value, s.Labels...)
	}
}
