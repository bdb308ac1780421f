/* kiln: where state and configuration live. */
#include "kiln/paths.h"
#include "tap.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static struct kiln_err err;
static char tmp[PATH_MAX];

static void clear_env(void)
{
    unsetenv("KILN_HOME");
    unsetenv("KILN_CONFIG");
    unsetenv("XDG_STATE_HOME");
    unsetenv("XDG_CONFIG_HOME");
    setenv("HOME", "/home/tester", 1);
}

static void test_precedence(void)
{
    struct kiln_paths p = {0};

    clear_env();
    is_int(kiln_paths_resolve(&p, NULL, NULL, &err), 0, "resolve with only HOME");
    is_str(p.home, "/home/tester/.local/state/kiln", "state dir under ~/.local/state");
    is_str(p.config_file, "/home/tester/.config/kiln/config", "config under ~/.config");
    is_str(p.socket, "/home/tester/.local/state/kiln/kilnd.sock", "socket in the state dir");
    is_str(p.cloud_json, "/home/tester/.local/state/kiln/cloud.json", "cloud.json");
    is_str(p.lock_file, "/home/tester/.local/state/kiln/kilnd.lock", "lock file");
    is_str(p.packages_dir, "/home/tester/.local/state/kiln/packages", "packages/");
    is_str(p.images_dir, "/home/tester/.local/state/kiln/images", "images/");
    is_str(p.instances_dir, "/home/tester/.local/state/kiln/instances", "instances/");
    is_str(p.nginx_dir, "/home/tester/.local/state/kiln/nginx", "nginx/");
    is_str(p.journal_dir, "/home/tester/.local/state/kiln/journal", "journal/");
    is_str(p.history, "/home/tester/.local/state/kiln/history", "history");
    is_str(p.events_log, "/home/tester/.local/state/kiln/events.log", "events.log");
    is_str(p.console_history, "/home/tester/.local/state/kiln/console_history", "console history");
    kiln_paths_free(&p);
    ok_got(p.home == NULL && p.console_history == NULL,
           ("home %s, console history %s", p.home ? p.home : "(null)",
            p.console_history ? p.console_history : "(null)"),
           "free empties the struct");
    kiln_paths_free(&p);
    static const struct kiln_paths empty;
    ok(memcmp(&p, &empty, sizeof p) == 0,
       "and a second free leaves it all zero (a double free shows under ASan and valgrind)");

    setenv("XDG_STATE_HOME", "/xdg/state", 1);
    setenv("XDG_CONFIG_HOME", "/xdg/config/", 1);
    kiln_paths_resolve(&p, NULL, NULL, &err);
    is_str(p.home, "/xdg/state/kiln", "XDG_STATE_HOME beats HOME");
    is_str(p.config_file, "/xdg/config/kiln/config", "XDG_CONFIG_HOME beats HOME");
    kiln_paths_free(&p);

    setenv("XDG_STATE_HOME", "relative/state", 1);
    setenv("XDG_CONFIG_HOME", "", 1);
    kiln_paths_resolve(&p, NULL, NULL, &err);
    is_str(p.home, "/home/tester/.local/state/kiln", "a relative XDG_STATE_HOME is ignored");
    is_str(p.config_file, "/home/tester/.config/kiln/config", "an empty XDG_CONFIG_HOME too");
    kiln_paths_free(&p);

    setenv("XDG_STATE_HOME", "/xdg/state", 1);
    setenv("KILN_HOME", "/kiln//home/", 1);
    setenv("KILN_CONFIG", "/etc/kiln.conf", 1);
    kiln_paths_resolve(&p, NULL, NULL, &err);
    is_str(p.home, "/kiln/home", "KILN_HOME beats XDG, slashes tidied");
    is_str(p.config_file, "/etc/kiln.conf", "KILN_CONFIG beats XDG");
    is_str(p.socket, "/kiln/home/kilnd.sock", "derived paths follow");
    kiln_paths_free(&p);

    kiln_paths_resolve(&p, "/opt/kiln", "/opt/kiln.conf", &err);
    is_str(p.home, "/opt/kiln", "--home beats KILN_HOME");
    is_str(p.config_file, "/opt/kiln.conf", "--config beats KILN_CONFIG");
    kiln_paths_free(&p);

    kiln_paths_resolve(&p, "", "", &err);
    is_str(p.home, "/kiln/home", "an empty --home counts as not given");
    kiln_paths_free(&p);

    setenv("KILN_HOME", "", 1);
    kiln_paths_resolve(&p, NULL, NULL, &err);
    is_str(p.home, "/xdg/state/kiln", "an empty KILN_HOME counts as unset");
    kiln_paths_free(&p);

    char cwd[PATH_MAX], want[PATH_MAX + 32];
    ok(getcwd(cwd, sizeof cwd) != NULL, "getcwd");
    is_int(kiln_paths_resolve(&p, "./rel/./dir", "conf", &err), 0, "relative --home");
    snprintf(want, sizeof want, "%s/rel/dir", strcmp(cwd, "/") == 0 ? "" : cwd);
    is_str(p.home, want, "is made absolute against the current directory");
    snprintf(want, sizeof want, "%s/conf", strcmp(cwd, "/") == 0 ? "" : cwd);
    is_str(p.config_file, want, "and so is a relative --config");
    kiln_paths_free(&p);

    kiln_paths_resolve(&p, "/", NULL, &err);
    is_str(p.home, "/", "root stays root");
    is_str(p.socket, "/kilnd.sock", "with no double slash below it");
    kiln_paths_free(&p);

    clear_env();
    setenv("HOME", "relative-home", 1);
    int rc = kiln_paths_resolve(&p, NULL, NULL, &err);
    /* Falls back to the password database, whatever that says here. */
    ok(rc < 0 || (p.home != NULL && p.home[0] == '/'), "a relative HOME is not used as is");
    kiln_paths_free(&p);
}

