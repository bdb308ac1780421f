/* kiln: the EC2 calls the aws provider makes, typed. Names and list serialisations are
 * botocore's ec2/2016-11-15 model: the EC2 protocol flattens lists as Name.N (Filter.1.
 * Value.2, InstanceId.3) and answers in lower camel case (reservationSet/item). */
#include "provider/aws/aws.h"

#include "kiln/aws_paginate.h"
#include "kiln/aws_xml.h"
#include "kiln/strbuf.h"
#include "kiln/timeutil.h"
#include "kiln/xalloc.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Filter values per filter: EC2 documents 200 as the most it takes. */
#define IDS_PER_CALL 200

static void read_tags(const xmlNode *holder, struct aws_tags *tags)
{
    xmlNode *set = kiln_aws_xml_child(holder, "tagSet");
    for (xmlNode *t = kiln_aws_xml_child(set, "item"); t; t = kiln_aws_xml_next(t)) {
        char key[128], value[256];
        kiln_aws_xml_text_at(t, "key", key, sizeof key);
        kiln_aws_xml_text_at(t, "value", value, sizeof value);
        aws_tags_add(tags, key, value);
    }
}

static int64_t time_at(const xmlNode *n, const char *path)
{
    char buf[64];
    int64_t us = 0;
    if (kiln_aws_xml_text_at(n, path, buf, sizeof buf))
        kiln_aws_parse_timestamp(buf, &us);
    return us;
}

/* ---- instances ---- */

struct ec2_filter {
    const char *name;
    const char *const *values;
    size_t n_values;
};

struct instances_args {
    const struct ec2_filter *filters;
    size_t n_filters;
    struct aws_ec2_instances *out;
};

static void instances_request(struct kiln_aws_query *q, void *arg)
{
    const struct instances_args *d = arg;
    for (size_t f = 0; f < d->n_filters; f++) {
        char name[64];
        snprintf(name, sizeof name, "Filter.%zu.Name", f + 1);
        kiln_aws_query_add(q, name, d->filters[f].name);
        for (size_t i = 0; i < d->filters[f].n_values; i++) {
            snprintf(name, sizeof name, "Filter.%zu.Value.%zu", f + 1, i + 1);
            kiln_aws_query_add(q, name, d->filters[f].values[i]);
        }
    }
    kiln_aws_query_add(q, "MaxResults", "1000");
}

/* One reservation's instances. */
static bool instances_item(const xmlNode *r, void *arg)
{
    struct aws_ec2_instances *out = ((struct instances_args *)arg)->out;
    xmlNode *is = kiln_aws_xml_child(r, "instancesSet");
    for (xmlNode *x = kiln_aws_xml_child(is, "item"); x; x = kiln_aws_xml_next(x)) {
        out->v = xrealloc(out->v, (out->n + 1) * sizeof *out->v);
        struct aws_ec2_instance *in = &out->v[out->n++];
        memset(in, 0, sizeof *in);
        kiln_aws_xml_text_at(x, "instanceId", in->id, sizeof in->id);
        kiln_aws_xml_text_at(x, "instanceState/name", in->state, sizeof in->state);
        kiln_aws_xml_text_at(x, "privateIpAddress", in->private_ip, sizeof in->private_ip);
        kiln_aws_xml_text_at(x, "imageId", in->image, sizeof in->image);
        in->launched_us = time_at(x, "launchTime");
        read_tags(x, &in->tags);
    }
    return true;
}

static const struct kiln_aws_describe instances_pages = {.service = KILN_AWS_EC2,
                                                         .action = "DescribeInstances",
                                                         .items = "reservationSet/item",
                                                         .request = instances_request,
                                                         .item = instances_item};

/* One filtered DescribeInstances (every filter must match), every page. */
static int describe_filtered(struct kiln_aws_client *c, const struct ec2_filter *filters,
                             size_t n_filters, struct aws_ec2_instances *out, struct kiln_err *err)
{
    struct instances_args args = {filters, n_filters, out};
    return kiln_aws_describe_all(c, &instances_pages, &args, err);
}

