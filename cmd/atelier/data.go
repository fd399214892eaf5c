package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/atelier-dev/atelier/internal/client"
)

// newData is `atelier data`: the data-management workflow from a shell —
// upload a folder, create a dataset from it, import, export, download.
func newData(out io.Writer) *cobra.Command {
	cf := &clientFlags{}
	cmd := &cobra.Command{
		Use:   "data",
		Short: "Upload data, create datasets, import, export and download them on a remote Atelier",
		PersistentPreRun: func(cmd *cobra.Command, args []string) {
			cf.preRun(cmd)
		},
	}
	cf.bind(cmd)
	cmd.AddCommand(newDataUpload(out, cf), newDataCreate(out, cf), newDataImport(out, cf), newDataExport(out, cf),
		newDataDownload(out, cf), newDataList(out, cf), newDataShow(out, cf))
	return cmd
}

func newDataUpload(out io.Writer, cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "upload DIR obs://BUCKET/PREFIX/",
		Short: "Upload a local folder into a bucket (created if needed), keeping its tree",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			bucket, prefix, err := client.ParseOBSPath(args[1])
			if err != nil {
				return err
			}
			if prefix != "" && !strings.HasSuffix(prefix, "/") {
				prefix += "/"
			}
			files, err := client.ScanDir(args[0])
			if err != nil {
				return fmt.Errorf("read %s: %w", args[0], err)
			}
			if len(files) == 0 {
				return fmt.Errorf("%s has no files", args[0])
			}
			if err := c.EnsureBucket(cmd.Context(), bucket); err != nil {
				return err
			}
			_, err = c.UploadFiles(cmd.Context(), files, bucket, prefix, progressPrinter(out))
			return err
		},
	}
}

func newDataCreate(out io.Writer, cf *clientFlags) *cobra.Command {
	var name, typ, input, work, description string
	var wait bool
	cmd := &cobra.Command{
		Use:   "create --name NAME --type TYPE --input obs://B/DIR/ --work obs://B/DIR/",
		Short: "Create a dataset whose data source is an object-storage folder; the folder is imported at once",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			t, ok := client.DatasetTypes[typ]
			if !ok {
				return fmt.Errorf("--type %q: want one of %s", typ, strings.Join(typeNames(), ", "))
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			body := map[string]any{"dataset_name": name, "dataset_type": t, "description": description,
				"data_sources": []any{map[string]any{"data_type": 0, "data_path": slashDir(input)}},
				"work_path":    slashDir(work), "work_path_type": 0}
			if t == client.DatasetTypes["table"] {
				body["import_data"] = true // file datasets always import their source
			}
			id, importID, err := c.CreateDataset(cmd.Context(), body)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "Created dataset %s (%s)\n", name, id)
			if !wait || importID == "" {
				return nil
			}
			if _, err := client.WaitTask(cmd.Context(), func(ctx context.Context) (*client.DatasetTask, error) {
				return c.GetImportTask(ctx, id, importID)
			}, pollInterval, taskPrinter(out, "import")); err != nil {
				return err
			}
			d, err := c.GetDataset(cmd.Context(), id)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "%d samples, %d labeled\n", d.TotalSampleCount, d.AnnotatedSampleCount)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&name, "name", "", "dataset name (required)")
	fs.StringVar(&typ, "type", "image_classification", "dataset type: "+strings.Join(typeNames(), ", "))
	fs.StringVar(&input, "input", "", "folder with the data, obs://bucket/dir/ (required)")
	fs.StringVar(&work, "work", "", "work folder for versions and exports, obs://bucket/dir/ (required)")
	fs.StringVar(&description, "description", "", "description")
	fs.BoolVar(&wait, "wait", true, "wait for the import of the input folder and print the sample counts")
	_ = cmd.MarkFlagRequired("name")
	_ = cmd.MarkFlagRequired("input")
	_ = cmd.MarkFlagRequired("work")
	return cmd
}

