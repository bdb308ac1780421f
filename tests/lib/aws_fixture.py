#!/usr/bin/env python3
"""A local, in-memory AWS for kiln's tests: EC2, Auto Scaling, classic ELB, Route 53 and STS
on one HTTP/1.1 port, speaking the real wire formats (a test tool, never shipped).

    aws_fixture.py --port 0 [--host 127.0.0.1] [--throttle-rate R] [--error-rate R]
                   [--page-size N] [--hosted-zone example.test]
                   [--seed-asgs N --seed-instances M] [--time-scale F] [--random-seed S]
                   [--malformed-action ACTION] [--terminated-ttl SECS] [--run-user-data]
                   [--private-ip-base A.B]
                   [--verbose]

The first line on stdout is "PORT <n>"; then it serves until killed (SIGTERM/SIGINT).

Requests are told apart the way AWS does: the SigV4 credential scope in the Authorization
header (Credential=AKID/20261126/us-east-1/<service>/aws4_request; ec2, autoscaling,
elasticloadbalancing, route53, sts), else the Query protocol's Version parameter, and
Route 53 also by its /2013-04-01/ path. Signatures are not checked.

Every request and response shape comes from botocore's service models (the same
service-2.json files the AWS SDKs are generated from): Query/EC2 form parameters are
decoded by inverting botocore's serializers, and responses are encoded from the model's
output shapes (locationName, <item>/<member> list elements, resultWrapper, namespaces),
so member names and list forms are the real ones. Actions (any other answers InvalidAction):

  ec2          DescribeInstances RunInstances TerminateInstances GetConsoleOutput
               DescribeImages CreateImage
               DeregisterImage CreateTags DeleteTags CreateLaunchTemplate
               CreateLaunchTemplateVersion ModifyLaunchTemplate DeleteLaunchTemplate
               DescribeLaunchTemplates DescribeLaunchTemplateVersions
               DescribeAvailabilityZones DescribeSubnets DescribeVpcs
  autoscaling  CreateAutoScalingGroup DescribeAutoScalingGroups UpdateAutoScalingGroup
               SetDesiredCapacity DeleteAutoScalingGroup SuspendProcesses ResumeProcesses
               AttachLoadBalancers DetachLoadBalancers TerminateInstanceInAutoScalingGroup
               DescribeScalingActivities CreateOrUpdateTags DeleteTags DescribeTags
               DescribeAutoScalingInstances
  elasticloadbalancing (classic)  CreateLoadBalancer DescribeLoadBalancers DeleteLoadBalancer
               ConfigureHealthCheck DescribeInstanceHealth RegisterInstancesWithLoadBalancer
               DeregisterInstancesFromLoadBalancer AddTags RemoveTags DescribeTags
  sts          GetCallerIdentity AssumeRole
  route53      ListHostedZonesByName ListHostedZones GetHostedZone ListResourceRecordSets
               ChangeResourceRecordSets GetChange

The account is 123456789012 in us-east-1 (zones us-east-1a/b/c, one default VPC with a
subnet per zone); the base AMI ami-0a1b2c3d4e5f60718 (kiln-base-x86_64, owned by amazon)
always exists. --seed-asgs N --seed-instances M adds, for i in 1..N, an AMI, a launch
template and an Auto Scaling group app{i}-test-v000 (tags kiln:app=app{i}, kiln:env=test)
of M running instances, InService behind a classic ELB app{i}-test, and with
--hosted-zone a CNAME app{i}-test.<zone> to it.

The state is simulated:

  * EC2 instances go pending -> running after 0.5 s, shutting-down -> terminated after
    0.5 s, and terminated ones stay visible for --terminated-ttl seconds; AMIs made by
    CreateImage go pending -> available after 1 s.
  * A simulation thread keeps every Auto Scaling group at its desired capacity, launching
    instances from its launch template (tagged aws:autoscaling:groupName and the group's
    PropagateAtLaunch tags) and terminating surplus ones, honouring suspended processes
    (Launch, Terminate, AddToLoadBalancer, HealthCheck, ReplaceUnhealthy). Instances are
    registered with the group's classic ELBs as they come into service (unless
    AddToLoadBalancer is suspended), and deregistered when detached or terminating.
  * An ELB reports an instance InService once it is registered and has been running for
    1 s; OutOfService before that, or if it (or its AMI) is configured unhealthy.
  * Route 53 changes are PENDING for 1 s, then INSYNC.
  * With --run-user-data, an instance whose user data is a script ("#!") runs it once it
    is running, as cloud-init would: as root in its own user and mount namespaces
    (unshare -rm), with /var/log and /dev/console bound to files of the instance, and
    with two stand-ins first on PATH: `yum install URL...` downloads each package over
    HTTP and checks with `rpm -qp` that it is an RPM (nothing is installed), and
    `poweroff` powers the instance off (stopping -> stopped, or shutting-down ->
    terminated if InstanceInitiatedShutdownBehavior is terminate). What the script
    writes to /dev/console, stdout and stderr is the instance's GetConsoleOutput.
All delays are multiplied by --time-scale.

Faults: --throttle-rate/--error-rate answer with the service's real throttling or server
errors before doing anything; --malformed-action answers that action with truncated XML.

Control endpoints (no auth, JSON):
  POST /__fixture/config    {"throttle_rate", "error_rate", "page_size", "malformed_action",
                             "time_scale", "latency_ms", "instance_limit",
                             "unhealthy_images": [ami..], "unhealthy_instances": [i-..],
                             "inject": [{"action": "autoscaling:CreateAutoScalingGroup",
                                         "code": "..", "message": "..", "status": 400,
                                         "count": 1}]}  -> the whole config
  GET  /__fixture/state     everything the fixture holds
  POST /__fixture/reset     back to the start-up state (seeds and command-line config)
  GET  /__fixture/requests  {"service:Action": count} of every request received
  GET  /__fixture/faults    {"service:Action": count} of requests answered with a fault
"""
import argparse
import base64
import copy
import fnmatch
import json
import random
import re
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zlib
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit
import xml.etree.ElementTree as ET

import botocore.session

ACCOUNT = "123456789012"
REGION = "us-east-1"
AZS = ["us-east-1a", "us-east-1b", "us-east-1c"]
AMAZON_OWNER = "137112412989"
ASG_REQUESTER = "940372691376"  # the RequesterId EC2 shows for instances an ASG launched
ELB_ZONE_ID = "Z35SXDOTRQ7X7K"  # classic ELB's canonical hosted zone in us-east-1
BASE_IMAGE_ID = "ami-0a1b2c3d4e5f60718"
BASE_IMAGE_NAME = "kiln-base-x86_64"
VPC_ID = "vpc-0a1b2c3d4e5f60718"
SUBNETS = {"subnet-0a1b2c3d4e5f6071a": "us-east-1a",
           "subnet-0a1b2c3d4e5f6071b": "us-east-1b",
           "subnet-0a1b2c3d4e5f6071c": "us-east-1c"}
USER_ARN = "arn:aws:iam::%s:user/kiln-test" % ACCOUNT

# Delays (seconds, before --time-scale).
PENDING_S = 0.5
SHUTDOWN_S = 0.5
IMAGE_S = 1.0
ELB_HEALTHY_S = 1.0
R53_SYNC_S = 1.0
ASG_HEALTH_S = 1.0  # how long an ELB's OutOfService takes to reach Auto Scaling

# The SigV4 signing name -> botocore's model name.
MODEL_NAMES = {"ec2": "ec2", "autoscaling": "autoscaling", "elasticloadbalancing": "elb",
               "route53": "route53", "sts": "sts"}
VERSIONS = {"2016-11-15": "ec2", "2011-01-01": "autoscaling",
            "2012-06-01": "elasticloadbalancing", "2011-06-15": "sts"}
NAMESPACES = {
    "ec2": "http://ec2.amazonaws.com/doc/2016-11-15/",
    "autoscaling": "http://autoscaling.amazonaws.com/doc/2011-01-01/",
    "elasticloadbalancing": "http://elasticloadbalancing.amazonaws.com/doc/2012-06-01/",
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
    "route53": "https://route53.amazonaws.com/doc/2013-04-01/",
}
SCALING_PROCESSES = ["Launch", "Terminate", "AddToLoadBalancer", "AlarmNotification",
                     "AZRebalance", "HealthCheck", "InstanceRefresh", "ReplaceUnhealthy",
                     "ScheduledActions"]
STATE_CODES = {"pending": 0, "running": 16, "shutting-down": 32, "terminated": 48,
               "stopping": 64, "stopped": 80}


class AwsError(Exception):
    """An error answered in the service's own format."""

    def __init__(self, code, message, status=400):
        Exception.__init__(self, "%s: %s" % (code, message))
        self.code = code
        self.message = message
        self.status = status