int aws_ec2_describe_instances(struct kiln_aws_client *c, const char *tag_key,
                               const char *const *ids, size_t n_ids, struct aws_ec2_instances *out,
                               struct kiln_err *err)
{
    memset(out, 0, sizeof *out);
    int rc = 0;
    if (tag_key != NULL) {
        rc = describe_filtered(c, &(struct ec2_filter){"tag-key", &tag_key, 1}, 1, out, err);
    } else {
        /* By the instance-id filter rather than InstanceId.N: an id EC2 has forgotten
         * (terminated an hour ago) fails InstanceId.N as a whole, a filter just skips it. */
        for (size_t i = 0; rc == 0 && i < n_ids; i += IDS_PER_CALL) {
            struct ec2_filter f = {"instance-id", ids + i,
                                   n_ids - i < IDS_PER_CALL ? n_ids - i : IDS_PER_CALL};
            rc = describe_filtered(c, &f, 1, out, err);
        }
    }
    if (rc < 0)
        aws_ec2_instances_free(out);
    return rc;
}

int aws_ec2_describe_cluster_instances(struct kiln_aws_client *c, const char *app, const char *env,
                                       struct aws_ec2_instances *out, struct kiln_err *err)
{
    memset(out, 0, sizeof *out);
    const struct ec2_filter f[] = {{"tag:" AWS_TAG_APP, &app, 1}, {"tag:" AWS_TAG_ENV, &env, 1}};
    int rc = describe_filtered(c, f, 2, out, err);
    if (rc < 0)
        aws_ec2_instances_free(out);
    return rc;
}

