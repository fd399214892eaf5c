// Command atelier runs the Atelier server and its command-line tools.
package main

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"

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
	root.AddCommand(newServe(), newRoutes(out), newTrain(out), newData(out))
	return root
}

func newServe() *cobra.Command {
	var cfg config.Config
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the Atelier server",
		RunE: func(cmd *cobra.Command, args []string) error {
			warnCommandLineSecrets(cmd)
			log := newLogger(cfg.LogLevel)
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			app, err := server.Open(ctx, cfg, log)
			if err != nil {
				return err
			}
			defer app.Close()
			ln, err := net.Listen("tcp", app.Config.Listen)
			if err != nil {
				return fmt.Errorf("listen on %s: %w", app.Config.Listen, err)
			}
			return app.Serve(ctx, ln)
		},
	}
	config.Bind(cmd.Flags(), &cfg)
	return cmd
}

func newLogger(level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
}

func newRoutes(out io.Writer) *cobra.Command {
	var family string
	cmd := &cobra.Command{
		Use:   "routes",
		Short: "List every API with its IAM action and whether this build implements it",
		RunE: func(cmd *cobra.Command, args []string) error {
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "METHOD\tPATH\tACTION\tRELATED\tIMPLEMENTED\tNAME")
			implemented, total := 0, 0
			for _, rt := range api.Table() {
				if family != "" && rt.Family != family {
					continue
				}
				total++
				impl := "no"
				if rt.Implemented() {
					impl = "yes"
					implemented++
				}
				action := rt.Action
				switch {
				case rt.Public:
					action = "(public)"
				case rt.Self:
					action = "(self)"
				}
				related := strings.Join(rt.Related, ",")
				if related == "" {
					related = "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", rt.Method, rt.Path, action, related, impl, rt.Name)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(out, "\n%d routes, %d implemented\n", total, implemented)
			return nil
		},
	}
	cmd.Flags().StringVar(&family, "family", "", "only routes of this family: training, data, iam, workspace, obs, system")
	return cmd
}
