package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"
)

// Evaluation jobs: an evaluation over a long log takes minutes, so the API runs it in the
// background (POST /v1/evaluations) and reports its progress until it is done. Jobs live
// in memory only: a restart forgets them (run the evaluation again; its result is the
// same for the same spec and log). At most MaxEvaluationJobs are kept, the oldest
// finished one making room for a new one, and at most MaxRunningEvaluations run at once.

// Limits of the evaluation jobs.
const (
	MaxEvaluationJobs     = 20
	MaxRunningEvaluations = 2
)

// Job states.
const (
	JobRunning   = "running"
	JobDone      = "done"
	JobFailed    = "failed"
	JobCancelled = "cancelled"
)

// EvaluationJob is an evaluation run in the background.
type EvaluationJob struct {
	ID        string         `json:"id"`
	State     string         `json:"state"`
	Submitted time.Time      `json:"submitted"`
	Finished  time.Time      `json:"finished,omitzero"`
	Spec      EvaluationSpec `json:"spec"`
	Progress  JobProgress    `json:"progress"`
	// Error says why a failed job failed: a code and a message, as API errors do.
	Error *JobError `json:"error,omitempty"`
	// Result is the evaluation, once done (absent in lists).
	Result *Evaluation `json:"result,omitempty"`
}

// JobProgress is how far a job has got.
type JobProgress struct {
	Read      int64 `json:"decisions_read"`
	Evaluated int64 `json:"decisions_evaluated"`
	// LastTime is the time of the last decision read: how far through the log it is.
	LastTime time.Time `json:"last_decision_time,omitzero"`
	Seconds  float64   `json:"elapsed_seconds"`
}

// JobError is a failed job's error.
type JobError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// evalJobs holds the jobs.
type evalJobs struct {
	mu      sync.Mutex
	jobs    []*evalJob // in submission order
	wg      sync.WaitGroup
	stopped bool
}

type evalJob struct {
	view     EvaluationJob // guarded by evalJobs.mu
	progress EvaluationProgress
	cancel   context.CancelFunc
	done     chan struct{} // closed when the job has stopped
	started  time.Time
}

// snapshot returns the job as it is now; callers hold evalJobs.mu.
func (j *evalJob) snapshot(withResult bool) EvaluationJob {
	v := j.view
	v.Progress = JobProgress{Read: j.progress.Read(), Evaluated: j.progress.Evaluated(), LastTime: j.progress.LastTime()}
	if v.State == JobRunning {
		v.Progress.Seconds = time.Since(j.started).Seconds()
	} else {
		v.Progress.Seconds = v.Finished.Sub(j.started).Seconds()
	}
	if !withResult {
		v.Result = nil
	}
	return v
}

