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
	"fmt"
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

// Gauge declares a gauge read at scrape time.
type Gauge struct {
	Name   string
	Help   string
	Labels []string
}

// GaugeSet is gauges read together at every scrape, from one read (one
// query serves several gauges): Read returns each gauge's samples, in the
// order of Gauges, within a deadline of its own (a slow database must not
// stall the scrape). A read that fails leaves the set's gauges out of that
// scrape and reports the error to the scraper.
type GaugeSet struct {
	Gauges []Gauge
	Read   func(ctx context.Context) ([][]Sample, error)
}

// AddGauges registers gauges read at scrape time.
func (m *Metrics) AddGauges(sets ...GaugeSet) error {
	for _, set := range sets {
		c := &gaugeCollector{read: set.Read}
		for _, g := range set.Gauges {
			c.descs = append(c.descs, prometheus.NewDesc(g.Name, g.Help, g.Labels, nil))
		}
		if err := m.reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// scrapeTimeout bounds each set's read.
const scrapeTimeout = 5 * time.Second

type gaugeCollector struct {
	descs []*prometheus.Desc
	read  func(ctx context.Context) ([][]Sample, error)
}

func (c *gaugeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *gaugeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	samples, err := c.read(ctx)
	if err == nil && len(samples) != len(c.descs) {
		err = fmt.Errorf("read %d gauges' samples for %d gauges", len(samples), len(c.descs))
	}
	if err != nil {
		for _, d := range c.descs {
			ch <- prometheus.NewInvalidMetric(d, err)
		}
		return
	}
	for i, d := range c.descs {
		for _, s := range samples[i] {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, s.Value, s.Labels...)
		}
	}
}
