/* fuzz: the AWS CLI's shared files, ~/.aws/credentials and ~/.aws/config
 * (kiln_aws_profile_file_load in src/provider/aws/profile_file.c), which kiln reads but
 * other tools (aws configure, SSO helpers, people) write.
 *
 * The input is written to a file and loaded both ways (credentials rules and config
 * rules), then asked for the usual profiles and keys, and for the profile named by the
 * file's first section header. Checked besides "no crash, no leak": a file that exists
 * always loads (unknown or odd lines are skipped, not errors); a key is found only in a
 * profile that exists.
 */
#include "fuzz.h"

#include "provider/aws/profile_file.h"

static const char *const profiles[] = {"default", "dev", "prod", "profile dev", ""};
static const char *const keys[] = {"aws_access_key_id", "aws_secret_access_key",
                                   "aws_session_token", "region",
                                   "role_arn", "source_profile",
                                   "s3", "credential_process"};

static void ask(const struct kiln_aws_profile_file *f, const char *profile)
{
    bool exists = kiln_aws_profile_exists(f, profile);
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        const char *v = kiln_aws_profile_get(f, profile, keys[k]);
        if (v == NULL)
            continue;
        if (!exists)
            fuzz_fail("[%s] %s found in a profile that does not exist", profile, keys[k]);
        (void)strlen(v);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 256 * 1024)
        return 0;
    static char *path;
    if (path == NULL)
        path = fuzz_path("aws-shared-file");
    fuzz_write_file(path, data, size);

    /* The profile named by the first "[...]" of the input, as it is written there. */
    char named[128] = "";
    const uint8_t *open = memchr(data, '[', size);
    if (open != NULL) {
        const uint8_t *close = memchr(open, ']', size - (size_t)(open - data));
        size_t n = close ? (size_t)(close - open - 1) : 0;
        if (close != NULL && n < sizeof named && memchr(open + 1, '\0', n) == NULL) {
            memcpy(named, open + 1, n);
            named[n] = '\0';
        }
    }

    for (int is_config = 0; is_config <= 1; is_config++) {
        struct kiln_aws_profile_file *f = NULL;
        struct kiln_err err = {0};
        if (kiln_aws_profile_file_load(path, is_config, &f, &err) < 0)
            fuzz_fail("a readable file refused: %s", err.msg);
        for (size_t p = 0; p < sizeof profiles / sizeof profiles[0]; p++)
            ask(f, profiles[p]);
        ask(f, named);
        if (strncmp(named, "profile ", 8) == 0)
            ask(f, named + 8);
        kiln_aws_profile_file_free(f);
    }
    return 0;
}