def iso(t):
    """Epoch seconds -> the ISO 8601 form AWS uses on the wire."""
    d = datetime.fromtimestamp(t, timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (d.microsecond // 1000)


def xml_escape(s):
    return (s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


# ---------------------------------------------------------------------------------------
# Wire format, driven by botocore's models

class Wire:
    def __init__(self):
        self.session = botocore.session.get_session()
        self.models = {svc: self.session.get_service_model(name)
                       for svc, name in MODEL_NAMES.items()}

    def op(self, svc, action):
        try:
            return self.models[svc].operation_model(action)
        except Exception:
            return None

    # -- Query/EC2 request decoding (the inverse of botocore's QuerySerializer and
    #    EC2Serializer) --

    @staticmethod
    def _name(shape, default, ec2):
        ser = shape.serialization
        if ec2:
            if "queryName" in ser:
                return ser["queryName"]
            if "name" in ser:
                return ser["name"][0].upper() + ser["name"][1:]
            return default
        return ser.get("name", default)

    def decode_query(self, op, form, ec2, strict=True):
        """Form parameters -> a dict shaped like the boto3 request (member names). With
        strict, a parameter the model does not define is an error, as EC2 makes it."""
        shape = op.input_shape
        used = {"Action", "Version"}
        out = {}
        if shape is not None:
            keys = set(form)
            for k in list(form):
                parts = k.split(".")
                for i in range(1, len(parts)):
                    keys.add(".".join(parts[:i]))
            out = self._decode(shape, "", form, keys, ec2, used) or {}
        extra = sorted(k for k in form if k not in used and not k.startswith("X-Amz-"))
        if strict and extra:
            if ec2:
                raise AwsError("UnknownParameter", "The parameter %s is not recognized" % extra[0])
            raise AwsError("ValidationError", "Unknown parameter %s: %s does not define it (the "
                           "kiln fixture rejects parameters the API model lacks)"
                           % (extra[0], op.name))
        return out

    def _decode(self, shape, prefix, form, keys, ec2, used):
        t = shape.type_name
        if t == "structure":
            out = {}
            for name, ms in shape.members.items():
                sn = self._name(ms, name, ec2)
                p = prefix + "." + sn if prefix else sn
                if p in keys:
                    v = self._decode(ms, p, form, keys, ec2, used)
                    if v is not None:
                        out[name] = v
            return out
        if t == "list":
            if ec2:
                lp = prefix
            elif shape.serialization.get("flattened"):
                lp = prefix
                if shape.member.serialization.get("name"):
                    lp = ".".join(prefix.split(".")[:-1] + [shape.member.serialization["name"]])
            else:
                lp = prefix + "." + shape.member.serialization.get("name", "member")
            if form.get(prefix) == "":
                used.add(prefix)  # how the Query protocol sends an empty list
            idx = set()
            start = lp + "."
            for k in keys:
                if k.startswith(start):
                    head = k[len(start):].split(".", 1)[0]
                    if head.isdigit():
                        idx.add(int(head))
            return [self._decode(shape.member, "%s.%d" % (lp, i), form, keys, ec2, used)
                    for i in sorted(idx)]
        if t == "map":
            mp = prefix if shape.serialization.get("flattened") else prefix + ".entry"
            kn = self._name(shape.key, "key", ec2)
            vn = self._name(shape.value, "value", ec2)
            out = {}
            i = 1
            while "%s.%d.%s" % (mp, i, kn) in form:
                used.add("%s.%d.%s" % (mp, i, kn))
                out[form["%s.%d.%s" % (mp, i, kn)]] = self._decode(
                    shape.value, "%s.%d.%s" % (mp, i, vn), form, keys, ec2, used)
                i += 1
            return out
        if prefix not in form:
            return None
        used.add(prefix)
        return self._scalar(shape, form[prefix], prefix)

    @staticmethod
    def _scalar(shape, s, where):
        t = shape.type_name
        try:
            if t in ("integer", "long"):
                return int(s)
            if t in ("float", "double"):
                return float(s)
        except ValueError:
            raise AwsError("ValidationError", "Invalid value '%s' for %s" % (s, where))
        if t == "boolean":
            return s.lower() == "true"
        return s

    # -- REST-XML request bodies (Route 53) --

    def decode_xml(self, shape, el):
        t = shape.type_name
        if t == "structure":
            out = {}
            children = {}
            for c in el:
                children.setdefault(c.tag.split("}")[-1], []).append(c)
            for name, ms in shape.members.items():
                if ms.serialization.get("location"):
                    continue
                tag = ms.serialization.get("name", name)
                if ms.type_name == "list" and ms.serialization.get("flattened"):
                    tag = ms.member.serialization.get("name", tag)
                    if tag in children:
                        out[name] = [self.decode_xml(ms.member, c) for c in children[tag]]
                elif tag in children:
                    out[name] = self.decode_xml(ms, children[tag][0])
            return out
        if t == "list":
            return [self.decode_xml(shape.member, c) for c in el]
        return self._scalar(shape, (el.text or "").strip(), el.tag)

    # -- Response encoding (what botocore's QueryParser, EC2QueryParser and
    #    RestXMLParser read) --

    def encode(self, out, shape, v, tag):
        t = shape.type_name
        if t == "structure":
            out.append("<%s>" % tag)
            self.encode_members(out, shape, v)
            out.append("</%s>" % tag)
        elif t == "list":
            mt = shape.member.serialization.get("name", "member")
            if shape.serialization.get("flattened"):
                for item in v:
                    self.encode(out, shape.member, item, tag)
            else:
                out.append("<%s>" % tag)
                for item in v:
                    self.encode(out, shape.member, item, mt)
                out.append("</%s>" % tag)
        elif t == "map":
            kn = shape.key.serialization.get("name", "key")
            vn = shape.value.serialization.get("name", "value")
            flat = shape.serialization.get("flattened")
            if not flat:
                out.append("<%s>" % tag)
            for k, x in v.items():
                out.append("<%s>" % (tag if flat else "entry"))
                self.encode(out, shape.key, k, kn)
                self.encode(out, shape.value, x, vn)
                out.append("</%s>" % (tag if flat else "entry"))
            if not flat:
                out.append("</%s>" % tag)
        else:
            if t == "boolean":
                s = "true" if v else "false"
            elif t == "timestamp":
                s = iso(v) if isinstance(v, (int, float)) else str(v)
            elif t in ("integer", "long"):
                s = str(int(v))
            elif t == "blob":
                s = base64.b64encode(v).decode() if isinstance(v, bytes) else str(v)
            else:
                s = str(v)
            out.append("<%s>%s</%s>" % (tag, xml_escape(s), tag))

    def encode_members(self, out, shape, v):
        members = shape.members
        for name, x in v.items():
            if x is None:
                continue
            ms = members.get(name)
            if ms is None:
                continue  # internal keys and members this botocore does not know
            ser = ms.serialization
            if ser.get("location"):
                continue
            tag = ser.get("name", name)
            if ms.type_name == "list" and ser.get("flattened"):
                tag = ms.member.serialization.get("name", tag)
            self.encode(out, ms, x, tag)

    def response(self, svc, op, result, request_id):
        """The whole 200 body for an operation's result (a dict of member names)."""
        out = ['<?xml version="1.0" encoding="UTF-8"?>\n']
        shape = op.output_shape
        name = op.name
        if svc == "ec2":
            out.append('<%sResponse xmlns="%s">' % (name, NAMESPACES[svc]))
            out.append("<requestId>%s</requestId>" % request_id)
            if shape is not None:
                self.encode_members(out, shape, result or {})
            else:
                out.append("<return>true</return>")
            out.append("</%sResponse>" % name)
        elif svc == "route53":
            out.append('<%s xmlns="%s">' % (shape.name, NAMESPACES[svc]))
            self.encode_members(out, shape, result or {})
            out.append("</%s>" % shape.name)
        else:
            out.append('<%sResponse xmlns="%s">' % (name, NAMESPACES[svc]))
            if shape is not None:
                wrapper = shape.serialization.get("resultWrapper", name + "Result")
                self.encode(out, shape, result or {}, wrapper)
            out.append("<ResponseMetadata><RequestId>%s</RequestId></ResponseMetadata>"
                       % request_id)
            out.append("</%sResponse>" % name)
        return "".join(out).encode("utf-8")

    def conform(self, shape, v):
        """Keeps only what an output shape has (e.g. request launch template data shown
        back as ResponseLaunchTemplateData)."""
        t = shape.type_name
        if t == "structure":
            if not isinstance(v, dict):
                return None
            out = {}
            for k, x in v.items():
                ms = shape.members.get(k)
                if ms is not None:
                    c = self.conform(ms, x)
                    if c is not None:
                        out[k] = c
            return out
        if t == "list":
            if not isinstance(v, list):
                return None
            return [c for c in (self.conform(shape.member, x) for x in v) if c is not None]
        if t == "structure" or t == "map":
            return v if isinstance(v, dict) else None
        if isinstance(v, (dict, list)):
            return None
        return v


def error_body(svc, err, request_id):
    code = xml_escape(err.code)
    msg = xml_escape(err.message)
    if svc == "ec2":
        return ('<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>%s</Code>'
                "<Message>%s</Message></Error></Errors><RequestID>%s</RequestID></Response>"
                % (code, msg, request_id)).encode()
    kind = "Receiver" if err.status >= 500 else "Sender"
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="%s"><Error><Type>%s</Type>'
            "<Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId>"
            "</ErrorResponse>" % (NAMESPACES.get(svc, NAMESPACES["autoscaling"]), kind, code,
                                  msg, request_id)).encode()


def throttle_error(svc):
    if svc == "ec2":
        return AwsError("RequestLimitExceeded", "Request limit exceeded.", 503)
    return AwsError("Throttling", "Rate exceeded", 400)


def server_error(svc, rng):
    if rng.random() < 0.5:
        if svc == "ec2":
            return AwsError("InternalError", "An internal error has occurred", 500)
        return AwsError("InternalFailure", "An internal error has occurred", 500)
    return AwsError("ServiceUnavailable", "Service is unavailable. Please try again.", 503)


def missing_member(svc, shape, params, path=""):
    """The first required member (at any depth) the request left out, as AWS reports it."""
    if shape is None or not isinstance(params, dict):
        return None
    for name in shape.required_members:
        if name not in params:
            where = path + name[0].lower() + name[1:]
            if svc == "ec2":
                return AwsError("MissingParameter",
                                "The request must contain the parameter %s" % (path + name))
            return AwsError("InvalidInput" if svc == "route53" else "ValidationError",
                            "1 validation error detected: Value null at '%s' failed to satisfy "
                            "constraint: Member must not be null" % where)
    for name, v in params.items():
        ms = shape.members.get(name)
        if ms is None:
            continue
        sub = path + name[0].lower() + name[1:]
        if ms.type_name == "structure":
            e = missing_member(svc, ms, v, sub + ".")
        elif ms.type_name == "list" and ms.member.type_name == "structure":
            e = None
            for i, item in enumerate(v or [], 1):
                e = e or missing_member(svc, ms.member, item, "%s.%d.member." % (sub, i))
        else:
            e = None
        if e:
            return e
    return None


# ---------------------------------------------------------------------------------------
# Helpers for handlers

def tag_list(d):
    return [{"Key": k, "Value": v} for k, v in d.items()]


def match_any(value, patterns):
    if value is None:
        return False
    return any(fnmatch.fnmatchcase(str(value), p) for p in patterns)


def encode_token(kind, key):
    return base64.urlsafe_b64encode(json.dumps([kind, key]).encode()).decode()


def decode_token(kind, token, err):
    try:
        k, key = json.loads(base64.urlsafe_b64decode(token.encode()).decode())
        if k != kind:
            raise ValueError(k)
        return key
    except Exception:
        raise err


def key_of(x):
    return list(x) if isinstance(x, tuple) else x


def page(items, keyf, kind, token, limit, bad_token):
    """items sorted by keyf; -> (chunk, next token or None). Tokens name the last key
    returned, so paging stays right while things are added or removed."""
    start = 0
    if token:
        last = decode_token(kind, token, bad_token)
        last = tuple(last) if isinstance(last, list) else last
        start = len(items)
        for i, it in enumerate(items):
            k = keyf(it)
            if k > last:
                start = i
                break
    chunk = items[start:start + limit] if limit else items[start:]
    nxt = None
    if limit and start + limit < len(items):
        nxt = encode_token(kind, key_of(keyf(chunk[-1])))
    return chunk, nxt


OPS = {}


def op(svc, action):
    def deco(f):
        OPS[(svc, action)] = f
        return f
    return deco


# ---------------------------------------------------------------------------------------
# The simulated account

class Config:
    FIELDS = ("throttle_rate", "error_rate", "page_size", "malformed_action", "time_scale",
              "latency_ms", "instance_limit", "unhealthy_images", "unhealthy_instances",
              "inject")

    def __init__(self, args):
        self.throttle_rate = args.throttle_rate
        self.error_rate = args.error_rate
        self.page_size = args.page_size
        self.malformed_action = args.malformed_action
        self.time_scale = args.time_scale
        self.latency_ms = 0
        self.instance_limit = 0
        self.unhealthy_images = []
        self.unhealthy_instances = []
        self.inject = []

    def update(self, d):
        for k, v in d.items():
            if k not in self.FIELDS:
                raise ValueError("unknown config key %r" % k)
            if k in ("throttle_rate", "error_rate", "time_scale"):
                v = float(v)
            elif k in ("page_size", "latency_ms", "instance_limit"):
                v = int(v or 0)
            elif k in ("unhealthy_images", "unhealthy_instances", "inject"):
                v = list(v or [])
            setattr(self, k, v)

    def dump(self):
        return {k: getattr(self, k) for k in self.FIELDS}

    def malformed(self, action):
        m = self.malformed_action
        if not m:
            return False
        if isinstance(m, (list, tuple)):
            return action in m
        return action == m or action in str(m).split(",")


class State:
    def __init__(self, args, wire):
        self.args = args
        self.wire = wire
        self.lock = threading.RLock()
        self.cfg = Config(args)
        self.reset()

    def reset(self):
        with self.lock:
            self.cfg = Config(self.args)
            self.rng = random.Random(self.args.random_seed)
            self.fault_rng = random.Random(self.args.random_seed)
            self.requests = {}
            self.faults = {}
            self.instances = {}     # id -> dict
            self.reservations = {}  # id -> {"id", "requester", "instances": [ids]}
            self.images = {}
            self.templates = {}     # id -> dict
            self.asgs = {}          # name -> dict
            self.activities = []    # newest last
            self.elbs = {}          # name -> dict
            self.zones = {}         # id -> dict
            self.changes = {}
            self.assumed = {}       # access key id -> assumed-role ARN info
            self.ip_counter = 10
            now = time.time()
            self.images[BASE_IMAGE_ID] = {
                "id": BASE_IMAGE_ID, "name": BASE_IMAGE_NAME, "description": "kiln test base image",
                "owner": AMAZON_OWNER, "public": True, "state": "available", "created": now - 86400,
                "available_at": now - 86400, "tags": {}, "source_instance": None}
            if self.args.hosted_zone:
                self.create_zone(self.args.hosted_zone, now)
            if self.args.seed_asgs:
                self.seed(self.args.seed_asgs, self.args.seed_instances, now)

    def scale(self, secs):
        return secs * self.cfg.time_scale

    def new_id(self, prefix, n=17):
        return "%s-%0*x" % (prefix, n, self.rng.getrandbits(4 * n))

    def new_ip(self):
        self.ip_counter += 1
        n = self.ip_counter
        return "%s.%d.%d" % (self.args.private_ip_base, (n // 250) % 250, n % 250 + 2)

    def count(self, key, faulted=False):
        with self.lock:
            self.requests[key] = self.requests.get(key, 0) + 1
            if faulted:
                self.faults[key] = self.faults.get(key, 0) + 1

    # -- EC2 instances --

    def launch(self, image_id, itype, tags, az=None, subnet=None, lt=None, user_data=None,
               requester=None, count=1, now=None, running=False, shutdown="stop"):
        now = now or time.time()
        rid = self.new_id("r")
        res = {"id": rid, "requester": requester, "instances": []}
        self.reservations[rid] = res
        out = []
        for n in range(count):
            zone = az or (SUBNETS[subnet] if subnet in SUBNETS else AZS[len(self.instances) % len(AZS)])
            sub = subnet or [s for s, z in SUBNETS.items() if z == zone][0]
            iid = self.new_id("i")
            ip = self.new_ip()
            inst = {"id": iid, "image": image_id, "type": itype or "m1.small", "az": zone,
                    "subnet": sub, "ip": ip, "state": "running" if running else "pending",
                    "launched": now, "running_at": now if running else now + self.scale(PENDING_S),
                    "stopping_at": None, "terminated_at": None, "tags": dict(tags or {}),
                    "reservation": rid, "index": n, "lt": lt, "user_data": user_data,
                    "reason": "", "shutdown": shutdown, "console": "", "booted": False}
            self.instances[iid] = inst
            res["instances"].append(iid)
            out.append(inst)
        return res, out

    def terminate(self, inst, now):
        if inst["state"] in ("pending", "running", "stopping", "stopped"):
            inst["state"] = "shutting-down"
            inst["stopping_at"] = now
            inst["reason"] = "User initiated (%s GMT)" % iso(now)[:19].replace("T", " ")

    def instance_view(self, inst):
        st = inst["state"]
        v = {"InstanceId": inst["id"], "ImageId": inst["image"],
             "State": {"Code": STATE_CODES[st], "Name": st},
             "PrivateDnsName": "" if st == "terminated" else
             "ip-%s.ec2.internal" % inst["ip"].replace(".", "-"),
             "PublicDnsName": "", "StateTransitionReason": inst["reason"],
             "AmiLaunchIndex": inst["index"], "ProductCodes": [],
             "InstanceType": inst["type"], "LaunchTime": inst["launched"],
             "Placement": {"AvailabilityZone": inst["az"], "GroupName": "", "Tenancy": "default"},
             "Monitoring": {"State": "disabled"},
             "Architecture": "x86_64", "RootDeviceType": "ebs", "RootDeviceName": "/dev/xvda",
             "BlockDeviceMappings": [], "VirtualizationType": "hvm", "Hypervisor": "xen",
             "ClientToken": "", "EbsOptimized": False, "EnaSupport": True,
             "SecurityGroups": [], "SourceDestCheck": True, "Tags": tag_list(inst["tags"])}
        if st != "terminated":
            v["PrivateIpAddress"] = inst["ip"]
            v["SubnetId"] = inst["subnet"]
            v["VpcId"] = VPC_ID
        if st in ("stopping", "stopped"):
            v["StateReason"] = {"Code": "Client.InstanceInitiatedShutdown",
                                "Message": "Client.InstanceInitiatedShutdown: Instance initiated "
                                "shutdown"}
        elif st in ("shutting-down", "terminated"):
            v["StateReason"] = {"Code": "Client.UserInitiatedShutdown",
                                "Message": "Client.UserInitiatedShutdown: User initiated shutdown"}
        return v

    def reservation_view(self, res, insts):
        v = {"ReservationId": res["id"], "OwnerId": ACCOUNT, "Groups": [],
             "Instances": [self.instance_view(i) for i in insts]}
        if res["requester"]:
            v["RequesterId"] = res["requester"]
        return v

    def get_instances(self, ids):
        missing = [i for i in ids if i not in self.instances]
        bad = [i for i in missing if not re.match(r"^i-([0-9a-f]{8}|[0-9a-f]{17})$", i)]
        if bad:
            raise AwsError("InvalidInstanceID.Malformed", 'Invalid id: "%s"' % bad[0])
        if len(missing) == 1:
            raise AwsError("InvalidInstanceID.NotFound",
                           "The instance ID '%s' does not exist" % missing[0])
        if missing:
            raise AwsError("InvalidInstanceID.NotFound",
                           "The instance IDs '%s' do not exist" % ", ".join(missing))
        return [self.instances[i] for i in ids]

    # -- user data, as cloud-init runs it --

    FAKE_YUM = r"""#!/usr/bin/env python3
# aws_fixture's yum: downloads each package of `yum install [-y] URL...` and checks that it
# is an RPM; installs nothing.
import subprocess, sys, tempfile, urllib.request
args = sys.argv[1:]
if not args or args[0] != "install":
    sys.exit("aws_fixture yum: only `yum install URL...` is emulated")
for url in [a for a in args[1:] if not a.startswith("-")]:
    try:
        data = urllib.request.urlopen(url, timeout=30).read()
    except Exception as e:
        print("Error: Cannot download %s: %s" % (url, e)); sys.exit(1)
    with tempfile.NamedTemporaryFile(suffix=".rpm") as f:
        f.write(data); f.flush()
        q = subprocess.run(["rpm", "-qp", "--qf", "%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}", f.name],
                           capture_output=True, text=True)
    if q.returncode != 0:
        print("Error: %s is not an RPM package" % url); sys.exit(1)
    print("Installed:\n  %s" % q.stdout)
print("Complete!")
"""
    FAKE_POWEROFF = """#!/bin/sh
: >"$KILN_FX_DIR/poweroff"
"""
    BOOT = ('mount --bind "$KILN_FX_DIR/log" /var/log && '
            '{ [ ! -e /dev/console ] || mount --bind "$KILN_FX_DIR/console" /dev/console; } && '
            'exec "$KILN_FX_DIR/user-data"')

    def run_user_data(self, inst):
        """Runs the instance's user data script (see the top of the file), then powers it
        off if the script asked to."""
        try:
            script = base64.b64decode(inst["user_data"])
        except Exception:
            script = b""
        if not script.startswith(b"#!"):
            with self.lock:
                inst["console"] += "cloud-init: user data is not a script; nothing run\n"
            return
        with tempfile.TemporaryDirectory(prefix="kiln-fx-%s." % inst["id"]) as d:
            os.mkdir(os.path.join(d, "bin"))
            os.mkdir(os.path.join(d, "log"))
            for name, text in (("bin/yum", self.FAKE_YUM), ("bin/poweroff", self.FAKE_POWEROFF),
                               ("user-data", script.decode("utf-8", "replace")), ("console", "")):
                with open(os.path.join(d, name), "w") as f:
                    f.write(text)
                os.chmod(os.path.join(d, name), 0o755)
            env = {"PATH": d + "/bin:/usr/sbin:/usr/bin:/sbin:/bin", "KILN_FX_DIR": d,
                   "HOME": "/root", "LANG": "C"}
            try:
                run = subprocess.run(["unshare", "-rm", "sh", "-c", self.BOOT], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     timeout=300)
                out = run.stdout.decode("utf-8", "replace")
                status = run.returncode
            except (OSError, subprocess.TimeoutExpired) as e:
                out, status = "aws_fixture: cannot run the user data: %s\n" % e, -1
            with open(os.path.join(d, "console"), errors="replace") as f:
                console = f.read()
            powered_off = os.path.exists(os.path.join(d, "poweroff"))
        with self.lock:
            inst["console"] += ("cloud-init: running user data\n" + console + out +
                                "cloud-init: user data finished with status %d\n" % status)
            if powered_off and inst["state"] == "running":
                now = time.time()
                if inst["shutdown"] == "terminate":
                    self.terminate(inst, now)
                else:
                    inst["state"] = "stopping"
                    inst["stopping_at"] = now
                    inst["reason"] = "User initiated (%s GMT)" % iso(now)[:19].replace("T", " ")

    # -- images and launch templates --

    def image_view(self, img):
        return {"ImageId": img["id"], "ImageLocation": "%s/%s" % (img["owner"], img["name"]),
                "State": img["state"], "OwnerId": img["owner"], "CreationDate": iso(img["created"]),
                "Public": img["public"], "Architecture": "x86_64", "ImageType": "machine",
                "Name": img["name"], "Description": img["description"] or None,
                "RootDeviceType": "ebs", "RootDeviceName": "/dev/xvda",
                "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {
                    "DeleteOnTermination": True, "SnapshotId": "snap-" + img["id"][4:],
                    "VolumeSize": 8, "VolumeType": "gp3", "Encrypted": False}}],
                "VirtualizationType": "hvm", "Hypervisor": "xen", "EnaSupport": True,
                "SriovNetSupport": "simple", "Tags": tag_list(img["tags"]),
                "PlatformDetails": "Linux/UNIX", "UsageOperation": "RunInstances"}

    def find_template(self, tid=None, name=None):
        if tid:
            lt = self.templates.get(tid)
            if lt is None:
                raise AwsError("InvalidLaunchTemplateId.NotFound",
                               "The specified launch template, with template ID %s, does not exist."
                               % tid)
            return lt
        for lt in self.templates.values():
            if lt["name"] == name:
                return lt
        raise AwsError("InvalidLaunchTemplateName.NotFoundException",
                       "The specified launch template, with template name %s, does not exist."
                       % name)

    def template_version(self, lt, version):
        v = version or "$Default"
        if v == "$Latest":
            n = lt["latest"]
        elif v == "$Default":
            n = lt["default"]
        else:
            try:
                n = int(v)
            except ValueError:
                raise AwsError("InvalidLaunchTemplateId.VersionNotFound",
                               "Could not find launch template version %s for launch template %s"
                               % (v, lt["id"]))
        for ver in lt["versions"]:
            if ver["number"] == n:
                return ver
        raise AwsError("InvalidLaunchTemplateId.VersionNotFound",
                       "Could not find launch template version %s for launch template %s"
                       % (v, lt["id"]))

    def template_view(self, lt):
        return {"LaunchTemplateId": lt["id"], "LaunchTemplateName": lt["name"],
                "CreateTime": lt["created"], "CreatedBy": USER_ARN,
                "DefaultVersionNumber": lt["default"], "LatestVersionNumber": lt["latest"],
                "Tags": tag_list(lt["tags"])}

    def version_view(self, lt, ver):
        data = self.wire.conform(
            self.wire.models["ec2"].shape_for("ResponseLaunchTemplateData"), ver["data"]) or {}
        return {"LaunchTemplateId": lt["id"], "LaunchTemplateName": lt["name"],
                "VersionNumber": ver["number"], "VersionDescription": ver["description"],
                "CreateTime": ver["created"], "CreatedBy": USER_ARN,
                "DefaultVersion": ver["number"] == lt["default"], "LaunchTemplateData": data}

    def new_template(self, name, data, description, tags, now):
        if not re.match(r"^[a-zA-Z0-9().\-/_]{3,128}$", name):
            raise AwsError("InvalidLaunchTemplateName.MalformedException",
                           "A launch template name must be between 3 and 128 characters, and may "
                           "contain letters, numbers, and the following characters: - ( ) . / _.'")
        if any(lt["name"] == name for lt in self.templates.values()):
            raise AwsError("InvalidLaunchTemplateName.AlreadyExistsException",
                           "Launch template name already in use.")
        lt = {"id": self.new_id("lt"), "name": name, "created": now, "default": 1, "latest": 1,
              "tags": dict(tags or {}),
              "versions": [{"number": 1, "description": description, "created": now,
                            "data": data}]}
        self.templates[lt["id"]] = lt
        return lt


    # -- simulation --

    def secret_for(self, akid):
        if not self.args.verify_sigv4:
            return None
        a = self.assumed.get(akid)
        return a["secret"] if a else self.args.verify_sigv4

    def run(self):
        while True:
            time.sleep(0.05)
            try:
                with self.lock:
                    self.tick(time.time())
            except Exception:
                import traceback
                traceback.print_exc()

    def tick(self, now):
        """Moves everything that changes with time along."""
        ttl = self.args.terminated_ttl
        gone = []
        for inst in self.instances.values():
            st = inst["state"]
            if st == "running":
                continue
            if st == "pending" and now >= inst["running_at"]:
                inst["state"] = "running"
                inst["running_at"] = now
                if self.args.run_user_data and inst["user_data"] and not inst["booted"]:
                    inst["booted"] = True
                    threading.Thread(target=self.run_user_data, args=(inst,),
                                     daemon=True).start()
            elif st == "stopping" and now >= inst["stopping_at"] + self.scale(SHUTDOWN_S):
                inst["state"] = "stopped"
            elif st == "shutting-down" and now >= inst["stopping_at"] + self.scale(SHUTDOWN_S):
                inst["state"] = "terminated"
                inst["terminated_at"] = now
            elif st == "terminated" and now >= inst["terminated_at"] + ttl:
                gone.append(inst)
        for inst in gone:
            del self.instances[inst["id"]]
            res = self.reservations.get(inst["reservation"])
            if res:
                res["instances"].remove(inst["id"])
                if not res["instances"]:
                    del self.reservations[res["id"]]
            for elb in self.elbs.values():
                elb["instances"].pop(inst["id"], None)
        for img in self.images.values():
            if img["state"] == "pending" and now >= img["available_at"]:
                img["state"] = "available"
        for asg in list(self.asgs.values()):
            self.reconcile(asg, now)
        for act in self.activities:
            if act["StatusCode"] == "InProgress":
                inst = self.instances.get(act["_instance"])
                done = inst is None or inst["state"] == (
                    "running" if act["_launch"] else "terminated")
                if done:
                    act["StatusCode"] = "Successful"
                    act["Progress"] = 100
                    act["EndTime"] = now

    def elb_state(self, elb, iid, now):
        """-> (State, ReasonCode, Description) as DescribeInstanceHealth tells them."""
        reg = elb["instances"].get(iid)
        inst = self.instances.get(iid)
        if reg is None:
            return ("OutOfService", "Instance",
                    "Instance is not currently registered with the LoadBalancer.")
        if inst is None or inst["state"] != "running":
            return ("OutOfService", "Instance", "Instance is in %s state."
                    % (inst["state"] if inst else "terminated"))
        if now < max(reg, inst["running_at"]) + self.scale(ELB_HEALTHY_S):
            return ("OutOfService", "ELB", "Instance registration is still in progress.")
        if iid in self.cfg.unhealthy_instances or inst["image"] in self.cfg.unhealthy_images:
            return ("OutOfService", "Instance", "Instance has failed at least the "
                    "UnhealthyThreshold number of health checks consecutively.")
        return ("InService", "N/A", "N/A")

    def activity(self, asg, desc, cause, now, instance=None, launch=True, status="InProgress",
                 message=None):
        act = {"ActivityId": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
               "AutoScalingGroupName": asg["name"], "Description": desc, "Cause": cause,
               "StartTime": now, "StatusCode": status,
               "Progress": 100 if status != "InProgress" else 0,
               "Details": json.dumps({"Subnet ID": instance["subnet"] if instance else "",
                                      "Availability Zone": instance["az"] if instance else ""}),
               "AutoScalingGroupARN": asg["arn"],
               "_instance": instance["id"] if instance else None, "_launch": launch}
        if status != "InProgress":
            act["EndTime"] = now
        if message:
            act["StatusMessage"] = message
        self.activities.append(act)
        if len(self.activities) > 5000:
            del self.activities[:1000]
        return act

    def asg_register(self, asg, iids, now, names=None):
        for name in names or asg["lbs"]:
            elb = self.elbs.get(name)
            if elb is not None:
                for iid in iids:
                    elb["instances"].setdefault(iid, now)

    def asg_deregister(self, asg, iids, names=None):
        for name in names or asg["lbs"]:
            elb = self.elbs.get(name)
            if elb is not None:
                for iid in iids:
                    elb["instances"].pop(iid, None)

    def reconcile(self, asg, now):
        """What the Auto Scaling service does for one group, once."""
        sus = asg["suspended"]
        for iid, ai in list(asg["instances"].items()):
            inst = self.instances.get(iid)
            if inst is None or inst["state"] == "terminated":
                del asg["instances"][iid]
                continue
            if ai["LifecycleState"] == "Pending" and inst["state"] == "running":
                ai["LifecycleState"] = "InService"
                ai["_in_service_at"] = now
                if asg["lbs"] and "AddToLoadBalancer" not in sus:
                    self.asg_register(asg, [iid], now)
            if ai["LifecycleState"] != "Terminating":
                if inst["state"] in ("shutting-down", "stopping", "stopped"):
                    ai["HealthStatus"] = "Unhealthy"
                elif (asg["hc_type"] == "ELB" and ai["LifecycleState"] == "InService"
                      and "HealthCheck" not in sus
                      and now >= ai["_in_service_at"] + self.scale(asg["hc_grace"])):
                    failing = False
                    for name in asg["lbs"]:
                        elb = self.elbs.get(name)
                        if elb and iid in elb["instances"]:
                            state, code, _ = self.elb_state(elb, iid, now)
                            failing = failing or (state == "OutOfService" and code == "Instance")
                    # Auto Scaling sees the ELB's verdict a while after the ELB reaches it.
                    if not failing:
                        ai.pop("_failing_since", None)
                    elif now >= ai.setdefault("_failing_since", now) + self.scale(ASG_HEALTH_S):
                        ai["HealthStatus"] = "Unhealthy"
                if ai["HealthStatus"] == "Unhealthy" and (
                        "ReplaceUnhealthy" not in sus or inst["state"] != "running"):
                    ai["LifecycleState"] = "Terminating"
                    self.asg_deregister(asg, [iid])
                    self.terminate(inst, now)
                    self.activity(asg, "Terminating EC2 instance: %s" % iid,
                                  "At %sZ an instance was taken out of service in response to a "
                                  "health-check." % iso(now)[:19], now, inst, launch=False)
        if asg["status"]:  # being deleted
            if not asg["instances"]:
                del self.asgs[asg["name"]]
            return
        active = [ai for ai in asg["instances"].values() if ai["LifecycleState"] != "Terminating"]
        want = asg["desired"]
        if len(active) < want and "Launch" not in sus:
            self.asg_launch(asg, want - len(active), len(active), now)
        elif len(active) > want and "Terminate" not in sus:
            cur = self.asg_lt_spec(asg, quiet=True) or {}
            cur.pop("_data", None)

            def order(ai):
                same = ai["LaunchTemplate"] == cur
                return (same, self.instances[ai["InstanceId"]]["launched"])
            for ai in sorted(active, key=order)[:len(active) - want]:
                inst = self.instances[ai["InstanceId"]]
                ai["LifecycleState"] = "Terminating"
                self.asg_deregister(asg, [inst["id"]])
                self.terminate(inst, now)
                self.activity(asg, "Terminating EC2 instance: %s" % inst["id"],
                              "At %s a user request explicitly set group desired capacity "
                              "changing the desired capacity from %d to %d.  At %s an instance "
                              "was taken out of service in response to a difference between "
                              "desired and actual capacity, shrinking the capacity from %d to %d."
                              % (iso(now)[:19] + "Z", len(active), want, iso(now)[:19] + "Z",
                                 len(active), want), now, inst, launch=False)

    def asg_lt_spec(self, asg, quiet=False):
        """The launch template and version this group launches with now."""
        spec = asg["lt"]
        try:
            lt = self.find_template(spec.get("LaunchTemplateId"), spec.get("LaunchTemplateName"))
            ver = self.template_version(lt, spec.get("Version"))
        except AwsError:
            if quiet:
                return None
            raise
        return {"LaunchTemplateId": lt["id"], "LaunchTemplateName": lt["name"],
                "Version": str(ver["number"]), "_data": ver["data"]}

    def asg_launch(self, asg, n, have, now):
        if now < asg.get("_retry_at", 0):
            return
        try:
            spec = self.asg_lt_spec(asg)
            data = spec.pop("_data")
            image = data.get("ImageId")
            if not image:
                raise AwsError("InvalidParameterCombination", "No image id specified")
            img = self.images.get(image)
            if img is None or img["state"] != "available":
                raise AwsError("InvalidAMIID.NotFound",
                               "The image id '[%s]' does not exist" % image)
        except AwsError as e:
            asg["_retry_at"] = now + self.scale(10)
            self.activity(asg, "Launching a new EC2 instance.  Status Reason: %s. Launching EC2 "
                          "instance failed." % e.message, "At %s an instance was started in "
                          "response to a difference between desired and actual capacity, "
                          "increasing the capacity from %d to %d." % (iso(now)[:19] + "Z", have,
                                                                        asg["desired"]),
                          now, status="Failed", message="%s. Launching EC2 instance failed."
                          % e.message)
            return
        tags = tags_from_specs(data.get("TagSpecifications"), "instance")
        for t in asg["tags"]:
            if t["PropagateAtLaunch"]:
                tags[t["Key"]] = t["Value"]
        tags["aws:autoscaling:groupName"] = asg["name"]
        tags["aws:ec2launchtemplate:id"] = spec["LaunchTemplateId"]
        tags["aws:ec2launchtemplate:version"] = spec["Version"]
        zones = self.asg_zones(asg)
        for k in range(n):
            counts = {z: 0 for z in zones}
            for ai in asg["instances"].values():
                if ai["LifecycleState"] != "Terminating" and ai["AvailabilityZone"] in counts:
                    counts[ai["AvailabilityZone"]] += 1
            zone = min(zones, key=lambda z: (counts[z], zones.index(z)))
            subnet = None
            if asg["vpc_zone"]:
                subnet = [s for s in asg["vpc_zone"].split(",") if SUBNETS.get(s.strip()) == zone]
                subnet = subnet[0].strip() if subnet else None
            _, insts = self.launch(image, data.get("InstanceType"), tags, az=zone, subnet=subnet,
                                   lt=dict(spec), user_data=data.get("UserData"),
                                   requester=ASG_REQUESTER, now=now)
            inst = insts[0]
            asg["instances"][inst["id"]] = {
                "InstanceId": inst["id"], "InstanceType": inst["type"], "AvailabilityZone": zone,
                "LifecycleState": "Pending", "HealthStatus": "Healthy",
                "LaunchTemplate": dict(spec), "ProtectedFromScaleIn": False}
            self.activity(asg, "Launching a new EC2 instance: %s" % inst["id"],
                          "At %s an instance was started in response to a difference between "
                          "desired and actual capacity, increasing the capacity from %d to %d."
                          % (iso(now)[:19] + "Z", have + k, asg["desired"]), now, inst)

    def asg_zones(self, asg):
        if asg["vpc_zone"]:
            zs = [SUBNETS.get(s.strip(), AZS[0]) for s in asg["vpc_zone"].split(",") if s.strip()]
        else:
            zs = list(asg["azs"])
        return sorted(set(zs)) or [AZS[0]]

    def dump(self):
        def clean(d):
            return {k: v for k, v in d.items() if not k.startswith("_")}
        return {
            "config": self.cfg.dump(),
            "instances": self.instances,
            "images": self.images,
            "launch_templates": self.templates,
            # Groups as DescribeAutoScalingGroups shows them (AWS member names), plus
            # "instances": {id: the group's view of it}.
            "auto_scaling_groups": {n: dict(asg_view(self, a), instances={
                i: clean(ai) for i, ai in a["instances"].items()}) for n, a in self.asgs.items()},
            "load_balancers": {n: dict(e, health={
                i: self.elb_state(e, i, time.time())[0] for i in e["instances"]})
                for n, e in self.elbs.items()},
            "activities": [clean(a) for a in self.activities[-200:]],
            "hosted_zones": {z: dict(zone, rrsets=list(zone["rrsets"].values()))
                             for z, zone in self.zones.items()},
            "changes": self.changes,
            "base_image": BASE_IMAGE_ID,
        }

    def create_zone(self, name, now):
        name = dns_name(name)
        zid = "Z%s" % "".join(self.rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
                              for _ in range(20))
        ns = ["ns-%d.awsdns-%02d.%s" % (self.rng.randint(1, 2000), self.rng.randint(0, 63), t)
              for t in ("com.", "net.", "org.", "co.uk.")]
        zone = {"id": zid, "name": name, "caller_reference": str(uuid.uuid4()), "ns": ns,
                "comment": "kiln fixture zone", "rrsets": {}}
        zone["rrsets"][(name, "NS", None)] = {
            "Name": name, "Type": "NS", "TTL": 172800,
            "ResourceRecords": [{"Value": n} for n in ns]}
        zone["rrsets"][(name, "SOA", None)] = {
            "Name": name, "Type": "SOA", "TTL": 900,
            "ResourceRecords": [{"Value": "%s awsdns-hostmaster.amazon.com. 1 7200 900 1209600 "
                                 "86400" % ns[0]}]}
        self.zones[zid] = zone
        return zone

    def new_elb(self, name, listeners, azs, subnets, sgs, scheme, tags, now):
        dns = "%s%s-%d.%s.elb.amazonaws.com" % ("internal-" if scheme == "internal" else "",
                                                 name, zlib.crc32(name.encode()) % 2000000000
                                                 + 100000000, REGION)
        elb = {"name": name, "dns": dns, "created": now, "listeners": listeners,
               "azs": list(azs) if azs else sorted({SUBNETS.get(s, AZS[0]) for s in subnets}),
               "subnets": list(subnets or []), "security_groups": list(sgs or []),
               "scheme": scheme or "internet-facing", "tags": dict(tags or {}),
               "health_check": {"Target": "TCP:%d" % listeners[0]["InstancePort"],
                                "Interval": 30, "Timeout": 5, "UnhealthyThreshold": 2,
                                "HealthyThreshold": 10},
               "instances": {}}
        self.elbs[name] = elb
        return elb

    def new_asg(self, p, now):
        name = p["AutoScalingGroupName"]
        asg = {"name": name,
               "arn": "arn:aws:autoscaling:%s:%s:autoScalingGroup:%s:autoScalingGroupName/%s"
                      % (REGION, ACCOUNT, uuid.UUID(int=self.rng.getrandbits(128), version=4),
                         name),
               "lt": dict(p["LaunchTemplate"]), "min": p["MinSize"], "max": p["MaxSize"],
               "desired": p.get("DesiredCapacity", p["MinSize"]),
               "cooldown": p.get("DefaultCooldown", 300), "azs": list(p.get("AvailabilityZones") or []),
               "vpc_zone": p.get("VPCZoneIdentifier") or "", "lbs": list(p.get("LoadBalancerNames") or []),
               "hc_type": p.get("HealthCheckType") or "EC2",
               "hc_grace": p.get("HealthCheckGracePeriod", 0),
               "created": now, "suspended": {}, "status": None,
               "termination_policies": list(p.get("TerminationPolicies") or ["Default"]),
               "tags": [{"Key": t["Key"], "Value": t.get("Value", ""),
                         "PropagateAtLaunch": bool(t.get("PropagateAtLaunch", False))}
                        for t in p.get("Tags") or []],
               "instances": {}}
        if asg["vpc_zone"] and not asg["azs"]:
            asg["azs"] = self.asg_zones(asg)
        self.asgs[name] = asg
        return asg

    def seed(self, n, m, now):
        """N groups app{i}-test-v000 of M running instances InService behind ELB app{i}-test."""
        zone = next(iter(self.zones.values()), None)
        for i in range(1, n + 1):
            app = "app%d" % i
            base = "%s-test" % app
            iid = self.new_id("ami")
            self.images[iid] = {"id": iid, "name": base + "-v000", "description": "",
                                "owner": ACCOUNT, "public": False, "state": "available",
                                "created": now - 7200, "available_at": now - 7200,
                                "tags": {"kiln:app": app, "kiln:env": "test",
                                         "kiln:version": "v000"}, "source_instance": None}
            lt = self.new_template(base + "-v000", {"ImageId": iid, "InstanceType": "t3.micro"},
                                   None, {"kiln:app": app, "kiln:env": "test"}, now - 3600)
            elb = self.new_elb(base, [{"Protocol": "HTTP", "LoadBalancerPort": 80,
                                       "InstanceProtocol": "HTTP", "InstancePort": 80}],
                               AZS[:2], None, None, None, {"kiln:app": app, "kiln:env": "test"},
                               now - 3600)
            asg = self.new_asg({"AutoScalingGroupName": base + "-v000",
                                "LaunchTemplate": {"LaunchTemplateName": lt["name"],
                                                   "Version": "$Latest"},
                                "MinSize": m, "MaxSize": m, "DesiredCapacity": m,
                                "AvailabilityZones": AZS[:2], "LoadBalancerNames": [base],
                                "Tags": [{"Key": "kiln:app", "Value": app, "PropagateAtLaunch": True},
                                         {"Key": "kiln:env", "Value": "test",
                                          "PropagateAtLaunch": True}]}, now - 3600)
            spec = {"LaunchTemplateId": lt["id"], "LaunchTemplateName": lt["name"], "Version": "1"}
            tags = {"kiln:app": app, "kiln:env": "test", "aws:autoscaling:groupName": asg["name"],
                    "aws:ec2launchtemplate:id": lt["id"], "aws:ec2launchtemplate:version": "1"}
            for k in range(m):
                zone_k = AZS[k % 2]
                _, insts = self.launch(iid, "t3.micro", tags, az=zone_k, lt=dict(spec),
                                       requester=ASG_REQUESTER, now=now - 3000, running=True)
                inst = insts[0]
                asg["instances"][inst["id"]] = {
                    "InstanceId": inst["id"], "InstanceType": "t3.micro",
                    "AvailabilityZone": zone_k, "LifecycleState": "InService",
                    "HealthStatus": "Healthy", "LaunchTemplate": dict(spec),
                    "ProtectedFromScaleIn": False, "_in_service_at": now - 3000}
                elb["instances"][inst["id"]] = now - 3000
            if zone is not None:
                rname = "%s.%s" % (base, zone["name"])
                zone["rrsets"][(rname, "CNAME", None)] = {
                    "Name": rname, "Type": "CNAME", "TTL": 60,
                    "ResourceRecords": [{"Value": elb["dns"]}]}


def tags_from_specs(specs, rtype):
    out = {}
    for spec in specs or []:
        if spec.get("ResourceType") == rtype:
            for t in spec.get("Tags", []):
                check_tag_key(t.get("Key", ""))
                out[t["Key"]] = t.get("Value", "")
    return out


def check_tag_key(k):
    if k.lower().startswith("aws:"):
        raise AwsError("InvalidParameterValue",
                       "Tag keys starting with 'aws:' are reserved for internal use")


# ---------------------------------------------------------------------------------------
# EC2

def ec2_filtered(objs, filters, table, tagsf):
    for f in filters or []:
        name = f.get("Name", "")
        if not name.startswith("tag:") and name not in table:
            raise AwsError("InvalidParameterValue", "The filter '%s' is invalid" % name)
    out = []
    for o in objs:
        ok = True
        for f in filters or []:
            name, vals = f.get("Name", ""), f.get("Values", [])
            if name.startswith("tag:"):
                got = [tagsf(o).get(name[4:])]
            else:
                got = table[name](o)
            if not any(match_any(g, vals) for g in got):
                ok = False
                break
        if ok:
            out.append(o)
    return out


INSTANCE_FILTERS = {
    "instance-id": lambda i: [i["id"]],
    "instance-state-name": lambda i: [i["state"]],
    "instance-state-code": lambda i: [str(STATE_CODES[i["state"]])],
    "image-id": lambda i: [i["image"]],
    "instance-type": lambda i: [i["type"]],
    "availability-zone": lambda i: [i["az"]],
    "private-ip-address": lambda i: [i["ip"]],
    "subnet-id": lambda i: [i["subnet"]],
    "vpc-id": lambda i: [VPC_ID],
    "reservation-id": lambda i: [i["reservation"]],
    "tag-key": lambda i: list(i["tags"]),
    "tag-value": lambda i: list(i["tags"].values()),
}

IMAGE_FILTERS = {
    "image-id": lambda m: [m["id"]],
    "name": lambda m: [m["name"]],
    "state": lambda m: [m["state"]],
    "owner-id": lambda m: [m["owner"]],
    "description": lambda m: [m["description"]],
    "is-public": lambda m: ["true" if m["public"] else "false"],
    "architecture": lambda m: ["x86_64"],
    "tag-key": lambda m: list(m["tags"]),
    "tag-value": lambda m: list(m["tags"].values()),
}

TEMPLATE_FILTERS = {
    "launch-template-name": lambda t: [t["name"]],
    "launch-template-id": lambda t: [t["id"]],
    "tag-key": lambda t: list(t["tags"]),
    "tag-value": lambda t: list(t["tags"].values()),
}


def ec2_limit(st, p, default=None, lo=5, hi=1000, name="maxResults"):
    n = p.get("MaxResults")
    if n is not None and not lo <= n <= hi:
        raise AwsError("InvalidParameterValue",
                       "Value ( %d ) for parameter %s is invalid. Expecting a value between %d "
                       "and %d." % (n, name, lo, hi))
    n = n or default
    if st.cfg.page_size:
        n = min(n, st.cfg.page_size) if n else st.cfg.page_size
    return n


def ec2_bad_token(token):
    return AwsError("InvalidParameterValue", "Invalid value '%s' for nextToken" % token)


@op("ec2", "DescribeInstances")
def ec2_describe_instances(st, p, ctx):
    ids = p.get("InstanceIds") or []
    if ids and p.get("MaxResults") is not None:
        raise AwsError("InvalidParameterCombination", "The parameter instancesSet cannot be "
                       "used with the parameter maxResults")
    insts = st.get_instances(ids) if ids else sorted(st.instances.values(),
                                                    key=lambda i: i["id"])
    insts = ec2_filtered(insts, p.get("Filters"), INSTANCE_FILTERS, lambda i: i["tags"])
    limit = ec2_limit(st, p)
    token = p.get("NextToken")
    chunk, nxt = page(insts, lambda i: i["id"], "instances", token, limit,
                      ec2_bad_token(token or ""))
    groups = {}
    for inst in chunk:
        groups.setdefault(inst["reservation"], []).append(inst)
    out = {"Reservations": [st.reservation_view(st.reservations[r], l)
                            for r, l in groups.items()]}
    if nxt:
        out["NextToken"] = nxt
    return out


@op("ec2", "RunInstances")
def ec2_run_instances(st, p, ctx):
    data = {}
    lt_spec = None
    if p.get("LaunchTemplate"):
        spec = p["LaunchTemplate"]
        lt = st.find_template(spec.get("LaunchTemplateId"), spec.get("LaunchTemplateName"))
        ver = st.template_version(lt, spec.get("Version"))
        data = ver["data"]
        lt_spec = {"LaunchTemplateId": lt["id"], "LaunchTemplateName": lt["name"],
                   "Version": str(ver["number"])}
    image_id = p.get("ImageId") or data.get("ImageId")
    if not image_id:
        raise AwsError("MissingParameter", "The request must contain the parameter ImageId")
    lo, hi = p["MinCount"], p["MaxCount"]
    if lo < 1 or hi < lo:
        raise AwsError("InvalidParameterValue",
                       "Invalid value '%d' for MinCount. MinCount must be between 1 and MaxCount"
                       % lo)
    image = find_image(st, image_id)
    if image["state"] != "available":
        raise AwsError("InvalidAMIID.Unavailable", "The image id '[%s]' is not available" % image_id)
    if st.cfg.instance_limit:
        live = sum(1 for i in st.instances.values() if i["state"] in ("pending", "running"))
        if live + lo > st.cfg.instance_limit:
            raise AwsError("InstanceLimitExceeded",
                           "You have requested more instances (%d) than your current instance "
                           "limit of %d allows for the specified instance type. Please visit "
                           "http://aws.amazon.com/contact-us/ec2-request to request an adjustment "
                           "to this limit." % (live + lo, st.cfg.instance_limit))
        hi = max(lo, min(hi, st.cfg.instance_limit - live))
    tags = tags_from_specs(data.get("TagSpecifications"), "instance")
    tags.update(tags_from_specs(p.get("TagSpecifications"), "instance"))
    subnet = p.get("SubnetId")
    if subnet and subnet not in SUBNETS:
        raise AwsError("InvalidSubnetID.NotFound", "The subnet ID '%s' does not exist" % subnet)
    az = (p.get("Placement") or {}).get("AvailabilityZone")
    res, insts = st.launch(image_id, p.get("InstanceType") or data.get("InstanceType"), tags,
                           az=az, subnet=subnet, lt=lt_spec,
                           user_data=p.get("UserData") or data.get("UserData"), count=hi,
                           now=ctx["now"],
                           shutdown=p.get("InstanceInitiatedShutdownBehavior") or "stop")
    if lt_spec:
        for i in insts:
            i["tags"].setdefault("aws:ec2launchtemplate:id", lt_spec["LaunchTemplateId"])
            i["tags"].setdefault("aws:ec2launchtemplate:version", lt_spec["Version"])
    return st.reservation_view(res, insts)


@op("ec2", "TerminateInstances")
def ec2_terminate_instances(st, p, ctx):
    out = []
    for inst in st.get_instances(p["InstanceIds"]):
        prev = inst["state"]
        st.terminate(inst, ctx["now"])
        out.append({"InstanceId": inst["id"],
                    "CurrentState": {"Code": STATE_CODES[inst["state"]], "Name": inst["state"]},
                    "PreviousState": {"Code": STATE_CODES[prev], "Name": prev}})
    return {"TerminatingInstances": out}


@op("ec2", "GetConsoleOutput")
def ec2_console_output(st, p, ctx):
    inst = st.get_instances([p["InstanceId"]])[0]
    out = {"InstanceId": inst["id"], "Timestamp": ctx["now"]}
    if inst["console"]:
        out["Output"] = base64.b64encode(inst["console"].encode()).decode()
    return out


def find_image(st, image_id):
    img = st.images.get(image_id)
    if img is None or img["state"] == "deregistered":
        if not re.match(r"^ami-([0-9a-f]{8}|[0-9a-f]{17})$", image_id):
            raise AwsError("InvalidAMIID.Malformed", 'Invalid id: "%s" (expecting "ami-...")'
                           % image_id)
        raise AwsError("InvalidAMIID.NotFound", "The image id '[%s]' does not exist" % image_id)
    return img


@op("ec2", "DescribeImages")
def ec2_describe_images(st, p, ctx):
    ids = p.get("ImageIds") or []
    if ids:
        imgs = [find_image(st, i) for i in ids]
    else:
        imgs = sorted((m for m in st.images.values() if m["state"] != "deregistered"),
                      key=lambda m: m["id"])
    owners = p.get("Owners") or []
    if owners:
        want = set()
        for o in owners:
            want.add({"self": ACCOUNT, "amazon": AMAZON_OWNER}.get(o, o))
        imgs = [m for m in imgs if m["owner"] in want]
    elif not ids:
        imgs = [m for m in imgs if m["owner"] == ACCOUNT or m["public"]]
    imgs = ec2_filtered(imgs, p.get("Filters"), IMAGE_FILTERS, lambda m: m["tags"])
    limit = ec2_limit(st, p)
    token = p.get("NextToken")
    chunk, nxt = page(imgs, lambda m: m["id"], "images", token, limit, ec2_bad_token(token or ""))
    out = {"Images": [st.image_view(m) for m in chunk]}
    if nxt:
        out["NextToken"] = nxt
    return out


@op("ec2", "CreateImage")
def ec2_create_image(st, p, ctx):
    inst = st.get_instances([p["InstanceId"]])[0]
    name = p["Name"]
    if not re.match(r"^[a-zA-Z0-9().\-/_ \[\]@']{3,128}$", name):
        raise AwsError("InvalidAMIName.Malformed",
                       "AMI names must be between 3 and 128 characters long, and may contain "
                       "letters, numbers, '(', ')', '.', '-', '/' and '_'")
    for m in st.images.values():
        if m["owner"] == ACCOUNT and m["name"] == name and m["state"] != "deregistered":
            raise AwsError("InvalidAMIName.Duplicate",
                           "AMI name %s is already in use by AMI %s" % (name, m["id"]))
    if inst["state"] not in ("running", "stopped", "stopping"):
        raise AwsError("IncorrectInstanceState", "The instance '%s' is not in a state from which "
                       "it can be imaged." % inst["id"])
    now = ctx["now"]
    iid = st.new_id("ami")
    st.images[iid] = {"id": iid, "name": name, "description": p.get("Description", ""),
                      "owner": ACCOUNT, "public": False, "state": "pending", "created": now,
                      "available_at": now + st.scale(IMAGE_S),
                      "tags": tags_from_specs(p.get("TagSpecifications"), "image"),
                      "source_instance": inst["id"]}
    return {"ImageId": iid}


@op("ec2", "DeregisterImage")
def ec2_deregister_image(st, p, ctx):
    img = find_image(st, p["ImageId"])
    if img["owner"] != ACCOUNT:
        raise AwsError("AuthFailure", "Not authorized for image:%s" % img["id"])
    img["state"] = "deregistered"
    return {"Return": True}


def tag_targets(st, ids):
    out = []
    for rid in ids:
        if rid.startswith("i-"):
            out.append(st.get_instances([rid])[0]["tags"])
        elif rid.startswith("ami-"):
            out.append(find_image(st, rid)["tags"])
        elif rid.startswith("lt-"):
            out.append(st.find_template(tid=rid)["tags"])
        else:
            raise AwsError("InvalidID", "The ID '%s' is not valid" % rid)
    return out


@op("ec2", "CreateTags")
def ec2_create_tags(st, p, ctx):
    for t in p["Tags"]:
        check_tag_key(t.get("Key", ""))
    for tags in tag_targets(st, p["Resources"]):
        for t in p["Tags"]:
            tags[t["Key"]] = t.get("Value", "")
        if len(tags) > 50:
            raise AwsError("TagLimitExceeded", "The maximum number of Tags for a resource has "
                           "been reached.")
    return None


@op("ec2", "DeleteTags")
def ec2_delete_tags(st, p, ctx):
    for tags in tag_targets(st, p["Resources"]):
        for t in p.get("Tags") or [{"Key": k} for k in list(tags)]:
            if t["Key"] in tags and ("Value" not in t or tags[t["Key"]] == t["Value"]):
                del tags[t["Key"]]
    return None


@op("ec2", "CreateLaunchTemplate")
def ec2_create_launch_template(st, p, ctx):
    lt = st.new_template(p["LaunchTemplateName"], p["LaunchTemplateData"],
                         p.get("VersionDescription"),
                         tags_from_specs(p.get("TagSpecifications"), "launch-template"),
                         ctx["now"])
    return {"LaunchTemplate": st.template_view(lt)}


@op("ec2", "CreateLaunchTemplateVersion")
def ec2_create_launch_template_version(st, p, ctx):
    if not p.get("LaunchTemplateId") and not p.get("LaunchTemplateName"):
        raise AwsError("MissingParameter", "The request must contain the parameter "
                       "launchTemplateName or launchTemplateId")
    lt = st.find_template(p.get("LaunchTemplateId"), p.get("LaunchTemplateName"))
    data = {}
    if p.get("SourceVersion"):
        data = copy.deepcopy(st.template_version(lt, p["SourceVersion"])["data"])
    data.update(p["LaunchTemplateData"])
    lt["latest"] += 1
    ver = {"number": lt["latest"], "description": p.get("VersionDescription"),
           "created": ctx["now"], "data": data}
    lt["versions"].append(ver)
    return {"LaunchTemplateVersion": st.version_view(lt, ver)}


@op("ec2", "ModifyLaunchTemplate")
def ec2_modify_launch_template(st, p, ctx):
    lt = st.find_template(p.get("LaunchTemplateId"), p.get("LaunchTemplateName"))
    if p.get("DefaultVersion"):
        lt["default"] = st.template_version(lt, p["DefaultVersion"])["number"]
    return {"LaunchTemplate": st.template_view(lt)}


@op("ec2", "DeleteLaunchTemplate")
def ec2_delete_launch_template(st, p, ctx):
    if not p.get("LaunchTemplateId") and not p.get("LaunchTemplateName"):
        raise AwsError("MissingParameter", "The request must contain the parameter "
                       "launchTemplateName or launchTemplateId")
    lt = st.find_template(p.get("LaunchTemplateId"), p.get("LaunchTemplateName"))
    del st.templates[lt["id"]]
    return {"LaunchTemplate": st.template_view(lt)}


@op("ec2", "DescribeLaunchTemplates")
def ec2_describe_launch_templates(st, p, ctx):
    ids, names = p.get("LaunchTemplateIds") or [], p.get("LaunchTemplateNames") or []
    lts = sorted(st.templates.values(), key=lambda t: t["id"])
    if ids or names:
        have_ids = {t["id"] for t in lts}
        have_names = {t["name"] for t in lts}
        if any(i not in have_ids for i in ids):
            raise AwsError("InvalidLaunchTemplateId.NotFound", "At least one of the launch "
                           "templates specified in the request does not exist.")
        if any(n not in have_names for n in names):
            raise AwsError("InvalidLaunchTemplateName.NotFoundException", "At least one of the "
                           "launch templates specified in the request does not exist.")
        lts = [t for t in lts if t["id"] in ids or t["name"] in names]
    lts = ec2_filtered(lts, p.get("Filters"), TEMPLATE_FILTERS, lambda t: t["tags"])
    limit = ec2_limit(st, p, lo=1, hi=200)
    token = p.get("NextToken")
    chunk, nxt = page(lts, lambda t: t["id"], "templates", token, limit, ec2_bad_token(token or ""))
    out = {"LaunchTemplates": [st.template_view(t) for t in chunk]}
    if nxt:
        out["NextToken"] = nxt
    return out


@op("ec2", "DescribeLaunchTemplateVersions")
def ec2_describe_launch_template_versions(st, p, ctx):
    if not p.get("LaunchTemplateId") and not p.get("LaunchTemplateName"):
        raise AwsError("MissingParameter", "The request must contain the parameter "
                       "launchTemplateName or launchTemplateId")
    lt = st.find_template(p.get("LaunchTemplateId"), p.get("LaunchTemplateName"))
    if p.get("Versions"):
        vers = [st.template_version(lt, v) for v in p["Versions"]]
    else:
        vers = list(lt["versions"])
        lo, hi = p.get("MinVersion"), p.get("MaxVersion")
        if lo:
            vers = [v for v in vers if v["number"] >= int(lo)]
        if hi:
            vers = [v for v in vers if v["number"] <= int(hi)]
    limit = ec2_limit(st, p, lo=1, hi=200)
    token = p.get("NextToken")
    chunk, nxt = page(vers, lambda v: v["number"], "versions", token, limit,
                      ec2_bad_token(token or ""))
    out = {"LaunchTemplateVersions": [st.version_view(lt, v) for v in chunk]}
    if nxt:
        out["NextToken"] = nxt
    return out


ZONE_IDS = {"us-east-1a": "use1-az1", "us-east-1b": "use1-az2", "us-east-1c": "use1-az4"}

AZ_FILTERS = {
    "state": lambda z: ["available"],
    "zone-name": lambda z: [z],
    "zone-id": lambda z: [ZONE_IDS[z]],
    "region-name": lambda z: [REGION],
    "zone-type": lambda z: ["availability-zone"],
    "opt-in-status": lambda z: ["opt-in-not-required"],
    "group-name": lambda z: [REGION],
}


@op("ec2", "DescribeAvailabilityZones")
def ec2_describe_azs(st, p, ctx):
    names = p.get("ZoneNames") or []
    for n in names:
        if n not in AZS:
            raise AwsError("InvalidParameterValue", "The zone '%s' does not exist." % n)
    ids = p.get("ZoneIds") or []
    zones = [z for z in AZS if (not names or z in names) and (not ids or ZONE_IDS[z] in ids)]
    zones = ec2_filtered(zones, p.get("Filters"), AZ_FILTERS, lambda z: {})
    return {"AvailabilityZones": [{
        "State": "available", "OptInStatus": "opt-in-not-required", "Messages": [],
        "RegionName": REGION, "ZoneName": z, "ZoneId": ZONE_IDS[z], "GroupName": REGION,
        "NetworkBorderGroup": REGION, "ZoneType": "availability-zone"} for z in zones]}


SUBNET_FILTERS = {
    "subnet-id": lambda s: [s],
    "vpc-id": lambda s: [VPC_ID],
    "availability-zone": lambda s: [SUBNETS[s]],
    "availability-zone-id": lambda s: [ZONE_IDS[SUBNETS[s]]],
    "state": lambda s: ["available"],
    "default-for-az": lambda s: ["true"],
    "cidr-block": lambda s: ["10.0.%d.0/20" % (16 * sorted(SUBNETS).index(s))],
    "tag-key": lambda s: [],
    "tag-value": lambda s: [],
}


@op("ec2", "DescribeSubnets")
def ec2_describe_subnets(st, p, ctx):
    ids = p.get("SubnetIds") or []
    for s in ids:
        if s not in SUBNETS:
            raise AwsError("InvalidSubnetID.NotFound", "The subnet ID '%s' does not exist" % s)
    subs = [s for s in sorted(SUBNETS) if not ids or s in ids]
    subs = ec2_filtered(subs, p.get("Filters"), SUBNET_FILTERS, lambda s: {})
    return {"Subnets": [{
        "SubnetId": s, "VpcId": VPC_ID, "AvailabilityZone": SUBNETS[s],
        "AvailabilityZoneId": ZONE_IDS[SUBNETS[s]], "State": "available",
        "CidrBlock": SUBNET_FILTERS["cidr-block"](s)[0], "AvailableIpAddressCount": 4091,
        "DefaultForAz": True, "MapPublicIpOnLaunch": True, "OwnerId": ACCOUNT,
        "SubnetArn": "arn:aws:ec2:%s:%s:subnet/%s" % (REGION, ACCOUNT, s),
        "AssignIpv6AddressOnCreation": False, "Ipv6CidrBlockAssociationSet": [],
        "Tags": []} for s in subs]}


VPC_FILTERS = {
    "vpc-id": lambda v: [VPC_ID],
    "is-default": lambda v: ["true"],
    "state": lambda v: ["available"],
    "cidr": lambda v: ["10.0.0.0/16"],
    "tag-key": lambda v: [],
    "tag-value": lambda v: [],
}


@op("ec2", "DescribeVpcs")
def ec2_describe_vpcs(st, p, ctx):
    for v in p.get("VpcIds") or []:
        if v != VPC_ID:
            raise AwsError("InvalidVpcID.NotFound", "The vpc ID '%s' does not exist" % v)
    vpcs = ec2_filtered([VPC_ID], p.get("Filters"), VPC_FILTERS, lambda v: {})
    return {"Vpcs": [{
        "VpcId": v, "CidrBlock": "10.0.0.0/16", "State": "available", "IsDefault": True,
        "OwnerId": ACCOUNT, "InstanceTenancy": "default", "DhcpOptionsId": "dopt-0a1b2c3d",
        "CidrBlockAssociationSet": [{"AssociationId": "vpc-cidr-assoc-0a1b2c3d",
                                     "CidrBlock": "10.0.0.0/16",
                                     "CidrBlockState": {"State": "associated"}}],
        "Tags": []} for v in vpcs]}


# ---------------------------------------------------------------------------------------
# Auto Scaling

def asg_not_found(name):
    return AwsError("ValidationError", "AutoScalingGroup name not found - AutoScalingGroup '%s' "
                    "not found" % name)


def find_asg(st, name):
    asg = st.asgs.get(name)
    if asg is None:
        raise asg_not_found(name)
    return asg


def q_limit(st, n, default, hi, name="maxRecords"):
    if n is not None and not 1 <= n <= hi:
        raise AwsError("ValidationError", "1 validation error detected: Value '%d' at '%s' "
                       "failed to satisfy constraint: Member must have value %s" %
                       (n, name, "less than or equal to %d" % hi if n > hi
                        else "greater than or equal to 1"))
    n = n or default
    if st.cfg.page_size:
        n = min(n, st.cfg.page_size)
    return n


def bad_next_token(token):
    return AwsError("InvalidNextToken", "The token '%s' is invalid." % token)


def asg_tag_view(asg, t):
    return {"ResourceId": asg["name"], "ResourceType": "auto-scaling-group", "Key": t["Key"],
            "Value": t["Value"], "PropagateAtLaunch": t["PropagateAtLaunch"]}


def asg_view(st, asg):
    spec = dict(asg["lt"])
    try:
        lt = st.find_template(spec.get("LaunchTemplateId"), spec.get("LaunchTemplateName"))
        spec["LaunchTemplateId"], spec["LaunchTemplateName"] = lt["id"], lt["name"]
    except AwsError:
        pass
    spec.setdefault("Version", "$Default")
    v = {"AutoScalingGroupName": asg["name"], "AutoScalingGroupARN": asg["arn"],
         "LaunchTemplate": spec, "MinSize": asg["min"], "MaxSize": asg["max"],
         "DesiredCapacity": asg["desired"], "DefaultCooldown": asg["cooldown"],
         "AvailabilityZones": list(asg["azs"]), "LoadBalancerNames": list(asg["lbs"]),
         "TargetGroupARNs": [], "HealthCheckType": asg["hc_type"],
         "HealthCheckGracePeriod": asg["hc_grace"],
         "Instances": [{k: x for k, x in ai.items() if not k.startswith("_")}
                       for ai in asg["instances"].values()],
         "CreatedTime": asg["created"],
         "SuspendedProcesses": [{"ProcessName": k, "SuspensionReason": r}
                                for k, r in asg["suspended"].items()],
         "VPCZoneIdentifier": asg["vpc_zone"] or None, "EnabledMetrics": [],
         "Tags": [asg_tag_view(asg, t) for t in asg["tags"]],
         "TerminationPolicies": list(asg["termination_policies"]),
         "NewInstancesProtectedFromScaleIn": False,
         "ServiceLinkedRoleARN": "arn:aws:iam::%s:role/aws-service-role/autoscaling.amazonaws.com/"
                                 "AWSServiceRoleForAutoScaling" % ACCOUNT,
         "CapacityRebalance": False, "TrafficSources": []}
    if asg["status"]:
        v["Status"] = asg["status"]
    return v


def check_lt_spec(st, spec):
    if spec.get("LaunchTemplateId") and spec.get("LaunchTemplateName"):
        raise AwsError("ValidationError", "Valid requests must contain either launchTemplateId "
                       "or LaunchTemplateName")
    if not spec.get("LaunchTemplateId") and not spec.get("LaunchTemplateName"):
        raise AwsError("ValidationError", "Valid requests must contain either launchTemplateId "
                       "or LaunchTemplateName")
    try:
        lt = st.find_template(spec.get("LaunchTemplateId"), spec.get("LaunchTemplateName"))
        st.template_version(lt, spec.get("Version"))
    except AwsError as e:
        raise AwsError("ValidationError", "You must use a valid fully-formed launch template. %s"
                       % e.message)


def check_sizes(lo, hi, want):
    if hi < lo:
        raise AwsError("ValidationError", "Max bound, %d, must be greater than or equal to min "
                       "bound, %d" % (hi, lo))
    if want is not None and not lo <= want <= hi:
        raise AwsError("ValidationError", "Desired capacity:%d must be between the specified min "
                       "size:%d and max size:%d" % (want, lo, hi))


def check_lbs(st, names):
    if any(n not in st.elbs for n in names):
        raise AwsError("ValidationError", "Provided Load Balancers may not be valid. Please "
                       "ensure they exist and try again.")


def check_zones(azs, vpc_zone):
    for z in azs or []:
        if z not in AZS:
            raise AwsError("ValidationError", "The availability zone %s is not legally formatted"
                           % z if not re.match(r"^[a-z]{2}-[a-z]+-\d[a-z]$", z) else
                           "Invalid Availability Zone %s" % z)
    for sub in (vpc_zone or "").split(","):
        if sub.strip() and sub.strip() not in SUBNETS:
            raise AwsError("ValidationError", "The subnet ID '%s' does not exist" % sub.strip())


@op("autoscaling", "CreateAutoScalingGroup")
def asg_create(st, p, ctx):
    name = p["AutoScalingGroupName"]
    if name in st.asgs:
        raise AwsError("AlreadyExists", "AutoScalingGroup by this name already exists - A group "
                       "with the name %s already exists" % name)
    if not 1 <= len(name) <= 255 or ":" in name:
        raise AwsError("ValidationError", "1 validation error detected: Value '%s' at "
                       "'autoScalingGroupName' failed to satisfy constraint: Member must satisfy "
                       "regular expression pattern: [\\u0020-\\uD7FF\\uE000-\\uFFFD\\uD800\\uDC00-"
                       "\\uDBFF\\uDFFF\\r\\n\\t]*" % name)
    if p.get("LaunchConfigurationName"):
        raise AwsError("ValidationError", "Launch configuration name not found - Launch "
                       "configuration %s not found" % p["LaunchConfigurationName"])
    if not p.get("LaunchTemplate"):
        raise AwsError("ValidationError", "Valid requests must contain either LaunchTemplate, "
                       "LaunchConfigurationName, InstanceId or MixedInstancesPolicy parameter.")
    check_lt_spec(st, p["LaunchTemplate"])
    check_sizes(p["MinSize"], p["MaxSize"], p.get("DesiredCapacity"))
    if not p.get("AvailabilityZones") and not p.get("VPCZoneIdentifier"):
        raise AwsError("ValidationError", "At least one Availability Zone or VPC Subnet is "
                       "required.")
    check_zones(p.get("AvailabilityZones"), p.get("VPCZoneIdentifier"))
    check_lbs(st, p.get("LoadBalancerNames") or [])
    if len(p.get("Tags") or []) > 50:
        raise AwsError("LimitExceeded", "The number of tags exceeds the limit of 50.")
    st.new_asg(p, ctx["now"])
    return None


@op("autoscaling", "DescribeAutoScalingGroups")
def asg_describe(st, p, ctx):
    names = p.get("AutoScalingGroupNames")
    if names:
        asgs = sorted((st.asgs[n] for n in set(names) if n in st.asgs), key=lambda a: a["name"])
    else:
        asgs = sorted(st.asgs.values(), key=lambda a: a["name"])
    for f in p.get("Filters") or []:
        name, vals = f.get("Name", ""), f.get("Values") or []
        if name == "tag-key":
            asgs = [a for a in asgs if any(t["Key"] in vals for t in a["tags"])]
        elif name == "tag-value":
            asgs = [a for a in asgs if any(t["Value"] in vals for t in a["tags"])]
        elif name.startswith("tag:"):
            asgs = [a for a in asgs if any(t["Key"] == name[4:] and t["Value"] in vals
                                           for t in a["tags"])]
        else:
            raise AwsError("ValidationError", "Filter type %s is not correct. Allowed Filter types "
                           "are: tag-key tag-value tag:<key> ." % name)
    limit = q_limit(st, p.get("MaxRecords"), 50, 100)
    token = p.get("NextToken")
    chunk, nxt = page(asgs, lambda a: a["name"], "asgs", token, limit, bad_next_token(token))
    out = {"AutoScalingGroups": [asg_view(st, a) for a in chunk]}
    if nxt:
        out["NextToken"] = nxt
    return out


@op("autoscaling", "UpdateAutoScalingGroup")
def asg_update(st, p, ctx):
    asg = find_asg(st, p["AutoScalingGroupName"])
    if asg["status"]:
        raise AwsError("ScalingActivityInProgress", "AutoScalingGroup %s is pending delete."
                       % asg["name"])
    if p.get("LaunchConfigurationName"):
        raise AwsError("ValidationError", "Launch configuration name not found - Launch "
                       "configuration %s not found" % p["LaunchConfigurationName"])
    if p.get("LaunchTemplate"):
        check_lt_spec(st, p["LaunchTemplate"])
    lo, hi = p.get("MinSize", asg["min"]), p.get("MaxSize", asg["max"])
    want = p.get("DesiredCapacity")
    if want is None:
        want = min(max(asg["desired"], lo), hi) if lo <= hi else None
    check_sizes(lo, hi, want)
    check_zones(p.get("AvailabilityZones"), p.get("VPCZoneIdentifier"))
    if p.get("LaunchTemplate"):
        asg["lt"] = dict(p["LaunchTemplate"])
    asg["min"], asg["max"], asg["desired"] = lo, hi, want
    for k, f in (("DefaultCooldown", "cooldown"), ("HealthCheckType", "hc_type"),
                 ("HealthCheckGracePeriod", "hc_grace"), ("VPCZoneIdentifier", "vpc_zone"),
                 ("AvailabilityZones", "azs"), ("TerminationPolicies", "termination_policies")):
        if k in p:
            asg[f] = p[k]
    if "VPCZoneIdentifier" in p and "AvailabilityZones" not in p:
        asg["azs"] = st.asg_zones(asg)
    return None


@op("autoscaling", "SetDesiredCapacity")
def asg_set_desired(st, p, ctx):
    asg = find_asg(st, p["AutoScalingGroupName"])
    n = p["DesiredCapacity"]
    if n > asg["max"]:
        raise AwsError("ValidationError", "New SetDesiredCapacity value %d is above max value %d "
                       "for the AutoScalingGroup." % (n, asg["max"]))
    if n < asg["min"]:
        raise AwsError("ValidationError", "New SetDesiredCapacity value %d is below min value %d "
                       "for the AutoScalingGroup." % (n, asg["min"]))
    asg["desired"] = n
    return None


@op("autoscaling", "DeleteAutoScalingGroup")
def asg_delete(st, p, ctx):
    asg = find_asg(st, p["AutoScalingGroupName"])
    now = ctx["now"]
    if asg["instances"] and not p.get("ForceDelete"):
        raise AwsError("ResourceInUse", "You cannot delete an AutoScalingGroup while there are "
                       "instances or pending Spot instance request(s) still in the group.")
    if asg["status"]:
        return None
    asg["status"] = "Delete in progress"
    asg["min"] = asg["max"] = asg["desired"] = 0
    if not asg["instances"]:
        del st.asgs[asg["name"]]
        return None
    for iid, ai in asg["instances"].items():
        if ai["LifecycleState"] != "Terminating":
            ai["LifecycleState"] = "Terminating"
            inst = st.instances.get(iid)
            st.asg_deregister(asg, [iid])
            if inst:
                st.terminate(inst, now)
                st.activity(asg, "Terminating EC2 instance: %s" % iid, "At %s a user request "
                            "deleted the AutoScalingGroup changing the desired capacity from %d "
                            "to 0." % (iso(now)[:19] + "Z", len(asg["instances"])), now, inst,
                            launch=False)
    return None


def process_names(p):
    names = p.get("ScalingProcesses") or []
    for n in names:
        if n not in SCALING_PROCESSES:
            raise AwsError("ValidationError", "Process names '%s' is not a valid scaling process"
                           % n)
    return names or list(SCALING_PROCESSES)


@op("autoscaling", "SuspendProcesses")
def asg_suspend(st, p, ctx):
    asg = find_asg(st, p["AutoScalingGroupName"])
    for n in process_names(p):
        asg["suspended"].setdefault(n, "User suspended at %s" % (iso(ctx["now"])[:19] + "Z"))
    return None


@op("autoscaling", "ResumeProcesses")
def asg_resume(st, p, ctx):
    asg = find_asg(st, p["AutoScalingGroupName"])
    for n in process_names(p):
        asg["suspended"].pop(n, None)
    return None


@op("autoscaling", "AttachLoadBalancers")
def asg_attach_lbs(st, p, ctx):
    asg = find_asg(st, p["AutoScalingGroupName"])
    names = p["LoadBalancerNames"]
    check_lbs(st, names)
    if len(set(asg["lbs"]) | set(names)) > 50:
        raise AwsError("LimitExceeded", "You have reached the limit of 50 load balancers per "
                       "Auto Scaling group.")
    new = [n for n in names if n not in asg["lbs"]]
    asg["lbs"].extend(new)
    if "AddToLoadBalancer" not in asg["suspended"]:
        live = [i for i, ai in asg["instances"].items() if ai["LifecycleState"] == "InService"]
        st.asg_register(asg, live, ctx["now"], names=new)
    return {}


@op("autoscaling", "DetachLoadBalancers")
def asg_detach_lbs(st, p, ctx):
    asg = find_asg(st, p["AutoScalingGroupName"])
    names = [n for n in p["LoadBalancerNames"] if n in asg["lbs"]]
    asg["lbs"] = [n for n in asg["lbs"] if n not in names]
    st.asg_deregister(asg, list(asg["instances"]), names=names or ["-"])
    return {}


def activity_view(act):
    return {k: v for k, v in act.items() if not k.startswith("_")}


@op("autoscaling", "TerminateInstanceInAutoScalingGroup")
def asg_terminate_instance(st, p, ctx):
    iid = p["InstanceId"]
    asg = next((a for a in st.asgs.values() if iid in a["instances"]), None)
    if asg is None:
        raise AwsError("ValidationError", "Instance Id not found - No managed instance found for "
                       "instance ID: %s" % iid)
    now = ctx["now"]
    ai = asg["instances"][iid]
    dec = p["ShouldDecrementDesiredCapacity"]
    before = asg["desired"]
    if dec and ai["LifecycleState"] != "Terminating":
        if asg["desired"] - 1 < asg["min"]:
            raise AwsError("ValidationError", "Currently, desiredSize equals minSize (%d). "
                           "Terminating instance without replacement will violate group's min "
                           "size constraint. Either set shouldDecrementDesiredCapacity flag to "
                           "false or lower group's min size." % asg["min"])
        asg["desired"] -= 1
    ai["LifecycleState"] = "Terminating"
    st.asg_deregister(asg, [iid])
    inst = st.instances.get(iid)
    if inst:
        st.terminate(inst, now)
    cause = "At %s instance %s was taken out of service in response to a user request" % (
        iso(now)[:19] + "Z", iid)
    if dec:
        cause += ", shrinking the capacity from %d to %d." % (before, asg["desired"])
    else:
        cause += "."
    act = st.activity(asg, "Terminating EC2 instance: %s" % iid, cause, now, inst, launch=False)
    return {"Activity": activity_view(act)}


@op("autoscaling", "DescribeScalingActivities")
def asg_activities(st, p, ctx):
    acts = list(reversed(st.activities))
    if p.get("AutoScalingGroupName"):
        acts = [a for a in acts if a["AutoScalingGroupName"] == p["AutoScalingGroupName"]]
    if p.get("ActivityIds"):
        acts = [a for a in acts if a["ActivityId"] in p["ActivityIds"]]
    limit = q_limit(st, p.get("MaxRecords"), 100, 100)
    token = p.get("NextToken")
    keyed = [((-a["StartTime"], a["ActivityId"]), a) for a in acts]
    keyed.sort(key=lambda x: x[0])
    chunk, nxt = page(keyed, lambda x: x[0], "activities", token, limit, bad_next_token(token))
    out = {"Activities": [activity_view(a) for _, a in chunk]}
    if nxt:
        out["NextToken"] = nxt
    return out


def asg_tag_target(st, t):
    if t.get("ResourceType", "auto-scaling-group") != "auto-scaling-group":
        raise AwsError("ValidationError", "Invalid resource type: %s" % t.get("ResourceType"))
    asg = st.asgs.get(t.get("ResourceId") or "")
    if asg is None:
        raise AwsError("ValidationError", "Auto Scaling group name not found - Auto Scaling group "
                       "%s not found" % t.get("ResourceId"))
    return asg


@op("autoscaling", "CreateOrUpdateTags")
def asg_create_tags(st, p, ctx):
    for t in p["Tags"]:
        asg_tag_target(st, t)
    for t in p["Tags"]:
        asg = asg_tag_target(st, t)
        new = {"Key": t["Key"], "Value": t.get("Value", ""),
               "PropagateAtLaunch": bool(t.get("PropagateAtLaunch", False))}
        for i, old in enumerate(asg["tags"]):
            if old["Key"] == t["Key"]:
                asg["tags"][i] = new
                break
        else:
            if len(asg["tags"]) >= 50:
                raise AwsError("LimitExceeded", "The number of tags exceeds the limit of 50.")
            asg["tags"].append(new)
    return None


@op("autoscaling", "DeleteTags")
def asg_delete_tags(st, p, ctx):
    for t in p["Tags"]:
        asg = asg_tag_target(st, t)
        asg["tags"] = [x for x in asg["tags"] if x["Key"] != t["Key"]]
    return None


@op("autoscaling", "DescribeTags")
def asg_describe_tags(st, p, ctx):
    rows = []
    for asg in sorted(st.asgs.values(), key=lambda a: a["name"]):
        for t in sorted(asg["tags"], key=lambda t: t["Key"]):
            rows.append(asg_tag_view(asg, t))
    for f in p.get("Filters") or []:
        name, vals = f.get("Name", ""), f.get("Values") or []
        field = {"auto-scaling-group": "ResourceId", "key": "Key", "value": "Value",
                 "propagate-at-launch": "PropagateAtLaunch"}.get(name)
        if field is None:
            raise AwsError("ValidationError", "Filter type %s is not correct. Allowed Filter types "
                           "are: auto-scaling-group key value propagate-at-launch ." % name)
        if field == "PropagateAtLaunch":
            rows = [r for r in rows if ("true" if r[field] else "false") in
                    [v.lower() for v in vals]]
        else:
            rows = [r for r in rows if r[field] in vals]
    limit = q_limit(st, p.get("MaxRecords"), 50, 100)
    token = p.get("NextToken")
    chunk, nxt = page(rows, lambda r: (r["ResourceId"], r["Key"]), "tags", token, limit,
                      bad_next_token(token))
    out = {"Tags": chunk}
    if nxt:
        out["NextToken"] = nxt
    return out


@op("autoscaling", "DescribeAutoScalingInstances")
def asg_describe_instances(st, p, ctx):
    rows = []
    for asg in st.asgs.values():
        for ai in asg["instances"].values():
            r = {k: v for k, v in ai.items() if not k.startswith("_")}
            r["AutoScalingGroupName"] = asg["name"]
            r["HealthStatus"] = r["HealthStatus"].upper()
            rows.append(r)
    if p.get("InstanceIds"):
        rows = [r for r in rows if r["InstanceId"] in p["InstanceIds"]]
    rows.sort(key=lambda r: r["InstanceId"])
    limit = q_limit(st, p.get("MaxRecords"), 50, 50)
    token = p.get("NextToken")
    chunk, nxt = page(rows, lambda r: r["InstanceId"], "asg-instances", token, limit,
                      bad_next_token(token))
    out = {"AutoScalingInstances": chunk}
    if nxt:
        out["NextToken"] = nxt
    return out


# ---------------------------------------------------------------------------------------
# Classic Elastic Load Balancing

def elb_not_found(name):
    return AwsError("LoadBalancerNotFound", "There is no ACTIVE Load Balancer named '%s'" % name)


def find_elb(st, name):
    elb = st.elbs.get(name)
    if elb is None:
        raise elb_not_found(name)
    return elb


def elb_view(elb):
    v = {"LoadBalancerName": elb["name"], "DNSName": elb["dns"],
         "CanonicalHostedZoneNameID": ELB_ZONE_ID,
         "ListenerDescriptions": [{"Listener": dict(l), "PolicyNames": []}
                                  for l in elb["listeners"]],
         "Policies": {"AppCookieStickinessPolicies": [], "LBCookieStickinessPolicies": [],
                      "OtherPolicies": []},
         "BackendServerDescriptions": [], "AvailabilityZones": list(elb["azs"]),
         "Subnets": list(elb["subnets"]),
         "Instances": [{"InstanceId": i} for i in elb["instances"]],
         "HealthCheck": dict(elb["health_check"]),
         "SourceSecurityGroup": {"OwnerAlias": "amazon-elb", "GroupName": "amazon-elb-sg"},
         "SecurityGroups": list(elb["security_groups"]), "CreatedTime": elb["created"],
         "Scheme": elb["scheme"]}
    if elb["scheme"] != "internal":
        v["CanonicalHostedZoneName"] = elb["dns"]
    if elb["subnets"]:
        v["VPCId"] = VPC_ID
    return v


def check_listeners(listeners):
    out = []
    for l in listeners:
        proto = l["Protocol"].upper()
        if proto not in ("HTTP", "HTTPS", "TCP", "SSL"):
            raise AwsError("ValidationError", "Invalid protocol specified: %s" % l["Protocol"])
        port = l["LoadBalancerPort"]
        if not (port in (25, 80, 443, 465, 587) or 1024 <= port <= 65535):
            raise AwsError("ValidationError", "LoadBalancerPort must be either 25, 80, 443, 465, "
                           "587, or 1024~65535 inclusive")
        if not 1 <= l["InstancePort"] <= 65535:
            raise AwsError("ValidationError", "InstancePort must be within the range 1~65535")
        if proto in ("HTTPS", "SSL") and not l.get("SSLCertificateId"):
            raise AwsError("ValidationError", "SSLCertificateId is required for HTTPS or SSL "
                           "protocol.")
        n = {"Protocol": proto, "LoadBalancerPort": port,
             "InstanceProtocol": (l.get("InstanceProtocol") or proto).upper(),
             "InstancePort": l["InstancePort"]}
        if l.get("SSLCertificateId"):
            n["SSLCertificateId"] = l["SSLCertificateId"]
        out.append(n)
    return out


@op("elasticloadbalancing", "CreateLoadBalancer")
def elb_create(st, p, ctx):
    name = p["LoadBalancerName"]
    if not re.match(r"^[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,30}[a-zA-Z0-9])?$", name):
        raise AwsError("ValidationError", "LoadBalancerName '%s' must contain only alphanumeric "
                       "characters or hyphens, must not begin or end with a hyphen, and must be "
                       "at most 32 characters." % name)
    listeners = check_listeners(p["Listeners"])
    azs, subnets = p.get("AvailabilityZones") or [], p.get("Subnets") or []
    if not azs and not subnets:
        raise AwsError("ValidationError", "Either AvailabilityZones or SubnetIds must be specified")
    if azs and subnets:
        raise AwsError("ValidationError", "Only one of SubnetIds or AvailabilityZones may be "
                       "specified")
    for z in azs:
        if z not in AZS:
            raise AwsError("ValidationError", "Invalid Availability Zone: %s" % z)
    for sub in subnets:
        if sub not in SUBNETS:
            raise AwsError("SubnetNotFound", "The subnet ID '%s' does not exist" % sub)
    tags = {t["Key"]: t.get("Value", "") for t in p.get("Tags") or []}
    if len(tags) > 50:
        raise AwsError("TooManyTags", "The quota for the number of tags that can be assigned to a "
                       "load balancer has been reached.")
    old = st.elbs.get(name)
    if old is not None:
        if old["listeners"] == listeners:
            return {"DNSName": old["dns"]}
        raise AwsError("DuplicateLoadBalancerName", "Load Balancer named '%s' already exists and "
                       "it is configured with different parameters." % name)
    elb = st.new_elb(name, listeners, azs, subnets, p.get("SecurityGroups"), p.get("Scheme"),
                     tags, ctx["now"])
    return {"DNSName": elb["dns"]}


@op("elasticloadbalancing", "DescribeLoadBalancers")
def elb_describe(st, p, ctx):
    names = p.get("LoadBalancerNames")
    if names:
        elbs = [find_elb(st, n) for n in names]
    else:
        elbs = sorted(st.elbs.values(), key=lambda e: e["name"])
    n = p.get("PageSize")
    if n is not None and not 1 <= n <= 400:
        raise AwsError("ValidationError", "PageSize must be within the range 1~400")
    limit = n or 400
    if st.cfg.page_size:
        limit = min(limit, st.cfg.page_size)
    marker = p.get("Marker")
    chunk, nxt = page(elbs, lambda e: e["name"], "elbs", marker, limit,
                      AwsError("ValidationError", "Invalid Marker: %s" % marker))
    out = {"LoadBalancerDescriptions": [elb_view(e) for e in chunk]}
    if nxt:
        out["NextMarker"] = nxt
    return out


@op("elasticloadbalancing", "DeleteLoadBalancer")
def elb_delete(st, p, ctx):
    st.elbs.pop(p["LoadBalancerName"], None)  # idempotent, as in AWS
    return {}


@op("elasticloadbalancing", "ConfigureHealthCheck")
def elb_health_check(st, p, ctx):
    elb = find_elb(st, p["LoadBalancerName"])
    hc = p["HealthCheck"]
    if not re.match(r"^(HTTP|HTTPS):\d+/.*$|^(TCP|SSL):\d+$", hc["Target"]):
        raise AwsError("ValidationError", "Invalid Target: %s" % hc["Target"])
    if hc["Timeout"] >= hc["Interval"]:
        raise AwsError("ValidationError", "Interval must be greater than Timeout")
    elb["health_check"] = dict(hc)
    return {"HealthCheck": dict(hc)}


@op("elasticloadbalancing", "DescribeInstanceHealth")
def elb_instance_health(st, p, ctx):
    elb = find_elb(st, p["LoadBalancerName"])
    ids = [i["InstanceId"] for i in p.get("Instances") or [] if i.get("InstanceId")]
    for iid in ids:
        if iid not in st.instances:
            raise AwsError("InvalidInstance", "Could not find EC2 instance %s." % iid)
    out = []
    for iid in ids or list(elb["instances"]):
        state, code, desc = st.elb_state(elb, iid, ctx["now"])
        out.append({"InstanceId": iid, "State": state, "ReasonCode": code, "Description": desc})
    return {"InstanceStates": out}


@op("elasticloadbalancing", "RegisterInstancesWithLoadBalancer")
def elb_register(st, p, ctx):
    elb = find_elb(st, p["LoadBalancerName"])
    ids = [i.get("InstanceId") for i in p["Instances"]]
    for iid in ids:
        inst = st.instances.get(iid)
        if inst is None:
            raise AwsError("InvalidInstance", "Could not find EC2 instance %s." % iid)
        if inst["state"] not in ("pending", "running"):
            raise AwsError("InvalidInstance", "EC2 instance %s is not in running state." % iid)
    for iid in ids:
        elb["instances"].setdefault(iid, ctx["now"])
    return {"Instances": [{"InstanceId": i} for i in elb["instances"]]}


@op("elasticloadbalancing", "DeregisterInstancesFromLoadBalancer")
def elb_deregister(st, p, ctx):
    elb = find_elb(st, p["LoadBalancerName"])
    ids = [i.get("InstanceId") for i in p["Instances"]]
    for iid in ids:
        if iid not in st.instances and iid not in elb["instances"]:
            raise AwsError("InvalidInstance", "Could not find EC2 instance %s." % iid)
    for iid in ids:
        elb["instances"].pop(iid, None)
    return {"Instances": [{"InstanceId": i} for i in elb["instances"]]}


@op("elasticloadbalancing", "AddTags")
def elb_add_tags(st, p, ctx):
    elbs = [find_elb(st, n) for n in p["LoadBalancerNames"]]
    for elb in elbs:
        for t in p["Tags"]:
            elb["tags"][t["Key"]] = t.get("Value", "")
        if len(elb["tags"]) > 50:
            raise AwsError("TooManyTags", "The quota for the number of tags that can be assigned "
                           "to a load balancer has been reached.")
    return {}


@op("elasticloadbalancing", "RemoveTags")
def elb_remove_tags(st, p, ctx):
    for elb in [find_elb(st, n) for n in p["LoadBalancerNames"]]:
        for t in p["Tags"]:
            elb["tags"].pop(t.get("Key"), None)
    return {}


@op("elasticloadbalancing", "DescribeTags")
def elb_describe_tags(st, p, ctx):
    names = p["LoadBalancerNames"]
    if len(names) > 20:
        raise AwsError("ValidationError", "LoadBalancerNames must contain at most 20 names")
    return {"TagDescriptions": [{"LoadBalancerName": e["name"], "Tags": tag_list(e["tags"])}
                                for e in (find_elb(st, n) for n in names)]}


# ---------------------------------------------------------------------------------------
# STS

def random_key(rng, prefix, n=16):
    return prefix + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(n))


