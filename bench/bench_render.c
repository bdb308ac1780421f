/* bench_render: what the console costs to draw, with the console's own code.
 *
 *  1. Frame render time with a synthetic snapshot of 1,000 apps, 5,000 server
 *     groups and 50,000 instances, drawn into a curses screen on /dev/null,
 *     while scrolling the panes and filtering them (median and p99 over the
 *     frames; target: median <= 2 ms).
 *  2. RSS with that snapshot on screen (target <= 50 MB).
 *  3. Time from a worker appending a log line to the frame that shows it, while
 *     workers append 100,000 lines a second, with the console's frame pacing
 *     (target <= 50 ms).
 *
 * Usage: bench_render [FRAMES] (default 2000). Prints the figures; exits 1 when a
 * target is missed. Idle CPU of the real console is measured by
 * bench/console_idle.sh (it needs a terminal). */
#include "console/ui.h"

#include "kiln/timeutil.h"
#include "kiln/xalloc.h"

#include <inttypes.h>
#include <locale.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define APPS      1000
#define GROUPS    5  /* per app (one env each) */
#define INSTANCES 10 /* per group */

#define LOG_RATE    100000 /* lines per second */
#define LOG_SECONDS 3

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static int64_t pct(int64_t *v, size_t n, int p)
{
    qsort(v, n, sizeof *v, cmp_i64);
    size_t i = n * (size_t)p / 100;
    return v[i < n ? i : n - 1];
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

static struct kiln_snapshot *synthetic(void)
{
    struct kiln_err err = {0};
    struct kiln_snapshot *s = kiln_snapshot_new();
    int64_t now = kiln_now_us();
    unsigned id = 0;
    for (int a = 0; a < APPS; a++) {
        char name[32];
        snprintf(name, sizeof name, "app-%04d", a);
        struct kiln_app *app = kiln_snapshot_add_app(s, name, &err);
        struct kiln_env te = {.name = a % 2 ? "prod" : "test",
                              .lb_name = "",
                              .lb_dns = "",
                              .health = {.path = "/health"}};
        struct kiln_env *env = kiln_snapshot_add_env(s, app, &te, &err);
        for (int g = 0; g < GROUPS; g++) {
            char pkg[64], img[32];
            snprintf(pkg, sizeof pkg, "%s-1.%d.0-1.x86_64", name, g);
            snprintf(img, sizeof img, "img-%012x", a * GROUPS + g);
            struct kiln_group tg = {.version = g,
                                    .enabled = g == GROUPS - 1,
                                    .image_id = img,
                                    .package = pkg,
                                    .min_size = 1,
                                    .max_size = 20,
                                    .desired = INSTANCES,
                                    .created_us = now - (int64_t)(GROUPS - g) * 3600000000};
            struct kiln_group *grp = kiln_snapshot_add_group(s, env, &tg, &err);
            for (int i = 0; i < INSTANCES; i++) {
                char iid[32], addr[32];
                snprintf(iid, sizeof iid, "i-%017x", ++id);
                snprintf(addr, sizeof addr, "127.0.0.1:%d", 10000 + (int)(id % 50000));
                struct kiln_instance ti = {
                    .id = iid,
                    .address = addr,
                    .launched_us = now - 60000000,
                    .pid = (int)id,
                    .state = KILN_INSTANCE_RUNNING,
                    .health = id % 13 ? KILN_HEALTH_HEALTHY : KILN_HEALTH_UNHEALTHY,
                    .lb_state = tg.enabled ? KILN_LB_IN_SERVICE : KILN_LB_OUT_OF_SERVICE};
                kiln_snapshot_add_instance(s, grp, &ti, &err);
            }
        }
    }
    if (kiln_snapshot_finish(s, &err) < 0) {
        fprintf(stderr, "bench_render: %s\n", err.msg);
        exit(2);
    }
    return s;
}

/* One step of what a user does: scroll a pane, change panes, type or clear a
 * filter, page through the log. */
static void step(struct console *c, int i)
{
    static const char *const filters[] = {"a",       "ap", "app", "app-0", "app-01",
                                          "app-012", "",   "9",   "99",    ""};
    int phase = (i / 50) % 4;
    struct pane *p;
    switch (phase) {
    case 0: /* scroll the apps: every move re-syncs groups and instances */
        c->focus = PANE_APPS;
        ui_list_key(c, &c->panes[PANE_APPS], i % 10 == 9 ? ACT_PAGE_DOWN : ACT_MOVE_DOWN);
        break;
    case 1: /* filter the apps, a character at a time */
        c->focus = PANE_APPS;
        p = &c->panes[PANE_APPS];
        snprintf(p->filter, sizeof p->filter, "%s", filters[i % 10]);
        ui_sync_main(c);
        break;
    case 2: /* scroll the instances */
        c->focus = PANE_INSTANCES;
        ui_list_key(c, &c->panes[PANE_INSTANCES], i % 2 ? ACT_MOVE_DOWN : ACT_MOVE_UP);
        break;
    default: /* the log takes lines and scrolls */
        c->focus = PANE_LOG;
        ui_log(c, KILN_LOG_INFO, "bench", "line %d: %s", i,
               "a log line long enough to wrap on a narrow screen, with words and numbers 12345");
        c->panes[PANE_LOG].ops->key(c, &c->panes[PANE_LOG], i % 3 ? ACT_MOVE_UP : ACT_LAST);
        break;
    }
    c->dirty |= DIRTY_ALL;
}

/* ---- 3: log latency ---- */

struct flood {
    int64_t until_us;
};

/* A job that appends LOG_RATE lines a second, each carrying its monotonic time. */
static int flood_job(struct kiln_job *job, void *arg, struct kiln_err *err)
{
    struct flood *f = arg;
    struct kiln_logring *ring = kiln_job_logring(job);
    int64_t start = kiln_mono_us();
    uint64_t n = 0;
    while (kiln_mono_us() < f->until_us) {
        /* Keep to the rate: n lines by now. */
        int64_t due = start + (int64_t)(n * 1000000 / LOG_RATE);
        int64_t now = kiln_mono_us();
        if (now < due) {
            if (due - now > 200)
                kiln_sleep_ms(0);
            continue;
        }
        kiln_logring_appendf(ring, KILN_LOG_INFO, "flood", "t=%" PRId64 " line %" PRIu64, now, n);
        n++;
    }
    return 0;
}

static void ring_notify(struct kiln_logring *ring, void *ctx)
{
    (void)ring;
    kiln_wake_signal(ctx);
}

static void engine_notify(struct kiln_job *job, void *arg)
{
    (void)job;
    kiln_wake_signal(arg);
}

int main(int argc, char **argv)
{
    int frames = argc > 1 ? atoi(argv[1]) : 2000;
    if (frames < 200)
        frames = 200;
    setenv("TERM", getenv("TERM") && getenv("TERM")[0] ? getenv("TERM") : "xterm-256color", 1);
    setenv("LINES", "60", 1);
    setenv("COLUMNS", "200", 1);
    setlocale(LC_ALL, "C.UTF-8");

    struct kiln_ctx ctx;
    kiln_ctx_init(&ctx);
    kiln_config_defaults(&ctx.config);
    struct console *c = xcalloc(1, sizeof *c);
    ui_state_init(c, &ctx);
    struct kiln_err err = {0};

    long rss0 = rss_kb();
    struct kiln_snapshot *s = synthetic();
    size_t snap_bytes = kiln_snapshot_memory(s);
    if (kiln_model_publish(c->model, s, &err) < 0) {
        fprintf(stderr, "bench_render: %s\n", err.msg);
        return 2;
    }
    /* cppcheck-suppress incompatibleFileOpen ; two streams on /dev/null on purpose: the
     * screen writes to one and reads no keys from the other */
    FILE *out = fopen("/dev/null", "w"), *in = fopen("/dev/null", "r");
    if (ui_screen_start(c, out, in, &err) < 0) {
        fprintf(stderr, "bench_render: %s\n", err.msg);
        return 2;
    }
    ui_take_snapshot(c);
    ui_render(c);

    /* ---- 1 and 2 ---- */
    int64_t *render = xmalloc((size_t)frames * sizeof *render);
    int64_t *whole = xmalloc((size_t)frames * sizeof *whole);
    for (int i = 0; i < frames; i++) {
        int64_t t0 = kiln_mono_us();
        step(c, i);
        int64_t t1 = kiln_mono_us();
        ui_render(c);
        int64_t t2 = kiln_mono_us();
        render[i] = t2 - t1;
        whole[i] = t2 - t0;
    }
    long rss1 = rss_kb();
    int64_t r50 = pct(render, (size_t)frames, 50), r99 = pct(render, (size_t)frames, 99);
    int64_t w50 = pct(whole, (size_t)frames, 50), w99 = pct(whole, (size_t)frames, 99);

    /* ---- 3 ---- */
    if (kiln_wake_init(&c->wake, &err) < 0) {
        fprintf(stderr, "bench_render: %s\n", err.msg);
        return 2;
    }
    c->engine = kiln_engine_new(2, (size_t)ctx.config.log_lines, &err);
    kiln_engine_set_notify(c->engine, engine_notify, &c->wake, &err);
    c->focus = PANE_LOG;
    ui_logview_show_job(c, 0);
    struct flood *f = xmalloc(sizeof *f);
    f->until_us = kiln_mono_us() + LOG_SECONDS * 1000000LL;
    struct kiln_job *job =
        kiln_engine_submit(c->engine, "flood", "bench", flood_job, f, free, &err);
    /* Its ring wakes the UI on every line, as kiln_job_log does through the engine. */
    kiln_logring_set_notify(kiln_job_logring(job), ring_notify, &c->wake);
    size_t cap = 4096, n_lat = 0;
    int64_t *lat = xmalloc(cap * sizeof *lat);
    uint64_t lines_seen = 0, prev_last = ui_loglist_last(&c->log);
    struct pollfd pfd = {.fd = kiln_wake_fd(&c->wake), .events = POLLIN};
    while (kiln_mono_us() < f->until_us + 200000) {
        int64_t since = kiln_mono_us() - c->last_frame_us;
        int timeout = c->dirty ? (int)((UI_FRAME_US - since) / 1000) + 1 : 100;
        if (c->ingest_pending)
            timeout = 0;
        if (timeout < 0)
            timeout = 0;
        if (poll(&pfd, 1, timeout) > 0 && kiln_wake_drain(&c->wake)) {
            ui_jobs_ingest(c);
            c->dirty |= DIRTY_ALL;
        } else if (c->ingest_pending) {
            ui_jobs_ingest(c);
        }
        if (c->dirty && kiln_mono_us() - c->last_frame_us >= UI_FRAME_US) {
            ui_render(c);
            int64_t shown = kiln_mono_us();
            /* The oldest line this frame shows for the first time waited longest. */
            uint64_t first_new = prev_last + 1 > c->log.first ? prev_last + 1 : c->log.first;
            const struct ui_logline *l = ui_loglist_get(&c->log, first_new);
            const char *t = l ? strstr(l->text, "t=") : NULL;
            if (t != NULL && first_new <= c->logv.last_drawn) {
                if (n_lat == cap) {
                    cap *= 2;
                    lat = xrealloc(lat, cap * sizeof *lat);
                }
                lat[n_lat++] = shown - strtoll(t + 2, NULL, 10);
            }
            prev_last = c->logv.last_drawn;
        }
    }
    kiln_job_wait(job);
    ui_jobs_ingest(c);
    for (size_t i = 0; i < c->n_track; i++)
        if (c->track[i].id == kiln_job_id(job))
            lines_seen = c->track[i].next_seq - 1;
    kiln_job_unref(job);
    int64_t l50 = n_lat ? pct(lat, n_lat, 50) : -1, l99 = n_lat ? pct(lat, n_lat, 99) : -1;
    int64_t lmax = n_lat ? lat[n_lat - 1] : -1; /* sorted by pct() */

    ui_screen_end(c);
    printf("bench_render: %d apps, %d server groups, %d instances (snapshot %.1f MB), "
           "200x60 screen\n",
           APPS, APPS * GROUPS, APPS * GROUPS * INSTANCES, (double)snap_bytes / 1e6);
    printf("  frame render, scrolling and filtering: median %.3f ms, p99 %.3f ms over %d frames "
           "(target median <= 2 ms)\n",
           (double)r50 / 1000, (double)r99 / 1000, frames);
    printf("  the same with the key's own work (re-syncing the panes): median %.3f ms, p99 %.3f "
           "ms\n",
           (double)w50 / 1000, (double)w99 / 1000);
    printf("  RSS: %.1f MB with the snapshot on screen (%.1f MB before it; target <= 50 MB)\n",
           (double)rss1 / 1024, (double)rss0 / 1024);
    printf("  log line appended -> on screen (the oldest new line of each frame), %d lines/s for "
           "%d s: median %.1f ms, p99 %.1f ms, max %.1f ms over %zu frames; %" PRIu64
           " lines read (target <= 50 ms)\n",
           LOG_RATE, LOG_SECONDS, (double)l50 / 1000, (double)l99 / 1000, (double)lmax / 1000,
           n_lat, lines_seen);
    bool ok = r50 <= 2000 && rss1 <= 50 * 1024 && l50 >= 0 && l99 <= 50000;
    kiln_engine_free(c->engine);
    c->engine = NULL;
    kiln_wake_close(&c->wake);
    ui_state_free(c);
    free(c);
    free(render);
    free(whole);
    free(lat);
    kiln_ctx_free(&ctx);
    return ok ? 0 : 1;
}
