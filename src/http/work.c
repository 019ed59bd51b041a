/* Slow work off the event loops: a small pool of worker threads with a bounded queue. A job's
 * result goes back to the loop that owns its request through that loop's message queue, and
 * the job counts as an outstanding command meanwhile, so a draining loop waits for it. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "mopay/assert.h"
#include "mopay/log.h"

struct http_work {
    h2o_multithread_message_t msg; /* first: the loop's receiver hands this back */
    struct http_work *next;
    struct mopay_http_request *req;
    mopay_http_work_fn work;
    mopay_http_work_done_fn done;
    void *arg;
};

static void *worker_main(void *arg)
{
    struct http_workers *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (w->head == NULL && !w->stopping)
            pthread_cond_wait(&w->ready, &w->lock);
        if (w->head == NULL)
            break; /* stopping and nothing left */
        struct http_work *job = w->head;
        w->head = job->next;
        if (w->head == NULL)
            w->tail = NULL;
        w->queued--;
        pthread_mutex_unlock(&w->lock);
        job->work(job->arg);
        h2o_multithread_send_message(&job->req->thread->work_receiver, &job->msg);
        pthread_mutex_lock(&w->lock);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

bool http_workers_start(struct http_workers *w)
{
    memset(w, 0, sizeof(*w));
    pthread_mutex_init(&w->lock, NULL);
    pthread_cond_init(&w->ready, NULL);
    for (int i = 0; i < MOPAY_HTTP_WORKERS; i++) {
        if (pthread_create(&w->threads[i], NULL, worker_main, w) != 0) {
            http_workers_stop(w);
            return false;
        }
        w->started++;
    }
    return true;
}

/* Runs what is queued, then joins the threads. The loops must still run (they get the results). */
void http_workers_stop(struct http_workers *w)
{
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    pthread_cond_broadcast(&w->ready);
    pthread_mutex_unlock(&w->lock);
    for (int i = 0; i < w->started; i++)
        pthread_join(w->threads[i], NULL);
    w->started = 0;
    pthread_cond_destroy(&w->ready);
    pthread_mutex_destroy(&w->lock);
}

void http_work_done_on_loop(h2o_multithread_message_t *msg)
{
    struct http_work *job = (struct http_work *)msg;
    struct mopay_http_request *r = job->req;
    r->thread->pending_commands--;
    job->done(r, job->arg);
    http_request_unref(r);
}

void mopay_http_offload(struct mopay_http_request *r, mopay_http_work_fn work, mopay_http_work_done_fn done,
                        void *arg)
{
    MOPAY_ASSERT(work != NULL && done != NULL && !r->replied);
    struct http_workers *w = &r->thread->server->workers;
    struct http_work *job = mopay_arena_alloc(&r->arena, sizeof(*job));
    if (job == NULL) {
        mopay_http_reply_error(r, MOPAY_ERR_internal, NULL, "out of memory");
        return;
    }
    memset(job, 0, sizeof(*job));
    *job = (struct http_work){.req = r, .work = work, .done = done, .arg = arg};
    pthread_mutex_lock(&w->lock);
    bool full = w->queued >= MOPAY_HTTP_WORK_QUEUE_MAX || w->stopping;
    if (!full) {
        if (w->tail != NULL)
            w->tail->next = job;
        else
            w->head = job;
        w->tail = job;
        w->queued++;
        r->refs++;
        r->thread->pending_commands++;
        pthread_cond_signal(&w->ready);
    }
    pthread_mutex_unlock(&w->lock);
    if (full)
        mopay_http_reply_error(r, MOPAY_ERR_overloaded, NULL, "the slow-work queue is full; retry shortly");
}