@op("sts", "GetCallerIdentity")
def sts_caller(st, p, ctx):
    a = st.assumed.get(ctx["akid"])
    if a:
        return {"UserId": a["user_id"], "Account": ACCOUNT, "Arn": a["arn"]}
    return {"UserId": "AIDA" + "KILNTESTUSER0000", "Account": ACCOUNT, "Arn": USER_ARN}


@op("sts", "AssumeRole")
def sts_assume_role(st, p, ctx):
    arn, session = p["RoleArn"], p["RoleSessionName"]
    m = re.match(r"^arn:aws:iam::(\d{12}):role/(?:.*/)?([\w+=,.@-]{1,64})$", arn)
    if not m:
        raise AwsError("ValidationError", "%s is invalid" % arn)
    if not re.match(r"^[\w+=,.@-]{2,64}$", session):
        raise AwsError("ValidationError", "1 validation error detected: Value '%s' at "
                       "'roleSessionName' failed to satisfy constraint: Member must satisfy "
                       "regular expression pattern: [\\w+=,.@-]*" % session)
    secs = p.get("DurationSeconds", 3600)
    if not 900 <= secs <= 43200:
        raise AwsError("ValidationError", "1 validation error detected: Value '%d' at "
                       "'durationSeconds' failed to satisfy constraint: Member must have value "
                       "%s" % (secs, "greater than or equal to 900" if secs < 900
                               else "less than or equal to 43200"))
    akid = random_key(st.rng, "ASIA")
    secret = base64.b64encode(bytes(st.rng.getrandbits(8) for _ in range(30))).decode()
    token = base64.b64encode(bytes(st.rng.getrandbits(8) for _ in range(180))).decode()
    role_id = "AROA" + ("%016X" % (zlib.crc32(arn.encode()) * 2654435761 % (16 ** 16)))[:16]
    user = {"AssumedRoleId": "%s:%s" % (role_id, session),
            "Arn": "arn:aws:sts::%s:assumed-role/%s/%s" % (m.group(1), m.group(2), session)}
    st.assumed[akid] = {"secret": secret, "arn": user["Arn"], "user_id": user["AssumedRoleId"]}
    return {"Credentials": {"AccessKeyId": akid, "SecretAccessKey": secret,
                            "SessionToken": token, "Expiration": ctx["now"] + secs},
            "AssumedRoleUser": user, "PackedPolicySize": 6}


