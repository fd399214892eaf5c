// Command atelier runs the Atelier server and its command-line tools.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/atelier-dev/atelier/internal/api"
	"github.com/atelier-dev/atelier/internal/config"
	"github.com/atelier-dev/atelier/internal/server"
)

func main() {
	if err := newRoot(os.Stdout).Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "atelier:", err)
		os.Exit(1)
	}
}

func newRoot(out io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "atelier",
		Short:         "Self-hostable AI data management and training, speaking ModelArts' v2 API",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServe(), newRoutes(out), commandGroup(newTrain(out)), commandGroup(newData(out)))
	return root
}

func newServe() *cobra.Command {
	var cfg config.Config
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Atelier server",
		RunE: func(cmd *cobra.Command, args []string) error {
			warnCommandLineSecrets(cmd)
			return serve(cmd.Context(), cfg, newLogger(cfg.LogLevel))
		},
	}
	config.Bind(cmd.Flags(), &cfg)
	return cmd
}

// serve runs the server until SIGINT or SIGTERM. The first signal stops it
// gracefully: no new requests, requests in flight finished, background
// tasks checkpointed and handed back, the database closed; the last log
// line says "atelier stopped" and how long that took. A second signal
// stops the process at once (exit code 1); interrupted tasks resume on
// the next start from their last checkpoint.
func serve(parent context.Context, cfg config.Config, log *slog.Logger) error {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	var stopping atomic.Int64 // when the first signal came, in Unix nanoseconds
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case sig := <-sigs:
			stopping.Store(time.Now().UnixNano())
			log.Info("stopping: finishing requests in flight and handing background tasks back; send the signal again to stop at once",
				"signal", sig.String())
			cancel()
		case <-done:
			return
		}
		select {
		case sig := <-sigs:
			log.Warn("stopping at once: requests in flight are cut off; interrupted tasks resume from their last checkpoint on the next start",
				"signal", sig.String())
			os.Exit(1)
		case <-done:
		}
	}()

	app, err := server.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", app.Config.Listen)
	if err != nil {
		app.Close()
		return fmt.Errorf("listen on %s: %w", app.Config.Listen, err)
	}
	err = app.Serve(ctx, ln)
	if cerr := app.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close: %w", cerr)
	}
	if err != nil {
		return err
	}
	since := time.Now()
	if ns := stopping.Load(); ns != 0 {
		since = time.Unix(0, ns)
	}
	log.Info("atelier stopped", "shutdown", time.Since(since).Round(time.Millisecond).String())
	return nil
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}

func newRoutes(out io.Writer) *cobra.Command {
	var family string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "routes",
		Short: "List every API with its IAM action and whether this build implements it",
		Long: `List every API of the route table: its method and path, the IAM action that
guards it, the object-storage actions it also needs, and whether this build
implements it. The default output is one block per route, at most 120
columns wide; --json prints every field of every row for scripts.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			var routes []api.Route
			for _, rt := range api.Table() {
				if family == "" || rt.Family == family {
					routes = append(routes, rt)
				}
			}
			if asJSON {
				return writeRoutesJSON(out, routes)
			}
			return writeRoutes(out, routes)
		},
	}
	cmd.Flags().StringVar(&family, "family", "", "only routes of this family: training, data, iam, workspace, obs, system")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the routes as a JSON array with every field of the route table")
	return cmd
}

// routesWidth is the width `atelier routes` wraps its text to, so that a
// route's block reads on an 80-column terminal except for the longest
// paths, which take up to 118 columns.
const routesWidth = 100

// writeRoutes prints one block per route: "METHOD PATH" alone on a line
// (the longest paths leave no room for more), then its action and whether
// it is implemented, its name and its related object-storage actions,
// wrapped to routesWidth.
func writeRoutes(out io.Writer, routes []api.Route) error {
	const indent = "    "
	var b strings.Builder
	implemented := 0
	for _, rt := range routes {
		status := "not implemented"
		if rt.Implemented() {
			status = "implemented"
			implemented++
		}
		fmt.Fprintf(&b, "%s %s\n", rt.Method, rt.Path)
		fmt.Fprintf(&b, "%saction  %s  %s\n", indent, routeAction(rt), status)
		b.WriteString(wrapWords(indent+"name    ", strings.Fields(rt.Name), " ", routesWidth))
		if len(rt.Related) > 0 {
			b.WriteString(wrapWords(indent+"related ", rt.Related, ", ", routesWidth))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "%d routes, %d implemented\n", len(routes), implemented)
	_, err := io.WriteString(out, b.String())
	return err
}

// routeAction is the action column: the IAM action, or why there is none.
func routeAction(rt api.Route) string {
	switch {
	case rt.Public:
		return "(public)"
	case rt.Self:
		return "(self)"
	}
	return rt.Action
}

// wrapWords writes words after prefix, joined by sep, breaking lines
// before width (a word longer than a line gets a line of its own);
// continuation lines are indented as far as the prefix. The result ends
// with a newline.
func wrapWords(prefix string, words []string, sep string, width int) string {
	var b strings.Builder
	b.WriteString(prefix)
	col := len(prefix)
	trimmed := strings.TrimRight(sep, " ")
	for i, w := range words {
		if i > 0 {
			if col+len(sep)+len(w) > width {
				b.WriteString(trimmed + "\n" + strings.Repeat(" ", len(prefix)))
				col = len(prefix)
			} else {
				b.WriteString(sep)
				col += len(sep)
			}
		}
		b.WriteString(w)
		col += len(w)
	}
	b.WriteString("\n")
	return b.String()
}

// routeJSON is one row of the route table as `atelier routes --json`
// prints it.
type routeJSON struct {
	Name        string   `json:"name"`
	Method      string   `json:"method"`
	Path        string   `json:"path"`
	Action      string   `json:"action"` // empty for public and self routes
	Related     []string `json:"related"`
	Family      string   `json:"family"`
	Implemented bool     `json:"implemented"`
	Public      bool     `json:"public"`
	Self        bool     `json:"self"`
}

func writeRoutesJSON(out io.Writer, routes []api.Route) error {
	rows := make([]routeJSON, 0, len(routes))
	for _, rt := range routes {
		related := rt.Related
		if related == nil {
			related = []string{}
		}
		rows = append(rows, routeJSON{Name: rt.Name, Method: rt.Method, Path: rt.Path, Action: rt.Action, Related: related,
			Family: rt.Family, Implemented: rt.Implemented(), Public: rt.Public, Self: rt.Self})
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(rows)
}

// commandGroup makes cmd, a group of subcommands, refuse an unknown
// subcommand as the root does ("unknown command" with suggestions, a
// non-zero exit) instead of printing its help and succeeding; alone, it
// still prints its help.
func commandGroup(cmd *cobra.Command) *cobra.Command {
	cmd.Args = cobra.ArbitraryArgs
	cmd.SuggestionsMinimumDistance = 2 // cobra's default for the root
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cmd.Help()
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t") + "\n"
		}
		return fmt.Errorf("%s\nRun '%s --help' for usage", msg, cmd.CommandPath())
	}
	return cmd
}
