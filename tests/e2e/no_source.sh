#!/usr/bin/env bash
# The seed's flow: an app created without a source tree (health check, port and protocol
# from create-app's flags), deployed from a package or an image made elsewhere, and
# managed (rollback, promote, resize, destroy, status) without ever having a source.
# A source is needed only to build, and `build --source` gives one. On the local cloud
# (served through its load balancer) and on AWS (tests/lib/aws_fixture.py).
. "$KILN_TESTLIB/harness.sh"

command -v rpmbuild >/dev/null || skip_all "rpmbuild is not installed (apt-get install rpm)"
command -v curl >/dev/null || skip_all "curl is not installed"
SRC="$KILN_SRCDIR/examples/hello-world"

# --- the local cloud -------------------------------------------------------------------

if command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; then
    cloud_up
    run "$KILN" create-app hello-world --env test --health-check-url /health_check --port 8080
    is "$RC" 0 "create-app without --source"
    is "$OUT" "hello-world-test" "prints the cluster"
    ok "$([ ! -e "$KILN_HOME/sources.json" ]; echo $?)" "no source is recorded"
    run "$KILN" status hello-world --env test --json
    is "$RC" 0 "status of an app that never had a source"

    run "$KILN" build hello-world
    is "$RC" 1 "build without a source fails"
    like "$ERR" "hello-world has no source: give --source DIR" "saying what to give"
    run "$KILN" build hello-world --source "$SRC"
    is "$RC" 0 "build --source gives it one"
    nvr=$OUT
    like "$nvr" "^hello-world-1\.0\.0-1\.[a-z0-9_]+$" "and prints the package ($nvr)"
    unlike "$ERR" "warn: \+" "rpmbuild's shell trace is not labelled warn"
    like "$ERR" "[0-9]Z \+ umask 022" "it is shown as the build's output"

    run "$KILN" deploy hello-world --env test --package "$nvr"
    is "$RC" 0 "deploy --package of the app without a source"
    is "$OUT" "hello-world-test-v000" "v000"
    lb_get hello-world test
    is "$CODE:$BODY" "200:hello-world 1.0.0-1" "the local load balancer serves it"
    lb_get hello-world test /health_check
    is "$CODE" 200 "and its health check URL, from --health-check-url"

    run "$KILN" build hello-world --source "$SRC"
    nvr2=$OUT
    run "$KILN" bake hello-world --package "$nvr2"
    image=$OUT
    like "$image" "^img-[0-9a-f]{12}$" "bake of the second build ($image)"
    run "$KILN" deploy hello-world --env test --image "$image"
    is "$RC:$OUT" "0:hello-world-test-v001" "deploy --image"
    lb_get hello-world test
    is "$BODY" "hello-world 1.0.0-2" "v001 serves"
    run "$KILN" rollback hello-world --env test
    is "$RC:$OUT" "0:hello-world-test-v000" "rollback"
    lb_get hello-world test
    is "$BODY" "hello-world 1.0.0-1" "v000 serves again"
    run "$KILN" create-app hello-world --env prod --health-check-url /health_check --port 8080
    run "$KILN" promote hello-world --from test --to prod --confirm prod
    is "$RC:$OUT" "0:hello-world-prod-v000" "promote test -> prod"
    lb_get hello-world prod
    is "$BODY" "hello-world 1.0.0-1" "prod serves what test served"
    run "$KILN" resize hello-world-test-v000 --min 1 --max 2 --desired 2
    is "$RC" 0 "resize"
    wait_for 30 group_healthy_is hello-world-test-v000 2
    ok $? "to 2 healthy instances"
    run "$KILN" destroy hello-world-test-v001
    is "$RC" 0 "destroy"
    run "$KILN" status hello-world
    is "$RC" 0 "status"
    like "$OUT" "hello-world-test-v000 +ENABLED" "shows the serving group"
    unlike "$OUT" "hello-world-test-v001" "and not the destroyed one"

    # A failing job says why once, with its id; its log file keeps the failure line.
    run "$KILN" deploy hello-world --env test --package hello-world-9.9.9-1.x86_64
    is "$RC" 1 "deploy of a package that does not exist fails"
    n=$(printf '%s\n' "$ERR" | grep -c 'no such package')
    is "$n" 1 "its reason is printed once, not twice or three times"
    like "$ERR" "^kiln: deploy hello-world-test failed \(job [0-9]+; kiln log [0-9]+\)" \
        "as the last line, with the job"
    job=$(printf '%s\n' "$ERR" | sed -n 's/.*(job \([0-9]*\);.*/\1/p' | tail -1)
    run "$KILN" log "$job"
    like "$OUT" "error deploy hello-world-test failed: .*hello-world-9.9.9-1" \
        "kiln log $job has the failure"
    run "$KILN" --json deploy hello-world --env test --package hello-world-9.9.9-1.x86_64
    is "$RC" 1 "with --json it still exits 1"
    is "$(printf '%s' "$OUT" | json "d['error']['code'] + ' ' + str('9.9.9' in d['error']['message'])")" \
        "not-found True" "and writes the error as JSON on stdout: $OUT"

    # Start command: --start, else /usr/bin/APP; the app runs it.
    run "$KILN" create-app hello-world --env other --health-check-url /health_check --port 8080 \
        --start bin/x
    is "$RC" 2 "--start must be an absolute path"
    cloud_down
