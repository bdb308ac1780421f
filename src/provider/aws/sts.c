/* kiln: STS GetCallerIdentity and AssumeRole (see kiln/aws_sts.h). Shapes from botocore's
 * sts/2011-06-15/service-2.json: both answers are wrapped in <ActionResult>. */
#include "kiln/aws_sts.h"
#include "kiln/aws_xml.h"
#include "kiln/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

int kiln_aws_whoami(struct kiln_aws_client *c, struct kiln_aws_identity *out, struct kiln_err *err)
{
    memset(out, 0, sizeof *out);
    struct kiln_aws_query q;
    kiln_aws_query_init(&q, KILN_AWS_STS, "GetCallerIdentity");
    xmlDoc *doc = NULL;
    int rc = kiln_aws_query_call(c, &q, &doc, err);
    kiln_aws_query_free(&q);
    if (rc < 0)
        return -1;
    xmlNode *result = kiln_aws_xml_child(xmlDocGetRootElement(doc), "GetCallerIdentityResult");
    kiln_aws_xml_text_at(result, "Account", out->account, sizeof out->account);
    kiln_aws_xml_text_at(result, "Arn", out->arn, sizeof out->arn);
    kiln_aws_xml_text_at(result, "UserId", out->user_id, sizeof out->user_id);
    xmlFreeDoc(doc);
    if (out->account[0] == '\0' || out->arn[0] == '\0')
        return kiln_err_set(err, KILN_E_INVALID,
                            "malformed XML in the GetCallerIdentity response: no "
                            "GetCallerIdentityResult with Account and Arn");
    return 0;
}

int kiln_aws_sts_assume_role(struct kiln_aws_client *c, const struct kiln_aws_assume_role *p,
                             struct kiln_aws_credentials *out, struct kiln_err *err)
{
    memset(out, 0, sizeof *out);
    struct kiln_aws_query q;
    kiln_aws_query_init(&q, KILN_AWS_STS, "AssumeRole");
    kiln_aws_query_add(&q, "RoleArn", p->role_arn);
    if (p->session_name && p->session_name[0])
        kiln_aws_query_add(&q, "RoleSessionName", p->session_name);
    else
        kiln_aws_query_addf(&q, "RoleSessionName", "kiln-%lld",
                            (long long)(kiln_now_us() / 1000000));
    if (p->external_id && p->external_id[0])
        kiln_aws_query_add(&q, "ExternalId", p->external_id);
    if (p->duration_s > 0)
        kiln_aws_query_addf(&q, "DurationSeconds", "%d", p->duration_s);
    xmlDoc *doc = NULL;
    int rc = kiln_aws_query_call(c, &q, &doc, err);
    kiln_aws_query_free(&q);
    if (rc < 0) {
        kiln_err_prefix(err, "cannot assume role %s", p->role_arn);
        return -1;
    }
    xmlNode *creds = kiln_aws_xml_path(xmlDocGetRootElement(doc), "AssumeRoleResult/Credentials");
    char *id = kiln_aws_xml_dup_at(creds, "AccessKeyId");
    char *secret = kiln_aws_xml_dup_at(creds, "SecretAccessKey");
    char *token = kiln_aws_xml_dup_at(creds, "SessionToken");
    char *expiration = kiln_aws_xml_dup_at(creds, "Expiration");
    int64_t exp_us = 0;
    rc = 0;
    if (!id || !id[0] || !secret || !secret[0] || !token || !token[0] || !expiration ||
        kiln_aws_parse_timestamp(expiration, &exp_us) < 0) {
        rc = kiln_err_set(err, KILN_E_INVALID,
                          "malformed XML in the AssumeRole response for %s: Credentials needs "
                          "AccessKeyId, SecretAccessKey, SessionToken and an Expiration time",
                          p->role_arn);
    } else {
        char source[96];
        snprintf(source, sizeof source, "assumed role %.80s", p->role_arn);
        kiln_aws_credentials_set(out, id, secret, token, exp_us, source);
    }
    free(id);
    if (secret)
        OPENSSL_cleanse(secret, strlen(secret));
    if (token)
        OPENSSL_cleanse(token, strlen(token));
    free(secret);
    free(token);
    free(expiration);
    xmlFreeDoc(doc);
    return rc;
}
