/* fuzz: helpers shared by the targets (see fuzz/fuzz.h). Linked into every target. */
#include "fuzz.h"

#include "kiln/names.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

void fuzz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fuzz: property broken: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s == NULL)
        abort();
    if (size > 0)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

static char tmpdir[4096];

/* Removes the directory's files, then the directory (the targets make one level only,
 * plus journal/ in fuzz_journal). */
static void remove_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d != NULL) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            char p[8192];
            snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
            struct stat st;
            if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
                remove_tree(p);
            else
                unlink(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

static void remove_tmpdir(void)
{
    if (tmpdir[0] != '\0')
        remove_tree(tmpdir);
}

/* A target that crashes or is killed cannot remove its directory: the next one removes
 * those whose process (named in the directory's name) is gone. */
static void remove_stale(const char *base)
{
    DIR *d = opendir(base);
    if (d == NULL)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        int pid;
        char rest[64];
        if (sscanf(de->d_name, "kiln-fuzz.%d.%63s", &pid, rest) != 2 || pid <= 0 ||
            kill(pid, 0) == 0 || errno != ESRCH)
            continue;
        char p[8192];
        snprintf(p, sizeof p, "%s/%s", base, de->d_name);
        remove_tree(p);
    }
    closedir(d);
}

const char *fuzz_tmpdir(void)
{
    if (tmpdir[0] != '\0')
        return tmpdir;
    const char *bases[] = {getenv("FUZZ_TMPDIR"), "/dev/shm", getenv("TMPDIR"), "/tmp"};
    for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++) {
        if (bases[i] == NULL || bases[i][0] == '\0' || access(bases[i], W_OK) != 0)
            continue;
        remove_stale(bases[i]);
        snprintf(tmpdir, sizeof tmpdir, "%s/kiln-fuzz.%d.XXXXXX", bases[i], (int)getpid());
        if (mkdtemp(tmpdir) != NULL) {
            atexit(remove_tmpdir);
            return tmpdir;
        }
    }
    fprintf(stderr, "fuzz: cannot make a temporary directory (set FUZZ_TMPDIR)\n");
    abort();
}

char *fuzz_path(const char *name)
{
    const char *dir = fuzz_tmpdir();
    size_t n = strlen(dir) + 1 + strlen(name) + 1;
    char *p = malloc(n);
    if (p == NULL)
        abort();
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

void fuzz_write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        perror(path);
        abort();
    }
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n <= 0) {
            perror(path);
            abort();
        }
        p += n;
        len -= (size_t)n;
    }
    close(fd);
}

bool fuzz_message_ok(const char *s)
{
    return s != NULL && s[0] != '\0' && kiln_text_printable(s);
}

int fuzz_split(const uint8_t *data, size_t size, char sep, char **words, int max, char **block)
{
    char *b = fuzz_cstr(data, size);
    int n = 0;
    char *start = b;
    for (size_t i = 0; i <= size && n < max; i++) {
        if (i == size || b[i] == sep) {
            b[i] = '\0';
            words[n++] = start;
            start = b + i + 1;
        }
    }
    *block = b;
    return n;
}
