/* The aws provider's pieces that need no cloud: ELB names, the aminate command line,
 * AMI ids in output, lock and chaos tag values, health check targets and the probe's
 * answers without a server; and its typed calls against canned
 * answers (paging, DescribeTags batches, "already exists" and "not found" tolerated,
 * malformed XML). */
#include "../lib/aws_fixture.h"
#include "../lib/tap.h"

#include "kiln/aws_client.h"
#include "kiln/timeutil.h"
#include "provider/aws/aws.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char log_path[256];

static void test_elb_names(void)
{
    char n[AWS_ELB_NAME_SIZE], m[AWS_ELB_NAME_SIZE];
    aws_elb_name("hello-world-test", n);
    is_str(n, "hello-world-test", "a short cluster name is its ELB's name");
    aws_elb_name("a-very-long-application-name-for-testing-staging", n);
    ok(strlen(n) <= 32, "a long one is cut to 32 characters (%s)", n);
    ok(strncmp(n, "a-very-long-application", 23) == 0 && n[23] == '-',
       "its start and a hash suffix (%s)", n);
    aws_elb_name("a-very-long-application-name-for-testing-staging", m);
    is_str(m, n, "the same on every call (stable across machines)");
    aws_elb_name("a-very-long-application-name-for-testing-prod", m);
    ok(strcmp(m, n) != 0, "two long names with one start differ (%s, %s)", n, m);
    aws_elb_name("abcdefghijklmnopqrstuv-----xyzw-test", n);
    ok(strstr(n, "--") == NULL && n[strlen(n) - 9] == '-', "no dash run before the hash (%s)", n);
    aws_elb_name("internal-test", n);
    ok(strncmp(n, "internal-", 9) != 0, "never starts with internal- (%s)", n);
}

static void test_split(void)
{
    char **v = NULL;
    struct kiln_err err = {0};
    ok(aws_split_command("sudo aminate -e ec2_yum  -B 'ami 1' \"a \\\"b\\\"\" c\\ d {nvr}", &v,
                         &err) == 0,
       "a command line splits");
    const char *want[] = {"sudo",  "aminate", "-e",  "ec2_yum", "-B",
                          "ami 1", "a \"b\"", "c d", "{nvr}",   NULL};
    int same = 1;
    for (int i = 0; want[i] || v[i]; i++)
        if (!want[i] || !v[i] || strcmp(want[i], v[i]) != 0) {
            same = 0;
            diag("word %d: got %s, want %s", i, v[i] ? v[i] : "(end)", want[i] ? want[i] : "(end)");
            break;
        }
    ok(same, "quotes and escapes as a shell would read them, without a shell");
    aws_argv_free(v);
    ok(aws_split_command("x ''", &v, &err) == 0 && v[1] && v[1][0] == '\0' && v[2] == NULL,
       "'' is an empty word");
    aws_argv_free(v);
    ok(aws_split_command("aminate 'oops", &v, &err) < 0 && strstr(err.msg, "is not closed"),
       "an unterminated quote is refused: %s", err.msg);
    ok(aws_split_command("   ", &v, &err) < 0, "an empty command is refused");
    ok(aws_split_command("echo $(rm -rf /) ; x", &v, &err) == 0 && strcmp(v[1], "$(rm") == 0 &&
           strcmp(v[4], ";") == 0,
       "no substitution, no separators: just words");
    aws_argv_free(v);
}

static void test_ami_ids(void)
{
    char id[AWS_ID_SIZE] = "";
    aws_find_ami_id("aminator: AMI ami-0123456789abcdef0 registered", id, sizeof id);
    is_str(id, "ami-0123456789abcdef0", "the AMI id in aminator's line");
    id[0] = '\0';
    aws_find_ami_id("base ami-12345678, made ami-87654321.", id, sizeof id);
    is_str(id, "ami-87654321", "the last one wins");
    id[0] = '\0';
    aws_find_ami_id("ami-123 xami-12345678 ami-1234567890abcdef01 ami-1234567g", id, sizeof id);
    is_str(id, "", "too short, glued, too long or not hex: none");
}

static void test_tags(void)
{
    struct aws_lock_value lv;
    ok(aws_lock_parse("job=12 user=alice@b1 host=b1 pid=42 what=deploy "
                      "since=2026-11-26T05:16:08Z expires=2026-11-26T05:46:08Z",
                      &lv) == 0,
       "a lock value parses");
    ok(lv.job == 12 && lv.pid == 42 && strcmp(lv.user, "alice@b1") == 0 &&
           strcmp(lv.what, "deploy") == 0 && strcmp(lv.since, "2026-11-26T05:16:08Z") == 0,
       "its fields");
    int64_t exp = 0;
    kiln_time_parse_iso("2026-11-26T05:46:08Z", &exp, NULL);
    is_int(lv.expires_us, exp, "its expiry");
    ok(aws_lock_parse("job=1 user=x", &lv) < 0, "a value without an expiry is no lock");
    bool on;
    int64_t mean, min;
    aws_chaos_parse("on mean=30000 min=10000", &on, &mean, &min);
    ok(on && mean == 30000 && min == 10000, "chaos on, with its times");
    aws_chaos_parse("off mean=5000 min=1000", &on, &mean, &min);
    ok(!on && mean == 5000, "chaos off keeps its times");
    aws_chaos_parse(NULL, &on, &mean, &min);
    ok(!on && mean == 0, "no tag: off");
}