# ---------------------------------------------------------------------------------------
# Route 53

RR_TYPES = ("A", "AAAA", "CAA", "CNAME", "DS", "MX", "NAPTR", "NS", "PTR", "SOA", "SPF", "SRV",
            "TXT")


def dns_name(name):
    name = name.strip().lower().replace("\\052", "*")
    return name if name.endswith(".") else name + "."


def rev_name(name):
    return ".".join(reversed(name.rstrip(".").split(".")))


def wire_name(name):
    return name.replace("*", "\\052")


def find_zone(st, zid):
    zid = zid.split("/")[-1]
    zone = st.zones.get(zid)
    if zone is None:
        raise AwsError("NoSuchHostedZone", "No hosted zone found with ID: %s" % zid, 404)
    return zone


def zone_view(zone):
    return {"Id": "/hostedzone/" + zone["id"], "Name": zone["name"],
            "CallerReference": zone["caller_reference"],
            "Config": {"Comment": zone["comment"], "PrivateZone": False},
            "ResourceRecordSetCount": len(zone["rrsets"])}


def r53_max(v, default, hi):
    if v is None or v == "":
        return default
    try:
        n = int(v)
    except ValueError:
        raise AwsError("InvalidInput", "1 validation error detected: Value '%s' at 'maxItems' "
                       "failed to satisfy constraint: Member must be a number" % v)
    if n < 1:
        raise AwsError("InvalidInput", "1 validation error detected: Value '%s' at 'maxItems' "
                       "failed to satisfy constraint: Member must be greater than 0" % v)
    return min(n, hi)


