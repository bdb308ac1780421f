/* Tests for /proc/PID/stat parsing (kiln_proc_*), shared by the start-time checks
 * that tell a reused pid apart and by kilnd's search for nginx processes. */
#include "kiln/proc.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"

/* The 19 numbers after the state: ppid, pgrp, ..., field 22 = start time. */
#define TAIL " 1 4242 4242 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 987654321 12345 67"

static void test_parse(void)
{
    struct kiln_proc_stat st;
    is_int(kiln_proc_stat_parse("4242 (nginx) S" TAIL "\n", &st), 0, "a plain line parses");
    is_str(st.comm, "nginx", "the name, without parentheses");
    is_int(st.state, 'S', "the state");
    is_int(st.ppid, 1, "the parent (field 4)");
    is_int(st.pgrp, 4242, "the process group (field 5)");
    is_int(st.start_ticks, 987654321, "the start time (field 22)");

    is_int(kiln_proc_stat_parse("7 (a b) c) (d) Z" TAIL, &st), 0,
           "a name with spaces and parentheses parses");
    is_str(st.comm, "a b) c) (d", "the name runs to the last ')'");
    is_int(st.state, 'Z', "and the state follows it");
    is_int(st.start_ticks, 987654321, "the fields count from the last ')'");

    is_int(kiln_proc_stat_parse("7 () R" TAIL, &st), 0, "an empty name parses");
    is_str(st.comm, "", "as the empty string");

    ok(kiln_proc_stat_parse("", &st) < 0, "empty text is refused");
    ok(kiln_proc_stat_parse("7 nginx S" TAIL, &st) < 0, "no parentheses: refused");
    ok(kiln_proc_stat_parse("7 (nginx)S" TAIL, &st) < 0, "no space after ')': refused");
    ok(kiln_proc_stat_parse("7 (nginx) S 1 2 3", &st) < 0, "a line cut short is refused");
    ok(kiln_proc_stat_parse("7 (nginx) S 1 x" TAIL, &st) < 0, "a field that is not a number");
    ok(kiln_proc_stat_parse("7 (nginx) S 1 2 0 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 12x", &st) < 0,
       "a start time with junk after it is refused");
}

static void test_live(void)
{
    struct kiln_proc_stat st;
    is_int(kiln_proc_stat_read(getpid(), &st), 0, "our own stat reads");
    is_str(st.comm, "test_proc", "with our name");
    is_int(st.ppid, getppid(), "our parent");
    is_int(st.pgrp, getpgrp(), "our process group");
    ok(st.start_ticks != 0 && st.start_ticks == kiln_proc_start_ticks(getpid()),
       "kiln_proc_start_ticks gives the same start time");
    ok(kiln_proc_stat_read(0, &st) < 0 && kiln_proc_start_ticks(-1) == 0, "no pid 0 or -1");

    pid_t child = fork();
    if (child == 0)
        _exit(0);
    /* Wait for it to become a zombie, without reaping it. */
    siginfo_t si;
    memset(&si, 0, sizeof si);
    waitid(P_PID, (id_t)child, &si, WEXITED | WNOWAIT);
    is_int(kiln_proc_stat_read(child, &st), 0, "an unreaped child's stat reads");
    is_int(st.state, 'Z', "as a zombie");
    is_int(kiln_proc_start_ticks(child), 0, "and a zombie has no start time: it is gone");
    waitpid(child, NULL, 0);
    ok(kiln_proc_stat_read(child, &st) < 0, "once reaped, there is nothing to read");
}

int main(void)
{
    test_parse();
    test_live();
    return done_testing();
}