static void test_display(void)
{
    char buf[PATH_MAX];
    setenv("HOME", "/home/tester/", 1);
    is_str(kiln_path_display("/home/tester/.config/kiln/config", buf, sizeof buf),
           "~/.config/kiln/config", "$HOME/ shows as ~/");
    is_str(kiln_path_display("/home/tester", buf, sizeof buf), "~", "$HOME itself as ~");
    is_str(kiln_path_display("/home/testerx/y", buf, sizeof buf), "/home/testerx/y",
           "only whole components match");
    unsetenv("HOME");
    is_str(kiln_path_display("/a/b", buf, sizeof buf), "/a/b", "no HOME, no change");
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? st.st_mode & 07777 : (mode_t)-1;
}

static void test_ensure_home(void)
{
    struct kiln_paths p = {0};
    char dir[PATH_MAX + 64];

    clear_env();
    snprintf(dir, sizeof dir, "%s/a/b/state", tmp);
    kiln_paths_resolve(&p, dir, NULL, &err);
    mode_t old = umask(0);
    is_int(kiln_paths_ensure_home(&p, &err), 0, "create a missing state dir and its parents");
    umask(old);
    is_int(mode_of(dir), 0700, "with mode 0700 even under umask 0");
    snprintf(dir, sizeof dir, "%s/a", tmp);
    is_int(mode_of(dir), 0700, "parents are created 0700 too");
    is_int(kiln_paths_ensure_home(&p, &err), 0, "an existing good dir is fine");

    chmod(p.home, 0755);
    is_int(kiln_paths_ensure_home(&p, &err), 0, "a readable (0755) dir is accepted");

    chmod(p.home, 0777);
    is_int(kiln_paths_ensure_home(&p, &err), -1, "a world-writable dir is refused");
    ok(strstr(err.msg, "mode 0777") != NULL, "saying the mode");
    ok(strstr(err.msg, "its group and others can write") != NULL, "and who can write");
    char fix[PATH_MAX + 64];
    snprintf(fix, sizeof fix, "chmod 700 '%s'", p.home);
    ok(strstr(err.msg, fix) != NULL, "giving the chmod that fixes it");
    diag("%s", err.msg);
    ok(mode_of(p.home) == 0777, "without changing the mode itself");

    chmod(p.home, 0720);
    is_int(kiln_paths_ensure_home(&p, &err), -1, "a group-writable dir is refused");
    ok(strstr(err.msg, "its group can write") != NULL, "naming the group");
    chmod(p.home, 0700);
    kiln_paths_free(&p);

    snprintf(dir, sizeof dir, "%s/a/file", tmp);
    FILE *f = fopen(dir, "w");
    ok(f != NULL, "make a file");
    if (f != NULL)
        fclose(f);
    kiln_paths_resolve(&p, dir, NULL, &err);
    is_int(kiln_paths_ensure_home(&p, &err), -1, "a file is not a state dir");
    ok(strstr(err.msg, "is not a directory") != NULL, "and the message says so");
    kiln_paths_free(&p);

    snprintf(dir, sizeof dir, "%s/a/file/below", tmp);
    kiln_paths_resolve(&p, dir, NULL, &err);
    is_int(kiln_paths_ensure_home(&p, &err), -1, "a dir below a file cannot be made");
    ok(strstr(err.msg, "--home DIR or KILN_HOME") != NULL, "and the message says what to do");
    kiln_paths_free(&p);

    snprintf(dir, sizeof dir, "%s/other", tmp);
    kiln_paths_resolve(&p, dir, NULL, &err);
    mkdir(dir, 0700);
    if (geteuid() == 0 && chown(dir, 65534, 65534) == 0) {
        is_int(kiln_paths_ensure_home(&p, &err), -1, "a dir owned by someone else is refused");
        ok_got(strstr(err.msg, "uid 65534") != NULL && strstr(err.msg, "must be yours") != NULL,
               ("%s", err.msg), "saying whose it is");
    } else {
        ok(1, "# SKIP not root: cannot give a dir away");
        ok(1, "# SKIP not root");
    }
    kiln_paths_free(&p);
}

static void test_socket(void)
{
    char path[200];
    memset(path, 'x', sizeof path);
    path[0] = '/';
    path[107] = '\0';
    is_int(kiln_paths_check_socket(path, &err), 0, "a 107-byte socket path fits");
    path[107] = 'x';
    path[108] = '\0';
    is_int(kiln_paths_check_socket(path, &err), -1, "108 bytes do not");
    ok_got(strstr(err.msg, "108 bytes long") != NULL && strstr(err.msg, "at most 107") != NULL,
           ("%s", err.msg), "the message gives both lengths");
    ok(strstr(err.msg, "--home DIR") != NULL, "and the way out");
}

int main(void)
{
    snprintf(tmp, sizeof tmp, "%s/kiln-test-paths-XXXXXX",
             getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(tmp) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    test_precedence();
    test_display();
    test_ensure_home();
    test_socket();

    char cmd[PATH_MAX + 32];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        diag("could not remove %s", tmp);
    return done_testing();
}