@op("route53", "ListHostedZonesByName")
def r53_zones_by_name(st, p, ctx):
    zones = sorted(st.zones.values(), key=lambda z: (rev_name(z["name"]), z["id"]))
    dns, zid = p.get("DNSName"), p.get("HostedZoneId")
    if zid and not dns:
        raise AwsError("InvalidInput", "The input is not valid: HostedZoneId requires DNSName")
    if dns:
        start = (rev_name(dns_name(dns)), zid or "")
        zones = [z for z in zones if (rev_name(z["name"]), z["id"]) >= start]
    n = r53_max(p.get("MaxItems"), 100, 100)
    if st.cfg.page_size:
        n = min(n, st.cfg.page_size)
    out = {"HostedZones": [zone_view(z) for z in zones[:n]], "IsTruncated": len(zones) > n,
           "MaxItems": str(n)}
    if dns:
        out["DNSName"] = dns
    if zid:
        out["HostedZoneId"] = zid
    if len(zones) > n:
        out["NextDNSName"] = zones[n]["name"]
        out["NextHostedZoneId"] = zones[n]["id"]
    return out


@op("route53", "ListHostedZones")
def r53_zones(st, p, ctx):
    zones = sorted(st.zones.values(), key=lambda z: z["id"])
    if p.get("Marker"):
        zones = [z for z in zones if z["id"] >= p["Marker"]]
    n = r53_max(p.get("MaxItems"), 100, 100)
    if st.cfg.page_size:
        n = min(n, st.cfg.page_size)
    out = {"HostedZones": [zone_view(z) for z in zones[:n]], "IsTruncated": len(zones) > n,
           "MaxItems": str(n), "Marker": p.get("Marker", "")}
    if len(zones) > n:
        out["NextMarker"] = zones[n]["id"]
    return out


