/* fuzz: an app's manifest, kiln.json (kiln_manifest_parse).
 *
 * The text comes from the app's repository, which kiln does not control. Checked
 * besides "no crash, no leak": a refusal is one printable sentence; an accepted
 * manifest has every field set and within the rules manifest.h states, since these
 * values go on to rpmbuild's command line, paths on disk and an instance's environment.
 */
#include "fuzz.h"

#include "kiln/manifest.h"

static bool path_ok(const char *s)
{
    if (s == NULL || s[0] == '\0' || s[0] == '/' || strlen(s) > KILN_MANIFEST_PATH_MAX)
        return false;
    if (strstr(s, "..") != NULL && (strcmp(s, "..") == 0 || strncmp(s, "../", 3) == 0 ||
                                    strstr(s, "/../") != NULL ||
                                    (strlen(s) >= 3 && strcmp(s + strlen(s) - 3, "/..") == 0)))
        return false;
    for (const char *p = s; *p != '\0'; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("._+-/", *p) != NULL))
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kiln_manifest m;
    struct kiln_err err = {0};
    /* The input as it is, not NUL-terminated: the parser must respect the length. */
    if (kiln_manifest_parse((const char *)data, size, "kiln.json", &m, &err) < 0) {
        if (err.code != KILN_E_INVALID || !fuzz_message_ok(err.msg))
            fuzz_fail("refusal with code %d and message \"%s\"", err.code, err.msg);
        if (m.spec != NULL || m.source != NULL || m.start != NULL || m.health_path != NULL ||
            m.port_env != NULL)
            fuzz_fail("a refused manifest is not left empty");
        kiln_manifest_free(&m);
        return 0;
    }
    if (kiln_name_validate_app(m.name, NULL) < 0)
        fuzz_fail("accepted app name \"%s\" does not validate", m.name);
    if (!path_ok(m.spec) || strlen(m.spec) <= 5 || strcmp(m.spec + strlen(m.spec) - 5, ".spec"))
        fuzz_fail("accepted spec \"%s\"", m.spec);
    if (strcmp(m.source, ".") != 0 && !path_ok(m.source))
        fuzz_fail("accepted source \"%s\"", m.source);
    if (m.n_start < 1 || m.n_start > KILN_MANIFEST_START_MAX || m.start[m.n_start] != NULL)
        fuzz_fail("accepted start has %zu elements or is not NULL-terminated", m.n_start);
    if (m.start[0][0] != '/' || !path_ok(m.start[0] + 1))
        fuzz_fail("accepted program \"%s\"", m.start[0]);
    for (size_t i = 1; i < m.n_start; i++)
        if (m.start[i] == NULL || strlen(m.start[i]) > KILN_MANIFEST_ARG_MAX ||
            !kiln_text_printable(m.start[i]))
            fuzz_fail("accepted start[%zu]", i);
    if (m.health_path == NULL || m.health_path[0] != '/' || strpbrk(m.health_path, " \r\n\t"))
        fuzz_fail("accepted health path \"%s\"", m.health_path ? m.health_path : "(null)");
    if (m.port_env == NULL || m.port_env[0] == '\0' ||
        strspn(m.port_env, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") != strlen(m.port_env) ||
        strncmp(m.port_env, "LD_", 3) == 0 || strncmp(m.port_env, "KILN_", 5) == 0 ||
        strcmp(m.port_env, "PATH") == 0)
        fuzz_fail("accepted port_env \"%s\"", m.port_env ? m.port_env : "(null)");
    kiln_manifest_free(&m);
    return 0;
}