/* ---- typed calls against canned answers ---- */

static struct kiln_aws_client *client(const struct fixture *f)
{
    struct kiln_aws_credentials c = {0};
    kiln_aws_credentials_set(&c, "AKIDEXAMPLE", "secret", NULL, 0, "test");
    struct kiln_aws_credentials_provider *p = kiln_aws_credentials_provider_static_new(&c);
    kiln_aws_credentials_clear(&c);
    struct kiln_aws_client_options o = {
        .region = "us-east-1", .config_endpoint = f->url, .credentials = p, .max_attempts = 3};
    struct kiln_err err = {0};
    struct kiln_aws_client *cl = kiln_aws_client_new(&o, &err);
    kiln_aws_credentials_provider_release(p);
    if (cl)
        kiln_aws_http_set_backoff(kiln_aws_client_http(cl), 1, 5);
    return cl;
}

#define ASG_NS "xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\""

static const char asg_page1[] =
    "<DescribeAutoScalingGroupsResponse " ASG_NS "><DescribeAutoScalingGroupsResult>"
    "<AutoScalingGroups><member><AutoScalingGroupName>web-test-v001</AutoScalingGroupName>"
    "<MinSize>1</MinSize><MaxSize>3</MaxSize><DesiredCapacity>2</DesiredCapacity>"
    "<CreatedTime>2026-11-26T05:00:00.123Z</CreatedTime>"
    "<LaunchTemplate><LaunchTemplateName>web-test-v001</LaunchTemplateName>"
    "<Version>$Latest</Version></LaunchTemplate>"
    "<LoadBalancerNames><member>web-test</member></LoadBalancerNames>"
    "<SuspendedProcesses><member><ProcessName>AddToLoadBalancer</ProcessName>"
    "<SuspensionReason>User suspended</SuspensionReason></member></SuspendedProcesses>"
    "<Instances><member><InstanceId>i-0123456789abcdef0</InstanceId>"
    "<LifecycleState>InService</LifecycleState><HealthStatus>Healthy</HealthStatus></member>"
    "</Instances><Tags><member><Key>kiln:app</Key><Value>web</Value></member></Tags>"
    "</member></AutoScalingGroups><NextToken>page2</NextToken>"
    "</DescribeAutoScalingGroupsResult></DescribeAutoScalingGroupsResponse>";
static const char asg_page2[] =
    "<DescribeAutoScalingGroupsResponse " ASG_NS "><DescribeAutoScalingGroupsResult>"
    "<AutoScalingGroups><member><AutoScalingGroupName>web-test-v002</AutoScalingGroupName>"
    "<MinSize>0</MinSize><MaxSize>0</MaxSize><DesiredCapacity>0</DesiredCapacity>"
    "<Status>Delete in progress</Status></member></AutoScalingGroups>"
    "</DescribeAutoScalingGroupsResult></DescribeAutoScalingGroupsResponse>";

static void test_asg_pages(void)
{
    struct fixture f;
    struct fx_response r[] = {{200, asg_page1, NULL, 0, NULL}, {200, asg_page2, NULL, 0, NULL}};
    fx_start(&f, r, 2, log_path);
    struct kiln_aws_client *c = client(&f);
    struct aws_asgs l;
    struct kiln_err err = {0};
    ok(aws_asg_describe(c, NULL, &l, &err) == 0, "DescribeAutoScalingGroups: %s", err.msg);
    is_int(l.n, 2, "both pages read");
    if (l.n == 2) {
        const struct aws_asg *g = &l.v[0];
        ok(strcmp(g->name, "web-test-v001") == 0 && g->min == 1 && g->max == 3 && g->desired == 2,
           "name and sizes");
        ok(g->suspended == KILN_PROC_ADD_TO_LB, "AddToLoadBalancer suspended");
        ok(g->n_instances == 1 && strcmp(g->instances[0].lifecycle, "InService") == 0 &&
               strcmp(g->instances[0].health, "Healthy") == 0,
           "its instance");
        ok(g->lbs.n == 1 && strcmp(g->lbs.v[0], "web-test") == 0, "its load balancer");
        is_str(aws_tags_get(&g->tags, "kiln:app"), "web", "its tags");
        ok(g->created_us % 1000000 == 123000, "its creation time, with milliseconds");
        is_str(l.v[1].status, "Delete in progress", "a group being deleted says so");
    }
    aws_asgs_free(&l);
    char *log = fx_log(&f);
    ok(strstr(log, "Filters.member.1.Name=tag-key") &&
           strstr(log, "Filters.member.1.Values.member.1=kiln%3Aapp"),
       "only kiln's groups are asked for");
    ok(strstr(log, "NextToken=page2") != NULL, "the second page asked with the token");
    free(log);
    kiln_aws_client_free(c);
    fx_stop(&f);
}

