package teamtask

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"strconv"
	"strings"

	"github.com/atelier-dev/atelier/internal/fault"
	"github.com/atelier-dev/atelier/internal/iam"
	"github.com/atelier-dev/atelier/internal/tasks"
	"github.com/atelier-dev/atelier/internal/workforce"
)

// Notification e-mails: POST …/notify queues one durable background task
// (KindNotify) that writes to each selected member: the task's name, how
// many samples wait for it, and where to log in. The task survives a
// restart and resumes after the last member it finished; each member's
// outcome is kept on its row of the task (email_status, last_notify_time,
// shown in the task's worker_stats and the member's worker-tasks).

// KindNotify is the background task kind of notification e-mails.
const KindNotify = "team-notify"

// Mailer delivers one message, retrying temporary failures itself; an
// error is the final outcome for that recipient.
type Mailer interface {
	Deliver(ctx context.Context, to, subject, text string) error
	// Permanent tells a refusal that retrying cannot fix (an address the
	// server rejects) from a failure to reach the server.
	Permanent(err error) bool
}

// E-mail statuses of the reference (WorkerTask.email_status).
const (
	EmailNotSent     = 0
	EmailBadFormat   = 1
	EmailUnreachable = 2
	EmailSent        = 3
)

// NotifyInterval is how soon a member may be written to again.
const NotifyInterval = 60_000 // ms

type notifyParams struct {
	DomainID   string      `json:"domain_id"`
	DatasetID  string      `json:"dataset_id"`
	TaskID     string      `json:"task_id"`
	Recipients []recipient `json:"recipients"`
}

type recipient struct {
	WorkerID string `json:"worker_id"`
	Email    string `json:"email"`
	Role     int    `json:"role"`
	Team     string `json:"workforce_id"`
}

// NotifyResult is one address's outcome in the notify response.
type NotifyResult = ItemResult

// Notify queues the notification of the members with these addresses;
// the owner writes to any member of the task, a team administrator to its
// teams' members. It returns one result per address and the background
// task's ID.
func (s *Service) Notify(ctx context.Context, c Caller, datasetID, id string, emails []string) ([]NotifyResult, string, error) {
	if len(emails) == 0 || len(emails) > workforce.MaxWorkersPerWorkforce*workforce.MaxWorkforcesPerAccount {
		return nil, "", invalid("Invalid parameter(emails): give 1 to %d addresses.", workforce.MaxWorkersPerWorkforce*workforce.MaxWorkforcesPerAccount)
	}
	t, tws, a, err := s.load(ctx, c, datasetID, id)
	if err != nil {
		return nil, "", err
	}
	if !a.owner && len(a.admins) == 0 {
		return nil, "", forbidden("only the task's owner and team administrators notify its members.")
	}
	if s.mail == nil {
		return nil, "", fault.New(fault.Invalid, CodeMailDisabled,
			"No SMTP server is configured: start atelier serve with --smtp-addr and --smtp-from to send notification e-mails.")
	}
	roles, err := s.roles(ctx, c.ProjectID, tws)
	if err != nil {
		return nil, "", err
	}
	now := s.millis()
	results := make([]NotifyResult, len(emails))
	var to []recipient
	for i, e := range emails {
		if _, err := mail.ParseAddress(e); err != nil {
			results[i] = itemError(invalid("emails[%d]: %q is not an e-mail address.", i, e))
			continue
		}
		found := false
		for _, w := range tws {
			role, member := roles[w.WorkerID]
			if !member || !strings.EqualFold(w.Email, e) || !(a.owner || a.admins[w.WorkforceID]) {
				continue
			}
			found = true
			if w.LastNotify > 0 && now-w.LastNotify < NotifyInterval {
				results[i] = itemError(fault.New(fault.Limit, CodeNotifyTooOften, "Request notify too frequently: %s was written to less than a minute ago.", e))
				break
			}
			to = append(to, recipient{WorkerID: w.WorkerID, Email: w.Email, Role: role, Team: w.WorkforceID})
			results[i] = NotifyResult{Success: true}
		}
		if !found {
			results[i] = itemError(fault.New(fault.NotFound, "ModelArts.4604", "The worker does not exist in this task: %s.", e))
		}
	}
	if len(to) == 0 {
		return results, "", nil
	}
	task, err := s.tasks.Enqueue(ctx, nil, KindNotify, c.ProjectID, t.TaskID, notifyParams{DomainID: c.DomainID, DatasetID: t.DatasetID, TaskID: t.TaskID, Recipients: to})
	if err != nil {
		return nil, "", fmt.Errorf("queue notification e-mails: %w", err)
	}
	return results, task.ID, nil
}