func typeNames() []string {
	var out []string
	for k := range client.DatasetTypes {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func slashDir(p string) string {
	if p != "" && !strings.HasSuffix(p, "/") {
		return p + "/"
	}
	return p
}

// taskPrinter prints a task's progress on one line per change.
func taskPrinter(out io.Writer, what string) func(*client.DatasetTask) {
	var last string
	return func(t *client.DatasetTask) {
		done := t.ImportedSampleCount + t.FinishedSampleCount
		line := fmt.Sprintf("%s %s: %v, %d/%d samples", what, t.TaskID, t.Status, done, t.TotalSampleCount)
		if line != last {
			fmt.Fprintln(out, line)
			last = line
		}
	}
}

func newDataImport(out io.Writer, cf *clientFlags) *cobra.Command {
	var path string
	var manifest, noLabels bool
	cmd := &cobra.Command{
		Use:   "import DATASET_ID --path obs://B/DIR/ | --manifest --path obs://B/x.manifest",
		Short: "Import a folder or a manifest into a dataset and wait for the end",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			importType := "dir"
			if manifest {
				importType = "manifest"
			} else {
				path = slashDir(path)
				// The import of an empty or missing folder succeeds with
				// nothing imported, which reads as "already imported".
				if err := requireObjects(cmd.Context(), c, path); err != nil {
					return err
				}
			}
			id, err := c.CreateImportTask(cmd.Context(), args[0], map[string]any{"import_path": path,
				"import_type": importType, "import_annotations": !noLabels})
			if err != nil {
				return err
			}
			t, err := client.WaitTask(cmd.Context(), func(ctx context.Context) (*client.DatasetTask, error) {
				return c.GetImportTask(ctx, args[0], id)
			}, pollInterval, taskPrinter(out, "import"))
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "Imported %d samples\n", t.ImportedSampleCount)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&path, "path", "", "folder or manifest file to import (required)")
	fs.BoolVar(&manifest, "manifest", false, "--path is a manifest file")
	fs.BoolVar(&noLabels, "no-labels", false, "import the files without their labels")
	_ = cmd.MarkFlagRequired("path")
	return cmd
}

func newDataExport(out io.Writer, cf *clientFlags) *cobra.Command {
	var path, version, state string
	var format int
	cmd := &cobra.Command{
		Use:   "export DATASET_ID --path obs://B/DIR/",
		Short: "Export a dataset (or one of its versions) as a manifest to a folder and wait for the end",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			body := map[string]any{"path": slashDir(path), "export_type": map[string]int{"labeled": 0, "unlabeled": 1, "all": 2}[state]}
			if _, ok := map[string]bool{"labeled": true, "unlabeled": true, "all": true}[state]; !ok {
				return fmt.Errorf("--samples %q: want labeled, unlabeled or all", state)
			}
			if version != "" {
				body["version_id"] = version
			}
			if format != 0 {
				body["export_format"] = format
			}
			id, err := c.CreateExportTask(cmd.Context(), args[0], body)
			if err != nil {
				return err
			}
			if _, err := client.WaitTask(cmd.Context(), func(ctx context.Context) (*client.DatasetTask, error) {
				return c.GetExportTask(ctx, args[0], id)
			}, pollInterval, taskPrinter(out, "export")); err != nil {
				return err
			}
			fmt.Fprintf(out, "Exported to %s\n", slashDir(path))
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&path, "path", "", "output folder, obs://bucket/dir/ (required)")
	fs.StringVar(&version, "version", "", "export this version instead of the current samples")
	fs.StringVar(&state, "samples", "all", "which samples: labeled, unlabeled or all")
	fs.IntVar(&format, "format", 0, "also copy the files: 1 tree (a folder per label), 2 tile (file beside its label file)")
	_ = cmd.MarkFlagRequired("path")
	return cmd
}

func newDataDownload(out io.Writer, cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "download obs://BUCKET/PREFIX/ DIR",
		Short: "Download every object under a folder (an export, a version) into a local folder",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			bucket, prefix, err := client.ParseOBSPath(args[0])
			if err != nil {
				return err
			}
			start := time.Now()
			p, err := c.DownloadPrefix(cmd.Context(), bucket, slashDir(prefix), args[1], func(p client.DownloadProgress) {
				if !p.Done && isTerminal(out) {
					fmt.Fprintf(out, "\r%d files, %s  %s", p.Files, size(p.Bytes), p.File)
				}
			})
			if err != nil {
				return err
			}
			if p.Files == 0 {
				return fmt.Errorf("no objects under %s; nothing downloaded", client.OBSURL(slashDir(args[0])))
			}
			if isTerminal(out) {
				fmt.Fprintln(out)
			}
			fmt.Fprintf(out, "Downloaded %d files, %s in %s\n", p.Files, size(p.Bytes), time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
}

// requireObjects fails unless the folder dir (an object path ending in
// "/") holds an object.
func requireObjects(ctx context.Context, c *client.Client, dir string) error {
	bucket, prefix, err := client.ParseOBSPath(dir)
	if err != nil {
		return err
	}
	ok, err := c.HasObjects(ctx, bucket, prefix)
	if err != nil {
		return fmt.Errorf("list %s: %w", client.OBSURL(dir), err)
	}
	if !ok {
		return fmt.Errorf("no objects under %s; nothing to import", client.OBSURL(dir))
	}
	return nil
}

// typeLabel names a dataset type with its number: "image classification (0)".
func typeLabel(t int) string {
	name := strings.ReplaceAll(client.DatasetTypeName(t), "_", " ")
	if name == "" {
		name = "unknown type"
	}
	return fmt.Sprintf("%s (%d)", name, t)
}

// statusName names a dataset status ("normal").
func statusName(s int) string {
	if name, ok := client.DatasetStatuses[s]; ok {
		return name
	}
	return fmt.Sprintf("status %d", s)
}

func newDataList(out io.Writer, cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List the project's datasets, oldest first: ID, name, type, labeled/total samples, status",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			var all []client.Dataset
			// The list's offset is a page index (docs/datasets.md, Paging).
			for page := 0; ; page++ {
				l, err := c.ListDatasets(cmd.Context(), page, listPageSize)
				if err != nil {
					return fmt.Errorf("list datasets (page %d): %w", page, err)
				}
				all = append(all, l.Datasets...)
				if len(l.Datasets) < listPageSize || len(all) >= l.TotalNumber {
					break
				}
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tTYPE\tLABELED/TOTAL\tSTATUS")
			for _, d := range all {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s\n", d.DatasetID, d.DatasetName, typeLabel(d.DatasetType),
					d.AnnotatedSampleCount, d.TotalSampleCount, statusName(d.Status))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintln(out, count(len(all), "dataset", "datasets"))
			return nil
		},
	}
}

func newDataShow(out io.Writer, cf *clientFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "show DATASET_ID",
		Short: "Print a dataset's name, type, status, sample counts, paths and each label's sample count",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			d, err := c.GetDataset(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			labels, err := c.DatasetStats(cmd.Context(), args[0])
			if err != nil {
				return fmt.Errorf("label counts of dataset %s: %w", args[0], err)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "Dataset\t%s (%s)\n", d.DatasetName, d.DatasetID)
			fmt.Fprintf(tw, "Type\t%s\n", typeLabel(d.DatasetType))
			fmt.Fprintf(tw, "Status\t%s (%d)\n", statusName(d.Status), d.Status)
			fmt.Fprintf(tw, "Samples\t%d samples, %d labeled\n", d.TotalSampleCount, d.AnnotatedSampleCount)
			for _, src := range d.DataSources {
				if src.DataPath != "" {
					fmt.Fprintf(tw, "Input\t%s\n", client.OBSURL(src.DataPath))
				}
			}
			fmt.Fprintf(tw, "Work path\t%s\n", client.OBSURL(d.WorkPath))
			fmt.Fprintf(tw, "Labels\t%d\n", len(labels))
			if err := tw.Flush(); err != nil {
				return err
			}
			tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			for _, l := range labels {
				fmt.Fprintf(tw, "  %s\t%s\n", l.Name, count(l.SampleCount, "sample", "samples"))
			}
			return tw.Flush()
		},
	}
}

// count writes n with the singular or plural noun.
func count[N int | int64](n N, one, many string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// listPageSize is how many datasets `data list` asks for per page.
var listPageSize = 100