// StartEvaluation checks spec and starts evaluating it in the background: an invalid spec
// (ErrInvalid, ErrUnprocessable, ErrTooLarge) is an error here, before anything runs;
// an error found while running (a window without decisions) fails the job. The job's
// workers default to half the CPUs, leaving the rest to decisions. ctx's values are kept,
// not its cancellation: the job outlives the request that started it, until it is done,
// cancelled (CancelEvaluation) or the engine stops.
func (e *Engine) StartEvaluation(ctx context.Context, spec EvaluationSpec) (EvaluationJob, error) {
	if spec.Workers == 0 {
		spec.Workers = max(1, runtime.GOMAXPROCS(0)/2)
	}
	ev, err := e.prepareEvaluation(ctx, spec)
	if err != nil {
		return EvaluationJob{}, err
	}
	js := &e.evals
	js.mu.Lock()
	defer js.mu.Unlock()
	if js.stopped {
		return EvaluationJob{}, errStopped
	}
	running := 0
	for _, j := range js.jobs {
		if j.view.State == JobRunning {
			running++
		}
	}
	if running >= MaxRunningEvaluations {
		return EvaluationJob{}, errorf(ErrRateLimited, "too_many_evaluations", "%d evaluations are running, the most at once: wait for one to finish, or cancel one (DELETE /v1/evaluations/{id})", running)
	}
	if len(js.jobs) >= MaxEvaluationJobs {
		i := slices.IndexFunc(js.jobs, func(j *evalJob) bool { return j.view.State != JobRunning })
		if i < 0 {
			return EvaluationJob{}, errorf(ErrRateLimited, "too_many_evaluations", "%d evaluations are kept and all are running", len(js.jobs))
		}
		js.jobs = slices.Delete(js.jobs, i, i+1)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	now := time.Now().UTC()
	jobCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	j := &evalJob{cancel: cancel, started: now, done: make(chan struct{})}
	j.view = EvaluationJob{ID: fmt.Sprintf("ev-%s-%s", now.Format("20060102T150405"), hex.EncodeToString(b[:])), State: JobRunning, Submitted: now, Spec: ev.spec}
	js.jobs = append(js.jobs, j)
	js.wg.Add(1)
	go func() {
		defer js.wg.Done()
		defer close(j.done)
		defer cancel()
		res, err := ev.run(jobCtx, &j.progress)
		js.mu.Lock()
		defer js.mu.Unlock()
		j.view.Finished = time.Now().UTC()
		switch {
		case err == nil:
			j.view.State, j.view.Result = JobDone, res
		case errors.Is(err, context.Canceled):
			j.view.State = JobCancelled
			j.view.Error = &JobError{Code: "cancelled", Message: "the evaluation was cancelled before it finished"}
		default:
			j.view.State = JobFailed
			code := ErrorCode(err)
			if code == "" {
				code = "internal"
				e.log.Error("evaluation failed", "job", j.view.ID, "err", err)
			}
			j.view.Error = &JobError{Code: code, Message: err.Error()}
		}
	}()
	return j.snapshot(false), nil
}

// EvaluationJob returns a job with its result, if it is done; ErrNotFound if there is no
// such job (never started, forgotten, or started before a restart).
func (e *Engine) EvaluationJob(id string) (EvaluationJob, error) {
	js := &e.evals
	js.mu.Lock()
	defer js.mu.Unlock()
	for _, j := range js.jobs {
		if j.view.ID == id {
			return j.snapshot(true), nil
		}
	}
	return EvaluationJob{}, errorf(ErrNotFound, "unknown_evaluation", "no evaluation %q (jobs are kept in memory: a restart forgets them)", truncate(id, 64))
}

// EvaluationJobs lists the jobs, newest first, without their results.
func (e *Engine) EvaluationJobs() []EvaluationJob {
	js := &e.evals
	js.mu.Lock()
	defer js.mu.Unlock()
	out := make([]EvaluationJob, 0, len(js.jobs))
	for i := len(js.jobs) - 1; i >= 0; i-- {
		out = append(out, js.jobs[i].snapshot(false))
	}
	return out
}

// CancelEvaluation cancels a running job and waits for it to stop; a finished job is
// returned as it is.
func (e *Engine) CancelEvaluation(id string) (EvaluationJob, error) {
	js := &e.evals
	js.mu.Lock()
	var job *evalJob
	for _, j := range js.jobs {
		if j.view.ID == id {
			job = j
		}
	}
	js.mu.Unlock()
	if job == nil {
		return EvaluationJob{}, errorf(ErrNotFound, "unknown_evaluation", "no evaluation %q (jobs are kept in memory: a restart forgets them)", truncate(id, 64))
	}
	job.cancel()
	<-job.done
	js.mu.Lock()
	defer js.mu.Unlock()
	return job.snapshot(false), nil
}

// stop cancels every running job and waits for them; no job starts after it.
func (js *evalJobs) stop() {
	js.mu.Lock()
	js.stopped = true
	for _, j := range js.jobs {
		j.cancel()
	}
	js.mu.Unlock()
	js.wg.Wait()
}