#define ELB_NS "xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2012-06-01/\""

static void test_elb_tags_batches(void)
{
    static const char tags[] =
        "<DescribeTagsResponse " ELB_NS "><DescribeTagsResult><TagDescriptions>"
        "<member><LoadBalancerName>lb7</LoadBalancerName><Tags><member><Key>kiln:app</Key>"
        "<Value>seven</Value></member></Tags></member>"
        "</TagDescriptions></DescribeTagsResult></DescribeTagsResponse>";
    struct fixture f;
    struct fx_response r[] = {{200, tags, NULL, 0, NULL}};
    fx_start(&f, r, 1, log_path);
    struct kiln_aws_client *c = client(&f);
    struct aws_elb lbs[45];
    memset(lbs, 0, sizeof lbs);
    for (int i = 0; i < 45; i++)
        snprintf(lbs[i].name, sizeof lbs[i].name, "lb%d", i);
    struct kiln_err err = {0};
    ok(aws_elb_describe_tags(c, lbs, 45, &err) == 0, "DescribeTags for 45: %s", err.msg);
    is_int(fx_count(&f, "Action=DescribeTags"), 3, "in three calls of at most 20");
    is_str(aws_tags_get(&lbs[7].tags, "kiln:app"), "seven", "each ELB gets its own tags");
    ok(aws_tags_get(&lbs[8].tags, "kiln:app") == NULL, "and no other's");
    char *log = fx_log(&f);
    ok(strstr(log, "LoadBalancerNames.member.20=lb19") && !strstr(log, "member.21="),
       "names as LoadBalancerNames.member.N, 20 at most");
    free(log);
    for (int i = 0; i < 45; i++)
        aws_tags_free(&lbs[i].tags);
    kiln_aws_client_free(c);
    fx_stop(&f);
}

static void test_tolerated_errors(void)
{
    static const char dup[] =
        "<ErrorResponse " ELB_NS "><Error><Type>Sender</Type>"
        "<Code>DuplicateLoadBalancerName</Code><Message>exists</Message></Error>"
        "<RequestId>r1</RequestId></ErrorResponse>";
    static const char describe[] =
        "<DescribeLoadBalancersResponse " ELB_NS "><DescribeLoadBalancersResult>"
        "<LoadBalancerDescriptions><member><LoadBalancerName>web-test</LoadBalancerName>"
        "<DNSName>web-test-1.us-east-1.elb.amazonaws.com</DNSName>"
        "<ListenerDescriptions><member><Listener><Protocol>HTTP</Protocol>"
        "<LoadBalancerPort>80</LoadBalancerPort><InstanceProtocol>HTTP</InstanceProtocol>"
        "<InstancePort>8080</InstancePort></Listener></member></ListenerDescriptions>"
        "<HealthCheck><Target>HTTP:8080/health</Target><Interval>10</Interval>"
        "<Timeout>5</Timeout><UnhealthyThreshold>2</UnhealthyThreshold>"
        "<HealthyThreshold>2</HealthyThreshold></HealthCheck>"
        "<Instances><member><InstanceId>i-0123456789abcdef0</InstanceId></member></Instances>"
        "<AvailabilityZones><member>us-east-1a</member></AvailabilityZones>"
        "</member></LoadBalancerDescriptions></DescribeLoadBalancersResult>"
        "</DescribeLoadBalancersResponse>";
    struct fixture f;
    struct fx_response r[] = {{400, dup, NULL, 0, NULL}, {200, describe, NULL, 0, NULL}};
    fx_start(&f, r, 2, log_path);
    struct kiln_aws_client *c = client(&f);
    struct aws_strs zones = {0};
    aws_strs_add(&zones, "us-east-1a");
    struct aws_elb_create ec = {.name = "web-test",
                                .protocol = "HTTP",
                                .lb_port = 80,
                                .instance_port = 8080,
                                .zones = &zones};
    char dns[300];
    struct kiln_err err = {0};
    ok(aws_elb_create(c, &ec, dns, sizeof dns, &err) == 0, "an existing ELB is reused: %s",
       err.msg);
    is_str(dns, "web-test-1.us-east-1.elb.amazonaws.com", "its DNS name from a describe");
    aws_strs_free(&zones);
    struct aws_elbs l;
    ok(aws_elb_describe(c, NULL, 0, &l, &err) == 0 && l.n == 1, "DescribeLoadBalancers");
    if (l.n == 1)
        ok(l.v[0].lb_port == 80 && l.v[0].instance_port == 8080 &&
               strcmp(l.v[0].hc_target, "HTTP:8080/health") == 0 && l.v[0].hc_interval == 10 &&
               l.v[0].instances.n == 1 && l.v[0].zones.n == 1,
           "listener, health check, instances and zones read");
    aws_elbs_free(&l);
    kiln_aws_client_free(c);
    fx_stop(&f);

    static const char gone[] =
        "<ErrorResponse " ASG_NS "><Error><Type>Sender</Type><Code>ValidationError</Code>"
        "<Message>AutoScalingGroup name not found - AutoScalingGroup 'x' not found</Message>"
        "</Error><RequestId>r2</RequestId></ErrorResponse>";
    static const char lt_gone[] =
        "<Response><Errors><Error><Code>InvalidLaunchTemplateName.NotFoundException</Code>"
        "<Message>no template</Message></Error></Errors><RequestID>r3</RequestID></Response>";
    struct fx_response r2[] = {{400, gone, NULL, 0, NULL}, {400, lt_gone, NULL, 0, NULL}};
    fx_start(&f, r2, 2, log_path);
    c = client(&f);
    ok(aws_asg_delete(c, "web-test-v001", &err) == 0, "deleting a group that is gone is fine");
    ok(aws_ec2_delete_launch_template(c, "web-test-v001", &err) == 0,
       "deleting a template that is gone is fine");
    char *log = fx_log(&f);
    ok(strstr(log, "ForceDelete=true") != NULL, "groups are deleted with their instances");
    free(log);
    kiln_aws_client_free(c);
    fx_stop(&f);
}