@op("route53", "GetHostedZone")
def r53_zone(st, p, ctx):
    zone = find_zone(st, p["Id"])
    return {"HostedZone": zone_view(zone), "DelegationSet": {"NameServers": [
        n.rstrip(".") for n in zone["ns"]]}}


def rr_key(rr):
    return (rev_name(rr["Name"]), rr["Type"], rr.get("SetIdentifier") or "")


def rr_view(rr):
    v = dict(rr)
    v["Name"] = wire_name(rr["Name"])
    return v


@op("route53", "ListResourceRecordSets")
def r53_list_rrsets(st, p, ctx):
    zone = find_zone(st, p["HostedZoneId"])
    name, rtype, ident = p.get("StartRecordName"), p.get("StartRecordType"), \
        p.get("StartRecordIdentifier")
    if rtype and not name:
        raise AwsError("InvalidInput", "The input is not valid: StartRecordType requires "
                       "StartRecordName")
    if rtype and rtype not in RR_TYPES:
        raise AwsError("InvalidInput", "Invalid type: %s" % rtype)
    rrs = sorted(zone["rrsets"].values(), key=rr_key)
    if name:
        start = (rev_name(dns_name(name)), rtype or "", ident or "")
        rrs = [r for r in rrs if rr_key(r) >= start]
    n = r53_max(p.get("MaxItems"), 100, 300)
    if st.cfg.page_size:
        n = min(n, st.cfg.page_size)
    out = {"ResourceRecordSets": [rr_view(r) for r in rrs[:n]], "IsTruncated": len(rrs) > n,
           "MaxItems": str(n)}
    if len(rrs) > n:
        nxt = rrs[n]
        out["NextRecordName"] = wire_name(nxt["Name"])
        out["NextRecordType"] = nxt["Type"]
        if nxt.get("SetIdentifier"):
            out["NextRecordIdentifier"] = nxt["SetIdentifier"]
    return out


