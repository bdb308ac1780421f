/* kiln: the aws provider: its ops table, how it is opened, and the client pool its
 * inventory fetches with (see aws.h for the map of the other files). */
#include "provider/aws/aws.h"

#include "kiln/aws_xml.h"
#include "kiln/context.h"
#include "kiln/timeutil.h"
#include "kiln/xalloc.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small shared helpers ---- */

void aws_tags_add(struct aws_tags *t, const char *key, const char *value)
{
    t->v = xrealloc(t->v, (t->n + 1) * sizeof *t->v);
    t->v[t->n].key = xstrdup(key ? key : "");
    t->v[t->n].value = xstrdup(value ? value : "");
    t->n++;
}

const char *aws_tags_get(const struct aws_tags *t, const char *key)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->v[i].key, key) == 0)
            return t->v[i].value;
    return NULL;
}

void aws_tags_free(struct aws_tags *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].key);
        free(t->v[i].value);
    }
    free(t->v);
    t->v = NULL;
    t->n = 0;
}

void aws_strs_add(struct aws_strs *s, const char *v)
{
    s->v = xrealloc(s->v, (s->n + 1) * sizeof *s->v);
    s->v[s->n++] = xstrdup(v ? v : "");
}

bool aws_strs_has(const struct aws_strs *s, const char *v)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], v) == 0)
            return true;
    return false;
}

void aws_strs_free(struct aws_strs *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    s->v = NULL;
    s->n = 0;
}

bool aws_last_error_is(struct kiln_aws_client *c, const char *code)
{
    return strcmp(kiln_aws_client_last_error(c)->code, code) == 0;
}

int aws_call(struct kiln_aws_client *c, struct kiln_aws_query *q, xmlDoc **doc,
             struct kiln_err *err)
{
    xmlDoc *d = NULL;
    int rc = kiln_aws_query_call(c, q, &d, err);
    kiln_aws_query_free(q);
    if (doc != NULL)
        *doc = d;
    else
        xmlFreeDoc(d);
    return rc;
}

/* ---- the client pool and parallel calls ---- */

/* The debug log of every request (redacted by the HTTP layer), to the file named by
 * KILN_AWS_LOG: the console owns the terminal, so never to stderr. */
static void log_line(void *ctx, const char *line)
{
    FILE *f = ctx;
    fprintf(f, "%s\n", line);
    fflush(f);
}

static FILE *debug_file;
static pthread_once_t debug_once = PTHREAD_ONCE_INIT;

static void open_debug_log(void)
{
    const char *path = getenv("KILN_AWS_LOG");
    if (path != NULL && path[0] != '\0')
        debug_file = fopen(path, "ae");
}

static FILE *debug_log(void)
{
    pthread_once(&debug_once, open_debug_log);
    return debug_file;
}

static struct kiln_aws_client *new_client(struct aws *a, struct kiln_err *err)
{
    struct kiln_aws_client_options o = {
        .region = a->region,
        .config_endpoint = a->endpoint[0] ? a->endpoint : NULL,
        .allow_http_endpoints = a->allow_http,
        .ca_bundle = a->ca_bundle[0] ? a->ca_bundle : NULL,
        .credentials = a->creds,
    };
    FILE *f = debug_log();
    if (f != NULL) {
        o.log = log_line;
        o.log_ctx = f;
    }
    return kiln_aws_client_new(&o, err);
}

struct kiln_aws_client **aws_pool(struct aws *a, size_t n, struct kiln_err *err)
{
    if (n > a->n_pool) {
        a->pool = xrealloc(a->pool, n * sizeof *a->pool);
        for (size_t i = a->n_pool; i < n; i++)
            a->pool[i] = new_client(a, err);
        a->n_pool = n;
    }
    return a->pool;
}

struct parallel {
    aws_task_fn fn;
    void *arg;
    size_t n;
    atomic_size_t next;
    pthread_mutex_t mu;
    bool failed;
    struct kiln_err err;
};

struct worker {
    struct parallel *par;
    struct kiln_aws_client *client;
    pthread_t thread;
    bool started;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct parallel *par = w->par;
    for (;;) {
        size_t i = atomic_fetch_add(&par->next, 1);
        if (i >= par->n)
            break;
        pthread_mutex_lock(&par->mu);
        bool stop = par->failed;
        pthread_mutex_unlock(&par->mu);
        if (stop)
            break;
        struct kiln_err e = {0};
        if (par->fn(w->client, par->arg, i, &e) < 0) {
            pthread_mutex_lock(&par->mu);
            if (!par->failed) {
                par->failed = true;
                par->err = e;
            }
            pthread_mutex_unlock(&par->mu);
        }
    }
    return NULL;
}