// runNotify is the background task: one message per recipient, resumed
// after the last one finished.
func (s *Service) runNotify(ctx context.Context, bt *tasks.Task, p tasks.Progress) error {
	var params notifyParams
	if err := json.Unmarshal(bt.Params, &params); err != nil {
		return fmt.Errorf("read notification task: %w", err)
	}
	if s.mail == nil {
		return errors.New("no SMTP server is configured on this replica")
	}
	t, err := s.repo.task(ctx, s.db, bt.ProjectID, params.DatasetID, params.TaskID, false)
	if err != nil {
		return err
	}
	p.SetTotal(int64(len(params.Recipients)))
	start := 0
	if bt.Cursor != "" {
		if start, err = strconv.Atoi(bt.Cursor); err != nil {
			return fmt.Errorf("read notification checkpoint: %w", err)
		}
	}
	cs, err := s.repo.counts(ctx, s.db, t.TaskID)
	if err != nil {
		return err
	}
	tws, err := s.repo.taskWorkers(ctx, s.db, t.TaskID)
	if err != nil {
		return err
	}
	for i := start; i < len(params.Recipients); i++ {
		r := params.Recipients[i]
		waiting := waitingFor(r, cs, tws)
		// A member Atelier created has no password yet: its message
		// carries a one-time link to set one.
		setup, err := s.workforces.PasswordSetup(ctx, params.DomainID, bt.ProjectID, r.Team, r.WorkerID)
		if fault.KindOf(err) == fault.NotFound { // removed from its team since
			p.Fail(r.Email, "the member is no longer in its team")
			p.Checkpoint(strconv.Itoa(i + 1))
			continue
		}
		if err != nil {
			return fmt.Errorf("password setup link of %s: %w", r.Email, err)
		}
		subject := fmt.Sprintf("Team labeling task %s: %d samples wait for you", t.TaskName, waiting)
		err = s.mail.Deliver(ctx, r.Email, subject, s.notifyText(t, r, waiting, setup))
		if ctx.Err() != nil {
			return ctx.Err()
		}
		status := EmailSent
		if err != nil {
			status = EmailUnreachable
			if s.mail.Permanent(err) {
				status = EmailBadFormat
			}
			p.Fail(r.Email, err.Error())
		} else {
			p.Succeed(1)
			if err := s.workforces.MarkInvited(ctx, bt.ProjectID, r.WorkerID); err != nil {
				return fmt.Errorf("mark %s invited: %w", r.Email, err)
			}
		}
		if err := s.repo.setNotified(ctx, t.TaskID, r.WorkerID, status, s.millis()); err != nil {
			return fmt.Errorf("record the notification of %s: %w", r.Email, err)
		}
		p.Checkpoint(strconv.Itoa(i + 1))
	}
	return nil
}

// waitingFor counts what waits for a member: a labeler's unlabeled and
// rejected samples, a reviewer's team's samples to review, a team
// administrator's team's samples waiting for acceptance.
func waitingFor(r recipient, cs counts, tws []taskWorker) int64 {
	team := map[string]bool{}
	for _, w := range tws {
		if w.WorkforceID == r.Team {
			team[w.WorkerID] = true
		}
	}
	var n int64
	for k, v := range cs {
		switch r.Role {
		case workforce.RoleLabeler:
			if k.WorkerID == r.WorkerID && (k.State == StateUnlabeled || k.State == StateRejected) {
				n += v[0]
			}
		case workforce.RoleReviewer:
			if team[k.WorkerID] && k.State == StateUnreviewed {
				n += v[0]
			}
		default:
			if team[k.WorkerID] && k.State == StateUncheck {
				n += v[0]
			}
		}
	}
	return n
}

func (s *Service) notifyText(t *Task, r recipient, waiting int64, setup string) string {
	what := map[int]string{workforce.RoleLabeler: "to label", workforce.RoleReviewer: "to review"}[r.Role]
	if what == "" {
		what = "waiting for acceptance"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Hello,\n\nthe team labeling task %q has %d samples %s for you.\n\n", t.TaskName, waiting, what)
	if s.endpoint != "" {
		fmt.Fprintf(&b, "Log in at %s/console/ with the user name or e-mail address %s to see your tasks.\n", s.endpoint, r.Email)
	} else {
		fmt.Fprintf(&b, "Log in to Atelier with the user name or e-mail address %s to see your tasks.\n", r.Email)
	}
	if setup == "" {
		return b.String()
	}
	fmt.Fprintf(&b, "\nYou have no password yet. Set one with this link; it works once, for %d days:\n\n  %s/console/#/password-setup?token=%s\n\n",
		int(iam.PasswordSetupTTL.Hours()/24), s.endpoint, setup)
	fmt.Fprintf(&b, "or with the API:\n\n  POST %s/v3.0/OS-USER/password-setup\n  {\"token\": \"%s\", \"password\": \"<your new password>\"}\n", s.endpoint, setup)
	return b.String()
}
