/* kiln: the AWS CLI's shared files, ~/.aws/credentials and ~/.aws/config (internal).
 *
 * Why not inih, which kiln's own config uses: Debian's libinih reads at most 200 bytes
 * a line and splits longer ones, and an STS session token alone is 400 to 1200 bytes,
 * so a credentials file written by `aws configure set aws_session_token` or by SSO
 * tooling would be silently misread. This reader has no line limit and follows
 * botocore's rules: '#' and ';' start comment lines (no inline comments), keys are
 * lowercased and trimmed, indented lines continue the previous value (nested
 * settings), CRLF and a UTF-8 BOM are accepted, a later key overrides an earlier one.
 * In the config file sections are "[default]" and "[profile NAME]" (other kinds,
 * "[sso-session x]", "[services x]", are skipped); in the credentials file a section
 * name is the profile name as written. */
#ifndef KILN_AWS_PROFILE_FILE_H
#define KILN_AWS_PROFILE_FILE_H

#include <stdbool.h>

#include "kiln/err.h"

struct kiln_aws_profile_file;

/* Reads path (is_config: the config file's section rules). A missing file gives an empty
 * result, not an error; an unreadable one is an error naming the path. Free with
 * kiln_aws_profile_file_free. */
int kiln_aws_profile_file_load(const char *path, bool is_config, struct kiln_aws_profile_file **out,
                               struct kiln_err *err);
void kiln_aws_profile_file_free(struct kiln_aws_profile_file *f);

bool kiln_aws_profile_exists(const struct kiln_aws_profile_file *f, const char *profile);
/* The value, owned by f, or NULL; f may be NULL. */
const char *kiln_aws_profile_get(const struct kiln_aws_profile_file *f, const char *profile,
                                 const char *key);

/* AWS_SHARED_CREDENTIALS_FILE / AWS_CONFIG_FILE, else ~/.aws/credentials / ~/.aws/config,
 * with a leading "~/" expanded. The caller frees. */
char *kiln_aws_credentials_file_path(void);
char *kiln_aws_config_file_path(void);

#endif