def rr_normal(rr):
    v = copy.deepcopy(rr)
    v["Name"] = dns_name(rr["Name"])
    if v.get("AliasTarget"):
        v["AliasTarget"]["DNSName"] = dns_name(v["AliasTarget"]["DNSName"])
    return v


@op("route53", "ChangeResourceRecordSets")
def r53_change(st, p, ctx):
    zone = find_zone(st, p["HostedZoneId"])
    batch = p["ChangeBatch"]
    changes = batch.get("Changes") or []
    if not changes:
        raise AwsError("InvalidInput", "1 validation error detected: Value '[]' at "
                       "'changeBatch.changes' failed to satisfy constraint: Member must have "
                       "length greater than or equal to 1")
    work = dict(zone["rrsets"])
    errors = []
    zname = zone["name"]
    for ch in changes:
        action, rr = ch.get("Action"), ch.get("ResourceRecordSet") or {}
        if action not in ("CREATE", "DELETE", "UPSERT"):
            raise AwsError("InvalidInput", "Invalid action: %s" % action)
        if "Name" not in rr or "Type" not in rr:
            raise AwsError("InvalidInput", "Invalid request: Missing Name or Type")
        rr = rr_normal(rr)
        name, rtype, ident = rr["Name"], rr["Type"], rr.get("SetIdentifier")
        if rtype not in RR_TYPES:
            raise AwsError("InvalidInput", "Invalid type: %s" % rtype)
        has_alias = bool(rr.get("AliasTarget"))
        has_plain = "TTL" in rr and bool(rr.get("ResourceRecords"))
        if action != "DELETE" and has_alias == has_plain:
            raise AwsError("InvalidInput", "Invalid request: Expected exactly one of [AliasTarget, "
                           "all of [TTL, and ResourceRecords], or TrafficPolicyInstanceId], but "
                           "found %s in Change with [Action=%s, Name=%s, Type=%s, "
                           "SetIdentifier=%s]" % ("both" if has_alias else "none", action,
                                                  name, rtype, ident or "null"))
        if not (name == zname or name.endswith("." + zname)):
            errors.append("RRSet with DNS name %s is not permitted in zone %s" % (name, zname))
            continue
        if rtype == "CNAME" and name == zname:
            errors.append("RRSet of type CNAME with DNS name %s is not permitted at apex in zone "
                          "%s" % (name, zname))
            continue
        key = (name, rtype, ident)
        desc = "[name='%s', type='%s'%s]" % (name, rtype, ", set-identifier='%s'" % ident
                                             if ident else "")
        if action == "DELETE":
            cur = work.get(key)
            if cur is None:
                errors.append("Tried to delete resource record set %s but it was not found" % desc)
            elif cur != rr:
                errors.append("Tried to delete resource record set %s but the values provided "
                              "do not match the current values" % desc)
            else:
                del work[key]
            continue
        if action == "CREATE" and key in work:
            errors.append("Tried to create resource record set %s but it already exists" % desc)
            continue
        others = {k[1] for k in work if k[0] == name and k != key}
        if (rtype == "CNAME" and others - {"CNAME"}) or (rtype != "CNAME" and "CNAME" in others):
            errors.append("RRSet of type %s with DNS name %s is not permitted as it conflicts "
                          "with other records with the same DNS name in zone %s"
                          % (rtype, name, zname))
            continue
        work[key] = rr
    if errors:
        raise AwsError("InvalidChangeBatch", "[%s]" % ", ".join(errors))
    zone["rrsets"] = work
    cid = "C" + "".join(st.rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(20))
    st.changes[cid] = {"submitted": ctx["now"], "comment": batch.get("Comment")}
    return {"ChangeInfo": change_view(st, cid, ctx["now"])}


