// Package teamtask is the team labeling room of the dataset domain: team
// labeling tasks that split a dataset's samples among the members of
// labeling teams (package workforce), the labelers' work on their samples,
// review, acceptance by sampling with its report, the agreement of
// labelers who labeled the same sample, the history of every state change
// and the notification e-mails to members.
//
// Who may do what is decided here, in the data layer, from who the caller
// is in the task: a labeler reads and writes only the allocations given to
// it, a reviewer reads its teams' allocations and reviews them, a team
// administrator manages its teams' part of the task, and the task's owner
// (a caller whom a policy other than the labeling system policies grants
// the route's action) manages all of it. Every query is scoped by that.
//
// Allocations live beside the dataset (team_samples); accepting writes
// their labels into the dataset's samples through the core's
// UpdateSampleLabelsTx in the same transaction. Statistics are counters
// (team_counts, team_checks), never scans.
package teamtask