int aws_parallel(struct aws *a, size_t n, size_t threads, aws_task_fn fn, void *arg,
                 struct kiln_err *err)
{
    if (n == 0)
        return 0;
    if (threads > n)
        threads = n;
    if (threads < 1)
        threads = 1;
    struct parallel par = {.fn = fn, .arg = arg, .n = n};
    atomic_init(&par.next, 0);
    pthread_mutex_init(&par.mu, NULL);
    struct worker *w = xcalloc(threads, sizeof *w);
    struct kiln_aws_client **pool = threads > 1 ? aws_pool(a, threads - 1, NULL) : NULL;
    /* Worker 0 is this thread with its own client; the others get pool clients. A pool
     * client that could not be made simply means one worker fewer. */
    w[0] = (struct worker){.par = &par, .client = a->client};
    for (size_t t = 1; t < threads; t++) {
        w[t] = (struct worker){.par = &par, .client = pool[t - 1]};
        if (w[t].client != NULL && pthread_create(&w[t].thread, NULL, worker_main, &w[t]) == 0)
            w[t].started = true;
    }
    worker_main(&w[0]);
    for (size_t t = 1; t < threads; t++)
        if (w[t].started)
            pthread_join(w[t].thread, NULL);
    free(w);
    pthread_mutex_destroy(&par.mu);
    if (par.failed) {
        if (err != NULL)
            *err = par.err;
        return -1;
    }
    return 0;
}

/* ---- opening and closing ---- */

static void aws_close(struct kiln_provider *p)
{
    struct aws *a = aws_of(p);
    const char *stats = getenv("KILN_AWS_STATS");
    if (stats != NULL && stats[0] != '\0' && strcmp(stats, "0") != 0) {
        /* For the benchmark: how many requests this provider sent, retries included. */
        unsigned long long n = kiln_aws_http_requests(kiln_aws_client_http(a->client));
        for (size_t i = 0; i < a->n_pool; i++)
            if (a->pool[i] != NULL)
                n += kiln_aws_http_requests(kiln_aws_client_http(a->pool[i]));
        FILE *f = fopen(stats, "ae");
        if (f != NULL) {
            fprintf(f, "requests %llu\n", n);
            fclose(f);
        }
    }
    aws_events_free(a->events);
    for (size_t i = 0; i < a->n_pool; i++)
        kiln_aws_client_free(a->pool[i]);
    free(a->pool);
    kiln_aws_client_free(a->client);
    kiln_aws_credentials_provider_release(a->creds);
    free(a->endpoint);
    free(a->ca_bundle);
    free(a->hosted_zone);
    free(a->aminate_command);
    free(a->base_ami);
    free(a->instance_type);
    free(a->certificate_arn);
    free(a->package_repo);
    free(a->state_dir);
    free(a);
    free(p);
}

static const struct kiln_provider_ops aws_ops = {
    .name = "aws",
    .inventory = aws_inventory,
    .inventory_cluster = aws_inventory_cluster,
    .create_app = aws_create_app,
    .delete_app = aws_delete_app,
    .package_push = aws_package_push,
    .bake = aws_bake,
    .group_create = aws_group_create,
    .group_resize = aws_group_resize,
    .group_enable = aws_group_enable,
    .group_disable = aws_group_disable,
    .group_destroy = aws_group_destroy,
    .group_suspend = aws_group_suspend,
    .group_mark_rejected = aws_group_mark_rejected,
    .instance_terminate = aws_instance_terminate,
    .lock = aws_lock,
    .unlock = aws_unlock,
    .chaos = aws_chaos,
    .next_event = aws_next_event,
    .close = aws_close,
};

static char *dup_str(const char *s)
{
    return xstrdup(s ? s : "");
}

struct kiln_provider *kiln_aws_open(struct kiln_ctx *ctx, struct kiln_err *err)
{
    const struct kiln_config *cfg = &ctx->config;
    char *cache = xasprintf("%s/aws-cache", ctx->paths.home);
    struct kiln_aws_client *c =
        kiln_aws_client_open(cfg, ctx->opts.profile, ctx->opts.region, cache, err);
    free(cache);
    if (c == NULL)
        return NULL;
    struct aws *a = xcalloc(1, sizeof *a);
    a->client = c;
    FILE *f = debug_log();
    if (f != NULL)
        kiln_aws_http_set_log(kiln_aws_client_http(c), log_line, f);
    snprintf(a->region, sizeof a->region, "%s", kiln_aws_client_region(c));
    a->endpoint = dup_str(cfg->aws.endpoint);
    a->ca_bundle = dup_str(cfg->aws.ca_bundle);
    a->allow_http = cfg->aws.allow_http_endpoints;
    a->creds = kiln_aws_credentials_provider_acquire(kiln_aws_client_credentials(c));
    a->hosted_zone = dup_str(cfg->aws.hosted_zone);
    /* A zone written with its final dot is the same zone. */
    size_t hz = strlen(a->hosted_zone);
    if (hz > 0 && a->hosted_zone[hz - 1] == '.')
        a->hosted_zone[hz - 1] = '\0';
    a->bake_method = cfg->aws.bake_method;
    a->health_probe = cfg->aws.health_probe;
    a->whole_ms = cfg->console.whole_refresh_interval_ms;
    a->aminate_command = dup_str(cfg->aws.aminate_command);
    a->base_ami = dup_str(cfg->aws.base_ami);
    a->instance_type = dup_str(cfg->aws.instance_type);
    a->certificate_arn = dup_str(cfg->aws.certificate_arn);
    a->package_repo = dup_str(cfg->aws.package_repo);
    a->health_timeout_ms = cfg->health_timeout_ms > 0 ? cfg->health_timeout_ms : 300000;
    a->chaos_mean_ms = cfg->local.chaos_mean_ms;
    a->chaos_min_ms = cfg->local.chaos_min_ms;
    a->state_dir = dup_str(ctx->paths.home);
    struct kiln_provider *p = xcalloc(1, sizeof *p);
    p->ops = &aws_ops;
    p->impl = a;
    return p;
}
