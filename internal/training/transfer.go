package training

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/atelier-dev/atelier/internal/obs"
)

// A job's files travel between object storage and its working directory:
// code and inputs are downloaded before it starts, outputs uploaded and
// logs exported after it ends. Each object is authorized for the job's
// creator when it is touched (obs.Access), with their policies as they are
// then, and nothing the job left behind is followed out of its directory
// (jobfiles.go).

// download copies an object, or every object under a directory prefix,
// to local; it returns the local path to hand to the program (the file for
// an object, the directory for a prefix).
//
// Each object is authorized for the job's creator before it is read (acc
// nil: not checked): a job fails to start rather than train on part of
// its data, and says which object its creator may not read.
func (s *Service) download(ctx context.Context, acc obs.Access, src obs.Path, local string) (string, error) {
	if !src.IsDir() {
		if _, err := s.objects.Head(ctx, src.Bucket, src.Key); err == nil {
			if err := authorizeObject(ctx, acc, obs.ActionGetObject, src.Bucket, src.Key); err != nil {
				return "", err
			}
			dst := filepath.Join(local, path.Base(src.Key))
			return dst, s.getFile(ctx, src.Bucket, src.Key, dst)
		}
	}
	prefix := src.Key
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	if err := os.MkdirAll(local, 0o755); err != nil {
		return "", err
	}
	if err := authorizeObject(ctx, acc, obs.ActionListBucket, src.Bucket, ""); err != nil {
		return "", err
	}
	opts := obs.ListOptions{Prefix: prefix}
	for {
		page, err := s.objects.List(ctx, src.Bucket, opts)
		if err != nil {
			return "", err
		}
		for _, o := range page.Objects {
			rel := strings.TrimPrefix(o.Key, prefix)
			if rel == "" {
				continue
			}
			if err := authorizeObject(ctx, acc, obs.ActionGetObject, src.Bucket, o.Key); err != nil {
				return "", err
			}
			if err := s.getFile(ctx, src.Bucket, o.Key, filepath.Join(local, filepath.FromSlash(rel))); err != nil {
				return "", err
			}
		}
		if !page.Truncated {
			break
		}
		opts.StartAfter = page.NextStartAfter
	}
	return local + string(filepath.Separator), nil
}

func (s *Service) getFile(ctx context.Context, bucket, key, dst string) error {
	r, _, err := s.objects.Get(ctx, bucket, key, nil)
	if err != nil {
		return err
	}
	defer r.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// uploadDir uploads every regular file under the job directory's rel
// (outputs/<name>) to the OBS directory dst. The job wrote those files:
// symbolic links, hard links and special files are skipped, never
// followed (see jobfiles.go), and returned so that the job's events name
// them; so are the files whose object the job's creator may not write
// (denied, each naming the action and the resource).
func (s *Service) uploadDir(ctx context.Context, acc obs.Access, jobID, rel, dst string) (n int, skipped, denied []string, err error) {
	loc, err := obs.ParsePath(dst)
	if err != nil {
		return 0, nil, nil, err
	}
	prefix := loc.Key
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	err = walkJobDir(s.jobDir(jobID), rel, func(name string, f *os.File) error {
		if err := authorizeObject(ctx, acc, obs.ActionPutObject, loc.Bucket, prefix+name); err != nil {
			if obs.Denied(err) {
				denied = append(denied, err.Error())
				return nil
			}
			return err
		}
		if _, err := s.objects.Put(ctx, loc.Bucket, prefix+name, f, obs.PutOptions{}); err != nil {
			return err
		}
		n++
		return nil
	}, func(name, why string) {
		skipped = append(skipped, name+" ("+why+")")
	})
	return n, skipped, denied, err
}

// shortList names the first few entries of a list for an event.
func shortList(items []string) string {
	const show = 10
	list := strings.Join(items[:min(show, len(items))], ", ")
	if len(items) > show {
		list += fmt.Sprintf(" and %d more", len(items)-show)
	}
	return list
}

// objectAccess reads the object-storage permissions of the job's creator
// as they are now; nil when the service has no authorizer.
func (s *Service) objectAccess(ctx context.Context, j *jobRow) (obs.Access, error) {
	if s.opts.Authorize == nil {
		return nil, nil
	}
	var who obs.Requester
	if j.Doc.Requester != nil {
		who = *j.Doc.Requester
	}
	acc, err := s.opts.Authorize(ctx, who)
	if err != nil {
		return nil, fmt.Errorf("read the object permissions of the job's creator: %w", err)
	}
	return acc, nil
}

// authorizeObject decides one action with acc (nil: allowed).
func authorizeObject(ctx context.Context, acc obs.Access, action, bucket, key string) error {
	if acc == nil {
		return nil
	}
	return acc.Authorize(ctx, action, bucket, key)
}

// logObject is where a task's log is exported.
func logObject(j *jobRow, task string) (obs.Path, error) {
	dir, err := obs.ParsePath(j.Doc.Run.LogDir)
	if err != nil {
		return obs.Path{}, err
	}
	key := dir.Key
	if key != "" && !strings.HasSuffix(key, "/") {
		key += "/"
	}
	return obs.Path{Bucket: dir.Bucket, Key: key + "modelarts-job-" + j.ID + "-" + task + ".log"}, nil
}

// exportLog uploads a task's log file (as it is now) to the job's log path:
// the creator's log_export_path, which they must still be allowed to
// write, or the system log bucket, which no account owns.
func (s *Service) exportLog(ctx context.Context, acc obs.Access, j *jobRow, task string) (obs.Path, error) {
	dst, err := logObject(j, task)
	if err != nil {
		return dst, err
	}
	if dst.Bucket != s.opts.LogBucket {
		if err := authorizeObject(ctx, acc, obs.ActionPutObject, dst.Bucket, dst.Key); err != nil {
			return dst, err
		}
	}
	f, err := openJobPath(s.jobDir(j.ID), "logs/"+task+".log", false)
	if err != nil {
		return dst, err
	}
	defer f.Close()
	if dst.Bucket == s.opts.LogBucket {
		if err := s.objects.CreateBucket(ctx, dst.Bucket); err != nil && !errors.Is(err, obs.ErrBucketExists) {
			return dst, err
		}
	}
	_, err = s.objects.Put(ctx, dst.Bucket, dst.Key, f, obs.PutOptions{ContentType: "text/plain; charset=utf-8"})
	return dst, err
}
