#!/usr/bin/env python3
"""Self-test of tests/lib/aws_fixture.py: drives it with botocore's own clients, serializers,
parsers, paginators and waiters (and the aws CLI once), so everything the fixture answers is
proven to parse with the official parser. Prints TAP.

    python3 tests/lib/test_aws_fixture.py [--quick]    (--quick skips the 200x10 benchmark)
"""
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import time
import traceback
import urllib.request

try:
    import botocore.session
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.config import Config
    from botocore.credentials import Credentials
    from botocore.exceptions import ClientError
    from botocore import parsers
except ImportError:
    print("1..0 # SKIP python3-botocore is not installed")
    sys.exit(0)

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "aws_fixture.py")
AKID, SECRET = "AKIDEXAMPLE", "secret"

n_tests = 0
failed = 0


def ok(cond, desc, detail=None):
    global n_tests, failed
    n_tests += 1
    if cond:
        print("ok %d - %s" % (n_tests, desc))
    else:
        failed += 1
        print("not ok %d - %s" % (n_tests, desc))
        if detail is not None:
            for line in str(detail).splitlines():
                print("#   " + line)
    sys.stdout.flush()
    return cond


def check(desc, fn):
    """Runs fn(); ok if it returns truthy without raising."""
    try:
        r = fn()
        return ok(bool(r), desc, None if r else "returned %r" % (r,))
    except Exception:
        return ok(False, desc, traceback.format_exc())


def wait_for(fn, timeout=10.0, step=0.1):
    end = time.time() + timeout
    while True:
        r = fn()
        if r or time.time() > end:
            return r
        time.sleep(step)


class Fixture:
    def __init__(self, *args):
        self.proc = subprocess.Popen([sys.executable, FIXTURE, "--port", "0"] + list(args),
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        self.first_line = line
        m = re.match(r"^PORT (\d+)$", line.strip())
        self.port = int(m.group(1)) if m else None
        self.url = "http://127.0.0.1:%s" % self.port

    def client(self, svc, retries=None, secret=SECRET, akid=AKID, token=None):
        cfg = Config(retries=retries or {"total_max_attempts": 1, "mode": "standard"},
                     connect_timeout=5, read_timeout=30)
        return botocore.session.get_session().create_client(
            svc, endpoint_url=self.url, region_name="us-east-1", aws_access_key_id=akid,
            aws_secret_access_key=secret, aws_session_token=token, config=cfg)

    def control(self, path, body=None):
        req = urllib.request.Request(self.url + path, method="POST" if body is not None else "GET",
                                     data=json.dumps(body).encode() if body is not None else None)
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read())

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def error_code(fn):
    try:
        fn()
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"], \
            e.response["Error"].get("Message", "")
    return None


def raw(fx, svc, params=None, method="POST", path="/", body=None, sign=True, secret=SECRET):
    """A signed request made by hand (botocore's SigV4Auth), on its own connection:
    -> (status, headers, body bytes)."""
    from urllib.parse import urlencode
    if body is None and params is not None:
        body = urlencode(params)
    headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"} if params else {}
    req = AWSRequest(method=method, url=fx.url + path, data=body or b"", headers=headers)
    if sign:
        SigV4Auth(Credentials(AKID, secret), svc, "us-east-1").add_auth(req)
    p = req.prepare()
    c = http.client.HTTPConnection("127.0.0.1", fx.port, timeout=10)
    c.request(method, path, body=p.body, headers=dict(p.headers))
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, dict(r.getheaders()), data


def parse_with(svc, action, status, headers, body):
    """botocore's own parser for svc's protocol, on a raw response."""
    model = botocore.session.get_session().get_service_model(svc)
    opm = model.operation_model(action)
    parser = parsers.create_parser(model.metadata["protocol"])
    return parser.parse({"status_code": status, "headers": headers, "body": body},
                        opm.output_shape)


def main():
    quick = "--quick" in sys.argv
    fx = Fixture("--hosted-zone", "example.test", "--random-seed", "7", "--verify-sigv4", SECRET)
    try:
        run(fx)
    finally:
        fx.stop()
    if not quick:
        bench()
    aws_cli()
    print("1..%d" % n_tests)
    return 1 if failed else 0


