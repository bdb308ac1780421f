/* kiln: the AWS credentials chain and region, with a temporary HOME and environment; the
 * assumed role against a fixture STS, instance metadata against a fixture IMDS. */
#include "kiln/atomic_file.h"
#include "kiln/aws_credentials.h"
#include "kiln/timeutil.h"
#include "kiln/xalloc.h"
#include "aws_fixture.h"
#include "tap.h"

#include <stdlib.h>
#include <dirent.h>
#include <sys/stat.h>

static char home[256];
static struct kiln_err err;

static int msg_has(const char *needle)
{
    int found = strstr(err.msg, needle) != NULL;
    if (!found)
        diag("message: %s", err.msg);
    return found;
}

static void clear_env(void)
{
    const char *vars[] = {"AWS_ACCESS_KEY_ID",
                          "AWS_SECRET_ACCESS_KEY",
                          "AWS_SESSION_TOKEN",
                          "AWS_SECURITY_TOKEN",
                          "AWS_PROFILE",
                          "AWS_DEFAULT_PROFILE",
                          "AWS_REGION",
                          "AWS_DEFAULT_REGION",
                          "AWS_ENDPOINT_URL",
                          "AWS_ENDPOINT_URL_STS",
                          "AWS_SHARED_CREDENTIALS_FILE",
                          "AWS_CONFIG_FILE",
                          "AWS_EC2_METADATA_SERVICE_ENDPOINT",
                          "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"};
    for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
        unsetenv(vars[i]);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    setenv("HOME", home, 1);
    kiln_aws_credentials_cache_flush();
}

static void write_file(const char *rel, const char *text)
{
    char *path = xasprintf("%s/%s", home, rel);
    char *dir = xstrdup(path);
    *strrchr(dir, '/') = '\0';
    kiln_mkdir_p(dir, 0700, NULL);
    if (kiln_atomic_write(path, text, strlen(text), 0600, &err) < 0)
        diag("%s", err.msg);
    free(dir);
    free(path);
}

static void remove_files(void)
{
    char *p = xasprintf("%s/.aws/credentials", home);
    unlink(p);
    free(p);
    p = xasprintf("%s/.aws/config", home);
    unlink(p);
    free(p);
}

/* Asks a fresh default chain (profile as --profile would give it). */
static int chain_get(const char *profile, const char *endpoint, const char *cache_dir,
                     struct kiln_aws_credentials *out)
{
    struct kiln_aws_credentials_options o = {.profile = profile,
                                             .region = "us-east-1",
                                             .config_endpoint = endpoint,
                                             .cache_dir = cache_dir,
                                             .imds_timeout_ms = 500};
    struct kiln_aws_credentials_provider *p = kiln_aws_credentials_provider_chain_default_new(&o);
    kiln_err_clear(&err);
    int rc = kiln_aws_credentials_get(p, out, &err);
    kiln_aws_credentials_provider_release(p);
    return rc;
}

