#!/usr/bin/env python3
"""A stand-in for aminator in kiln's AWS tests (a test tool, never shipped).

    aws_aminate.py [--fail] [--no-ami] PACKAGE [NVR]

Does what aminator does, against whatever AWS_ENDPOINT_URL points at (the fixture): starts
an instance from the base AMI, "installs" PACKAGE (checks that the file exists when it is
a path), registers an AMI from the instance with CreateImage, terminates the instance,
and prints the AMI id the way aminator's log does. --fail exits 1 after some output;
--no-ami exits 0 without printing an AMI id.
"""
import os
import sys
import time

import botocore.session


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if not args:
        print("usage: aws_aminate.py [--fail] [--no-ami] PACKAGE [NVR]", file=sys.stderr)
        return 2
    package = args[0]
    nvr = args[1] if len(args) > 1 else os.path.basename(package).removesuffix(".rpm")
    print("aminator: preparing a volume for %s" % nvr, flush=True)
    if "--fail" in sys.argv:
        print("aminator: yum install %s failed: No package %s available." % (package, nvr),
              file=sys.stderr, flush=True)
        return 1
    if package.startswith("/") and not os.path.exists(package):
        print("aminator: %s: no such file" % package, file=sys.stderr)
        return 1
    if "--no-ami" in sys.argv:
        print("aminator: done, but registered nothing", flush=True)
        return 0
    s = botocore.session.get_session()
    ec2 = s.create_client("ec2", region_name=os.environ.get("AWS_REGION", "us-east-1"),
                          endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    base = os.environ.get("KILN_TEST_BASE_AMI", "ami-0a1b2c3d4e5f60718")
    r = ec2.run_instances(ImageId=base, MinCount=1, MaxCount=1, InstanceType="t3.micro")
    iid = r["Instances"][0]["InstanceId"]
    print("aminator: installing %s on %s" % (package, iid), flush=True)
    for _ in range(200):  # pending -> running takes the fixture half a second
        r = ec2.describe_instances(InstanceIds=[iid])
        if r["Reservations"][0]["Instances"][0]["State"]["Name"] == "running":
            break
        time.sleep(0.1)
    img = ec2.create_image(InstanceId=iid, Name="%s-aminated" % nvr)
    ec2.terminate_instances(InstanceIds=[iid])
    print("aminator: AMI %s registered from %s" % (img["ImageId"], iid), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