void aws_ec2_instances_free(struct aws_ec2_instances *l)
{
    for (size_t i = 0; i < l->n; i++)
        aws_tags_free(&l->v[i].tags);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* ---- images ---- */

struct images_args {
    const char *nvr, *image_id;
    struct aws_ec2_images *out;
};

static void images_request(struct kiln_aws_query *q, void *arg)
{
    const struct images_args *d = arg;
    kiln_aws_query_add(q, "Owner.1", "self");
    if (d->image_id != NULL) {
        kiln_aws_query_add(q, "ImageId.1", d->image_id);
    } else if (d->nvr != NULL) {
        kiln_aws_query_add(q, "Filter.1.Name", "tag:" AWS_TAG_PACKAGE);
        kiln_aws_query_add(q, "Filter.1.Value.1", d->nvr);
    } else {
        kiln_aws_query_add(q, "Filter.1.Name", "tag-key");
        kiln_aws_query_add(q, "Filter.1.Value.1", AWS_TAG_PACKAGE);
    }
    /* The model has no MaxResults for DescribeImages; a nextToken is still followed
     * if an endpoint sends one. */
}

static bool images_item(const xmlNode *x, void *arg)
{
    struct aws_ec2_images *out = ((struct images_args *)arg)->out;
    out->v = xrealloc(out->v, (out->n + 1) * sizeof *out->v);
    struct aws_ec2_image *im = &out->v[out->n++];
    memset(im, 0, sizeof *im);
    kiln_aws_xml_text_at(x, "imageId", im->id, sizeof im->id);
    kiln_aws_xml_text_at(x, "imageState", im->state, sizeof im->state);
    im->created_us = time_at(x, "creationDate");
    read_tags(x, &im->tags);
    return true;
}

static const struct kiln_aws_describe images_pages = {.service = KILN_AWS_EC2,
                                                      .action = "DescribeImages",
                                                      .items = "imagesSet/item",
                                                      .request = images_request,
                                                      .item = images_item};

int aws_ec2_describe_images(struct kiln_aws_client *c, const char *nvr, const char *image_id,
                            struct aws_ec2_images *out, struct kiln_err *err)
{
    memset(out, 0, sizeof *out);
    struct images_args args = {nvr, image_id, out};
    int rc = kiln_aws_describe_all(c, &images_pages, &args, err);
    if (rc < 0) {
        /* An image id EC2 does not know is "no such image", not a failure. */
        if (image_id != NULL && strstr(kiln_aws_client_last_error(c)->code, "NotFound")) {
            aws_ec2_images_free(out);
            return 0;
        }
        aws_ec2_images_free(out);
    }
    return rc;
}

void aws_ec2_images_free(struct aws_ec2_images *l)
{
    for (size_t i = 0; i < l->n; i++)
        aws_tags_free(&l->v[i].tags);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

/* ---- tags, launch templates, zones ---- */

static void add_tag_list(struct kiln_aws_query *q, const char *prefix, const struct aws_tag *tags,
                         size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char name[96];
        snprintf(name, sizeof name, "%s.%zu.Key", prefix, i + 1);
        kiln_aws_query_add(q, name, tags[i].key);
        snprintf(name, sizeof name, "%s.%zu.Value", prefix, i + 1);
        kiln_aws_query_add(q, name, tags[i].value);
    }
}

int aws_ec2_create_tags(struct kiln_aws_client *c, const char *resource, const struct aws_tag *tags,
                        size_t n, struct kiln_err *err)
{
    struct kiln_aws_query q;
    kiln_aws_query_init(&q, KILN_AWS_EC2, "CreateTags");
    kiln_aws_query_add(&q, "ResourceId.1", resource);
    add_tag_list(&q, "Tag", tags, n);
    return aws_call(c, &q, NULL, err);
}

int aws_ec2_create_launch_template(struct kiln_aws_client *c, const char *name, const char *image,
                                   const char *instance_type, struct kiln_err *err)
{
    struct kiln_aws_query q;
    kiln_aws_query_init(&q, KILN_AWS_EC2, "CreateLaunchTemplate");
    kiln_aws_query_add(&q, "LaunchTemplateName", name);
    /* The same token on a retry of the same template: EC2 answers the first call's
     * result instead of creating a second one. */
    kiln_aws_query_addf(&q, "ClientToken", "kiln-%s-%s", name, image);
    kiln_aws_query_add(&q, "VersionDescription", "kiln");
    kiln_aws_query_add(&q, "LaunchTemplateData.ImageId", image);
    kiln_aws_query_add(&q, "LaunchTemplateData.InstanceType", instance_type);
    if (aws_call(c, &q, NULL, err) == 0)
        return 0;
    if (strstr(kiln_aws_client_last_error(c)->code, "AlreadyExists") != NULL) {
        kiln_err_clear(err);
        return 0;
    }
    kiln_err_prefix(err, "cannot create the launch template %s", name);
    return -1;
}

int aws_ec2_delete_launch_template(struct kiln_aws_client *c, const char *name,
                                   struct kiln_err *err)
{
    struct kiln_aws_query q;
    kiln_aws_query_init(&q, KILN_AWS_EC2, "DeleteLaunchTemplate");
    kiln_aws_query_add(&q, "LaunchTemplateName", name);
    if (aws_call(c, &q, NULL, err) == 0)
        return 0;
    /* InvalidLaunchTemplateName.NotFoundException: gone already. */
    if (strstr(kiln_aws_client_last_error(c)->code, "NotFound") != NULL) {
        kiln_err_clear(err);
        return 0;
    }
    kiln_err_prefix(err, "cannot delete the launch template %s", name);
    return -1;
}

int aws_ec2_launch_template_image(struct kiln_aws_client *c, const char *name, const char *version,
                                  char *image, size_t n, struct kiln_err *err)
{
    image[0] = '\0';
    struct kiln_aws_query q;
    kiln_aws_query_init(&q, KILN_AWS_EC2, "DescribeLaunchTemplateVersions");
    kiln_aws_query_add(&q, "LaunchTemplateName", name);
    kiln_aws_query_add(&q, "LaunchTemplateVersion.1", version && version[0] ? version : "$Latest");
    xmlDoc *doc = NULL;
    if (aws_call(c, &q, &doc, err) < 0)
        return -1;
    xmlNode *set = kiln_aws_xml_child(xmlDocGetRootElement(doc), "launchTemplateVersionSet");
    kiln_aws_xml_text_at(kiln_aws_xml_child(set, "item"), "launchTemplateData/imageId", image, n);
    xmlFreeDoc(doc);
    return 0;
}

int aws_ec2_zones(struct kiln_aws_client *c, struct aws_strs *out, size_t max, struct kiln_err *err)
{
    memset(out, 0, sizeof *out);
    struct kiln_aws_query q;
    kiln_aws_query_init(&q, KILN_AWS_EC2, "DescribeAvailabilityZones");
    kiln_aws_query_add(&q, "Filter.1.Name", "state");
    kiln_aws_query_add(&q, "Filter.1.Value.1", "available");
    xmlDoc *doc = NULL;
    if (aws_call(c, &q, &doc, err) < 0)
        return -1;
    xmlNode *set = kiln_aws_xml_child(xmlDocGetRootElement(doc), "availabilityZoneInfo");
    for (xmlNode *z = kiln_aws_xml_child(set, "item"); z && out->n < max;
         z = kiln_aws_xml_next(z)) {
        char name[64], type[32];
        kiln_aws_xml_text_at(z, "zoneName", name, sizeof name);
        /* Local Zones and Wavelength zones are opt-in oddities: only the region's own. */
        if (kiln_aws_xml_text_at(z, "zoneType", type, sizeof type) &&
            strcmp(type, "availability-zone") != 0)
            continue;
        if (name[0] != '\0')
            aws_strs_add(out, name);
    }
    xmlFreeDoc(doc);
    return 0;
}

/* ---- the builder instance ---- */

static char *base64(const char *text)
{
    size_t n = strlen(text);
    char *out = xmalloc(4 * ((n + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)text, (int)n);
    return out;
}

int aws_ec2_run_instance(struct kiln_aws_client *c, const char *image, const char *type,
                         const char *user_data, const struct aws_tag *tags, size_t n_tags, char *id,
                         size_t n, struct kiln_err *err)
{
    id[0] = '\0';
    struct kiln_aws_query q;
    kiln_aws_query_init(&q, KILN_AWS_EC2, "RunInstances");
    kiln_aws_query_add(&q, "ImageId", image);
    kiln_aws_query_add(&q, "InstanceType", type);
    kiln_aws_query_add(&q, "MinCount", "1");
    kiln_aws_query_add(&q, "MaxCount", "1");
    /* The builder powers itself off when its script is done: stopped, not terminated,
     * so its disk can become the image. */
    kiln_aws_query_add(&q, "InstanceInitiatedShutdownBehavior", "stop");
    char *ud = base64(user_data);
    kiln_aws_query_add(&q, "UserData", ud);
    free(ud);
    kiln_aws_query_add(&q, "TagSpecification.1.ResourceType", "instance");
    add_tag_list(&q, "TagSpecification.1.Tag", tags, n_tags);
    xmlDoc *doc = NULL;
    if (aws_call(c, &q, &doc, err) < 0)
        return -1;
    xmlNode *set = kiln_aws_xml_child(xmlDocGetRootElement(doc), "instancesSet");
    kiln_aws_xml_text_at(kiln_aws_xml_child(set, "item"), "instanceId", id, n);
    xmlFreeDoc(doc);
    if (id[0] == '\0')
        return kiln_err_set(err, KILN_E_INVALID,
                            "malformed XML in the RunInstances response: no instanceId");
    return 0;
}

int aws_ec2_terminate(struct kiln_aws_client *c, const char *id, struct kiln_err *err)
{
    struct kiln_aws_query q;
    kiln_aws_query_init(&q, KILN_AWS_EC2, "TerminateInstances");
    kiln_aws_query_add(&q, "InstanceId.1", id);
    return aws_call(c, &q, NULL, err);
}

int aws_ec2_create_image(struct kiln_aws_client *c, const char *instance, const char *name,
                         char *ami, size_t n, struct kiln_err *err)
{
    ami[0] = '\0';
    struct kiln_aws_query q;
    kiln_aws_query_init(&q, KILN_AWS_EC2, "CreateImage");
    kiln_aws_query_add(&q, "InstanceId", instance);
    kiln_aws_query_add(&q, "Name", name);
    kiln_aws_query_add(&q, "Description", "baked by kiln");
    xmlDoc *doc = NULL;
    if (aws_call(c, &q, &doc, err) < 0)
        return -1;
    kiln_aws_xml_text_at(xmlDocGetRootElement(doc), "imageId", ami, n);
    xmlFreeDoc(doc);
    if (ami[0] == '\0')
        return kiln_err_set(err, KILN_E_INVALID,
                            "malformed XML in the CreateImage response: no imageId");
    return 0;
}

int aws_ec2_console_output(struct kiln_aws_client *c, const char *instance, char **out,
                           struct kiln_err *err)
{
    *out = NULL;
    struct kiln_aws_query q;
    kiln_aws_query_init(&q, KILN_AWS_EC2, "GetConsoleOutput");
    kiln_aws_query_add(&q, "InstanceId", instance);
    kiln_aws_query_add(&q, "Latest", "true");
    xmlDoc *doc = NULL;
    if (aws_call(c, &q, &doc, err) < 0)
        return -1;
    char *b64 = kiln_aws_xml_dup_at(xmlDocGetRootElement(doc), "output");
    xmlFreeDoc(doc);
    size_t n = b64 ? strlen(b64) : 0;
    char *text = xcalloc(1, n + 4);
    if (n > 0) {
        /* Whitespace is not base64: EVP_DecodeBlock wants it gone. */
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (b64[i] != '\n' && b64[i] != '\r' && b64[i] != ' ')
                b64[k++] = b64[i];
        b64[k] = '\0';
        int len = EVP_DecodeBlock((unsigned char *)text, (const unsigned char *)b64, (int)k);
        if (len < 0)
            len = 0;
        text[len] = '\0';
    }
    free(b64);
    *out = text;
    return 0;
}