def run(fx):
    ok(fx.port is not None, "the fixture prints 'PORT <n>' first", fx.first_line)
    ec2, asg, elb = fx.client("ec2"), fx.client("autoscaling"), fx.client("elb")
    r53, sts = fx.client("route53"), fx.client("sts")

    # -- STS --
    check("sts GetCallerIdentity", lambda: sts.get_caller_identity()["Account"] == "123456789012")

    # -- the red-black flow --
    dns = {}

    def create_elb():
        r = elb.create_load_balancer(
            LoadBalancerName="web-test",
            Listeners=[{"Protocol": "HTTP", "LoadBalancerPort": 80, "InstanceProtocol": "HTTP",
                        "InstancePort": 8080}],
            AvailabilityZones=["us-east-1a", "us-east-1b"],
            Tags=[{"Key": "kiln:app", "Value": "web"}])
        dns["web"] = r["DNSName"]
        return re.match(r"^web-test-\d+\.us-east-1\.elb\.amazonaws\.com$", r["DNSName"])
    check("elb CreateLoadBalancer -> DNSName NAME-nnn.us-east-1.elb.amazonaws.com", create_elb)
    check("elb ConfigureHealthCheck", lambda: elb.configure_health_check(
        LoadBalancerName="web-test", HealthCheck={
            "Target": "HTTP:8080/health", "Interval": 10, "Timeout": 5,
            "UnhealthyThreshold": 2, "HealthyThreshold": 2})["HealthCheck"]["Interval"] == 10)
    check("elb AddTags + DescribeTags", lambda: (
        elb.add_tags(LoadBalancerNames=["web-test"], Tags=[{"Key": "kiln:env", "Value": "test"}])
        is not None and sorted(t["Key"] for t in elb.describe_tags(
            LoadBalancerNames=["web-test"])["TagDescriptions"][0]["Tags"])
        == ["kiln:app", "kiln:env"]))

    lt = {}

    def create_lt():
        r = ec2.create_launch_template(
            LaunchTemplateName="web-test-v001",
            LaunchTemplateData={"ImageId": "ami-0a1b2c3d4e5f60718", "InstanceType": "t3.micro",
                                "UserData": "IyEvYmluL3NoCg=="},
            TagSpecifications=[{"ResourceType": "launch-template",
                                "Tags": [{"Key": "kiln:app", "Value": "web"}]}])
        lt.update(r["LaunchTemplate"])
        return lt["LaunchTemplateId"].startswith("lt-") and lt["LatestVersionNumber"] == 1
    check("ec2 CreateLaunchTemplate", create_lt)
    check("ec2 DescribeAvailabilityZones / DescribeSubnets / DescribeVpcs", lambda: (
        [z["ZoneName"] for z in ec2.describe_availability_zones(Filters=[
            {"Name": "state", "Values": ["available"]}])["AvailabilityZones"]] ==
        ["us-east-1a", "us-east-1b", "us-east-1c"] and
        [s["AvailabilityZone"] for s in ec2.describe_subnets(Filters=[
            {"Name": "availability-zone", "Values": ["us-east-1b"]}])["Subnets"]] ==
        ["us-east-1b"] and ec2.describe_vpcs()["Vpcs"][0]["IsDefault"] is True))
    check("ec2 DescribeLaunchTemplates / DescribeLaunchTemplateVersions", lambda: (
        ec2.describe_launch_templates(LaunchTemplateNames=["web-test-v001"])
        ["LaunchTemplates"][0]["LaunchTemplateId"] == lt["LaunchTemplateId"] and
        ec2.describe_launch_template_versions(LaunchTemplateName="web-test-v001",
                                              Versions=["$Latest"])
        ["LaunchTemplateVersions"][0]["LaunchTemplateData"]["ImageId"] == "ami-0a1b2c3d4e5f60718"))

    check("autoscaling CreateAutoScalingGroup of 2 attached to the ELB", lambda: asg.create_auto_scaling_group(
        AutoScalingGroupName="web-test-v001",
        LaunchTemplate={"LaunchTemplateName": "web-test-v001", "Version": "$Latest"},
        MinSize=2, MaxSize=4, DesiredCapacity=2, LoadBalancerNames=["web-test"],
        HealthCheckType="ELB", HealthCheckGracePeriod=30,
        AvailabilityZones=["us-east-1a", "us-east-1b"],
        Tags=[{"Key": "kiln:app", "Value": "web", "PropagateAtLaunch": True},
              {"Key": "kiln:env", "Value": "test", "PropagateAtLaunch": True}]) is not None)
    check("autoscaling CreateAutoScalingGroup of a second (empty) group", lambda: asg.create_auto_scaling_group(
        AutoScalingGroupName="web-test-v000",
        LaunchTemplate={"LaunchTemplateId": lt.get("LaunchTemplateId", "lt-0"), "Version": "1"},
        MinSize=0, MaxSize=2, DesiredCapacity=0, VPCZoneIdentifier="subnet-0a1b2c3d4e5f6071a")
        is not None)

    def group():
        return asg.describe_auto_scaling_groups(
            AutoScalingGroupNames=["web-test-v001"])["AutoScalingGroups"]

    def two_in_service():
        g = group()
        return len(g) == 1 and [i["LifecycleState"] for i in g[0]["Instances"]] == \
            ["InService", "InService"] and g[0]
    g = wait_for(two_in_service, 10)
    ok(bool(g), "DescribeAutoScalingGroups: 2 instances go Pending -> InService",
       json.dumps(group(), default=str, indent=1))
    if g:
        ok(g["LaunchTemplate"]["LaunchTemplateName"] == "web-test-v001" and
           g["LoadBalancerNames"] == ["web-test"] and
           {t["Key"] for t in g["Tags"]} == {"kiln:app", "kiln:env"} and
           all(i["HealthStatus"] == "Healthy" and i["LaunchTemplate"]["Version"] == "1"
               for i in g["Instances"]) and g["CreatedTime"].year >= 2020,
           "DescribeAutoScalingGroups: LaunchTemplate, LoadBalancerNames, Tags, Instances",
           json.dumps(g, default=str, indent=1))
    ids = [i["InstanceId"] for i in g["Instances"]] if g else []

    def paged_groups():
        pages = list(asg.get_paginator("describe_auto_scaling_groups").paginate(
            PaginationConfig={"PageSize": 1}))
        names = [x["AutoScalingGroupName"] for p in pages for x in p["AutoScalingGroups"]]
        return len(pages) == 2 and names == ["web-test-v000", "web-test-v001"]
    check("botocore paginator describe_auto_scaling_groups, page size 1", paged_groups)

    def tagged_instances():
        r = ec2.describe_instances(Filters=[
            {"Name": "tag:aws:autoscaling:groupName", "Values": ["web-test-v001"]},
            {"Name": "instance-state-name", "Values": ["running"]}])
        got = sorted(i["InstanceId"] for res in r["Reservations"] for i in res["Instances"])
        inst = r["Reservations"][0]["Instances"][0]
        tags = {t["Key"]: t["Value"] for t in inst["Tags"]}
        return got == sorted(ids) and inst["PrivateIpAddress"].startswith("10.") and \
            tags.get("kiln:app") == "web" and inst["ImageId"] == "ami-0a1b2c3d4e5f60718" and \
            inst["State"] == {"Code": 16, "Name": "running"}
    check("ec2 DescribeInstances with tag: and instance-state-name filters", tagged_instances)

    def in_service():
        w = elb.get_waiter("instance_in_service")
        w.wait(LoadBalancerName="web-test", WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
        st = elb.describe_instance_health(LoadBalancerName="web-test")["InstanceStates"]
        return sorted(s["InstanceId"] for s in st) == sorted(ids) and \
            all(s["State"] == "InService" and s["ReasonCode"] == "N/A" for s in st)
    check("elb DescribeInstanceHealth: InService (botocore's instance_in_service waiter)", in_service)
    check("elb DescribeLoadBalancers lists the registered instances", lambda: sorted(
        i["InstanceId"] for i in elb.describe_load_balancers(LoadBalancerNames=["web-test"])
        ["LoadBalancerDescriptions"][0]["Instances"]) == sorted(ids))

    def paged_elbs():
        elb.create_load_balancer(LoadBalancerName="web-test-2", Listeners=[{
            "Protocol": "TCP", "LoadBalancerPort": 443, "InstancePort": 8443}],
            Subnets=["subnet-0a1b2c3d4e5f6071a"])
        pages = list(elb.get_paginator("describe_load_balancers").paginate(
            PaginationConfig={"PageSize": 1}))
        return [p["LoadBalancerDescriptions"][0]["LoadBalancerName"] for p in pages] == \
            ["web-test", "web-test-2"]
    check("botocore paginator describe_load_balancers, page size 1 (Marker/NextMarker)", paged_elbs)

    def paged_instances():
        fx.control("/__fixture/config", {"page_size": 1})
        try:
            pages = list(ec2.get_paginator("describe_instances").paginate())
        finally:
            fx.control("/__fixture/config", {"page_size": 0})
        return len(pages) == 2 and all(len(p["Reservations"]) == 1 for p in pages) and \
            "NextToken" in pages[0]
    check("botocore paginator describe_instances with the fixture's page size 1", paged_instances)

    # suspend AddToLoadBalancer + detach
    def suspend_detach():
        asg.suspend_processes(AutoScalingGroupName="web-test-v001",
                              ScalingProcesses=["AddToLoadBalancer"])
        asg.detach_load_balancers(AutoScalingGroupName="web-test-v001",
                                  LoadBalancerNames=["web-test"])
        g = group()[0]
        health = elb.describe_instance_health(LoadBalancerName="web-test")["InstanceStates"]
        return [p["ProcessName"] for p in g["SuspendedProcesses"]] == ["AddToLoadBalancer"] and \
            g["SuspendedProcesses"][0]["SuspensionReason"].startswith("User suspended at ") and \
            g["LoadBalancerNames"] == [] and health == []
    check("autoscaling SuspendProcesses AddToLoadBalancer + DetachLoadBalancers deregisters",
          suspend_detach)
    check("elb DescribeInstanceHealth of a deregistered instance: OutOfService", lambda: (
        elb.describe_instance_health(LoadBalancerName="web-test", Instances=[
            {"InstanceId": ids[0]}])["InstanceStates"][0]["Description"] ==
        "Instance is not currently registered with the LoadBalancer."))

    # terminate an instance and see it replaced
    def replaced():
        r = asg.terminate_instance_in_auto_scaling_group(InstanceId=ids[0],
                                                         ShouldDecrementDesiredCapacity=False)
        act = r["Activity"]
        if act["Description"] != "Terminating EC2 instance: %s" % ids[0] or \
                act["StatusCode"] != "InProgress":
            return False

        def settled():
            g = group()[0]
            now = sorted(i["InstanceId"] for i in g["Instances"]
                         if i["LifecycleState"] == "InService")
            return len(now) == 2 and ids[0] not in now and now
        now = wait_for(settled, 10)
        if not now:
            return False
        new = [i for i in now if i not in ids]
        st = ec2.describe_instances(InstanceIds=[ids[0]])["Reservations"][0]["Instances"][0]
        lbs = elb.describe_load_balancers(LoadBalancerNames=["web-test"])[
            "LoadBalancerDescriptions"][0]["Instances"]
        return len(new) == 1 and st["State"]["Name"] in ("shutting-down", "terminated") and \
            lbs == []
    check("TerminateInstanceInAutoScalingGroup: replaced, replacement not put in the ELB",
          replaced)
    check("autoscaling DescribeScalingActivities", lambda: any(
        a["Description"] == "Terminating EC2 instance: %s" % ids[0]
        for a in asg.describe_scaling_activities(AutoScalingGroupName="web-test-v001")
        ["Activities"]))
    check("autoscaling ResumeProcesses + AttachLoadBalancers registers again", lambda: (
        asg.resume_processes(AutoScalingGroupName="web-test-v001") is not None and
        asg.attach_load_balancers(AutoScalingGroupName="web-test-v001",
                                  LoadBalancerNames=["web-test"]) is not None and
        len(elb.describe_load_balancers(LoadBalancerNames=["web-test"])
            ["LoadBalancerDescriptions"][0]["Instances"]) == 2 and
        group()[0]["SuspendedProcesses"] == []))
    check("autoscaling UpdateAutoScalingGroup + DescribeTags", lambda: (
        asg.update_auto_scaling_group(AutoScalingGroupName="web-test-v000", MaxSize=3)
        is not None and
        asg.describe_auto_scaling_groups(AutoScalingGroupNames=["web-test-v000"])
        ["AutoScalingGroups"][0]["MaxSize"] == 3 and
        [t["Key"] for t in asg.describe_tags(Filters=[
            {"Name": "auto-scaling-group", "Values": ["web-test-v001"]}])["Tags"]] ==
        ["kiln:app", "kiln:env"]))

    # bake: an AMI from an instance
    def bake():
        iid = group()[0]["Instances"][0]["InstanceId"]
        img = ec2.create_image(InstanceId=iid, Name="web-v002", TagSpecifications=[
            {"ResourceType": "image", "Tags": [{"Key": "kiln:app", "Value": "web"}]}])["ImageId"]
        first = ec2.describe_images(ImageIds=[img])["Images"][0]["State"]
        ec2.get_waiter("image_available").wait(ImageIds=[img], WaiterConfig={
            "Delay": 0.2, "MaxAttempts": 50})
        mine = ec2.describe_images(Owners=["self"], Filters=[
            {"Name": "tag:kiln:app", "Values": ["web"]}])["Images"]
        baked["image"] = img
        return first == "pending" and [m["ImageId"] for m in mine] == [img]
    baked = {}
    check("ec2 CreateImage pending -> available (image_available waiter), DescribeImages", bake)

    def unhealthy():
        # A bad AMI: the ELB fails its instances, and a group with ELB health checks
        # replaces them (what a deploy that needs a rollback looks like).
        fx.control("/__fixture/config", {"unhealthy_images": [baked["image"]]})
        try:
            ec2.create_launch_template(LaunchTemplateName="web-test-v002", LaunchTemplateData={
                "ImageId": baked["image"], "InstanceType": "t3.micro"})
            asg.create_auto_scaling_group(
                AutoScalingGroupName="web-test-v002", MinSize=1, MaxSize=1,
                LaunchTemplate={"LaunchTemplateName": "web-test-v002"},
                LoadBalancerNames=["web-test"], HealthCheckType="ELB", HealthCheckGracePeriod=0,
                AvailabilityZones=["us-east-1a"])

            def health_replaced():
                acts = asg.describe_scaling_activities(
                    AutoScalingGroupName="web-test-v002")["Activities"]
                return any("in response to a health-check" in a["Cause"] for a in acts)
            seen = {}

            def failing():
                for s in elb.describe_instance_health(LoadBalancerName="web-test")[
                        "InstanceStates"]:
                    if s["Description"].startswith("Instance has failed at least the "
                                                    "UnhealthyThreshold"):
                        seen["failed"] = s
                return health_replaced()
            return wait_for(failing, 10, 0.05) and seen.get("failed", {}).get("State") == \
                "OutOfService"
        finally:
            fx.control("/__fixture/config", {"unhealthy_images": []})
            asg.delete_auto_scaling_group(AutoScalingGroupName="web-test-v002", ForceDelete=True)
    check("unhealthy_images: ELB says OutOfService, an ELB-health-checked group replaces it",
          unhealthy)

    def delete():
        asg.delete_auto_scaling_group(AutoScalingGroupName="web-test-v001", ForceDelete=True)
        st = group()
        if not st or st[0].get("Status") != "Delete in progress":
            return False
        return wait_for(lambda: group() == [], 10)
    check("autoscaling DeleteAutoScalingGroup ForceDelete: Delete in progress, then gone", delete)
    check("... and its instances are terminated", lambda: wait_for(lambda: all(
        i["State"]["Name"] == "terminated" for r in ec2.describe_instances(Filters=[
            {"Name": "tag:aws:autoscaling:groupName", "Values": ["web-test-v001"]}])
        ["Reservations"] for i in r["Instances"]), 5))

    # -- Route 53 --
    zone = {}

    def zone_by_name():
        r = r53.list_hosted_zones_by_name(DNSName="example.test")
        zone.update(r["HostedZones"][0])
        return zone["Name"] == "example.test." and zone["Id"].startswith("/hostedzone/Z")
    check("route53 ListHostedZonesByName", zone_by_name)

    def upsert():
        r = r53.change_resource_record_sets(HostedZoneId=zone["Id"], ChangeBatch={
            "Comment": "kiln red-black", "Changes": [{"Action": "UPSERT", "ResourceRecordSet": {
                "Name": "web.example.test", "Type": "CNAME", "TTL": 60,
                "ResourceRecords": [{"Value": dns.get("web", "x")}]}}]})
        info = r["ChangeInfo"]
        if info["Status"] != "PENDING" or not info["Id"].startswith("/change/C"):
            return False
        r53.get_waiter("resource_record_sets_changed").wait(
            Id=info["Id"], WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
        return r53.get_change(Id=info["Id"])["ChangeInfo"]["Status"] == "INSYNC"
    check("route53 ChangeResourceRecordSets UPSERT: PENDING, then INSYNC (waiter)", upsert)

    def list_rrsets():
        r = r53.list_resource_record_sets(HostedZoneId=zone["Id"])
        recs = {(x["Name"], x["Type"]): x for x in r["ResourceRecordSets"]}
        cname = recs.get(("web.example.test.", "CNAME"))
        pages = list(r53.get_paginator("list_resource_record_sets").paginate(
            HostedZoneId=zone["Id"], PaginationConfig={"PageSize": 1}))
        return cname and cname["ResourceRecords"] == [{"Value": dns.get("web")}] and \
            cname["TTL"] == 60 and not r["IsTruncated"] and len(recs) == 3 and \
            len(pages) == 3 and pages[0]["IsTruncated"] and "NextRecordName" in pages[0]
    check("route53 ListResourceRecordSets (and paginated, maxitems 1)", list_rrsets)

    # -- errors, one per format, parsed by botocore --
    check("ec2 error format: InvalidInstanceID.NotFound, 400", lambda: error_code(
        lambda: ec2.describe_instances(InstanceIds=["i-0123456789abcdef0"]))[:2] ==
        ("InvalidInstanceID.NotFound", 400))
    check("autoscaling error format: AlreadyExists", lambda: error_code(
        lambda: asg.create_auto_scaling_group(
            AutoScalingGroupName="web-test-v000",
            LaunchTemplate={"LaunchTemplateName": "web-test-v001"}, MinSize=0, MaxSize=1,
            AvailabilityZones=["us-east-1a"]))[:2] == ("AlreadyExists", 400))
    check("autoscaling error: ValidationError 'AutoScalingGroup name not found'", lambda: (
        lambda e: e[0] == "ValidationError" and
        e[2].startswith("AutoScalingGroup name not found - "))(error_code(
            lambda: asg.update_auto_scaling_group(AutoScalingGroupName="nope", MaxSize=1))))
    check("elb error format: LoadBalancerNotFound, 400", lambda: error_code(
        lambda: elb.describe_instance_health(LoadBalancerName="nope"))[:2] ==
        ("LoadBalancerNotFound", 400))
    check("route53 error format: InvalidChangeBatch (CREATE of an existing record)", lambda: (
        lambda e: e[:2] == ("InvalidChangeBatch", 400) and "already exists" in e[2])(error_code(
            lambda: r53.change_resource_record_sets(HostedZoneId=zone["Id"], ChangeBatch={
                "Changes": [{"Action": "CREATE", "ResourceRecordSet": {
                    "Name": "web.example.test.", "Type": "CNAME", "TTL": 60,
                    "ResourceRecords": [{"Value": "x.example.com"}]}}]}))))
    check("route53 error format: NoSuchHostedZone, 404", lambda: error_code(
        lambda: r53.list_resource_record_sets(HostedZoneId="ZNOPE"))[:2] ==
        ("NoSuchHostedZone", 404))
    check("sts error format: ValidationError", lambda: error_code(
        lambda: sts.assume_role(RoleArn="arn:aws:iam::123:role/not-valid", RoleSessionName="kiln"))[:2] ==
        ("ValidationError", 400))

    def invalid_action():
        s, h, b = raw(fx, "ec2", {"Action": "FrobnicateInstances", "Version": "2016-11-15"})
        e = parse_with("ec2", "DescribeInstances", s, h, b)
        s2, h2, b2 = raw(fx, "autoscaling", {"Action": "Frobnicate", "Version": "2011-01-01"})
        e2 = parse_with("autoscaling", "DescribeAutoScalingGroups", s2, h2, b2)
        return s == 400 and e["Error"]["Code"] == "InvalidAction" and \
            b.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>') and \
            s2 == 400 and e2["Error"]["Code"] == "InvalidAction" and b"<Type>Sender</Type>" in b2
    check("unknown Action -> InvalidAction (EC2 and Query formats)", invalid_action)

    def unknown_param():
        s, h, b = raw(fx, "ec2", {"Action": "DescribeInstances", "Version": "2016-11-15",
                                  "InstanceIds.1": "i-0123456789abcdef0"})
        e = parse_with("ec2", "DescribeInstances", s, h, b)
        s2, h2, b2 = raw(fx, "autoscaling", {"Action": "DescribeAutoScalingGroups",
                                             "Version": "2011-01-01",
                                             "AutoScalingGroupNames.1": "web-test-v000"})
        e2 = parse_with("autoscaling", "DescribeAutoScalingGroups", s2, h2, b2)
        s3, h3, b3 = raw(fx, "ec2", {"Action": "DescribeInstances", "Version": "2016-11-15",
                                     "DryRun": "true"})
        e3 = parse_with("ec2", "DescribeInstances", s3, h3, b3)
        return (s, e["Error"]["Code"]) == (400, "UnknownParameter") and \
            (s2, e2["Error"]["Code"]) == (400, "ValidationError") and \
            (s3, e3["Error"]["Code"]) == (412, "DryRunOperation")
    check("a parameter the model lacks -> UnknownParameter / ValidationError; DryRun -> 412",
          unknown_param)

    # -- wire details the C parser relies on (botocore does not check list element names) --
    def wire_ec2():
        s, h, b = raw(fx, "ec2", {"Action": "DescribeInstances", "Version": "2016-11-15"})
        return s == 200 and b'<DescribeInstancesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>' in b and \
            b"<reservationSet><item><reservationId>" in b and b"<instancesSet><item><instanceId>" in b and \
            b"<instanceState><code>" in b and b"<tagSet><item><key>" in b and \
            h.get("Content-Length") == str(len(b))
    check("raw EC2 body: namespace, requestId, reservationSet/item, instancesSet/item, tagSet/item",
          wire_ec2)

    def wire_query():
        s, h, b = raw(fx, "autoscaling", {"Action": "DescribeAutoScalingGroups",
                                          "Version": "2011-01-01"})
        s2, h2, b2 = raw(fx, "elasticloadbalancing", {"Action": "DescribeLoadBalancers",
                                                      "Version": "2012-06-01"})
        return s == 200 and b'<DescribeAutoScalingGroupsResponse xmlns="http://autoscaling.amazonaws.com/doc/2011-01-01/"><DescribeAutoScalingGroupsResult><AutoScalingGroups><member>' in b and \
            b"</DescribeAutoScalingGroupsResult><ResponseMetadata><RequestId>" in b and \
            s2 == 200 and b"<LoadBalancerDescriptions><member>" in b2 and \
            b"<ListenerDescriptions><member><Listener>" in b2 and "x-amzn-RequestId" in h
    check("raw Query body: XResponse/XResult/member lists/ResponseMetadata", wire_query)

    def keep_alive():
        from urllib.parse import urlencode
        c = http.client.HTTPConnection("127.0.0.1", fx.port, timeout=10)
        socks = set()
        for _ in range(3):
            req = AWSRequest(method="POST", url=fx.url + "/", data=urlencode(
                {"Action": "GetCallerIdentity", "Version": "2011-06-15"}),
                headers={"Content-Type": "application/x-www-form-urlencoded"})
            SigV4Auth(Credentials(AKID, SECRET), "sts", "us-east-1").add_auth(req)
            p = req.prepare()
            c.request("POST", "/", body=p.body, headers=dict(p.headers))
            r = c.getresponse()
            body = r.read()
            socks.add(id(c.sock))
            if r.status != 200 or r.version != 11 or b"<Account>123456789012</Account>" not in body:
                return False
        c.close()
        return len(socks) == 1
    check("HTTP/1.1 keep-alive: three requests on one connection", keep_alive)

    # -- signatures --
    check("SigV4 is checked: a wrong secret -> SignatureDoesNotMatch 403", lambda: error_code(
        lambda: fx.client("sts", secret="wrong").get_caller_identity())[:2] ==
        ("SignatureDoesNotMatch", 403))
    check("an unsigned request -> MissingAuthenticationToken 403", lambda: (
        lambda r: r[0] == 403 and b"<Code>MissingAuthenticationToken</Code>" in r[2])(
            raw(fx, "sts", {"Action": "GetCallerIdentity", "Version": "2011-06-15"}, sign=False)))

    def assume():
        c = sts.assume_role(RoleArn="arn:aws:iam::123456789012:role/kiln-deploy",
                            RoleSessionName="kiln", DurationSeconds=900)["Credentials"]
        who = fx.client("sts", akid=c["AccessKeyId"], secret=c["SecretAccessKey"],
                        token=c["SessionToken"]).get_caller_identity()
        return c["AccessKeyId"].startswith("ASIA") and c["Expiration"].year >= 2020 and \
            who["Arn"] == "arn:aws:sts::123456789012:assumed-role/kiln-deploy/kiln"
    check("sts AssumeRole -> Credentials that sign (GetCallerIdentity as the role)", assume)

    # -- faults --
    def malformed():
        fx.control("/__fixture/config", {"malformed_action": "DescribeAutoScalingGroups"})
        try:
            asg.describe_auto_scaling_groups()
        except Exception as e:
            return "ResponseParserError" in type(e).__name__ or "Unable to parse" in str(e)
        finally:
            fx.control("/__fixture/config", {"malformed_action": None})
        return False
    check("malformed_action: truncated XML that botocore cannot parse", malformed)

    def server_errors():
        fx.control("/__fixture/config", {"error_rate": 1.0})
        try:
            codes = {error_code(lambda: ec2.describe_instances())[:2] for _ in range(12)}
            qcodes = {error_code(lambda: asg.describe_auto_scaling_groups())[:2]
                      for _ in range(12)}
        finally:
            fx.control("/__fixture/config", {"error_rate": 0.0})
        return codes == {("InternalError", 500), ("ServiceUnavailable", 503)} and \
            qcodes == {("InternalFailure", 500), ("ServiceUnavailable", 503)}
    check("error_rate 1: 500 InternalError/InternalFailure and 503 ServiceUnavailable",
          server_errors)

    def throttles():
        fx.control("/__fixture/config", {"throttle_rate": 1.0})
        try:
            return error_code(lambda: ec2.describe_instances())[:2] == \
                ("RequestLimitExceeded", 503) and \
                error_code(lambda: asg.describe_auto_scaling_groups())[:3] == \
                ("Throttling", 400, "Rate exceeded") and \
                error_code(lambda: elb.describe_load_balancers())[:2] == ("Throttling", 400) and \
                error_code(lambda: r53.list_hosted_zones())[:2] == ("Throttling", 400) and \
                error_code(lambda: sts.get_caller_identity())[:2] == ("Throttling", 400)
        finally:
            fx.control("/__fixture/config", {"throttle_rate": 0.0})
    check("throttle_rate 1: RequestLimitExceeded 503 (EC2), Throttling 400 (the rest)", throttles)

    def inject():
        fx.control("/__fixture/config", {"inject": [{
            "action": "autoscaling:CreateAutoScalingGroup", "code": "LimitExceeded",
            "message": "You have reached your quota", "status": 400, "count": 1}]})
        e = error_code(lambda: asg.create_auto_scaling_group(
            AutoScalingGroupName="x", LaunchTemplate={"LaunchTemplateName": "web-test-v001"},
            MinSize=0, MaxSize=0, AvailabilityZones=["us-east-1a"]))
        asg.create_auto_scaling_group(
            AutoScalingGroupName="x", LaunchTemplate={"LaunchTemplateName": "web-test-v001"},
            MinSize=0, MaxSize=0, AvailabilityZones=["us-east-1a"])
        asg.delete_auto_scaling_group(AutoScalingGroupName="x")
        return e[:2] == ("LimitExceeded", 400)
    check("inject: one targeted error, then normal service", inject)

    def throttled_flow():
        # botocore's standard retry mode backs off rand(0,1) * 2^attempt s on throttling, so
        # the flow is kept short: its time is mostly botocore's sleeping.
        fx.control("/__fixture/config", {"throttle_rate": 0.5})
        retry = {"total_max_attempts": 16, "mode": "standard"}
        e2, a2, l2 = (fx.client("ec2", retries=retry), fx.client("autoscaling", retries=retry),
                      fx.client("elb", retries=retry))
        r2 = fx.client("route53", retries=retry)
        before = fx.control("/__fixture/faults")
        t = time.time()
        try:
            l2.create_load_balancer(LoadBalancerName="api-test", Listeners=[{
                "Protocol": "HTTP", "LoadBalancerPort": 80, "InstancePort": 80}],
                AvailabilityZones=["us-east-1a"])
            e2.create_launch_template(LaunchTemplateName="api-test-v001", LaunchTemplateData={
                "ImageId": "ami-0a1b2c3d4e5f60718"})
            a2.create_auto_scaling_group(
                AutoScalingGroupName="api-test-v001", MinSize=1, MaxSize=1, DesiredCapacity=1,
                LaunchTemplate={"LaunchTemplateName": "api-test-v001", "Version": "$Latest"},
                LoadBalancerNames=["api-test"], AvailabilityZones=["us-east-1a"])
            time.sleep(1.6)  # pending 0.5 s + ELB health 1 s
            l2.get_waiter("any_instance_in_service").wait(
                LoadBalancerName="api-test", WaiterConfig={"Delay": 1, "MaxAttempts": 30})
            r2.change_resource_record_sets(HostedZoneId=zone["Id"], ChangeBatch={"Changes": [
                {"Action": "UPSERT", "ResourceRecordSet": {
                    "Name": "api.example.test", "Type": "CNAME", "TTL": 60,
                    "ResourceRecords": [{"Value": "api-test.elb.example"}]}}]})
            a2.delete_auto_scaling_group(AutoScalingGroupName="api-test-v001", ForceDelete=True)
            l2.delete_load_balancer(LoadBalancerName="api-test")
        finally:
            fx.control("/__fixture/config", {"throttle_rate": 0.0})
        after = fx.control("/__fixture/faults")
        print("# throttled flow: %d requests throttled, %.1f s" % (
            sum(after.values()) - sum(before.values()), time.time() - t))
        return sum(after.values()) > sum(before.values())
    check("throttle_rate 0.5: botocore's retries still complete a deploy flow", throttled_flow)

    def counts():
        r = fx.control("/__fixture/requests")
        return r.get("autoscaling:CreateAutoScalingGroup", 0) >= 3 and \
            r.get("route53:ChangeResourceRecordSets", 0) >= 2 and r.get("sts:GetCallerIdentity")
    check("GET /__fixture/requests counts per service:Action", counts)
    check("GET /__fixture/state dumps the state", lambda: "web-test" in
          fx.control("/__fixture/state")["load_balancers"])
    check("POST /__fixture/reset empties it", lambda: fx.control("/__fixture/reset", {}) and
          asg.describe_auto_scaling_groups()["AutoScalingGroups"] == [] and
          fx.control("/__fixture/requests") == {"autoscaling:DescribeAutoScalingGroups": 1})


def bench():
    fx = Fixture("--seed-asgs", "200", "--seed-instances", "10", "--hosted-zone", "example.test")
    try:
        ok(fx.port is not None, "seeded fixture (200 ASGs x 10 instances) starts", fx.first_line)
        asg, ec2, elb = fx.client("autoscaling"), fx.client("ec2"), fx.client("elb")

        def groups():
            slowest, n, inst = 0.0, 0, 0
            token = None
            while True:
                t = time.time()
                r = asg.describe_auto_scaling_groups(MaxRecords=100, **(
                    {"NextToken": token} if token else {}))
                slowest = max(slowest, time.time() - t)
                n += len(r["AutoScalingGroups"])
                inst += sum(len(g["Instances"]) for g in r["AutoScalingGroups"])
                token = r.get("NextToken")
                if not token:
                    break
            print("# DescribeAutoScalingGroups: 200 groups in pages of 100, slowest page %.3f s"
                  % slowest)
            return n == 200 and inst == 2000 and slowest < 1.0
        check("bench: DescribeAutoScalingGroups 200 groups / 2000 instances, < 1 s a page", groups)

        def instances():
            t = time.time()
            pages = list(ec2.get_paginator("describe_instances").paginate(
                PaginationConfig={"PageSize": 1000}))
            n = sum(len(r["Instances"]) for p in pages for r in p["Reservations"])
            per = (time.time() - t) / max(1, len(pages))
            print("# DescribeInstances: %d instances in %d pages, %.3f s a page"
                  % (n, len(pages), per))
            return n == 2000 and per < 1.0
        check("bench: DescribeInstances 2000 instances in pages of 1000, < 1 s a page", instances)

        def elbs():
            t = time.time()
            d = elb.describe_load_balancers()["LoadBalancerDescriptions"]
            h = elb.describe_instance_health(LoadBalancerName="app7-test")["InstanceStates"]
            dt = time.time() - t
            print("# DescribeLoadBalancers (200) + DescribeInstanceHealth: %.3f s" % dt)
            return len(d) == 200 and len(h) == 10 and \
                all(s["State"] == "InService" for s in h) and dt < 1.0
        check("bench: 200 ELBs, each with its 10 instances InService", elbs)
        check("seeded groups are named app{i}-test-v000 with kiln:app/kiln:env tags", lambda: (
            lambda g: g["DesiredCapacity"] == 10 and
            {t["Key"]: t["Value"] for t in g["Tags"]} == {"kiln:app": "app3", "kiln:env": "test"} and
            g["LoadBalancerNames"] == ["app3-test"])(asg.describe_auto_scaling_groups(
                AutoScalingGroupNames=["app3-test-v000"])["AutoScalingGroups"][0]))
    finally:
        fx.stop()


def aws_cli():
    exe = shutil.which("aws")
    if not exe:
        print("ok %d - aws CLI # SKIP aws not installed" % (n_tests + 1))
        globals()["n_tests"] += 1
        return
    fx = Fixture("--seed-asgs", "2", "--seed-instances", "1")
    try:
        env = dict(os.environ, AWS_ACCESS_KEY_ID=AKID, AWS_SECRET_ACCESS_KEY=SECRET,
                   AWS_CONFIG_FILE="/dev/null", AWS_SHARED_CREDENTIALS_FILE="/dev/null",
                   AWS_DEFAULT_OUTPUT="json", AWS_PAGER="")
        env.pop("AWS_PROFILE", None)
        env.pop("AWS_SESSION_TOKEN", None)
        p = subprocess.run([exe, "--endpoint-url", fx.url, "--region", "us-east-1",
                            "autoscaling", "describe-auto-scaling-groups"],
                           env=env, capture_output=True, text=True, timeout=120)
        try:
            d = json.loads(p.stdout)
            names = [g["AutoScalingGroupName"] for g in d["AutoScalingGroups"]]
        except Exception:
            names = None
        ok(p.returncode == 0 and names == ["app1-test-v000", "app2-test-v000"],
           "aws CLI autoscaling describe-auto-scaling-groups parses the fixture's answer",
           "rc=%s names=%s\nstderr: %s" % (p.returncode, names, p.stderr[-2000:]))
    finally:
        fx.stop()


if __name__ == "__main__":
    sys.exit(main())