static void test_malformed(void)
{
    struct fixture f;
    struct fx_response r[] = {{200, "<DescribeInstanceHealthResponse><Describe", NULL, 0, NULL}};
    fx_start(&f, r, 1, log_path);
    struct kiln_aws_client *c = client(&f);
    struct aws_health_list h;
    struct kiln_err err = {0};
    ok(aws_elb_instance_health(c, "web-test", &h, &err) < 0, "a truncated answer fails");
    ok(strstr(err.msg, "malformed XML in the DescribeInstanceHealth response") != NULL,
       "and says so: %s", err.msg);
    kiln_aws_client_free(c);
    fx_stop(&f);
}

static void test_probe(void)
{
    int port = 0;
    const char *path = NULL;
    ok(aws_probe_target("HTTP:8080/health_check", &port, &path) == 0 && port == 8080 &&
           strcmp(path, "/health_check") == 0,
       "HTTP:8080/health_check is port 8080, path /health_check");
    ok(aws_probe_target("HTTP:80", &port, &path) == 0 && port == 80 && strcmp(path, "/") == 0,
       "HTTP:80 is path /");
    ok(aws_probe_target("TCP:8080", &port, &path) < 0, "a TCP target is not probed");
    ok(aws_probe_target("HTTPS:443/h", &port, &path) < 0, "nor an HTTPS one");
    ok(aws_probe_target("HTTP:0/h", &port, &path) < 0, "port 0 is refused");
    ok(aws_probe_target("HTTP:65536/h", &port, &path) < 0, "port 65536 is refused");
    ok(aws_probe_target("HTTP:80x/h", &port, &path) < 0, "a port with junk after it is refused");
    ok(aws_probe_target(NULL, &port, &path) < 0, "no target: not probed");

    struct aws_probe r;
    aws_probe_health("example.com/x?", 80, "/", 1000, &r);
    ok(r.health == KILN_HEALTH_UNKNOWN && strstr(r.detail, "not IPv4") != NULL,
       "an address that is not IPv4 is not put in a URL: %s", r.detail);

    /* A port nobody listens on: a socket bound, then closed. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    bind(fd, (struct sockaddr *)&sa, sizeof sa);
    getsockname(fd, (struct sockaddr *)&sa, &len);
    close(fd);
    aws_probe_health("127.0.0.1", ntohs(sa.sin_port), "/health", 1000, &r);
    ok(r.health == KILN_HEALTH_UNKNOWN &&
           strstr(r.detail, "no answer from http://127.0.0.1:") != NULL,
       "no answer is unknown, not unhealthy: %s", r.detail);
}

int main(void)
{
    snprintf(log_path, sizeof log_path, "%s/kiln-test-awsprov.%d.log",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    test_elb_names();
    test_split();
    test_ami_ids();
    test_tags();
    test_asg_pages();
    test_elb_tags_batches();
    test_tolerated_errors();
    test_malformed();
    test_probe();
    unlink(log_path);
    return done_testing();
}
