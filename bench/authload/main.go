// Command authload measures authenticated GET throughput and latency
// against a running Atelier, with a token or with AK/SK signatures made by
// the official Huawei Cloud SDK signer. By default it asks for
// /v3/auth/projects; -path names any GET route, with {project_id} replaced
// by the bootstrap project's ID and {rand:N} by a random integer in [0, N)
// drawn for each request (a random page, a random label).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/auth/signer"
	"github.com/huaweicloud/huaweicloud-sdk-go-v3/core/request"
)

type account struct {
	DomainName  string `json:"domain_name"`
	UserName    string `json:"user_name"`
	Password    string `json:"password"`
	AccessKey   string `json:"access_key"`
	SecretKey   string `json:"secret_key"`
	ProjectName string `json:"project_name"`
	ProjectID   string `json:"project_id"`
	Endpoint    string `json:"endpoint"`
}

func main() {
	bootstrap := flag.String("bootstrap", "atelier-data/bootstrap.json", "bootstrap.json of the server")
	endpoint := flag.String("endpoint", "", "server URL, or several comma-separated (replicas: client i uses the i-th modulo their number, as a load balancer spreads connections); default: the bootstrap file's endpoint")
	clients := flag.Int("c", 32, "concurrent clients")
	duration := flag.Duration("d", 10*time.Second, "how long to run (at most 10m)")
	aksk := flag.Bool("aksk", false, "sign requests with AK/SK instead of sending a token")
	path := flag.String("path", "/v3/auth/projects", "GET route to drive; {project_id} and {rand:N} are replaced per request")
	tokenFile := flag.String("token-file", "", "send the token in this file (another user's, e.g. a labeler's) instead of the bootstrap user's")
	flag.Parse()
	if *duration > 10*time.Minute {
		*duration = 10 * time.Minute
	}
	token := ""
	if *tokenFile != "" {
		raw, err := os.ReadFile(*tokenFile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "authload:", err)
			os.Exit(1)
		}
		token = strings.TrimSpace(string(raw))
	}
	if err := run(*bootstrap, *endpoint, *path, token, *clients, *duration, *aksk); err != nil {
		fmt.Fprintln(os.Stderr, "authload:", err)
		os.Exit(1)
	}
}

func run(bootstrap, endpoint, path, token string, clients int, d time.Duration, aksk bool) error {
	raw, err := os.ReadFile(bootstrap)
	if err != nil {
		return err
	}
	var acct account
	if err := json.Unmarshal(raw, &acct); err != nil {
		return fmt.Errorf("parse %s: %w", bootstrap, err)
	}
	if endpoint == "" {
		endpoint = acct.Endpoint
	}
	endpoints := strings.Split(endpoint, ",")
	endpoint = endpoints[0]
	expand, err := pathTemplate(path, acct.ProjectID)
	if err != nil {
		return err
	}
	tr := &http.Transport{MaxIdleConns: clients * 2, MaxIdleConnsPerHost: clients * 2}
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	if !aksk && token == "" {
		if token, err = getToken(hc, endpoint, acct); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var ok, failed atomic.Int64
	lat := make([][]time.Duration, clients)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				req, err := newRequest(endpoints[i%len(endpoints)], expand(), token, acct, aksk)
				if err != nil {
					failed.Add(1)
					continue
				}
				t0 := time.Now()
				resp, err := hc.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						failed.Add(1)
					}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat[i] = append(lat[i], time.Since(t0))
				if resp.StatusCode == http.StatusOK {
					ok.Add(1)
				} else {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	all := slices.Concat(lat...)
	slices.Sort(all)
	pct := func(p float64) time.Duration {
		if len(all) == 0 {
			return 0
		}
		return all[min(len(all)-1, int(float64(len(all))*p))]
	}
	mode := "token"
	if aksk {
		mode = "aksk"
	}
	fmt.Printf("GET %s (%s), %d clients, %s: %d ok, %d failed, %.0f req/s, p50 %s p90 %s p99 %s p99.9 %s max %s\n",
		path, mode, clients, elapsed.Round(time.Millisecond), ok.Load(), failed.Load(), float64(ok.Load())/elapsed.Seconds(),
		pct(0.50).Round(10*time.Microsecond), pct(0.90).Round(10*time.Microsecond), pct(0.99).Round(10*time.Microsecond),
		pct(0.999).Round(10*time.Microsecond), pct(1).Round(10*time.Microsecond))
	if failed.Load() > 0 {
		return fmt.Errorf("%d requests failed", failed.Load())
	}
	return nil
}

func getToken(hc *http.Client, endpoint string, a account) (string, error) {
	body := fmt.Sprintf(`{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":%q,"password":%q,"domain":{"name":%q}}}},"scope":{"project":{"name":%q}}}}`,
		a.UserName, a.Password, a.DomainName, a.ProjectName)
	resp, err := hc.Post(endpoint+"/v3/auth/tokens", "application/json", bytes.NewBufferString(body))
	if err != nil {
		return "", fmt.Errorf("get token: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(resp.Body)
		return "", fmt.Errorf("get token: %s: %s", resp.Status, b)
	}
	return resp.Header.Get("X-Subject-Token"), nil
}

var randPattern = regexp.MustCompile(`\{rand:(\d+)\}`)

// pathTemplate returns a function that expands path for one request.
func pathTemplate(path, projectID string) (func() string, error) {
	if strings.Contains(path, "{project_id}") && projectID == "" {
		return nil, errors.New("-path names {project_id} but the bootstrap file has no project_id")
	}
	path = strings.ReplaceAll(path, "{project_id}", projectID)
	for _, m := range randPattern.FindAllStringSubmatch(path, -1) {
		if n, err := strconv.Atoi(m[1]); err != nil || n <= 0 {
			return nil, fmt.Errorf("-path: %s needs a positive bound", m[0])
		}
	}
	return func() string {
		return randPattern.ReplaceAllStringFunc(path, func(m string) string {
			n, _ := strconv.Atoi(randPattern.FindStringSubmatch(m)[1])
			return strconv.Itoa(rand.IntN(n))
		})
	}, nil
}

func newRequest(endpoint, path, token string, a account, aksk bool) (*http.Request, error) {
	u, query, _ := strings.Cut(path, "?")
	req, err := http.NewRequest(http.MethodGet, endpoint+path, nil)
	if err != nil {
		return nil, err
	}
	if !aksk {
		req.Header.Set("X-Auth-Token", token)
		return req, nil
	}
	b := request.NewHttpRequestBuilder().WithEndpoint(endpoint).WithPath(u).WithMethod(http.MethodGet)
	if query != "" {
		values, err := url.ParseQuery(query)
		if err != nil {
			return nil, fmt.Errorf("-path query: %w", err)
		}
		for k, vs := range values {
			b = b.AddQueryParam(k, vs[0])
		}
	}
	sreq := b.Build()
	headers, err := signer.Sign(sreq, a.AccessKey, a.SecretKey)
	if err != nil {
		return nil, err
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	return req, nil
}