static void test_env_and_profiles(void)
{
    struct kiln_aws_credentials c = {0};
    clear_env();
    remove_files();

    setenv("AWS_ACCESS_KEY_ID", "AKIAENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
    setenv("AWS_SESSION_TOKEN", "envtoken", 1);
    write_file(".aws/credentials", "[default]\naws_access_key_id = AKIAFILE\n"
                                   "aws_secret_access_key = filesecret\n");
    is_int(chain_get(NULL, NULL, NULL, &c), 0, "env credentials");
    is_str(c.access_key_id, "AKIAENV", "the environment comes first");
    is_str(c.session_token, "envtoken", "with its session token");
    is_str(c.source, "environment", "source: environment");
    kiln_aws_credentials_clear(&c);

    write_file(".aws/credentials", "[default]\naws_access_key_id = AKIAFILE\n"
                                   "aws_secret_access_key = filesecret\n"
                                   "[dev]\naws_access_key_id = AKIADEV\n"
                                   "aws_secret_access_key = devsecret\n");
    is_int(chain_get("dev", NULL, NULL, &c), 0, "--profile dev");
    is_str(c.access_key_id, "AKIADEV", "an explicit --profile beats the environment");
    kiln_aws_credentials_clear(&c);

    unsetenv("AWS_SECRET_ACCESS_KEY");
    is_int(chain_get(NULL, NULL, NULL, &c), -1, "half a pair in the environment");
    ok(msg_has("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not"), "is an error");
    kiln_aws_credentials_clear(&c);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SESSION_TOKEN");

    is_int(chain_get(NULL, NULL, NULL, &c), 0, "default profile");
    is_str(c.access_key_id, "AKIAFILE", "from ~/.aws/credentials");
    ok(c.session_token == NULL, "no token");
    is_str(c.source, "profile default", "source: profile default");
    kiln_aws_credentials_clear(&c);

    setenv("AWS_PROFILE", "dev", 1);
    chain_get(NULL, NULL, NULL, &c);
    is_str(c.access_key_id, "AKIADEV", "AWS_PROFILE picks the profile");
    kiln_aws_credentials_clear(&c);
    unsetenv("AWS_PROFILE");

    /* The config file: [profile NAME]; the credentials file wins a key both set. */
    write_file(".aws/config", "[default]\nregion = eu-west-1\n"
                              "[profile cfgonly]\naws_access_key_id=AKIACFG\n"
                              "aws_secret_access_key=cfgsecret\nregion=ap-south-1\n"
                              "[dev]\naws_access_key_id = AKIANOTAPROFILE\n"
                              "[profile dev]\naws_access_key_id = AKIACFGDEV\n"
                              "aws_secret_access_key = x\n");
    chain_get("cfgonly", NULL, NULL, &c);
    is_str(c.access_key_id, "AKIACFG", "a profile only in ~/.aws/config");
    kiln_aws_credentials_clear(&c);
    chain_get("dev", NULL, NULL, &c);
    is_str(c.access_key_id, "AKIADEV", "the credentials file wins over the config file");
    kiln_aws_credentials_clear(&c);

    /* A long session token: Debian's inih would cut it at 200 bytes. */
    char token[1201];
    for (int i = 0; i < 1200; i++)
        token[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[i % 64];
    token[1200] = '\0';
    char *text = xasprintf("# comment\r\n; another\r\n[long]\r\naws_access_key_id = ASIALONG\r\n"
                           "aws_secret_access_key = longsecret\r\naws_session_token = %s\r\n",
                           token);
    write_file(".aws/credentials", text);
    free(text);
    chain_get("long", NULL, NULL, &c);
    is_str(c.session_token, token, "a 1200-byte session token read whole (CRLF file)");
    is_str(c.secret_access_key, "longsecret", "its secret");
    kiln_aws_credentials_clear(&c);

    /* Other files, by variable. */
    char *alt = xasprintf("%s/alt-credentials", home);
    write_file("alt-credentials",
               "[default]\naws_access_key_id=AKIAALT\naws_secret_access_key=s\n");
    setenv("AWS_SHARED_CREDENTIALS_FILE", alt, 1);
    chain_get(NULL, NULL, NULL, &c);
    is_str(c.access_key_id, "AKIAALT", "AWS_SHARED_CREDENTIALS_FILE");
    kiln_aws_credentials_clear(&c);
    unsetenv("AWS_SHARED_CREDENTIALS_FILE");
    free(alt);
    write_file("alt-config", "[profile other]\naws_access_key_id=AKIAALTCFG\n"
                             "aws_secret_access_key=s\n");
    alt = xasprintf("%s/alt-config", home);
    setenv("AWS_CONFIG_FILE", alt, 1);
    chain_get("other", NULL, NULL, &c);
    is_str(c.access_key_id, "AKIAALTCFG", "AWS_CONFIG_FILE");
    kiln_aws_credentials_clear(&c);
    unsetenv("AWS_CONFIG_FILE");
    free(alt);

    is_int(chain_get("nosuch", NULL, NULL, &c), -1, "a missing explicit profile");
    ok(msg_has("the AWS profile nosuch is in neither") && msg_has(".aws/credentials") &&
           msg_has(".aws/config"),
       "names the profile and both files");
    ok(err.code != KILN_E_NOTFOUND, "and is not taken as 'try the next source'");
    kiln_aws_credentials_clear(&c);

    /* Nothing anywhere: one sentence saying where kiln looked. */
    remove_files();
    is_int(chain_get(NULL, NULL, NULL, &c), -1, "no credentials at all");
    ok(msg_has("no AWS credentials found: kiln looked in the environment (AWS_ACCESS_KEY_ID), "
               "in profile default of ") &&
           msg_has(", and in instance metadata (off: AWS_EC2_METADATA_DISABLED)"),
       "says where it looked");
    ok(strchr(err.msg, '\n') == NULL && strstr(err.msg, ". ") == NULL, "in one sentence");
    is_int(err.code, KILN_E_NOTFOUND, "KILN_E_NOTFOUND");
    kiln_aws_credentials_clear(&c);
}

static void test_region(void)
{
    char r[64];
    clear_env();
    write_file(".aws/config",
               "[default]\nregion = eu-west-1\n[profile dev]\nregion = ap-south-1\n");
    kiln_aws_resolve_region(NULL, NULL, NULL, r, sizeof r, &err);
    is_str(r, "eu-west-1", "the default profile's region");
    kiln_aws_resolve_region(NULL, NULL, "dev", r, sizeof r, &err);
    is_str(r, "ap-south-1", "the chosen profile's region");
    kiln_aws_resolve_region(NULL, "us-west-1", "dev", r, sizeof r, &err);
    is_str(r, "us-west-1", "[aws] region beats the profile");
    setenv("AWS_DEFAULT_REGION", "sa-east-1", 1);
    kiln_aws_resolve_region(NULL, "us-west-1", "dev", r, sizeof r, &err);
    is_str(r, "sa-east-1", "AWS_DEFAULT_REGION beats the config");
    setenv("AWS_REGION", "ca-central-1", 1);
    kiln_aws_resolve_region(NULL, "us-west-1", "dev", r, sizeof r, &err);
    is_str(r, "ca-central-1", "AWS_REGION beats AWS_DEFAULT_REGION");
    kiln_aws_resolve_region("us-east-2", "us-west-1", "dev", r, sizeof r, &err);
    is_str(r, "us-east-2", "--region beats everything");
    clear_env();
    remove_files();
    is_int(kiln_aws_resolve_region(NULL, NULL, NULL, r, sizeof r, &err), -1, "no region");
    ok(msg_has("--region, AWS_REGION, AWS_DEFAULT_REGION"), "says where it looked");
}

static void test_describe(void)
{
    struct kiln_aws_credentials c = {0};
    kiln_aws_credentials_set(&c, "ASIAXYZ1234567890", "verysecretkey", "verysecrettoken",
                             1795670168000000LL, "profile dev");
    char buf[KILN_AWS_CREDS_DESCRIBE_MAX];
    kiln_aws_credentials_describe(&c, buf);
    is_str(buf, "ASIA\u2026 (session token, expires 2026-11-26T05:16:08Z, from profile dev)",
           "describe: 4 characters of the key id, no secret");
    ok(strstr(buf, "XYZ") == NULL && strstr(buf, "verysecret") == NULL, "nothing else");
    ok(kiln_aws_credentials_expiring(&c, 1795670168000000LL - 60000000LL, 5 * 60 * 1000),
       "expiring within the margin");
    ok(!kiln_aws_credentials_expiring(&c, 1795670168000000LL - 600000000LL, 5 * 60 * 1000),
       "not yet");
    kiln_aws_credentials_clear(&c);
    ok(c.access_key_id == NULL && c.secret_access_key == NULL, "clear empties");
}

static const char assume_xml[] =
    "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
    "  <AssumeRoleResult>\n"
    "    <SourceIdentity>DevUser123</SourceIdentity>\n"
    "    <AssumedRoleUser>\n"
    "      <Arn>arn:aws:sts::123456789012:assumed-role/deploy/kiln</Arn>\n"
    "      <AssumedRoleId>ARO123EXAMPLE123:kiln</AssumedRoleId>\n"
    "    </AssumedRoleUser>\n"
    "    <Credentials>\n"
    "      <AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>\n"
    "      <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>\n"
    "      <SessionToken>AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwd"
    "QWLWsKWHGBuFqwAeMicRXmxfpSPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGd"
    "QrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7WZ0wq5VSXDvp75YU</SessionToken>\n"
    "      <Expiration>2099-07-15T23:28:33.359Z</Expiration>\n"
    "    </Credentials>\n"
    "    <PackedPolicySize>6</PackedPolicySize>\n"
    "  </AssumeRoleResult>\n"
    "  <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>"
    "</ResponseMetadata>\n"
    "</AssumeRoleResponse>\n";

static void test_assume_role(void)
{
    struct kiln_aws_credentials c = {0};
    clear_env();
    remove_files();
    char *log_path = xasprintf("%s/sts.log", home);
    struct fixture f;
    struct fx_response r[] = {{200, assume_xml, NULL, 0, NULL}};
    fx_start(&f, r, 1, log_path);
    write_file(".aws/credentials", "[base]\naws_access_key_id = AKIASOURCE\n"
                                   "aws_secret_access_key = sourcesecret\n");
    write_file(".aws/config", "[profile deploy]\nrole_arn = arn:aws:iam::123456789012:role/deploy\n"
                              "source_profile = base\nrole_session_name = kiln-test\n"
                              "external_id = ext-42\nregion = eu-central-1\n"
                              "[profile loop1]\nrole_arn = arn:aws:iam::1:role/a\n"
                              "source_profile = loop2\n"
                              "[profile loop2]\nrole_arn = arn:aws:iam::1:role/b\n"
                              "source_profile = loop1\n"
                              "[profile nosource]\nrole_arn = arn:aws:iam::1:role/c\n"
                              "[profile mfa]\nrole_arn = arn:aws:iam::1:role/m\n"
                              "source_profile = base\nmfa_serial = arn:aws:iam::1:mfa/u\n");
    char *cache = xasprintf("%s/cache", home);

    is_int(chain_get("deploy", f.url, cache, &c), 0, "role_arn + source_profile");
    if (err.msg[0])
        diag("%s", err.msg);
    is_str(c.access_key_id, "ASIAIOSFODNN7EXAMPLE", "the role's temporary key");
    ok(c.session_token && strncmp(c.session_token, "AQoDYXdzEPT", 11) == 0, "and token");
    ok(c.expiration_us > kiln_now_us(), "with an expiry");
    ok(strstr(c.source, "profile deploy (role arn:aws:iam::123456789012:role/deploy)") != NULL,
       "source names the profile and the role: %s", c.source);
    kiln_aws_credentials_clear(&c);
    char *log = fx_log(&f);
    ok(strstr(log,
              "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A"
              "123456789012%3Arole%2Fdeploy&RoleSessionName=kiln-test&ExternalId=ext-42") != NULL,
       "AssumeRole with the profile's settings");
    ok(strstr(log, "Credential=AKIASOURCE/") != NULL, "signed with the source profile's key");
    ok(strstr(log, "/eu-central-1/sts/aws4_request") != NULL, "in the profile's region");
    free(log);

    is_int(chain_get("deploy", f.url, cache, &c), 0, "again");
    is_int(fx_count(&f, "=== REQUEST"), 1, "from the memory cache: no second STS call");
    kiln_aws_credentials_clear(&c);

    /* A new process (memory flushed) finds the 0600 file. */
    kiln_aws_credentials_cache_flush();
    is_int(chain_get("deploy", f.url, cache, &c), 0, "after a flush");
    is_int(fx_count(&f, "=== REQUEST"), 1, "from the file cache: still one STS call");
    is_str(c.access_key_id, "ASIAIOSFODNN7EXAMPLE", "same keys");
    kiln_aws_credentials_clear(&c);
    DIR *d = opendir(cache);
    struct dirent *de;
    int files = 0, private = 0;
    while (d && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char *p = xasprintf("%s/%s", cache, de->d_name);
        struct stat st;
        files++;
        if (stat(p, &st) == 0 && (st.st_mode & 0777) == 0600)
        private++;
        free(p);
    }
    if (d)
        closedir(d);
    is_int(files, 1, "one cache file");
    is_int(private, 1, "mode 0600");
    struct stat dst;
    ok(stat(cache, &dst) == 0 && (dst.st_mode & 0777) == 0700, "in a 0700 directory");

    /* Without a cache dir, a flush means a new call. */
    kiln_aws_credentials_cache_flush();
    chain_get("deploy", f.url, NULL, &c);
    is_int(fx_count(&f, "=== REQUEST"), 2, "memory-only cache: a new STS call after a flush");
    kiln_aws_credentials_clear(&c);
    fx_stop(&f);

    is_int(chain_get("loop1", f.url, NULL, &c), -1, "a source_profile loop");
    ok(msg_has("loop"), "is reported");
    is_int(chain_get("nosource", f.url, NULL, &c), -1, "role_arn without a source");
    ok(msg_has("neither source_profile nor credential_source"), "is reported");
    is_int(chain_get("mfa", f.url, NULL, &c), -1, "mfa_serial");
    ok(msg_has("MFA"), "is reported");

    /* STS refuses: the AWS error, the profile, and no fall-through to other sources. */
    struct fx_response denied[] = {
        {403,
         "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender"
         "</Type><Code>AccessDenied</Code><Message>User: arn:aws:iam::1:user/base is not "
         "authorized to perform: sts:AssumeRole</Message></Error><RequestId>deny-1</RequestId>"
         "</ErrorResponse>",
         NULL, 0, NULL}};
    kiln_aws_credentials_cache_flush();
    fx_start(&f, denied, 1, log_path);
    is_int(chain_get("deploy", f.url, NULL, &c), -1, "AssumeRole refused");
    ok(msg_has("profile deploy: cannot assume role arn:aws:iam::123456789012:role/deploy: "
               "AccessDenied: User: arn:aws:iam::1:user/base is not authorized") &&
           msg_has("(AssumeRole, request id deny-1)"),
       "says which profile, which role, and AWS's reason");
    fx_stop(&f);

    /* credential_source = Environment. */
    write_file(".aws/config", "[profile envrole]\nrole_arn = arn:aws:iam::1:role/e\n"
                              "credential_source = Environment\n");
    fx_start(&f, r, 1, log_path);
    setenv("AWS_ACCESS_KEY_ID", "AKIAFROMENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "s", 1);
    is_int(chain_get("envrole", f.url, NULL, &c), 0, "credential_source = Environment");
    ok(fx_count(&f, "Credential=AKIAFROMENV/") == 1, "signed with the environment's key");
    kiln_aws_credentials_clear(&c);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    fx_stop(&f);
    free(cache);
    free(log_path);
}

static void test_imds(void)
{
    struct kiln_aws_credentials c = {0};
    clear_env();
    remove_files();
    char *log_path = xasprintf("%s/imds.log", home);
    struct fixture f;
    struct fx_response r[] = {
        {200, "AQAEAexampletoken==", "text/plain", 0, NULL},
        {200, "kiln-instance-role\n", "text/plain", 0, NULL},
        {200,
         "{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : \"2026-11-26T05:00:00Z\",\n  "
         "\"Type\" : \"AWS-HMAC\",\n  \"AccessKeyId\" : \"ASIAIMDS\",\n  \"SecretAccessKey\" : "
         "\"imdssecret\",\n  \"Token\" : \"imdstoken\",\n  \"Expiration\" : "
         "\"2099-01-01T00:00:00Z\"\n}",
         "text/plain", 0, NULL},
    };
    fx_start(&f, r, 3, log_path);
    unsetenv("AWS_EC2_METADATA_DISABLED");
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", f.url, 1);
    is_int(chain_get(NULL, NULL, NULL, &c), 0, "instance metadata as the last resort");
    is_str(c.access_key_id, "ASIAIMDS", "the role's key");
    is_str(c.session_token, "imdstoken", "and token");
    is_str(c.source, "instance role kiln-instance-role", "source names the role");
    kiln_aws_credentials_clear(&c);
    char *log = fx_log(&f);
    ok(strstr(log, "PUT /latest/api/token HTTP/1.1") &&
           strstr(log, "X-aws-ec2-metadata-token-ttl-seconds: 21600"),
       "IMDSv2: a PUT for the session token first");
    ok(strstr(log, "GET /latest/meta-data/iam/security-credentials/ HTTP/1.1") &&
           strstr(log, "GET /latest/meta-data/iam/security-credentials/kiln-instance-role "),
       "then the role and its keys");
    is_int(fx_count(&f, "X-aws-ec2-metadata-token: AQAEAexampletoken=="), 2,
           "both GETs carry the token");
    free(log);
    fx_stop(&f);

    /* Nothing answers (a laptop): the chain gives up quickly. */
    int64_t t0 = kiln_mono_us();
    is_int(chain_get(NULL, NULL, NULL, &c), -1, "no metadata service");
    ok(kiln_mono_us() - t0 < 3000000, "within a few seconds");
    ok(msg_has("no AWS credentials found") && msg_has("instance metadata at http://127.0.0.1:"),
       "and the sentence names the endpoint tried");
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    free(log_path);
}

int main(void)
{
    kiln_mkdir_p("/tmp/aws", 0755, NULL);
    snprintf(home, sizeof home, "/tmp/aws/test_credentials.XXXXXX");
    if (mkdtemp(home) == NULL) {
        printf("Bail out! mkdtemp\n");
        return 1;
    }
    test_env_and_profiles();
    test_region();
    test_describe();
    test_assume_role();
    test_imds();
    kiln_aws_credentials_cache_flush();
    return done_testing();
}
