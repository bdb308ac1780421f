# The example app ships in the tarball so `make distcheck` runs the same tests.
EXTRA_DIST += examples/hello-world
