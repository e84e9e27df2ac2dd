package httpapi

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/acube/platform/libs/web"
	"github.com/acube/platform/services/admin/internal/job"
)

type jobResponse struct {
	job.Job
	StatusURL string `json:"status_url"`
}

// accepted is the answer of a job still under way (JobAccepted): its id,
// its state (queued or running; never the status a status update sets)
// and where to follow it.
type accepted struct {
	JobID     string `json:"job_id"`
	Status    string `json:"status"`
	StatusURL string `json:"status_url"`
}

func jobURL(j job.Job) string { return "/api/admin/jobs/" + j.ID.String() }

func view(j job.Job) jobResponse { return jobResponse{Job: j, StatusURL: jobURL(j)} }

// bulk serves the bulk endpoints: one durable job path for every size.
// Small jobs wait for their result (200, the Job), falling back to 202
// (JobAccepted) when it takes longer than SyncWait; large ones answer 202
// at once. Every request is validated before a job exists: an unknown
// entity or a status the entity does not have is a 422.
func (a *API) bulk(action string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var req job.Request
		if err := web.Decode(w, r, 2<<20, &req); err != nil {
			a.fail(w, r, err)
			return
		}
		act := a.actor(r)
		sync := len(req.IDs) <= a.d.SyncThreshold
		mode := "async"
		if sync {
			mode = "sync"
		}
		j, err := a.d.Jobs.Submit(r.Context(), job.Actor{ID: act.ID, Email: act.Email, Name: act.Name, ClientIP: act.ClientIP},
			action, req, mode)
		if err != nil {
			a.fail(w, r, err)
			return
		}
		if sync {
			// The job is committed: a client that goes away does not stop
			// it, so the wait need not outlive the request.
			ctx, cancel := context.WithTimeout(r.Context(), a.d.SyncWait)
			done, err := a.d.Jobs.Wait(ctx, j.ID, a.d.SyncWait, a.d.WaitPoll)
			cancel()
			if err == nil && done.Done() {
				web.WriteJSON(w, http.StatusOK, view(done))
				return
			}
			if err == nil {
				j = done
			}
		}
		w.Header().Set("Location", jobURL(j))
		web.WriteJSON(w, http.StatusAccepted, accepted{JobID: j.ID.String(), Status: j.State, StatusURL: jobURL(j)})
	}
}

func (a *API) getJob(w http.ResponseWriter, r *http.Request) {
	id, err := uuid.Parse(chi.URLParam(r, "id"))
	if err != nil {
		a.fail(w, r, web.NotFound("no job "+chi.URLParam(r, "id")))
		return
	}
	j, err := a.d.Jobs.Get(r.Context(), id)
	if err != nil {
		a.fail(w, r, err)
		return
	}
	web.WriteJSON(w, http.StatusOK, view(j))
}