def change_view(st, cid, now):
    c = st.changes[cid]
    v = {"Id": "/change/" + cid,
         "Status": "INSYNC" if now >= c["submitted"] + st.scale(R53_SYNC_S) else "PENDING",
         "SubmittedAt": c["submitted"]}
    if c["comment"]:
        v["Comment"] = c["comment"]
    return v


@op("route53", "GetChange")
def r53_get_change(st, p, ctx):
    cid = p["Id"].split("/")[-1]
    if cid not in st.changes:
        raise AwsError("NoSuchChange", "A change with the specified change ID does not exist.", 404)
    return {"ChangeInfo": change_view(st, cid, ctx["now"])}


# ---------------------------------------------------------------------------------------
# SigV4: the service from the credential scope, and (with --verify-sigv4) the signature

AUTH_RE = re.compile(r"^AWS4-HMAC-SHA256\s+Credential=([^,\s]+)\s*,\s*SignedHeaders=([^,\s]+)"
                     r"\s*,\s*Signature=([0-9a-f]+)\s*$")


def sigv4_check(method, raw_path, raw_query, headers, body, secret_for):
    """-> (access key, scope service) or raises AwsError. secret_for(akid) gives the secret
    to verify with, or None to skip verifying."""
    import hashlib
    import hmac
    from urllib.parse import quote
    auth = headers.get("Authorization")
    q = dict(parse_qsl(raw_query, keep_blank_values=True))
    if auth:
        m = AUTH_RE.match(auth.strip())
        if not m:
            raise AwsError("IncompleteSignature", "Authorization header requires 'Credential', "
                           "'Signature' and 'SignedHeaders' parameters. Authorization=%s"
                           % auth.split(" ")[0], 400)
        cred, signed, sig = m.groups()
        amz_date = headers.get("X-Amz-Date")
        if not amz_date and not headers.get("Date"):
            raise AwsError("IncompleteSignature", "Authorization header requires existence of "
                           "either a 'X-Amz-Date' or a 'Date' header. Authorization=%s"
                           % auth.split(" ")[0], 400)
    elif "X-Amz-Credential" in q:
        cred, signed, sig = q["X-Amz-Credential"], q.get("X-Amz-SignedHeaders", ""), \
            q.get("X-Amz-Signature", "")
        amz_date = q.get("X-Amz-Date")
    else:
        return None, None
    parts = cred.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise AwsError("IncompleteSignature", "Credential must have exactly 5 slash-delimited "
                       "elements, e.g. keyid/date/region/service/term, got '%s'" % cred, 400)
    akid, date, region, service = parts[:4]
    if region != REGION:
        raise AwsError("SignatureDoesNotMatch", "Credential should be scoped to a valid region, "
                       "not '%s'. " % region, 403)
    secret = secret_for(akid)
    if secret is None:
        return akid, service
    # Recompute the signature (the canonical request of the SigV4 spec).
    def enc(s):
        return quote(s, safe="-_.~")
    pairs = sorted((enc(k), enc(v)) for k, v in parse_qsl(raw_query, keep_blank_values=True)
                   if k != "X-Amz-Signature")
    cq = "&".join("%s=%s" % kv for kv in pairs)
    names = signed.split(";")
    ch = ""
    for n in names:
        vals = headers.get_all(n) or []
        ch += "%s:%s\n" % (n, ",".join(" ".join(v.split()) for v in vals))
    payload = headers.get("X-Amz-Content-SHA256") or (
        "UNSIGNED-PAYLOAD" if "X-Amz-Credential" in q else hashlib.sha256(body).hexdigest())
    path = quote(unquote(raw_path) or "/", safe="/~")
    creq = "\n".join([method, path, cq, ch, signed, payload])
    scope = "/".join(parts[1:])
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date or "", scope,
                     hashlib.sha256(creq.encode()).hexdigest()])
    k = ("AWS4" + secret).encode()
    for x in (date, region, service, "aws4_request"):
        k = hmac.new(k, x.encode(), hashlib.sha256).digest()
    want = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, sig):
        raise AwsError("SignatureDoesNotMatch", "The request signature we calculated does not "
                       "match the signature you provided. Check your AWS Secret Access Key and "
                       "signing method. Consult the service documentation for details.", 403)
    return akid, service


# ---------------------------------------------------------------------------------------
# HTTP

R53_ROUTES = [
    ("GET", re.compile(r"^/2013-04-01/hostedzonesbyname/?$"), "ListHostedZonesByName"),
    ("GET", re.compile(r"^/2013-04-01/hostedzone/?$"), "ListHostedZones"),
    ("GET", re.compile(r"^/2013-04-01/hostedzone/(?P<Id>[^/]+)/rrset/?$"), "ListResourceRecordSets"),
    ("POST", re.compile(r"^/2013-04-01/hostedzone/(?P<Id>[^/]+)/rrset/?$"), "ChangeResourceRecordSets"),
    ("GET", re.compile(r"^/2013-04-01/hostedzone/(?P<Id>[^/]+)/?$"), "GetHostedZone"),
    ("GET", re.compile(r"^/2013-04-01/change/(?P<Id>[^/]+)/?$"), "GetChange"),
]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "AmazonAWS"
    sys_version = ""

    def version_string(self):
        return self.server_version

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("aws_fixture: %s\n" % (fmt % args))

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def do_PUT(self):
        self.route("PUT")

    def do_DELETE(self):
        self.route("DELETE")

    def read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            data = b""
            while True:
                line = self.rfile.readline()
                n = int(line.split(b";")[0].strip() or b"0", 16)
                if n == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(n)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def setup(self):
        BaseHTTPRequestHandler.setup(self)
        # Headers and body go out in one write, and without Nagle's delay: otherwise every
        # answer waits out the client's delayed ACK (40 ms a request on Linux).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, status, body, ctype="text/xml", request_id=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if request_id:
            self.send_header("x-amzn-RequestId", request_id)
        self._headers_buffer.append(b"\r\n" + body)
        self.flush_headers()

    def send_json(self, obj, status=200):
        self.send(status, (json.dumps(obj, indent=1, sort_keys=True, default=str) + "\n").encode(),
                  "application/json")

    def route(self, method):
        st = self.server.state
        try:
            body = self.read_body()
        except Exception:
            self.close_connection = True
            return
        url = urlsplit(self.path)
        if url.path.startswith("/__fixture/"):
            return self.control(method, url, body)
        request_id = str(uuid.uuid4())
        is_r53 = url.path.startswith("/2013-04-01/")
        form = {}
        if not is_r53:
            form = dict(parse_qsl(url.query, keep_blank_values=True))
            if method == "POST":
                form.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        svc = "route53" if is_r53 else VERSIONS.get(form.get("Version"))
        try:
            akid, scope = sigv4_check(method, url.path, url.query, self.headers, body,
                                      st.secret_for)
            if scope in MODEL_NAMES:
                svc = scope if not is_r53 else "route53"
            if akid is None:
                raise AwsError("MissingAuthenticationToken",
                               "Request is missing Authentication Token", 403)
        except AwsError as e:
            return self.send_error_xml(svc or "autoscaling", e, request_id)
        if svc is None:
            return self.send_error_xml("autoscaling", AwsError(
                "InvalidAction", "Could not tell the service from the credential scope %r" % scope),
                request_id)
        if svc == "route53":
            action, groups = None, {}
            for m, rx, name in R53_ROUTES:
                g = rx.match(url.path)
                if g and m == method:
                    action, groups = name, g.groupdict()
                    break
        else:
            action = form.get("Action") or ""
        key = "%s:%s" % (svc, action or url.path)
        cfg = st.cfg
        # Faults come before anything else, as AWS's front ends do.
        fault = None
        with st.lock:
            if cfg.throttle_rate and st.fault_rng.random() < cfg.throttle_rate:
                fault = throttle_error(svc)
            elif cfg.error_rate and st.fault_rng.random() < cfg.error_rate:
                fault = server_error(svc, st.fault_rng)
            else:
                for inj in cfg.inject:
                    if inj.get("action") in (key, action):
                        fault = AwsError(inj.get("code", "InternalError"),
                                         inj.get("message", "injected by the fixture"),
                                         int(inj.get("status", 400)))
                        inj["count"] = int(inj.get("count", 1)) - 1
                        if inj["count"] <= 0:
                            cfg.inject.remove(inj)
                        break
        st.count(key, fault is not None)
        if cfg.latency_ms:
            time.sleep(cfg.latency_ms / 1000.0)
        if fault:
            return self.send_error_xml(svc, fault, request_id)
        opm = st.wire.op(svc, action) if action else None
        if opm is None or (svc, action) not in OPS:
            if svc == "ec2":
                e = AwsError("InvalidAction", "The action %s is not valid for this web service."
                             % action)
            elif svc == "route53":
                e = AwsError("InvalidAction", "No operation for %s %s" % (method, url.path), 404)
            else:
                e = AwsError("InvalidAction", "Could not find operation %s for version %s"
                             % (action, form.get("Version")))
            return self.send_error_xml(svc, e, request_id)
        try:
            if svc == "route53":
                params = self.r53_params(st.wire, opm, groups, url.query, body)
            else:
                params = st.wire.decode_query(opm, form, svc == "ec2",
                                              strict=not st.args.lenient_params)
            e = missing_member(svc, opm.input_shape, params)
            if e:
                raise e
            if svc == "ec2" and params.get("DryRun"):
                raise AwsError("DryRunOperation", "Request would have succeeded, but DryRun flag "
                               "is set.", 412)
            ctx = {"akid": akid, "request_id": request_id}
            with st.lock:
                ctx["now"] = time.time()
                st.tick(ctx["now"])
                result = OPS[(svc, action)](st, params, ctx)
            out = st.wire.response(svc, opm, result, request_id)
        except AwsError as e:
            if svc == "ec2" and e.code == "ValidationError":
                e.code = "InvalidParameterValue"
            elif svc == "route53" and e.code == "ValidationError":
                e.code = "InvalidInput"
            return self.send_error_xml(svc, e, request_id)
        except Exception as e:  # a fixture bug: say so in AWS's words, and on stderr
            import traceback
            traceback.print_exc()
            return self.send_error_xml(svc, AwsError(
                "InternalError" if svc == "ec2" else "InternalFailure",
                "fixture bug: %r" % e, 500), request_id)
        if cfg.malformed(action) or cfg.malformed(key):
            out = out[:len(out) // 2]
        self.send(200, out, "text/xml;charset=UTF-8" if svc == "ec2" else "text/xml", request_id)

    def r53_params(self, wire, opm, groups, query, body):
        q = dict(parse_qsl(query, keep_blank_values=True))
        p = {}
        shape = opm.input_shape
        for name, ms in shape.members.items():
            loc = ms.serialization.get("location")
            ln = ms.serialization.get("name", name)
            if loc == "uri" and ln in groups:
                p[name] = unquote(groups[ln])
            elif loc == "querystring" and ln in q:
                p[name] = wire._scalar(ms, q[ln], ln)
        if body.strip():
            try:
                root = ET.fromstring(body)
            except ET.ParseError as e:
                raise AwsError("InvalidInput", "Could not parse the request body: %s" % e)
            p.update(wire.decode_xml(shape, root))
        return p

    def send_error_xml(self, svc, err, request_id):
        self.send(err.status, error_body(svc, err, request_id), "text/xml", request_id)

    def control(self, method, url, body):
        st = self.server.state
        path = url.path
        try:
            if path == "/__fixture/config" and method == "POST":
                d = json.loads(body.decode() or "{}")
                with st.lock:
                    st.cfg.update(d)
                    return self.send_json(st.cfg.dump())
            if path == "/__fixture/config" and method == "GET":
                return self.send_json(st.cfg.dump())
            if path == "/__fixture/state" and method == "GET":
                with st.lock:
                    st.tick(time.time())
                    return self.send_json(st.dump())
            if path == "/__fixture/reset" and method == "POST":
                st.reset()
                return self.send_json({"ok": True})
            if path == "/__fixture/requests" and method == "GET":
                with st.lock:
                    return self.send_json(dict(st.requests))
            if path == "/__fixture/faults" and method == "GET":
                with st.lock:
                    return self.send_json(dict(st.faults))
        except (ValueError, TypeError) as e:
            return self.send_json({"error": str(e)}, 400)
        self.send_json({"error": "no such control endpoint: %s %s" % (method, path)}, 404)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--throttle-rate", type=float, default=0.0)
    ap.add_argument("--error-rate", type=float, default=0.0)
    ap.add_argument("--page-size", type=int, default=0,
                    help="cap every paginated answer at N items (0: AWS's own page sizes)")
    ap.add_argument("--hosted-zone", default=None, help="create this public hosted zone")
    ap.add_argument("--seed-asgs", type=int, default=0)
    ap.add_argument("--seed-instances", type=int, default=2)
    ap.add_argument("--malformed-action", default=None,
                    help="answer this action (or comma-separated actions) with truncated XML")
    ap.add_argument("--time-scale", type=float, default=1.0,
                    help="multiply every simulated delay by this")
    ap.add_argument("--terminated-ttl", type=float, default=60.0,
                    help="seconds terminated instances stay visible")
    ap.add_argument("--random-seed", type=int, default=None)
    ap.add_argument("--verify-sigv4", metavar="SECRET", default=None,
                    help="check SigV4 signatures, with SECRET for every access key (and the "
                    "secrets AssumeRole handed out)")
    ap.add_argument("--lenient-params", action="store_true",
                    help="ignore form parameters the API model does not define (default: "
                    "EC2's UnknownParameter, ValidationError elsewhere)")
    ap.add_argument("--private-ip-base", default="10.0", metavar="A.B",
                    help="instances' private addresses are A.B.x.y (127.0: reachable on "
                    "loopback, for kiln's health probe)")
    ap.add_argument("--run-user-data", action="store_true",
                    help="run instances' user data scripts as cloud-init would (see above)")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)
    wire = Wire()
    state = State(args, wire)
    server = Server((args.host, args.port), Handler)
    server.state = state
    server.verbose = args.verbose
    sim = threading.Thread(target=state.run, daemon=True)
    sim.start()
    sys.stdout.write("PORT %d\n" % server.server_address[1])
    sys.stdout.flush()
    import signal

    def _term(*a):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, _term)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