else
    ok 0 "# SKIP nginx is not installed: the local part"
fi

# --- AWS -------------------------------------------------------------------------------

if python3 -c 'import botocore' 2>/dev/null; then
    export KILN_HOME="$T_TMP/aws-state"
    aws_fixture_up --hosted-zone example.test
    aws_kiln_env "kiln-test-secret-$$"
    # An AMI baked elsewhere: an instance of the base image, imaged through the API.
    ami=$(python3 -c '
import os, time, botocore.session
c = botocore.session.get_session().create_client(
    "ec2", region_name="us-east-1", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
iid = c.run_instances(ImageId="ami-0a1b2c3d4e5f60718", MinCount=1, MaxCount=1,
                      InstanceType="t3.micro")["Instances"][0]["InstanceId"]
for _ in range(50):
    st = c.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["State"]
    if st["Name"] == "running":
        break
    time.sleep(0.1)
ami = c.create_image(InstanceId=iid, Name="hello-world-baked-elsewhere")["ImageId"]
for _ in range(50):
    if c.describe_images(ImageIds=[ami])["Images"][0]["State"] == "available":
        break
    time.sleep(0.1)
print(ami)')
    like "$ami" "^ami-[0-9a-f]+$" "an AMI made outside kiln ($ami)"
    run "$KILN" create-app hello-world --env test --health-check-url /health_check --port 80 \
        --protocol HTTP
    is "$RC" 0 "aws: create-app hello-world without a source (the seed's create_application)"
    like "$ERR" "^$" "quietly"
    run "$KILN" deploy hello-world --env test --image "$ami"
    is "$RC:$OUT" "0:hello-world-test-v000" "aws: deploy --image $ami"
    run "$KILN" status hello-world --env test --json
    is "$(printf '%s' "$OUT" | json "d[0]['envs'][0]['groups'][0]['image'] + ' ' + str(d[0]['envs'][0]['groups'][0]['enabled'])")" \
        "$ami True" "aws: the group runs that AMI and serves"
    run "$KILN" deploy hello-world --env test --image "$ami" --desired 2 --max 2
    is "$RC:$OUT" "0:hello-world-test-v001" "aws: a second deploy"
    run "$KILN" rollback hello-world --env test
    is "$RC:$OUT" "0:hello-world-test-v000" "aws: rollback"
    run "$KILN" destroy hello-world-test-v001
    is "$RC" 0 "aws: destroy"
    run "$KILN" build hello-world
    is "$RC" 1 "aws: build without a source fails"
    like "$ERR" "hello-world has no source: give --source DIR" "aws: saying so"
else
    ok 0 "# SKIP python3-botocore is not installed: the AWS part"
fi

done_testing
